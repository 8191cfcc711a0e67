"""Electrode graph: the EEG montage on a 2-D head, nodes by CAM, edges by GAT attention.

Node colour and size follow the selected band's class activation map (CAM) for
the selected class; edges follow the band's GAT attention coefficients α_ij
(width and opacity grow with the weight from the weakest to the strongest edge
shown; the slider hides the weakest edges, by default all but the strongest
quarter, since attention spread over every neighbour would otherwise cover the
head). When the results have no GAT attention (phase 2 did not run) the electrode
graph's own edges (functional-connectivity weights) are drawn instead, and a note
says so. Nodes and channel names scale with the drawing: in a small dock the
names are left out (hovering a node still names it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from eegfmri_viewer.views.bundle_needs import missing_message
from eegfmri_viewer.views.head_outline import head_outline
from eegfmri_viewer.views.map_plot import map_plot
from eegfmri_viewer.views.message_stack import message_stack
from eegfmri_viewer.views.model_quality import ModelQualityLabel

EDGE_RGB = (25, 55, 130)
N_WIDTH_BINS = 8
MIN_WIDTH, MAX_WIDTH = 0.6, 7.0
MIN_ALPHA, MAX_ALPHA = 70, 255
NODE_MIN_SIZE, NODE_MAX_SIZE = 9.0, 26.0
#: Default of the slider: the weakest 75 % of the edges are hidden.
DEFAULT_HIDDEN_PERCENT = 75
#: Channel names are drawn when neighbouring electrodes are at least this far apart on screen.
LABEL_MIN_SPACING_PX = 30.0
#: The head choice that averages the heads: short, since the combo shares a narrow row with two others.
MEAN_HEADS = "mean"
NODE_PEN = pg.mkPen((40, 40, 40), width=1)
#: Ring of an electrode that was bad in some recordings and rebuilt there from the others.
INTERPOLATED_PEN = pg.mkPen((200, 30, 30), width=2.5, style=Qt.PenStyle.DashLine)


@dataclass
class DrawnEdge:
    """One undirected edge as drawn.

    Attributes
    ----------
    i, j : int
        Channel indices.
    weight : float
        Attention (mean of both directions) or graph weight.
    width : float
        Pen width in pixels.
    alpha : int
        Pen opacity, 0-255.
    """

    i: int
    j: int
    weight: float
    width: float
    alpha: int


def undirected_weights(edge_index, weights):
    """Merge directed edges i→j and j→i into one undirected edge (mean weight).

    GAT attention is directional (α_ij is normalised over i's neighbours); the
    drawing shows one segment per pair, so both directions are averaged.

    Parameters
    ----------
    edge_index : ndarray, shape (2, n_edges)
    weights : ndarray, shape (n_edges,)

    Returns
    -------
    pairs : ndarray, shape (n_pairs, 2)
        ``i < j``.
    pair_weights : ndarray, shape (n_pairs,)
    """
    edge_index = np.asarray(edge_index, dtype=np.int64).reshape(2, -1)
    weights = np.asarray(weights, dtype=float).reshape(-1)
    keep = edge_index[0] != edge_index[1]
    lo = np.minimum(edge_index[0], edge_index[1])[keep]
    hi = np.maximum(edge_index[0], edge_index[1])[keep]
    if lo.size == 0:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    pairs, inverse = np.unique(np.column_stack([lo, hi]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    sums = np.bincount(inverse, weights=weights[keep], minlength=len(pairs))
    counts = np.bincount(inverse, minlength=len(pairs))
    return pairs, sums / np.maximum(counts, 1)


class ElectrodeGraphView(QWidget):
    """Electrodes on a head outline with CAM-coloured nodes and attention edges.

    Parameters
    ----------
    state : AppState
        Shared state: reads ``results`` and the selection, writes the band
        (band selector) and the selected electrode (click on a node).
    parent : QWidget, optional
    """

    def __init__(self, state, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self._state = state
        self._edges: List[DrawnEdge] = []
        self._edge_items: List[pg.PlotCurveItem] = []
        self._cam = np.zeros(0)
        self._cam_range = (0.0, 0.0)
        self._names: List[str] = []
        self._pos = np.zeros((0, 2))
        self._known = np.zeros(0, dtype=bool)
        self._interpolated = np.zeros(0)

        self._message = QLabel()
        self._message.setWordWrap(True)
        self._message.setAlignment(Qt.AlignCenter)

        self._band_combo = QComboBox()
        self._band_combo.setToolTip("EEG band whose CAM and attention are shown")
        self._layer_combo = QComboBox()
        self._layer_combo.setToolTip("GAT layer whose attention is drawn")
        self._head_combo = QComboBox()
        self._head_combo.setToolTip("Attention head, or the mean over heads")
        for combo in (self._band_combo, self._layer_combo, self._head_combo):
            # their entries in full, not cut to the width of the first one
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._threshold = QSlider(Qt.Horizontal)
        self._threshold.setRange(0, 95)
        self._threshold.setValue(DEFAULT_HIDDEN_PERCENT)
        self._threshold.setToolTip("Hide this percentage of the edges, the weakest first")
        self._spacing = 0.0
        self._threshold_label = QLabel()
        controls = QVBoxLayout()
        choices = QHBoxLayout()
        for text, widget in (("Band", self._band_combo), ("Layer", self._layer_combo), ("Head", self._head_combo)):
            choices.addWidget(QLabel(text))
            choices.addWidget(widget)
        choices.addStretch(1)
        # The slider has a row of its own: beside three combo boxes in a docked view it
        # was squeezed to a few pixels.
        hiding = QHBoxLayout()
        hiding.addWidget(QLabel("Hide weakest"))
        hiding.addWidget(self._threshold, 1)
        hiding.addWidget(self._threshold_label)
        controls.addLayout(choices)
        controls.addLayout(hiding)

        self._plot = map_plot()
        self._note = QLabel()
        self._note.setWordWrap(True)

        content = QWidget()
        box = QVBoxLayout(content)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(controls)
        self._quality = ModelQualityLabel(self, compact=True)  # the column is narrow: the graph keeps its room
        box.addWidget(self._quality)
        box.addWidget(self._plot, 1)
        box.addWidget(self._note)
        self._stack = message_stack(self, self._message, content)

        outline_pen = pg.mkPen((90, 90, 90), width=2)
        self._outline_items = [pg.PlotCurveItem(pen=outline_pen, antialias=True) for _ in range(4)]
        for curve in self._outline_items:
            self._plot.addItem(curve)
        for b in range(N_WIDTH_BINS):
            frac = (b + 0.5) / N_WIDTH_BINS
            pen = pg.mkPen((*EDGE_RGB, int(MIN_ALPHA + frac * (MAX_ALPHA - MIN_ALPHA))),
                           width=MIN_WIDTH + frac * (MAX_WIDTH - MIN_WIDTH))
            pen.setCapStyle(Qt.FlatCap)
            curve = pg.PlotCurveItem(pen=pen, connect="pairs", antialias=True)
            self._plot.addItem(curve)
            self._edge_items.append(curve)
        self._nodes = pg.ScatterPlotItem(
            hoverable=True,
            tip=lambda x, y, data: self.hover_text(int(data)),
            hoverPen=pg.mkPen("k", width=2),
        )
        self._nodes.setZValue(10)
        self._nodes.sigClicked.connect(self._on_nodes_clicked)
        self._plot.addItem(self._nodes)
        self._highlight = pg.ScatterPlotItem(brush=None, pen=pg.mkPen((0, 0, 0), width=3), size=NODE_MAX_SIZE + 10)
        self._highlight.setZValue(11)
        self._plot.addItem(self._highlight)
        self._labels: List[pg.TextItem] = []

        self._band_combo.currentTextChanged.connect(self._on_band_combo)
        self._layer_combo.currentIndexChanged.connect(lambda _i: self._draw_edges())
        self._head_combo.currentIndexChanged.connect(lambda _i: self._draw_edges())
        self._threshold.valueChanged.connect(lambda _v: self._draw_edges())
        self._plot.getPlotItem().getViewBox().sigResized.connect(lambda _vb: self._fit_to_size())
        state.resultsChanged.connect(lambda _r: self.reload())
        state.classChanged.connect(lambda _c: (self._draw_nodes(), self._draw_edges()))
        state.bandChanged.connect(lambda _b: self._on_state_band())
        state.nodeChanged.connect(lambda _k, _i: self._draw_highlight())
        self.reload()

    # -- public helpers (also used by tests) ----------------------------------
    @property
    def plot_widget(self) -> pg.PlotWidget:
        """The plot that draws the head, the edges and the electrodes."""
        return self._plot

    @property
    def message(self) -> Optional[str]:
        """The sentence shown instead of the plot, or ``None`` when the plot is shown."""
        return self._message.text() if self._stack.currentIndex() == 0 else None

    @property
    def note(self) -> str:
        """Plain note under the plot (e.g. that graph edges replace attention)."""
        return self._note.text()

    @property
    def drawn_edges(self) -> List[DrawnEdge]:
        """Edges currently drawn (above the threshold), with their pen width and opacity."""
        return list(self._edges)

    @property
    def node_positions(self) -> np.ndarray:
        """Electrode positions in plot coordinates, shape (n_channels, 2); NaN where unknown."""
        return self._pos.copy()

    @property
    def band_combo(self) -> QComboBox:
        """Band selector (writes the shared band)."""
        return self._band_combo

    @property
    def layer_combo(self) -> QComboBox:
        """GAT layer selector."""
        return self._layer_combo

    @property
    def head_combo(self) -> QComboBox:
        """Attention head selector; item 0 is the mean over heads."""
        return self._head_combo

    @property
    def threshold_slider(self) -> QSlider:
        """"Hide weakest": the percentage of edges hidden, the weakest first."""
        return self._threshold

    @property
    def threshold_text(self) -> str:
        """The percentage written beside the slider."""
        return self._threshold_label.text()

    def highlighted_position(self) -> Optional[np.ndarray]:
        """Plot position of the ringed (selected) electrode, shape (2,), or ``None``."""
        if len(self._highlight.data) == 0:
            return None
        return np.array([self._highlight.data["x"][0], self._highlight.data["y"][0]])

    def node_brushes(self) -> List[tuple]:
        """RGBA of every drawn electrode's fill, in channel order."""
        return [tuple(b.color().getRgb()) for b in self._nodes.data["brush"]] if len(self._nodes.data) else []

    def node_ring_styles(self) -> List[Qt.PenStyle]:
        """Pen style of every drawn electrode's ring (dashed: interpolated in some recordings).

        In channel order, electrodes without a position (not drawn) left out.
        """
        return [p.style() for p in self._nodes.data["pen"]] if len(self._nodes.data) else []

    def hover_text(self, index: int) -> str:
        """Tooltip of electrode ``index``: channel name and its CAM values."""
        results = self._state.results
        if results is None or not (0 <= index < len(self._names)):
            return ""
        band = self._current_band()
        cls = self._class_index()
        lines = [self._names[index], f"CAM ({band}, {results.classes[cls]}): {self._cam[index]:.3g}"]
        eeg_cam = results.get("saliency", "eeg_cam")
        b = results.bands.index(band)
        others = ", ".join(f"{c}: {eeg_cam[b, k, index]:.3g}" for k, c in enumerate(results.classes) if k != cls)
        if others:
            lines.append(f"other classes: {others}")
        strongest = [(e.j if e.i == index else e.i, e.weight) for e in self._edges if index in (e.i, e.j)]
        if strongest:
            j, w = max(strongest, key=lambda t: t[1])
            lines.append(f"strongest edge: {self._names[j]} ({w:.3g})")
        if self._interpolated[index] > 0:
            lines.append(f"bad and interpolated in {self._interpolated[index]:.0%} of the recordings")
        return "\n".join(lines)

    # -- state -> view ------------------------------------------------------------
    def reload(self) -> None:
        """Rebuild everything from ``state.results``."""
        results = self._state.results
        text = missing_message(results, eeg=True)
        if text is None and not results.has("saliency", "ch_pos_2d"):
            text = "These results have no 2-D electrode layout (saliency.npz: ch_pos_2d); re-run the analysis."
        if text is not None:
            self._message.setText(text)
            self._stack.setCurrentIndex(0)
            self._nodes.setData([])
            self._edges = []
            return
        self._stack.setCurrentIndex(1)
        self._names = [str(n) for n in results.get("saliency", "electrodes")]
        pos = np.asarray(results.get("saliency", "ch_pos_2d"), dtype=float)
        # Electrodes without a position are left out of the drawing (and said so).
        self._pos = pos
        self._known = np.isfinite(pos).all(axis=1)
        self._interpolated = (np.asarray(results.get("saliency", "electrode_interpolated"), dtype=float)
                              if results.has("saliency", "electrode_interpolated") else np.zeros(len(pos)))
        outline = head_outline(pos)
        for curve, line in zip(self._outline_items, (outline.head, outline.nose, outline.left_ear, outline.right_ear)):
            curve.setData(line[:, 0], line[:, 1])
        for label in self._labels:
            self._plot.removeItem(label)
        self._labels = []
        for name, (x, y) in zip(np.asarray(self._names)[self._known], self._pos[self._known]):
            label = pg.TextItem(name, color=(60, 60, 60), anchor=(0.5, -0.55))
            label.setPos(x, y)
            label.setZValue(12)
            self._plot.addItem(label)
            self._labels.append(label)
        self._band_combo.blockSignals(True)
        self._band_combo.clear()
        self._band_combo.addItems(results.bands)
        self._band_combo.setCurrentText(self._current_band())
        self._band_combo.blockSignals(False)
        pad = outline.radius * 0.25
        self._plot.getPlotItem().setRange(
            xRange=(outline.center[0] - outline.radius - pad, outline.center[0] + outline.radius + pad),
            yRange=(outline.center[1] - outline.radius - pad, outline.center[1] + outline.radius * 1.15 + pad),
            padding=0,
        )
        known = self._pos[self._known]
        if len(known) > 1:
            d = np.linalg.norm(known[:, None] - known[None], axis=-1)
            np.fill_diagonal(d, np.inf)
            self._spacing = float(np.median(d.min(axis=1)))
        self._fill_attention_combos()
        self._fit_to_size()
        self._draw_edges()
        self._draw_highlight()

    def _current_band(self) -> str:
        bands = self._state.results.bands
        band = self._state.selection.band
        return band if band in bands else bands[0]

    def _class_index(self) -> int:
        n = len(self._state.results.classes)
        return min(self._state.selection.class_index, max(n - 1, 0))

    def _attention(self):
        results = self._state.results
        band = self._current_band()
        att = results.get("gat_attention", f"eeg_{band}_attention")
        ei = results.get("gat_attention", f"eeg_{band}_edge_index")
        if att is None or ei is None:
            return None, None
        return np.asarray(ei), np.asarray(att, dtype=float)

    def _fill_attention_combos(self) -> None:
        _ei, att = self._attention()
        n_layers, n_heads = (att.shape[0], att.shape[1]) if att is not None else (0, 0)
        layer, head = self._layer_combo.currentIndex(), self._head_combo.currentIndex()
        old_layers = self._layer_combo.count()
        for combo in (self._layer_combo, self._head_combo):
            combo.blockSignals(True)
            combo.clear()
        self._layer_combo.addItems([f"layer {k + 1}" for k in range(n_layers)])
        self._head_combo.addItems([MEAN_HEADS] + [f"head {h + 1}" for h in range(n_heads)] if n_heads else [])
        # Last layer by default: its attention shapes the embeddings used downstream.
        self._layer_combo.setCurrentIndex(layer if 0 <= layer < n_layers and old_layers == n_layers else n_layers - 1)
        self._head_combo.setCurrentIndex(head if 0 <= head <= n_heads else 0)
        for combo in (self._layer_combo, self._head_combo):
            combo.setEnabled(combo.count() > 0)
            combo.blockSignals(False)

    def _on_state_band(self) -> None:
        if self._state.results is None or self._stack.currentIndex() == 0:
            return
        self._band_combo.blockSignals(True)
        self._band_combo.setCurrentText(self._current_band())
        self._band_combo.blockSignals(False)
        self._fill_attention_combos()
        self._draw_nodes()
        self._draw_edges()

    def _on_band_combo(self, name: str) -> None:
        if name:
            self._state.set_band(name)

    def spacing_px(self) -> float:
        """Median distance from an electrode to its nearest neighbour, in screen pixels."""
        vb = self._plot.getPlotItem().getViewBox()
        (x0, x1), _ = vb.viewRange()
        width = vb.width()
        return self._spacing * width / (x1 - x0) if x1 > x0 and width > 0 else 0.0

    def labels_shown(self) -> bool:
        """Whether the channel names are drawn (only when the electrodes are far enough apart)."""
        return bool(self._labels) and self._labels[0].isVisible()

    def _node_size_range(self) -> tuple:
        # Nodes never grow past their spacing on screen, so a small dock shows
        # separate discs rather than one blot.
        spacing = self.spacing_px()
        if spacing <= 0:
            return NODE_MIN_SIZE, NODE_MAX_SIZE
        hi = float(np.clip(0.9 * spacing, 6.0, NODE_MAX_SIZE))
        return min(NODE_MIN_SIZE, 0.5 * hi), hi

    def _fit_to_size(self) -> None:
        show = bool(self.spacing_px() >= LABEL_MIN_SPACING_PX)
        for label in self._labels:
            label.setVisible(show)
        self._draw_nodes()

    def _draw_nodes(self) -> None:
        results = self._state.results
        if results is None or self._stack.currentIndex() == 0:
            return
        b = results.bands.index(self._current_band())
        eeg_cam = np.asarray(results.get("saliency", "eeg_cam"), dtype=float)
        self._cam = eeg_cam[b, self._class_index()]
        # One scale per band over all classes, so switching class shows which
        # class really drives the band (a class with weak saliency stays pale).
        lo, hi = np.nanmin(eeg_cam[b]), np.nanmax(eeg_cam[b])
        self._cam_range = (float(lo), float(hi))
        norm = (self._cam - lo) / (hi - lo) if hi > lo else np.full_like(self._cam, 0.5)
        cmap = pg.colormap.get("viridis")
        colors = cmap.map(np.clip(norm, 0, 1), mode="qcolor")
        lo_size, hi_size = self._node_size_range()
        sizes = lo_size + np.clip(norm, 0, 1) * (hi_size - lo_size)
        known = self._known
        self._nodes.setData(
            pos=self._pos[known],
            brush=[pg.mkBrush(c) for c, k in zip(colors, known) if k],
            pen=[INTERPOLATED_PEN if f > 0 else NODE_PEN for f, k in zip(self._interpolated, known) if k],
            size=sizes[known],
            data=np.flatnonzero(known),
        )

    def _draw_edges(self) -> None:
        results = self._state.results
        self._edges = []
        for curve in self._edge_items:
            curve.setData([], [])
        if results is None or self._stack.currentIndex() == 0:
            self._quality.show_for(None, "eeg")
            return
        ei, att = self._attention()
        band = self._current_band()
        self._quality.show_for(results, "eeg", band)
        if att is not None:
            layer = max(self._layer_combo.currentIndex(), 0)
            head = self._head_combo.currentIndex()
            weights = att[layer].mean(axis=0) if head <= 0 else att[layer, head - 1]
            heads = "mean over heads" if head <= 0 else self._head_combo.currentText()
            what = f"GAT attention weights ({band}, layer {layer + 1}, {heads})"
            note = ""
        elif results.has("graphs", "eeg_edge_index"):
            ei = results.get("graphs", "eeg_edge_index")
            weights = results.get("graphs", "eeg_edge_weight", np.ones(np.shape(ei)[1]))
            what = "electrode graph weights"
            note = ("These results have no GAT attention (phase 2 did not run): the edges are the "
                    "electrode graph's functional-connectivity weights. ")
        else:
            self._note.setText("These results have neither GAT attention nor an electrode graph: no edges to draw.")
            self._threshold_label.setText("")
            return
        pairs, w = undirected_weights(ei, weights)
        n_ch = len(self._pos)
        valid = (pairs < n_ch).all(axis=1) & np.isfinite(w)
        valid[valid] &= self._known[pairs[valid]].all(axis=1)
        pairs, w = pairs[valid], w[valid]
        hidden = self._threshold.value() / 100.0
        shown = w > 0
        if hidden > 0 and shown.any():
            # By rank, not by a fraction of the strongest weight: attention of one
            # band can sit in a narrow range while another's spreads widely.
            cut = np.quantile(w[shown], hidden, method="higher")
            shown &= w >= cut
        self._threshold_label.setText(f"{hidden:.0%}")
        lo = float(w[shown].min()) if shown.any() else 0.0
        top = float(w[shown].max()) if shown.any() else 1.0
        # Width and opacity span the shown edges, from 0.15 (weakest) to 1 (strongest).
        rel = 0.15 + 0.85 * ((w - lo) / (top - lo) if top > lo else np.ones_like(w))
        bins = np.clip((rel * N_WIDTH_BINS).astype(int), 0, N_WIDTH_BINS - 1)
        for b, curve in enumerate(self._edge_items):
            sel = shown & (bins == b)
            if not sel.any():
                continue
            seg = self._pos[pairs[sel]].reshape(-1, 2)
            curve.setData(seg[:, 0], seg[:, 1])
            pen = curve.opts["pen"]
            for (i, j), wt in zip(pairs[sel], w[sel]):
                self._edges.append(DrawnEdge(int(i), int(j), float(wt), float(pen.widthF()), int(pen.color().alpha())))
        unknown = int((~self._known).sum())
        if unknown:
            note += f"{unknown} electrode(s) without a known position are not drawn. "
        rebuilt = [n for n, f in zip(self._names, self._interpolated) if f > 0]
        if rebuilt:
            note += (f"Dashed rings: {len(rebuilt)} electrode(s) bad in some recordings and interpolated there "
                     f"({', '.join(rebuilt[:6])}{' …' if len(rebuilt) > 6 else ''}). ")
        self._note.setText(
            f"{note}Edges: {what}; {len(self._edges)} of {len(w)} shown, width and opacity grow with the weight. "
            f"Nodes: CAM of class '{results.classes[self._class_index()]}' in {band} (colour and size, "
            f"dark purple = {self._cam_range[0]:.3g}, yellow = {self._cam_range[1]:.3g}). "
            "Click an electrode to select it."
        )

    def _draw_highlight(self) -> None:
        sel = self._state.selection
        if (self._stack.currentIndex() == 1 and sel.node_kind == "electrode"
                and sel.node_index is not None and sel.node_index < len(self._pos)
                and self._known[sel.node_index]):
            self._highlight.setData(pos=self._pos[[sel.node_index]])
        else:
            self._highlight.setData([])

    # -- view -> state ----------------------------------------------------------------
    def _on_nodes_clicked(self, _item, points, ev) -> None:
        if len(points) == 0:
            return
        click = ev.pos()
        nearest = min(points, key=lambda p: (p.pos().x() - click.x()) ** 2 + (p.pos().y() - click.y()) ** 2)
        self._state.select_node("electrode", int(nearest.data()))
        ev.accept()
