"""What the Cortex 3-D view says beside its map so that nobody over-reads it.

* Native-space (or unknown-space) data: the ROI positions are MNI atlas coordinates, so a map of a
  BOLD image that is not registered to MNI is not the subject's anatomy.
* Compare mode: how many ROIs of the shown class reach the q threshold (and the
  smallest p the tested units allow), the comparison's warnings, and the
  accuracy verdict of both sides' models, next to the map, not only in the Log.
* The compare controls ("only q <") are reachable at a common window width.

Run under ``xvfb-run -a`` (the cortex view needs OpenGL).
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bundle_factory import make_bundle  # noqa: E402

N_BLOCKS = 2  # per class and side: the smallest possible p is 2 / C(4, 2) = 0.33


def _windows(bundle, n_per_class, seed):
    """``n_per_class`` windows per class around the bundle's CAM, each its own block."""
    rng = np.random.default_rng(seed)
    cam = bundle.get("saliency", "fmri_cam")
    labels = np.repeat(np.arange(len(bundle.classes)), n_per_class)
    return {"labels": labels, "subject": np.array(["01"] * len(labels)), "blocks": np.arange(len(labels)),
            "onsets_s": np.arange(len(labels)) * 10.0,
            "fmri_cam": cam[labels] + rng.normal(0, 0.2, (len(labels), cam.shape[1]))}


def _with_space(bundle, space):
    out = copy.copy(bundle)
    out.dataset = copy.deepcopy(bundle.dataset)
    for rec in out.dataset["recordings"]:
        rec["space"] = space
    return out


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """A and B: fMRI-only, 2 blocks per class each, same input files; A's model at chance, B's above."""
    from eegfmri_viewer.results import load_bundle, save_bundle

    root = tmp_path_factory.mktemp("caveats")
    make_bundle(root / "base", phase2=False, eeg=False)
    out = {}
    for name, seed, acc in (("a", 1, 0.3), ("b", 2, 0.95)):
        bundle = load_bundle(root / "base")
        bundle.arrays["windows"] = _windows(bundle, N_BLOCKS, seed)
        bundle.metrics = copy.deepcopy(bundle.metrics)
        bundle.metrics["phase1"]["fmri"].update(test_acc=acc, test_balanced_acc=acc, n_test=60, chance=1 / 3)
        bundle.manifest["input_files"] = {"sub-01_bold.nii.gz": "0" * 64}
        bundle.dataset = copy.deepcopy(bundle.dataset)
        bundle.dataset["label"] = name
        save_bundle(root / name, bundle)
        out[name] = root / name
    return out


@pytest.fixture(scope="module")
def gui(qapp, tmp_path_factory):
    """A hidden main window (for File ▸ Compare's actions) and a Cortex view on its state, 1230 px wide
    (the dock's width in a 1600 px window)."""
    import pyvista
    from PySide6.QtCore import QCoreApplication, QEvent, QSettings

    from eegfmri_viewer.app import MainWindow
    from eegfmri_viewer.views.cortex_view import CortexView

    samples = pyvista.global_theme.multi_samples
    pyvista.global_theme.multi_samples = 1
    ini = tmp_path_factory.mktemp("settings") / "s.ini"
    window = MainWindow(settings=QSettings(str(ini), QSettings.Format.IniFormat), install_hooks=False)
    cortex = CortexView(window.state)
    cortex.resize(1230, 600)
    cortex.show()
    qapp.processEvents()
    yield window, cortex
    pyvista.global_theme.multi_samples = samples
    for box in list(window.error_dialogs):
        box.close()
    cortex.close_plotter()
    for w in (cortex, window):
        w.close()
        w.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _open(window, path):
    from eegfmri_viewer.results import load_bundle

    window.state.set_results(None)
    window.state.set_results(load_bundle(path))
    window.state.set_class(0)


def _compare(window, path_b, qtbot):
    worker = window.compare_actions.compare_with(path_b, n_permutations=1000)
    assert worker is not None
    qtbot.waitUntil(lambda: worker.outcome is not None, timeout=30000)
    qtbot.wait(10)
    assert window.state.compare is not None


def test_space_caveat_names_native_and_unknown_recordings_only():
    from eegfmri_viewer.io import space
    from eegfmri_viewer.views import cortex_view

    # the GUI's words are the core's (compare, report and tables say the same: tests/test_space_wording.py)
    assert cortex_view.space_caveat is space.space_caveat and cortex_view.recording_spaces is space.recording_spaces
    space_caveat = space.space_caveat
    assert space_caveat([("r1", "MNI"), ("r2", "MNI152NLin2009cAsym")]) == ""
    assert space_caveat([]) == ""
    text = space_caveat([("r1", "MNI"), ("sub-01 run-1", "native")])
    assert "The BOLD of sub-01 run-1 is in native space, not MNI" in text and "MNI coordinates" in text
    assert "r1" not in text
    text = space_caveat([("r1", "unknown")])
    assert "The BOLD of r1 is of unknown space" in text and "native space" not in text and "not MNI" not in text
    # a BIDS space- entity other than MNI (e.g. T1w) is not MNI either
    assert "The BOLD of r3 is in native space" in space_caveat([("r3", "T1w")])


def test_native_space_results_say_so_beside_the_map(gui, bundles):
    from eegfmri_viewer.results import load_bundle

    window, view = gui
    bundle = load_bundle(bundles["a"])
    window.state.set_results(None)
    window.state.set_results(_with_space(bundle, "MNI"))
    assert not view.space_note.isVisible()
    window.state.set_results(_with_space(bundle, "native"))
    note = view.space_note
    assert note.isVisible() and "is in native space, not MNI" in note.text() and "MNI coordinates" in note.text()
    assert bundle.dataset["recordings"][0]["label"] in note.text()
    assert "Register the BOLD to MNI" in note.toolTip()
    window.state.set_results(None)
    assert not view.space_note.isVisible()


def test_compare_note_counts_rois_reaching_q_and_shows_the_warnings(gui, bundles, qtbot, qapp):
    window, view = gui
    _open(window, bundles["a"])
    assert not view.compare_note.isVisible() and not view.compare_row.isVisible()
    _compare(window, bundles["b"], qtbot)
    result = window.state.compare
    assert view.compare_side() == "diff" and not view.q_check.isChecked()
    # the view still shows the unthresholded change, and says what it is worth
    assert np.isfinite(view.roi_values()).sum() > 100
    summary = view.compare_summary()
    n_rois = len(result.arrays["roi_coords"])
    assert summary["n_significant"] == 0 and summary["n_tested"] == n_rois
    assert summary["smallest_p"] == pytest.approx(1 / 3, abs=0.01)
    text = view.compare_note.text()
    assert view.compare_note.isVisible() and view.compare_note_warning
    assert f"0 of {n_rois} ROIs reach q &lt; 0.05" in text or f"0 of {n_rois} ROIs reach q < 0.05" in text
    assert f"{N_BLOCKS} vs {N_BLOCKS} blocks" in text and "no reliable change" in text
    # in the words of the CLI and the report (comparison/resolution.py)
    assert f"({N_BLOCKS} vs {N_BLOCKS} blocks; smallest possible p 0.33; exact: all 6 relabellings; none can " \
           "reach q &lt; 0.05)" in text
    assert "class rest" in text
    # the comparison's warnings (same input files) are beside the map, not only in the Log
    assert result.meta.get("warnings")
    plain = view.compare_note.text().replace("&quot;", '"').replace("&#x27;", "'").replace("&amp;", "&")
    for warning in result.meta["warnings"]:
        assert warning in plain
    # the note follows the class shown
    window.state.set_class(1)
    assert "class visual" in view.compare_note.text()
    window.state.set_class(0)


def test_both_models_verdicts_stay_visible_in_compare_mode(gui, bundles, qtbot):
    window, view = gui
    if window.state.compare is None:
        _open(window, bundles["a"])
        _compare(window, bundles["b"], qtbot)
    # File ▸ Compare keeps B's bundle: B's model is known
    assert view.bundle_b() is not None and view.bundle_b().path.name == "b"
    note = view.quality_note
    view.set_compare_side("diff")
    assert note.isVisible() and note.warning
    assert "A's fMRI model: not above chance" in note.text() and "B's fMRI model: accuracy 0.95" in note.text()
    view.set_compare_side("b")
    assert note.isVisible() and not note.warning and note.text().startswith("B's fMRI model: test accuracy 0.95")
    view.set_compare_side("a")
    assert note.isVisible() and note.warning and note.text().startswith("A's fMRI model: test accuracy 0.30")
    view.set_compare_side("diff")


def test_only_q_control_is_reachable_and_the_note_offers_it(gui, bundles, qtbot, qapp):
    from eegfmri_viewer.comparison.compare import CompareResult

    window, view = gui
    if window.state.compare is None:
        _open(window, bundles["a"])
        _compare(window, bundles["b"], qtbot)
    qapp.processEvents()
    # not in the tool bar's overflow menu: the compare row is on screen and the tool bar fits
    assert view.compare_row.isVisible() and view.q_check.isVisible() and view.q_spin.isVisible()
    assert view.toolbar.sizeHint().width() <= view.width()
    # a comparison where 3 ROIs of class 0 reach q < 0.05
    base = window.state.compare
    q = np.full_like(base.arrays["fmri_cam_q"], 0.5)
    q[0, [3, 7, 11]] = 0.01
    arrays = dict(base.arrays, fmri_cam_q=q, n_windows_a=np.array([20, 20, 20]), n_windows_b=np.array([20, 20, 20]))
    meta = dict(base.meta, smallest_p=[1e-4] * 3, warnings=[])
    window.state.set_compare(CompareResult(arrays=arrays, meta=meta))
    n_rois = q.shape[1]
    text = view.compare_note.text()
    assert f"3 of {n_rois} ROIs reach q" in text and "20 vs 20 blocks" in text
    assert "not significant" in text and "Colour only these 3" in text and view.compare_note_warning
    view.compare_note.linkActivated.emit("only-q")
    assert view.q_check.isChecked() and np.isfinite(view.roi_values()).sum() == 3
    assert "only these are coloured" in view.compare_note.text() and not view.compare_note_warning
    view.q_check.setChecked(False)
    window.compare_actions.leave()
    assert not view.compare_row.isVisible() and not view.compare_note.isVisible()


def test_an_open_native_space_recording_is_named_in_the_note(gui, tmp_path):
    """A BOLD with scanner sform/qform codes (no MNI registration), opened as a recording."""
    import nibabel as nib

    from eegfmri_viewer.io.single import open_files

    window, view = gui
    window.state.set_results(None)
    rng = np.random.default_rng(0)
    img = nib.Nifti1Image(rng.normal(100, 1, (8, 8, 8, 30)).astype(np.float32), np.diag([3.0, 3.0, 3.0, 1.0]))
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = 2.0
    img.set_sform(img.affine, code=1)
    img.set_qform(img.affine, code=1)
    bold = tmp_path / "sub-01_task-x_bold.nii.gz"
    nib.save(img, bold)
    (tmp_path / "sub-01_task-x_events.tsv").write_text("onset\tduration\ttrial_type\n0\t10\ta\n20\t10\tb\n")
    recording = open_files(None, bold, tmp_path / "sub-01_task-x_events.tsv")
    assert recording.space == "native"
    window.state.set_dataset(recording)
    assert view.space_note.isVisible()
    assert "The BOLD of open recording sub-01 task-x is in native space" in view.space_note.text()
    window.state.set_dataset(None)
    assert not view.space_note.isVisible()
