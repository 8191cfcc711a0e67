"""Embeddings: a 2-D map of every view's node embeddings and the fused one.

All embeddings (each EEG band, fMRI, and the fused E_f) are projected together
into one plane, so distances between clouds mean something: PCA (principal
axes of all points, by SVD) by default, t-SNE (scikit-learn, imported only when
chosen) as an option. The selected ROI is ringed in every cloud and its points
are joined by a line, showing how far apart the views place the same region.
The key (which colour is which view) sits in its own row above the plot, in as
many columns as the width allows, so it never covers points.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from eegfmri_viewer.views.axes_plot import axes_plot
from eegfmri_viewer.views.bundle_needs import missing_message
from eegfmri_viewer.views.message_stack import message_stack
from eegfmri_viewer.views.roi_names import roi_label, roi_name
from eegfmri_viewer.views.view_colors import view_color
from eegfmri_viewer.views.view_names import display_order, view_label

METHODS = ("PCA", "t-SNE")


def pca_2d(points):
    """Project points onto their first two principal axes.

    Parameters
    ----------
    points : ndarray, shape (n_points, d)

    Returns
    -------
    xy : ndarray, shape (n_points, 2)
        Coordinates along the two axes of largest variance (zeros where the
        data have fewer than two dimensions of spread).
    explained : ndarray, shape (2,)
        Fraction of the total variance along each axis.
    """
    x = np.asarray(points, dtype=float)
    centred = x - x.mean(axis=0, keepdims=True)
    _u, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(2, vt.shape[0])
    xy = np.zeros((len(x), 2))
    xy[:, :k] = centred @ vt[:k].T
    var = s ** 2
    explained = np.zeros(2)
    if var.sum() > 0:
        explained[:k] = var[:k] / var.sum()
    return xy, explained


def tsne_2d(points, seed: int = 0):
    """t-SNE map of the points (scikit-learn), deterministic for a seed.

    Parameters
    ----------
    points : ndarray, shape (n_points, d)
    seed : int

    Returns
    -------
    xy : ndarray, shape (n_points, 2)
    """
    from sklearn.manifold import TSNE

    x = np.asarray(points, dtype=float)
    # Perplexity must stay below the number of points.
    perplexity = float(min(30.0, max(2.0, (len(x) - 1) / 3.0)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


class CloudKey(QWidget):
    """The key of the clouds: a coloured symbol and a name per view, in columns.

    As many columns as the widest entry allows in the width given (at least
    one), filled row by row, so the key grows downwards rather than past the
    edge in a narrow dock.

    Parameters
    ----------
    parent : QWidget, optional
    """

    #: Pixels between two columns of entries.
    COLUMN_GAP = 14

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(4, 0, 4, 0)
        self._grid.setHorizontalSpacing(self.COLUMN_GAP)
        self._grid.setVerticalSpacing(0)
        self._entries: List[QLabel] = []
        self._columns = 0

    def set_entries(self, entries: List[Tuple[str, str, Tuple[int, int, int]]]) -> None:
        """Show ``(name, symbol, rgb)`` entries, e.g. ``("beta", "\u25cf", (204, 187, 68))``."""
        for label in self._entries:
            self._grid.removeWidget(label)
            label.hide()
            label.deleteLater()
        self._entries = []
        for name, symbol, (r, g, b) in entries:
            label = QLabel(f'<span style="color: rgb({r}, {g}, {b}); font-size: large;">{symbol}</span>&nbsp;{name}')
            label.setTextFormat(Qt.RichText)
            self._entries.append(label)
        self._columns = 0
        self._arrange()

    def names(self) -> List[str]:
        """The entries' text (symbol and name), in order."""
        return [label.text() for label in self._entries]

    def entry_labels(self) -> List[QLabel]:
        """The entries' widgets, in order."""
        return list(self._entries)

    @property
    def columns(self) -> int:
        """Number of columns the entries are laid out in."""
        return self._columns

    def _fitting_columns(self) -> int:
        if not self._entries:
            return 0
        entry = max(label.sizeHint().width() for label in self._entries)
        margins = self._grid.contentsMargins()
        room = self.width() - margins.left() - margins.right()
        return int(max(1, min(len(self._entries), (room + self.COLUMN_GAP) // (entry + self.COLUMN_GAP))))

    def _arrange(self) -> None:
        columns = self._fitting_columns()
        if columns == self._columns:
            return
        self._columns = columns
        for label in self._entries:
            self._grid.removeWidget(label)
        for col in range(self._grid.columnCount()):
            self._grid.setColumnStretch(col, 0)
        for k, label in enumerate(self._entries):
            self._grid.addWidget(label, k // columns, k % columns)
        # Spare width goes to the right of the last column, not between the entries.
        self._grid.setColumnStretch(columns, 1)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._arrange()


class EmbeddingsView(QWidget):
    """Scatter of the per-view and fused node embeddings, linked to the ROI selection.

    Parameters
    ----------
    state : AppState
        Reads ``results`` (embeddings.npz) and the selected node; a click on a
        point selects its ROI.
    parent : QWidget, optional
    """

    def __init__(self, state, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self._state = state
        self._views: List[str] = []
        self._node_index = np.zeros(0, dtype=int)
        self._xy: Dict[str, np.ndarray] = {}
        self._cache: Dict[Tuple[int, str], Tuple[Dict[str, np.ndarray], str]] = {}
        self._clouds: Dict[str, pg.ScatterPlotItem] = {}

        self._message = QLabel()
        self._message.setWordWrap(True)
        self._message.setAlignment(Qt.AlignCenter)
        self._method = QComboBox()
        self._method.addItems(METHODS)
        self._method.setToolTip("Projection of the embeddings to the plane")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Projection"))
        controls.addWidget(self._method)
        controls.addStretch(1)

        self._plot = axes_plot()
        # The key lives outside the plot: inside, it hid the points under it.
        self._key = CloudKey()
        self._link = pg.PlotCurveItem(pen=pg.mkPen((0, 0, 0), width=2, style=Qt.DashLine), antialias=True)
        self._link.setZValue(20)
        self._plot.addItem(self._link)
        self._highlight = pg.ScatterPlotItem(size=20, brush=None, pen=pg.mkPen((0, 0, 0), width=3))
        self._highlight.setZValue(21)
        self._plot.addItem(self._highlight)
        self._note = QLabel()
        self._note.setWordWrap(True)

        content = QWidget()
        box = QVBoxLayout(content)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(controls)
        box.addWidget(self._key)
        box.addWidget(self._plot, 1)
        box.addWidget(self._note)
        self._stack = message_stack(self, self._message, content)

        self._method.currentTextChanged.connect(lambda _m: self.reload())
        state.resultsChanged.connect(self._on_results)
        state.nodeChanged.connect(lambda _k, _i: self._draw_selection())
        self.reload()

    # -- public helpers (also used by tests) ----------------------------------
    @property
    def plot_widget(self) -> pg.PlotWidget:
        """The scatter plot."""
        return self._plot

    @property
    def key_widget(self) -> CloudKey:
        """The key of the clouds (a row above the plot)."""
        return self._key

    @property
    def message(self) -> Optional[str]:
        """The sentence shown instead of the plot, or ``None`` when the plot is shown."""
        return self._message.text() if self._stack.currentIndex() == 0 else None

    @property
    def views(self) -> List[str]:
        """Names of the clouds, in drawing order (the fused one last)."""
        return list(self._views)

    def projected(self, view: str) -> np.ndarray:
        """2-D coordinates of ``view``'s nodes, shape (n_nodes, 2)."""
        return self._xy[view].copy()

    def highlighted_points(self) -> np.ndarray:
        """Coordinates of the ringed points of the selected ROI, shape (n_views, 2) or (0, 2)."""
        if len(self._highlight.data) == 0:
            return np.zeros((0, 2))
        return np.column_stack([self._highlight.data["x"], self._highlight.data["y"]])

    def set_method(self, method: str) -> None:
        """Choose the projection, one of ``METHODS``."""
        self._method.setCurrentText(method)

    # -- state -> view ------------------------------------------------------------
    def _on_results(self, _results) -> None:
        self._cache.clear()
        self.reload()

    def reload(self) -> None:
        """Project the embeddings of ``state.results`` and redraw."""
        results = self._state.results
        text = missing_message(results, phase2=("embeddings",))
        if text is None:
            views = self._view_names(results)
            if not views:
                text = "embeddings.npz holds no view embeddings; re-run the analysis with phase 2 enabled."
        if text is not None:
            self._message.setText(text)
            self._stack.setCurrentIndex(0)
            self._xy = {}
            return
        self._stack.setCurrentIndex(1)
        self._views = views
        self._node_index = np.asarray(results.get("embeddings", "node_index"), dtype=int)
        method = self._method.currentText()
        key = (id(results), method)
        if key not in self._cache:
            self._cache[key] = self._project(results, views, method)
        self._xy, axis_text = self._cache[key]
        for cloud in self._clouds.values():
            self._plot.removeItem(cloud)
        self._clouds = {}
        entries = []
        for k, view in enumerate(views):
            rgb = view_color(view, k)
            fused = view == "fused"
            cloud = pg.ScatterPlotItem(
                pos=self._xy[view],
                data=np.arange(len(self._xy[view])),
                symbol="star" if fused else "o",
                size=13 if fused else 9,
                brush=pg.mkBrush(*rgb),
                pen=pg.mkPen((255, 255, 255), width=0.5),
                hoverable=True,
                tip=lambda x, y, data, v=view: self._hover_text(v, int(data)),
            )
            entries.append(("fused (E_f)" if fused else view_label(view), "\u2605" if fused else "\u25cf", rgb))
            cloud.sigClicked.connect(self._on_clicked)
            self._plot.addItem(cloud)
            self._clouds[view] = cloud
        self._key.set_entries(entries)
        self._plot.getPlotItem().setLabel("bottom", f"{method} 1{axis_text[0]}")
        self._plot.getPlotItem().setLabel("left", f"{method} 2{axis_text[1]}")
        self._plot.getPlotItem().enableAutoRange()
        self._draw_selection()

    @staticmethod
    def _view_names(results) -> List[str]:
        emb = results.arrays.get("embeddings", {})
        order = [str(v) for v in results.get("fusion", "views", [])] or sorted(
            k for k in emb if k not in ("fused", "node_index"))
        views = [v for v in order if v in emb]
        # the analysis's band order, then fMRI, as in the other views (the bundle keeps the paper's order)
        views = [views[k] for k in display_order(views, results.bands)]
        if "fused" in emb:
            views.append("fused")
        return views

    @staticmethod
    def _project(results, views, method):
        mats = [np.asarray(results.get("embeddings", v), dtype=float) for v in views]
        n = len(mats[0])
        dims = {m.shape[1] for m in mats}
        if len(dims) != 1:
            # Views with different widths cannot share one projection: pad with
            # zeros so each keeps its own coordinates in a common space.
            width = max(dims)
            mats = [np.pad(m, ((0, 0), (0, width - m.shape[1]))) for m in mats]
        stacked = np.concatenate(mats, axis=0)
        if method == "t-SNE":
            xy = tsne_2d(stacked)
            labels = ("", "")
        else:
            xy, explained = pca_2d(stacked)
            labels = tuple(f" ({100 * e:.0f} % of variance)" for e in explained)
        return {v: xy[k * n:(k + 1) * n] for k, v in enumerate(views)}, labels

    def _hover_text(self, view: str, row: int) -> str:
        roi = int(self._node_index[row]) if row < len(self._node_index) else row
        return f"{roi_label(self._state.results, roi)}\nview: {view}"

    def _draw_selection(self) -> None:
        if self._stack.currentIndex() == 0 or not self._xy:
            return
        sel = self._state.selection
        rows = np.flatnonzero(self._node_index == sel.node_index) if sel.node_kind == "roi" else []
        n_nodes = len(self._node_index)
        if len(rows):
            row = int(rows[0])
            pts = np.array([self._xy[v][row] for v in self._views])
            self._highlight.setData(pos=pts)
            self._link.setData(pts[:, 0], pts[:, 1])
            self._note.setText(
                f"{roi_name(self._state.results, sel.node_index)}: ringed in every view's cloud, the dashed line "
                f"joins them ({len(self._views)} views, {n_nodes} nodes). Click a point to select its ROI."
            )
            return
        self._highlight.setData([])
        self._link.setData([], [])
        if sel.node_kind == "roi":
            self._note.setText(
                f"{roi_name(self._state.results, sel.node_index)} is not one of the {n_nodes} phase-2 nodes "
                "(salient ROIs). Click a point to select one."
            )
        else:
            self._note.setText(f"{n_nodes} phase-2 nodes in {len(self._views)} views. Click a point to select its ROI.")

    # -- view -> state ----------------------------------------------------------------
    def _on_clicked(self, _item, points, ev) -> None:
        if len(points) == 0:
            return
        click = ev.pos()
        nearest = min(points, key=lambda p: (p.pos().x() - click.x()) ** 2 + (p.pos().y() - click.y()) ** 2)
        self._state.select_node("roi", int(self._node_index[int(nearest.data())]))
        ev.accept()
