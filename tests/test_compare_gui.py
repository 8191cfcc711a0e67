"""Compare mode in the GUI: File ▸ Compare…, the cortex, coupling and fusion views.

Run under ``xvfb-run -a`` (the cortex view needs OpenGL). One main window
(never shown, so its docks stay unbuilt) drives the compare actions; the
three views are built on its state. Session B differs from A by a planted
change of the fMRI CAM at Power ROI 0 (left occipital pole) for class
"visual" only; ROI 1 (right occipital pole) is salient in both sessions but
unchanged, so B − A must colour the left pole and leave the right one grey.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bundle_factory import PLANTED, make_bundle  # noqa: E402
from test_cortex_view import _frame, _is_grey, _pixel, _scene, _show_vertex  # noqa: E402

CHANGED_ROI, UNCHANGED_ROI, CLASS = PLANTED[1][0], PLANTED[1][1], 1
COUPLING_DELTA = 0.5      # added to coupling of band "alpha" at the first phase-2 node in B
N_PERMUTATIONS = 10000    # FDR over 264 ROIs needs p < 0.05 / 264


def _windows(bundle, n_per_class, session=None, change=0.0, seed=0):
    """Windows of ``bundle``'s planted CAM, ``n_per_class`` per class, optionally changed."""
    rng = np.random.default_rng(seed)
    cam = bundle.get("saliency", "fmri_cam")
    eeg = bundle.get("saliency", "eeg_roi_cam")
    labels = np.repeat(np.arange(len(bundle.classes)), n_per_class)
    fmri = cam[labels] + rng.normal(0, 0.2, (len(labels), cam.shape[1]))
    fmri[labels == CLASS, CHANGED_ROI] += change
    out = {
        "labels": labels,
        "subject": np.array(["01"] * len(labels)),
        "blocks": np.arange(len(labels)),
        "onsets_s": np.arange(len(labels)) * 10.0,
        "fmri_cam": fmri,
        "eeg_roi_cam": eeg[:, labels].transpose(1, 0, 2) + rng.normal(0, 0.05, (len(labels),) + eeg[:, 0].shape),
    }
    if session is not None:
        out["session"] = np.array([session] * len(labels))
    return out


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    from eegfmri_viewer.results import load_bundle, save_bundle

    root = tmp_path_factory.mktemp("compare_gui")
    make_bundle(root / "base")
    n = 20
    a = load_bundle(root / "base")
    a.arrays["windows"] = _windows(a, n, seed=1)
    a.dataset["label"] = "before"
    save_bundle(root / "a", a)
    b = load_bundle(root / "base")
    b.arrays["windows"] = _windows(b, n, change=2.0, seed=2)
    b.arrays["coupling"]["coupling"][2, 0] += COUPLING_DELTA
    w = np.array([0.1, 0.1, 0.1, 0.1, 0.2, 0.4])  # views: beta, delta, gamma, theta, alpha, fmri
    b.arrays["fusion"]["fusion_weights_global"] = w
    b.dataset["label"] = "after"
    save_bundle(root / "b", b)
    # One bundle holding both sessions (analysed with one model).
    s = load_bundle(root / "base")
    w1, w2 = _windows(s, n, "1", seed=3), _windows(s, n, "2", change=2.0, seed=4)
    s.arrays["windows"] = {k: np.concatenate([w1[k], w2[k]]) for k in w1}
    # each recording's EEG power-BOLD r: 3 recordings a session, alpha at ROI 0 weaker after
    rng = np.random.default_rng(5)
    r = np.clip(rng.normal(0.1, 0.05, (6, len(s.bands), len(s.get("saliency", "roi_coords")))), -0.9, 0.9)
    r[3:, 2, 0] -= 0.4
    s.arrays["coupling"]["recording_lagged_r"] = r
    s.arrays["coupling"]["recording_session"] = np.array(["1", "1", "1", "2", "2", "2"])
    save_bundle(root / "sessions", s)
    # Not comparable with A: other classes; other atlas.
    c = load_bundle(root / "a")
    c.arrays["saliency"]["classes"] = np.array(["rest", "visual", "auditory"])
    save_bundle(root / "other_classes", c)
    d = load_bundle(root / "a")
    d.arrays["saliency"]["atlas"] = np.array("dosenbach2010")
    save_bundle(root / "other_atlas", d)
    return {name: root / name for name in ("a", "b", "sessions", "other_classes", "other_atlas")} | {
        "fusion_b": w}


@pytest.fixture(scope="module")
def gui(qapp, tmp_path_factory):
    """A main window (hidden) and the three compare-aware views on its state."""
    import pyvista
    from PySide6.QtCore import QCoreApplication, QEvent, QSettings

    from eegfmri_viewer.app import MainWindow
    from eegfmri_viewer.views.attention_view import AttentionView
    from eegfmri_viewer.views.cortex_view import CortexView
    from eegfmri_viewer.views.coupling_view import CouplingView

    samples = pyvista.global_theme.multi_samples
    pyvista.global_theme.multi_samples = 1
    ini = tmp_path_factory.mktemp("settings") / "s.ini"
    window = MainWindow(settings=QSettings(str(ini), QSettings.Format.IniFormat), install_hooks=False)
    cortex = CortexView(window.state)
    cortex.resize(720, 560)
    cortex.show()
    coupling = CouplingView(window.state)
    attention = AttentionView(window.state)
    qapp.processEvents()
    yield {"window": window, "cortex": cortex, "coupling": coupling, "attention": attention}
    pyvista.global_theme.multi_samples = samples
    for box in list(window.error_dialogs):
        box.close()
    cortex.close_plotter()
    for w in (cortex, coupling, attention, window):
        w.close()
        w.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _open(gui, path, qtbot):
    from eegfmri_viewer.results import load_bundle

    state = gui["window"].state
    state.set_results(None)
    state.set_results(load_bundle(path))
    state.set_class(CLASS)
    state.select_node(None, None)
    assert state.compare is None


def _run(worker, qtbot):
    assert worker is not None
    qtbot.waitUntil(lambda: worker.outcome is not None, timeout=30000)
    qtbot.wait(10)


def test_two_bundles_b_minus_a_colours_the_changed_roi_only(gui, bundles, qtbot, qapp):
    window, view = gui["window"], gui["cortex"]
    _open(gui, bundles["a"], qtbot)
    window.state.results.metrics["phase1"]["fmri"].update(test_acc=0.9, n_test=30)
    window.state.set_class(0)
    window.state.set_class(CLASS)
    assert not view.compare_combo.isEnabled()
    assert view.quality_note.isVisible() and "fMRI model: test accuracy 0.90" in view.quality_note.text()
    _run(window.compare_actions.compare_with(bundles["b"], n_permutations=N_PERMUTATIONS), qtbot)
    # B - A comes from two models: the line names each (B's bundle records no test windows)
    text = view.quality_note.text()
    assert view.quality_note.isVisible() and "A's fMRI model: accuracy 0.90" in text, text
    assert "B's fMRI model: accuracy not known" in text and view.quality_note.warning
    result = window.state.compare
    assert result is not None and result.meta["b"] == "after"
    # both bundles record blocks, so the default test is over block means
    assert result.meta["unit"] == "blocks"
    assert window.compare_actions.leave_action.isEnabled()
    assert view.compare_combo.isEnabled() and view.compare_side() == "diff"
    # The state holds the change; the view shows exactly it on a symmetric scale.
    diff = result.arrays["fmri_cam_diff"][CLASS]
    assert int(np.argmax(np.abs(diff))) == CHANGED_ROI
    np.testing.assert_allclose(view.roi_values(), diff)
    assert view._lut.scalar_range == pytest.approx((-np.abs(diff).max(), np.abs(diff).max()))
    assert "B \u2212 A" in view.scalar_bar.GetTitle()

    view.rois_check.setChecked(False)
    changed = _show_vertex(view, [int(v) for v in np.argsort(-np.nan_to_num(view.last_values, nan=-np.inf))[:30]])
    centre = _pixel(_frame(view), view, view.surfaces.pial[changed])
    assert not _is_grey(centre) and centre[0] > centre[2] + 40, f"changed ROI drawn {centre}, expected red"
    # Background (motor ROIs, not salient for this class and unchanged) stays grey.
    motor = view._weights.map(np.isin(np.arange(len(diff)), PLANTED[2]).astype(float))
    background = _show_vertex(view, [int(v) for v in np.argsort(-np.nan_to_num(motor, nan=-1.0))[:30]])
    assert _is_grey(_pixel(_frame(view), view, view.surfaces.pial[background]))
    # The unchanged right occipital pole is red in A but not in B − A (relative CAM:
    # it may only lose a little weight because ROI 0 gained).
    near = np.linalg.norm(view.surfaces.pial - view._roi_coords[UNCHANGED_ROI], axis=1)
    unchanged = _show_vertex(view, [int(v) for v in np.argsort(near)[:30]])
    rgb = _pixel(_frame(view), view, view.surfaces.pial[unchanged])
    assert _is_grey(rgb) or rgb[2] > rgb[0], f"unchanged ROI drawn {rgb} in B - A, expected grey or blue"
    view.set_compare_side("a")
    qapp.processEvents()
    np.testing.assert_allclose(view.roi_values(), result.arrays["fmri_cam_a"][CLASS])
    assert view.quality_note.isVisible()  # A's map, A's model
    rgb = _pixel(_frame(view), view, view.surfaces.pial[unchanged])
    assert rgb[0] > rgb[2] + 40, f"salient ROI drawn {rgb} in A, expected red"
    view.set_compare_side("diff")
    view.rois_check.setChecked(True)


def test_q_threshold_removes_non_significant_colour(gui, bundles, qtbot, qapp):
    window, view = gui["window"], gui["cortex"]
    if window.state.compare is None:
        _open(gui, bundles["a"], qtbot)
        _run(window.compare_actions.compare_with(bundles["b"], n_permutations=N_PERMUTATIONS), qtbot)
    result = window.state.compare
    sig = result.significant("fmri_cam", 0.05)[CLASS]
    assert sig[CHANGED_ROI] and sig.sum() <= 3
    view.threshold_slider.setValue(0)
    view.set_camera("Back")
    rgb = np.asarray(view.cortex_mesh.point_data["rgb"])
    coloured_all = int((rgb != view._grey).any(axis=1).sum())
    img_all = _scene(_frame(view))
    view.q_check.setChecked(True)
    qapp.processEvents()
    values = view.roi_values()
    assert np.isfinite(values).sum() == sig.sum() and np.isfinite(values[CHANGED_ROI])
    rgb = np.asarray(view.cortex_mesh.point_data["rgb"])
    coloured_sig = int((rgb != view._grey).any(axis=1).sum())
    assert 0 < coloured_sig < coloured_all / 5
    img_sig = _scene(_frame(view))
    colourful = lambda img: int((np.ptp(img, axis=-1) > 60).sum())  # noqa: E731
    assert 0 < colourful(img_sig) < colourful(img_all)
    # The EEG source shows the band's change, masked by its own q-values.
    view.set_source("eeg")
    band = result.arrays["bands"].tolist().index(window.state.selection.band)
    expected = np.where(result.significant("eeg_roi_cam")[band, CLASS], result.arrays["eeg_roi_cam_diff"][band, CLASS], np.nan)
    np.testing.assert_allclose(view.roi_values(), expected)
    assert "EEG" in view.scalar_bar.GetTitle() and "q <" in view.scalar_bar.GetTitle()
    view.set_source("fmri")
    # A q threshold nothing passes leaves the cortex grey.
    view.q_spin.setValue(0.001)
    qapp.processEvents()
    assert not np.isfinite(view.roi_values()).any()
    view.q_check.setChecked(False)
    view.q_spin.setValue(0.05)
    view.threshold_slider.setValue(30)


def test_coupling_and_fusion_views_show_a_b_and_the_change(gui, bundles, qtbot, qapp):
    window, coupling, attention = gui["window"], gui["coupling"], gui["attention"]
    if window.state.compare is None:
        _open(gui, bundles["a"], qtbot)
        _run(window.compare_actions.compare_with(bundles["b"], n_permutations=N_PERMUTATIONS), qtbot)
    result = window.state.compare
    # Coupling: B − A is zero except the planted cell, on a diverging symmetric scale.
    assert coupling.compare_combo.isVisibleTo(coupling) and coupling.compare_side() == "diff"
    node0 = int(window.state.results.get("coupling", "node_index")[0])
    col = int(np.flatnonzero(coupling.display_order == node0)[0])
    m = coupling.matrix
    assert m[2, col] == pytest.approx(COUPLING_DELTA)
    m[2, col] = 0.0
    np.testing.assert_allclose(m, 0.0, atol=1e-9)
    assert tuple(coupling._colorbar.levels()) == pytest.approx((-COUPLING_DELTA, COUPLING_DELTA))
    assert "B \u2212 A" in coupling.value_text(2, col) and "+0.500" in coupling.value_text(2, col)
    coupling.compare_combo.setCurrentText("B")
    np.testing.assert_allclose(coupling.matrix[:, col], result.arrays["coupling_b"][:, node0])
    coupling.compare_combo.setCurrentText("B \u2212 A")
    # Fusion: A and B side by side, and the change.
    assert attention.compare_mode() and attention.diff_widget.isVisibleTo(attention)
    heights = attention.bar_heights()
    order = [list(result.arrays["views"]).index(v) for v in attention.views]
    np.testing.assert_allclose(heights["b"], bundles["fusion_b"][order])
    np.testing.assert_allclose(heights["a"], window.state.results.get("fusion", "fusion_weights_global")[
        [list(window.state.results.get("fusion", "views")).index(v) for v in attention.views]])
    np.testing.assert_allclose(heights["diff"], heights["b"] - heights["a"])
    # A selected phase-2 ROI shows its own weights in both sessions and their change.
    assert not np.allclose(result.arrays["fusion_a"][node0], result.arrays["fusion_global_a"])
    window.state.select_node("roi", node0)
    qapp.processEvents()
    heights = attention.bar_heights()
    np.testing.assert_allclose(heights["a"], result.arrays["fusion_a"][node0][order])
    np.testing.assert_allclose(heights["b"], result.arrays["fusion_b"][node0][order])
    np.testing.assert_allclose(heights["diff"], result.arrays["fusion_diff"][node0][order])
    assert window.state.results.get("saliency", "roi_names")[node0] in attention._bars_title.text()
    window.state.select_node(None, None)
    qapp.processEvents()
    # Leaving compare mode restores the normal views.
    window.compare_actions.leave()
    qapp.processEvents()
    assert window.state.compare is None and not window.compare_actions.leave_action.isEnabled()
    assert not attention.compare_mode() and "global" in attention.bar_heights()
    assert not attention.diff_widget.isVisibleTo(attention)
    assert coupling.compare_side() is None and not coupling.compare_combo.isVisibleTo(coupling)
    np.testing.assert_allclose(coupling.matrix, window.state.results.get("coupling", "coupling")[:, coupling._order])
    assert gui["cortex"].compare_side() is None and not gui["cortex"].compare_combo.isEnabled()


def test_two_sessions_of_one_bundle(gui, bundles, qtbot):
    from eegfmri_viewer.app_compare import bundle_sessions

    window = gui["window"]
    _open(gui, bundles["sessions"], qtbot)
    assert bundle_sessions(window.state.results) == ["1", "2"]
    _run(window.compare_actions.compare_sessions("1", "2", n_permutations=N_PERMUTATIONS), qtbot)
    result = window.state.compare
    assert result is not None and result.meta["b"].endswith("ses-2")
    assert int(np.argmax(result.arrays["fmri_cam_diff"][CLASS])) == CHANGED_ROI
    assert result.significant("fmri_cam")[CLASS, CHANGED_ROI]
    assert gui["cortex"].compare_side() == "diff"
    np.testing.assert_allclose(gui["cortex"].roi_values(), result.arrays["fmri_cam_diff"][CLASS])
    # Sessions of one model have no separate embedding coupling: the view says so and shows the bundle's.
    coupling = gui["coupling"]
    assert coupling.compare_side() is None
    assert "no embedding coupling" in coupling._heat_title.text()
    # Each session's EEG power-BOLD correlation is compared, recording by recording, on the cortex.
    assert coupling.lagged_side() == "diff" and "Lagged r on the cortex" in coupling._heat_title.text()
    window.state.set_band("alpha")
    coupling.cortex_check.setChecked(True)
    overlay = window.state.overlay
    assert overlay.owner == "Coupling" and overlay.title.startswith("alpha r, B \u2212 A (")
    assert "3 vs 3 recordings" in overlay.title
    np.testing.assert_allclose(overlay.values, result.arrays["lagged_r_diff"][2])
    assert overlay.values[0] < -0.3 and int(np.argmin(overlay.values)) == 0
    np.testing.assert_allclose(gui["cortex"].roi_values(), overlay.values)
    # 3 vs 3 recordings: 20 labellings, so no q reaches 0.05 and "only q < 0.05" leaves nothing coloured
    assert coupling.significant_check.isEnabled() and coupling.significant_check.text() == "only q < 0.05"
    coupling.significant_check.setChecked(True)
    assert np.isnan(window.state.overlay.values).all()
    coupling.significant_check.setChecked(False)
    coupling.compare_combo.setCurrentText("A")
    np.testing.assert_allclose(window.state.overlay.values, result.arrays["lagged_r_a"][2])
    assert not coupling.significant_check.isEnabled()
    coupling.compare_combo.setCurrentText("B \u2212 A")
    coupling.cortex_check.setChecked(False)
    assert window.state.overlay is None
    # The same comparison over block means
    _run(window.compare_actions.compare_sessions("1", "2", n_permutations=N_PERMUTATIONS, unit="blocks"), qtbot)
    by_block = window.state.compare
    assert by_block is not result and by_block.meta["unit"] == "blocks"
    assert int(np.argmax(by_block.arrays["fmri_cam_diff"][CLASS])) == CHANGED_ROI
    # Opening other results leaves compare mode (A would no longer be on screen).
    _open(gui, bundles["a"], qtbot)
    assert window.state.compare is None


@pytest.mark.parametrize("name, part", [("other_classes", "classes"), ("other_atlas", "atlas")])
def test_mismatched_bundles_name_the_part_in_a_dialog(gui, bundles, qtbot, name, part):
    window = gui["window"]
    _open(gui, bundles["a"], qtbot)
    with qtbot.waitSignal(window.errorShown, timeout=30000) as blocker:
        window.compare_actions.compare_with(bundles[name], n_permutations=100)
    exc = blocker.args[0]
    assert type(exc).__name__ == "CompareError"
    box = window.error_dialogs[-1]
    assert part in box.text() and str(bundles[name]) in box.text()
    assert box.detailedText() == ""  # a plain input problem, no traceback
    assert window.state.compare is None
    assert window.state.results is not None and window.state.results.label == "before"
    box.close()


def test_a_paired_test_of_one_subject_is_refused_in_a_dialog(gui, bundles, qtbot):
    window = gui["window"]
    _open(gui, bundles["sessions"], qtbot)  # every window is subject 01
    with qtbot.waitSignal(window.errorShown, timeout=30000) as blocker:
        window.compare_actions.compare_sessions("1", "2", n_permutations=100, unit="subjects")
    assert type(blocker.args[0]).__name__ == "CompareError"
    box = window.error_dialogs[-1]
    assert "at least two subjects recorded in both sessions" in box.text() and "'01'" in box.text()
    assert box.detailedText() == ""
    assert window.state.compare is None and window.state.results is not None
    box.close()


def test_compare_dialog_offers_sessions_only_when_the_bundle_has_them(qapp):
    from eegfmri_viewer.app_compare import DEFAULT_PERMUTATIONS, CompareDialog

    dialog = CompareDialog(["pre", "post"])
    assert dialog.sessions_radio.isEnabled() and dialog.sessions_radio.isChecked()
    # by default the comparison picks blocks when both sides record them (windows of a block are correlated)
    assert dialog.choice() == {"sessions": ("pre", "post"), "n_permutations": DEFAULT_PERMUTATIONS, "unit": None}
    dialog.unit.setCurrentText("windows")
    assert dialog.choice()["unit"] == "windows"
    dialog.bundle_radio.setChecked(True)
    dialog.path_edit.setText("/data/results/post")
    dialog.unit.setCurrentText("blocks")
    assert dialog.choice() == {"path": "/data/results/post", "n_permutations": DEFAULT_PERMUTATIONS, "unit": "blocks"}
    dialog.unit.setCurrentText("subjects")
    assert dialog.choice()["unit"] == "subjects"
    assert not dialog.session_a.isEnabled() and dialog.path_edit.isEnabled()
    single = CompareDialog([])
    assert not single.sessions_radio.isEnabled() and single.bundle_radio.isChecked()
    assert "path" in single.choice()
    dialog.deleteLater()
    single.deleteLater()


def test_file_compare_dialog_starts_the_comparison(gui, bundles, qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    window = gui["window"]
    _open(gui, bundles["sessions"], qtbot)
    chosen = {}

    def accept():
        dialog = QApplication.activeModalWidget()
        chosen["sessions"] = (dialog.session_a.currentText(), dialog.session_b.currentText())
        dialog.permutations.setValue(1000)
        dialog.accept()

    QTimer.singleShot(0, accept)
    _run(window.compare_actions.ask(), qtbot)
    assert chosen["sessions"] == ("1", "2")
    assert window.state.compare is not None and window.state.compare.meta["n_permutations"] == 1000
    assert "Compare mode" in window.statusBar().currentMessage()
    window.compare_actions.leave()
    assert window.state.compare is None


def test_compare_dialog_offers_only_the_sessions_the_comparison_knows(tmp_path):
    from eegfmri_viewer.app_compare import bundle_sessions
    from eegfmri_viewer.comparison.compare import CompareError, session_data
    from eegfmri_viewer.results import load_bundle

    make_bundle(tmp_path / "a", phase2=False)
    bundle = load_bundle(tmp_path / "a")
    n = len(bundle.arrays["windows"]["labels"])
    # BIDS "n/a", a missing label ("") and one written as None are no session
    bundle.arrays["windows"]["session"] = np.array(["2", "n/a", "1", "", "None", "2"] * n)[:n]
    assert bundle_sessions(bundle) == ["1", "2"]
    with pytest.raises(CompareError, match=r"sessions: 1, 2\)"):
        session_data(bundle, "n/a-nothing")
    bundle.arrays["windows"]["session"] = np.array(["n/a"] * n)
    assert bundle_sessions(bundle) == []
    assert bundle_sessions(None) == []
