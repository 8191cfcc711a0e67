"""Outputs stay out of the folder that holds loose input files, and the split says when it is lopsided.

``analyze --bold FILE --events FILE [--eeg FILE]`` takes files, not a BIDS
root: the folder holding them is input data as well, so the results go
outside it (review session 9, items 1 and 8). The checks are path-based, so
they hold for root too, whose writes no permission bit stops.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from bundle_factory import make_bundle
from eegfmri_viewer.cli import main
from eegfmri_viewer.io.errors import InputError
from io_testdata import write_bold, write_tsv

FAST = ("[training]\nepochs = 2\n[phase1]\nhidden = [8]\nn_filters = 4\n"
        "[preprocessing]\natlas = 'dosenbach2010'\n")


def _files(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def loose(tmp_path):
    """A BOLD file (60 volumes, TR 2 s) and its events (2 blocks each of face / house) in ``tmp/data``."""
    data = tmp_path / "data"
    bold = write_bold(data / "bold.nii.gz", n_vol=60, tr=2.0)
    events = write_tsv(data / "events.tsv", ["onset", "duration", "trial_type"],
                       [(10 + 20 * i, 14, ("face", "house")[i % 2]) for i in range(4)])
    return data, bold, events


def _must_not_run(*args, **kwargs):
    raise AssertionError("loading or training ran although the output was refused")


def test_analyze_refuses_an_output_inside_the_folder_of_its_input_files(loose, tmp_path, capsys, monkeypatch):
    import eegfmri_viewer.io.single as single
    import eegfmri_viewer.pipeline.analyze as analyze_module

    monkeypatch.setattr(single, "open_files", _must_not_run)
    monkeypatch.setattr(analyze_module, "analyze", _must_not_run)
    data, bold, events = loose
    before = _files(data)
    (data / "sub").mkdir()
    for out, extra in ((data / "res", []), (data / "res", ["--force"]), (data / "sub" / "deeper", [])):
        assert main(["analyze", "--bold", str(bold), "--events", str(events), "--out", str(out), "--quiet",
                     *extra]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        # names the output, the folder, the input file and where to write instead
        assert f"{out}: lies inside {data}, the folder that holds the input file bold.nii.gz" in err, err
        assert f"choose a folder outside {data} for --out" in err, err
        assert not out.exists()
    # the folder itself contains the inputs: refused as before, with or without --force
    assert main(["analyze", "--bold", str(bold), "--events", str(events), "--out", str(data), "--force",
                 "--quiet"]) == 2
    assert f"{data}: contains the input" in capsys.readouterr().err
    assert _files(data) == before and sorted(p.name for p in data.iterdir()) == ["bold.nii.gz", "events.tsv", "sub"]


def test_every_loose_input_file_protects_its_own_folder(loose, tmp_path):
    from eegfmri_viewer.results import check_bundle_destination

    data, bold, events = loose
    eeg = tmp_path / "eeg_folder" / "rec.vhdr"
    eeg.parent.mkdir()
    eeg.write_text("Brain Vision Data Exchange Header File Version 1.0\n")
    inputs = [None, bold, events, eeg]
    with pytest.raises(InputError, match=r"the folder that holds the input file rec\.vhdr"):
        check_bundle_destination(eeg.parent / "res", inputs=inputs)
    with pytest.raises(InputError, match=r"the folder that holds the input file (bold\.nii\.gz|events\.tsv)"):
        check_bundle_destination(data / "a" / "b", inputs=inputs)
    # a sibling folder, and a folder next to the data folder, are fine
    assert check_bundle_destination(tmp_path / "results", inputs=inputs) == (tmp_path / "results").resolve()
    # the GUI names its own field
    with pytest.raises(InputError, match="choose a folder outside .*data for \u201cOutput folder\u201d"):
        check_bundle_destination(data / "res", inputs=inputs, out_name="\u201cOutput folder\u201d")


def test_the_refusal_does_not_depend_on_folder_permissions(loose):
    """Root writes into a read-only folder: the paths alone must decide (the review ran as root)."""
    from eegfmri_viewer.results import check_bundle_destination

    data, bold, events = loose
    os.chmod(data, 0o555)
    try:
        with pytest.raises(InputError, match="lies inside .*the folder that holds the input file"):
            check_bundle_destination(data / "res", inputs=[bold, events])
    finally:
        os.chmod(data, 0o755)
    assert sorted(p.name for p in data.iterdir()) == ["bold.nii.gz", "events.tsv"]


def _bids_dataset_with_a_bold(tmp_path):
    """``(root, bold)``: a BIDS dataset (with ``dataset_description.json``) holding one BOLD file."""
    bids = tmp_path / "bids"
    func = bids / "sub-01" / "func"
    func.mkdir(parents=True)
    (bids / "dataset_description.json").write_text('{"Name": "x", "BIDSVersion": "1.8.0"}')
    bold = func / "sub-01_task-x_bold.nii.gz"
    bold.write_bytes(b"x")
    return bids, bold


def test_bids_derivatives_stay_allowed_with_input_files_listed(tmp_path):
    """A bundle's input files include BIDS-root files: derivatives/<name>/ is still the place for results."""
    from eegfmri_viewer.results import check_bundle_destination

    bids, bold = _bids_dataset_with_a_bold(tmp_path)
    inputs = [bids, bold, bids / "dataset_description.json"]
    out = bids / "derivatives" / "eegfmri_viewer" / "run1"
    assert check_bundle_destination(out, inputs=inputs) == out.resolve()
    for bad in (bids / "derivatives" / "fmriprep" / "res", bold.parent / "res"):
        with pytest.raises(InputError, match="lies inside"):
            check_bundle_destination(bad, inputs=inputs)


def test_save_bundle_and_analyze_refuse_the_input_files_folder_for_every_caller(loose, tmp_path, monkeypatch):
    """The core writers hold the rule too (the GUI and scripts do not go through the command line)."""
    import eegfmri_viewer.pipeline.analyze as analyze_module
    from eegfmri_viewer.io.single import open_files
    from eegfmri_viewer.results import load_bundle, save_bundle

    data, bold, events = loose
    make_bundle(tmp_path / "src")
    bundle = load_bundle(tmp_path / "src")
    bundle.dataset["source"] = "single files"
    bundle.manifest["input_files"] = {str(bold): "0" * 64}
    with pytest.raises(InputError, match="the folder that holds the input file bold.nii.gz"):
        save_bundle(data / "res", bundle)
    save_bundle(tmp_path / "elsewhere", bundle)
    # analyze() on recordings opened from the files: refused before any preprocessing or training
    recording = open_files(None, bold, events, tr=2.0)
    monkeypatch.setattr(analyze_module, "_analyze", _must_not_run)
    with pytest.raises(InputError, match="the folder that holds the input file"):
        analyze_module.analyze([recording], data / "res")
    assert sorted(p.name for p in data.iterdir()) == ["bold.nii.gz", "events.tsv"]


def test_analyze_writes_to_a_sibling_folder_and_warns_of_a_lopsided_split(loose, tmp_path, capsys):
    import torch

    torch.set_num_threads(1)
    data, bold, events = loose
    config = tmp_path / "fast.toml"
    config.write_text(FAST)
    out = tmp_path / "results"
    assert main(["analyze", "--bold", str(bold), "--events", str(events), "--out", str(out), "--quiet",
                 "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert (out / "manifest.json").is_file() and sorted(p.name for p in data.iterdir()) == ["bold.nii.gz",
                                                                                           "events.tsv"]
    # 2 blocks per class: one of each in test, half the windows, one block per class to train on
    message = ("the test set holds 4 of 8 windows (50%; training.test_fraction 0.2): 2 blocks per class, "
               "split 1 train / 0 validation / 1 test")
    assert message in err, err
    warnings = json.loads((out / "dataset.json").read_text())["warnings"]
    assert any(w.startswith(message) and "more runs or blocks" in w for w in warnings)


def test_split_share_warning_names_blocks_per_class_and_split():
    from eegfmri_viewer.training.splits import block_split, split_share_warnings

    def windows(blocks_per_class, per_block=3, n_classes=2):
        n_blocks = blocks_per_class * n_classes
        blocks = np.repeat(np.arange(n_blocks), per_block)
        labels = np.repeat(np.arange(n_blocks) % n_classes, per_block)
        return labels, blocks

    labels, blocks = windows(2)
    split = block_split(labels, blocks, test_fraction=0.2, val_fraction=0.2)
    (warning,) = split_share_warnings(labels, blocks, split, 0.2)
    assert warning.startswith("the test set holds 6 of 12 windows (50%; training.test_fraction 0.2): "
                              "2 blocks per class, split 1 train / 0 validation / 1 test, "
                              "so a class may train on 1 block(s)")
    # enough blocks: the share is close to the fraction asked for, nothing to say
    labels, blocks = windows(10)
    split = block_split(labels, blocks, test_fraction=0.2, val_fraction=0.2)
    assert split_share_warnings(labels, blocks, split, 0.2) == []
    # unequal classes are given as ranges; one block per class leaves no test set at all
    labels = np.array([0, 0, 1, 1, 1, 1, 1, 1])
    blocks = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    split = np.array(["train"] * 8)
    (warning,) = split_share_warnings(labels, blocks, split, 0.2)
    assert "0 of 8 windows (0%" in warning and "1-3 blocks per class, split 1-3 train / 0 validation / 0 test" in warning
    assert split_share_warnings(labels, blocks, split, 0.0) == []


def test_a_loose_file_of_a_bids_dataset_protects_the_whole_dataset(tmp_path):
    from eegfmri_viewer.results import check_bundle_destination

    bids, bold = _bids_dataset_with_a_bold(tmp_path)
    with pytest.raises(InputError, match=f"lies inside the BIDS dataset {bids}, which holds the input file "
                                         "sub-01_task-x_bold.nii.gz.*choose a folder outside .*derivatives/<name>/"):
        check_bundle_destination(bids / "sub-02" / "res", inputs=[bold], out_name="--out")
    out = bids / "derivatives" / "eegfmri_viewer" / "single"
    assert check_bundle_destination(out, inputs=[bold]) == out.resolve()


def test_a_folder_of_loose_bids_named_files_has_no_derivatives_exception(tmp_path):
    """Files named sub-01_..., as the real studyforrest run, do not make their folder a BIDS root."""
    from eegfmri_viewer.results import check_bundle_destination

    data = tmp_path / "forrest"
    bold = write_bold(data / "sub-01_task-oneback_run-1_bold.nii.gz", n_vol=4)
    with pytest.raises(InputError, match="the folder that holds the input file sub-01_task-oneback_run-1_bold"):
        check_bundle_destination(data / "derivatives" / "eegfmri_viewer", inputs=[bold])
    with pytest.raises(InputError) as refused:
        check_bundle_destination(data / "res", inputs=[bold], out_name="--out")
    assert str(refused.value).endswith(f"(choose a folder outside {data} for --out)")


# -- review 2, item 3: a file in the home or temporary folder protects only itself --------------
def test_an_input_file_in_the_home_folder_protects_only_itself(tmp_path, monkeypatch):
    """``analyze --bold ~/bold.nii.gz`` must not forbid ``~/results`` nor every re-save of its bundle."""
    from eegfmri_viewer.results import check_bundle_destination, load_bundle, save_bundle

    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    bold = write_bold(home / "bold.nii.gz", n_vol=4)
    for out in (home / "results", home / "projects" / "x" / "results"):
        assert check_bundle_destination(out, inputs=[bold]) == out.resolve()
    # the file itself, and a folder that holds it, stay refused
    with pytest.raises(InputError, match="is the input"):
        check_bundle_destination(bold, inputs=[bold], force=True)
    with pytest.raises(InputError, match="contains the input"):
        check_bundle_destination(home, inputs=[bold], force=True)
    # every later save of a bundle computed from it (manifest input_files) goes through the same rule
    make_bundle(tmp_path / "src")
    bundle = load_bundle(tmp_path / "src")
    bundle.manifest["input_files"] = {str(bold): "0" * 64}
    save_bundle(home / "projects" / "x" / "results", bundle)
    save_bundle(home / "projects" / "x" / "results", bundle, force=True)
    assert (home / "projects" / "x" / "results" / "manifest.json").is_file() and bold.is_file()


def test_an_input_file_in_the_temporary_folder_protects_only_itself(tmp_path, monkeypatch):
    import tempfile

    from eegfmri_viewer.results import check_bundle_destination

    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    bold = write_bold(tmp / "bold.nii.gz", n_vol=4)
    assert check_bundle_destination(tmp / "res", inputs=[bold]) == (tmp / "res").resolve()
    # one folder down it is an ordinary data folder again
    inner = write_bold(tmp / "study" / "bold.nii.gz", n_vol=4)
    with pytest.raises(InputError, match="the folder that holds the input file bold.nii.gz"):
        check_bundle_destination(tmp / "study" / "res", inputs=[inner])


# -- review 2, item 4: a BIDS-like layout without dataset_description.json ----------------------
def test_a_file_under_a_sub_folder_protects_the_folder_above_the_subjects(tmp_path):
    from eegfmri_viewer.results import check_bundle_destination

    root = tmp_path / "F"
    bold = write_bold(root / "sub-01" / "ses-1" / "func" / "sub-01_ses-1_task-x_bold.nii.gz", n_vol=4)
    for bad in (root / "sub-01" / "res", root / "res", root / "derivatives" / "eegfmri_viewer"):
        with pytest.raises(InputError, match=f"lies inside {root}, the folder that holds the input file "
                                             "sub-01_ses-1_task-x_bold.nii.gz") as refused:
            check_bundle_destination(bad, inputs=[bold], out_name="--out")
        # no derivatives/<name>/ advice: without dataset_description.json this is no BIDS dataset
        assert str(refused.value).endswith(f"(choose a folder outside {root} for --out)")
    assert check_bundle_destination(tmp_path / "res", inputs=[bold]) == (tmp_path / "res").resolve()
    # with dataset_description.json it is a dataset, whose derivatives/<name>/ take results
    (root / "dataset_description.json").write_text('{"Name": "x", "BIDSVersion": "1.8.0"}')
    out = root / "derivatives" / "eegfmri_viewer"
    assert check_bundle_destination(out, inputs=[bold]) == out.resolve()
    # a folder merely named sub-... that does not name the file is no subject folder
    other = write_bold(tmp_path / "data" / "sub-projects" / "study" / "bold.nii.gz", n_vol=4)
    assert check_bundle_destination(tmp_path / "data" / "res", inputs=[other]) == (tmp_path / "data" / "res").resolve()


# -- review 2, item 4: report, tables and compare keep out of the bundles' recorded input data --
@pytest.fixture()
def analysed(loose, tmp_path):
    """A bundle in ``tmp/res`` that records the loose files as its input (as ``analyze`` does)."""
    from eegfmri_viewer.results import load_bundle, save_bundle

    data, bold, events = loose
    make_bundle(tmp_path / "src")
    bundle = load_bundle(tmp_path / "src")
    bundle.dataset["source"] = "single files"
    bundle.manifest["input_files"] = {str(bold): "0" * 64, str(events): "0" * 64}
    save_bundle(tmp_path / "res", bundle)
    return tmp_path / "res", data, bold


def test_report_tables_and_compare_never_write_into_the_data_a_bundle_was_computed_from(analysed, tmp_path,
                                                                                         capsys):
    res, data, bold = analysed
    before = _files(data)
    assert main(["report", str(res), "--out", str(bold), "--force"]) == 2
    assert f"{bold}: is the input" in capsys.readouterr().err
    assert main(["report", str(res), "--out", str(data / "report.html")]) == 2
    assert "the folder that holds the input file" in capsys.readouterr().err
    assert main(["tables", str(res), "--out", str(data), "--force"]) == 2
    err = capsys.readouterr().err
    assert f"{data}: is the folder that holds the input file" in err and "choose a folder outside" in err, err
    assert main(["compare", str(res), str(res), "--out", str(data / "cmp"), "--force"]) == 2
    assert "the folder that holds the input file" in capsys.readouterr().err
    # --compare's bundle counts too
    assert main(["report", str(tmp_path / "src"), "--compare", str(res), "--out", str(bold), "--force"]) == 2
    assert "is the input" in capsys.readouterr().err
    assert _files(data) == before
    # tables into a folder that holds the data further down (files are only added) is fine
    assert main(["tables", str(res), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "saliency_fmri.csv").is_file() and _files(data) == before


def test_a_bids_source_recorded_in_dataset_json_is_read_without_loading_the_bundle(tmp_path):
    from eegfmri_viewer.atomic_write import check_files_folder
    from eegfmri_viewer.results import read_bundle_inputs

    bids = tmp_path / "bids"
    (bids / "sub-01").mkdir(parents=True)
    bundle = tmp_path / "broken"
    bundle.mkdir()
    # the arrays are unreadable and the manifest is no JSON: what dataset.json records still counts
    (bundle / "saliency.npz").write_bytes(b"not a zip")
    (bundle / "manifest.json").write_text("{ not json")
    (bundle / "dataset.json").write_text(json.dumps({"source": str(bids)}))
    assert read_bundle_inputs(bundle) == [bids]
    assert read_bundle_inputs(tmp_path / "missing") == []
    with pytest.raises(InputError, match="lies inside the input"):
        check_files_folder(bids / "sub-01" / "tables", inputs=read_bundle_inputs(bundle))
    assert main(["report", str(bundle), "--out", str(bids / "r.html")]) == 2
    assert not (bids / "r.html").exists()
