"""EEG–fMRI coupling: bands × ROIs matrix and the selected ROI's lag curves.

Top: the coupling cos(ἔ_band[i], ἔ_fMRI[i]) of every band and phase-2 ROI, ROIs
grouped by network where the atlas labels them. Clicking a cell selects its
band and ROI. Bottom: the lagged correlation between HRF-convolved EEG band
power and BOLD of the selected ROI, one curve per band, with the peak marked
and its permutation p-value in the legend.

In compare mode (``state.compare`` holds coupling of two bundles) a selector
shows the coupling of session A, of session B, or the change B − A on the ROIs
present in both, with a symmetric diverging scale; the lag curves stay those of
the open bundle (A).
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import (QBoxLayout, QCheckBox, QComboBox, QFrame, QHBoxLayout, QLabel, QScrollArea,
                               QSizePolicy, QSplitter, QVBoxLayout, QWidget)

from eegfmri_viewer.comparison.compare import lagged_units
from eegfmri_viewer.state.overlay import CortexOverlay
from eegfmri_viewer.views.axes_plot import axes_plot
from eegfmri_viewer.views.bundle_needs import missing_message
from eegfmri_viewer.views.message_stack import message_stack
from eegfmri_viewer.views.overlay_check import untick_when_dismissed, untick_when_replaced
from eegfmri_viewer.views.roi_names import roi_label, roi_name
from eegfmri_viewer.views.view_colors import view_color
from eegfmri_viewer.views.view_names import short_view_name

MAX_ROI_TICKS = 24
#: Rough width of one character of an axis label, in pixels.
CHAR_PX = 7.0
# Compare mode: selector text -> suffix of compare.npz's coupling arrays.
COMPARE_SIDES = {"A": "a", "B": "b", "B \u2212 A": "diff"}
#: What the embedding coupling is, and is not: shown with the heat map and in the report.
EMBEDDING_COUPLING_NOTE = (
    "Embedding coupling: the cosine between a ROI's phase-2 embedding in the band's view and in the fMRI "
    "view, i.e. how alike the ROI's place is in the two views' learnt similarity structure (DESIGN.md step "
    "10). It compares geometry, not time courses: on the demo it does not single out the ROI/band pairs "
    "planted as coupled (docs/method.md). For EEG power-BOLD coupling read the lagged correlation below.")
#: Narrowest view (pixels) that has the lag curves' key beside the plot rather than under it.
KEY_BESIDE_MIN_PX = 540
#: Least height (pixels) of the heat map and lag section together, with the key beside the
#: plot (True) or under it (False); a shorter view scrolls.
CONTENT_MIN_PX = {True: 300, False: 460}
#: Title of the view that draws a ROI's band power and BOLD over time (linked from the lag title).
OVER_TIME_VIEW = "Coupling over time"
#: Owner name of this view's cortex overlay (said in the cortex view's note).
OVERLAY_OWNER = "Coupling"


#: Network labels that mean "no network" (lower case).
UNASSIGNED_NETWORKS = ("", "unassigned", "uncertain", "unknown", "none", "n/a", "unlabelled", "unlabeled")


def short_network_name(name: str) -> str:
    """A short form of a network name for a narrow column group.

    CamelCase and multi-word names give their initials (``"DefaultMode"`` →
    ``"DM"``, ``"Cingulo-opercular Task Control"`` → ``"COTC"``); one-word names
    their first three letters (``"Visual"`` → ``"Vis"``).
    """
    import re

    words = re.findall(r"[A-Z][a-z]*|[a-z]+|[0-9]+", name.replace("-", " ").title() if name.islower() else name)
    if len(words) > 1:
        return "".join(w[0].upper() for w in words)
    return name[:3]


def network_order(networks) -> Tuple[np.ndarray, List[Tuple[str, int, int]]]:
    """Order nodes so that each network's ROIs are adjacent.

    Parameters
    ----------
    networks : sequence of str, length n_nodes
        Network label of each node; ``""`` (and "unassigned", "uncertain",
        "unknown", "none", "n/a") where the atlas has none.

    Returns
    -------
    order : ndarray, shape (n_nodes,)
        Node positions in display order (stable within a network; networks in
        order of first appearance, unlabelled nodes last).
    groups : list of (label, start, stop)
        Consecutive display ranges of each network; empty when no node has a
        label.
    """
    # Atlases mark a ROI without a network in several ways: one group for all of them, last.
    labels = ["" if str(n).strip().lower() in UNASSIGNED_NETWORKS else str(n) for n in networks]
    if not any(labels):
        return np.arange(len(labels)), []
    names = list(dict.fromkeys(n for n in labels if n))
    if any(not n for n in labels):
        names.append("")
    order, groups = [], []
    for name in names:
        members = [k for k, n in enumerate(labels) if n == name]
        groups.append((name or "unassigned", len(order), len(order) + len(members)))
        order.extend(members)
    return np.asarray(order, dtype=int), groups


class CouplingView(QWidget):
    """Coupling heatmap (bands × ROIs) and lagged-correlation curves.

    Parameters
    ----------
    state : AppState
        Reads ``results`` (coupling.npz) and the selection; a click on a cell
        selects that band and ROI.
    parent : QWidget, optional

    Signals
    -------
    view_requested(str)
        The title of another view to bring up: the link after the lag title
        asks for :data:`OVER_TIME_VIEW` (the main window raises its dock).
    """

    view_requested = Signal(str)

    def __init__(self, state, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self._state = state
        self._bands: List[str] = []
        self._order = np.zeros(0, dtype=int)
        self._node_index = np.zeros(0, dtype=int)
        self._lag_index = np.zeros(0, dtype=int)
        self._lag_prefix = ""
        # (header, rows, footer) of the lag curves' key, or None without curves
        self._key = None
        self._matrix = np.zeros((0, 0))
        self._groups: List[Tuple[str, int, int]] = []
        self._bottom_labels: List[str] = []
        self._separators: List[pg.InfiniteLine] = []
        self._curves: List[pg.PlotDataItem] = []
        self._peaks: List[pg.ScatterPlotItem] = []

        self._message = QLabel()
        self._message.setWordWrap(True)
        self._message.setAlignment(Qt.AlignCenter)

        self._heat = axes_plot()
        hp = self._heat.getPlotItem()
        hp.setMouseEnabled(False, False)
        hp.invertY(True)
        hp.setLabel("bottom", "phase-2 ROIs")
        self._image = pg.ImageItem()
        hp.addItem(self._image)
        self._cmap = pg.colormap.get("CET-D1")
        # All-positive cosines on a diverging map are one shade of red, read as "positive coupling" whatever
        # the lagged r says; a sequential map over their range shows where they differ.
        self._sequential = pg.colormap.get("viridis")
        self._colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=self._cmap, interactive=False, width=14)
        self._colorbar.setImageItem(self._image, insert_in=hp)
        self._roi_box = pg.PlotCurveItem(pen=pg.mkPen((0, 0, 0), width=3))
        self._band_box = pg.PlotCurveItem(pen=pg.mkPen((0, 0, 0), width=1.5, style=Qt.DashLine))
        # a white line under the dashes: the frame stays visible over the darkest cells of either scale
        self._band_halo = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255), width=3.5))
        hp.addItem(self._band_halo)
        hp.addItem(self._band_box)
        hp.addItem(self._roi_box)
        hp.getViewBox().sigResized.connect(lambda _vb: self._relabel_groups())

        self._lags = axes_plot()
        lp = self._lags.getPlotItem()
        lp.setLabel("bottom", "lag of BOLD after EEG power (s)")
        lp.setLabel("left", "r")
        lp.addLine(x=0, pen=pg.mkPen((160, 160, 160), style=Qt.DotLine))
        lp.addLine(y=0, pen=pg.mkPen((160, 160, 160), style=Qt.DotLine))

        self._heat_title = QLabel()
        self._heat_title.setWordWrap(True)
        self._heat_title.setToolTip(EMBEDDING_COUPLING_NOTE)
        self._compare_combo = QComboBox()
        self._compare_combo.addItems(list(COMPARE_SIDES))
        self._compare_combo.setCurrentText("B \u2212 A")
        self._compare_combo.setToolTip("Coupling of session A, of session B, or the change B \u2212 A")
        self._compare_row = QWidget()
        crow = QHBoxLayout(self._compare_row)
        crow.setContentsMargins(0, 0, 0, 0)
        crow.addWidget(QLabel("Compare"))
        crow.addWidget(self._compare_combo)
        crow.addStretch(1)
        self._compare_row.setVisible(False)
        # The hovered cell's values go to the heat map's tooltip: a line of text for them
        # under the heat map would take height that a docked view does not have.
        self._hover = ""
        self._lag_title = QLabel()
        self._lag_title.setWordWrap(True)
        self._lag_title.setTextFormat(Qt.RichText)
        self._lag_title.linkActivated.connect(lambda _href: self.view_requested.emit(OVER_TIME_VIEW))
        self._cortex_check = QCheckBox("Lagged r on the cortex")
        self._cortex_check.setToolTip("Show the peak lagged correlation of the selected band at every ROI on "
                                      "the Cortex 3-D view, in place of the CAM")
        self._significant_check = QCheckBox("only FWE p < 0.05")
        self._significant_check.setToolTip("On the cortex, colour only the ROIs whose coupling survives the "
                                           "correction for all bands \u00d7 ROIs tested")
        self._significant_check.setEnabled(False)
        for check in (self._cortex_check, self._significant_check):
            # Narrow docks clip the text rather than widen the whole view.
            check.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
            check.setMinimumWidth(40)
        # The two boxes stacked beside the (two-line) lag title: a row of their own
        # would take height from the lag plot in a docked view.
        checks = QVBoxLayout()
        checks.setContentsMargins(0, 0, 0, 0)
        checks.setSpacing(0)
        checks.addWidget(self._cortex_check)
        checks.addWidget(self._significant_check)
        title_row = QHBoxLayout()
        title_row.setContentsMargins(0, 0, 0, 0)
        title_row.addWidget(self._lag_title, 1)
        title_row.addLayout(checks)
        top = QWidget()
        tbox = QVBoxLayout(top)
        tbox.setContentsMargins(0, 0, 0, 0)
        tbox.addWidget(self._compare_row)
        tbox.addWidget(self._heat_title)
        tbox.addWidget(self._heat, 1)
        bottom = QWidget()
        bbox = QVBoxLayout(bottom)
        bbox.setContentsMargins(0, 0, 0, 0)
        bbox.addLayout(title_row)
        self._lags.setMinimumHeight(80)
        # The per-band peaks, one line each, beside the plot: a legend inside a short plot
        # would cover the curves, and lines of text under it take the height a docked
        # view (wide and short) does not have.
        self._lag_key = QLabel()
        self._lag_key.setWordWrap(True)
        self._lag_key.setAlignment(Qt.AlignLeft | Qt.AlignVCenter)
        # A table does not wrap: in a very narrow view it is cut rather than widen the view.
        self._lag_key.setMinimumWidth(100)
        self._lag_row = QBoxLayout(QBoxLayout.LeftToRight)
        self._lag_row.setContentsMargins(0, 0, 0, 0)
        self._lag_row.addWidget(self._lags, 3)
        self._lag_row.addWidget(self._lag_key, 2)
        bbox.addLayout(self._lag_row, 1)
        splitter = QSplitter(Qt.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        # Both halves need their room: the heat map its five band rows, the lag section its text.
        self._heat.setMinimumHeight(100)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        # Shorter than its content (a three-way bottom row), the view scrolls rather than
        # letting its plots and text overlap.
        self._splitter = splitter
        self._scroll = QScrollArea()
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.NoFrame)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self._scroll.setWidget(splitter)
        splitter.setMinimumHeight(CONTENT_MIN_PX[True])
        self._stack = message_stack(self, self._message, self._scroll)

        self._heat.scene().sigMouseMoved.connect(self._on_moved)
        self._heat.scene().sigMouseClicked.connect(self._on_clicked)
        state.resultsChanged.connect(lambda _r: self.reload())
        state.compareChanged.connect(lambda _c: self.reload())
        self._compare_combo.currentIndexChanged.connect(lambda _i: self.reload())
        state.nodeChanged.connect(lambda _k, _i: self._draw_selection())
        state.bandChanged.connect(lambda _b: self._draw_selection())
        state.bandChanged.connect(lambda _b: self._publish_overlay())
        state.overlayChanged.connect(self._on_overlay)
        state.overlayDismissed.connect(self._on_dismissed)
        self._cortex_check.toggled.connect(lambda _on: self._publish_overlay())
        self._significant_check.toggled.connect(lambda _on: self._publish_overlay())
        self.reload()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        # The key of the lag curves sits beside the plot, or under it when the view is
        # too narrow for both side by side.
        narrow = event.size().width() < KEY_BESIDE_MIN_PX
        if narrow == self.key_beside_plot():
            self._lag_row.setDirection(QBoxLayout.TopToBottom if narrow else QBoxLayout.LeftToRight)
            self._splitter.setMinimumHeight(CONTENT_MIN_PX[not narrow])
            self._render_key()
        super().resizeEvent(event)

    def _render_key(self) -> None:
        # Under the plot every line takes height from it: the line saying how p and FWE
        # were computed is then left to the key's tooltip.
        if self._key is None:
            self._lag_key.setText("")
            return
        header, rows, footer = self._key
        self._lag_key.setText(_key_table(header, rows, footer if self.key_beside_plot() else ""))

    def key_beside_plot(self) -> bool:
        """Whether the lag curves' key is beside the plot (else under it)."""
        return self._lag_row.direction() == QBoxLayout.LeftToRight

    # -- public helpers (also used by tests) ----------------------------------
    @property
    def message(self) -> Optional[str]:
        """The sentence shown instead of the plots, or ``None`` when they are shown."""
        return self._message.text() if self._stack.currentIndex() == 0 else None

    @property
    def cortex_check(self) -> QCheckBox:
        """"Lagged r on the cortex": the peak lagged r of the band is the Cortex 3-D view's overlay."""
        return self._cortex_check

    @property
    def significant_check(self) -> QCheckBox:
        """"only FWE p < 0.05": the overlay leaves out ROIs whose corrected p is not below 0.05."""
        return self._significant_check

    def cortex_values(self) -> Optional[Tuple[str, np.ndarray]]:
        """Title and per-atlas-ROI values of the cortex overlay, shape (n_rois,); None without lag curves.

        The value is the lagged r at its peak (signed: alpha power and BOLD are
        anticorrelated) in the selected band (the first band when the selection's
        band is not one of the bundle's). NaN where the bundle has no lag curve
        (bundles without ``roi_*`` arrays have them for the phase-2 nodes only)
        and, with "only FWE p < 0.05", where the corrected p is not below 0.05.
        """
        results = self._state.results
        if results is None or self._stack.currentIndex() == 0 or not self._bands:
            return None
        if self.lagged_side() is not None:
            return self._compared_values()
        corr = self._lag_array("lagged_corr")
        coords = results.get("saliency", "roi_coords")
        if corr is None or coords is None:
            return None
        band = self._state.selection.band
        b = self._bands.index(band) if band in self._bands else 0
        corr = np.asarray(corr[b], dtype=float)  # (n, n_lags)
        peak = corr[np.arange(len(corr)), np.abs(corr).argmax(axis=-1)]
        values = np.full(len(coords), np.nan)
        values[self._lag_index] = peak
        title = f"lagged r, {self._bands[b]} (peak within the lags)"
        p_fwe = self._lag_array("p_value_fwer")
        if self._significant_check.isChecked() and p_fwe is not None:
            keep = np.zeros(len(coords), dtype=bool)
            keep[self._lag_index] = np.asarray(p_fwe[b], dtype=float) < 0.05
            values[~keep] = np.nan
            title = f"lagged r, {self._bands[b]}, FWE p < 0.05 (peak within the lags)"
        return title, values

    def _compared_values(self) -> Optional[Tuple[str, np.ndarray]]:
        """Overlay in compare mode: each side's r at the canonical delay, or B − A (only q < 0.05 if ticked)."""
        arrays = self._state.compare.arrays
        side = self.lagged_side()
        bands = [str(b) for b in arrays["bands"]]
        band = self._state.selection.band
        b = bands.index(band) if band in bands else 0
        values = np.asarray(arrays[f"lagged_r_{side}"][b], dtype=float).copy()
        units = lagged_units(arrays)
        what = {"a": "A", "b": "B", "diff": "B \u2212 A"}[side]
        # the cortex's colour bar shows the part before " (": keep it short
        title = f"{bands[b]} r, {what} (EEG power-BOLD r at the canonical delay; {units})"
        if side == "diff" and self._significant_check.isChecked():
            values[~(np.nan_to_num(np.asarray(arrays["lagged_r_q"][b], dtype=float), nan=1.0) < 0.05)] = np.nan
            title = f"{bands[b]} r, B \u2212 A, q < 0.05 (EEG power-BOLD r at the canonical delay; {units})"
        return title, values

    def _publish_overlay(self) -> None:
        """Put the band's lagged r on the cortex when asked, or take this view's map off it."""
        lagged = self.lagged_side()
        if lagged is not None:
            self._significant_check.setText("only q < 0.05")
            can_mask = lagged == "diff"
        else:
            self._significant_check.setText("only FWE p < 0.05")
            can_mask = self._state.results is not None and self._lag_array("p_value_fwer") is not None
        self._significant_check.setEnabled(self._cortex_check.isChecked() and can_mask)
        shown = self._cortex_check.isChecked() and (self.compare_side() is None or lagged is not None)
        current = self._state.overlay
        if shown:
            made = self.cortex_values()
            if made is not None:
                self._state.set_overlay(CortexOverlay(made[0], made[1], owner=OVERLAY_OWNER))
                return
        if current is not None and current.owner == OVERLAY_OWNER:
            self._state.set_overlay(None)

    def _on_overlay(self, overlay) -> None:
        if untick_when_replaced(self._cortex_check, OVERLAY_OWNER, overlay):
            self._significant_check.setEnabled(False)

    def _on_dismissed(self, owner: str) -> None:
        if untick_when_dismissed(self._cortex_check, OVERLAY_OWNER, owner):
            self._significant_check.setEnabled(False)

    @property
    def heatmap_widget(self) -> pg.PlotWidget:
        """The plot holding the bands × ROIs heatmap."""
        return self._heat

    @property
    def lag_widget(self) -> pg.PlotWidget:
        """The plot holding the lag curves."""
        return self._lags

    @property
    def display_order(self) -> np.ndarray:
        """Atlas ROI index of each heatmap column, shape (n_nodes,)."""
        return self._node_index[self._order].copy()

    @property
    def groups(self) -> List[Tuple[str, int, int]]:
        """Network groups along the columns: (label, first column, stop column)."""
        return list(self._groups)

    @property
    def lag_title(self) -> str:
        """Title above the lag curves (names the ROI or says what to select)."""
        return self._lag_title.text()

    def curves(self) -> List[Tuple[str, np.ndarray, np.ndarray, float]]:
        """Lag curves drawn: (name, lags, r, pen width) per band; the names are also the key under the plot."""
        out = []
        for curve in self._curves:
            x, y = curve.getData()
            out.append((curve.name(), x, y, float(curve.opts["pen"].widthF())))
        return out

    @property
    def heat_note(self) -> str:
        """What the heat map's cosine compares (the tooltip of its title)."""
        return self._heat_title.toolTip()

    @property
    def lag_key_tooltip(self) -> str:
        """What r, p and FWE in the key mean (the key's tooltip)."""
        return self._lag_key.toolTip()

    @property
    def lag_key(self) -> str:
        """The key under the lag plot (rich text): each band's peak r, lag and p."""
        return self._lag_key.text()

    def peaks(self) -> np.ndarray:
        """Marked peaks (lag, r) per band, shape (n_bands, 2)."""
        return np.array([[p.data["x"][0], p.data["y"][0]] for p in self._peaks if len(p.data)]).reshape(-1, 2)

    def cell_center(self, band: int, roi: int) -> Optional[QPointF]:
        """Centre of the cell of band index ``band`` and atlas ROI ``roi`` in plot coordinates."""
        cols = np.flatnonzero(self._node_index[self._order] == roi)
        return QPointF(cols[0] + 0.5, band + 0.5) if len(cols) else None

    @property
    def matrix(self) -> np.ndarray:
        """The heatmap values, shape (n_bands, n_columns), columns in display order."""
        return self._matrix[:, self._order].copy() if self._matrix.size else np.zeros((0, 0))

    @property
    def compare_combo(self) -> QComboBox:
        """Compare-mode selector (A, B, B − A); shown only when comparing coupling."""
        return self._compare_combo

    def compare_side(self) -> Optional[str]:
        """``"a"``, ``"b"`` or ``"diff"`` while the comparison's coupling is shown, else None."""
        compare = self._state.compare
        if compare is None or "coupling_a" not in compare.arrays or self._state.results is None:
            return None
        return COMPARE_SIDES[self._compare_combo.currentText()]

    def lagged_side(self) -> Optional[str]:
        """``"a"``, ``"b"`` or ``"diff"`` while the comparison's EEG power-BOLD r is on the cortex, else None."""
        compare = self._state.compare
        if compare is None or "lagged_r_a" not in compare.arrays or self._state.results is None:
            return None
        return COMPARE_SIDES[self._compare_combo.currentText()]

    def roi_box(self) -> np.ndarray:
        """Corners of the selected-ROI frame, shape (n_points, 2); empty when none."""
        x, y = self._roi_box.getData()
        return np.zeros((0, 2)) if x is None or len(x) == 0 else np.column_stack([x, y])

    @property
    def hover_text(self) -> str:
        """Text of the heatmap cell under the mouse, shown as the heat map's tooltip ("" when none)."""
        return self._hover

    def value_text(self, band: int, col: int) -> str:
        """Hover text of the cell of band index ``band`` and display column ``col``."""
        node = self._order[col]
        roi = int(self._node_index[node])
        results = self._state.results
        if self.compare_side() is not None:
            arrays = self._state.compare.arrays
            text = (f"{self._bands[band]} \u00d7 {roi_label(self._state.results, roi)}: "
                    f"A {arrays['coupling_a'][band, roi]:.3f}, B {arrays['coupling_b'][band, roi]:.3f}, B \u2212 A {arrays['coupling_diff'][band, roi]:+.3f}")
            if "coupling_q" in arrays:
                text += f", q = {float(arrays['coupling_q'][band, roi]):.3g}"
            return text
        # Two measures that can disagree, even in sign: each is named, so that the p-value is read as the lagged
        # correlation's and the cell's colour as the embedding cosine's.
        text = (f"{self._bands[band]} \u00d7 {roi_label(self._state.results, roi)}: "
                f"embedding cos {self._matrix[band, node]:.3f}")
        rows = np.flatnonzero(self._lag_index == roi)
        if len(rows):
            # the lagged measures of the same family as the lag curves below, so the two agree
            lagged = self._lag_stats_text(band, int(rows[0]))
            if lagged:
                text += f" | {lagged}"
        networks = results.get("saliency", "roi_networks")
        if networks is not None and roi < len(networks) and self._groups:
            # the group the axis puts it in: the atlases' several words for "none" are one group there
            name = str(networks[roi])
            text += f" [{'unassigned' if name.strip().lower() in UNASSIGNED_NETWORKS else name}]"
        return text

    def _task_removed(self) -> bool:
        """Whether the analysis removed the task regressors before the lagged coupling."""
        return bool(self._state.results.config.get("coupling", {}).get("remove_task", False))

    def p_text(self, p: float) -> str:
        """``"0.031"``, or ``"\u2264 0.005"`` (no-break space) at the smallest p the permutations can give, 1 / (1 + n).

        No surrogate beat the observed peak there: the p-value is bounded by the
        number of permutations, not measured.
        """
        n_perm = self._state.results.get("coupling", "n_permutations") if self._state.results is not None else None
        p = float(p)
        if n_perm is not None and np.isfinite(p) and p <= 1.0 / (1.0 + float(n_perm)) + 1e-12:
            return f"\u2264\u00a0{p:.2g}"  # one unit: a table cell never breaks it
        return f"{p:.2g}"

    def _lag_stats_text(self, band: int, row: int) -> str:
        """"lagged r … at … s, p …, FWE …" of band index ``band`` at lag row ``row`` (what the bundle has)."""
        corr, lag, p, p_fwe = (self._lag_array(k) for k in ("lagged_corr", "peak_lag_s", "p_value", "p_value_fwer"))
        lags = self._state.results.get("coupling", "lags_s")
        if corr is None or lags is None:
            return ""
        r = np.asarray(corr[band, row], dtype=float)
        lags = np.asarray(lags, dtype=float)
        peak = float(lag[band, row]) if lag is not None else float("nan")
        if not np.isfinite(r).any() or (lag is not None and not np.isfinite(peak)):
            return "no lagged r (no signal at this ROI)"
        i = int(np.argmin(np.abs(lags - peak))) if lag is not None else int(np.nanargmax(np.abs(r)))
        text = f"lagged r {r[i]:+.2f} at {lags[i]:+.1f} s"
        if p is not None:
            text += f", p {self.p_text(p[band, row])}"
        if p_fwe is not None:
            text += f", FWE {self.p_text(p_fwe[band, row])}"
        return text

    def _lag_array(self, key: str):
        """``coupling.npz`` lag array ``key`` on the ROI axis of :attr:`_lag_index` (all ROIs when saved)."""
        return self._state.results.get("coupling", f"{self._lag_prefix}{key}")

    # -- state -> view ------------------------------------------------------------
    def reload(self) -> None:
        """Re-read coupling.npz from ``state.results`` and redraw."""
        results = self._state.results
        text = missing_message(results, phase2=("coupling",))
        if text is None and not results.has("coupling", "coupling"):
            text = "coupling.npz has no coupling matrix; re-run the analysis with phase 2 enabled."
        if text is not None:
            self._message.setText(text)
            self._stack.setCurrentIndex(0)
            self._matrix = np.zeros((0, 0))
            self._publish_overlay()
            return
        self._stack.setCurrentIndex(1)
        self._bands = [str(b) for b in results.get("coupling", "bands")]
        self._matrix = np.asarray(results.get("coupling", "coupling"), dtype=float)
        self._node_index = np.asarray(results.get("coupling", "node_index"), dtype=int)
        # Lag curves for every atlas ROI when the bundle has them, else for the phase-2 nodes.
        self._lag_prefix = "roi_" if results.has("coupling", "roi_lagged_corr") else ""
        self._lag_index = (np.arange(np.shape(results.get("coupling", "roi_lagged_corr"))[1])
                           if self._lag_prefix else self._node_index)
        side = self.compare_side()
        compare = self._state.compare
        self._compare_row.setVisible(side is not None or self.lagged_side() is not None)
        if side is not None:
            arrays = compare.arrays
            # ROIs present in either session; the change only where in both (NaN elsewhere).
            present = np.isfinite(arrays["coupling_a"]).any(0) | np.isfinite(arrays["coupling_b"]).any(0)
            self._node_index = np.flatnonzero(present)
            self._bands = [str(b) for b in arrays["bands"]]
            self._matrix = np.asarray(arrays[f"coupling_{side}"], dtype=float)[:, self._node_index]
        networks = results.get("saliency", "roi_networks")
        labels = ([str(networks[r]) if r < len(networks) else "" for r in self._node_index]
                  if networks is not None else [""] * len(self._node_index))
        self._order, self._groups = network_order(labels)
        n_b, n = len(self._bands), len(self._node_index)
        self._image.setImage(self._matrix[:, self._order].T, autoLevels=False)
        self._image.setRect(0, 0, n, n_b)
        # Cosine coupling lies in [-1, 1]. With values of both signs (and for changes B - A) a symmetric
        # diverging scale keeps 0 at the neutral colour; when none is negative, a sequential one spans them.
        finite = np.isfinite(self._matrix)
        values = self._matrix[finite]
        lo, hi = (float(values.min()), float(values.max())) if finite.any() else (0.0, 0.0)
        if side != "diff" and finite.any() and lo >= 0 and hi > lo:
            self._colorbar.setColorMap(self._sequential)
            self._colorbar.setLevels((lo, hi))
        else:
            lim = max(abs(lo), abs(hi))
            self._colorbar.setColorMap(self._cmap)
            self._colorbar.setLevels((-lim, lim) if lim > 0 else (-1.0, 1.0))
        hp = self._heat.getPlotItem()
        hp.getAxis("left").setTicks([[(b + 0.5, name) for b, name in enumerate(self._bands)], []])
        for line in self._separators:
            hp.removeItem(line)
        self._separators = []
        if self._groups:
            ticks = self._group_ticks()
            for _name, start, _stop in self._groups[1:]:
                line = pg.InfiniteLine(pos=start, angle=90, pen=pg.mkPen((0, 0, 0), width=2))
                hp.addItem(line)
                self._separators.append(line)
            hp.setLabel("bottom", "phase-2 ROIs, grouped by network")
        else:
            stride = max(1, int(np.ceil(n / MAX_ROI_TICKS)))
            ticks = [(c + 0.5, str(int(self._node_index[self._order[c]]))) for c in range(0, n, stride)]
            hp.setLabel("bottom", "phase-2 ROIs (atlas index; the atlas has no network labels)")
        self._set_bottom_ticks(ticks)
        hp.setRange(xRange=(0, n), yRange=(0, n_b), padding=0.01)
        glob = results.get("coupling", "coupling_global")
        glob_text = ""
        if glob is not None:
            glob_text = "; global index " + ", ".join(f"{b} {float(g):.2f}" for b, g in zip(self._bands, glob))
        title = (f"<b>EEG\u2013fMRI coupling</b> cos(\u1f14_band, \u1f14_fMRI) per ROI{glob_text}. "
                 "Click a cell to select its band and ROI.")
        if side is not None:
            what = {"a": "session A", "b": "session B", "diff": "change B \u2212 A (ROIs in both sessions)"}[side]
            title = (f"<b>EEG\u2013fMRI coupling, {what}</b>; {compare.meta.get('a', 'A')} \u2192 "
                     f"{compare.meta.get('b', 'B')}. Lag curves below: session A.")
        elif compare is not None:
            lagged = ("" if self.lagged_side() is None else
                      " Each session's EEG power-BOLD r: \u201cLagged r on the cortex\u201d, A, B or B \u2212 A.")
            title = (f"<b>EEG\u2013fMRI coupling</b> of the bundle: the comparison has no embedding coupling "
                     f"(sessions of one bundle share one phase-2 model).{lagged}")
        self._heat_title.setText(title)
        self._draw_selection()
        self._publish_overlay()

    def _selected_node(self) -> Optional[int]:
        sel = self._state.selection
        if sel.node_kind != "roi":
            return None
        rows = np.flatnonzero(self._node_index == sel.node_index)
        return int(rows[0]) if len(rows) else None

    def _group_ticks(self) -> List[Tuple[float, str]]:
        """Bottom-axis ticks, one per network group: the full name where it fits, else its short form."""
        vb = self._heat.getPlotItem().getViewBox()
        (x0, x1), _ = vb.viewRange()
        col_px = vb.width() / (x1 - x0) if x1 > x0 and vb.width() > 0 else 0.0
        ticks = []
        for name, start, stop in self._groups:
            room = (stop - start) * col_px
            short = short_network_name(name)
            # Too narrow even for the short form: no label (hovering a cell names the network). A
            # character's room is kept free, so that the labels of neighbouring groups do not run together.
            label = name if room >= CHAR_PX * (len(name) + 1) else short if room >= CHAR_PX * (len(short) + 1) else ""
            ticks.append(((start + stop) / 2, label))
        return ticks

    def bottom_tick_labels(self) -> List[str]:
        """Labels on the bottom axis now (network groups, or ROI indices)."""
        return list(self._bottom_labels)

    def _set_bottom_ticks(self, ticks) -> None:
        self._bottom_labels = [label for _pos, label in ticks]
        self._heat.getPlotItem().getAxis("bottom").setTicks([ticks, []])

    def _relabel_groups(self) -> None:
        if self._groups and self._stack.currentIndex() == 1:
            self._set_bottom_ticks(self._group_ticks())

    def _draw_selection(self) -> None:
        if self._stack.currentIndex() == 0 or self._state.results is None:
            return
        n_b, n = len(self._bands), len(self._node_index)
        band = self._state.selection.band
        b = self._bands.index(band) if band in self._bands else None
        if b is not None:
            for item in (self._band_halo, self._band_box):
                item.setData([0, n, n, 0, 0], [b, b, b + 1, b + 1, b])
        else:
            for item in (self._band_halo, self._band_box):
                item.setData([], [])
        node = self._selected_node()
        if node is not None:
            c = int(np.flatnonzero(self._order == node)[0])
            self._roi_box.setData([c, c + 1, c + 1, c, c], [0, 0, n_b, n_b, 0])
        else:
            self._roi_box.setData([], [])
        sel = self._state.selection
        rows = np.flatnonzero(self._lag_index == sel.node_index) if sel.node_kind == "roi" else []
        strongest = None
        if sel.node_kind != "roi":
            # Nothing chosen yet: show the strongest lagged coupling rather than an empty plot.
            strongest = self.strongest_lag_node(b)
        self._draw_lags(int(rows[0]) if len(rows) else strongest, b, chosen=strongest is None)

    def strongest_lag_node(self, band: Optional[int]) -> Optional[int]:
        """Node (index into ``node_index``) with the largest peak |lagged r| in ``band`` (all bands if None)."""
        corr = self._lag_array("lagged_corr") if self._state.results is not None else None
        if corr is None or not len(self._lag_index):
            return None
        peak = np.abs(np.asarray(corr, dtype=float))
        peak = peak[band] if band is not None and band < len(peak) else peak.max(axis=0)
        peak = np.nan_to_num(peak.max(axis=-1), nan=-1.0)
        return int(np.argmax(peak)) if peak.max() >= 0 else None

    def _draw_lags(self, node: Optional[int], band: Optional[int], chosen: bool = True) -> None:
        lp = self._lags.getPlotItem()
        for item in self._curves + self._peaks:
            lp.removeItem(item)
        self._key = None
        self._lag_key.setText("")
        self._curves, self._peaks = [], []
        results = self._state.results
        sel = self._state.selection
        corr = self._lag_array("lagged_corr")
        lags = results.get("coupling", "lags_s")
        if corr is None or lags is None:
            self._lag_title.setText("These results have no lagged correlations (coupling.npz: lagged_corr).")
            return
        if node is None:
            if sel.node_kind == "roi":
                self._lag_title.setText(
                    f"{roi_name(self._state.results, sel.node_index)} is not one of the {len(self._lag_index)} "
                    "phase-2 ROIs: click a column above to see its lagged correlations.")
            else:
                self._lag_title.setText("Select a ROI (click a column above) to see its lagged correlations.")
            return
        lags = np.asarray(lags, dtype=float)
        peak_lag = self._lag_array("peak_lag_s")
        p_value = self._lag_array("p_value")
        p_fwe = self._lag_array("p_value_fwer")
        rows = []
        for k, name in enumerate(self._bands):
            r = np.asarray(corr[k, node], dtype=float)
            rgb = view_color(name, k)
            width = 4.0 if k == band else 1.8
            if peak_lag is not None:
                lag_k = float(peak_lag[k, node])
                i = int(np.argmin(np.abs(lags - lag_k)))
            else:
                i = int(np.nanargmax(np.abs(r)))
                lag_k = float(lags[i])
            label = f"{name} r {r[i]:+.2f} at {lag_k:+.0f} s"
            if p_value is not None:
                label += f", p {self.p_text(p_value[k, node])}"
            if p_fwe is not None:
                label += f", FWE {self.p_text(p_fwe[k, node])}"
            curve = pg.PlotDataItem(lags, r, pen=pg.mkPen(rgb, width=width), name=label, antialias=True)
            cells = [f"{r[i]:+.2f}", f"{lag_k:+.0f}\u00a0s"]
            cells += [self.p_text(a[k, node]) for a in (p_value, p_fwe) if a is not None]
            rows.append((name, rgb, k == band, cells))
            lp.addItem(curve)
            peak = pg.ScatterPlotItem(x=[lag_k], y=[r[i]], symbol="o", size=12,
                                      brush=pg.mkBrush(*rgb), pen=pg.mkPen((0, 0, 0), width=1.5))
            peak.setZValue(5)
            lp.addItem(peak)
            self._curves.append(curve)
            self._peaks.append(peak)
        n_perm = results.get("coupling", "n_permutations")
        # bundles written before the circular-shift null was added used shuffled blocks
        null = str(results.config.get("coupling", {}).get("null", "blocks"))
        surrogate = {"shift": "circular shifts", "blocks": "block permutations"}.get(null, null)
        perm = f" (p: {int(n_perm)} {surrogate}" if n_perm is not None else " ("
        tip = ("r: correlation of the HRF-convolved EEG band power at the ROI with the BOLD shifted by the lag, "
               "at the lag of the largest |r|.")
        if n_perm is not None:
            tip += (f" p: permutation p-value of that peak (the search over lags included) against "
                    f"{int(n_perm)} surrogate BOLD series ({surrogate}, which keep its autocorrelation).")
        if p_fwe is not None:
            perm += f"; FWE over {corr.shape[0]} \u00d7 {corr.shape[1]} tests"
            tip += (f" FWE: the p-value corrected for all {corr.shape[0]} bands \u00d7 {corr.shape[1]} ROIs "
                    "tested, by the maximum statistic over the same permutations; read it when scanning "
                    "the whole brain.")
        perm += ")"
        footer = perm.strip()[1:-1] if perm != " ()" else ""
        header = ["r", "lag"] + [h for h, a in (("p", p_value), ("FWE", p_fwe)) if a is not None]
        self._key = (header, rows, footer)
        self._render_key()
        self._lag_key.setToolTip(tip)
        roi = int(self._lag_index[node])
        which = "" if chosen else " \u2014 the strongest coupling; click a column to choose"
        what = "Lagged correlation beyond the task" if self._task_removed() else "Lagged correlation"
        link = (f' \u2014 <a href="over-time">{OVER_TIME_VIEW.lower()}</a>'
                if self._state.results.has("timecourses") else "")
        n_rec = len((self._state.results.dataset or {}).get("recordings", []) or [])
        # the r of one recording (Coupling over time) differs from this pooled one: say which this is
        pooled = f" ({n_rec} recordings pooled)" if n_rec > 1 else ""
        self._lag_title.setText(f"<b>{what}</b>{pooled}, {roi_label(self._state.results, roi)}{which}{link}")
        tip = ("Correlation of the HRF-convolved EEG band power at the ROI with its BOLD, over lags of the BOLD "
               "after the EEG")
        if self._task_removed():
            tip += (", after removing from both the expected response to each class's blocks ([coupling] "
                    "remove_task): the coupling beyond what the task drives in both")
        self._lag_title.setToolTip(tip)

    # -- hover and clicks -------------------------------------------------------------
    def _cell_at(self, scene_pos) -> Optional[Tuple[int, int]]:
        vb = self._heat.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        c, b = int(np.floor(p.x())), int(np.floor(p.y()))
        return (b, c) if 0 <= b < len(self._bands) and 0 <= c < len(self._order) else None

    def _on_moved(self, scene_pos) -> None:
        if self._stack.currentIndex() == 0:
            return
        cell = self._cell_at(scene_pos)
        self._hover = self.value_text(*cell) if cell is not None else ""
        self._heat.setToolTip(self._hover)

    def _on_clicked(self, ev) -> None:
        if self._stack.currentIndex() == 0:
            return
        cell = self._cell_at(ev.scenePos())
        if cell is None:
            return
        b, c = cell
        self._state.set_band(self._bands[b])
        self._state.select_node("roi", int(self._node_index[self._order[c]]))


def _key_table(header: List[str], rows, footer: str) -> str:
    """Rich-text table of the lag curves' peaks: one row per band, its colour and short name first.

    ``rows`` holds (band name, rgb, selected, cells); the selected band is bold.
    A table fits beside a short plot where sentences would wrap to many lines.
    """
    pad = "style='padding: 0 6px 0 0;'"
    head = "".join(f"<th align='right' {pad}>{h}</th>" for h in header)
    body = []
    for name, rgb, selected, cells in rows:
        colour = "rgb({},{},{})".format(*(int(v) for v in rgb[:3]))
        bold = (lambda t: f"<b>{t}</b>") if selected else (lambda t: t)
        # nowrap: a cell ("+0 s", "\u2264 0.005") broken over two lines reads as two values
        body.append(f"<tr><td nowrap {pad}><span style='color:{colour}'>\u25a0</span>&nbsp;"
                    f"{bold(short_view_name(name))}</td>"
                    + "".join(f"<td nowrap align='right' {pad}>{bold(c)}</td>" for c in cells) + "</tr>")
    foot = f"<br><small>{footer}</small>" if footer else ""
    return f"<table cellspacing='0'><tr><th></th>{head}</tr>{''.join(body)}</table>{foot}"
