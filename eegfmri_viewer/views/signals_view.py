"""Signals: EEG traces of a time window with events and a band overlay, BOLD slices (pyqtgraph).

The shared time cursor (``state.time_s``) is on the BOLD clock; the EEG plot
shows EEG-clock seconds, converted through the recording's alignment.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QScrollBar, QSpinBox, QSplitter,
                               QStackedWidget, QVBoxLayout, QWidget)
from PySide6.QtCore import Qt
from scipy.signal import butter, sosfiltfilt

from eegfmri_viewer.preprocessing.bands import DEFAULT_BANDS
from eegfmri_viewer.views.class_colors import class_color

#: What the BOLD plot says while it has no curve.
NO_ROI_TITLE = "Select a ROI (click it on the cortex or in any view) to plot its BOLD"
NO_RESULTS_TITLE = "Open results to choose a ROI whose BOLD to plot"

NO_DATASET_MESSAGE = "Open a dataset (File ▸ Open BIDS folder…) to see its signals"
FMRI_ONLY_NOTE = "This recording has no EEG: only the BOLD part is shown."
WINDOW_S = 10.0
N_CHANNELS = 16
# Peak-to-peak spacing between traces, in volts.
SCALES = {"20 µV": 20e-6, "50 µV": 50e-6, "100 µV": 100e-6, "200 µV": 200e-6, "500 µV": 500e-6, "1 mV": 1e-3}
DEFAULT_SCALE = "100 µV"


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
        self.channels_spin.setRange(1, N_CHANNELS)
        self.channels_spin.setValue(N_CHANNELS)
        self.channels_spin.setToolTip("How many EEG channels are drawn at once; the bar beside the traces "
                                      "scrolls through all of them")
        controls.addWidget(self.channels_spin)
        self.band_label = QLabel("")
        controls.addWidget(self.band_label)
        controls.addStretch(1)
        eeg_col.addLayout(controls)
        self.eeg_plot = pg.PlotWidget()
        self.eeg_plot.setLabel("bottom", "EEG time", units="s")
        self.eeg_plot.setMouseEnabled(x=False, y=False)
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
        for title in ("sagittal", "coronal", "axial"):
            vb = pg.GraphicsLayoutWidget()
            box = vb.addViewBox(lockAspect=True)
            box.setMouseEnabled(False, False)
            box.invertY(False)
            item = pg.ImageItem()
            box.addItem(item)
            marker = pg.ScatterPlotItem(size=10, brush=pg.mkBrush(255, 0, 0), pen=pg.mkPen("w"))
            box.addItem(marker)
            vb.setToolTip(title)
            bold_row.addWidget(vb, 1)
            self.slice_views.append(box)
            self.slice_items.append(item)
            self.roi_markers.append(marker)
        self.roi_plot = pg.PlotWidget()
        self.roi_plot.setLabel("bottom", "BOLD time (s)")
        # seconds stay seconds: an SI prefix turned an empty plot's axis into "ms"
        self.roi_plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.roi_curve = self.roi_plot.plot([], [], pen=pg.mkPen("y", width=2))
        self.roi_cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("r"))
        self.roi_plot.addItem(self.roi_cursor)
        bold_row.addWidget(self.roi_plot, 2)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.eeg_panel)
        split.addWidget(self.bold_panel)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
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
        state.datasetChanged.connect(self._on_dataset)
        state.resultsChanged.connect(lambda _r: self._update_roi())
        state.resultsChanged.connect(lambda _r: self._draw_window())  # event colours follow the results' classes
        state.nodeChanged.connect(lambda _k, _i: self._update_roi())
        state.nodeChanged.connect(self._on_node)
        self.channel_scroll.valueChanged.connect(self._on_channel_page)
        self.channels_spin.valueChanged.connect(lambda _n: self._on_channel_page(self.channel_scroll.value()))
        state.bandChanged.connect(lambda _b: self._draw_band())
        state.timeChanged.connect(self._on_time)
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
            self.channels_spin.setRange(1, max(1, len(self._eeg_picks)))
            self.channels_spin.setValue(min(N_CHANNELS, max(1, len(self._eeg_picks))))
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

    def _set_channel_page(self, first: int) -> None:
        """Show the channels from ``first`` on (as many as the Channels box says)."""
        count = self.channels_spin.value()
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
            self._set_channel_page(self._eeg_picks.index(channel) - self.channels_spin.value() // 2)
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
        self.trace_curves, self.band_curves, self.event_regions = [], [], []
        start, stop = self.window_bounds()
        if not self._picks or stop <= start:
            return
        data = raw.get_data(picks=self._picks, start=start, stop=stop)
        times = (start + np.arange(stop - start)) / raw.info["sfreq"]
        self._window_data, self._window_times = data, times
        offsets = self._offsets(len(self._picks))
        names = [raw.ch_names[i] for i in self._picks]
        marked = self._marked = self._selected_channel()
        for pick, row, offset in zip(self._picks, data, offsets):
            pen = pg.mkPen((255, 255, 255), width=2) if pick == marked else pg.mkPen((200, 200, 200), width=1)
            curve = plot.plot(times, row, pen=pen)
            # the offset is a display transform so the curve's y data stay the file's values
            curve.setPos(0, offset)
            self.trace_curves.append(curve)
        plot.getAxis("left").setTicks([list(zip(offsets, names))])
        self._draw_events(times[0], times[-1])
        plot.addItem(self.cursor)
        self.cursor.setValue(self.eeg_time_of(self.state.selection.time_s))
        spacing = SCALES[self.scale_combo.currentText()]
        plot.setXRange(times[0], times[0] + WINDOW_S, padding=0)
        plot.setYRange(offsets[-1] - spacing, spacing, padding=0)
        self._draw_band()

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
        for row, offset in zip(filtered, self._offsets(len(filtered))):
            curve = self.eeg_plot.plot(self._window_times, row, pen=pg.mkPen((255, 200, 0), width=1))
            curve.setPos(0, offset)
            self.band_curves.append(curve)

    def _on_click(self, event) -> None:
        if self._rec is None or self._rec.eeg is None:
            return
        vb = self.eeg_plot.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        x = vb.mapSceneToView(event.scenePos()).x()
        self.state.set_time(self.bold_time_of(x))

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
        self.roi_curve.setData(np.arange(len(series)) * tr, series)
        sel = self.state.selection
        names = self.state.results.get("saliency", "roi_names")
        name = str(names[sel.node_index]) if names is not None and sel.node_index < len(names) else "ROI"
        self.roi_plot.setTitle(f"BOLD at {name} (mean of the 3\u00d73\u00d73 voxels around its centre)", size="9pt")
