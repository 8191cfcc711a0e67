"""Cross-view attention and fusion weights.

Left: the M×M cross-view attention (eqs. 17–20) as a heatmap, rows = the view
that attends (query), columns = the view attended to (key); each row sums to
one. It is shown for the selected ROI when that ROI is a phase-2 node, else
averaged over all nodes; one head or the mean over heads. Right: the fusion
weights ω_v (eqs. 21–22) as bars, global and for the selected node. Clicking a
row, column or bar of an EEG band selects that band.

The view names along the axes are written in full where they fit; in a narrow
dock the EEG bands become their Greek letters (δ θ α β γ) and fmri becomes
"fMRI", and if even those would overlap some labels are left out (the tick
marks stay, and hovering a cell names its views).

In compare mode (``state.compare`` holds fusion weights of two bundles) the
bars show the global ω of session A (grey) and session B (coloured) side by
side, and a third plot shows the change B − A per view (red up, blue down).
"""

from __future__ import annotations

import math
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from eegfmri_viewer.views.axes_plot import axes_plot
from eegfmri_viewer.views.bundle_needs import missing_message
from eegfmri_viewer.views.message_stack import message_stack
from eegfmri_viewer.views.roi_names import roi_label, roi_name
from eegfmri_viewer.views.view_colors import view_color
from eegfmri_viewer.views.view_names import display_order, short_view_name, view_label

MEAN_HEADS = "mean over heads"
SCOPE_SELECTED = "selected node (else mean)"
SCOPE_MEAN = "mean over nodes"
#: Narrowest heatmap cell (pixels) that still gets its value written in it.
MIN_CELL_TEXT_PX = 30.0
#: Least empty space (pixels) between two neighbouring tick labels.
TICK_GAP_PX = 4.0
#: How far (pixels) pyqtgraph lets a tick label run past the end of its axis once
#: ``hideOverlappingLabels`` is off; further out it drops the label (and the plot's
#: edge may be nearer still).
AXIS_END_OVERFLOW_PX = 15.0
#: Extra room (pixels per tick) wanted before switching back to the wider labels, so that
#: the axis growing with them cannot make the choice flip back and forth.
WIDER_LABELS_MARGIN_PX = 3.0


def fitting_tick_labels(forms: Sequence[Sequence[str]], spacing_px: float, extent: Callable[[str], float],
                        end_room_px: Tuple[float, float] = (math.inf, math.inf),
                        gap_px: float = TICK_GAP_PX) -> List[str]:
    """Labels for equally spaced ticks that do not overlap on screen.

    The first of ``forms`` whose labels all fit is returned. When none fits,
    labels of the last form are kept longest first (they say the most and are
    the hardest to guess from their neighbours), each only if it clears the
    labels kept so far; the others become ``""``. Equally long labels thus
    thin out to every second, third, ... tick.

    Parameters
    ----------
    forms : sequence of sequences of str
        Candidate label lists, widest first (e.g. full names, then short names);
        each holds one label per tick, in axis order.
    spacing_px : float
        Distance between neighbouring ticks on screen.
    extent : callable
        Size of a label along the axis in pixels (its width on a horizontal
        axis, the line height on a vertical one).
    end_room_px : tuple of float
        Room before the first tick and after the last one (to the axis ends,
        plus what the plot leaves beyond them); no label may reach further.
    gap_px : float
        Empty space kept between neighbouring labels.

    Returns
    -------
    labels : list of str
        One label per tick; ``""`` where a label is left out.
    """
    forms = [[str(s) for s in form] for form in forms]
    n = len(forms[0])

    def clear(kept: List[int], k: int, size: List[float]) -> bool:
        before, after = end_room_px
        if size[k] / 2 > min(before + k * spacing_px, after + (n - 1 - k) * spacing_px):
            return False
        return all((size[j] + size[k]) / 2 + gap_px <= abs(k - j) * spacing_px for j in kept)

    for form in forms:
        size = [float(extent(s)) for s in form]
        kept: List[int] = []
        for k in range(n):
            if not clear(kept, k, size):
                break
            kept.append(k)
        else:
            return form
    labels = [""] * n
    kept = []
    for k in sorted(range(n), key=lambda k: (-size[k], -len(form[k]), k)):
        if clear(kept, k, size):
            kept.append(k)
            labels[k] = form[k]
    return labels


def _fixed_plot(left_label: str, tick_font: QFont) -> pg.PlotWidget:
    """A white plot without menu, buttons or mouse panning (the bar charts)."""
    widget = axes_plot(tick_font)
    item = widget.getPlotItem()
    item.setMouseEnabled(False, False)
    _end_labels_may_overflow(item)
    # Room right of the last bar for its label ("fMRI") to run past the axis end.
    item.layout.setContentsMargins(1, 1, AXIS_END_OVERFLOW_PX, 1)
    item.setLabel("left", left_label)
    return widget


def _end_labels_may_overflow(plot_item: pg.PlotItem) -> None:
    # The end labels sit half a cell from the axis ends; let them run a little past the
    # ends rather than pyqtgraph dropping them.
    plot_item.getAxis("bottom").setStyle(hideOverlappingLabels=False)


class AttentionView(QWidget):
    """Heatmap of cross-view attention and bars of the fusion weights.

    Parameters
    ----------
    state : AppState
        Reads ``results`` (fusion.npz) and the selected ROI; a click on a band's
        row, column or bar selects that band.
    parent : QWidget, optional
    """

    def __init__(self, state, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self._state = state
        self._views: List[str] = []
        self._order: List[int] = []  # bundle position of each view shown
        self._matrix = np.zeros((0, 0))
        self._row: Optional[int] = None
        self._tick_font = QFont(self.font())
        # Labels set on each axis, to set them again only when they change.
        self._axis_labels = {}

        self._message = QLabel()
        self._message.setWordWrap(True)
        self._message.setAlignment(Qt.AlignCenter)
        self._scope = QComboBox()
        self._scope.addItems([SCOPE_SELECTED, SCOPE_MEAN])
        self._head = QComboBox()
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Nodes"))
        controls.addWidget(self._scope)
        controls.addWidget(QLabel("Head"))
        controls.addWidget(self._head)
        controls.addStretch(1)

        # The labels are measured with this font to decide which ones fit.
        self._heat = axes_plot(self._tick_font)
        hp = self._heat.getPlotItem()
        hp.setMouseEnabled(False, False)
        hp.invertY(True)
        hp.setAspectLocked(True)
        _end_labels_may_overflow(hp)
        hp.setLabel("left", "query view (attends)")
        hp.setLabel("bottom", "key view (attended to)")
        self._image = pg.ImageItem()
        hp.addItem(self._image)
        self._cmap = pg.colormap.get("viridis")
        self._colorbar = pg.ColorBarItem(values=(0, 1), colorMap=self._cmap, interactive=False, width=14)
        self._colorbar.setImageItem(self._image, insert_in=hp)
        self._cell_texts: List[pg.TextItem] = []
        self._band_box = pg.PlotCurveItem(pen=pg.mkPen((230, 60, 40), width=3))
        hp.addItem(self._band_box)

        self._bars = _fixed_plot("fusion weight \u03c9", self._tick_font)
        bp = self._bars.getPlotItem()
        self._bar_global = pg.BarGraphItem(x=[], height=[], width=0.38)
        self._bar_node = pg.BarGraphItem(x=[], height=[], width=0.38)
        bp.addItem(self._bar_global)
        bp.addItem(self._bar_node)

        self._diff = _fixed_plot("\u0394\u03c9 (B \u2212 A)", self._tick_font)
        dp = self._diff.getPlotItem()
        dp.addLine(y=0, pen=pg.mkPen((120, 120, 120)))
        self._bar_diff = pg.BarGraphItem(x=[], height=[], width=0.6)
        dp.addItem(self._bar_diff)
        self._diff_title = QLabel()
        self._diff_title.setWordWrap(True)

        self._heat_title = QLabel()
        self._heat_title.setWordWrap(True)
        self._bars_title = QLabel()
        self._bars_title.setWordWrap(True)
        self._hover = QLabel(" ")
        self._note = QLabel()
        self._note.setWordWrap(True)
        plots = QHBoxLayout()
        self._diff_column = QWidget()
        for title, plot, stretch in ((self._heat_title, self._heat, 3), (self._bars_title, self._bars, 2),
                                     (self._diff_title, self._diff, 2)):
            holder = self._diff_column if plot is self._diff else QWidget()
            column = QVBoxLayout(holder)
            column.setContentsMargins(0, 0, 0, 0)
            column.addWidget(title)
            column.addWidget(plot, 1)
            plots.addWidget(holder, stretch)
        self._diff_column.setVisible(False)
        content = QWidget()
        box = QVBoxLayout(content)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(controls)
        box.addLayout(plots, 1)
        box.addWidget(self._hover)
        box.addWidget(self._note)
        self._stack = message_stack(self, self._message, content)

        self._scope.currentIndexChanged.connect(lambda _i: self.redraw())
        self._head.currentIndexChanged.connect(lambda _i: self.redraw())
        self._heat.scene().sigMouseMoved.connect(self._on_heat_moved)
        self._heat.getPlotItem().getViewBox().sigResized.connect(lambda _vb: self._fit_cell_texts())
        self._heat.getPlotItem().getViewBox().sigResized.connect(lambda _vb: self._fit_heat_labels())
        for plot in (self._bars, self._diff):
            plot.getPlotItem().getViewBox().sigResized.connect(lambda _vb, p=plot: self._fit_bar_labels(p))
        self._heat.scene().sigMouseClicked.connect(self._on_heat_clicked)
        self._bars.scene().sigMouseClicked.connect(self._on_bars_clicked)
        state.resultsChanged.connect(lambda _r: self.reload())
        state.compareChanged.connect(lambda _c: self.reload())
        state.nodeChanged.connect(lambda _k, _i: self.redraw())
        state.bandChanged.connect(lambda _b: self._draw_band_box())
        self.reload()

    # -- public helpers (also used by tests) ----------------------------------
    @property
    def message(self) -> Optional[str]:
        """The sentence shown instead of the plots, or ``None`` when they are shown."""
        return self._message.text() if self._stack.currentIndex() == 0 else None

    @property
    def heatmap_widget(self) -> pg.PlotWidget:
        """The plot holding the attention heatmap."""
        return self._heat

    @property
    def bars_widget(self) -> pg.PlotWidget:
        """The plot holding the fusion-weight bars."""
        return self._bars

    @property
    def views(self) -> List[str]:
        """View names along both heatmap axes and the bars."""
        return list(self._views)

    @property
    def head_combo(self) -> QComboBox:
        """Head selector; item 0 is the mean over heads."""
        return self._head

    @property
    def scope_combo(self) -> QComboBox:
        """Selected node (else mean) or mean over nodes."""
        return self._scope

    @property
    def hover_text(self) -> str:
        """Text of the heatmap cell under the mouse (blank when none)."""
        return self._hover.text()

    def band_frame(self) -> np.ndarray:
        """Outline around the selected band's row and column, shape (n_points, 2); empty when none."""
        x, y = self._band_box.getData()
        return np.zeros((0, 2)) if x is None or len(x) == 0 else np.column_stack([x, y])

    @property
    def matrix(self) -> np.ndarray:
        """The attention matrix shown, shape (n_views, n_views), rows = query views."""
        return self._matrix.copy()

    @property
    def node_row(self) -> Optional[int]:
        """Row of fusion.npz's node axis shown, or ``None`` for the mean over nodes."""
        return self._row

    @property
    def title(self) -> str:
        """Title of the heatmap (says which node and head)."""
        return self._heat_title.text()

    def node_weights(self) -> Optional[np.ndarray]:
        """Fusion weights ω of the node shown, shape (n_views,), or ``None`` for none."""
        heights = self._bar_node.opts.get("height")
        return None if heights is None or len(heights) == 0 else np.asarray(heights, dtype=float)

    @property
    def diff_widget(self) -> pg.PlotWidget:
        """The plot of the fusion-weight change B − A (visible in compare mode)."""
        return self._diff

    def compare_mode(self) -> bool:
        """True while the comparison's fusion weights are shown."""
        compare = self._state.compare
        return compare is not None and "fusion_global_a" in compare.arrays and self._stack.currentIndex() == 1

    def bar_heights(self) -> dict:
        """Heights drawn: ``{"global" or "a": ..., "node" or "b": ..., "diff": ...}``, each (n_views,).

        Normal mode: ``global`` (grey) and ``node`` (coloured, may be empty);
        compare mode: ``a``, ``b`` and ``diff``.
        """
        def heights(item):
            h = item.opts.get("height")
            return np.zeros(0) if h is None else np.asarray(h, dtype=float)

        if self.compare_mode():
            return {"a": heights(self._bar_global), "b": heights(self._bar_node), "diff": heights(self._bar_diff)}
        return {"global": heights(self._bar_global), "node": heights(self._bar_node)}

    def value_text(self, row: int, col: int) -> str:
        """Hover text of heatmap cell (``row`` = query view, ``col`` = key view)."""
        return (f"{self._views[row]} attends to {self._views[col]}: {self._matrix[row, col]:.3f} "
                f"(row sums to {self._matrix[row].sum():.2f})")

    def cell_center(self, row: int, col: int) -> QPointF:
        """Heatmap cell centre in plot coordinates (for tests and tooltips)."""
        return QPointF(col + 0.5, row + 0.5)

    # -- state -> view ------------------------------------------------------------
    def reload(self) -> None:
        """Re-read fusion.npz from ``state.results`` and redraw."""
        results = self._state.results
        text = missing_message(results, phase2=("fusion",))
        if text is None and not results.has("fusion", "cross_view_attention"):
            text = "fusion.npz has no cross_view_attention; re-run the analysis with phase 2 enabled."
        if text is not None:
            self._message.setText(text)
            self._stack.setCurrentIndex(0)
            self._matrix = np.zeros((0, 0))
            return
        self._stack.setCurrentIndex(1)
        att = results.get("fusion", "cross_view_attention")
        bundle_views = [str(v) for v in results.get("fusion", "views")]
        # shown in the analysis's band order, as in the other views; the bundle keeps the paper's order
        self._order = display_order(bundle_views, results.bands)
        self._views = [bundle_views[k] for k in self._order]
        n_heads = att.shape[1]
        self._head.blockSignals(True)
        self._head.clear()
        self._head.addItems([MEAN_HEADS] + [f"head {h + 1}" for h in range(n_heads)])
        self._head.blockSignals(False)
        m = len(self._views)
        hp = self._heat.getPlotItem()
        hp.setRange(xRange=(0, m), yRange=(0, m), padding=0.02)
        self._axis_labels = {}
        self._fit_heat_labels()
        for item in self._cell_texts:
            hp.removeItem(item)
        self._cell_texts = []
        for r in range(m):
            for c in range(m):
                item = pg.TextItem("", anchor=(0.5, 0.5))
                item.setPos(c + 0.5, r + 0.5)
                hp.addItem(item)
                self._cell_texts.append(item)
        self._fit_cell_texts()
        bp = self._bars.getPlotItem()
        gw = self._fusion("fusion_weights_global", np.full(m, np.nan))
        self._bar_global.setOpts(x=np.arange(m) - 0.2, height=gw, width=0.38,
                                 brushes=[pg.mkBrush(170, 170, 170)] * m, pens=[pg.mkPen((90, 90, 90))] * m)
        top = np.nanmax(np.concatenate([gw, self._fusion("fusion_weights", gw[None]).ravel()]))
        bp.setRange(xRange=(-0.7, m - 0.3), yRange=(0, 1.08 * top if top > 0 else 1.0), padding=0)
        self._fit_bar_labels(self._bars)
        self.redraw()

    def _fusion(self, key: str, default=None) -> Optional[np.ndarray]:
        """``fusion.npz`` array ``key`` with its view axes in the order shown (:attr:`views`)."""
        value = self._state.results.get("fusion", key, default)
        if value is None:
            return None
        value = np.asarray(value, dtype=float)
        if key == "cross_view_attention":  # (n_nodes, heads, query view, key view)
            return value[..., self._order, :][..., self._order]
        if value.shape[-1] == len(self._order):
            return value[..., self._order]
        return value

    def cell_values_shown(self) -> bool:
        """Whether the values are written in the heatmap's cells (only when the cells are wide enough)."""
        return bool(self._cell_texts) and self._cell_texts[0].isVisible()

    def tick_labels(self, plot: pg.PlotWidget, axis: str = "bottom") -> List[str]:
        """Labels set on ``axis`` of ``plot`` (heatmap, bars or diff), one per view; ``""`` = left out."""
        return list(self._axis_labels.get((id(plot), axis), []))

    def _set_labels(self, plot: pg.PlotWidget, axis: str, positions, labels: List[str]) -> None:
        key = (id(plot), axis)
        if self._axis_labels.get(key) == labels:
            return
        self._axis_labels[key] = labels
        plot.getPlotItem().getAxis(axis).setTicks([list(zip(positions, labels)), []])

    @staticmethod
    def _room_beyond_axis(plot: pg.PlotWidget) -> Tuple[float, float]:
        """Pixels a bottom tick label may reach left and right of the plot area before it is cut."""
        rect = plot.getPlotItem().getViewBox().sceneBoundingRect()
        return (min(AXIS_END_OVERFLOW_PX, max(0.0, rect.left())),
                min(AXIS_END_OVERFLOW_PX, max(0.0, plot.viewport().width() - rect.right())))

    def _fit_heat_labels(self) -> None:
        """Full view names along the heatmap's axes where they fit, else short ones, else fewer."""
        m = len(self._views)
        vb = self._heat.getPlotItem().getViewBox()
        if m == 0 or vb.width() <= 0 or vb.height() <= 0:
            return
        fm = QFontMetrics(self._tick_font)
        full = [view_label(v) for v in self._views]
        short = [short_view_name(v) for v in full]
        (x0, x1), (y0, y1) = vb.targetRange()

        def widest(labels):
            return max((fm.horizontalAdvance(s) for s in labels if s), default=0)

        left_now = widest(self.tick_labels(self._heat, "left"))
        beyond = self._room_beyond_axis(self._heat)
        # The left axis is as wide as its widest label and the aspect-locked map gives up
        # that width, so the cell size is estimated for the left labels each choice implies.
        for left_form, bottom_forms in ((full, [full]), (short, [full, short])):
            width = vb.width() + left_now - widest(left_form)
            cell = min(width / (x1 - x0), vb.height() / (y1 - y0))
            if left_form is full and self.tick_labels(self._heat, "left") != full:
                cell -= WIDER_LABELS_MARGIN_PX
            bottom = fitting_tick_labels(bottom_forms, cell, fm.horizontalAdvance,
                                         ((0.5 - x0) * cell + beyond[0], (x1 - m + 0.5) * cell + beyond[1]))
            if bottom == bottom_forms[-1] or left_form is short:
                break
        rows_room = ((0.5 - y0) * cell + AXIS_END_OVERFLOW_PX, (y1 - m + 0.5) * cell + AXIS_END_OVERFLOW_PX)
        left = fitting_tick_labels([left_form], cell, lambda _s: fm.height(), rows_room)
        centres = [k + 0.5 for k in range(m)]
        self._set_labels(self._heat, "bottom", centres, bottom)
        self._set_labels(self._heat, "left", centres, left)

    def _fit_bar_labels(self, plot: pg.PlotWidget) -> None:
        """Full view names under the bars where they fit, else short ones, else fewer."""
        m = len(self._views)
        vb = plot.getPlotItem().getViewBox()
        if m == 0 or vb.width() <= 0:
            return
        fm = QFontMetrics(self._tick_font)
        full = [view_label(v) for v in self._views]
        # The bars' x range is fixed at (-0.7, m - 0.3): one view per unit.
        spacing = vb.width() / m
        beyond = self._room_beyond_axis(plot)
        labels = fitting_tick_labels([full, [short_view_name(v) for v in full]], spacing, fm.horizontalAdvance,
                                     (0.7 * spacing + beyond[0], 0.3 * spacing + beyond[1]))
        self._set_labels(plot, "bottom", list(range(m)), labels)

    def _fit_cell_texts(self) -> None:
        # "0.19" needs about 30 px; in a narrow dock the colours (and the hover) carry the values.
        vb = self._heat.getPlotItem().getViewBox()
        (x0, x1), _ = vb.viewRange()
        cell_px = vb.width() / (x1 - x0) if x1 > x0 else 0.0
        for item in self._cell_texts:
            item.setVisible(bool(cell_px >= MIN_CELL_TEXT_PX))

    def _node_row(self) -> Optional[int]:
        sel = self._state.selection
        if self._scope.currentText() != SCOPE_SELECTED or sel.node_kind != "roi":
            return None
        rows = np.flatnonzero(np.asarray(self._state.results.get("fusion", "node_index")) == sel.node_index)
        return int(rows[0]) if len(rows) else None

    def redraw(self) -> None:
        """Redraw heatmap and bars for the current node, head and band."""
        results = self._state.results
        if results is None or self._stack.currentIndex() == 0:
            return
        att = self._fusion("cross_view_attention")
        node_index = np.asarray(results.get("fusion", "node_index"))
        self._row = self._node_row()
        head = self._head.currentIndex()
        per_node = att[:, head - 1] if head > 0 else att.mean(axis=1)
        self._matrix = per_node[self._row] if self._row is not None else per_node.mean(axis=0)
        self._image.setImage(self._matrix.T, autoLevels=False)
        self._image.setRect(0, 0, len(self._views), len(self._views))
        top = float(np.nanmax(self._matrix)) if self._matrix.size else 1.0
        self._colorbar.setLevels((0.0, top if top > 0 else 1.0))
        for k, item in enumerate(self._cell_texts):
            r, c = divmod(k, len(self._views))
            value = self._matrix[r, c]
            item.setText(f"{value:.2f}")
            # Light text on the dark end of viridis, dark text on the bright end.
            item.setColor((255, 255, 255) if value < 0.55 * top else (0, 0, 0))
        head_text = self._head.currentText()
        if self._row is not None:
            roi = int(node_index[self._row])
            where = roi_label(self._state.results, roi)
        else:
            where = f"mean over {att.shape[0]} nodes"
        self._heat_title.setText(f"<b>Cross-view attention</b>: {where}, {head_text}")
        weights = self._fusion("fusion_weights")
        m = len(self._views)
        if self._row is not None and weights is not None:
            colors = [view_color(v, k) for k, v in enumerate(self._views)]
            self._bar_node.setOpts(x=np.arange(m) + 0.2, height=np.asarray(weights[self._row], dtype=float),
                                   width=0.38, brushes=[pg.mkBrush(*c) for c in colors],
                                   pens=[pg.mkPen((40, 40, 40))] * m)
            bar_title = ("<b>Fusion weights \u03c9</b>: global (grey) and "
                         f"{roi_name(self._state.results, int(node_index[self._row]))} (coloured)")
        else:
            self._bar_node.setOpts(x=[], height=[], width=0.38)
            bar_title = "<b>Fusion weights \u03c9</b>: global (grey)"
        self._bars_title.setText(bar_title)
        self._draw_compare()
        sel = self._state.selection
        if self._row is None and sel.node_kind == "roi" and self._scope.currentText() == SCOPE_SELECTED:
            note = (f"{roi_name(self._state.results, sel.node_index)} is not a phase-2 node: "
                    "showing the mean over nodes. ")
        else:
            note = ""
        self._note.setText(note + "Rows sum to one (softmax over key views). Click a band's row, column or bar "
                           "to select that band.")
        self._draw_band_box()

    def _draw_compare(self) -> None:
        """Session A and B fusion weights side by side and their change (compare mode)."""
        compare = self._state.compare
        on = self.compare_mode()
        self._diff_column.setVisible(on)
        if compare is not None and not on:
            self._bars_title.setText(self._bars_title.text() + "<br>The comparison has no fusion weights "
                                     "(two sessions of one bundle share one phase-2 model).")
        if not on:
            return
        self._heat_title.setText(self._heat_title.text() + " (session A)")
        arrays = compare.arrays
        views = [str(v) for v in arrays.get("views", self._views)]
        m = len(self._views)
        # The compare arrays follow their own view order; draw them in this view's order.
        order = [views.index(v) for v in self._views]
        a = np.asarray(arrays["fusion_global_a"], dtype=float)[order]
        b = np.asarray(arrays["fusion_global_b"], dtype=float)[order]
        diff = np.asarray(arrays["fusion_global_diff"], dtype=float)[order]
        scope = "global"
        roi = self._compare_roi(arrays)
        if roi is not None:
            # the selected ROI's own weights, when it is a phase-2 node of both sessions
            a, b = (np.asarray(arrays[k][roi], dtype=float)[order] for k in ("fusion_a", "fusion_b"))
            diff = b - a
            scope = roi_name(self._state.results, roi)
        colors = [view_color(v, k) for k, v in enumerate(self._views)]
        self._bar_global.setOpts(x=np.arange(m) - 0.2, height=a, width=0.38,
                                 brushes=[pg.mkBrush(170, 170, 170)] * m, pens=[pg.mkPen((90, 90, 90))] * m)
        self._bar_node.setOpts(x=np.arange(m) + 0.2, height=b, width=0.38,
                               brushes=[pg.mkBrush(*c) for c in colors], pens=[pg.mkPen((40, 40, 40))] * m)
        top = float(np.nanmax(np.concatenate([a, b]))) if m else 1.0
        self._bars.getPlotItem().setRange(xRange=(-0.7, m - 0.3), yRange=(0, 1.08 * top if top > 0 else 1.0), padding=0)
        self._bars_title.setText(f"<b>Fusion weights \u03c9</b> ({scope}): A {compare.meta.get('a', '')} (grey), "
                                 f"B {compare.meta.get('b', '')} (coloured)")
        brushes = [pg.mkBrush(200, 60, 50) if d >= 0 else pg.mkBrush(50, 90, 200) for d in np.nan_to_num(diff)]
        self._bar_diff.setOpts(x=np.arange(m), height=diff, width=0.6, brushes=brushes,
                               pens=[pg.mkPen((40, 40, 40))] * m)
        dp = self._diff.getPlotItem()
        lim = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 0.0
        lim = lim if lim > 0 else 0.05
        dp.setRange(xRange=(-0.7, m - 0.3), yRange=(-1.1 * lim, 1.1 * lim), padding=0)
        self._fit_bar_labels(self._diff)
        self._diff_title.setText(f"<b>Change of \u03c9</b> ({scope}), B \u2212 A (red: more weight after)")

    def _compare_roi(self, arrays) -> Optional[int]:
        """The selected ROI if both sessions have fusion weights for it, else None."""
        sel = self._state.selection
        if sel.node_kind != "roi" or sel.node_index is None or "fusion_a" not in arrays or "fusion_b" not in arrays:
            return None
        roi = int(sel.node_index)
        fa, fb = np.asarray(arrays["fusion_a"]), np.asarray(arrays["fusion_b"])
        if roi >= len(fa) or not (np.isfinite(fa[roi]).all() and np.isfinite(fb[roi]).all()):
            return None
        return roi

    def _draw_band_box(self) -> None:
        if self._stack.currentIndex() == 0 or not self._views:
            return
        band = self._state.selection.band
        if band in self._views:
            k = self._views.index(band)
            m = len(self._views)
            # Frame the band's row and column: where it attends and where it is attended.
            xs = [0, m, m, k + 1, k + 1, k, k, 0, 0]
            ys = [k, k, k + 1, k + 1, m, m, k + 1, k + 1, k]
            self._band_box.setData(xs, ys)
        else:
            self._band_box.setData([], [])

    # -- hover and clicks -------------------------------------------------------------
    def _cell_at(self, scene_pos) -> Optional[Tuple[int, int]]:
        vb = self._heat.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        c, r = int(np.floor(p.x())), int(np.floor(p.y()))
        m = len(self._views)
        return (r, c) if 0 <= r < m and 0 <= c < m else None

    def _on_heat_moved(self, scene_pos) -> None:
        if self._stack.currentIndex() == 0:
            return
        cell = self._cell_at(scene_pos)
        text = self.value_text(*cell) if cell is not None else " "
        self._hover.setText(text)
        self._heat.setToolTip(text if cell is not None else "")

    def _select_view_band(self, k: int) -> None:
        view = self._views[k]
        if self._state.results is not None and view in self._state.results.bands:
            self._state.set_band(view)

    def _on_heat_clicked(self, ev) -> None:
        if self._stack.currentIndex() == 0:
            return
        cell = self._cell_at(ev.scenePos())
        if cell is None:
            return
        r, c = cell
        # A band's cell with another view: the EEG band of the pair is meant.
        k = c if self._views[r] not in self._state.results.bands else r
        self._select_view_band(k)

    def _on_bars_clicked(self, ev) -> None:
        if self._stack.currentIndex() == 0:
            return
        vb = self._bars.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        k = int(round(vb.mapSceneToView(ev.scenePos()).x()))
        if 0 <= k < len(self._views):
            self._select_view_band(k)
