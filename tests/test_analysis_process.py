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


# -- a recording's loose files instead of a BIDS folder ------------------------------------------
def _loose_bold_run(folder: Path):
    """A BOLD file (60 volumes, TR 2 s) and its events (2 blocks each of face / house) in ``folder``."""
    from io_testdata import write_bold, write_tsv

    bold = write_bold(folder / "scan_bold.nii.gz", n_vol=60, tr=2.0)
    events = write_tsv(folder / "scan_events.tsv", ["onset", "duration", "trial_type"],
                       [(10 + 20 * i, 14, ("face", "house")[i % 2]) for i in range(4)])
    return bold, events


def _fast_fmri_config():
    # fMRI only: phase 2 and the EEG models do not run; the Dosenbach atlas keeps the graph small
    return fast_config().with_overrides(preprocessing={"atlas": "dosenbach2010"})


def test_recording_files_round_trip_through_json(tmp_path):
    from eegfmri_viewer.io.single import RecordingFiles

    files = RecordingFiles(tmp_path / "a" / ".." / "scan_bold.nii.gz", events=tmp_path / "ev.tsv", tr=2)
    assert files.bold == str(tmp_path / "scan_bold.nii.gz") and files.tr == 2.0 and files.eeg is None
    assert RecordingFiles.from_dict(json.loads(json.dumps(files.to_dict()))) == files
    assert files.paths() == [str(tmp_path / "scan_bold.nii.gz"), str(tmp_path / "ev.tsv")]
    assert files.command("OUT").endswith(f"--events {tmp_path / 'ev.tsv'} --tr 2 --out OUT")
    with pytest.raises(InputError, match="unknown keys subject"):
        RecordingFiles.from_dict({"bold": str(files.bold), "subject": "01"})


def test_child_opens_recording_files_and_writes_a_bundle_naming_the_bold(tmp_path):
    from eegfmri_viewer.io.single import RecordingFiles
    from eegfmri_viewer.results import load_bundle

    bold, events = _loose_bold_run(tmp_path / "data")
    fractions, epochs = [], []
    out = analyze_in_process(RecordingFiles(bold, events=events), tmp_path / "res", _fast_fmri_config(),
                             progress=lambda f, m: fractions.append((f, m)), on_epoch=epochs.append,
                             torch_threads=1)
    assert out == tmp_path / "res"
    bundle = load_bundle(out)
    assert bundle.dataset["source"] == [str(bold.resolve())]
    assert bundle.dataset["modalities"] == ["fmri"]
    assert bundle.dataset["recordings"][0]["bold_path"] == str(bold.resolve())
    assert any("scan_bold" in m or "open" in m.lower() for f, m in fractions if f <= 0.1), fractions[:5]
    assert fractions[-1][0] == pytest.approx(1.0)
    assert all(a[0] <= b[0] + 1e-9 for a, b in zip(fractions, fractions[1:])), "progress went backwards"
    assert {e["stage"] for e in epochs} == {"fmri"}
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["scan_bold.nii.gz", "scan_events.tsv"]
    assert no_children_left()


def test_an_output_in_the_folder_of_the_files_is_refused_before_a_child_starts(tmp_path, monkeypatch):
    import eegfmri_viewer.pipeline.analysis_process as analysis_process
    from eegfmri_viewer.io.single import RecordingFiles

    def must_not_start(*args, **kwargs):
        raise AssertionError("a child process was started although the output was refused")

    monkeypatch.setattr(analysis_process.multiprocessing, "get_context", must_not_start)
    data = tmp_path / "data"
    bold, events = _loose_bold_run(data)
    for out in (data / "res", data / "deeper" / "res", data):
        with pytest.raises(InputError, match="holds the input file|contains the input") as info:
            analyze_in_process(RecordingFiles(bold, events=events), out, _fast_fmri_config(), force=True)
        assert str(out) in str(info.value)
    # the events file's own folder is protected as well
    other = tmp_path / "events_here"
    moved = other / "ev.tsv"
    other.mkdir()
    moved.write_bytes(events.read_bytes())
    with pytest.raises(InputError, match="ev.tsv"):
        analyze_in_process(RecordingFiles(bold, events=moved), other / "res", None)
    with pytest.raises(InputError, match="subjects and sessions"):
        analyze_in_process(RecordingFiles(bold, events=events), tmp_path / "res", None, subjects=["01"])
    assert sorted(p.name for p in data.iterdir()) == ["scan_bold.nii.gz", "scan_events.tsv"]
    assert not (tmp_path / "res").exists()


def test_recording_files_of_a_recording_leave_out_events_on_the_eeg_clock(tmp_path):
    from eegfmri_viewer.io.recording import Recording
    from eegfmri_viewer.io.single import RecordingFiles

    def recording(events_path):
        return Recording(subject="01", session=None, task="x", run=None, eeg=None,
                         eeg_path=tmp_path / "sub-01_task-x_eeg.vhdr", bold=None,
                         bold_path=tmp_path / "scan_bold.nii.gz", tr=2.0, events=None, alignment=None,
                         confounds=None, space="MNI", events_path=events_path)

    # the EEG's BIDS events file is on the EEG clock: not an --events file; open_files finds it by name
    eeg_clock = RecordingFiles.from_recording(recording(tmp_path / "sub-01_task-x_events.tsv"))
    assert eeg_clock.events is None and eeg_clock.eeg == str(tmp_path / "sub-01_task-x_eeg.vhdr")
    bold_clock = RecordingFiles.from_recording(recording(tmp_path / "scan_events.tsv"), tr=2.5)
    assert bold_clock.events == str(tmp_path / "scan_events.tsv") and bold_clock.tr == 2.5
    assert bold_clock.describe() == ("scan_bold.nii.gz (+ events scan_events.tsv, + EEG sub-01_task-x_eeg.vhdr, "
                                     "+ TR 2.5 s)")
