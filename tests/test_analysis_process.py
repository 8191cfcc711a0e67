"""``analyze`` in a child process: progress, epochs, result, cancel and errors reach the caller."""

import json
import multiprocessing
import time
from pathlib import Path

import pytest

from fast_analysis import fast_config

from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.pipeline.analysis_process import (
    AnalysisProcessError,
    analyze_in_process,
    describe_exception,
    rebuild_exception,
)
from eegfmri_viewer.progress import Cancelled


def no_children_left():
    return not multiprocessing.active_children()


def test_child_reports_progress_and_epochs_and_writes_the_bundle(small_demo, tmp_path):
    from eegfmri_viewer.results import load_bundle

    fractions, epochs = [], []
    out = analyze_in_process(small_demo, tmp_path / "res", fast_config().to_dict(),
                             progress=lambda f, m: fractions.append((f, m)), on_epoch=epochs.append,
                             torch_threads=1)
    assert out == tmp_path / "res"
    bundle = load_bundle(out)
    assert bundle.arrays["saliency"]["fmri_cam"].shape[1] == 264
    assert len(fractions) > 3 and all(0.0 <= f <= 1.0 for f, _ in fractions)
    assert fractions[-1][0] == pytest.approx(1.0)
    assert any(m for _, m in fractions)
    # per-epoch records of every stage, as the Training dock draws them
    stages = {e["stage"] for e in epochs}
    assert {"fmri", "eeg_alpha", "eeg_beta", "phase2"} <= stages
    fmri = [e for e in epochs if e["stage"] == "fmri"]
    # the fMRI model's initialisations (training.n_init_fmri, 3) one after the other
    assert [(e["init"], e["epoch"]) for e in fmri] == [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2)]
    assert all(isinstance(e["loss"], float) and e["loss"] > 0 for e in fmri)
    assert no_children_left()


def test_cancel_stops_the_child_quickly_and_leaves_no_process(small_demo, tmp_path):
    asked = []

    def cancel():
        # ask once the child is really working (after its first progress report)
        return bool(asked) and time.monotonic() - asked[0] > 0.0

    def progress(fraction, message):
        if not asked:
            asked.append(time.monotonic())

    t0 = None
    with pytest.raises(Cancelled):
        try:
            analyze_in_process(small_demo, tmp_path / "res", fast_config(), progress=progress, cancel=cancel,
                               torch_threads=1)
        finally:
            t0 = time.monotonic()
    assert asked, "the child never reported progress"
    assert t0 - asked[0] < 4.0
    assert no_children_left()
    assert not (tmp_path / "res").exists()


def test_error_in_the_child_arrives_with_its_type_and_message(tmp_path):
    not_a_dataset = tmp_path / "holiday photos"
    not_a_dataset.mkdir()
    (not_a_dataset / "beach.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(InputError) as info:
        analyze_in_process(not_a_dataset, tmp_path / "res", None)
    assert "holiday photos" in str(info.value)
    assert "Traceback" in info.value.remote_traceback
    assert no_children_left()


def test_bad_settings_fail_before_a_child_starts(tmp_path):
    with pytest.raises(InputError, match="no_such_key"):
        analyze_in_process(tmp_path, tmp_path / "res", {"training": {"no_such_key": 1}})
    assert no_children_left()


def test_exceptions_round_trip_through_json():
    def roundtrip(exc):
        try:
            raise exc
        except BaseException as caught:  # noqa: BLE001
            return rebuild_exception(json.loads(json.dumps(describe_exception(caught))))

    key = roundtrip(KeyError("no such band: zeta"))
    assert type(key) is KeyError and str(key) == "'no such band: zeta'"
    inp = roundtrip(InputError(Path("/data/sub-01_bold.nii.gz"), "3-D image, expected 4-D BOLD"))
    assert type(inp) is InputError and inp.path == Path("/data/sub-01_bold.nii.gz")
    assert str(inp) == "/data/sub-01_bold.nii.gz: 3-D image, expected 4-D BOLD"

    class LocalProblem(Exception):
        pass

    other = roundtrip(LocalProblem("graph has no edges"))
    assert isinstance(other, AnalysisProcessError)
    assert "LocalProblem" in str(other) and "graph has no edges" in str(other)
    assert "LocalProblem" in other.remote_traceback


def test_child_log_records_are_sent_as_plain_messages():
    import logging

    from eegfmri_viewer.pipeline.analysis_process import _PipeLogHandler

    sent = []
    logger = logging.getLogger("eegfmri_viewer.test_child_log")
    handler = _PipeLogHandler(sent.append)
    logger.addHandler(handler)
    try:
        logger.info("not relayed")
        logger.warning("band %s has no power", "gamma")
    finally:
        logger.removeHandler(handler)
    assert sent == [{"kind": "log", "name": "eegfmri_viewer.test_child_log", "level": logging.WARNING,
                     "message": "band gamma has no power"}]
    json.dumps(sent)
