"""3-D cortex view: ROI -> vertex mapping, rendering, class switching, picking.

GUI tests need an X display with OpenGL: run under
``xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m pytest tests/test_cortex_view.py``.
One view (one VTK render window) is shared by the module's GUI tests and
closed at the end, which keeps the module fast and avoids VTK crashes at exit.
Set ``CORTEX_SHOTS=/some/folder`` to save every frame the tests look at.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bundle_factory import PLANTED, make_bundle  # noqa: E402

from eegfmri_viewer.graphs.surface_mapping import (  # noqa: E402
    load_fsaverage5,
    nearest_roi,
    roi_anchor_vertices,
    roi_vertex_weights,
)

BACKGROUND = np.array([255, 255, 255])


# --------------------------------------------------------------------------- mapping (no Qt)
def test_vertex_at_roi_centre_gets_its_value_and_far_vertices_get_nan():
    rois = np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0]])
    vertices = np.array([
        [0.0, 0.0, 0.0],     # on ROI 0
        [100.0, 0.0, 0.0],   # on ROI 1
        [6.0, 0.0, 0.0],     # one sigma from ROI 0
        [13.0, 0.0, 0.0],    # beyond the 12 mm radius of every ROI
        [50.0, 0.0, 0.0],
    ])
    w = roi_vertex_weights(vertices, rois, radius_mm=12.0)
    assert w.matrix.shape == (5, 2)
    values = w.map([2.0, -5.0])
    assert values[0] == pytest.approx(2.0)
    assert values[1] == pytest.approx(-5.0)
    # An isolated ROI fades as a Gaussian of sigma = radius / 2.
    assert values[2] == pytest.approx(2.0 * np.exp(-0.5))
    assert np.isnan(values[3]) and np.isnan(values[4])
    assert w.covered.tolist() == [True, True, True, False, False]


def test_vertex_between_close_rois_gets_their_weighted_mean():
    rois = np.array([[-4.0, 0.0, 0.0], [4.0, 0.0, 0.0]])
    w = roi_vertex_weights(np.array([[0.0, 0.0, 0.0], [-4.0, 0.0, 0.0]]), rois, radius_mm=12.0)
    values = w.map([1.0, 3.0])
    assert values[0] == pytest.approx(2.0)  # equidistant: plain mean, not a sum
    wn = np.exp(-64 / (2 * 36.0))
    assert values[1] == pytest.approx((1.0 + wn * 3.0) / (1.0 + wn))
    # NaN ROI values do not leak: the vertex takes the other ROI only.
    assert w.map([np.nan, 3.0])[0] == pytest.approx(3.0 * np.exp(-16 / 72) / max(1.0, np.exp(-16 / 72)))
    assert np.isnan(w.map([np.nan, np.nan])).all()
    with pytest.raises(ValueError):
        w.map([1.0, 2.0, 3.0])


def test_nearest_roi_and_anchors():
    rois = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [np.nan, np.nan, np.nan]])
    assert nearest_roi([6.0, 1.0, 0.0], rois) == 1
    assert nearest_roi([-3.0, 0.0, 0.0], rois) == 0
    anchors = roi_anchor_vertices(np.array([[0.0, 0.0, 1.0], [40.0, 0.0, 0.0]]), rois, radius_mm=12.0)
    assert anchors.tolist() == [0, 0, -1]


def test_fsaverage5_both_hemispheres_and_inflated_apart():
    s = load_fsaverage5()
    assert s.n_vertices == 20484 and s.n_left == 10242
    assert s.faces.max() == s.n_vertices - 1 and s.faces[len(s.faces) // 2:].min() >= s.n_left
    assert s.pial[: s.n_left, 0].mean() < 0 < s.pial[s.n_left:, 0].mean()
    # Inflated hemispheres must not intersect.
    assert s.inflated[: s.n_left, 0].max() < s.inflated[s.n_left:, 0].min()
    assert np.isfinite(s.sulc).all() and s.sulc.shape == (s.n_vertices,)


# --------------------------------------------------------------------------- GUI
@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    from eegfmri_viewer.results import load_bundle

    root = tmp_path_factory.mktemp("cortex_bundles")
    make_bundle(root / "full", phase2=True, eeg=True)
    make_bundle(root / "fmri_only", phase2=False, eeg=False)
    return {"full": load_bundle(root / "full"), "fmri_only": load_bundle(root / "fmri_only")}


@pytest.fixture(scope="module")
def view(qapp):
    import pyvista

    from eegfmri_viewer.state import AppState
    from eegfmri_viewer.views.cortex_view import CortexView

    # Software OpenGL under Xvfb: multisampling only slows the tests down.
    samples = pyvista.global_theme.multi_samples
    pyvista.global_theme.multi_samples = 1
    state = AppState()
    widget = CortexView(state)
    widget.resize(720, 560)
    widget.show()
    qapp.processEvents()
    yield widget
    pyvista.global_theme.multi_samples = samples
    widget.close_plotter()
    widget.close()
    widget.deleteLater()
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def fresh(view, bundles, qapp):
    """The shared view reset to the full bundle, class 0, pial, default settings."""
    state = view.state
    state.set_results(None)
    state.select_node(None, None)
    state.set_class(0)
    state.set_band("alpha")
    view.set_surface("pial")
    view.set_source("fmri")
    view.threshold_slider.setValue(30)
    view.rois_check.setChecked(True)
    view.set_electrodes_visible(False)
    state.set_results(bundles["full"])
    view.set_camera("Oblique")
    qapp.processEvents()
    return view


def _look_at(view, point, normal, distance=450.0, render=True):
    point = np.asarray(point, dtype=float)
    normal = np.asarray(normal, dtype=float) / np.linalg.norm(normal)
    up = (0.0, 0.0, 1.0) if abs(normal[2]) < 0.9 else (0.0, 1.0, 0.0)
    view.plotter.camera_position = [tuple(point + distance * normal), tuple(point), up]
    view.plotter.reset_camera_clipping_range()
    if render:
        view.plotter.render()


def _frame(view):
    view.plotter.render()
    img = np.asarray(view.plotter.screenshot(return_img=True))[..., :3].astype(int)
    import os
    if os.environ.get("CORTEX_SHOTS"):
        from PIL import Image
        n = len(os.listdir(os.environ["CORTEX_SHOTS"]))
        Image.fromarray(img.astype(np.uint8)).save(f"{os.environ['CORTEX_SHOTS']}/{n:02d}.png")
    return img


def _scene(img):
    """The frame left of the colour bar (which holds every colour of the map)."""
    return img[:, : int(img.shape[1] * 0.85)]


def _pixel(img, view, world):
    x, y = view.display_position(world)
    h = img.shape[0]
    return img[h - 1 - int(round(y)), int(round(x))]


def _is_grey(rgb, tol=12):
    return int(np.ptp(rgb)) <= tol


def _vertex_near_roi(view, roi):
    d = np.linalg.norm(view.surfaces.pial - view._roi_coords[roi], axis=1)
    return int(np.argmin(d))


def _show_vertex(view, candidates):
    """Point the camera at the first candidate vertex that is really visible.

    A vertex counts as visible when an independent ray pick at its projected
    pixel lands on it (within 2 mm), so occluded vertices are never used.
    """
    from vtkmodules.vtkRenderingCore import vtkCellPicker

    picker = vtkCellPicker()
    picker.SetTolerance(0.0005)
    picker.PickFromListOn()
    picker.AddPickList(view.cortex_actor)
    s = view.surfaces
    for v in candidates:
        p = s.pial[v]
        hemi_centre = s.pial[: s.n_left].mean(0) if v < s.n_left else s.pial[s.n_left:].mean(0)
        for direction in (view._normals["pial"][v], p - hemi_centre, (0.0, 0.0, 1.0),
                          (-1.0, 0.0, 0.0) if v < s.n_left else (1.0, 0.0, 0.0), (0.0, -1.0, 0.0)):
            _look_at(view, p, direction, render=False)
            x, y = view.display_position(p)
            if picker.Pick(x, y, 0, view.plotter.renderer) and np.linalg.norm(
                    np.array(picker.GetPickPosition()) - p) < 2.0:
                return int(v)
    raise AssertionError("no candidate vertex is visible")


def _salient_vertices(view, roi_values, n=30):
    values = view._weights.map(roi_values)
    order = np.argsort(-np.nan_to_num(values, nan=-np.inf))
    return [int(v) for v in order[:n]]


def test_no_results_shows_plain_cortex_and_sentence(view, qapp):
    from eegfmri_viewer.views.cortex_view import NO_RESULTS_MESSAGE

    view.state.set_results(None)
    qapp.processEvents()
    assert view.message.isVisible()
    assert view.message.text() == NO_RESULTS_MESSAGE
    assert view.last_values is None
    assert not view.scalar_bar.GetVisibility()
    rgb = np.asarray(view.cortex_mesh.point_data["rgb"])
    assert (rgb == view._grey).all() and (rgb[:, 0] == rgb[:, 1]).all()
    img = _frame(view)
    assert (img[2, 2] == BACKGROUND).all()
    # The cortex is drawn: a good part of the frame is not background.
    assert (np.abs(img - BACKGROUND).sum(-1) > 30).mean() > 0.1


def test_salient_region_is_coloured_and_background_is_not(fresh, qapp):
    view = fresh
    view.state.set_class(1)  # "visual": planted at Power ROIs 0, 1 (occipital poles)
    view.rois_check.setChecked(False)
    vertex = _show_vertex(view, _salient_vertices(view, view.roi_values()))
    img = _frame(view)
    assert not view.message.isVisible()
    centre = _pixel(img, view, view.surfaces.pial[vertex])
    assert not _is_grey(centre), f"salient vertex drawn {centre}, expected a colour"
    assert centre[0] > centre[2] + 40, "positive CAM must be red in RdBu_r"
    for corner in (img[2, 2], img[-3, 2], img[2, img.shape[1] // 2]):
        assert (corner == BACKGROUND).all()
    # Away from the planted ROIs the cortex stays sulcal grey.
    # Seen from behind (a preset), the planted occipital saliency is red.
    view.set_camera("Back")
    img = _scene(_frame(view))
    red = (img[..., 0] > img[..., 2] + 60) & (img[..., 0] > img[..., 1] + 60)
    assert red.sum() > 50
    far = _show_vertex(view, _salient_vertices(view, view.state.results.get("saliency", "fmri_cam")[2]))
    assert abs(view.last_values[far]) < view.threshold() * view._vmax  # motor ROI, not salient for class 1
    assert _is_grey(_pixel(_frame(view), view, view.surfaces.pial[far]))


def test_switching_class_recolours_in_place(fresh, qapp):
    view = fresh
    bundle = view.state.results
    actors_before = dict(view.plotter.renderer.actors)
    mesh_before, actor_before = view.cortex_mesh, view.cortex_actor
    view.rois_check.setChecked(False)
    vertex = _show_vertex(view, _salient_vertices(view, bundle.get("saliency", "fmri_cam")[2]))
    img0 = _frame(view)
    rgb0 = np.array(view.cortex_mesh.point_data["rgb"])
    view.state.set_class(2)
    qapp.processEvents()
    img2 = _frame(view)
    rgb2 = np.array(view.cortex_mesh.point_data["rgb"])
    assert view.class_combo.currentIndex() == 2
    expected = view._weights.map(bundle.get("saliency", "fmri_cam")[2])
    np.testing.assert_allclose(view.last_values, expected)
    assert (rgb0 != rgb2).any(axis=1).sum() > 20
    assert np.abs(img0 - img2).sum(-1).astype(bool).sum() > 50
    assert _is_grey(_pixel(img0, view, view.surfaces.pial[vertex]))
    assert not _is_grey(_pixel(img2, view, view.surfaces.pial[vertex]))
    # Same actors and data sets: colours changed in place.
    assert view.cortex_mesh is mesh_before and view.cortex_actor is actor_before
    assert dict(view.plotter.renderer.actors).keys() == actors_before.keys()
    assert all(view.plotter.renderer.actors[k] is a for k, a in actors_before.items())


def test_grab_image_contains_the_3d_frame(fresh, qapp):
    view = fresh
    view.state.set_class(1)
    view.set_camera("Back")
    image = view.grab_image()
    assert image.width() >= view.plotter.width() and image.height() >= view.plotter.height()
    geo = view.plotter.geometry()
    ratio = image.devicePixelRatio()
    ptr = image.convertToFormat(image.Format.Format_RGB888)
    arr = np.frombuffer(ptr.constBits(), np.uint8).reshape(ptr.height(), ptr.bytesPerLine())[:, : 3 * ptr.width()]
    arr = arr.reshape(ptr.height(), ptr.width(), 3).astype(int)
    area = _scene(arr[int(geo.top() * ratio): int(geo.bottom() * ratio), int(geo.left() * ratio): int(geo.right() * ratio)])
    # The composited frame holds the white background, grey cortex and coloured CAM.
    assert (area == BACKGROUND).all(-1).mean() > 0.2
    assert (np.ptp(area, axis=-1) > 60).sum() > 100


def test_threshold_slider(fresh):
    view = fresh
    covered = view._weights.covered
    view.threshold_slider.setValue(0)
    rgb = np.asarray(view.cortex_mesh.point_data["rgb"])
    coloured = np.ptp(rgb, axis=1) > 0
    assert coloured[covered].mean() > 0.9 and not coloured[~covered].any()
    view.threshold_slider.setValue(100)
    rgb = np.asarray(view.cortex_mesh.point_data["rgb"])
    assert (np.ptp(rgb, axis=1) > 0).sum() <= 5
    assert view.threshold_label.text() == "100 %"


def test_click_on_surface_selects_nearest_roi(fresh, qapp):
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    view = fresh
    view.rois_check.setChecked(False)  # hit the cortex, not a sphere
    d = np.linalg.norm(view.surfaces.pial - view._roi_coords[84], axis=1)
    vertex = _show_vertex(view, [int(v) for v in np.argsort(d)[:30]])
    expected = nearest_roi(view.surfaces.pial[vertex], view._roi_coords)
    x, y = view.display_position(view.surfaces.pial[vertex])
    ratio = view.plotter.devicePixelRatioF()
    height = view.plotter.GetRenderWindow().GetSize()[1]
    pos = QPoint(int(round(x / ratio)), int(round((height - 1 - y) / ratio)))
    QTest.mouseClick(view.plotter, Qt.LeftButton, Qt.NoModifier, pos)
    qapp.processEvents()
    assert view.state.selection.node_kind == "roi"
    assert view.state.selection.node_index == expected
    # The selection marker sits on the selected ROI.
    assert view.selection_actor.GetVisibility()
    np.testing.assert_allclose(view.selection_actor.GetPosition(), view._roi_coords[expected])
    # A drag (rotation) is not a click: the selection stays.
    other = QPoint(pos.x() + 40, pos.y() + 30)
    QTest.mousePress(view.plotter, Qt.LeftButton, Qt.NoModifier, other)
    QTest.mouseMove(view.plotter, QPoint(other.x() + 60, other.y()))
    QTest.mouseRelease(view.plotter, Qt.LeftButton, Qt.NoModifier, QPoint(other.x() + 60, other.y()))
    assert view.state.selection.node_index == expected


def test_click_on_roi_sphere_selects_it(fresh, qapp):
    view = fresh
    roi = 142
    vertex = _vertex_near_roi(view, roi)
    _look_at(view, view._roi_coords[roi], view._normals["pial"][vertex])
    x, y = view.display_position(view._roi_coords[roi])
    assert view.pick(x, y) == roi
    assert view.state.selection.node_index == roi


def test_state_selection_highlights_roi(fresh, qapp):
    view = fresh
    view.state.select_node("roi", 5)
    assert view.selection_actor.GetVisibility()
    np.testing.assert_allclose(view.selection_actor.GetPosition(), view._roi_coords[5])
    assert "Power" in view.selection_text.GetText(0)
    # Whether the ROI supports the class by its activity or by its silence.
    view.state.select_node("roi", 0)          # planted for 'visual'
    view.state.set_class(1)
    assert "fMRI CAM" in view.selection_text.GetText(0) and "up in visual" in view.selection_text.GetText(0)
    view.state.set_class(0)
    assert "down in rest" in view.selection_text.GetText(0)
    view.state.set_class(2)                   # a visual ROI in 'motor': at the mean of all windows
    assert "BOLD +0.00 SD vs all windows (about level in motor)" in view.selection_text.GetText(0)
    view.state.select_node("electrode", 2)
    assert not view.selection_actor.GetVisibility()
    assert view.selection_text.GetText(0) == ""


def test_inflated_surface_in_place_keeps_values(fresh, qapp):
    view = fresh
    view.state.set_class(1)
    values = view.last_values.copy()
    mesh, actor = view.cortex_mesh, view.cortex_actor
    view.surface_combo.setCurrentIndex(1)
    assert view.surface == "inflated"
    assert view.cortex_mesh is mesh and view.cortex_actor is actor
    np.testing.assert_allclose(view.cortex_mesh.points, view.surfaces.inflated, atol=1e-4)
    np.testing.assert_array_equal(view.last_values, values)
    # ROI spheres follow the surface: the selected ROI sits on its inflated vertex.
    view.state.select_node("roi", PLANTED[1][0])
    anchor = view._roi_anchor[PLANTED[1][0]]
    np.testing.assert_allclose(view.selection_actor.GetPosition(), view.surfaces.inflated[anchor], atol=1e-4)
    assert not view.electrodes_check.isEnabled()
    view.set_camera("Back")
    img = _scene(_frame(view))
    red = (img[..., 0] > img[..., 2] + 60) & (img[..., 0] > img[..., 1] + 60)  # not the yellow marker
    assert red.sum() > 30


def test_eeg_source_follows_band(fresh, qapp):
    view = fresh
    bundle = view.state.results
    cam = bundle.get("saliency", "eeg_roi_cam")
    view.source_combo.setCurrentIndex(1)
    assert view.source == "eeg" and view.band_combo.isEnabled()
    np.testing.assert_allclose(view.last_values, view._weights.map(cam[bundle.bands.index("alpha"), 0]))
    assert "alpha" in view.scalar_bar.GetTitle()
    view.state.set_band("delta")
    assert view.band_combo.currentText() == "delta"
    np.testing.assert_allclose(view.last_values, view._weights.map(cam[0, 0]))
    view.band_combo.activated.emit(3)  # the user picks "beta"
    assert view.state.selection.band == "beta"
    view.class_combo.activated.emit(1)
    assert view.state.selection.class_index == 1
    np.testing.assert_allclose(view.last_values, view._weights.map(cam[3, 1]))


def test_electrodes_on_fsaverage_scalp(fresh, qapp):
    view = fresh
    bundle = view.state.results
    view.electrodes_check.setChecked(True)
    assert view._head_actor.GetVisibility() and view._electrode_actor.GetVisibility()
    # not a colour of the CAM's diverging map: an electrode must not read as a strong value under it
    from eegfmri_viewer.views.cortex_view import ELECTRODE_COLOR

    drawn = np.asarray(view._electrode_actor.GetProperty().GetColor()) * 255
    np.testing.assert_allclose(drawn, np.asarray(ELECTRODE_COLOR) * 255, atol=1)
    assert np.abs(view._table.astype(float) - drawn).max(axis=1).min() > 60
    pos = view.electrode_positions()
    names = list(bundle.get("saliency", "electrodes"))
    assert pos.shape == (len(names), 3)
    assert pos[names.index("Cz"), 2] == pos[:, 2].max()
    assert pos[names.index("Oz"), 1] < -80 and pos[names.index("Fz"), 1] > 20
    assert pos[names.index("T7"), 0] < -60 < 60 < pos[names.index("T8"), 0]
    view.electrodes_check.setChecked(False)
    assert not view._electrode_actor.GetVisibility()


def test_connection_arcs_join_the_rois_and_rise_away_from_the_centre():
    from eegfmri_viewer.views.cortex_view import connection_arcs

    centres = np.array([[-30.0, 0.0, 50.0], [30.0, 0.0, 50.0], [0.0, -90.0, 0.0]])
    arcs = connection_arcs(centres, np.array([[0, 1], [1, 2]]), brain_centre=np.zeros(3), n_points=9)
    assert arcs.shape == (2, 9, 3)
    np.testing.assert_allclose(arcs[0, 0], centres[0])
    np.testing.assert_allclose(arcs[0, -1], centres[1])
    # The left-right arc over the vertex rises above both ends (bulges away from the centre).
    assert arcs[0, 4, 2] > 50.0 + 15.0
    chord_mid = (centres[1] + centres[2]) / 2
    assert np.linalg.norm(arcs[1, 4]) > np.linalg.norm(chord_mid) + 15.0 / 2


def test_rois_above_the_threshold_get_larger_spheres(fresh, qapp):
    from eegfmri_viewer.views.cortex_view import SALIENT_ROI_SCALE

    view = fresh
    view.state.set_class(1)
    scale = view.roi_sphere_scale
    assert set(np.flatnonzero(scale == SALIENT_ROI_SCALE)) == {0, 1, 142}  # the class's planted ROIs
    assert (np.delete(scale, [0, 1, 142]) == 1.0).all()
    pts = np.asarray(view._roi_mesh.points).reshape(len(scale), -1, 3)
    radius = np.linalg.norm(pts - pts.mean(axis=1, keepdims=True), axis=2).max(axis=1)
    assert radius[0] == pytest.approx(SALIENT_ROI_SCALE * radius[5], rel=1e-3)
    view.state.set_class(2)
    assert set(np.flatnonzero(view.roi_sphere_scale == SALIENT_ROI_SCALE)) == {12, 13}


def test_salient_connections_are_drawn_between_salient_rois(fresh, qapp):
    from eegfmri_viewer.views.cortex_view import CONNECTION_COLOR

    view = fresh
    view.state.set_class(1)  # "visual": salient ROIs 0, 1, 142 (the factory's planted ROIs)
    view.rois_check.setChecked(False)
    view.connections_check.setChecked(False)
    view.set_camera("Back")
    off = _scene(_frame(view))
    assert len(view.salient_connection_pairs()) == 0
    view.connections_check.setChecked(True)
    assert sorted(map(tuple, view.salient_connection_pairs())) == [(0, 1), (0, 142), (1, 142)]
    on = _scene(_frame(view))
    line = np.array(CONNECTION_COLOR) * 255
    near = lambda img: (np.abs(img - line).max(-1) < 25).sum()  # noqa: E731
    assert near(on) > 30 and near(off) == 0
    # They follow the class, and belong to the fMRI CAM only.
    view.state.set_class(2)
    assert sorted(map(tuple, view.salient_connection_pairs())) == [(12, 13)]
    view.set_source("eeg")
    assert len(view.salient_connection_pairs()) == 0 and view._connection_actor is None
    view.set_source("fmri")
    view.set_surface("inflated")
    view.set_surface("pial")
    assert sorted(map(tuple, view.salient_connection_pairs())) == [(12, 13)]
    view.connections_check.setChecked(False)
    assert view._connection_actor is None


def test_an_overlay_replaces_the_cam_until_it_is_cleared(fresh, qapp):
    from eegfmri_viewer.state import CortexOverlay

    view = fresh
    n = len(view._roi_coords)
    values = np.zeros(n)
    values[[12, 13]] = 2.0      # motor ROIs of the factory bundle
    values[[0, 1]] = -1.0
    view.state.set_class(1)
    cam = view.last_values.copy()
    view.state.set_overlay(CortexOverlay("Laplacian mode 4 (\u03bb = 0.5)", values, owner="Teaching"))
    qapp.processEvents()
    np.testing.assert_allclose(view.last_values, view._weights.map(values))
    assert view.scalar_bar.GetTitle() == "Laplacian mode 4"
    assert "Laplacian mode 4 (\u03bb = 0.5)" in view.overlay_note.text()
    assert view.overlay_note.isVisible() and "Teaching view" in view.overlay_note.text()
    assert 'href="cam"' in view.overlay_note.text()  # "Show the CAM": the way back from the 3-D view itself
    # The class selector no longer changes what is drawn.
    view.state.set_class(2)
    np.testing.assert_allclose(view.last_values, view._weights.map(values))
    # An overlay of another ROI set (stale) is not drawn.
    view.state.set_overlay(CortexOverlay("other atlas", np.ones(n + 3)))
    assert not view.overlay_note.isVisible()
    np.testing.assert_allclose(view.last_values, view._weights.map(view.state.results.get("saliency", "fmri_cam")[2]))
    view.state.set_overlay(CortexOverlay("Laplacian mode 4", values, owner="Teaching"))
    view.overlay_note.linkActivated.emit("cam")  # what a click on "Show the CAM" sends
    assert view.state.overlay is None and not view.overlay_note.isVisible()
    view.state.set_class(1)
    np.testing.assert_allclose(view.last_values, cam)
    assert view.scalar_bar.GetTitle() == "fMRI CAM"


def test_fmri_only_bundle(view, bundles, qapp):
    from eegfmri_viewer.views.cortex_view import FMRI_ONLY_MESSAGE

    view.set_source("fmri")
    view.state.set_results(bundles["fmri_only"])
    qapp.processEvents()
    assert view.message.isVisible() and view.message.text() == FMRI_ONLY_MESSAGE
    assert not view.source_combo.model().item(1).isEnabled()
    assert "fMRI-only" in view.source_combo.model().item(1).toolTip()
    assert not view.electrodes_check.isEnabled() and "fMRI-only" in view.electrodes_check.toolTip()
    view.set_source("eeg")
    assert view.source == "fmri" and view.source_combo.currentIndex() == 0
    view.state.set_class(1)
    view.set_surface("inflated")
    view.set_surface("pial")
    assert view.last_values is not None and np.nanmax(view.last_values) > 1.0
    img = _frame(view)
    assert (img[2, 2] == BACKGROUND).all()
    # A full bundle after an fMRI-only one re-enables the EEG source.
    view.state.set_results(bundles["full"])
    assert view.source_combo.model().item(1).isEnabled() and not view.message.isVisible()


def test_importing_the_view_is_light():
    import subprocess

    code = ("import sys, eegfmri_viewer.views.cortex_view; "
            "print([m for m in ('torch', 'mne', 'nilearn', 'pyvista', 'vtkmodules') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_inconsistent_bundle_is_explained_not_drawn(view, bundles, qapp):
    from eegfmri_viewer.results import ResultsBundle

    good = bundles["fmri_only"]
    saliency = dict(good.arrays["saliency"])
    saliency["fmri_cam"] = saliency["fmri_cam"][:, :10]
    broken = ResultsBundle(arrays={"saliency": saliency}, dataset=good.dataset)
    view.state.set_results(broken)
    assert view.message.isVisible() and "fmri_cam has shape (3, 10)" in view.message.text()
    assert view.last_values is None and not view.class_combo.isEnabled()
    view.state.set_results(good)
    assert view.last_values is not None
