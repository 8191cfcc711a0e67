"""Bad or unusual input: errors that name the file, warnings that reach info / analyze."""

from __future__ import annotations

import json
import warnings as pywarnings
from pathlib import Path

import numpy as np
import pytest

from eegfmri_viewer.io.errors import InputError
from io_testdata import MNI_AFFINE, make_bids_run, write_bold, write_json, write_tsv


def _toml(tmp_path, text, name="c.toml"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# item 8 -------------------------------------------------------------------

def test_n_salient_below_two_is_a_config_error_naming_the_file(tmp_path):
    from eegfmri_viewer.pipeline.config import AnalysisConfig

    path = _toml(tmp_path, "[phase2]\nn_salient = 1\n")
    with pytest.raises(InputError, match=r"c\.toml: \[phase2\] n_salient: must be at least 2"):
        AnalysisConfig.from_toml(path)
    assert AnalysisConfig.from_toml(_toml(tmp_path, "[phase2]\nn_salient = 2\n", "ok.toml")).phase2.n_salient == 2


# item 18 ------------------------------------------------------------------

def test_band_errors_name_the_config_file(tmp_path):
    from eegfmri_viewer.pipeline.config import AnalysisConfig

    dup = _toml(tmp_path, '[preprocessing]\nbands = [["a", 8.0, 13.0], ["a", 13.0, 30.0]]\n', "dup.toml")
    with pytest.raises(InputError, match=r"dup\.toml: \[preprocessing\] bands: band name 'a' appears 2 times"):
        AnalysisConfig.from_toml(dup)
    nyq = _toml(tmp_path, '[preprocessing]\neeg_sfreq = 100.0\nbands = [["x", 30.0, 60.0]]\n', "nyq.toml")
    with pytest.raises(InputError, match=r"nyq\.toml: \[preprocessing\] bands: band 'x': high edge 60 Hz is not "
                                         r"below the Nyquist frequency 50 Hz"):
        AnalysisConfig.from_toml(nyq)


# item 20 ------------------------------------------------------------------

def _label_atlas(path):
    import nibabel as nib

    data = np.zeros((11, 13, 11), np.int16)
    data[3:6, 4:7, 3:6] = 1
    data[6:9, 4:7, 3:6] = 2
    nib.save(nib.Nifti1Image(data, MNI_AFFINE), str(path))
    return path


def test_relative_atlas_path_is_read_from_the_config_folder(tmp_path, monkeypatch):
    from eegfmri_viewer.pipeline.config import AnalysisConfig

    folder = tmp_path / "sub"
    folder.mkdir()
    atlas = _label_atlas(folder / "myatlas.nii.gz")
    path = _toml(folder, '[preprocessing]\natlas = "myatlas.nii.gz"\n', "rel.toml")
    monkeypatch.chdir(tmp_path)
    config = AnalysisConfig.from_toml(path)
    assert Path(config.preprocessing.atlas) == atlas.resolve()
    # the saved config names the file, so it works again from anywhere
    again = AnalysisConfig.from_toml(_toml(tmp_path / "elsewhere", config.to_toml(), "saved.toml"))
    assert again.preprocessing.atlas == config.preprocessing.atlas

    missing = _toml(folder, '[preprocessing]\natlas = "nothere.nii.gz"\n', "missing.toml")
    with pytest.raises(InputError, match=r"missing\.toml: \[preprocessing\] atlas: label atlas file .*nothere\.nii\.gz "
                                         r"not found \(a relative path is read from the config file's folder"):
        AnalysisConfig.from_toml(missing)


# item 10 ------------------------------------------------------------------

def test_na_onsets_are_reported_with_their_lines(tmp_path):
    from eegfmri_viewer.io.info import dataset_info

    root = make_bids_run(tmp_path / "bids", n_vol=12)
    events = root / "sub-01" / "func" / "sub-01_task-rest_run-1_events.tsv"
    write_tsv(events, ["onset", "duration", "trial_type"],
              [("n/a", 2, "open"), (4.0, 2, "open"), (10.0, 2, "closed"), ("n/a", 2, "closed"), (14.0, 2, "open")])
    info = dataset_info(root)
    run = info["runs"][0]
    assert run["events_per_class"] == {"closed": 1, "open": 2}
    assert any(str(events) in w and "lines 2, 5: onset n/a" in w and "left out" in w for w in run["warnings"])


# item 11 ------------------------------------------------------------------

def test_class_confounded_with_subject_is_warned():
    from eegfmri_viewer.pipeline.analyze import class_subject_warnings

    names = ["event", "motor", "rest", "visual"]
    labels = np.array([0, 0, 0, 1, 2, 3, 1, 2, 3])
    subjects = np.array(["01"] * 3 + ["02"] * 6)
    out = class_subject_warnings(labels, subjects, names)
    assert any("class 'event' occurs only in sub-01" in w for w in out)
    assert any("motor, rest, visual absent from sub-01" in w for w in out)
    assert any("class(es) event absent from sub-02" in w for w in out)
    assert not any("class 'motor' occurs only in sub-01" in w for w in out)
    balanced = class_subject_warnings(np.array([0, 1, 0, 1]), np.array(["01", "01", "02", "02"]), ["a", "b"])
    assert balanced == []


# item 7 -------------------------------------------------------------------

def test_electrodes_in_mm_declared_as_metres_are_refused(tmp_path):
    from eegfmri_viewer.io.bids import discover, load_run

    root = make_bids_run(tmp_path / "bids", electrodes=True)
    coord = root / "sub-01" / "eeg" / "sub-01_task-rest_run-1_coordsystem.json"
    write_json(coord, {"EEGCoordinateUnits": "m", "EEGCoordinateSystem": "CapTrak"})
    with pytest.raises(InputError, match=r"_electrodes\.tsv: positions span \d+(\.\d+)? m, not a head \(~0\.2 m\); "
                                         r"are they in mm although coordsystem.json says m\?"):
        load_run(discover(root).runs[0], correct_artifacts=False, check_data=False)
    write_json(coord, {"EEGCoordinateUnits": "mm", "EEGCoordinateSystem": "CapTrak"})
    load_run(discover(root).runs[0], correct_artifacts=False, check_data=False)


# item 17 ------------------------------------------------------------------

@pytest.mark.parametrize("stated, hint", [(2000, r"; BIDS wants seconds \(is it in milliseconds\?\)"),
                                          (2.5, r"; BIDS wants seconds$")])
def test_tr_contradicted_by_header_and_markers_blames_the_sidecar(tmp_path, stated, hint):
    from eegfmri_viewer.io.bids import discover, load_run

    root = make_bids_run(tmp_path / "bids", n_vol=12, tr=2.0)
    side = root / "sub-01" / "func" / "sub-01_task-rest_run-1_bold.json"
    write_json(side, {"RepetitionTime": stated, "TaskName": "rest"})
    with pytest.raises(InputError, match=rf"_bold\.json: RepetitionTime {stated:g} s disagrees with the NIfTI "
                                         rf"header \(2 s\) and the R128 marker interval \(2 s\){hint}"):
        load_run(discover(root).runs[0], correct_artifacts=False, check_data=False)


# item 9 -------------------------------------------------------------------

def test_rois_outside_the_field_of_view_are_counted_per_run(tmp_path):
    import nibabel as nib

    from eegfmri_viewer.pipeline.analyze import roi_signal_warnings
    from eegfmri_viewer.preprocessing import load_atlas, parcellate

    data = (100 + np.random.default_rng(0).normal(0, 1, (11, 13, 11, 12))).astype(np.float32)
    data[:, :, :6] = 0  # nothing below z = 24 mm
    path = tmp_path / "crop_bold.nii.gz"
    img = nib.Nifti1Image(data, MNI_AFFINE)
    img.set_sform(MNI_AFFINE, code=4)
    nib.save(img, str(path))
    atlas = load_atlas("dosenbach2010")
    series = parcellate(nib.load(str(path)), atlas, 2.0)
    below = np.flatnonzero(atlas.coords[:, 2] < 16)
    assert set(below) <= set(series.empty_rois.tolist())
    assert np.all(series.data[:, series.empty_rois] == 0)
    out = roi_signal_warnings(series, path)
    assert len(out) == 1
    assert out[0].startswith(f"{path}: {len(series.empty_rois)} of 160 dosenbach2010 atlas ROIs hold no BOLD voxels")


def test_phase2_nodes_skip_rois_without_bold():
    from eegfmri_viewer.pipeline.analyze import _round_robin_top

    cam = np.array([[5.0, 1.0, 0.5, 0.2], [4.0, 0.1, 3.0, 0.3]])
    cam[:, 0] = np.nan  # as analyze masks ROIs empty in every recording
    assert 0 not in _round_robin_top(cam, 3).tolist()


# item 21: NaN voxels ------------------------------------------------------

def test_nan_outside_rois_is_a_warning_and_nan_inside_a_roi_leaves_it_out(tmp_path):
    import nibabel as nib

    from eegfmri_viewer.io.bold import check_finite_bold
    from eegfmri_viewer.pipeline.analyze import roi_signal_warnings
    from eegfmri_viewer.preprocessing import load_atlas, parcellate

    atlas = load_atlas("dosenbach2010", radius_mm=10)
    data = (100 + np.random.default_rng(0).normal(0, 1, (11, 13, 11, 12))).astype(np.float32)
    data[0, 0, 0, :] = np.nan  # a corner outside every ROI
    img = nib.Nifti1Image(data, MNI_AFFINE)
    img.set_sform(MNI_AFFINE, code=4)
    out = check_finite_bold(img, "x_bold.nii.gz")
    assert len(out) == 1 and out[0].startswith("x_bold.nii.gz: 1 of 1573 voxels hold NaN/Inf values")
    clean = parcellate(img, atlas, 2.0)
    assert len(clean.nonfinite_rois) == 0 and np.isfinite(clean.data).all()

    ijk = np.round(nib.affines.apply_affine(np.linalg.inv(MNI_AFFINE), atlas.coords[0])).astype(int)
    data[tuple(ijk) + (3,)] = np.nan
    img = nib.Nifti1Image(data, MNI_AFFINE)
    img.set_sform(MNI_AFFINE, code=4)
    series = parcellate(img, atlas, 2.0)
    assert 0 in series.nonfinite_rois.tolist() and 0 in series.empty_rois.tolist()
    assert np.isfinite(series.data).all() and np.all(series.data[:, 0] == 0)
    assert any("hold NaN/Inf voxels" in w and atlas.names[0] in w for w in roi_signal_warnings(series, "x"))

    data[..., 5] = np.nan
    with pytest.raises(InputError, match=r"volume 5 holds only NaN/Inf values"):
        check_finite_bold(nib.Nifti1Image(data, MNI_AFFINE), "x_bold.nii.gz")


# item 16 ------------------------------------------------------------------

def test_tr_option_fills_in_only_for_bids_runs_without_a_tr(tmp_path, capsys):
    from eegfmri_viewer.io.info import dataset_info

    root = make_bids_run(tmp_path / "bids", n_vol=12, bold_json=False)
    write_bold(root / "sub-01" / "func" / "sub-01_task-rest_run-1_bold.nii.gz", n_vol=12, header_tr=0)
    info = dataset_info(root)
    assert info["n_usable"] == 0
    assert 'add "RepetitionTime" in seconds to sub-01_task-rest_run-1_bold.json' in info["skipped"][0]["reason"]
    info = dataset_info(root, tr=2.0)
    assert info["n_usable"] == 1 and info["runs"][0]["tr"] == 2.0
    assert any("using the TR given with --tr, 2 s" in w for w in info["runs"][0]["warnings"])
    # never over a TR the data state
    stated = make_bids_run(tmp_path / "stated", n_vol=12)
    assert dataset_info(stated, tr=3.0)["runs"][0]["tr"] == 2.0
    # and `analyze --tr` passes it on: the run is loaded (here to find its events too short for a window)
    from eegfmri_viewer.cli import main

    capsys.readouterr()
    assert main(["analyze", str(root), "--out", str(tmp_path / "o1"), "--quiet"]) == 2
    assert "TR missing" in capsys.readouterr().err
    assert main(["analyze", str(root), "--out", str(tmp_path / "o2"), "--quiet", "--tr", "2"]) == 2
    err = capsys.readouterr().err
    assert "TR missing" not in err and "no 6 s window fits inside an event" in err


# item 19 ------------------------------------------------------------------

def test_info_explains_config_files_and_results_bundles(tmp_path):
    from eegfmri_viewer.io.info import dataset_info

    with pytest.raises(InputError, match=r"fast\.toml: is a settings file, not data: give it to "
                                         r"`eegfmri-viewer analyze DATASET --config FILE`"):
        dataset_info(_toml(tmp_path, "[phase2]\nn_salient = 8\n", "fast.toml"))
    bundle = tmp_path / "out_base"
    bundle.mkdir()
    (bundle / "manifest.json").write_text("{}")
    (bundle / "dataset.json").write_text("{}")
    with pytest.raises(InputError, match=r"out_base: is a results bundle, not a dataset"):
        dataset_info(bundle)
    with pytest.raises(InputError, match=r"notes\.txt: not a file info reads"):
        dataset_info(_toml(tmp_path, "x", "notes.txt"))


# item 21: selections, entities, events files -------------------------------

def test_subject_and_session_labels_accept_prefixes_and_list_what_exists(tmp_path):
    from eegfmri_viewer.pipeline.analyze import _load_recordings
    from eegfmri_viewer.pipeline.config import AnalysisConfig

    root = make_bids_run(tmp_path / "bids", n_vol=12)
    make_bids_run(root, sub="02", n_vol=12)
    config = AnalysisConfig().with_overrides(preprocessing={"correct_artifacts": False})
    recs, _, _ = _load_recordings(root, ["sub-01"], None, config, [], None, None)
    assert [r.subject for r in recs] == ["01"]
    with pytest.raises(InputError, match=r"session\(s\) 2 not found; the dataset has no ses-\* folders"):
        _load_recordings(root, None, ["ses-2"], config, [], None, None)


def test_eeg_and_bold_of_different_subjects_are_warned(tmp_path):
    from eegfmri_viewer.io.single import make_entry

    root = make_bids_run(tmp_path / "bids", n_vol=12)
    make_bids_run(root, sub="02", n_vol=12)
    eeg = root / "sub-02" / "eeg" / "sub-02_task-rest_run-1_eeg.vhdr"
    bold = root / "sub-01" / "func" / "sub-01_task-rest_run-1_bold.nii.gz"
    entry = make_entry(eeg, bold)
    assert any("name different BIDS entities (sub-02 / sub-01)" in n for n in entry.notes)
    assert not make_entry(root / "sub-01" / "eeg" / "sub-01_task-rest_run-1_eeg.vhdr", bold).notes


def test_events_without_conditions_are_traced_to_their_file(tmp_path):
    from eegfmri_viewer.io.bids import discover, load_run

    root = make_bids_run(tmp_path / "bids", n_vol=12)
    events = root / "sub-01" / "func" / "sub-01_task-rest_run-1_events.tsv"
    write_tsv(events, ["onset", "duration", "trial_type"], [(4.0, 2, "n/a"), (10.0, 2, "n/a")])
    rec = load_run(discover(root).runs[0], correct_artifacts=False, check_data=False)
    assert rec.events is None and rec.events_path == events
    assert any(w.startswith(f"{events}: no condition events") for w in rec.warnings)


def test_demo_data_says_when_the_duration_is_rounded(tmp_path, capsys):
    import argparse

    from eegfmri_viewer.demo import command

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    # 30 s rounds to 20 s, below the shortest run: the note comes, then the refusal, and nothing is written
    args = parser.parse_args([str(tmp_path / "demo"), "--duration", "30", "--subjects", "1", "--sessions", "1"])
    assert command.run(args) == 2
    err = capsys.readouterr().err
    assert "--duration 30 s is rounded down to 20 s (whole 20 s blocks)" in err


def test_a_brainvision_file_cut_mid_sample_is_called_truncated(tmp_path):
    from eegfmri_viewer.io.bids import discover, load_run

    root = make_bids_run(tmp_path / "bids", n_vol=10, lead_s=2.0)
    eeg = next((root / "sub-01" / "eeg").glob("*_eeg.eeg"))
    run = discover(root).runs[0]
    assert not any("whole number of samples" in w for w in load_run(run).warnings)
    with open(eeg, "r+b") as fh:  # an incomplete copy: a few bytes short of the last sample
        fh.truncate(eeg.stat().st_size - 3)
    warnings = load_run(discover(root).runs[0]).warnings
    hit = [w for w in warnings if "whole number of samples" in w]
    assert len(hit) == 1 and str(eeg) in hit[0] and "cut short" in hit[0]
