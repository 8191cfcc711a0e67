"""Coupling over time: a ROI's EEG band power and BOLD side by side, and their correlation in a sliding window.

The lagged correlation of the Coupling view is one number per recording (or
one curve over lags). This view shows what it is made of, for the selected ROI
and band in one recording: the HRF-convolved band power projected to the ROI
and the ROI's BOLD, each z-scored (less the task regressors when the analysis
removed them), with the blocks of each class shaded behind them; and below,
their Pearson r in a window slid along the run. Whether a coupling holds
throughout, or only in the blocks of one class, can be read off directly
(a coupling the task drives rises and falls with the blocks).

The series are those ``analyze`` correlated (``timecourses.npz``); the whole-run
r of a recording is its ``recording_lagged_r``. In compare mode the view stays on
the open results (session A).
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QBoxLayout, QComboBox, QDoubleSpinBox, QFrame, QHBoxLayout, QLabel, QScrollArea, QSizePolicy,
                               QVBoxLayout, QWidget)

from eegfmri_viewer.pipeline.coupling import block_runs, sliding_correlation, sliding_null_band
from eegfmri_viewer.report.tables import lagged_arrays
from eegfmri_viewer.views.axes_plot import axes_plot
from eegfmri_viewer.views.bundle_needs import missing_message
from eegfmri_viewer.views.class_colors import class_color
from eegfmri_viewer.views.message_stack import message_stack
from eegfmri_viewer.views.roi_names import roi_label
from eegfmri_viewer.views.view_colors import view_color

#: Default length of the sliding window, in seconds.
WINDOW_S = 60.0
#: Key entries up to this long are never broken across lines (longer ones wrap, so that a
#: narrow view is not widened by them).
KEY_UNBROKEN_CHARS = 30
#: Narrower than this, the key goes under the controls.
KEY_BESIDE_MIN_PX = 700
#: Said when the grey band misses 0: what the two series share regardless of their alignment (a task
#: that repeats, a slow drift in both) then drives the windowed r as much as any coupling.
NULL_OFF_ZERO = ("<i>the grey band misses 0: with the BOLD shifted in time the two still correlate (a task "
                 "that repeats, or a slow drift in both), so r here is not coupling alone</i>")
#: Circular shifts behind the grey band of chance correlations.
NULL_SHIFTS = 200
#: Height below which the view scrolls.
CONTENT_MIN_PX = 220
#: Opacity (0-255) of the class blocks behind the curves.
SHADE_ALPHA = 45
NO_TIME_COURSES = ("These results have no coupling time courses (timecourses.npz). Re-run the analysis with this "
                   "version to see EEG band power and BOLD of a ROI over time.")


def _swatch(rgb, glyph: str, text: str, pale: bool = False) -> str:
    """Rich text: ``glyph`` in ``rgb`` (as the shading over white when ``pale``), then ``text``."""
    if pale:
        # darker than the shading itself, so that the glyph can be seen in a line of text
        rgb = tuple(int(round(255 + (v - 255) * 3 * SHADE_ALPHA / 255)) for v in rgb)
    if len(text) <= KEY_UNBROKEN_CHARS:
        # a short entry stays on one line (no break at its spaces or hyphens); the key wraps between entries
        text = text.replace(" ", "&nbsp;").replace("-", "\u2011")
    return f'<span style="color: rgb{tuple(rgb)}; font-weight: bold">{glyph}</span>&nbsp;{text}'


class CouplingTimeView(QWidget):
    """Band power and BOLD of the selected ROI over one recording, and their sliding-window correlation.

    Parameters
    ----------
    state : AppState
        Reads ``results`` (``timecourses.npz``) and the selection (ROI and band).
        Until a ROI is selected the view shows the ROI with the strongest
        lagged coupling in the band, as the Coupling view does.
    parent : QWidget, optional
    """

    def __init__(self, state, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self._state = state
        self._roi: Optional[int] = None
        self._band: Optional[int] = None
        self._chosen = False
        self._regions: List[pg.LinearRegionItem] = []
        self._r_whole: Optional[float] = None

        self._message = QLabel()
        self._message.setWordWrap(True)
        self._message.setAlignment(Qt.AlignCenter)

        self._title = QLabel()
        self._title.setWordWrap(True)
        # The key is text outside the plots: a legend inside them would cover the curves.
        self._key = QLabel()
        self._key.setWordWrap(True)
        self._recording = QComboBox()
        self._recording.setToolTip("Recording whose time courses are shown")
        self._recording.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._window = QDoubleSpinBox()
        self._window.setRange(10.0, 600.0)
        self._window.setSingleStep(10.0)
        self._window.setDecimals(0)
        self._window.setSuffix(" s")
        self._window.setValue(WINDOW_S)
        self._window.setToolTip("Length of the sliding window of the correlation below, in whole volumes. The "
                                "shorter, the noisier: with n volumes, |r| of 2 / sqrt(n) arises by chance, and "
                                "more between smooth series")
        self._window.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel scrolls the dock unless clicked

        self._series = axes_plot()
        sp = self._series.getPlotItem()
        sp.setLabel("left", "z")
        sp.hideAxis("bottom")  # the r plot under it, on the same time axis, has it
        sp.setMouseEnabled(x=True, y=False)
        self._eeg_curve = pg.PlotDataItem(pen=pg.mkPen(view_color("alpha"), width=2))
        self._bold_curve = pg.PlotDataItem(pen=pg.mkPen(view_color("fmri"), width=2))
        sp.addItem(self._eeg_curve)
        sp.addItem(self._bold_curve)

        self._sliding = axes_plot()
        rp = self._sliding.getPlotItem()
        # One width for both plots' left axes, so that their time axes line up.
        for item in (sp, rp):
            item.getAxis("left").setWidth(36)
        rp.setLabel("left", "r")
        rp.setLabel("bottom", "time (s)")
        rp.setMouseEnabled(x=True, y=False)
        rp.setYRange(-1.0, 1.0, padding=0.02)
        # three ticks read in a short plot; the default five overlap there
        rp.getAxis("left").setTicks([[(-1.0, "\u22121"), (0.0, "0"), (1.0, "1")], []])
        rp.setXLink(sp)
        rp.addItem(pg.InfiniteLine(pos=0.0, angle=0, pen=pg.mkPen((150, 150, 150))))
        self._whole_line = pg.InfiniteLine(pos=0.0, angle=0, pen=pg.mkPen((30, 30, 30), style=Qt.DashLine))
        rp.addItem(self._whole_line)
        self._r_curve = pg.PlotDataItem(pen=pg.mkPen((30, 30, 30), width=2))
        # What the windowed r of these two series look like without coupling (time-shifted):
        # a grey band behind the curve.
        self._null_lo = pg.PlotCurveItem(pen=pg.mkPen(None))
        self._null_hi = pg.PlotCurveItem(pen=pg.mkPen(None))
        self._null_fill = pg.FillBetweenItem(self._null_lo, self._null_hi, brush=pg.mkBrush(120, 120, 120, 60))
        self._null_fill.setZValue(-5)
        rp.addItem(self._null_fill)
        rp.addItem(self._r_curve)
        self._null: Optional[Tuple[float, float]] = None
        self._sliding.setToolTip(
            "Pearson r of the two series above in a window slid along the run. Grey: the central 95 % of the "
            "windowed r when the BOLD is shifted in time against the power by at least one window "
            f"({NULL_SHIFTS} circular shifts), i.e. what these two series give without coupling; a block design "
            "that repeats lets the shifted series line up with the task again, which widens it.")

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(QLabel("Recording"))
        controls.addWidget(self._recording)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Window"))
        controls.addWidget(self._window)
        controls.addStretch(0)
        # The key beside the controls in a wide view (in the short row of tool tabs every
        # line of text is height taken from the plots), under them in a narrow one.
        self._header = QBoxLayout(QBoxLayout.LeftToRight)
        self._header.addLayout(controls)
        self._header.addSpacing(12)
        self._header.addWidget(self._key, 1)
        content = QWidget()
        body = QVBoxLayout(content)
        body.setContentsMargins(2, 2, 2, 2)
        body.addWidget(self._title)
        body.addLayout(self._header)
        body.addWidget(self._series, 3)
        body.addWidget(self._sliding, 2)
        # The plots take the room there is: their size hints (which pyqtgraph ties to their
        # last size) must not make the scrolled content taller than the view.
        for plot, least in ((self._series, 100), (self._sliding, 90)):
            plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
            plot.setMinimumHeight(least)
        # In the short row of tool tabs the view scrolls rather than squeezing its plots
        # (or making the row taller for every tab); raised, it gets half the column.
        content.setMinimumHeight(CONTENT_MIN_PX)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        self._stack = message_stack(self, self._message, scroll)

        state.resultsChanged.connect(lambda _r: self.reload())
        state.datasetChanged.connect(lambda _d: (self._select_open_recording(), self._redraw()))
        state.nodeChanged.connect(lambda _k, _i: self._redraw())
        state.bandChanged.connect(lambda _b: self._redraw())
        self._recording.currentIndexChanged.connect(lambda _i: self._redraw())
        self._window.valueChanged.connect(lambda _v: self._redraw())
        self.reload()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        beside = event.size().width() >= KEY_BESIDE_MIN_PX
        self._header.setDirection(QBoxLayout.LeftToRight if beside else QBoxLayout.TopToBottom)

    @property
    def key_beside_controls(self) -> bool:
        return self._header.direction() == QBoxLayout.LeftToRight

    # -- read-only views for tests and export ---------------------------------------
    @property
    def message(self) -> Optional[str]:
        """The sentence shown instead of the plots, or None while they are shown."""
        return self._message.text() if self._stack.currentIndex() == 0 else None

    @property
    def title(self) -> str:
        return self._title.text()

    @property
    def key_text(self) -> str:
        """The key line above the plots (rich text)."""
        return self._key.text()

    @property
    def recording_combo(self) -> QComboBox:
        return self._recording

    @property
    def window_box(self) -> QDoubleSpinBox:
        return self._window

    @property
    def shown(self) -> Optional[Tuple[int, int, bool]]:
        """(atlas ROI, band index, chosen by the user) of the curves, or None."""
        return None if self._roi is None else (self._roi, self._band, self._chosen)

    def series(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(times s, band power z, BOLD z) as drawn."""
        t, eeg = self._eeg_curve.getData()
        _, bold = self._bold_curve.getData()
        return (np.asarray(t if t is not None else []), np.asarray(eeg if eeg is not None else []),
                np.asarray(bold if bold is not None else []))

    def sliding_r(self) -> Tuple[np.ndarray, np.ndarray]:
        """(window centres s, r) as drawn."""
        t, r = self._r_curve.getData()
        return np.asarray(t if t is not None else []), np.asarray(r if r is not None else [])

    @property
    def whole_run_r(self) -> Optional[float]:
        return self._r_whole

    @property
    def null_band(self) -> Optional[Tuple[float, float]]:
        """(low, high) of the grey band: the central 95 % of windowed r without coupling, or None."""
        return self._null

    @property
    def block_regions(self) -> List[pg.LinearRegionItem]:
        return list(self._regions)

    @property
    def series_widget(self) -> pg.PlotWidget:
        return self._series

    @property
    def sliding_widget(self) -> pg.PlotWidget:
        return self._sliding

    # -- state -> view ------------------------------------------------------------
    def _courses(self) -> Optional[dict]:
        results = self._state.results
        return results.arrays.get("timecourses") if results is not None else None

    def reload(self) -> None:
        """Re-read ``timecourses.npz`` from ``state.results`` and redraw."""
        results = self._state.results
        text = missing_message(results, phase2=("coupling",))
        if text is None and self._courses() is None:
            text = NO_TIME_COURSES
        self._recording.blockSignals(True)
        self._recording.clear()
        if text is None:
            labels = [str(label) for label in self._courses()["recording_label"]]
            self._recording.addItems(labels)
            self._recording.setToolTip(f"Recording whose time courses are shown ({len(labels)} in these results)")
            self._select_open_recording()
        self._recording.blockSignals(False)
        if text is not None:
            self._message.setText(text)
            self._stack.setCurrentIndex(0)
            self._clear()
            return
        self._stack.setCurrentIndex(1)
        self._redraw()

    def _select_open_recording(self) -> None:
        """Show the recording open in the Signals view, if these results hold it.

        The two views then share the recording as they share the time cursor.
        """
        label = getattr(self._state.dataset, "label", None)
        index = self._recording.findText(str(label)) if label else -1
        if index >= 0:
            self._recording.setCurrentIndex(index)

    def _clear(self) -> None:
        self._roi = self._band = self._r_whole = self._null = None
        for item in (self._eeg_curve, self._bold_curve, self._r_curve, self._null_lo, self._null_hi):
            item.setData([], [])
        self._remove_regions()

    def _remove_regions(self) -> None:
        plot = self._series.getPlotItem()
        for region in self._regions:
            plot.removeItem(region)
        self._regions = []
        self._key.setText("")

    def _band_index(self, bands: List[str]) -> int:
        band = self._state.selection.band
        return bands.index(band) if band in bands else 0

    def strongest_roi(self, band: int) -> Optional[int]:
        """Atlas ROI with the largest peak |lagged r| in ``band``: the one the Coupling view shows unselected."""
        lagged, rois = lagged_arrays(self._state.results.arrays.get("coupling", {}))
        if "lagged_corr" not in lagged or band >= len(lagged["lagged_corr"]):
            return None
        peak = np.nan_to_num(np.abs(np.asarray(lagged["lagged_corr"][band], dtype=float)).max(axis=-1), nan=-1.0)
        return int(rois[np.argmax(peak)]) if len(peak) and peak.max() >= 0 else None

    def _redraw(self) -> None:
        tc = self._courses()
        if tc is None or self._stack.currentIndex() == 0:
            return
        results = self._state.results
        bands = [str(b) for b in tc["bands"]]
        b = self._band_index(bands)
        sel = self._state.selection
        n_rois = tc["bold"].shape[1]
        chosen = sel.node_kind == "roi" and sel.node_index is not None and sel.node_index < n_rois
        roi = int(sel.node_index) if chosen else self.strongest_roi(b)
        rec = max(self._recording.currentIndex(), 0)
        self._clear()
        if roi is None:
            return
        self._roi, self._band, self._chosen = roi, b, chosen
        n = int(tc["n_volumes"][rec])
        tr = float(tc["tr"])
        t = np.arange(n) * tr
        eeg = np.asarray(tc["power"][rec, b, roi, :n], dtype=float)
        bold = np.asarray(tc["bold"][rec, roi, :n], dtype=float)
        colour = view_color(bands[b], b)
        self._eeg_curve.setPen(pg.mkPen(colour, width=2))
        self._eeg_curve.setData(t, eeg)
        self._bold_curve.setData(t, bold)
        shaded = self._draw_blocks(tc, rec, n, tr)
        key = [_swatch(colour, "\u2014", f"{bands[b]} power (HRF-convolved)"),
               _swatch(view_color("fmri"), "\u2014", "BOLD")]
        key += [_swatch(class_color(c), "\u25a0", name, pale=True) for c, name in shaded]
        self._r_whole = float(np.mean(eeg * bold)) if n else None
        self._whole_line.setPos(self._r_whole or 0.0)
        window = int(round(self._window.value() / tr))
        what = "" if chosen else " (the strongest lagged coupling in the band; select a ROI to choose)"
        removed = ", task regressors removed" if bool(tc.get("task_removed", False)) else ""
        open_label = getattr(self._state.dataset, "label", None)
        # the two views share the time cursor: say when it points into different recordings
        other = (f" \u2014 not the recording open in Signals ({open_label})"
                 if open_label and str(open_label) != self._recording.currentText() else "")
        self._title.setText(f"<b>{bands[b]} power and BOLD at {roi_label(results, roi)}</b>{what}: "
                            f"r = {self._r_whole:+.2f} over the run (at the canonical delay{removed}){other}")
        # The lower plot's key joins the line above the plots: a plot title would take its height.
        if 3 <= window <= n:
            centres, r = sliding_correlation(eeg, bold, window)
            self._r_curve.setData(centres * tr, r)
            key.append(_swatch((30, 30, 30), "\u2014", f"r in {window * tr:g}-s windows"))
            key.append(_swatch((30, 30, 30), "\u2504", "whole run"))
            lo, hi = sliding_null_band(eeg, bold, window, n_shifts=NULL_SHIFTS, seed=rec)
            if np.isfinite(lo):
                self._null = (lo, hi)
                ends = np.array([centres[0], centres[-1]]) * tr
                self._null_lo.setData(ends, [lo, lo])
                self._null_hi.setData(ends, [hi, hi])
                key.append(_swatch((175, 175, 175), "\u25a0", "95 % of r with the BOLD shifted in time"))
                if lo > 0 or hi < 0:
                    key.append(NULL_OFF_ZERO)
        else:
            key.append(f"r: the recording ({n * tr:g} s) is shorter than the window")
        self._key.setText(" &nbsp;".join(key))
        self._series.getPlotItem().setXRange(0.0, max(t[-1], tr) if n else tr, padding=0.01)

    def _draw_blocks(self, tc: dict, rec: int, n: int, tr: float) -> List[Tuple[int, str]]:
        """Shade the volumes of each class's events in its colour (:func:`block_runs`).

        Returns the (class index, name) of the classes shaded, in class order.
        """
        if "blocks" not in tc:
            return []
        names = [str(c) for c in tc["classes"]]
        plot = self._series.getPlotItem()
        runs = block_runs(tc["blocks"][rec, :, :n])
        for c, start, stop in runs:
            r, g, bl = class_color(c)
            region = pg.LinearRegionItem((start * tr, stop * tr), movable=False, brush=pg.mkBrush(r, g, bl, SHADE_ALPHA),
                                         pen=pg.mkPen(None))
            region.setZValue(-10)
            region.setToolTip(names[c])
            region.class_name = names[c]
            plot.addItem(region)
            self._regions.append(region)
        return [(c, names[c]) for c in sorted({c for c, _, _ in runs})]
