"""The 2-D linked views: electrode graph, embeddings, cross-view attention + fusion, coupling.

Each view is rendered from a small results bundle (tests/bundle_factory.py) and
its pixels are checked; selections are made with real mouse events on the
plots and must land in the shared state; selections made elsewhere must show
in the view; bundles without phase 2 or without EEG must give plain sentences.
Run under Xvfb: ``xvfb-run -a .venv/bin/python -m pytest tests/test_views_2d.py``.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from PySide6.QtCore import Qt
from bundle_factory import BANDS, CHANNELS, VIEWS, make_bundle
from eegfmri_viewer.results import load_bundle, save_bundle
from eegfmri_viewer.state import AppState
from eegfmri_viewer.views.attention_view import AttentionView
from eegfmri_viewer.views.bundle_needs import NO_RESULTS
from eegfmri_viewer.views.coupling_view import CouplingView, network_order
from eegfmri_viewer.views.electrode_graph_view import ElectrodeGraphView, undirected_weights
from eegfmri_viewer.views.embeddings_view import EmbeddingsView, pca_2d
from eegfmri_viewer.views.head_outline import head_outline
from eegfmri_viewer.views.view_colors import VIEW_COLORS
from plot_view_testing import click, hover, render, rgb, settle, show, to_pixel

pytestmark = pytest.mark.gui

ALL_VIEWS = (ElectrodeGraphView, EmbeddingsView, AttentionView, CouplingView)


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def bundle_paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("views2d")
    paths = {"full": root / "full", "no_phase2": root / "no_phase2", "fmri_only": root / "fmri_only"}
    make_bundle(paths["full"])
    make_bundle(paths["no_phase2"], phase2=False)
    make_bundle(paths["fmri_only"], eeg=False)
    return paths


@pytest.fixture
def full(bundle_paths):
    # A fresh copy per test: some tests edit arrays in memory.
    return load_bundle(bundle_paths["full"], verify=False)


@pytest.fixture
def state(qapp):
    return AppState()


def count_color(image, color, tol=30):
    arr = np.frombuffer(image.convertToFormat(image.Format.Format_RGB888).constBits(), dtype=np.uint8)
    arr = arr.reshape(image.height(), -1)[:, : image.width() * 3].reshape(image.height(), image.width(), 3)
    return int((np.abs(arr.astype(int) - np.asarray(color)).max(axis=2) <= tol).sum())


# ----------------------------------------------------------------------------- geometry helpers
def test_head_outline_encloses_electrodes_with_nose_up():
    pos = np.array([[0.0, 1.0], [-1.2, 0.0], [1.2, 0.0], [0.0, -1.1], [0.3, 0.2]])
    out = head_outline(pos)
    assert np.allclose(out.center, 0)
    assert np.all(np.linalg.norm(pos, axis=1) < out.radius)
    assert out.nose[:, 1].max() > out.radius  # nose tip above the head (towards +y)
    assert out.right_ear[:, 0].min() > 0.9 * out.radius and out.left_ear[:, 0].max() < -0.9 * out.radius


def test_undirected_weights_average_both_directions():
    ei = np.array([[0, 1, 1, 2, 3], [1, 0, 2, 1, 3]])
    pairs, w = undirected_weights(ei, np.array([1.0, 0.5, 0.2, 0.4, 9.0]))
    assert pairs.tolist() == [[0, 1], [1, 2]]  # the self-loop is dropped
    assert np.allclose(w, [0.75, 0.3])


def test_pca_2d_finds_the_axis_of_largest_spread():
    rng = np.random.default_rng(1)
    x = np.column_stack([rng.normal(0, 10, 200), rng.normal(0, 1, 200), rng.normal(0, 0.1, 200)])
    xy, explained = pca_2d(x)
    assert abs(np.corrcoef(xy[:, 0], x[:, 0])[0, 1]) > 0.99
    assert explained[0] > 0.95 and explained[0] > explained[1]


def test_network_order_groups_labelled_rois_and_puts_unlabelled_last():
    order, groups = network_order(["Visual", "", "Default", "Visual", "Default"])
    assert order.tolist() == [0, 3, 2, 4, 1]
    assert groups == [("Visual", 0, 2), ("Default", 2, 4), ("unassigned", 4, 5)]
    assert network_order(["", ""])[1] == []
    # the atlases' own words for "no network" join the ROIs without a label: one group, last
    order, groups = network_order(["unassigned", "Visual", "", "Uncertain", "Visual"])  # (hover: test below)
    assert order.tolist() == [1, 4, 0, 2, 3] and groups == [("Visual", 0, 2), ("unassigned", 2, 5)]
    assert network_order(["unassigned", ""])[1] == []


# ----------------------------------------------------------------------------- missing data
@pytest.mark.parametrize("view_cls", ALL_VIEWS)
def test_views_say_plainly_what_is_missing(qtbot, state, bundle_paths, view_cls):
    view = show(qtbot, view_cls, state, size=(500, 400))
    assert view.message == NO_RESULTS
    state.set_results(load_bundle(bundle_paths["fmri_only"], verify=False))
    assert view.message is not None and "fMRI-only" in view.message
    state.set_results(load_bundle(bundle_paths["no_phase2"], verify=False))
    if view_cls is ElectrodeGraphView:
        assert view.message is None  # the electrode graph needs only phase 1
    else:
        assert "phase-2 results" in view.message and "run the analysis with phase 2 enabled" in view.message
    # Selections and class/band changes on a bundle the view cannot show must not break it.
    state.select_node("roi", 3)
    state.set_band("beta")
    state.set_class(2)
    state.set_results(load_bundle(bundle_paths["full"], verify=False))
    assert view.message is None
    state.set_results(None)
    assert view.message == NO_RESULTS


# ----------------------------------------------------------------------------- electrode graph
def _only_two_edges(bundle, strong=("Fp1", "Fp2"), weak=("C3", "P3"), weak_value=0.15):
    """Alpha attention zero everywhere except two edges (both directions, every layer and head)."""
    ei = bundle.arrays["gat_attention"]["eeg_alpha_edge_index"]
    att = np.zeros_like(bundle.arrays["gat_attention"]["eeg_alpha_attention"])
    pairs = {}
    for (a, b), value in ((strong, 1.0), (weak, weak_value)):
        i, j = CHANNELS.index(a), CHANNELS.index(b)
        hit = ((ei[0] == i) & (ei[1] == j)) | ((ei[0] == j) & (ei[1] == i))
        assert hit.sum() == 2, f"{a}-{b} is not an edge of the test bundle"
        att[:, :, hit] = value
        pairs[(a, b)] = (i, j)
    bundle.arrays["gat_attention"]["eeg_alpha_attention"] = att
    return pairs


def _stroke_thickness(image, widget, p, q, samples=9, reach=14):
    """Mean count of edge-blue pixels across the middle part of segment p-q."""
    a, b = np.array(to_pixel(widget, *p).toTuple(), float), np.array(to_pixel(widget, *q).toTuple(), float)
    d = (b - a) / np.linalg.norm(b - a)
    normal = np.array([-d[1], d[0]])
    counts = []
    for t in np.linspace(0.35, 0.65, samples):
        centre = a + t * (b - a)
        n = 0
        for s in range(-reach, reach + 1):
            r, g, bl = rgb(image, *(centre + s * normal))
            n += bl >= r + 25 and r < 230  # the navy edge colour, blended with white
        counts.append(n)
    return float(np.mean(counts))


def test_electrode_edges_scale_with_attention_and_threshold_hides_weak_ones(qtbot, state, full):
    pairs = _only_two_edges(full)
    state.set_band("alpha")
    state.set_results(full)
    view = show(qtbot, ElectrodeGraphView, state)
    # By default only the strongest quarter of the edges is drawn.
    assert [(e.i, e.j) for e in view.drawn_edges] == [pairs[("Fp1", "Fp2")]]
    view.threshold_slider.setValue(0)
    drawn = {(e.i, e.j): e for e in view.drawn_edges}
    strong, weak = drawn[pairs[("Fp1", "Fp2")]], drawn[pairs[("C3", "P3")]]
    assert len(drawn) == 2
    assert strong.width > 2 * weak.width and strong.alpha > weak.alpha
    pos = view.node_positions
    image = render(view.plot_widget)
    thick = _stroke_thickness(image, view.plot_widget, pos[strong.i], pos[strong.j])
    thin = _stroke_thickness(image, view.plot_widget, pos[weak.i], pos[weak.j])
    assert thin >= 1, "the weak edge is not drawn"
    assert thick >= thin + 3, (thick, thin)

    view.threshold_slider.setValue(50)
    assert [(e.i, e.j) for e in view.drawn_edges] == [pairs[("Fp1", "Fp2")]]
    image = render(view.plot_widget)
    assert _stroke_thickness(image, view.plot_widget, pos[weak.i], pos[weak.j]) == 0
    assert _stroke_thickness(image, view.plot_widget, pos[strong.i], pos[strong.j]) >= thick - 1


def test_electrode_head_selector_uses_one_head_or_the_mean(qtbot, state, full):
    att = full.arrays["gat_attention"]["eeg_alpha_attention"]
    ei = full.arrays["gat_attention"]["eeg_alpha_edge_index"]
    state.set_results(full)
    view = show(qtbot, ElectrodeGraphView, state)
    view.threshold_slider.setValue(0)
    assert view.head_combo.currentText() == "mean" and "mean over heads" in view.note
    assert view.layer_combo.currentIndex() == att.shape[0] - 1
    # the entry is shown whole, not cut
    from PySide6.QtGui import QFontMetrics

    assert view.head_combo.width() > QFontMetrics(view.head_combo.font()).horizontalAdvance("head 4")

    def weights(w):
        pairs, pw = undirected_weights(ei, w)
        return {tuple(p): x for p, x in zip(pairs.tolist(), pw)}

    got = {(e.i, e.j): e.weight for e in view.drawn_edges}
    want = weights(att[-1].mean(axis=0))
    assert got.keys() == want.keys() and all(np.isclose(got[k], want[k]) for k in got)
    view.head_combo.setCurrentIndex(2)  # head 2
    view.layer_combo.setCurrentIndex(0)
    got = {(e.i, e.j): e.weight for e in view.drawn_edges}
    want = weights(att[0, 1])
    assert all(np.isclose(got[k], want[k]) for k in got)


def test_electrode_graph_falls_back_to_graph_edges_without_attention(qtbot, state, bundle_paths):
    bundle = load_bundle(bundle_paths["no_phase2"], verify=False)
    state.set_results(bundle)
    view = show(qtbot, ElectrodeGraphView, state)
    assert "no GAT attention" in view.note
    pairs, _w = undirected_weights(bundle.arrays["graphs"]["eeg_edge_index"], bundle.arrays["graphs"]["eeg_edge_weight"])
    assert len(view.drawn_edges) == len(pairs) > 0
    assert view.head_combo.count() == 0 and not view.head_combo.isEnabled()


def test_electrode_colours_follow_class_and_band(qtbot, state, full):
    state.set_band("alpha")
    state.set_results(full)
    view = show(qtbot, ElectrodeGraphView, state)
    rest = view.node_brushes()
    state.set_class(1)  # "visual": planted alpha saliency at O1, Oz, O2
    visual = view.node_brushes()
    assert visual != rest
    pos = view.node_positions
    image = render(view.plot_widget)
    o1 = rgb(image, *to_pixel(view.plot_widget, *pos[CHANNELS.index("O1")]).toTuple())
    fz = rgb(image, *to_pixel(view.plot_widget, *pos[CHANNELS.index("Fz")]).toTuple())
    assert o1[0] > 180 and o1[1] > 180 and o1[2] < 120, o1  # bright end of viridis (yellow)
    assert fz[2] > fz[1] and fz[0] < 120, fz  # dark end (purple)
    view.band_combo.setCurrentText("beta")  # the band selector writes the shared state
    assert state.selection.band == "beta"
    assert view.node_brushes() != visual
    state.set_band("theta")  # and follows it
    assert view.band_combo.currentText() == "theta"


def test_electrodes_rebuilt_from_their_neighbours_are_ringed_and_named(qtbot, state, full):
    k = CHANNELS.index("T7")
    share = np.zeros(len(CHANNELS))
    share[k] = 0.25
    full.arrays["saliency"]["electrode_interpolated"] = share
    state.set_results(full)
    view = show(qtbot, ElectrodeGraphView, state)
    styles = view.node_ring_styles()
    assert styles[k] == Qt.PenStyle.DashLine and styles.count(Qt.PenStyle.DashLine) == 1
    assert "bad and interpolated in 25% of the recordings" in view.hover_text(k)
    assert "interpolated" not in view.hover_text(CHANNELS.index("Cz"))
    assert "Dashed rings: 1 electrode(s)" in view.note and "T7" in view.note
    # results written before the array existed: no rings
    del full.arrays["saliency"]["electrode_interpolated"]
    state.set_results(None)
    state.set_results(full)
    assert Qt.PenStyle.DashLine not in view.node_ring_styles()
    assert "Dashed rings" not in view.note


def test_electrode_click_selects_and_outside_selection_is_ringed(qtbot, state, full):
    state.set_results(full)
    view = show(qtbot, ElectrodeGraphView, state)
    pos = view.node_positions
    k = CHANNELS.index("C4")
    click(view.plot_widget, *pos[k])
    assert (state.selection.node_kind, state.selection.node_index) == ("electrode", k)
    assert np.allclose(view.highlighted_position(), pos[k])
    state.select_node("electrode", CHANNELS.index("T7"))
    assert np.allclose(view.highlighted_position(), pos[CHANNELS.index("T7")])
    state.select_node("roi", 5)
    assert view.highlighted_position() is None
    text = view.hover_text(CHANNELS.index("Oz"))
    assert text.startswith("Oz") and "CAM (alpha, rest)" in text


def test_electrode_graph_with_pipeline_layout_and_an_unknown_position(qtbot, state, full):
    from eegfmri_viewer.pipeline.electrode_layout import topomap_layout

    pos3d = full.arrays["saliency"]["ch_pos"].copy()
    t8 = CHANNELS.index("T8")
    pos3d[t8] = np.nan
    full.arrays["saliency"]["ch_pos_2d"] = topomap_layout(pos3d)
    state.set_results(full)
    view = show(qtbot, ElectrodeGraphView, state)
    assert len(view.node_brushes()) == len(CHANNELS) - 1
    assert all(t8 not in (e.i, e.j) for e in view.drawn_edges) and view.drawn_edges
    assert "1 electrode(s) without a known position" in view.note
    state.select_node("electrode", t8)
    assert view.highlighted_position() is None
    # Every electrode with a position is painted: its pixel is not the white background.
    image = render(view.plot_widget)
    for k in range(len(CHANNELS)):
        if k != t8:
            assert rgb(image, *to_pixel(view.plot_widget, *view.node_positions[k]).toTuple()).min() < 235


def test_electrode_hover_shows_the_channel(qtbot, state, full):
    state.set_results(full)
    view = show(qtbot, ElectrodeGraphView, state)
    pos = view.node_positions[CHANNELS.index("Pz")]
    render(view.plot_widget)
    hover(view.plot_widget, *pos)
    tip = view.plot_widget.getPlotItem().getViewBox().toolTip()
    assert tip.startswith("Pz") and "CAM" in tip


# The views as the Attention & fusion and Embeddings views show them: the bands in the analysis's order, then fMRI.
SHOWN = [b[0] for b in BANDS] + ["fmri"]
ORDER = [VIEWS.index(v) for v in SHOWN]


# ----------------------------------------------------------------------------- embeddings
def test_embeddings_draw_one_coloured_cloud_per_view(qtbot, state, full):
    state.set_results(full)
    view = show(qtbot, EmbeddingsView, state)
    # the analysis's band order (low to high frequency), then fMRI: not the bundle's (the paper's) order
    assert view.views == SHOWN + ["fused"]
    emb = full.arrays["embeddings"]
    stacked = np.concatenate([emb[v] for v in view.views])
    xy, _ = pca_2d(stacked)
    n = len(emb["node_index"])
    for k, v in enumerate(view.views):
        assert np.allclose(view.projected(v), xy[k * n:(k + 1) * n])
    # The bundle plants view means 0..5: PCA 1 orders the clouds by that mean.
    centres = [view.projected(v)[:, 0].mean() for v in VIEWS]
    assert abs(np.corrcoef(centres, np.arange(len(VIEWS)))[0, 1]) > 0.9
    image = render(view.plot_widget)
    for v in VIEWS:
        assert count_color(image, VIEW_COLORS[v], tol=25) > 30, v


def test_embeddings_highlight_outside_selection_and_click_selects(qtbot, state, full):
    state.set_results(full)
    view = show(qtbot, EmbeddingsView, state)
    node_index = full.arrays["embeddings"]["node_index"]
    state.select_node("roi", int(node_index[3]))
    expected = np.array([view.projected(v)[3] for v in view.views])
    assert np.allclose(view.highlighted_points(), expected)
    image = render(view.plot_widget)
    # A black ring around the selected fmri point.
    centre = np.array(to_pixel(view.plot_widget, *view.projected("fmri")[3]).toTuple(), float)
    ring = [rgb(image, *(centre + 10 * np.array([np.cos(t), np.sin(t)]))) for t in np.linspace(0, 2 * np.pi, 16)]
    assert sum(c.max() < 90 for c in ring) >= 6

    # Click the fmri point that lies farthest from every other point.
    everything = np.concatenate([view.projected(v) for v in view.views])
    fmri = view.projected("fmri")
    dist = np.linalg.norm(fmri[:, None] - everything[None], axis=2)
    dist[dist == 0] = np.inf
    row = int(dist.min(axis=1).argmax())
    click(view.plot_widget, *fmri[row])
    assert (state.selection.node_kind, state.selection.node_index) == ("roi", int(node_index[row]))

    outside = int(np.setdiff1d(np.arange(200), node_index)[0])
    state.select_node("roi", outside)
    assert len(view.highlighted_points()) == 0


def test_embeddings_tsne_projection(qtbot, state, full):
    state.set_results(full)
    view = show(qtbot, EmbeddingsView, state)
    pca = view.projected("fmri")
    view.set_method("t-SNE")
    tsne = view.projected("fmri")
    assert tsne.shape == pca.shape and not np.allclose(tsne, pca)
    assert np.isfinite(tsne).all()


# ----------------------------------------------------------------------------- attention + fusion
def test_attention_heatmap_mean_node_and_head(qtbot, state, full):
    att = full.arrays["fusion"]["cross_view_attention"]
    node_index = full.arrays["fusion"]["node_index"]
    state.set_results(full)
    view = show(qtbot, AttentionView, state)
    assert view.views == SHOWN
    att = att[..., ORDER, :][..., ORDER]  # the bundle's view axes in the order shown
    assert np.allclose(view.matrix, att.mean(axis=(0, 1)))
    assert np.allclose(view.matrix.sum(axis=1), 1)
    assert view.node_weights() is None
    state.select_node("roi", int(node_index[4]))
    assert view.node_row == 4 and np.allclose(view.matrix, att[4].mean(axis=0))
    assert "mean over heads" in view.title and str(full.arrays["saliency"]["roi_names"][node_index[4]]) in view.title
    assert np.allclose(view.node_weights(), full.arrays["fusion"]["fusion_weights"][4][ORDER])
    view.head_combo.setCurrentIndex(2)
    assert np.allclose(view.matrix, att[4, 1])
    view.scope_combo.setCurrentText("mean over nodes")
    assert view.node_row is None and np.allclose(view.matrix, att[:, 1].mean(axis=0))


def test_attention_pixels_hover_and_clicks(qtbot, state, full):
    state.select_node("roi", int(full.arrays["fusion"]["node_index"][2]))
    state.set_results(full)
    view = show(qtbot, AttentionView, state)
    m = view.matrix
    widget = view.heatmap_widget
    image = render(widget)
    hi = np.unravel_index(m.argmax(), m.shape)
    lo = np.unravel_index(m.argmin(), m.shape)
    # Sample off the centre, where the value text is written.
    hi_px = rgb(image, *to_pixel(widget, hi[1] + 0.15, hi[0] + 0.2).toTuple())
    lo_px = rgb(image, *to_pixel(widget, lo[1] + 0.15, lo[0] + 0.2).toTuple())
    assert hi_px[0] > 150 and hi_px[1] > 150, hi_px  # bright (yellow-green) end of viridis
    assert lo_px[2] > lo_px[1] and lo_px[0] < 100, lo_px  # dark (purple) end

    r, c = SHOWN.index("fmri"), SHOWN.index("theta")
    hover(widget, c + 0.5, r + 0.5)
    assert view.hover_text == view.value_text(r, c)
    assert view.hover_text.startswith("fmri attends to theta")

    click(widget, c + 0.3, r + 0.3)  # fMRI row, theta column: the band is theta
    assert state.selection.band == "theta"
    frame = view.band_frame()
    assert len(frame) and frame[:, 0].min() == 0 and {c, c + 1} <= set(frame[:, 0])

    bars = view.bars_widget
    render(bars)
    g = SHOWN.index("gamma")
    click(bars, g, 0.01)
    assert state.selection.band == "gamma"
    image = render(bars)
    node_bar = rgb(image, *to_pixel(bars, g + 0.2, 0.005).toTuple())
    assert np.abs(node_bar - np.array(VIEW_COLORS["gamma"])).max() < 30, node_bar


# ----------------------------------------------------------------------------- coupling
def test_coupling_heatmap_groups_by_network_and_colours_cells(qtbot, state, full):
    node_index = full.arrays["coupling"]["node_index"]
    networks = full.arrays["saliency"]["roi_networks"].astype("<U16")
    for k, roi in enumerate(node_index):
        networks[roi] = "Visual" if k % 2 else "Default mode"
    full.arrays["saliency"]["roi_networks"] = networks
    state.set_results(full)
    view = show(qtbot, CouplingView, state)
    assert [g[0] for g in view.groups] == ["Default mode", "Visual"]
    order = view.display_order
    assert set(networks[order[:view.groups[0][2]]]) == {"Default mode"}
    assert set(networks[order[view.groups[1][1]:]]) == {"Visual"}
    # Names where they fit; their short forms when the heat map is narrow.
    view.resize(1200, 500)
    qtbot.waitUntil(lambda: view.bottom_tick_labels() == ["Default mode", "Visual"], timeout=3000)
    view.resize(200, 500)
    qtbot.waitUntil(lambda: view.bottom_tick_labels() == ["DM", "Vis"], timeout=3000)

    coupling = full.arrays["coupling"]["coupling"]
    widget = view.heatmap_widget
    image = render(widget)
    hi = np.unravel_index(coupling.argmax(), coupling.shape)
    lo = np.unravel_index(coupling.argmin(), coupling.shape)
    hp = view.cell_center(hi[0], int(node_index[hi[1]]))
    lp = view.cell_center(lo[0], int(node_index[lo[1]]))
    hi_px = rgb(image, *to_pixel(widget, hp.x() + 0.2, hp.y() + 0.2).toTuple())
    lo_px = rgb(image, *to_pixel(widget, lp.x() + 0.2, lp.y() + 0.2).toTuple())
    assert hi_px[0] > hi_px[2] + 60, hi_px  # positive coupling: red
    assert lo_px[2] > lo_px[0] + 60, lo_px  # negative coupling: blue


def test_all_positive_coupling_spans_a_sequential_scale_not_one_shade_of_red(qtbot, state, full, tmp_path):
    bundle = copy.deepcopy(full)
    cos = np.abs(bundle.arrays["coupling"]["coupling"]) * 0.5 + 0.45  # 0.45 ... 0.95, as on the demo
    bundle.arrays["coupling"]["coupling"] = cos
    state.set_results(bundle)
    view = show(qtbot, CouplingView, state)
    node_index = bundle.arrays["coupling"]["node_index"]
    widget = view.heatmap_widget
    image = render(widget)

    def cell(index):
        b, k = np.unravel_index(index, cos.shape)
        p = view.cell_center(b, int(node_index[k]))
        return rgb(image, *to_pixel(widget, p.x() + 0.2, p.y() + 0.2).toTuple())

    assert np.abs(cell(cos.argmax()) - (253, 231, 37)).max() < 40  # the largest: viridis' yellow
    assert np.abs(cell(cos.argmin()) - (68, 1, 84)).max() < 40  # the smallest: its dark purple
    assert view._colorbar.levels() == pytest.approx((cos.min(), cos.max()))
    # the selected band's frame stays visible over the darkest cells: a dark line edged in white
    state.set_band("alpha")
    image = render(widget)
    dashes = 0
    for x in np.linspace(0.5, len(node_index) - 0.5, 12):
        p = to_pixel(widget, x, 2.0)
        line = [rgb(image, p.x(), p.y() + d) for d in (-2, -1, 0, 1, 2)]
        assert max(px.min() for px in line) > 185, line  # white all along, dash or gap
        dashes += min(px.max() for px in line) < 70
    assert dashes >= 3
    # the hover names the network group the axis shows: one "unassigned" for the atlases' words for none
    networks = bundle.arrays["saliency"]["roi_networks"].astype("<U16")
    networks[node_index] = "Visual"
    networks[node_index[0]] = "Uncertain"
    bundle.arrays["saliency"]["roi_networks"] = networks
    state.set_results(None)
    state.set_results(bundle)
    assert view.value_text(2, int(np.flatnonzero(view.display_order == node_index[0])[0])).endswith("[unassigned]")
    # (this bundle is a copy:) a ROI without BOLD has no lagged r: said, not a NaN drawn as the peak
    lag_rows = view._lag_index == node_index[0]
    view._lag_array("lagged_corr")[2, lag_rows] = np.nan
    view._lag_array("peak_lag_s")[2, lag_rows] = np.nan
    assert "| no lagged r (no signal at this ROI)" in view.value_text(
        2, int(np.flatnonzero(view.display_order == node_index[0])[0]))


def test_coupling_click_selects_band_and_roi_and_lag_curves_follow(qtbot, state, full):
    node_index = full.arrays["coupling"]["node_index"]
    state.set_results(full)
    view = show(qtbot, CouplingView, state)
    # Nothing selected: the lag curves of the strongest coupling in the selected band (alpha).
    lagged = full.arrays["coupling"]["lagged_corr"]
    strongest = int(np.argmax(np.abs(lagged[2]).max(axis=-1)))
    assert "the strongest coupling; click a column to choose" in view.lag_title
    n_rec = len(full.dataset["recordings"])
    assert f"<b>Lagged correlation</b> ({n_rec} recordings pooled)" in view.lag_title  # not one recording's r
    assert f"(index {int(node_index[strongest])})" in view.lag_title
    assert np.allclose(view.curves()[2][2], lagged[2, strongest])
    widget = view.heatmap_widget
    render(widget)
    cell = view.cell_center(2, int(node_index[0]))  # alpha x node 0: planted peak at +4 s
    hover(widget, cell.x(), cell.y())
    assert view.hover_text == view.value_text(2, int(np.flatnonzero(view.display_order == node_index[0])[0]))
    # the cell's colour (embedding cosine) and the p-value (lagged correlation) are named apart: they can disagree
    cos = full.arrays["coupling"]["coupling"][2, 0]
    assert f": embedding cos {cos:.3f} | lagged r " in view.hover_text
    # at the smallest p that 200 permutations give (1/201) nothing was beaten: a bound, not a measure
    assert view.p_text(1 / 201) == "\u2264\u00a00.005" and view.p_text(0.0199) == "0.02"
    state.set_band("delta")
    click(widget, cell.x(), cell.y())
    assert state.selection.band == "alpha"
    assert (state.selection.node_kind, state.selection.node_index) == ("roi", int(node_index[0]))
    curves = view.curves()
    assert len(curves) == 5
    names = [c[0] for c in curves]
    assert names[2].startswith("alpha") and ", p 0." in names[2]
    p_fwe = full.arrays["coupling"]["p_value_fwer"]
    assert f"FWE {p_fwe[2, 0]:.2g}" in names[2]
    assert f"FWE over 5 \u00d7 {len(node_index)} tests" in view.lag_key
    assert f"corrected for all 5 bands \u00d7 {len(node_index)} ROIs" in view.lag_key_tooltip
    # a bundle whose config does not name the null was written when shuffled blocks were the only one
    assert "p: 200 block permutations" in view.lag_key
    # the key: one row per band with its short name, peak r and lag, p and corrected p
    cp = full.arrays["coupling"]
    for k, short in enumerate(["\u03b4", "\u03b8", "\u03b1", "\u03b2", "\u03b3"]):
        at_peak = lagged[k, 0][np.argmin(np.abs(cp["lags_s"] - cp["peak_lag_s"][k, 0]))]
        assert short in view.lag_key and f"{at_peak:+.2f}" in view.lag_key
    assert f"<b>{p_fwe[2, 0]:.2g}</b>" in view.lag_key  # the selected band (alpha) is bold
    assert curves[2][3] > max(c[3] for k, c in enumerate(curves) if k != 2)  # selected band drawn thicker
    assert "strongest" not in view.lag_title
    assert np.allclose(curves[2][2], lagged[2, 0])
    peak = view.peaks()[2]
    assert peak[0] == pytest.approx(4.0)
    assert peak[1] == pytest.approx(lagged[2, 0][np.argmin(np.abs(full.arrays["coupling"]["lags_s"] - 4.0))])
    box = view.roi_box()
    col = int(np.flatnonzero(view.display_order == node_index[0])[0])
    assert box[:, 0].min() == col and box[:, 0].max() == col + 1


def test_coupling_key_sits_beside_the_lag_plot_unless_the_view_is_narrow(qtbot, state, full):
    state.set_results(full)
    view = show(qtbot, CouplingView, state, size=(600, 360))
    # the heat map says what its cosine compares, and where EEG-BOLD coupling is read instead
    assert "not time courses" in view.heat_note
    qtbot.waitUntil(view.key_beside_plot, timeout=3000)
    assert view.lag_widget.height() >= 80  # the docked height leaves the plot readable
    assert "p: 200 block permutations" in view.lag_key
    view.resize(500, 600)  # the key's table ("\u2264 0.005" cells) and a readable plot need more than this
    qtbot.waitUntil(lambda: not view.key_beside_plot(), timeout=3000)
    view.resize(300, 600)
    qtbot.waitUntil(lambda: not view.key_beside_plot(), timeout=3000)
    # under the plot the key keeps its table; how p was computed moves to its tooltip
    assert "FWE" in view.lag_key and "permutations" not in view.lag_key
    assert "200 surrogate BOLD series (block permutations" in view.lag_key_tooltip


def test_coupling_view_scrolls_rather_than_overlapping_when_short(qtbot, state, full):
    state.set_results(full)
    # the Coupling dock with the Teaching view open: a third of the bottom row
    view = show(qtbot, CouplingView, state, size=(340, 360))
    qtbot.waitUntil(lambda: not view.key_beside_plot(), timeout=3000)
    settle()
    lags, key = view.lag_widget, view._lag_key

    def bottom_in_view(widget):
        return widget.mapTo(view, widget.rect().bottomLeft()).y()

    def top_in_view(widget):
        return widget.mapTo(view, widget.rect().topLeft()).y()

    assert bottom_in_view(lags) <= top_in_view(key)  # the key starts under the plot, not over it
    assert lags.height() >= 80
    # every line of the key gets its room (it is not squeezed and cut)
    assert key.height() >= key.heightForWidth(key.width())
    assert view._lag_title.height() >= view._lag_title.heightForWidth(view._lag_title.width())
    assert view._scroll.verticalScrollBar().maximum() > 0  # the rest is reached by scrolling


def test_coupling_highlights_roi_selected_elsewhere(qtbot, state, full):
    node_index = full.arrays["coupling"]["node_index"]
    state.set_results(full)
    view = show(qtbot, CouplingView, state)
    state.select_node("roi", int(node_index[5]))
    col = int(np.flatnonzero(view.display_order == node_index[5])[0])
    box = view.roi_box()
    assert box[:, 0].min() == col
    widget = view.heatmap_widget
    image = render(widget)
    # The frame's left edge is black.
    edge = rgb(image, *to_pixel(widget, col, 2.5).toTuple())
    assert edge.max() < 80, edge
    roi_name = str(full.arrays["saliency"]["roi_names"][node_index[5]])
    assert roi_name in view.lag_title
    outside = int(np.setdiff1d(np.arange(200), node_index)[0])
    state.select_node("roi", outside)
    assert len(view.roi_box()) == 0 and "not one of" in view.lag_title


def test_screenshots_of_filled_views(qtbot, state, full, tmp_path):
    """All four views filled from one bundle render without blank plots."""
    state.set_band("alpha")
    state.set_class(1)
    state.set_results(full)
    state.select_node("roi", int(full.arrays["fusion"]["node_index"][0]))
    for view_cls in ALL_VIEWS:
        view = show(qtbot, view_cls, state, size=(700, 500))
        image = view.grab().toImage()
        assert count_color(image, (255, 255, 255), tol=3) < 0.9 * image.width() * image.height()
        assert image.save(str(tmp_path / f"{view_cls.__name__}.png"))


def test_electrode_names_and_sizes_follow_the_room_on_screen(qtbot, state, full):
    state.set_results(full)
    view = show(qtbot, ElectrodeGraphView, state)
    view.resize(900, 800)
    qtbot.waitUntil(lambda: view.spacing_px() >= 30, timeout=3000)
    assert view.labels_shown()
    big = max(view._nodes.data["size"])
    view.resize(260, 230)
    qtbot.waitUntil(lambda: view.spacing_px() < 30, timeout=3000)
    assert not view.labels_shown()
    small = max(view._nodes.data["size"])
    # Discs stay apart: no larger than the spacing of the electrodes on screen.
    assert small < big and small <= 0.9 * view.spacing_px() + 6


def test_attention_values_are_written_only_in_cells_wide_enough(qtbot, state, full):
    state.set_results(full)
    view = show(qtbot, AttentionView, state, size=(1000, 600))
    qtbot.waitUntil(view.cell_values_shown, timeout=3000)
    view.resize(260, 400)
    qtbot.waitUntil(lambda: not view.cell_values_shown(), timeout=3000)


def test_coupling_lag_curves_of_any_roi_when_the_bundle_has_them(qtbot, state, tmp_path):
    make_bundle(tmp_path / "all", all_roi_lags=True)
    bundle = load_bundle(tmp_path / "all")
    cp = bundle.arrays["coupling"]
    assert 200 not in cp["node_index"]
    bundle.config["coupling"] = {"null": "shift"}
    state.set_results(bundle)
    view = show(qtbot, CouplingView, state)
    state.select_node("roi", 200)  # not a phase-2 node: its lag curves still show
    assert "not one of" not in view.lag_title and "(index 200)" in view.lag_title
    curves = view.curves()
    assert len(curves) == 5 and np.allclose(curves[3][2], cp["roi_lagged_corr"][3, 200])
    assert view.peaks()[3][0] == pytest.approx(-2.0)
    # on a phase-2 node the ROI arrays and the node arrays agree
    node = int(cp["node_index"][0])
    state.select_node("roi", node)
    assert np.allclose(view.curves()[2][2], cp["lagged_corr"][2, 0])
    # p-values come from the all-ROI family in the curves and in the heat map's hover text alike:
    # the corrected p of a ROI depends on how many tests it was corrected for
    fwe = f"FWE {cp['roi_p_value_fwer'][2, node]:.2g}"
    assert fwe in view.curves()[2][0]
    assert f"\u00d7 {cp['roi_lagged_corr'].shape[1]} tests" in view.lag_key
    assert "p: 200 circular shifts" in view.lag_key
    assert "beyond the task" not in view.lag_title
    # an analysis run with [coupling] remove_task says so
    bundle.config["coupling"]["remove_task"] = True
    save_bundle(tmp_path / "task_removed", bundle)
    state.set_results(load_bundle(tmp_path / "task_removed"))
    assert "Lagged correlation beyond the task" in view.lag_title
    col = int(np.flatnonzero(view.display_order == node)[0])
    assert fwe in view.value_text(2, col)


def test_coupling_puts_the_lagged_r_of_the_band_on_the_cortex(qtbot, state, tmp_path):
    make_bundle(tmp_path / "all", all_roi_lags=True)
    bundle = load_bundle(tmp_path / "all")
    cp = bundle.arrays["coupling"]
    n_rois = len(bundle.get("saliency", "roi_coords"))
    state.set_results(bundle)
    state.set_band("beta")
    view = show(qtbot, CouplingView, state)
    assert state.overlay is None and not view.significant_check.isEnabled()
    view.cortex_check.setChecked(True)
    overlay = state.overlay
    assert overlay.owner == "Coupling" and "beta" in overlay.title and len(overlay.values) == n_rois

    def peak_r(band):
        corr = cp["roi_lagged_corr"][band]
        return corr[np.arange(n_rois), np.abs(corr).argmax(-1)]

    # every atlas ROI, signed r at the peak: ROI 200's planted beta peak is negative
    np.testing.assert_allclose(overlay.values, peak_r(3))
    assert overlay.values[200] < -0.8
    state.set_band("alpha")
    assert "alpha" in state.overlay.title
    np.testing.assert_allclose(state.overlay.values, peak_r(2))
    # only the ROIs that survive the correction for all bands x ROIs
    assert view.significant_check.isEnabled()
    view.significant_check.setChecked(True)
    keep = cp["roi_p_value_fwer"][2] < 0.05
    assert 0 < keep.sum() < n_rois
    values = state.overlay.values
    assert np.isnan(values[~keep]).all() and np.allclose(values[keep], peak_r(2)[keep])
    assert "FWE p < 0.05" in state.overlay.title
    view.cortex_check.setChecked(False)
    assert state.overlay is None


def test_coupling_overlay_of_a_bundle_with_node_lags_only_leaves_other_rois_blank(qtbot, state, full):
    state.set_results(full)
    view = show(qtbot, CouplingView, state)
    view.cortex_check.setChecked(True)
    values = state.overlay.values
    nodes = full.arrays["coupling"]["node_index"]
    assert np.isfinite(values[nodes]).all()
    assert np.isnan(np.delete(values, nodes)).all()
    # new results clear the overlay; the box still ticked puts the new bundle's map back
    state.set_results(load_bundle(full.path))
    assert state.overlay is not None and state.overlay.owner == "Coupling"
