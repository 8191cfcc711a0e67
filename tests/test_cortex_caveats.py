"""What the Cortex 3-D view says beside its map so that nobody over-reads it.

* Native-space (or unknown-space) data: the ROI positions are MNI atlas coordinates, so a map of a
  BOLD image that is not registered to MNI is not the subject's anatomy.
* Compare mode: how many ROIs of the shown class reach the q threshold (and the
  smallest p the tested units allow), the comparison's warnings, and the
  accuracy verdict of both sides' models, next to the map, not only in the Log.
* The compare controls ("only q <") are reachable at a common window width.
* The notes are about the map shown: the space of the shown results' runs (each named once), a line when
  the open recording is not what the results were made from, a compare note that follows the side shown and
  does not repeat the space note; the notes scroll in an area of capped height so the map keeps its minimum.

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
    for name, seed, acc in (("a", 1, 0.3), ("b", 2, 0.95), ("na", 1, 0.3), ("nb", 2, 0.95)):
        bundle = load_bundle(root / "base")
        if name.startswith("n"):
            bundle = _with_space(bundle, "native")
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
    assert "A's fMRI model: not shown above chance" in note.text() and "B's fMRI model: accuracy 0.95" in note.text()
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
    window, view = gui
    window.state.set_results(None)
    recording = _native_recording(tmp_path, "sub-01_task-x")
    assert recording.space == "native"
    window.state.set_dataset(recording)
    assert view.space_note.isVisible()
    assert "The BOLD of open recording sub-01 task-x is in native space" in view.space_note.text()
    window.state.set_dataset(None)
    assert not view.space_note.isVisible()


# --- the notes are about the map shown (walkthrough 2, items 1, 2, 9 and 11) -------------------------------

def _native_recording(folder, name="sub-07_task-y"):
    """A BOLD with scanner sform/qform codes, opened as a recording (not one the bundles were made from)."""
    import nibabel as nib

    from eegfmri_viewer.io.single import open_files

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    img = nib.Nifti1Image(rng.normal(100, 1, (8, 8, 8, 30)).astype(np.float32), np.diag([3.0, 3.0, 3.0, 1.0]))
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = 2.0
    img.set_sform(img.affine, code=1)
    img.set_qform(img.affine, code=1)
    bold = folder / f"{name}_bold.nii.gz"
    nib.save(img, bold)
    (folder / f"{name}_events.tsv").write_text("onset\tduration\ttrial_type\n0\t10\ta\n20\t10\tb\n")
    return open_files(None, bold, folder / f"{name}_events.tsv")


def test_space_caveat_names_each_run_once_and_counts_several():
    from eegfmri_viewer.io.space import space_caveat

    one = space_caveat([("sub-01 run-1", "native"), ("sub-01 run-1", "native")], noun="runs")
    assert one.startswith("The BOLD of sub-01 run-1 is in native space") and one.count("sub-01 run-1") == 1
    two = space_caveat([("r1", "native"), ("r2", "native"), ("r1", "native")], noun="runs")
    assert two.startswith("The BOLD of the 2 runs r1 and r2 is in native space")
    five = space_caveat([(f"r{i}", "unknown") for i in range(5)], noun="runs")
    assert five.startswith("The BOLD of the 5 runs r0, r1, r2 and 2 more is of unknown space")
    # the CLI's, compare.json's and the report's wording is unchanged
    assert space_caveat([("na", "native"), ("nb", "native")]).startswith("The BOLD of na and nb is in native")


def test_space_note_is_about_the_shown_results_not_another_open_recording(gui, bundles, tmp_path):
    from eegfmri_viewer.results import load_bundle
    from eegfmri_viewer.views.cortex_view import recording_in_dataset

    window, view = gui
    window.state.set_results(None)
    recording = _native_recording(tmp_path / "other")
    window.state.set_dataset(recording)
    # no results: the note is about the open recording
    assert view.space_note.isVisible() and "open recording sub-07 task-y" in view.space_note.text()
    assert not view.source_note.isVisible()
    # MNI results of other data: no space note over their map, and a line saying whose map it is
    bundle = load_bundle(bundles["a"])
    window.state.set_results(_with_space(bundle, "MNI"))
    assert not view.space_note.isVisible() and "sub-07" not in view.space_note.text()
    assert view.source_note.isVisible()
    assert view.source_note.text() == "The map is of the results a, not of the open recording sub-07 task-y."
    # native results: the note names their runs, not the open recording
    window.state.set_results(_with_space(bundle, "native"))
    text = view.space_note.text()
    labels = [r["label"] for r in bundle.dataset["recordings"]]
    assert view.space_note.isVisible() and "open recording" not in text and "sub-07" not in text
    assert f"The BOLD of the {len(labels)} runs " in text and all(text.count(lab) == 1 for lab in labels)
    # results made from the open recording: no line about another recording
    own = _with_space(bundle, "native")
    own.dataset["recordings"][0]["bold_path"] = str(recording.bold_path)
    assert recording_in_dataset(recording, own.dataset) and not recording_in_dataset(recording, bundle.dataset)
    window.state.set_results(own)
    assert not view.source_note.isVisible()
    window.state.set_dataset(None)
    window.state.set_results(None)
    assert not view.space_note.isVisible() and not view.source_note.isVisible()


def test_compare_note_follows_the_side_and_leaves_the_space_warning_to_the_space_note(gui, bundles, qtbot):
    window, view = gui
    _open(window, bundles["na"])
    _compare(window, bundles["nb"], qtbot)
    meta = window.state.compare.meta
    assert meta["space"] == "native" and any("is in native space" in w for w in meta["warnings"])
    labels = [r["label"] for r in window.state.results.dataset["recordings"]]
    space = view.space_note.text()
    # each run once, not again as "B: ..."
    assert view.space_note.isVisible() and "B:" not in space and all(space.count(lab) == 1 for lab in labels)
    note = view.compare_note.text()
    assert "in native space" not in note and "same input files" in note
    assert note.startswith("B \u2212 A (fMRI CAM, class rest)") and "no reliable change" in note
    view.set_compare_side("a")
    note = view.compare_note.text()
    assert note.startswith("A (fMRI CAM, class rest): the mean relative CAM") and "of na, not a change" in note
    assert "For the change B \u2212 A, 0 of" in note and "no reliable change" not in note
    assert view.compare_summary()["side"] == "a"
    view.set_compare_side("b")
    note = view.compare_note.text()
    assert note.startswith("B (fMRI CAM, class rest)") and "of nb, not a change" in note and "For the change" in note
    view.set_compare_side("diff")
    window.compare_actions.leave()


def test_map_keeps_its_height_and_the_notes_scroll_uncut(gui, bundles, qtbot, qapp, tmp_path):
    from eegfmri_viewer.views.cortex_view import NOTES_MAX_SHARE, PLOTTER_MIN_HEIGHT

    window, view = gui
    _open(window, bundles["na"])
    _compare(window, bundles["nb"], qtbot)
    window.state.set_dataset(_native_recording(tmp_path / "other"))
    try:
        for width, height in ((640, view.minimumSizeHint().height()), (640, 420), (1230, 600), (900, 1000)):
            view.resize(width, height)
            qapp.processEvents()
            qapp.processEvents()
            assert view.plotter.height() >= PLOTTER_MIN_HEIGHT, (width, height)
            content = view.notes_content_height()
            area = view.notes_area.height()
            assert content > 0 and area <= max(NOTES_MAX_SHARE * view.height(), 60) + 1
            # the notes that do not fit scroll; none is squeezed
            assert area >= content or view.notes_area.verticalScrollBar().maximum() > 0
            for label in (view.source_note, view.space_note, view.compare_note, view.quality_note):
                if not label.isHidden():
                    assert label.height() >= label.heightForWidth(label.width()), label.text()[:60]
            bar_px = view.scalar_bar.GetHeight() * view.plotter.height() * view.plotter.devicePixelRatioF()
            assert view.scalar_bar.GetNumberOfLabels() * 30 <= bar_px
    finally:
        window.state.set_dataset(None)
        window.compare_actions.leave()
        view.resize(1230, 600)
        qapp.processEvents()


def test_colour_bar_labels_read_as_plain_numbers(gui):
    _window, view = gui
    fmt = view.scalar_bar.GetLabelFormat()
    # the demo's motor CAM peaks near 430: no scientific notation for such values
    assert [fmt % v for v in (430.2, -215.1, 0.0, 5.93, 0.00074)] == ["430", "-215", "0", "5.93", "0.00074"]
