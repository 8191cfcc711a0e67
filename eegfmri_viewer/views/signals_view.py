"""Signals: EEG traces of a time window with events and a band overlay, BOLD slices (pyqtgraph).

The shared time cursor (``state.time_s``) is on the BOLD clock; the EEG plot
shows EEG-clock seconds, converted through the recording's alignment.

Channels can be marked bad as in MNE's raw browser: a click on a channel's
name, or the context menu of its trace. The marks are kept in the state
(``AppState.marked_bad``), never in the recording; the channels its
``channels.tsv`` marks bad are drawn bad too, and stay bad.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QMenu, QScrollBar, QSpinBox,
                               QSplitter, QStackedWidget, QVBoxLayout, QWidget)
from PySide6.QtCore import QEvent, Qt
from scipy.signal import butter, sosfiltfilt

from eegfmri_viewer.preprocessing.bands import DEFAULT_BANDS
from eegfmri_viewer.views.class_colors import class_color

#: Voxel axes (horizontal, vertical) of the sagittal, coronal and axial slices.
SLICE_AXES = ((1, 2), (0, 2), (0, 1))
OPPOSITE_DIRECTION = {"R": "L", "L": "R", "A": "P", "P": "A", "S": "I", "I": "S"}
#: What the BOLD plot says while it has no curve.
NO_ROI_TITLE = "Select a ROI (click it on the cortex or in any view) to plot its BOLD"
NO_RESULTS_TITLE = "Open results to choose a ROI whose BOLD to plot"

NO_DATASET_MESSAGE = "Open a dataset (File ▸ Open BIDS folder…) to see its signals"
FMRI_ONLY_NOTE = "This recording has no EEG: only the BOLD part is shown."
WINDOW_S = 10.0
N_CHANNELS = 16
#: Height of one trace when the Channels box says "fit" (its default): as many
#: channels as the traces' height gives this much each are drawn at once, and
#: never fewer than FIT_MIN_CHANNELS.
FIT_TRACE_PX = 18
FIT_MIN_CHANNELS = 4
FIT_TEXT = "fit"
# the time axis and margins of the traces' plot
_AXIS_PX = 40
# Peak-to-peak spacing between traces, in volts.
SCALES = {"20 µV": 20e-6, "50 µV": 50e-6, "100 µV": 100e-6, "200 µV": 200e-6, "500 µV": 500e-6, "1 mV": 1e-3}
DEFAULT_SCALE = "100 µV"

#: Pens of the traces: a channel marked bad is grey and thin, the selected electrode's is thicker.
GOOD_PEN = ((200, 200, 200), 1.0)
SELECTED_PEN = ((255, 255, 255), 2.0)
BAD_PEN = ((105, 105, 105), 0.5)
BAD_SUFFIX = " (bad)"
#: Keys of the EEG traces, as in MNE's raw browser (the traces take the keyboard focus when clicked).
KEYS_TIP = ("Keys (click the traces first): ← / → a quarter page earlier / later, Shift+← / → a whole page; "
            "↑ / ↓ one channel up / down, Page Up / Down a page of channels; + / − larger / smaller traces")
_BROWSER_KEYS = (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp,
                 Qt.Key.Key_PageDown, Qt.Key.Key_Plus, Qt.Key.Key_Equal, Qt.Key.Key_Minus)
MARK_TIP = ("Click a channel's name, or right-click its trace, to mark the channel bad (or good again). "
            "The Training dock's analysis then interpolates or drops it ([preprocessing] bad_channels); "
            "the recording's files are not changed.")
FILE_BAD_TIP = "marked bad in channels.tsv"
#: Pen of a bad channel's interpolated signal (the "Interpolated" preview), drawn over its grey trace.
PREVIEW_PEN = ((80, 200, 255), 1.0)
PREVIEW_TIP = ("Draw over each bad channel (in blue) what the analysis puts in its place: the spherical-spline "
               "interpolation from the good channels ([preprocessing] bad_channels = \"interpolate\", the "
               "default), here on the recorded samples, before the analysis's filtering and reference. "
               "A bad channel without a position is dropped by the analysis and gets no preview.")
MAX_LISTED_BAD = 4  # more are counted, not listed, beside the controls


def band_limits(name: str) -> Optional[tuple]:
    """(low, high) Hz of the band called ``name`` in DEFAULT_BANDS, or None."""
    for band, lo, hi in DEFAULT_BANDS:
        if band == name:
            return float(lo), float(hi)
    return None


def band_filter(data: np.ndarray, sfreq: float, low: float, high: float) -> Optional[np.ndarray]:
    """Zero-phase Butterworth band-pass of a window.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
    sfreq : float
    low, high : float
        Pass band in Hz; ``high`` is clipped below Nyquist.

    Returns
    -------
    filtered : ndarray, shape (n_channels, n_times), or None when the window is
        too short or the band lies above Nyquist.
    """
    nyq = sfreq / 2.0
    high = min(high, 0.95 * nyq)
    if low >= high:
        return None
    sos = butter(4, [low, high], btype="bandpass", fs=sfreq, output="sos")
    # sosfiltfilt pads by 3 * (2 * n_sections + 1) samples
    if data.shape[-1] <= 3 * (2 * sos.shape[0] + 1):
        return None
    return sosfiltfilt(sos, data, axis=-1)


class SignalsView(QWidget):
    """EEG traces with events and band overlay, BOLD orthogonal slices and ROI time series."""

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self._rec = None
        self._picks: list = []
        self._eeg_picks: list = []
        # file index of the channel drawn thicker (the electrode selected elsewhere), or None
        self._marked: Optional[int] = None
        self._mean_volume: Optional[np.ndarray] = None
        self._window_data: Optional[np.ndarray] = None
        self._window_times: Optional[np.ndarray] = None
        #: Interpolated signals drawn over the bad channels' traces (the preview).
        self.preview_curves: list = []
        #: Why the preview shows nothing for a bad channel on the page ("" when all are drawn).
        self.preview_message = ""
        # (raw, marked channels, ChannelInterpolator) of the last preview
        self._interpolator_cache = None

        self.stack = QStackedWidget()
        self.message = QLabel(NO_DATASET_MESSAGE)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.stack.addWidget(self.message)

        page = QWidget()
        col = QVBoxLayout(page)
        col.setContentsMargins(0, 0, 0, 0)
        self.note = QLabel(FMRI_ONLY_NOTE)
        self.note.setVisible(False)
        col.addWidget(self.note)

        self.eeg_panel = QWidget()
        eeg_col = QVBoxLayout(self.eeg_panel)
        eeg_col.setContentsMargins(0, 0, 0, 0)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Start (s)"))
        self.start_spin = QDoubleSpinBox()
        self.start_spin.setDecimals(1)
        self.start_spin.setSingleStep(1.0)
        controls.addWidget(self.start_spin)
        controls.addWidget(QLabel("Scale"))
        self.scale_combo = QComboBox()
        self.scale_combo.addItems(list(SCALES))
        self.scale_combo.setCurrentText(DEFAULT_SCALE)
        controls.addWidget(self.scale_combo)
        controls.addWidget(QLabel("Channels"))
        self.channels_spin = QSpinBox()
        # 0 reads "fit": the count follows the height the traces have
        self.channels_spin.setRange(0, N_CHANNELS)
        self.channels_spin.setSpecialValueText(FIT_TEXT)
        self.channels_spin.setValue(0)
        self.channels_spin.setToolTip(f"How many EEG channels are drawn at once (\"{FIT_TEXT}\": as many as the "
                                      "height of the traces gives room for); the bar beside the traces "
                                      "scrolls through all of them")
        controls.addWidget(self.channels_spin)
        self.band_label = QLabel("")
        controls.addWidget(self.band_label)
        controls.addStretch(1)
        self.bad_label = QLabel("")
        self.bad_label.setToolTip(MARK_TIP)
        controls.addWidget(self.bad_label)
        self.preview_check = QCheckBox("Interpolated")
        self.preview_check.setToolTip(PREVIEW_TIP)
        self.preview_check.toggled.connect(lambda _on: self._draw_preview())
        controls.addWidget(self.preview_check)
        eeg_col.addLayout(controls)
        self.eeg_plot = pg.PlotWidget()
        self.eeg_plot.setLabel("bottom", "EEG time", units="s")
        self.eeg_plot.setMouseEnabled(x=False, y=False)
        # the right button opens the channel's menu (mark bad / good), not pyqtgraph's view menu
        self.eeg_plot.getPlotItem().setMenuEnabled(False)
        self.eeg_plot.getAxis("left").setToolTip(MARK_TIP)
        self.eeg_plot.installEventFilter(self)
        self.eeg_plot.setToolTip(KEYS_TIP)
        # the traces take the keyboard focus on a click, so the keys below reach this view
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.eeg_plot.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        #: The last channel menu opened (kept so that it outlives the click that opened it).
        self.channel_menu: Optional[QMenu] = None
        # every EEG channel is reachable: the traces show a page of them, this bar picks the page
        self.channel_scroll = QScrollBar(Qt.Orientation.Vertical)
        self.channel_scroll.setToolTip("Scroll through the EEG channels")
        traces = QHBoxLayout()
        traces.setContentsMargins(0, 0, 0, 0)
        traces.addWidget(self.eeg_plot, 1)
        traces.addWidget(self.channel_scroll)
        eeg_col.addLayout(traces, 1)
        self.scroll = QScrollBar(Qt.Orientation.Horizontal)
        eeg_col.addWidget(self.scroll)

        self.bold_panel = QWidget()
        bold_row = QHBoxLayout(self.bold_panel)
        bold_row.setContentsMargins(0, 0, 0, 0)
        self.slice_views = []
        self.slice_items = []
        self.roi_markers = []
        # per slice view, the letters at its left, right, bottom and top edges (R/L, A/P, S/I)
        self.orientation_letters: list = []
        for title in ("sagittal", "coronal", "axial"):
            vb = pg.GraphicsLayoutWidget()
            box = vb.addViewBox(lockAspect=True)
            box.setMouseEnabled(False, False)
            box.invertY(False)
            item = pg.ImageItem()
            box.addItem(item)
            marker = pg.ScatterPlotItem(size=10, brush=pg.mkBrush(255, 0, 0), pen=pg.mkPen("w"))
            box.addItem(marker)
            letters = {}
            # inside the image's edges: in the short slice row there is no room around it
            for side, anchor in (("left", (0, 0.5)), ("right", (1, 0.5)), ("bottom", (0.5, 1)), ("top", (0.5, 0))):
                letters[side] = pg.TextItem("", color=(255, 255, 120), anchor=anchor)
                box.addItem(letters[side])
            self.orientation_letters.append(letters)
            vb.setToolTip(title)
            bold_row.addWidget(vb, 1)
            self.slice_views.append(box)
            self.slice_items.append(item)
            self.roi_markers.append(marker)
        self.roi_plot = pg.PlotWidget()
        self.roi_plot.setLabel("bottom", "BOLD time (s)")
        self.roi_plot.setLabel("left", "BOLD", units="%")
        self.roi_plot.getAxis("left").enableAutoSIPrefix(False)
        # seconds stay seconds: an SI prefix turned an empty plot's axis into "ms"
        self.roi_plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.roi_curve = self.roi_plot.plot([], [], pen=pg.mkPen("y", width=2))
        self.roi_cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("r"))
        self.roi_plot.addItem(self.roi_cursor)
        bold_row.addWidget(self.roi_plot, 2)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.eeg_panel)
        split.addWidget(self.bold_panel)
        # the traces need the height; the slices read well small
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 1)
        col.addWidget(split, 1)
        self.stack.addWidget(page)

        # the bottom dock area lays docks side by side: a small explicit minimum keeps the window resizable
        self.setMinimumSize(120, 80)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.stack)

        self.trace_curves: list = []
        self.band_curves: list = []
        self.event_regions: list = []
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("r", width=2))

        self.start_spin.valueChanged.connect(self._on_start_spin)
        self.scroll.valueChanged.connect(lambda v: self.start_spin.setValue(v / 10.0))
        self.scale_combo.currentTextChanged.connect(lambda _t: self._draw_window())
        self.eeg_plot.scene().sigMouseClicked.connect(self._on_click)
        self.eeg_plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        state.datasetChanged.connect(self._on_dataset)
        state.resultsChanged.connect(lambda _r: self._update_roi())
        state.resultsChanged.connect(lambda _r: self._draw_window())  # event colours follow the results' classes
        state.nodeChanged.connect(lambda _k, _i: self._update_roi())
        state.nodeChanged.connect(self._on_node)
        self.channel_scroll.valueChanged.connect(self._on_channel_page)
        self.channels_spin.valueChanged.connect(lambda _n: self._on_channel_page(self.channel_scroll.value()))
        state.bandChanged.connect(lambda _b: self._draw_band())
        state.timeChanged.connect(self._on_time)
        state.badChannelsChanged.connect(self._on_bad_channels)
        self._on_dataset(state.dataset)

    # ------------------------------------------------------------------ clocks
    def eeg_time_of(self, bold_t: float) -> float:
        """EEG-clock seconds of BOLD-clock seconds ``bold_t``."""
        rec = self._rec
        if rec is None or rec.alignment is None or not rec.tr:
            return float(bold_t)
        return float(rec.alignment.volume_to_eeg_time(bold_t / rec.tr))

    def bold_time_of(self, eeg_t: float) -> float:
        """BOLD-clock seconds of EEG-clock seconds ``eeg_t``."""
        rec = self._rec
        if rec is None or rec.alignment is None or not rec.tr:
            return float(eeg_t)
        return float(rec.alignment.eeg_time_to_volume(eeg_t)) * float(rec.tr)

    # ------------------------------------------------------------------ dataset
    def _on_dataset(self, rec) -> None:
        self._rec = rec
        self._mean_volume = None
        self._interpolator_cache = None
        if rec is None or (rec.eeg is None and rec.bold is None):
            self.stack.setCurrentIndex(0)
            return
        self.stack.setCurrentIndex(1)
        has_eeg = rec.eeg is not None
        self.eeg_panel.setVisible(has_eeg)
        self.note.setVisible(not has_eeg)
        self.bold_panel.setVisible(rec.bold is not None)
        if has_eeg:
            raw = rec.eeg
            types = raw.get_channel_types()
            self._eeg_picks = [i for i, t in enumerate(types) if t == "eeg"]
            self.channels_spin.blockSignals(True)
            self.channels_spin.setRange(0, max(1, len(self._eeg_picks)))  # keeps "fit" or the count chosen
            self.channels_spin.blockSignals(False)
            self._set_channel_page(0)
            duration = raw.n_times / raw.info["sfreq"]
            top = max(0.0, duration - WINDOW_S)
            self.start_spin.blockSignals(True)
            self.start_spin.setRange(0.0, top)
            self.start_spin.setValue(0.0)
            self.start_spin.blockSignals(False)
            self.scroll.blockSignals(True)
            self.scroll.setRange(0, int(round(top * 10)))
            self.scroll.setPageStep(int(WINDOW_S * 10))
            self.scroll.setValue(0)
            self.scroll.blockSignals(False)
            self._draw_window()
        if rec.bold is not None:
            self._draw_slices()
            self._update_roi()

    def page_size(self) -> int:
        """How many EEG channels a page shows: the Channels box, or what the height fits."""
        n = max(1, len(self._eeg_picks))
        chosen = self.channels_spin.value()
        if chosen > 0:
            return min(chosen, n)
        fits = (self.eeg_plot.height() - _AXIS_PX) // FIT_TRACE_PX
        return int(min(n, max(FIT_MIN_CHANNELS, fits)))

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        # the traces' height changes with the dock and with the splitter under them
        if obj is self.eeg_plot and event.type() == QEvent.Type.Resize:
            self._refit_page()
        if obj is self.eeg_plot and event.type() == QEvent.Type.KeyPress and event.key() in _BROWSER_KEYS:
            # before pyqtgraph's view box, which zooms on + and - and would keep them
            self.keyPressEvent(event)
            return event.isAccepted()
        return super().eventFilter(obj, event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if not self._eeg_picks or not self.eeg_panel.isVisible():
            super().keyPressEvent(event)
            return
        key, shift = event.key(), bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            step = WINDOW_S if shift else WINDOW_S / 4
            self.start_spin.setValue(self.start_spin.value() + (step if key == Qt.Key.Key_Right else -step))
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
            step = self.page_size() if key in (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown) else 1
            up = key in (Qt.Key.Key_Up, Qt.Key.Key_PageUp)
            self.channel_scroll.setValue(self.channel_scroll.value() + (-step if up else step))
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal, Qt.Key.Key_Minus):
            # larger traces: fewer µV between neighbouring traces
            step = -1 if key != Qt.Key.Key_Minus else 1
            index = min(max(0, self.scale_combo.currentIndex() + step), self.scale_combo.count() - 1)
            self.scale_combo.setCurrentIndex(index)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def _refit_page(self) -> None:
        if self.channels_spin.value() == 0 and self._eeg_picks and self.page_size() != len(self._picks):
            self._on_channel_page(self.channel_scroll.value())

    def _set_channel_page(self, first: int) -> None:
        """Show the channels from ``first`` on (as many as :meth:`page_size` says)."""
        count = self.page_size()
        top = max(0, len(self._eeg_picks) - count)
        self.channel_scroll.blockSignals(True)
        self.channel_scroll.setRange(0, top)
        self.channel_scroll.setPageStep(count)
        self.channel_scroll.setValue(min(max(0, first), top))
        self.channel_scroll.blockSignals(False)
        self.channel_scroll.setVisible(top > 0)
        first = self.channel_scroll.value()
        self._picks = self._eeg_picks[first:first + count]

    def _on_channel_page(self, first: int) -> None:
        self._set_channel_page(first)
        self._draw_window()

    def shown_channels(self) -> list:
        """Names of the EEG channels drawn now, top to bottom."""
        raw = self._rec.eeg if self._rec is not None else None
        return [raw.ch_names[i] for i in self._picks] if raw is not None else []

    def _on_node(self, _kind: str, _index: int) -> None:
        # An electrode selected in another view comes into the page of traces, marked.
        if self._rec is None or self._rec.eeg is None:
            return
        channel = self._selected_channel()
        if channel == self._marked:
            return  # e.g. a ROI selected: the traces stay as they are (no re-read from the file)
        if channel is not None and channel not in self._picks:
            self._set_channel_page(self._eeg_picks.index(channel) - self.page_size() // 2)
        self._draw_window()

    def _on_start_spin(self, value: float) -> None:
        self.scroll.blockSignals(True)
        self.scroll.setValue(int(round(value * 10)))
        self.scroll.blockSignals(False)
        self._draw_window()

    # ------------------------------------------------------------------ EEG
    def window_bounds(self) -> tuple:
        """(start, stop) sample indices of the visible EEG window."""
        raw = self._rec.eeg
        sfreq = raw.info["sfreq"]
        start = int(round(self.start_spin.value() * sfreq))
        stop = min(raw.n_times, start + int(round(WINDOW_S * sfreq)))
        return start, stop

    def _offsets(self, n: int) -> np.ndarray:
        return -np.arange(n) * SCALES[self.scale_combo.currentText()]

    def _draw_window(self) -> None:
        rec = self._rec
        if rec is None or rec.eeg is None:
            return
        raw = rec.eeg
        plot = self.eeg_plot
        plot.clear()
        self.trace_curves, self.band_curves, self.event_regions, self.preview_curves = [], [], [], []
        start, stop = self.window_bounds()
        if not self._picks or stop <= start:
            return
        data = raw.get_data(picks=self._picks, start=start, stop=stop)
        times = (start + np.arange(stop - start)) / raw.info["sfreq"]
        self._window_data, self._window_times = data, times
        offsets = self._offsets(len(self._picks))
        self._marked = self._selected_channel()
        for pick, row, offset in zip(self._picks, data, offsets):
            curve = plot.plot(times, row, pen=self._trace_pen(pick))
            # the offset is a display transform so the curve's y data stay the file's values
            curve.setPos(0, offset)
            self.trace_curves.append(curve)
        self._label_channels()
        self._draw_events(times[0], times[-1])
        plot.addItem(self.cursor)
        self.cursor.setValue(self.eeg_time_of(self.state.selection.time_s))
        spacing = SCALES[self.scale_combo.currentText()]
        plot.setXRange(times[0], times[0] + WINDOW_S, padding=0)
        plot.setYRange(offsets[-1] - spacing, spacing, padding=0)
        self._draw_band()
        self._draw_preview()

    def _interpolator(self):
        """The recording's bad-channel interpolation, built once per set of bad channels (an SVD)."""
        from eegfmri_viewer.preprocessing.eeg import bad_channel_interpolator

        rec = self._rec
        marked = tuple(sorted(n for n in self.state.marked_bad_of(rec.label) if n not in self.file_bads()))
        cache = self._interpolator_cache
        if cache is None or cache[0] is not rec.eeg or cache[1] != marked:
            cache = self._interpolator_cache = (rec.eeg, marked, bad_channel_interpolator(rec.eeg, marked))
        return cache[2]

    def _draw_preview(self) -> None:
        """Draw (or clear) the interpolated signal over each bad channel of the page."""
        for curve in self.preview_curves:
            self.eeg_plot.removeItem(curve)
        self.preview_curves = []
        self.preview_message = ""
        rec = self._rec
        if not self.preview_check.isChecked() or rec is None or rec.eeg is None or self._window_times is None:
            self.preview_check.setToolTip(PREVIEW_TIP)
            return
        names = self.shown_channels()
        shown_bad = [name for name in names if self.is_bad(name)]
        if not shown_bad:
            self.preview_message = "no bad channel on this page"
        else:
            from eegfmri_viewer.io.errors import InputError

            start, stop = self.window_bounds()
            try:
                rows = self._interpolator().apply(rec.eeg, start, stop)
            except InputError as exc:
                rows = {}
                self.preview_message = exc.problem
            offsets = self._offsets(len(names))
            for name in shown_bad:
                if name not in rows:
                    continue
                color, width = PREVIEW_PEN
                curve = self.eeg_plot.plot(self._window_times, rows[name], pen=pg.mkPen(color, width=width))
                curve.setPos(0, offsets[names.index(name)])
                self.preview_curves.append(curve)
            missing = [n for n in shown_bad if n not in rows]
            if missing and not self.preview_message:
                self.preview_message = f"no position, dropped by the analysis: {', '.join(missing)}"
        self.preview_check.setToolTip(PREVIEW_TIP + (f"\n\nHere: {self.preview_message}." if self.preview_message
                                                     else ""))

    def _selected_channel(self) -> Optional[int]:
        """Channel index in the file of the electrode selected in another view, if any."""
        sel, results, raw = self.state.selection, self.state.results, self._rec.eeg
        if sel.node_kind != "electrode" or results is None or sel.node_index is None:
            return None
        names = results.get("saliency", "electrodes")
        if names is None or not 0 <= sel.node_index < len(names):
            return None
        wanted = str(names[sel.node_index]).lower()
        return next((i for i in self._eeg_picks if raw.ch_names[i].lower() == wanted), None)

    def _draw_events(self, t0: float, t1: float) -> None:
        ev = self._rec.events
        if ev is None or len(ev.onset) == 0:
            return
        classes = sorted({str(c) for c in ev.trial_type})
        results = self.state.results
        if results is not None and set(classes) <= set(results.classes):
            # the analysis's class order, so that a class has one colour here and in Coupling over time
            classes = list(results.classes)
        for onset, dur, kind in zip(ev.onset, ev.duration, ev.trial_type):
            a = self.eeg_time_of(float(onset))
            b = self.eeg_time_of(float(onset) + max(float(dur), 0.0))
            if b < t0 or a > t1:
                continue
            r, g, bl = class_color(classes.index(str(kind)))
            region = pg.LinearRegionItem((a, max(b, a + 1e-3)), movable=False, brush=pg.mkBrush(r, g, bl, 60))
            region.setZValue(-10)
            region.setToolTip(str(kind))
            region.trial_type = str(kind)
            self.eeg_plot.addItem(region)
            self.event_regions.append(region)

    def _draw_band(self) -> None:
        for c in self.band_curves:
            self.eeg_plot.removeItem(c)
        self.band_curves = []
        if self._window_data is None or self._rec is None or self._rec.eeg is None:
            return
        name = self.state.selection.band
        limits = band_limits(name)
        if limits is None:
            self.band_label.setText(f"band '{name}' unknown: no overlay")
            return
        filtered = band_filter(self._window_data, self._rec.eeg.info["sfreq"], *limits)
        if filtered is None:
            self.band_label.setText(f"{name}: window too short or band above Nyquist")
            return
        self.band_label.setText(f"overlay: {name} {limits[0]:g}–{limits[1]:g} Hz")
        names = self.shown_channels()
        for row, offset, name in zip(filtered, self._offsets(len(filtered)), names):
            # a bad channel's band is dimmed with its trace: it is not what the analysis will see
            color = (255, 200, 0, 70) if self.is_bad(name) else (255, 200, 0)
            curve = self.eeg_plot.plot(self._window_times, row, pen=pg.mkPen(color, width=1))
            curve.setPos(0, offset)
            self.band_curves.append(curve)

    def _on_click(self, event) -> None:
        if self._rec is None or self._rec.eeg is None:
            return
        plot_item = self.eeg_plot.getPlotItem()
        vb, axis = plot_item.vb, self.eeg_plot.getAxis("left")
        pos = event.scenePos()
        y = vb.mapSceneToView(pos).y()
        on_names = axis.sceneBoundingRect().contains(pos)
        if not on_names and not vb.sceneBoundingRect().contains(pos):
            return
        if event.button() == Qt.MouseButton.RightButton:
            name = self.channel_at(y)
            if name is not None:
                self.channel_menu = self.make_channel_menu(name)
                self.channel_menu.popup(event.screenPos().toPoint())
            return
        if on_names:
            # a click on a channel's name toggles it, as in MNE's raw browser
            name = self.channel_at(y)
            if name is not None and event.button() == Qt.MouseButton.LeftButton:
                self.toggle_bad(name)
            return
        x = vb.mapSceneToView(pos).x()
        self.state.set_time(self.bold_time_of(x))

    # ------------------------------------------------------------------ bad channels
    def file_bads(self) -> list:
        """Names of the channels the recording's ``channels.tsv`` marks bad (read at load)."""
        raw = self._rec.eeg if self._rec is not None else None
        return list(raw.info["bads"]) if raw is not None else []

    def is_bad(self, name: str) -> bool:
        """Whether channel ``name`` is bad: in ``channels.tsv`` or marked by the user."""
        if self._rec is None:
            return False
        return name in self.file_bads() or self.state.is_marked_bad(self._rec.label, name)

    def channel_at(self, y: float) -> Optional[str]:
        """Name of the trace drawn at height ``y`` (plot units), or None outside the traces."""
        names = self.shown_channels()
        if not names or not np.isfinite(y):
            return None
        spacing = SCALES[self.scale_combo.currentText()]
        row = int(round(-y / spacing))
        return names[row] if 0 <= row < len(names) else None

    def channel_tip(self, name: Optional[str]) -> str:
        """Tooltip of channel ``name``'s label: whether and why it is bad, and how to mark it."""
        if name is None or self._rec is None:
            return MARK_TIP
        if name in self.file_bads():
            return f"{name}: {FILE_BAD_TIP} (it stays bad here)."
        state = "marked bad here" if self.state.is_marked_bad(self._rec.label, name) else "good"
        return f"{name}: {state}. {MARK_TIP}"

    def _on_mouse_moved(self, pos) -> None:
        axis = self.eeg_plot.getAxis("left")
        if self._rec is None or self._rec.eeg is None or not axis.sceneBoundingRect().contains(pos):
            return
        y = self.eeg_plot.getPlotItem().vb.mapSceneToView(pos).y()
        axis.setToolTip(self.channel_tip(self.channel_at(y)))

    def toggle_bad(self, name: str) -> bool:
        """Mark channel ``name`` bad, or good again; False (and nothing changes) for a ``channels.tsv`` bad."""
        if self._rec is None or name in self.file_bads():
            return False
        self.state.toggle_bad(self._rec.label, name)
        return True

    def make_channel_menu(self, name: str) -> QMenu:
        """The context menu of channel ``name``'s trace: mark it bad or good."""
        menu = QMenu(self)
        if name in self.file_bads():
            action = menu.addAction(f"{name} is {FILE_BAD_TIP}")
            action.setEnabled(False)
        elif self.state.is_marked_bad(self._rec.label, name):
            menu.addAction(f"Mark {name} good", lambda n=name: self.toggle_bad(n))
        else:
            menu.addAction(f"Mark {name} bad", lambda n=name: self.toggle_bad(n))
        menu.setToolTipsVisible(True)
        for action in menu.actions():
            action.setToolTip(MARK_TIP)
        return menu

    def _trace_pen(self, pick: int):
        name = self._rec.eeg.ch_names[pick]
        color, width = BAD_PEN if self.is_bad(name) else SELECTED_PEN if pick == self._marked else GOOD_PEN
        return pg.mkPen(color, width=width)

    def _label_channels(self) -> None:
        """Channel names beside the traces (bad ones suffixed) and the count of bad channels."""
        names = self.shown_channels()
        ticks = [name + BAD_SUFFIX if self.is_bad(name) else name for name in names]
        self.eeg_plot.getAxis("left").setTicks([list(zip(self._offsets(len(names)), ticks))])
        if self._rec is None or self._rec.eeg is None:
            self.bad_label.setText("")
            return
        in_file = [n for n in self.file_bads() if n in self._rec.eeg.ch_names]
        marked = [n for n in self.state.marked_bad_of(self._rec.label) if n not in in_file]
        parts = ([f"{', '.join(in_file)} ({FILE_BAD_TIP})"] if in_file else []) + \
            ([f"{', '.join(marked)} (marked here)"] if marked else [])
        listed = f"Bad: {'; '.join(parts)}" if parts else "No bad channels"
        # a long list would widen the dock: the count, and the list in the tooltip
        n_bad = len(in_file) + len(marked)
        self.bad_label.setText(listed if n_bad <= MAX_LISTED_BAD else
                               f"{n_bad} bad channels ({len(in_file)} in channels.tsv)")
        self.bad_label.setToolTip(f"{listed}. {MARK_TIP}" if parts else MARK_TIP)

    def _on_bad_channels(self, label: str) -> None:
        # restyle in place: the window's samples are unchanged, no need to read them again
        if self._rec is None or self._rec.eeg is None or label != self._rec.label:
            return
        for pick, curve in zip(self._picks, self.trace_curves):
            curve.setPen(self._trace_pen(pick))
        self._label_channels()
        self._draw_band()
        # another bad set changes every rebuilt channel (they are rebuilt from the good ones)
        self._draw_preview()

    def _on_time(self, t: float) -> None:
        self.cursor.setValue(self.eeg_time_of(t))
        self.roi_cursor.setValue(t)
        if self._rec is not None and self._rec.bold is not None:
            self._draw_slices()

    # ------------------------------------------------------------------ BOLD
    def current_volume_index(self) -> Optional[int]:
        """Volume at the cursor time, or None when the cursor is outside the run (mean shown)."""
        rec = self._rec
        n = rec.bold.shape[3] if len(rec.bold.shape) == 4 else 1
        if not rec.tr:
            return None
        idx = int(np.floor(self.state.selection.time_s / rec.tr))
        return idx if 0 <= idx < n else None

    def _volume(self) -> np.ndarray:
        bold = self._rec.bold
        if len(bold.shape) == 3:
            return np.asarray(bold.dataobj, dtype=float)
        idx = self.current_volume_index()
        if idx is not None:
            return np.asarray(bold.dataobj[..., idx], dtype=float)
        if self._mean_volume is None:
            self._mean_volume = np.asarray(bold.get_fdata(dtype=np.float32).mean(axis=3))
        return self._mean_volume

    def slice_center(self) -> tuple:
        """Voxel (i, j, k) the orthogonal slices go through: the ROI voxel if any, else the centre."""
        vox = self._roi_voxel()
        shape = self._rec.bold.shape[:3]
        if vox is None:
            return tuple(s // 2 for s in shape)
        return tuple(int(np.clip(v, 0, s - 1)) for v, s in zip(vox, shape))

    def _draw_slices(self) -> None:
        vol = self._volume()
        i, j, k = self.slice_center()
        slices = [vol[i, :, :], vol[:, j, :], vol[:, :, k]]
        for item, img in zip(self.slice_items, slices):
            item.setImage(img, autoLevels=True)
        self._draw_orientation_letters(vol.shape)

    def _draw_orientation_letters(self, shape) -> None:
        """Label each slice's edges with the direction its voxel axes point in (from the image's affine).

        The slices are drawn in voxel order, as stored: without the letters a
        left-right flipped (LAS) image would be read the wrong way round.
        """
        import nibabel as nib

        codes = nib.aff2axcodes(self._rec.bold.affine)
        if None in codes:
            for letters in self.orientation_letters:
                for item in letters.values():
                    item.setText("")
            return
        for (h, v), letters in zip(SLICE_AXES, self.orientation_letters):
            nh, nv = shape[h], shape[v]
            for side, axis, towards, pos in (("left", h, False, (-0.5, nv / 2)), ("right", h, True, (nh - 0.5, nv / 2)),
                                             ("bottom", v, False, (nh / 2, -0.5)), ("top", v, True, (nh / 2, nv - 0.5))):
                letters[side].setText(codes[axis] if towards else OPPOSITE_DIRECTION[codes[axis]])
                letters[side].setPos(*pos)

    def orientation_text(self, view: int) -> dict:
        """``{"left": "R", "right": "L", ...}``: the letters at the edges of slice view ``view`` (0 sagittal)."""
        return {side: item.textItem.toPlainText() for side, item in self.orientation_letters[view].items()}

    def _roi_voxel(self) -> Optional[np.ndarray]:
        rec, results, sel = self._rec, self.state.results, self.state.selection
        if rec is None or rec.bold is None or results is None or sel.node_kind != "roi" or sel.node_index is None:
            return None
        coords = results.get("saliency", "roi_coords")
        if coords is None or coords.ndim != 2 or not 0 <= sel.node_index < len(coords):
            return None
        world = np.append(np.asarray(coords[sel.node_index], dtype=float), 1.0)
        return np.rint((np.linalg.inv(rec.bold.affine) @ world)[:3]).astype(int)

    def _update_roi(self) -> None:
        for m in self.roi_markers:
            m.setData([], [])
        self.roi_curve.setData([], [])
        rec = self._rec
        if rec is None or rec.bold is None:
            self.roi_plot.setTitle("")
            return
        self._draw_slices()
        if len(rec.bold.shape) == 4:
            # the run's time axis, with or without a curve on it
            self.roi_plot.setXRange(0.0, rec.bold.shape[3] * float(rec.tr or 1.0), padding=0.02)
        vox = self._roi_voxel()
        if vox is None or len(rec.bold.shape) != 4:
            self.roi_plot.setTitle(NO_ROI_TITLE if self.state.results is not None else NO_RESULTS_TITLE, size="9pt")
            return
        shape = rec.bold.shape[:3]
        if any(v < 0 or v >= s for v, s in zip(vox, shape)):
            self.roi_plot.setTitle("The selected ROI lies outside this BOLD image", size="9pt")
            return
        i, j, k = vox
        self.roi_markers[0].setData([j], [k])
        self.roi_markers[1].setData([i], [k])
        self.roi_markers[2].setData([i], [j])
        lo = np.maximum(vox - 1, 0)
        hi = np.minimum(vox + 1, np.asarray(shape) - 1) + 1
        cube = np.asarray(rec.bold.dataobj[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2], :], dtype=float)
        series = cube.reshape(-1, cube.shape[-1]).mean(axis=0)
        tr = float(rec.tr or 1.0)
        # Percent signal change from the run's mean: scanner units mean nothing across runs and sites. An
        # image without a positive baseline (demeaned or standardised data) has no percent: its own units then.
        mean = float(series.mean()) if len(series) else 0.0
        spread = float(series.std()) if len(series) else 0.0
        percent = mean > 0 and mean > 10.0 * spread
        # short: the plot is as low as the slice row (percent signal change, or the image's own units)
        self.roi_plot.setLabel("left", "BOLD", units="%" if percent else "image units")
        self.roi_curve.setData(np.arange(len(series)) * tr, 100.0 * (series / mean - 1.0) if percent else series)
        sel = self.state.selection
        names = self.state.results.get("saliency", "roi_names")
        name = str(names[sel.node_index]) if names is not None and sel.node_index < len(names) else "ROI"
        self.roi_plot.setTitle(f"BOLD at {name} (mean of the 3\u00d73\u00d73 voxels around its centre)"
                               + ("" if np.any(series != 0) else ": no signal there"), size="9pt")
