"""Head motion: framewise displacement from the confounds, reported per run and censored on request."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from fast_analysis import fast_config
from io_testdata import make_bids_run, write_bold, write_tsv
from eegfmri_viewer.io.motion import framewise_displacement, motion_summary


def _motion_table(n=10):
    table = pd.DataFrame(np.zeros((n, 6)), columns=["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"])
    table.loc[3:, "trans_x"] = 1.0     # a 1-mm shift into volume 3
    table.loc[6:, "rot_z"] = 0.01      # 0.01 rad into volume 6: 0.5 mm of arc at 50 mm
    table.loc[8:, "trans_y"] = -0.25
    return table


def test_framewise_displacement_from_the_six_motion_parameters():
    fd = framewise_displacement(_motion_table())
    np.testing.assert_allclose(fd, [0, 0, 0, 1.0, 0, 0, 0.5, 0, 0.25, 0])
    summary = motion_summary(fd, threshold_mm=0.3)
    assert summary == {"mean_fd_mm": 0.175, "max_fd_mm": 1.0, "threshold_mm": 0.3, "n_volumes_above": 2,
                       "n_volumes": 10}


def test_fmriprep_column_is_used_as_written_and_missing_parameters_give_none():
    table = _motion_table()
    table["framewise_displacement"] = [np.nan] + [0.1] * 9   # fMRIPrep writes n/a for the first volume
    np.testing.assert_allclose(framewise_displacement(table), [0.0] + [0.1] * 9)
    assert framewise_displacement(pd.DataFrame({"global_signal": np.ones(10)})) is None
    assert framewise_displacement(None) is None and motion_summary(None) is None
    # a cell that is not a number is missing, not an error
    odd = pd.DataFrame({"framewise_displacement": ["n/a", "0.1", "oops", "0.3"]})
    np.testing.assert_allclose(framewise_displacement(odd), [0.0, 0.1, 0.0, 0.3])


def test_info_reports_the_motion_of_a_run_with_fmriprep_confounds(tmp_path):
    from eegfmri_viewer.io.info import dataset_info, format_info

    make_bids_run(tmp_path, sub="01", run="1", n_vol=10)
    d = tmp_path / "derivatives" / "fmriprep" / "sub-01" / "func"
    base = "sub-01_task-rest_run-1"
    write_bold(d / f"{base}_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz", 10)
    write_tsv(d / f"{base}_desc-confounds_timeseries.tsv", ["framewise_displacement"],
              [("n/a",)] + [(0.1,)] * 7 + [(0.9,), (0.1,)])
    info = dataset_info(tmp_path)
    assert info["runs"][0]["motion"]["n_volumes_above"] == 1
    assert "mean 0.17 mm, max 0.90 mm; 1 of 10 volumes above 0.5 mm" in format_info(info)


def test_analyze_leaves_out_windows_with_a_moved_volume(small_demo, tmp_path):
    from eegfmri_viewer.io.bids import discover, load_run
    from eegfmri_viewer.pipeline.analyze import analyze
    from eegfmri_viewer.results import load_bundle

    recordings = [load_run(entry, correct_artifacts=False) for entry in discover(small_demo).runs]
    n_vol = recordings[0].bold.shape[3]
    fd = np.full(n_vol, 0.05)
    fd[10:60:4] = 1.2  # a restless stretch in the first recording
    moved = dataclasses.replace(recordings[0], confounds=pd.DataFrame({"framewise_displacement": fd}))
    recordings = [moved] + recordings[1:]

    plain = load_bundle(analyze(recordings, tmp_path / "plain", config=fast_config()))
    config = fast_config().with_overrides(preprocessing={"fd_threshold_mm": 0.5})
    censored = load_bundle(analyze(recordings, tmp_path / "censored", config=config))
    n_plain = sum(json.loads((plain.path / "dataset.json").read_text())["n_windows_per_class"].values())
    dataset = json.loads((censored.path / "dataset.json").read_text())
    n_censored = sum(dataset["n_windows_per_class"].values())
    assert 0 < n_plain - n_censored < n_plain / 2
    left_out = [w for w in dataset["warnings"] if "left out for head motion" in w]
    assert len(left_out) == 1 and left_out[0].startswith(moved.label)
    assert f"{n_plain - n_censored} of" in left_out[0]
    # the run without motion parameters says it was not censored
    assert any("no motion parameters" in w and recordings[1].label in w for w in dataset["warnings"])
    motion = {r["label"]: r["motion"] for r in dataset["recordings"]}
    assert motion[moved.label]["n_volumes_above"] == 13 and motion[recordings[1].label] is None

    with pytest.raises(Exception, match="fd_threshold_mm: must be >= 0"):
        fast_config().with_overrides(preprocessing={"fd_threshold_mm": -1.0})
