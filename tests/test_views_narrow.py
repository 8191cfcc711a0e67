"""The attention/fusion and embeddings views stay readable in a narrow dock.

In the default layout with the Teaching view open, the Attention & fusion dock
is about 400 x 380 pixels. There the view names under the heatmap and the bars
must not run into each other (they become Greek letters, then fewer), and the
embeddings' key must not cover the points. The tick labels are read back from
what pyqtgraph would draw (``AxisItem.generateDrawSpecs``) and measured with
the axis font, so the tests check the pixels a user sees, not the view's own
bookkeeping. Run under Xvfb:
``xvfb-run -a .venv/bin/python -m pytest tests/test_views_narrow.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from bundle_factory import BANDS, make_bundle
from eegfmri_viewer.results import load_bundle
from eegfmri_viewer.state import AppState
from eegfmri_viewer.views.attention_view import AttentionView, fitting_tick_labels
from eegfmri_viewer.views.view_names import short_view_name
from eegfmri_viewer.views.embeddings_view import EmbeddingsView
from plot_view_testing import settle, show
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QApplication

pytestmark = pytest.mark.gui

NARROW = (380, 360)
WIDE = (1000, 600)
# The views as the Attention & fusion view shows them (the analysis's band order, then fMRI) and their short forms.
VIEWS = [b[0] for b in BANDS] + ["fMRI"]  # written in full as the views write them ("fmri" in the bundle)
GREEK = ["\u03b4", "\u03b8", "\u03b1", "\u03b2", "\u03b3", "fMRI"]


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("views_narrow") / "full"
    make_bundle(path)
    return path


@pytest.fixture
def state(qapp, bundle_path):
    st = AppState()
    st.set_results(load_bundle(bundle_path, verify=False))
    return st


# ----------------------------------------------------------------------------- label rules
def test_short_view_names_are_greek_for_default_bands_and_keep_other_names():
    assert [short_view_name(v) for v in VIEWS] == GREEK
    assert short_view_name("Alpha") == "\u03b1"
    assert short_view_name("low_gamma") == "low_gamma"  # a user-configured band keeps its name
    assert short_view_name("mu") == "mu"


def test_fitting_tick_labels_falls_back_from_full_to_short_to_fewer():
    full, short = ["alpha", "beta", "gamma"], ["a", "b", "c"]
    width = len  # one pixel per character
    assert fitting_tick_labels([full, short], 10.0, width, gap_px=1) == full
    assert fitting_tick_labels([full, short], 4.0, width, gap_px=1) == short
    # 1-pixel labels 1.5 px apart with a 1-pixel gap: every second one.
    assert fitting_tick_labels([full, short], 1.5, width, gap_px=1) == ["a", "", "c"]
    # The longest label is kept first; its neighbours give way.
    assert fitting_tick_labels([["x", "y", "long"]], 2.0, width, gap_px=0) == ["x", "", "long"]
    # No room past the axis ends for the long last label: it goes.
    assert fitting_tick_labels([["x", "y", "long"]], 5.0, width, (0.5, 1.0), gap_px=0) == ["x", "y", ""]


# ----------------------------------------------------------------------------- helpers
def drawn_labels(plot_widget, side):
    """What pyqtgraph draws on ``side`` of the plot: [(text, centre in viewport px, QRect in viewport)]."""
    axis = plot_widget.getPlotItem().getAxis(side)
    settle()
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _axis, _ticks, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    out = []
    for rect, _flags, text in texts:
        scene = axis.mapRectToScene(rect)
        view_rect = plot_widget.mapFromScene(scene).boundingRect()
        centre = plot_widget.mapFromScene(scene.center())
        out.append((text, centre, view_rect))
    return out


def tick_font_metrics(plot_widget, side):
    axis = plot_widget.getPlotItem().getAxis(side)
    return QFontMetrics(axis.style["tickFont"] or QApplication.font())


def assert_bottom_labels_readable(plot_widget, cell_of):
    """Neighbouring labels do not overlap, none is cut at the plot's edge, each names its own tick."""
    fm = tick_font_metrics(plot_widget, "bottom")
    labels = sorted(drawn_labels(plot_widget, "bottom"), key=lambda t: t[1].x())
    assert labels, "no labels drawn"
    spans = []
    for text, centre, _rect in labels:
        half = fm.horizontalAdvance(text) / 2
        spans.append((centre.x() - half, centre.x() + half, text))
        k = cell_of(centre)
        assert text in (VIEWS[k], GREEK[k]), (text, k)
    for (l0, r0, t0), (l1, r1, t1) in zip(spans, spans[1:]):
        assert r0 <= l1, f"{t0!r} (ends at {r0:.1f} px) runs into {t1!r} (starts at {l1:.1f} px)"
    width = plot_widget.viewport().width()
    assert spans[0][0] >= 0 and spans[-1][1] <= width, (spans, width)
    return [s[2] for s in spans]


def heat_cell_x(view):
    vb = view.heatmap_widget.getPlotItem().getViewBox()
    return lambda p: int(math.floor(vb.mapSceneToView(view.heatmap_widget.mapToScene(p)).x()))


def heat_cell_y(view):
    vb = view.heatmap_widget.getPlotItem().getViewBox()
    return lambda p: int(math.floor(vb.mapSceneToView(view.heatmap_widget.mapToScene(p)).y()))


def bar_of(view, widget):
    vb = widget.getPlotItem().getViewBox()
    return lambda p: int(round(vb.mapSceneToView(widget.mapToScene(p)).x()))


# ----------------------------------------------------------------------------- attention + fusion
def test_attention_axis_labels_never_overlap_when_narrow(qtbot, state):
    view = show(qtbot, AttentionView, state, size=NARROW)
    heat, bars = view.heatmap_widget, view.bars_widget
    heat_bottom = assert_bottom_labels_readable(heat, heat_cell_x(view))
    bar_bottom = assert_bottom_labels_readable(bars, bar_of(view, bars))
    for drawn in (heat_bottom, bar_bottom):
        # The short names fit for most views; fMRI, the one non-EEG view, keeps its label.
        assert len(drawn) >= len(VIEWS) - 1 and "fMRI" in drawn, drawn
        assert set(drawn) <= set(GREEK), drawn

    # Rows of the heatmap: one line of text each, none on top of another, each at its own row.
    fm = tick_font_metrics(heat, "left")
    left = sorted(drawn_labels(heat, "left"), key=lambda t: t[1].y())
    assert len(left) == len(VIEWS)
    row = heat_cell_y(view)
    for text, centre, _rect in left:
        assert text in (VIEWS[row(centre)], GREEK[row(centre)])
    for (_t0, c0, _r0), (_t1, c1, _r1) in zip(left, left[1:]):
        assert c1.y() - c0.y() >= fm.height()
    # The short row names leave the map wider than the full names would.
    assert max(fm.horizontalAdvance(t) for t, _c, _r in left) < fm.horizontalAdvance("gamma")


def test_attention_full_names_when_wide_and_back_after_narrowing(qtbot, state):
    view = show(qtbot, AttentionView, state, size=WIDE)
    heat, bars = view.heatmap_widget, view.bars_widget
    assert assert_bottom_labels_readable(heat, heat_cell_x(view)) == VIEWS
    assert assert_bottom_labels_readable(bars, bar_of(view, bars)) == VIEWS
    assert [t for t, _c, _r in sorted(drawn_labels(heat, "left"), key=lambda t: t[1].y())] == VIEWS
    view.resize(*NARROW)
    qtbot.waitUntil(lambda: "fMRI" in [t for t, _c, _r in drawn_labels(heat, "bottom")], timeout=3000)
    assert_bottom_labels_readable(heat, heat_cell_x(view))
    view.resize(*WIDE)
    qtbot.waitUntil(lambda: [t for t, _c, _r in drawn_labels(bars, "bottom")] == VIEWS, timeout=3000)
    qtbot.waitUntil(lambda: sorted(t for t, _c, _r in drawn_labels(heat, "bottom")) == sorted(VIEWS), timeout=3000)


def test_attention_labels_thin_out_in_a_tiny_heatmap(qtbot, state):
    view = show(qtbot, AttentionView, state, size=(300, 260))
    heat = view.heatmap_widget
    assert assert_bottom_labels_readable(heat, heat_cell_x(view))
    fm = tick_font_metrics(heat, "left")
    left = sorted(drawn_labels(heat, "left"), key=lambda t: t[1].y())
    assert left
    for (_t0, c0, _r0), (_t1, c1, _r1) in zip(left, left[1:]):
        assert c1.y() - c0.y() >= fm.height()


# ----------------------------------------------------------------------------- embeddings
def global_rect(widget):
    return QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())


@pytest.mark.parametrize("size", [NARROW, WIDE])
def test_embeddings_key_covers_no_points(qtbot, state, size):
    import pyqtgraph as pg

    view = show(qtbot, EmbeddingsView, state, size=size)
    plot = view.plot_widget
    vb = plot.getPlotItem().getViewBox()
    points = np.concatenate([view.projected(v) for v in view.views])
    corners = [vb.mapViewToScene(pg.Point(float(x), float(y))) for x, y in points]
    xs, ys = [c.x() for c in corners], [c.y() for c in corners]
    data_rect = pg.QtCore.QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    # No legend drawn inside the plot over the points.
    for item in plot.scene().items():
        if isinstance(item, pg.LegendItem) and item.isVisible():
            assert not item.sceneBoundingRect().intersects(data_rect), "the legend covers points"
    # The key: every view named once, in columns, inside the view and apart from the plot area.
    key = view.key_widget
    texts = key.names()
    assert len(texts) == len(view.views) and texts[-1].endswith("fused (E_f)")
    for v, text in zip(view.views[:-1], texts):
        assert text.endswith(f"&nbsp;{'fMRI' if v == 'fmri' else v}")  # the key writes fMRI as the other views do
    plot_area = QRect(plot.mapToGlobal(plot.mapFromScene(vb.sceneBoundingRect()).boundingRect().topLeft()),
                      vb.sceneBoundingRect().size().toSize())
    key_area = global_rect(key)
    assert key.isVisible() and not key_area.intersects(plot_area)
    assert global_rect(view).contains(key_area)
    for label in key.entry_labels():
        assert label.isVisible() and global_rect(key).contains(global_rect(label)), label.text()
    assert 1 < key.columns <= len(texts)
    rows = math.ceil(len(texts) / key.columns)
    assert rows <= 2  # seven entries fit in two rows at 380 px


# ----------------------------------------------------------------------------- electrode graph
def test_electrode_edge_slider_keeps_a_usable_width_in_a_docked_view(qtbot, state):
    from eegfmri_viewer.views.electrode_graph_view import ElectrodeGraphView

    # the electrode dock of the default layout is about 440 px wide
    view = show(qtbot, ElectrodeGraphView, state, size=(440, 360))
    settle()
    slider = view.threshold_slider
    assert slider.isVisible() and slider.width() >= 150
    # and its percentage is readable beside it
    assert view.threshold_text == f"{slider.value()}%"
