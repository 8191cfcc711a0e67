r"""Teaching: Laplacian eigenmodes and the Chebyshev filters phase 1 learned.

For the graph chosen (the fMRI ROI graph or the electrode graph of an EEG band)
the view shows, step by step, what the phase-1 spectral GCNN does:

* the spectrum of :math:`L = D - W` (eq. 1), :math:`\lambda_k` against ``k``,
  with the selected mode highlighted;
* the selected eigenvector :math:`u_k` drawn on the nodes (electrodes on the
  head, ROIs as a glass brain seen from above and from the side) with a
  diverging colour scale centred on 0, and how often it changes sign across
  the graph's edges;
* the frequency responses :math:`g(\lambda) = \sum_k \theta_k T_k(2\lambda/\lambda_{max} - 1)`
  of the trained first Chebyshev layer, with the graph's eigenvalues as ticks;
* the impulse response of one filter at the selected node, with the hop
  distance of every node drawn as the colour of its ring: an order-K filter
  (K terms) reaches exactly K − 1 hops.

All numbers come from :mod:`eegfmri_viewer.graphs.spectral`; the
eigen-decomposition (a few ms for 264 ROIs) runs on the GUI thread.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from eegfmri_viewer.graphs.spectral import (
    chebyshev_impulse_response,
    chebyshev_response,
    chebyshev_theta_from_state_dict,
    hop_distance,
    laplacian_modes,
    sign_changes,
)
from eegfmri_viewer.state.overlay import CortexOverlay
from eegfmri_viewer.views.axes_plot import axes_plot
from eegfmri_viewer.views.bundle_needs import NO_RESULTS
from eegfmri_viewer.views.head_outline import head_outline
from eegfmri_viewer.views.map_plot import map_plot
from eegfmri_viewer.views.message_stack import message_stack
from eegfmri_viewer.views.overlay_check import untick_when_dismissed, untick_when_replaced

FMRI_GRAPH = "fMRI ROIs"
EEG_PREFIX = "EEG "
MAP_MODE = "eigenmode u\u2096"
OVERLAY_OWNER = "Teaching"
MAP_IMPULSE = "filter impulse response"
MEAN_FILTER = "mean filter (\u03b8 averaged over all channel pairs)"
N_STRONGEST = 6
N_GRID = 200
EDGE_PEN = (60, 60, 60, 45)
NODE_SIZE = 13.0
ROI_NODE_SIZE = 9.0
# Ring colours by hop distance from the impulse (0, 1, 2, ...); nodes out of reach get OUT_OF_REACH.
HOP_COLORS = [(0, 0, 0), (213, 94, 0), (230, 159, 0), (240, 228, 66), (0, 158, 115), (86, 180, 233)]
OUT_OF_REACH = (200, 200, 200)
ZERO_TOL = 1e-9
# Glass-brain panel titles, longest first: the longest pair that fits over the panels is shown.
PANEL_TITLES = [("axial (x\u2013y, from above)", "sagittal (y\u2013z, from the left)"),
                ("axial, from above", "sagittal, from the left"),
                ("axial", "sagittal")]
# Axis labels, longest first: the longest that fits along the axis is shown (the docked view is short).
SPECTRUM_LABELS = {"left": ["eigenvalue \u03bb\u2096 of L = D \u2212 W", "eigenvalue \u03bb\u2096", "\u03bb\u2096"],
                   "bottom": ["mode k"]}
FILTER_LABELS = {"left": ["filter response g(\u03bb)", "response g(\u03bb)", "g(\u03bb)"],
                 "bottom": ["graph frequency \u03bb", "frequency \u03bb", "\u03bb"]}
MEAN_PEN = (20, 20, 20)
SELECTED_PEN = (0, 90, 200)


def _text_width(font, text: str) -> float:
    """Width in pixels of ``text`` drawn in ``font``."""
    return QFontMetricsF(font).horizontalAdvance(text)


def _fit_axis_labels(plot_item: pg.PlotItem, labels: Dict[str, List[str]]) -> None:
    """Give each axis the longest of its ``labels`` that fits along it.

    A label longer than its axis is drawn past the plot's edge and cut off; the
    axis is as long as the ViewBox beside it.
    """
    vb = plot_item.getViewBox()
    for side, variants in labels.items():
        axis = plot_item.getAxis(side)
        room = (vb.height() if side == "left" else vb.width()) - 4
        font = axis.label.font()
        margin = 2 * axis.label.document().documentMargin()
        text = next((t for t in variants if _text_width(font, t) + margin <= room), variants[-1])
        if axis.labelText != text:
            axis.setLabel(text)


class TeachingView(QWidget):
    """Laplacian eigenmodes, learned Chebyshev filter responses and impulse responses.

    Parameters
    ----------
    state : AppState
        Reads ``results`` and the selection (band, node); writes the band
        (graph selector on an EEG band) and the selected node (click on a node).
    parent : QWidget, optional
    """

    def __init__(self, state, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self._state = state
        self._weights: Dict[str, dict] = {}
        self._weights_for = None
        self._weights_error = ""
        self._stale = False
        self._kind = "roi"
        self._names: List[str] = []
        self._n = 0
        self._edge_index = np.zeros((2, 0), dtype=np.int64)
        self._edge_weight = np.zeros(0)
        self._lambda_max = 0.0
        self._lam = np.zeros(0)
        self._U = np.zeros((0, 0))
        self._theta: Optional[np.ndarray] = None
        self._filter_choices: List[Tuple[str, Optional[Tuple[int, int]]]] = []
        self._points_pos = np.zeros((0, 2))
        self._points_node = np.zeros(0, dtype=int)
        self._values = np.zeros(0)
        self._impulse = np.zeros(0)
        self._hops = np.zeros(0, dtype=int)
        self._impulse_node: Optional[int] = None
        self._impulse_default = False
        self._decomposition_ms = 0.0
        self._graph_source = ""
        self._model_name = ""

        self._message = QLabel()
        self._message.setWordWrap(True)
        self._message.setAlignment(Qt.AlignCenter)

        self._graph_combo = QComboBox()
        self._graph_combo.setToolTip("Graph whose Laplacian and phase-1 filters are shown")
        self._map_combo = QComboBox()
        self._map_combo.addItems([MAP_MODE, MAP_IMPULSE])
        self._map_combo.setToolTip("What the node colours show")
        self._filter_combo = QComboBox()
        self._filter_combo.setToolTip("Filter of the first Chebyshev layer (output \u2190 input channel)")
        # Sized for the filter names, not for the long mean-filter item: the row must fit the docked view.
        self._filter_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self._filter_combo.setMinimumContentsLength(len("filter out 00 \u2190 in 00"))
        self._graph_combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self._cortex_check = QCheckBox("On the cortex")
        self._cortex_check.setToolTip("Also show the map (eigenmode or impulse response) on the Cortex 3-D view "
                                      "instead of the CAM (fMRI ROI graph only)")
        self._mode_slider = QSlider(Qt.Horizontal)
        self._mode_slider.setToolTip("Laplacian eigenmode k (low k: smooth, high k: oscillating)")
        self._mode_spin = QSpinBox()
        self._mode_spin.setToolTip(self._mode_slider.toolTip())
        row1 = QHBoxLayout()
        for text, widget in (("Graph", self._graph_combo), ("Map shows", self._map_combo),
                             ("Filter", self._filter_combo)):
            row1.addWidget(QLabel(text))
            row1.addWidget(widget)
        row1.addWidget(self._cortex_check)
        row1.addStretch(1)
        row2 = QHBoxLayout()
        row2.addWidget(QLabel("Mode k"))
        row2.addWidget(self._mode_slider, 1)
        row2.addWidget(self._mode_spin)

        self._map = map_plot()
        mp = self._map.getPlotItem()
        self._cmap = pg.colormap.get("CET-D1")
        self._colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=self._cmap, interactive=False, width=14)
        mp.layout.addItem(self._colorbar, 2, 5)
        mp.layout.setColumnFixedWidth(4, 5)
        self._outline_items = [pg.PlotCurveItem(pen=pg.mkPen((90, 90, 90), width=2), antialias=True)
                               for _ in range(4)]
        for curve in self._outline_items:
            mp.addItem(curve)
        self._edges_item = pg.PlotCurveItem(pen=pg.mkPen(EDGE_PEN, width=1), connect="pairs")
        mp.addItem(self._edges_item)
        self._nodes = pg.ScatterPlotItem(hoverable=True, hoverPen=pg.mkPen("k", width=2),
                                         tip=lambda x, y, data: self.hover_text(int(data)))
        self._nodes.setZValue(10)
        self._nodes.sigClicked.connect(self._on_nodes_clicked)
        mp.addItem(self._nodes)
        self._highlight = pg.ScatterPlotItem(brush=None, pen=pg.mkPen((0, 0, 0), width=3), size=NODE_SIZE + 10)
        self._highlight.setZValue(11)
        mp.addItem(self._highlight)
        self._panel_labels: List[pg.TextItem] = []
        # Data extents of the map ((x0, x1), (y0, y1)), and of each glass-brain panel (x0, x1).
        self._map_range: Optional[Tuple[Tuple[float, float], Tuple[float, float]]] = None
        self._panel_spans: List[Tuple[float, float]] = []
        mp.getViewBox().sigResized.connect(lambda _vb: self._fit_map())

        self._mode_text = QLabel()
        self._mode_text.setWordWrap(True)
        self._impulse_text = QLabel()
        self._impulse_text.setWordWrap(True)

        self._spectrum = axes_plot()
        sp = self._spectrum.getPlotItem()
        sp.setLabel("bottom", SPECTRUM_LABELS["bottom"][0])
        sp.setLabel("left", SPECTRUM_LABELS["left"][0])
        sp.getAxis("left").setToolTip("Eigenvalue \u03bb\u2096 of the graph Laplacian L = D \u2212 W (eq. 1)")
        sp.getViewBox().sigResized.connect(lambda _vb: _fit_axis_labels(sp, SPECTRUM_LABELS))
        self._spectrum_points = pg.ScatterPlotItem(size=5, brush=pg.mkBrush(90, 90, 90), pen=None)
        self._spectrum_points.sigClicked.connect(self._on_spectrum_clicked)
        sp.addItem(self._spectrum_points)
        self._spectrum_mark = pg.ScatterPlotItem(size=14, brush=pg.mkBrush(220, 30, 30),
                                                 pen=pg.mkPen((0, 0, 0), width=1.5))
        self._spectrum_mark.setZValue(5)
        sp.addItem(self._spectrum_mark)

        self._filters = axes_plot()
        fp = self._filters.getPlotItem()
        fp.setLabel("bottom", FILTER_LABELS["bottom"][0])
        fp.setLabel("left", FILTER_LABELS["left"][0])
        fp.getAxis("left").setToolTip("Filter response g(\u03bb) of the first Chebyshev layer")
        fp.getViewBox().sigResized.connect(lambda _vb: _fit_axis_labels(fp, FILTER_LABELS))
        fp.addLine(y=0, pen=pg.mkPen((160, 160, 160), style=Qt.DotLine))
        # The legend is a wrapped line of text above the plot: inside the small plot it hid the curves.
        self._filter_legend = QLabel()
        self._filter_legend.setWordWrap(True)
        self._filter_legend.setTextFormat(Qt.RichText)
        self._filter_curves: List[pg.PlotDataItem] = []
        self._filter_curve_names: List[str] = []
        self._ticks = pg.PlotCurveItem(pen=pg.mkPen((90, 90, 90), width=1), connect="pairs")
        fp.addItem(self._ticks)
        self._lambda_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((220, 30, 30), width=1.5, style=Qt.DashLine))
        fp.addItem(self._lambda_line)
        self._filter_note = QLabel()
        self._filter_note.setWordWrap(True)

        # The explanations scroll in their own pane under the map: in the docked view
        # (about 800 x 380 px) they would otherwise squeeze the map and the plots.
        texts = QWidget()
        xbox = QVBoxLayout(texts)
        xbox.setContentsMargins(2, 2, 2, 2)
        for label in (self._mode_text, self._impulse_text, self._filter_note):
            xbox.addWidget(label)
        xbox.addStretch(1)
        text_scroll = QScrollArea()
        text_scroll.setWidgetResizable(True)
        text_scroll.setFrameShape(QFrame.NoFrame)
        text_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        text_scroll.setWidget(texts)
        text_scroll.setMinimumHeight(50)
        self._map.setMinimumHeight(120)
        top = _splitter(Qt.Vertical, [(self._map, 3, 300), (text_scroll, 2, 200)])
        filter_box = QWidget()
        fbox = QVBoxLayout(filter_box)
        fbox.setContentsMargins(0, 0, 0, 0)
        fbox.setSpacing(0)
        fbox.addWidget(self._filter_legend)
        fbox.addWidget(self._filters, 1)
        self._spectrum.setMinimumHeight(90)
        self._filters.setMinimumHeight(100)
        # Map on the left, spectrum over filter responses on the right: the dock opens in
        # the bottom row, a wide and not very tall place.
        right = _splitter(Qt.Vertical, [(self._spectrum, 2, 240), (filter_box, 3, 360)])
        splitter = _splitter(Qt.Horizontal, [(top, 3, 600), (right, 2, 400)])
        # The controls span the whole width above the panes, so that their row does
        # not set the map pane's minimum width.
        body = QWidget()
        bbox = QVBoxLayout(body)
        bbox.setContentsMargins(0, 0, 0, 0)
        bbox.addLayout(row1)
        bbox.addLayout(row2)
        bbox.addWidget(splitter, 1)
        # Below a readable size the content scrolls instead of forcing the window to grow.
        body.setMinimumSize(640, 330)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setWidget(body)
        self._stack = message_stack(self, self._message, scroll)

        self._graph_combo.currentTextChanged.connect(self._on_graph_combo)
        self._map_combo.currentIndexChanged.connect(lambda _i: self._draw_map())
        self._filter_combo.currentIndexChanged.connect(lambda _i: self._on_filter_changed())
        self._mode_slider.valueChanged.connect(self._on_mode_slider)
        self._cortex_check.toggled.connect(lambda _on: self._draw_map())
        state.overlayChanged.connect(lambda o: untick_when_replaced(self._cortex_check, OVERLAY_OWNER, o))
        state.overlayDismissed.connect(lambda owner: untick_when_dismissed(self._cortex_check, OVERLAY_OWNER, owner))
        self._mode_spin.valueChanged.connect(self._mode_slider.setValue)
        state.resultsChanged.connect(lambda _r: self.reload())
        state.bandChanged.connect(lambda _b: self._on_state_band())
        state.nodeChanged.connect(lambda _k, _i: self._on_state_node())
        self.reload()

    # -- public helpers (also used by tests) ----------------------------------
    @property
    def message(self) -> Optional[str]:
        """The sentence shown instead of the view, or ``None`` when the view is shown."""
        return self._message.text() if self._stack.currentIndex() == 0 else None

    @property
    def map_widget(self) -> pg.PlotWidget:
        """The 2-D node map (head or glass brain)."""
        return self._map

    @property
    def spectrum_widget(self) -> pg.PlotWidget:
        """The eigenvalue plot."""
        return self._spectrum

    @property
    def filter_widget(self) -> pg.PlotWidget:
        """The filter-response plot."""
        return self._filters

    @property
    def graph_combo(self) -> QComboBox:
        """Graph selector: ``"fMRI ROIs"`` or ``"EEG <band>"``."""
        return self._graph_combo

    @property
    def map_combo(self) -> QComboBox:
        """What the map shows: the eigenmode or the filter impulse response."""
        return self._map_combo

    @property
    def cortex_check(self) -> QCheckBox:
        """"On the cortex": the ROI map is also the Cortex 3-D view's overlay."""
        return self._cortex_check

    @property
    def filter_combo(self) -> QComboBox:
        """Filter whose impulse response is drawn (item 0 is the mean filter)."""
        return self._filter_combo

    @property
    def mode_slider(self) -> QSlider:
        """Selected eigenmode k."""
        return self._mode_slider

    @property
    def mode_spin(self) -> QSpinBox:
        """Selected eigenmode k (same as the slider)."""
        return self._mode_spin

    @property
    def mode_text(self) -> str:
        """Sentence explaining the selected mode."""
        return self._mode_text.text()

    @property
    def impulse_text(self) -> str:
        """Sentence on the impulse response (order K, hops reached)."""
        return self._impulse_text.text()

    @property
    def filter_note(self) -> str:
        """Sentence above the filter plot (which model, or why there are no filters)."""
        return self._filter_note.text()

    @property
    def node_kind(self) -> str:
        """``"roi"`` or ``"electrode"``: the nodes of the graph shown."""
        return self._kind

    @property
    def eigenvalues(self) -> np.ndarray:
        """Laplacian eigenvalues of the graph shown, shape (n_nodes,)."""
        return self._lam.copy()

    @property
    def eigenvectors(self) -> np.ndarray:
        """Laplacian eigenvectors (columns), shape (n_nodes, n_nodes)."""
        return self._U.copy()

    @property
    def lambda_max(self) -> float:
        """λmax of the graph shown (the one the filters were trained with)."""
        return self._lambda_max

    @property
    def theta(self) -> Optional[np.ndarray]:
        """First-layer Chebyshev coefficients, shape (out, in, K), or ``None`` without weights."""
        return None if self._theta is None else self._theta.copy()

    @property
    def decomposition_ms(self) -> float:
        """Time the last eigen-decomposition took, in milliseconds."""
        return self._decomposition_ms

    @property
    def impulse_node(self) -> Optional[int]:
        """Node of the impulse (the selected node, else the best-connected one)."""
        return self._impulse_node

    @property
    def impulse_values(self) -> np.ndarray:
        """Impulse response of the selected filter at :attr:`impulse_node`, shape (n_nodes,)."""
        return self._impulse.copy()

    @property
    def hops(self) -> np.ndarray:
        """Hop distance of every node from :attr:`impulse_node`, shape (n_nodes,); -1 unreachable."""
        return self._hops.copy()

    @property
    def point_positions(self) -> np.ndarray:
        """Map position of every drawn point, shape (n_points, 2) (ROIs appear twice)."""
        return self._points_pos.copy()

    @property
    def point_nodes(self) -> np.ndarray:
        """Node index of every drawn point, shape (n_points,)."""
        return self._points_node.copy()

    def node_values(self) -> np.ndarray:
        """Value each node is coloured by (eigenvector or impulse response), shape (n_nodes,)."""
        return self._values.copy()

    def node_brushes(self) -> List[tuple]:
        """RGBA fill of every drawn point, in :attr:`point_nodes` order."""
        return [tuple(b.color().getRgb()) for b in self._nodes.data["brush"]] if len(self._nodes.data) else []

    def node_rings(self) -> List[tuple]:
        """RGBA outline of every drawn point, in :attr:`point_nodes` order."""
        return [tuple(p.color().getRgb()) for p in self._nodes.data["pen"]] if len(self._nodes.data) else []

    def color_of(self, value: float, scale: float) -> tuple:
        """RGBA the map gives ``value`` on the symmetric scale ``[-scale, scale]``."""
        frac = 0.5 if scale <= 0 else float(np.clip(0.5 + 0.5 * value / scale, 0, 1))
        return tuple(self._cmap.map(np.array([frac]), mode="qcolor")[0].getRgb())

    def color_scale(self) -> float:
        """Half-width of the symmetric colour scale (max |value|)."""
        return float(np.abs(self._values).max()) if self._values.size else 0.0

    def spectrum_highlight(self) -> Optional[Tuple[float, float]]:
        """(k, λ_k) of the highlighted spectrum point, or ``None``."""
        if len(self._spectrum_mark.data) == 0:
            return None
        return float(self._spectrum_mark.data["x"][0]), float(self._spectrum_mark.data["y"][0])

    def filter_curves(self) -> List[Tuple[str, np.ndarray, np.ndarray]]:
        """Filter-response curves drawn: (legend name, λ grid, g(λ))."""
        out = []
        for name, curve in zip(self._filter_curve_names, self._filter_curves):
            x, y = curve.getData()
            out.append((name, x, y))
        return out

    def filter_theta(self) -> Optional[np.ndarray]:
        """Coefficients θ (K,) of the filter chosen in the filter selector, or ``None``."""
        if self._theta is None or not self._filter_choices:
            return None
        _name, pair = self._filter_choices[max(self._filter_combo.currentIndex(), 0)]
        return self._theta.mean(axis=(0, 1)) if pair is None else self._theta[pair[0], pair[1]]

    def tick_lambdas(self) -> np.ndarray:
        """Eigenvalues marked as ticks on the filter plot, shape (n_nodes,)."""
        x, _y = self._ticks.getData()
        return np.zeros(0) if x is None or len(x) == 0 else np.asarray(x[::2])

    def hover_text(self, node: int) -> str:
        """Tooltip of ``node``: name, mode value, impulse value and hop distance."""
        if not (0 <= node < self._n):
            return ""
        k = self._mode_slider.value()
        lines = [self._names[node] if node < len(self._names) else f"node {node}",
                 f"u_{k} = {self._U[node, k]:.3g}"]
        if self._impulse.size:
            lines.append(f"impulse response = {self._impulse[node]:.3g} ({self._hops[node]} hops)")
        return "\n".join(lines)

    # -- state -> view ------------------------------------------------------------
    def reload(self) -> None:
        """Rebuild the graph list and everything else from ``state.results``.

        While the view is hidden (a tab behind the 3-D view) this only marks it
        stale: loading the phase-1 weights imports torch, which is not worth a
        pause when results open unless the user looks at this view.
        """
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        results = self._state.results
        if results is None:
            self._show_message(NO_RESULTS)
            return
        if results is not self._weights_for:
            self._weights, self._weights_error, self._weights_for = {}, "", results
            self._load_weights(results)
        choices = []
        if self._graph_available("fmri"):
            choices.append(FMRI_GRAPH)
        if results.has_eeg:
            choices += [EEG_PREFIX + b for b in results.bands if self._graph_available("eeg", b)]
        if not choices:
            what = "an fMRI ROI graph" if not results.has_eeg else "an fMRI ROI graph or an electrode graph"
            self._show_message(
                f"These results have no graphs to teach with: they need {what} "
                "(graphs.npz: fmri_edge_index / eeg_edge_index, or the phase-1 weights), and the node "
                "positions (saliency.npz: roi_coords, ch_pos_2d). Re-run the analysis with this version.")
            return
        current = self._graph_combo.currentText()
        self._graph_combo.blockSignals(True)
        self._graph_combo.clear()
        self._graph_combo.addItems(choices)
        self._graph_combo.setCurrentText(current if current in choices else choices[0])
        self._graph_combo.blockSignals(False)
        self._stack.setCurrentIndex(1)
        self._load_graph()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._stale:
            self.reload()

    def _show_message(self, text: str) -> None:
        self._message.setText(text)
        self._stack.setCurrentIndex(0)
        self._nodes.setData([])
        self._values = np.zeros(0)
        self._publish_overlay(None)

    def _publish_overlay(self, title: Optional[str]) -> None:
        """Put the drawn map on the cortex (``title``), or take this view's map off it (None)."""
        if title is not None:
            self._state.set_overlay(CortexOverlay(title, self._values.copy(), owner=OVERLAY_OWNER))
        elif self._state.overlay is not None and self._state.overlay.owner == OVERLAY_OWNER:
            self._state.set_overlay(None)

    def _load_weights(self, results) -> None:
        if results.weights:
            self._weights = dict(results.weights)
            return
        path = getattr(results, "path", None)
        if path is None or not (Path(path) / "weights").is_dir():
            self._weights_error = "These results hold no phase-1 weights (weights/*.pt)"
            return
        try:
            # Lazily: torch is imported only when a bundle's weights are needed.
            from eegfmri_viewer.results import load_weights_from

            self._weights = load_weights_from(path)
        except Exception as exc:  # a damaged .pt must not break the view
            self._weights_error = f"The phase-1 weights in {Path(path) / 'weights'} could not be read ({exc})"

    def _model_for(self, stem: str) -> Tuple[str, Optional[dict]]:
        """Weights of the group model ``stem``, else of its first per-subject model."""
        if stem in self._weights:
            return stem, self._weights[stem]
        for name in sorted(self._weights):
            if name.startswith(f"{stem}_sub-"):
                return name, self._weights[name]
        return stem, None

    def _graph_available(self, modality: str, band: str = "") -> bool:
        results = self._state.results
        if modality == "fmri":
            if not results.has("saliency", "roi_coords"):
                return False
            _name, sd = self._model_for("fmri")
            return results.has("graphs", "fmri_edge_index") or (sd is not None and "edge_index" in sd)
        if not results.has("saliency", "ch_pos_2d"):
            return False
        _name, sd = self._model_for(f"eeg_{band}")
        return (results.has("graphs", "eeg_edge_index") or results.has("graphs", f"eeg_{band}_edge_index")
                or (sd is not None and "edge_index" in sd))

    def _current_modality(self) -> Tuple[str, str]:
        text = self._graph_combo.currentText()
        if text.startswith(EEG_PREFIX):
            return "eeg", text[len(EEG_PREFIX):]
        return "fmri", ""

    def _load_graph(self) -> None:
        results = self._state.results
        modality, band = self._current_modality()
        stem = "fmri" if modality == "fmri" else f"eeg_{band}"
        self._model_name, sd = self._model_for(stem)
        if modality == "fmri":
            self._kind = "roi"
            self._names = [str(n) for n in results.get("saliency", "roi_names", [])]
            n = len(results.get("saliency", "roi_coords"))
        else:
            self._kind = "electrode"
            self._names = [str(n) for n in results.get("saliency", "electrodes", [])]
            n = len(results.get("saliency", "ch_pos_2d"))
        if len(self._names) != n:
            self._names = [f"node {i}" for i in range(n)]
        if sd is not None and all(k in sd for k in ("edge_index", "edge_weight", "lambda_max")):
            ei, ew, lmax = (np.asarray(sd[k].detach().cpu().numpy() if hasattr(sd[k], "detach") else sd[k])
                            for k in ("edge_index", "edge_weight", "lambda_max"))
            self._graph_source = f"the graph stored with the phase-1 model ({self._model_name})"
        else:
            # A band's own graph (the one its model was trained on) before the broadband electrode graph.
            prefix = ("fmri" if modality == "fmri" else f"eeg_{band}"
                      if results.has("graphs", f"eeg_{band}_edge_index") else "eeg")
            ei = results.get("graphs", f"{prefix}_edge_index")
            ew = results.get("graphs", f"{prefix}_edge_weight", np.ones(np.shape(ei)[1]))
            lmax = results.get("graphs", f"{prefix}_lambda_max")
            self._graph_source = {"fmri": "graphs.npz",
                                  "eeg": "graphs.npz (the electrode graph of the broadband signal)"}.get(
                                      prefix, f"graphs.npz ({band}'s own electrode graph)")
        ei = np.asarray(ei, dtype=np.int64).reshape(2, -1)
        if ei.size and ei.max() >= n:
            self._show_message(f"The {self._graph_combo.currentText()} graph refers to node {int(ei.max())}, "
                               f"but the results have only {n} nodes; the bundle is inconsistent.")
            return
        self._n, self._edge_index, self._edge_weight = n, ei, np.asarray(ew, dtype=float).reshape(-1)
        t0 = time.perf_counter()
        self._lam, self._U = laplacian_modes(self._edge_index, self._edge_weight, n)
        self._decomposition_ms = 1000.0 * (time.perf_counter() - t0)
        # Bundles written before λmax was stored: λmax is by definition the largest eigenvalue.
        self._lambda_max = float(lmax) if lmax is not None else float(self._lam[-1]) if n else 0.0
        self._theta = None
        if sd is not None:
            try:
                self._theta = chebyshev_theta_from_state_dict(sd, layer=0)
            except KeyError as exc:
                self._weights_error = str(exc.args[0])
        self._fill_filter_combo()
        self._impulse_node = None  # another graph: node indices mean other nodes
        self._layout_points()
        for slider in (self._mode_slider, self._mode_spin):
            slider.blockSignals(True)
            slider.setRange(0, max(n - 1, 0))
            slider.setValue(min(slider.value(), max(n - 1, 0)))
            slider.blockSignals(False)
        self._mode_spin.setValue(self._mode_slider.value())
        self._update_impulse_node()
        self._draw_spectrum()
        self._draw_filters()
        self._draw_map()

    def _fill_filter_combo(self) -> None:
        self._filter_choices = []
        if self._theta is not None:
            self._filter_choices.append((MEAN_FILTER, None))
            out_ch, in_ch, _K = self._theta.shape
            norms = np.linalg.norm(self._theta, axis=2).reshape(-1)
            for flat in np.argsort(-norms)[:N_STRONGEST]:
                o, i = divmod(int(flat), in_ch)
                self._filter_choices.append((f"filter out {o} \u2190 in {i}", (o, i)))
        self._filter_combo.blockSignals(True)
        self._filter_combo.clear()
        self._filter_combo.addItems([name for name, _ in self._filter_choices])
        # The strongest filter by default: averaging θ over channel pairs mostly cancels out.
        self._filter_combo.setCurrentIndex(1 if len(self._filter_choices) > 1 else 0)
        self._filter_combo.setEnabled(bool(self._filter_choices))
        self._filter_combo.blockSignals(False)
        self._map_combo.model().item(1).setEnabled(self._theta is not None)
        if self._theta is None:
            self._map_combo.setCurrentIndex(0)

    def _layout_points(self) -> None:
        results = self._state.results
        for label in self._panel_labels:
            self._map.removeItem(label)
        self._panel_labels = []
        for curve in self._outline_items:
            curve.setData([], [])
        if self._kind == "electrode":
            pos = np.asarray(results.get("saliency", "ch_pos_2d"), dtype=float)
            known = np.isfinite(pos).all(axis=1)
            self._points_pos, self._points_node = pos[known], np.flatnonzero(known)
            outline = head_outline(pos)
            for curve, line in zip(self._outline_items,
                                   (outline.head, outline.nose, outline.left_ear, outline.right_ear)):
                curve.setData(line[:, 0], line[:, 1])
            pad = outline.radius * 0.2
            xr = (outline.center[0] - outline.radius - pad, outline.center[0] + outline.radius + pad)
            yr = (outline.center[1] - outline.radius - pad, outline.center[1] + outline.radius * 1.15 + pad)
            self._panel_spans = []
            for name, (x, y) in zip(np.asarray(self._names)[known], pos[known]):
                label = pg.TextItem(name, color=(60, 60, 60), anchor=(0.5, -0.55))
                label.setPos(x, y)
                label.setZValue(12)
                self._map.addItem(label)
                self._panel_labels.append(label)
        else:
            xyz = np.asarray(results.get("saliency", "roi_coords"), dtype=float)
            known = np.isfinite(xyz).all(axis=1)
            nodes = np.flatnonzero(known)
            c = xyz[known]
            # Glass brain: axial (x-y, seen from above, nose up) beside sagittal (y-z, nose right).
            gap = 25.0
            shift = c[:, 0].max() - c[:, 1].min() + gap if len(c) else 0.0
            axial = c[:, [0, 1]]
            sagittal = np.column_stack([c[:, 1] + shift, c[:, 2]])
            self._points_pos = np.vstack([axial, sagittal])
            self._points_node = np.concatenate([nodes, nodes])
            if len(c):
                self._panel_spans = [(float(axial[:, 0].min()), float(axial[:, 0].max())),
                                     (float(sagittal[:, 0].min()), float(sagittal[:, 0].max()))]
                # Their text and place depend on the map's size in pixels: see _fit_map.
                for text in PANEL_TITLES[0]:
                    label = pg.TextItem(text, color=(60, 60, 60), anchor=(0.5, 1.0))
                    self._map.addItem(label)
                    self._panel_labels.append(label)
            else:
                self._panel_spans = []
            lo, hi = self._points_pos.min(axis=0), self._points_pos.max(axis=0)
            pad = 12.0
            xr, yr = (lo[0] - pad, hi[0] + pad), (lo[1] - pad, hi[1])
        # Faint edges, each undirected pair once, in every panel (ROIs appear in two).
        ei = self._edge_index[:, self._edge_index[0] != self._edge_index[1]]
        pairs = np.unique(np.sort(ei, axis=0), axis=1) if ei.size else np.zeros((2, 0), dtype=np.int64)
        n_panels = 1 if self._kind == "electrode" else 2
        per = len(self._points_node) // n_panels
        seg = []
        for panel in range(n_panels):
            point_of = np.full(self._n, -1)
            point_of[self._points_node[panel * per:(panel + 1) * per]] = np.arange(panel * per, (panel + 1) * per)
            a, b = point_of[pairs[0]], point_of[pairs[1]]
            ok = (a >= 0) & (b >= 0)
            seg.append(np.stack([self._points_pos[a[ok]], self._points_pos[b[ok]]], axis=1).reshape(-1, 2))
        seg = np.concatenate(seg) if seg else np.zeros((0, 2))
        self._edges_item.setData(seg[:, 0], seg[:, 1])
        self._map_range = (tuple(map(float, xr)), tuple(map(float, yr)))
        self._fit_map()

    def _fit_map(self) -> None:
        """Show the whole map, with a strip above the glass brain for titles that fit their panels.

        The titles are drawn at a fixed size in pixels while the map scales with
        the widget: in the docked view the full titles are wider than their
        panels, so the longest pair that fits is chosen here on every resize.
        """
        if self._map_range is None:
            return
        plot = self._map.getPlotItem()
        (x0, x1), (y0, y1) = self._map_range
        vb = plot.getViewBox()
        w, h = vb.width(), vb.height()
        if not self._panel_spans or w < 2 or h < 2 or x1 <= x0 or y1 <= y0:
            plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
            if self._kind == "electrode" and w >= 2 and h >= 2 and x1 > x0 and y1 > y0:
                self._show_names_if_apart(min(w / (x1 - x0), h / (y1 - y0)))
            return
        font = self._panel_labels[0].textItem.font()
        margin = 2 * self._panel_labels[0].textItem.document().documentMargin()
        gap = 8.0  # pixels between the top node centre and the title's glyphs: clear of its disc
        strip = QFontMetricsF(font).height() + margin + gap
        # Pixels per map unit with the aspect locked: the data and the title strip must both fit.
        ppu = min(w / (x1 - x0), max(h - strip, 1.0) / (y1 - y0))
        half = 0.5 * w / ppu
        left, right = 0.5 * (x0 + x1) - half, 0.5 * (x0 + x1) + half
        split = 0.5 * (self._panel_spans[0][1] + self._panel_spans[1][0])
        slots = [(left, split), (split, right)]
        titles = next((pair for pair in PANEL_TITLES
                       if all(_text_width(font, t) + margin <= (b - a) * ppu for t, (a, b) in zip(pair, slots))),
                      PANEL_TITLES[-1])
        for label, text, (a, b), (p0, p1) in zip(self._panel_labels, titles, slots, self._panel_spans):
            if label.textItem.toPlainText() != text:
                label.setText(text)
            # Over the middle of its panel, moved inward when that would run past its slot.
            half_text = 0.5 * (_text_width(font, text) + margin) / ppu
            x = min(max(0.5 * (p0 + p1), a + half_text), b - half_text) if b - a > 2 * half_text else 0.5 * (a + b)
            label.setPos(x, y1 + (gap - margin / 2) / ppu)
        plot.setRange(xRange=(x0, x1), yRange=(y0, y1 + strip / ppu), padding=0)

    def _show_names_if_apart(self, ppu: float) -> None:
        """Show the electrode names only when no two of them overlap at ``ppu`` pixels per unit.

        In the docked view 64 names run into each other; then they are hidden
        and a node's tooltip still names it.
        """
        labels = self._panel_labels
        if not labels:
            return
        rects = []
        for label in labels:
            item = label.textItem
            m = item.document().documentMargin()
            fm = QFontMetricsF(item.font())
            width, height = fm.horizontalAdvance(item.toPlainText()), fm.height()
            # anchor (0.5, -0.55): centred under the node, 0.55 of the label's height below it.
            box_h = height + 2 * m
            cx = label.pos().x() * ppu
            top = -label.pos().y() * ppu + 0.55 * box_h + m
            rects.append((cx - width / 2, top, cx + width / 2, top + height))
        r = np.asarray(rects)
        apart = np.ones(len(r), dtype=bool) if len(r) < 2 else ~(
            (r[:, None, 0] < r[None, :, 2]) & (r[None, :, 0] < r[:, None, 2])
            & (r[:, None, 1] < r[None, :, 3]) & (r[None, :, 1] < r[:, None, 3]))[np.triu_indices(len(r), 1)].any()
        for label in labels:
            label.setVisible(bool(np.all(apart)))

    def _selected_node(self) -> Optional[int]:
        sel = self._state.selection
        if sel.node_kind == self._kind and sel.node_index is not None and 0 <= sel.node_index < self._n:
            return int(sel.node_index)
        return None

    def _update_impulse_node(self) -> None:
        node = self._selected_node()
        if node is not None:
            self._impulse_default = False
        elif self._impulse_node is not None and self._impulse_node < self._n:
            # The selection moved to a node of another kind: keep this graph's impulse where it was.
            node = self._impulse_node
        elif self._n:
            # Nothing selected yet: start from the best-connected node, so there is something to see.
            degree = np.zeros(self._n)
            np.add.at(degree, self._edge_index[0], 1)
            node = int(np.argmax(degree))
            self._impulse_default = True
        self._impulse_node = node
        self._compute_impulse()

    def _compute_impulse(self) -> None:
        node = self._impulse_node
        if node is None:
            self._impulse, self._hops = np.zeros(0), np.zeros(0, dtype=int)
            self._impulse_text.setText("")
            return
        self._hops = hop_distance(self._edge_index, self._n, node)
        theta = self.filter_theta()
        name = self._names[node]
        chosen = (" (no node selected: the best-connected one; click a node to choose)"
                  if self._impulse_default else "")
        if theta is None:
            self._impulse = np.zeros(0)
            self._impulse_text.setText(
                f"Impulse at {name}{chosen}: no phase-1 weights, so there is no trained filter to apply.")
            return
        self._impulse = chebyshev_impulse_response(self._edge_index, self._edge_weight, self._n,
                                                   self._lambda_max, theta, node)
        K = int(self._theta.shape[2])
        reach = int(((self._hops >= 0) & (self._hops <= K - 1)).sum())
        self._impulse_text.setText(
            f"Impulse at {name}{chosen}. Order K = {K} (T\u2080 \u2026 T{_subscript(K - 1)}): "
            f"reaches {K - 1} hop{'s' if K - 1 != 1 else ''}; {reach} of {self._n} nodes are within reach, "
            "every other node stays exactly 0. Ring colour = hop distance (black: the impulse, then "
            "orange, amber, yellow, green, blue; grey: out of reach).")

    def _on_state_node(self) -> None:
        if self._stack.currentIndex() == 0 or self._n == 0:
            return
        self._update_impulse_node()
        self._draw_map()

    def _on_state_band(self) -> None:
        if self._stack.currentIndex() == 0:
            return
        modality, band = self._current_modality()
        target = EEG_PREFIX + self._state.selection.band
        if modality == "eeg" and band != self._state.selection.band and self._graph_combo.findText(target) >= 0:
            self._graph_combo.blockSignals(True)
            self._graph_combo.setCurrentText(target)
            self._graph_combo.blockSignals(False)
            self._load_graph()

    def _on_graph_combo(self, text: str) -> None:
        if not text or self._state.results is None:
            return
        self._load_graph()
        modality, band = self._current_modality()
        if modality == "eeg":
            self._state.set_band(band)

    def _on_mode_slider(self, k: int) -> None:
        self._mode_spin.blockSignals(True)
        self._mode_spin.setValue(k)
        self._mode_spin.blockSignals(False)
        self._draw_spectrum()
        self._draw_lambda_line()
        if self._map_combo.currentText() == MAP_MODE:
            self._draw_map()
        else:
            self._describe_mode()

    def _on_filter_changed(self) -> None:
        self._compute_impulse()
        self._draw_filters()
        self._draw_map()

    def _describe_mode(self) -> None:
        if self._n == 0:
            self._mode_text.setText("")
            return
        k = self._mode_slider.value()
        lam = self._lam[k]
        changes, n_pairs = sign_changes(self._U[:, k], self._edge_index)
        tol = ZERO_TOL * max(self._lam[-1], 1.0)
        n_zero = int((self._lam <= tol).sum())
        rel = f" ({lam / self._lambda_max:.0%} of \u03bbmax)" if self._lambda_max > 0 else ""
        if lam <= tol:
            lam = 0.0  # round-off: show 0, not 1e-16
            what = ("constant over the graph: the 'DC' mode, no variation at all"
                    if n_zero == 1 else
                    f"constant on each connected part ({n_zero} parts, so {n_zero} modes with \u03bb = 0)")
        else:
            share = f" ({changes / n_pairs:.0%})" if n_pairs else ""
            what = f"it changes sign across {changes} of {n_pairs} edges{share}"
        self._mode_text.setText(
            f"Mode k = {k} of {self._n - 1}: \u03bb = {lam:.3g}{rel}; {what}. Low-\u03bb modes vary smoothly "
            "(neighbours share a sign), high-\u03bb modes oscillate (neighbours alternate): \u03bb is the "
            "graph's frequency, and the Chebyshev filters below weight each frequency by g(\u03bb).")

    def _draw_spectrum(self) -> None:
        k = np.arange(self._n)
        self._spectrum_points.setData(x=k, y=self._lam, data=k)
        if self._n:
            sel = self._mode_slider.value()
            self._spectrum_mark.setData(x=[sel], y=[self._lam[sel]])
        else:
            self._spectrum_mark.setData([])

    def _draw_lambda_line(self) -> None:
        if self._n:
            self._lambda_line.setValue(float(self._lam[self._mode_slider.value()]))

    def _draw_filters(self) -> None:
        fp = self._filters.getPlotItem()
        for curve in self._filter_curves:
            fp.removeItem(curve)
        self._filter_legend.clear()
        self._filter_legend.setVisible(False)
        self._filter_curves, self._filter_curve_names = [], []
        self._ticks.setData([], [])
        label = self._graph_combo.currentText()
        if self._theta is None:
            why = self._weights_error or f"These results have no phase-1 weights for the {label} graph"
            self._filter_note.setText(f"{why}: the learned Chebyshev filters cannot be drawn. "
                                      f"Graph: {self._graph_source}.")
            self._filters.setVisible(False)
            return
        self._filters.setVisible(True)
        self._filter_legend.setVisible(True)
        grid = np.linspace(0.0, self._lambda_max, N_GRID) if self._lambda_max > 0 else np.zeros(1)
        g = chebyshev_response(self._theta, grid, self._lambda_max)  # (out, in, N_GRID)
        curves = [("mean |g(\u03bb)| over all filters", np.abs(g).mean(axis=(0, 1)), pg.mkPen(MEAN_PEN, width=3))]
        for idx, (name, pair) in enumerate(self._filter_choices[1:]):
            color = pg.intColor(idx, hues=N_STRONGEST, values=1, maxValue=200, alpha=150)
            curves.append((name, g[pair[0], pair[1]], pg.mkPen(color, width=1.2)))
        sel_theta = self.filter_theta()
        curves.append((f"selected: {self._filter_combo.currentText()}",
                       chebyshev_response(sel_theta, grid, self._lambda_max), pg.mkPen(SELECTED_PEN, width=3)))
        self._filter_curve_names = [name for name, _y, _pen in curves]
        for name, y, pen in curves:
            curve = pg.PlotDataItem(grid, y, pen=pen)
            fp.addItem(curve)
            self._filter_curves.append(curve)
        # The legend names the mean, the thin strongest filters once, and the selected one;
        # non-breaking spaces keep each entry on one line when the legend wraps.
        strongest = "".join(_swatch(pen.color(), 1) for _name, _y, pen in curves[1:-1])
        entries = [_swatch(pg.mkColor(MEAN_PEN)) + "&nbsp;mean&nbsp;|g(\u03bb)|&nbsp;over&nbsp;all&nbsp;filters"]
        if len(curves) > 2:
            entries.append(f"{strongest}&nbsp;the&nbsp;{len(curves) - 2}&nbsp;strongest")
        entries.append(_swatch(pg.mkColor(SELECTED_PEN)) + "&nbsp;selected&nbsp;(impulse&nbsp;response)")
        self._filter_legend.setText(" &nbsp; ".join(entries))
        ys = np.concatenate([c[1] for c in curves] + [np.zeros(1)])
        lo, hi = float(ys.min()), float(ys.max())
        span = max(hi - lo, 1e-9)
        # Eigenvalues as ticks under the curves: which graph frequencies exist to be filtered.
        y0, y1 = lo - 0.12 * span, lo - 0.03 * span
        tx = np.repeat(self._lam, 2)
        ty = np.tile([y0, y1], len(self._lam))
        self._ticks.setData(tx, ty)
        self._draw_lambda_line()
        K = self._theta.shape[2]
        self._filter_note.setText(
            f"First Chebyshev layer of {self._model_name} ({self._theta.shape[0]} \u00d7 {self._theta.shape[1]} "
            f"filters, K = {K} terms), g(\u03bb) = \u03a3\u2096 \u03b8\u2096 T\u2096(2\u03bb/\u03bbmax \u2212 1) on "
            f"[0, \u03bbmax = {self._lambda_max:.3g}]; ticks: the graph's eigenvalues; red line: \u03bb of mode k. "
            f"Graph: {self._graph_source}.")

    def _draw_map(self) -> None:
        if self._stack.currentIndex() == 0 or self._n == 0:
            return
        self._describe_mode()
        impulse = self._map_combo.currentText() == MAP_IMPULSE and self._impulse.size == self._n
        k = self._mode_slider.value()
        self._values = self._impulse.copy() if impulse else self._U[:, k].copy()
        scale = self.color_scale()
        norm = np.full(self._n, 0.5) if scale <= 0 else np.clip(0.5 + 0.5 * self._values / scale, 0, 1)
        colors = self._cmap.map(norm, mode="qcolor")
        nodes = self._points_node
        # 264 ROIs in two small projections: smaller discs keep the pattern readable.
        size = NODE_SIZE if self._kind == "electrode" else ROI_NODE_SIZE
        if impulse:
            K = int(self._theta.shape[2])
            hops = self._hops[nodes]
            reach = (hops >= 0) & (hops <= K - 1)
            pens = [pg.mkPen(HOP_COLORS[min(h, len(HOP_COLORS) - 1)], width=3) if r else pg.mkPen(OUT_OF_REACH, width=1)
                    for h, r in zip(hops, reach)]
            sizes = np.where(reach, size + 3, size - 3)
        else:
            pens = [pg.mkPen((40, 40, 40), width=1)] * len(nodes)
            sizes = np.full(len(nodes), size)
        self._nodes.setData(pos=self._points_pos, brush=[pg.mkBrush(colors[i]) for i in nodes], pen=pens,
                            size=sizes, data=nodes)
        self._colorbar.setLevels((-scale, scale) if scale > 0 else (-1.0, 1.0))
        hl = self._selected_node() if not impulse else self._impulse_node
        if hl is not None:
            self._highlight.setData(pos=self._points_pos[self._points_node == hl])
        else:
            self._highlight.setData([])
        on_roi_graph = self._kind == "roi"
        self._cortex_check.setEnabled(on_roi_graph)
        if self._cortex_check.isChecked() and on_roi_graph:
            if impulse:
                title = f"impulse response at {self._names[self._impulse_node]}"
            else:
                title = f"Laplacian mode {k} (\u03bb = {self._lam[k]:.3g})"
            self._publish_overlay(title)
        else:
            self._publish_overlay(None)

    # -- view -> state ----------------------------------------------------------------
    def _on_nodes_clicked(self, _item, points, ev) -> None:
        if len(points) == 0:
            return
        click = ev.pos()
        nearest = min(points, key=lambda p: (p.pos().x() - click.x()) ** 2 + (p.pos().y() - click.y()) ** 2)
        self._state.select_node(self._kind, int(nearest.data()))
        ev.accept()

    def _on_spectrum_clicked(self, _item, points, ev) -> None:
        if len(points):
            self._mode_slider.setValue(int(points[0].data()))
            ev.accept()


def _splitter(orientation, panes) -> QSplitter:
    """A splitter of ``panes``: (widget, stretch factor, initial size in pixels) each."""
    splitter = QSplitter(orientation)
    for i, (widget, stretch, _size) in enumerate(panes):
        splitter.addWidget(widget)
        splitter.setStretchFactor(i, stretch)
    splitter.setSizes([size for _w, _s, size in panes])
    return splitter


def _swatch(color, length: int = 2) -> str:
    """A short line (``length`` characters) in ``color`` (a QColor), as rich text for the legend."""
    line = "\u2501" * length
    return f'<span style="color:{color.name()}; font-weight:bold">{line}</span>'


def _subscript(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "\u2080\u2081\u2082\u2083\u2084\u2085\u2086\u2087\u2088\u2089"))
