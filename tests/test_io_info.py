"""The ``info`` command: text and JSON per run, skipped runs, exit codes."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from io_testdata import make_bids_run

from eegfmri_viewer.io import command_info
from eegfmri_viewer.io.info import dataset_info


def _run(argv):
    parser = argparse.ArgumentParser()
    command_info.add_arguments(parser)
    return command_info.run(parser.parse_args(argv))


def test_info_json_lists_runs_and_skipped(tmp_path, capsys):
    make_bids_run(tmp_path, sub="01", ses="a", run="1", n_vol=10, ecg=True, bad_channels=("C3",))
    make_bids_run(tmp_path, sub="02", run="1", bold=False)
    assert _run([str(tmp_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "bids" and info["n_usable"] == 1
    run = info["runs"][0]
    assert (run["subject"], run["session"], run["task"], run["run"]) == ("01", "a", "rest", "1")
    assert run["eeg_format"] == "BrainVision" and run["channels_by_type"] == {"ecg": 1, "eeg": 8}
    assert run["bad_channels"] == ["C3"]
    assert run["sfreq"] == 250.0 and run["bold_shape"] == [11, 13, 11, 10] and run["tr"] == 2.0
    assert run["space"] == "MNI" and run["n_volume_markers"] == 10
    assert run["alignment_status"].startswith("markers 'R128': ok")
    assert run["events_per_class"] == {"closed": 1, "open": 2}
    assert run["corrections_available"] == ["gradient", "pulse"]
    assert info["skipped"][0]["label"] == "sub-02 task-rest run-1"
    assert "EEG without a BOLD run" in info["skipped"][0]["reason"]


def test_info_text_and_exit_2_without_usable_runs(tmp_path, capsys):
    make_bids_run(tmp_path, sub="01", run="1", eeg=False)
    assert _run([str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert "0 usable run(s), 1 skipped" in out and "BOLD without an EEG recording" in out
    make_bids_run(tmp_path, sub="02", run="1", bad_channels=("C3", "P3"))
    assert _run([str(tmp_path)]) == 0
    assert "marked bad: C3, P3" in capsys.readouterr().out


def test_info_run_failing_validation_is_skipped_with_reason(tmp_path):
    make_bids_run(tmp_path, sub="01", run="1", bold_json=False)
    make_bids_run(tmp_path, sub="02", run="1", ch_names=["Fp1", "Cz", "Zork"])
    info = dataset_info(tmp_path)
    assert [r["subject"] for r in info["runs"]] == ["01"]
    assert "channels not found in any montage: ['Zork']" in info["skipped"][0]["reason"]


def test_info_single_files_with_tr_override(tmp_path, capsys):
    make_bids_run(tmp_path, sub="01", run="1", n_vol=10)
    eeg = tmp_path / "sub-01" / "eeg" / "sub-01_task-rest_run-1_eeg.vhdr"
    bold = tmp_path / "sub-01" / "func" / "sub-01_task-rest_run-1_bold.nii.gz"
    assert _run([str(eeg), "--bold", str(bold), "--tr", "2.1", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert run["tr"] == 2.1
    assert any("TR 2.1 s given by the user differs from the sidecar TR 2 s" in w for w in run["warnings"])


def test_info_cli_entry_point(tmp_path):
    cli = pytest.importorskip("eegfmri_viewer.cli")
    make_bids_run(tmp_path, sub="01", run="1")
    out = subprocess.run([sys.executable, "-m", "eegfmri_viewer", "info", str(tmp_path)], capture_output=True,
                         text=True, timeout=120)
    if "invalid choice: 'info'" in out.stderr:
        pytest.skip("info not wired into cli.py")
    assert out.returncode == 0, out.stderr
    assert "sub-01 task-rest run-1" in out.stdout and "TR 2 s, space MNI" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "eegfmri_viewer", "info", str(tmp_path / "missing")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "missing: not found" in bad.stderr + bad.stdout
    assert cli is not None


def test_command_module_is_light_to_import():
    code = "import sys, eegfmri_viewer.io.command_info; print('mne' in sys.modules, 'nibabel' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"]
