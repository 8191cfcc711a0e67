"""Teaching view: Laplacian eigenmodes, learned Chebyshev filter responses, impulse responses.

Bundles come from tests/bundle_factory.py; phase-1 weights are those of real
(untrained) ``SpectralGCNN`` models built on k-NN graphs of the bundle's ROIs and
electrodes, as the pipeline saves them. Colours, curves and selections are read
back from the pyqtgraph items and compared with graphs/spectral.py; clicks are
real mouse events. Run under Xvfb: ``xvfb-run -a .venv/bin/python -m pytest tests/test_teaching_view.py``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from bundle_factory import CHANNELS, make_bundle
from eegfmri_viewer.graphs import spatial_knn_graph
from eegfmri_viewer.graphs.spectral import (
    chebyshev_impulse_response,
    chebyshev_response,
    chebyshev_theta_from_state_dict,
    hop_distance,
    laplacian_modes,
)
from eegfmri_viewer.results import load_bundle
from eegfmri_viewer.state import AppState
from eegfmri_viewer.views.bundle_needs import NO_RESULTS
from eegfmri_viewer.views.teaching_view import EEG_PREFIX, FMRI_GRAPH, MAP_IMPULSE, MAP_MODE, TeachingView
from plot_view_testing import click, settle, to_pixel
from PySide6.QtCore import QRect
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QLabel
from plot_view_testing import show as show_view

pytestmark = pytest.mark.gui


# ----------------------------------------------------------------------------- fixtures
def phase1_weights(bundle):
    """State dicts of phase-1 models on k-NN graphs: fMRI ROIs, and the alpha band's electrodes."""
    import torch

    from eegfmri_viewer.models.cheb_gcnn import SpectralGCNN

    torch.manual_seed(0)
    graphs = {"fmri": spatial_knn_graph(bundle.get("saliency", "roi_coords"), k=5),
              "eeg_alpha": spatial_knn_graph(bundle.get("saliency", "ch_pos"), k=3)}
    weights = {}
    for name, g in graphs.items():
        model = SpectralGCNN(40, 3, sfreq=100.0, edge_index=g.edge_index, edge_weight=g.edge_weight,
                             lambda_max=g.lambda_max, kernel_s=0.1, hidden=(5,), K=3, n_filters=2, n_segments=2,
                             node_embedding=2, n_nodes=g.n_nodes)
        weights[name] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return weights


@pytest.fixture(scope="module")
def bundle_paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("teaching")
    paths = {"full": root / "full", "fmri_only": root / "fmri_only"}
    make_bundle(paths["full"], phase2=False)
    make_bundle(paths["fmri_only"], eeg=False, phase2=False)
    return paths


@pytest.fixture(scope="module")
def weights(bundle_paths):
    return phase1_weights(load_bundle(bundle_paths["full"], verify=False))


@pytest.fixture
def full(bundle_paths, weights):
    bundle = load_bundle(bundle_paths["full"], verify=False)
    bundle.weights = dict(weights)
    return bundle


@pytest.fixture
def state(qapp):
    return AppState()


def show(qtbot, state, size=(1000, 900)):
    return show_view(qtbot, TeachingView, state, size)


def sd_graph(sd):
    return sd["edge_index"].numpy(), sd["edge_weight"].numpy().astype(float), float(sd["lambda_max"])


def assert_colours_follow(view, values):
    scale = np.abs(values).max()
    expected = [view.color_of(values[node], scale) for node in view.point_nodes]
    assert view.node_brushes() == expected


# ----------------------------------------------------------------------------- tests
def test_mode_slider_draws_the_eigenvector_and_moves_the_spectrum_mark(qtbot, state, full, weights):
    state.set_results(full)
    view = show(qtbot, state)
    assert view.message is None
    assert view.graph_combo.currentText() == FMRI_GRAPH
    assert [view.graph_combo.itemText(i) for i in range(view.graph_combo.count())] == \
        [FMRI_GRAPH] + [EEG_PREFIX + b for b in full.bands]
    ei, ew, lmax = sd_graph(weights["fmri"])
    n = len(full.get("saliency", "roi_coords"))
    lam, U = laplacian_modes(ei, ew, n)
    np.testing.assert_allclose(view.eigenvalues, lam, atol=1e-9)
    assert view.lambda_max == pytest.approx(lmax, rel=1e-6)
    assert view.decomposition_ms < 500  # 264 ROIs: milliseconds, fine on the GUI thread
    # every ROI is drawn twice (axial and sagittal panels)
    assert sorted(view.point_nodes.tolist()) == sorted(list(range(n)) * 2)

    view.mode_slider.setValue(5)
    settle()
    assert view.mode_spin.value() == 5
    np.testing.assert_allclose(view.node_values(), U[:, 5])
    assert_colours_follow(view, U[:, 5])
    assert view.spectrum_highlight() == pytest.approx((5.0, lam[5]))
    assert "k = 5" in view.mode_text and "changes sign across" in view.mode_text
    before = view.node_brushes()

    view.mode_spin.setValue(200)
    settle()
    assert view.mode_slider.value() == 200
    np.testing.assert_allclose(view.node_values(), U[:, 200])
    assert_colours_follow(view, U[:, 200])
    assert view.node_brushes() != before
    assert view.spectrum_highlight() == pytest.approx((200.0, lam[200]))

    view.mode_slider.setValue(0)
    settle()
    assert "constant" in view.mode_text and "\u03bb = 0 " in view.mode_text


def test_filter_curves_are_the_chebyshev_responses_of_the_first_layer(qtbot, state, full, weights):
    state.set_results(full)
    view = show(qtbot, state)
    theta = chebyshev_theta_from_state_dict(weights["fmri"])
    np.testing.assert_allclose(view.theta, theta)
    _ei, _ew, lmax = sd_graph(weights["fmri"])
    curves = view.filter_curves()
    name, x, y = curves[0]
    assert x[0] == 0 and x[-1] == pytest.approx(lmax, rel=1e-6)
    g = chebyshev_response(theta, x, lmax)
    np.testing.assert_allclose(y, np.abs(g).mean(axis=(0, 1)), atol=1e-9)
    # the strongest individual filters, then the selected one (the mean filter)
    norms = np.linalg.norm(theta, axis=2)
    o, i = np.unravel_index(np.argmax(norms), norms.shape)
    assert curves[1][0] == f"filter out {o} \u2190 in {i}"
    np.testing.assert_allclose(curves[1][2], g[o, i], atol=1e-9)
    # the selected filter is the strongest one by default
    assert view.filter_combo.currentIndex() == 1
    np.testing.assert_allclose(curves[-1][2], g[o, i], atol=1e-9)
    np.testing.assert_allclose(view.tick_lambdas(), view.eigenvalues)
    assert "K = 3" in view.filter_note and "fmri" in view.filter_note

    view.filter_combo.setCurrentIndex(0)
    settle()
    np.testing.assert_allclose(view.filter_curves()[-1][2], chebyshev_response(theta.mean(axis=(0, 1)), x, lmax),
                               atol=1e-9)


def test_node_selected_in_the_state_moves_the_impulse(qtbot, state, full, weights):
    state.set_results(full)
    view = show(qtbot, state)
    view.map_combo.setCurrentText(MAP_IMPULSE)
    settle()
    ei, ew, lmax = sd_graph(weights["fmri"])
    theta = chebyshev_theta_from_state_dict(weights["fmri"])
    n = len(full.get("saliency", "roi_coords"))
    assert view.impulse_node is not None and "no node selected" in view.impulse_text

    state.select_node("roi", 100)
    settle()
    assert view.impulse_node == 100
    view.filter_combo.setCurrentIndex(0)  # the mean filter
    settle()
    expected = chebyshev_impulse_response(ei, ew, n, lmax, theta.mean(axis=(0, 1)), 100)
    np.testing.assert_allclose(view.node_values(), expected, atol=1e-12)
    assert_colours_follow(view, expected)
    hops = hop_distance(ei, n, 100)
    np.testing.assert_array_equal(view.hops, hops)
    assert np.all(view.node_values()[hops > 2] == 0) and np.any(view.node_values()[hops == 2] != 0)
    assert "K = 3" in view.impulse_text and "reaches 2 hops" in view.impulse_text
    # ring colours: black at the impulse, grey out of reach
    rings = dict(zip(view.point_nodes.tolist(), view.node_rings()))
    assert rings[100][:3] == (0, 0, 0)
    far = int(np.flatnonzero(hops > 2)[0])
    assert rings[far][:3] == (200, 200, 200)

    view.filter_combo.setCurrentIndex(2)
    settle()
    pair = view.filter_combo.currentText().split()
    o, i = int(pair[2]), int(pair[-1])
    np.testing.assert_allclose(view.node_values(), chebyshev_impulse_response(ei, ew, n, lmax, theta[o, i], 100),
                               atol=1e-12)
    # an electrode selection is not a node of the ROI graph: the impulse stays
    state.select_node("electrode", 3)
    settle()
    assert view.impulse_node == 100


def test_eeg_band_graph_follows_the_band_and_a_click_selects_the_electrode(qtbot, state, full, weights):
    gamma = spatial_knn_graph(full.get("saliency", "ch_pos"), k=2)
    full.arrays["graphs"].update(eeg_gamma_edge_index=gamma.edge_index, eeg_gamma_edge_weight=gamma.edge_weight,
                                 eeg_gamma_lambda_max=np.array(gamma.lambda_max))
    state.set_results(full)
    view = show(qtbot, state)
    view.graph_combo.setCurrentText(EEG_PREFIX + "alpha")
    settle()
    assert state.selection.band == "alpha" and view.node_kind == "electrode"
    ei, ew, _lmax = sd_graph(weights["eeg_alpha"])
    # the band's own graph (stored with its weights), not graphs.npz's electrode graph
    np.testing.assert_allclose(view.eigenvalues, laplacian_modes(ei, ew, len(CHANNELS))[0], atol=1e-9)
    assert view.theta is not None and "eeg_alpha" in view.filter_note

    oz = CHANNELS.index("Oz")
    x, y = full.get("saliency", "ch_pos_2d")[oz]
    click(view.map_widget, x, y)
    assert (state.selection.node_kind, state.selection.node_index) == ("electrode", oz)

    view.map_combo.setCurrentText(MAP_IMPULSE)
    settle()
    assert view.impulse_node == oz and "Oz" in view.impulse_text

    # the band chosen elsewhere: the view follows; beta has no weights, so it says so
    state.set_band("beta")
    settle()
    assert view.graph_combo.currentText() == EEG_PREFIX + "beta"
    ge = full.get("graphs", "eeg_edge_index")
    np.testing.assert_allclose(view.eigenvalues,
                               laplacian_modes(ge, full.get("graphs", "eeg_edge_weight"), len(CHANNELS))[0],
                               atol=1e-9)
    assert view.theta is None and "no phase-1 weights" in view.filter_note
    assert view.map_combo.currentText() == MAP_MODE  # no filter, no impulse response
    # a band's own graph in graphs.npz comes before the broadband electrode graph
    state.set_band("gamma")
    settle()
    np.testing.assert_allclose(view.eigenvalues, laplacian_modes(gamma.edge_index, gamma.edge_weight,
                                                                 len(CHANNELS))[0], atol=1e-9)
    assert view.lambda_max == pytest.approx(gamma.lambda_max) and "gamma's own" in view.filter_note


def test_map_pixels_show_the_mode_colours(qtbot, state, full):
    state.set_results(full)
    view = show(qtbot, state)
    view.mode_slider.setValue(260)
    settle()
    image = view.map_widget.viewport().grab().toImage()
    white = sum(image.pixelColor(x, y).lightness() > 250
                for x in range(0, image.width(), 7) for y in range(0, image.height(), 7))
    total = len(range(0, image.width(), 7)) * len(range(0, image.height(), 7))
    assert white < 0.97 * total  # something is drawn
    values = view.node_values()
    p = int(np.argmax(np.abs(values)))  # the most saturated node
    point = int(np.flatnonzero(view.point_nodes == p)[0])
    px = to_pixel(view.map_widget, *view.point_positions[point])
    c = image.pixelColor(px.x(), px.y())
    want = view.color_of(values[p], np.abs(values).max())
    assert max(abs(c.red() - want[0]), abs(c.green() - want[1]), abs(c.blue() - want[2])) < 40
    assert view.grab().width() > 0


def test_missing_parts_are_said_plainly(qtbot, state, bundle_paths):
    view = show(qtbot, state, size=(700, 500))
    assert view.message == NO_RESULTS

    no_graphs = load_bundle(bundle_paths["full"], verify=False)
    del no_graphs.arrays["graphs"]
    state.set_results(no_graphs)
    settle()
    assert view.message is not None and "graphs.npz" in view.message

    fmri_only = load_bundle(bundle_paths["fmri_only"], verify=False)
    state.set_results(fmri_only)
    settle()
    assert view.message is None
    assert [view.graph_combo.itemText(i) for i in range(view.graph_combo.count())] == [FMRI_GRAPH]
    assert "no phase-1 weights" in view.filter_note and view.theta is None
    assert not view.filter_widget.isVisible()
    assert not view.map_combo.model().item(1).isEnabled()
    # graphs.npz without λmax (older bundles): λmax is the largest eigenvalue
    assert view.lambda_max == pytest.approx(view.eigenvalues[-1])


def test_weights_are_read_from_the_bundle_folder_when_not_loaded(qtbot, state, tmp_path, weights):
    import torch

    path = tmp_path / "bundle"
    make_bundle(path, eeg=False, phase2=False)
    (path / "weights").mkdir()
    torch.save(weights["fmri"], path / "weights" / "fmri_sub-01.pt")
    bundle = load_bundle(path, verify=False)
    assert bundle.weights == {}
    state.set_results(bundle)
    view = show(qtbot, state)
    np.testing.assert_allclose(view.theta, chebyshev_theta_from_state_dict(weights["fmri"]))
    assert "fmri_sub-01" in view.filter_note

    (path / "weights" / "fmri_sub-01.pt").write_bytes(b"not a torch file")
    state.set_results(load_bundle(path, verify=False))
    settle()
    assert view.theta is None and "could not be read" in view.filter_note


def test_a_hidden_view_reads_the_weights_only_when_shown(qtbot, state, tmp_path, weights):
    import torch

    path = tmp_path / "bundle"
    make_bundle(path, eeg=False, phase2=False)
    (path / "weights").mkdir()
    torch.save(weights["fmri"], path / "weights" / "fmri.pt")
    view = show(qtbot, state)
    view.hide()
    state.set_results(load_bundle(path, verify=False))
    settle()
    # Behind another tab nothing is read: opening results costs no torch import here.
    assert view.theta is None and view.eigenvalues.size == 0
    view.show()
    qtbot.waitExposed(view)
    settle()
    np.testing.assert_allclose(view.theta, chebyshev_theta_from_state_dict(weights["fmri"]))
    assert view.eigenvalues.size == 264


def test_on_the_cortex_puts_the_roi_map_in_the_shared_overlay(qtbot, state, full, weights):
    state.set_results(full)
    view = show(qtbot, state)
    view.mode_slider.setValue(3)
    settle()
    assert state.overlay is None
    view.cortex_check.setChecked(True)
    overlay = state.overlay
    assert overlay.owner == "Teaching" and "mode 3" in overlay.title
    np.testing.assert_allclose(overlay.values, view.node_values())
    assert len(overlay.values) == len(full.get("saliency", "roi_coords"))
    view.mode_slider.setValue(7)
    settle()
    assert "mode 7" in state.overlay.title
    np.testing.assert_allclose(state.overlay.values, view.node_values())
    view.map_combo.setCurrentText(MAP_IMPULSE)
    settle()
    assert state.overlay.title.startswith("impulse response at ")
    # An electrode graph has no ROI map: the overlay goes, and comes back with the ROI graph.
    view.graph_combo.setCurrentText(EEG_PREFIX + "alpha")
    settle()
    assert state.overlay is None and not view.cortex_check.isEnabled()
    view.graph_combo.setCurrentText(FMRI_GRAPH)
    settle()
    assert state.overlay is not None
    view.cortex_check.setChecked(False)
    assert state.overlay is None


def test_one_map_on_the_cortex_at_a_time(qtbot, state, weights, tmp_path):
    from eegfmri_viewer.views.coupling_view import CouplingView

    make_bundle(tmp_path / "p2")  # with phase 2: the coupling view has lag curves to show
    bundle = load_bundle(tmp_path / "p2", verify=False)
    bundle.weights = dict(weights)
    state.set_results(bundle)
    teaching = show(qtbot, state)
    coupling = CouplingView(state)
    qtbot.addWidget(coupling)
    teaching.cortex_check.setChecked(True)
    assert state.overlay.owner == "Teaching"
    # the coupling view takes the cortex: the teaching box no longer claims it
    coupling.cortex_check.setChecked(True)
    assert state.overlay.owner == "Coupling" and not teaching.cortex_check.isChecked()
    teaching.cortex_check.setChecked(True)
    assert state.overlay.owner == "Teaching" and not coupling.cortex_check.isChecked()
    # unticking a box that no longer owns the overlay leaves the other's map alone
    coupling.cortex_check.setChecked(True)
    teaching.cortex_check.setChecked(False)
    assert state.overlay is not None and state.overlay.owner == "Coupling"
    # taken off the cortex from outside (the Cortex view's "Show the CAM", the dock closed): the box unticks
    state.dismiss_overlay()
    assert state.overlay is None and not coupling.cortex_check.isChecked()
    teaching.cortex_check.setChecked(True)
    state.dismiss_overlay()
    assert state.overlay is None and not teaching.cortex_check.isChecked()
    # and the views' own withdrawals keep their boxes: an electrode graph has no ROI map, the ROI graph brings it back
    teaching.cortex_check.setChecked(True)
    teaching.graph_combo.setCurrentText(EEG_PREFIX + "alpha")
    settle()
    assert state.overlay is None and teaching.cortex_check.isChecked()


# ----------------------------------------------------------------------------- layout at the docked size
# Help > Teaching View docks the view in the bottom row: about 800 x 380 px on a 1600 x 1000
# screen, less the dock's title bar. Undocked it can be wide and short.
NARROW = (795, 355)
WIDE = (1400, 600)


def scene_rect_in_widget(plot_widget, item):
    """Pixel rectangle of a text item's glyphs (its bounding rect less the document margin) in the viewport."""
    m = item.document().documentMargin() if hasattr(item, "document") else 0.0
    rect = item.boundingRect().adjusted(m, m, -m, -m)
    return plot_widget.mapFromScene(item.mapRectToScene(rect)).boundingRect()


def panel_title_rects(view):
    titles = [item for item in view.map_widget.getPlotItem().items if isinstance(item, pg.TextItem)]
    return [(t.textItem.toPlainText(), scene_rect_in_widget(view.map_widget, t.textItem)) for t in titles]


@pytest.mark.parametrize("size", [NARROW, WIDE])
def test_glass_brain_titles_do_not_overlap_and_are_not_clipped(qtbot, state, full, size):
    state.set_results(full)
    view = show(qtbot, state, size=size)
    settle()
    titles = panel_title_rects(view)
    assert len(titles) == 2
    (axial, ra), (sagittal, rs) = titles
    assert axial.startswith("axial") and sagittal.startswith("sagittal")
    assert not ra.intersects(rs), (ra, rs)
    area = view.map_widget.getPlotItem().getViewBox()
    box = view.map_widget.mapFromScene(area.mapRectToScene(area.boundingRect())).boundingRect()
    for text, r in titles:
        assert box.contains(r), (text, r, box)
    # the titles sit above the nodes, not on them
    nodes = [to_pixel(view.map_widget, x, y) for x, y in view.point_positions]
    top_node = min(p.y() for p in nodes)
    assert max(ra.bottom(), rs.bottom()) <= top_node
    if size == WIDE:  # room enough for the full titles
        assert "from above" in axial and "from the left" in sagittal


@pytest.mark.parametrize("size", [NARROW, WIDE])
def test_axis_labels_lie_inside_their_plots(qtbot, state, full, size):
    state.set_results(full)
    view = show(qtbot, state, size=size)
    settle()
    for widget in (view.spectrum_widget, view.filter_widget):
        plot = widget.getPlotItem()
        inside = widget.viewport().rect()
        left = scene_rect_in_widget(widget, plot.getAxis("left").label)
        bottom = scene_rect_in_widget(widget, plot.getAxis("bottom").label)
        for name, r in (("left", left), ("bottom", bottom)):
            assert plot.getAxis(name).label.isVisible() and plot.getAxis(name).labelText
            assert inside.contains(r), (name, r, inside)
        assert not left.intersects(bottom)
        assert plot.getAxis("left").label.font().pointSizeF() >= 8
    if size == WIDE:
        # room for the full labels of the filter plot (the short spectrum keeps a shorter one)
        assert view.filter_widget.getPlotItem().getAxis("left").labelText == "filter response g(\u03bb)"
        assert view.filter_widget.getPlotItem().getAxis("bottom").labelText == "graph frequency \u03bb"
        assert view.spectrum_widget.getPlotItem().getAxis("left").labelText.startswith("eigenvalue")


@pytest.mark.parametrize("size", [NARROW, WIDE])
def test_filter_legend_stays_off_the_curves(qtbot, state, full, size):
    state.set_results(full)
    view = show(qtbot, state, size=size)
    settle()
    fw = view.filter_widget
    vb = fw.getPlotItem().getViewBox()
    plot_area = vb.mapRectToScene(vb.boundingRect())
    data = fw.getPlotItem().items[0].mapRectToScene(fw.getPlotItem().items[0].boundingRect())
    for curve in fw.getPlotItem().listDataItems():
        data = data.united(curve.mapRectToScene(curve.boundingRect()))
    data = data.intersected(plot_area)
    assert data.width() > 0 and data.height() > 0
    for item in fw.scene().items():
        if isinstance(item, pg.LegendItem) and item.isVisible() and item.items:
            assert not item.mapRectToScene(item.boundingRect()).intersects(data)
    # The legend is there and names the mean, the strongest and the selected filter, outside the plot area.
    legends = [w for w in view.findChildren(QLabel) if w.isVisible() and "strongest" in w.text()]
    legend_items = [item for item in fw.scene().items() if isinstance(item, pg.LegendItem) and item.items]
    assert legends or legend_items
    for label in legends:
        doc = QTextDocument()
        doc.setHtml(label.text())
        text = doc.toPlainText().replace("\xa0", " ")
        assert "mean |g(\u03bb)|" in text and "selected" in text
        top_left = label.mapToGlobal(label.rect().topLeft())
        rect = QRect(top_left, label.size())
        area = QRect(fw.mapToGlobal(fw.mapFromScene(plot_area).boundingRect().topLeft()),
                     fw.mapFromScene(plot_area).boundingRect().size())
        assert not rect.intersects(area)
        assert label.font().pointSizeF() >= 8


@pytest.mark.parametrize("size", [NARROW, WIDE])
def test_electrode_names_never_run_into_each_other(qtbot, state, full, size):
    state.set_results(full)
    view = show(qtbot, state, size=size)
    view.graph_combo.setCurrentText(EEG_PREFIX + "alpha")
    settle()
    names = [t for t in view.map_widget.getPlotItem().items if isinstance(t, pg.TextItem)]
    assert len(names) == len(CHANNELS)
    shown = [scene_rect_in_widget(view.map_widget, t.textItem) for t in names if t.isVisible()]
    for i, a in enumerate(shown):
        for b in shown[i + 1:]:
            assert not a.intersects(b), (a, b)
    # hidden names are still one hover away
    assert view.hover_text(CHANNELS.index("Oz")).startswith("Oz")
