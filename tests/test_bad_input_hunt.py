"""Bad input that used to escape as a raw traceback now gives an InputError naming the file.

Each case here was found by feeding damaged files to the public entry points
(discover / load_run / open_files, read_eeg / read_bold, load_bundle and the
``info`` / ``analyze`` commands). Every failing load must also leave the input
files byte-for-byte as they were.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from io_testdata import NAMES, make_bids_run, tree_digest, write_bold, write_brainvision, write_json, write_tsv

from eegfmri_viewer.io.bids import discover, load_run
from eegfmri_viewer.io.bold import read_bold
from eegfmri_viewer.io.eeg import read_eeg
from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.results import BundleError, ResultsBundle, file_sha256, load_bundle, save_bundle

BASE = "sub-01_task-rest_run-1"


def _run(root):
    """Make one small BIDS run; return (root, eeg folder, func folder)."""
    make_bids_run(root, n_vol=10)
    return root, root / "sub-01" / "eeg", root / "sub-01" / "func"


def _load_fails(root, match, **kw):
    """Load the first run of ``root``: InputError matching ``match``; the files stay untouched."""
    before = tree_digest(root)
    with pytest.raises(InputError, match=match) as err:
        load_run(discover(root).runs[0], correct_artifacts=False, **kw)
    assert tree_digest(root) == before
    return err.value


def test_bids_root_that_is_a_file(tmp_path):
    path = write_json(tmp_path / "dataset_description.json", {"Name": "x"})
    with pytest.raises(InputError, match=r"dataset_description\.json: is a file, expected a BIDS root folder"):
        discover(path)


# --- EEG files -----------------------------------------------------------------


def _junk_vhdr(folder):
    path = write_brainvision(folder, "rec", NAMES[:4], 100.0, 2.0)
    path.write_bytes(bytes(range(256)) * 4)  # binary junk: configparser finds no section
    return path


def _vhdr_zero_interval(folder):
    path = write_brainvision(folder, "rec", NAMES[:4], 100.0, 2.0)
    path.write_text(re.sub(r"SamplingInterval=\d+", "SamplingInterval=0", path.read_text()))
    return path


def _empty(name):
    def make(folder):
        path = folder / name
        path.write_bytes(b"")
        return path
    return make


@pytest.mark.parametrize("make,fmt", [
    (_junk_vhdr, "BrainVision"),         # configparser.MissingSectionHeaderError escaped
    (_vhdr_zero_interval, "BrainVision"),  # ZeroDivisionError escaped
    (_empty("rec.set"), "EEGLAB"),       # scipy MatReadError escaped
    (_empty("rec.fif"), "FIF"),          # AttributeError escaped
], ids=["vhdr-junk", "vhdr-interval-0", "set-empty", "fif-empty"])
def test_damaged_eeg_file_is_an_input_error(tmp_path, make, fmt):
    path = make(tmp_path)
    before = tree_digest(tmp_path)
    with pytest.raises(InputError, match=rf"{re.escape(path.name)}: cannot read {fmt} EEG file") as err:
        read_eeg(path)
    assert err.value.path == path
    # One readable line, however much junk the parser quoted.
    assert "\n" not in str(err.value) and len(str(err.value)) < 600
    assert tree_digest(tmp_path) == before


# --- BOLD files ----------------------------------------------------------------


def test_truncated_bold_gz_is_reported_when_opened(tmp_path):
    root, _, func = _run(tmp_path)
    bold = func / f"{BASE}_bold.nii.gz"
    bold.write_bytes(bold.read_bytes()[: bold.stat().st_size // 2])
    # The header decompresses fine; reading voxels raised EOFError before.
    err = _load_fails(root, r"_bold\.nii\.gz: file is truncated or corrupted", check_data=False)
    assert err.path == bold


def test_truncated_uncompressed_bold_is_reported_when_opened(tmp_path):
    path = write_bold(tmp_path / "sub-01_bold.nii.gz", n_vol=10)
    nii = tmp_path / "sub-01_bold.nii"
    raw = gzip.decompress(path.read_bytes())
    nii.write_bytes(raw[: len(raw) - 1000])
    with pytest.raises(InputError, match=rf"sub-01_bold\.nii: file is truncated: the header announces {len(raw)} "
                                         rf"bytes of image, the file holds {len(raw) - 1000}"):
        read_bold(nii)


def test_complete_bold_with_trailing_bytes_or_several_gzip_members_opens(tmp_path):
    path = write_bold(tmp_path / "a_bold.nii.gz", n_vol=4)
    raw = gzip.decompress(path.read_bytes())
    # Bytes after the image and a file written as two gzip members (bgzip-style)
    # are complete files: they must still open.
    trailing = tmp_path / "trail_bold.nii.gz"
    trailing.write_bytes(gzip.compress(raw + b"\0" * 352))
    members = tmp_path / "members_bold.nii.gz"
    members.write_bytes(gzip.compress(raw[:5000]) + gzip.compress(raw[5000:]))
    for p in (trailing, members):
        img = read_bold(p)
        assert img.shape[3] == 4
        assert np.isfinite(np.asarray(img.dataobj)).all()


@pytest.mark.parametrize("dtype,problem", [
    (np.complex64, "voxel type complex64 is not real numbers"),
    (np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")]), "voxel type [('R', 'u1'), ('G', 'u1'), ('B', 'u1')] is not "
                                                        "real numbers"),  # TypeError in the NaN scan before
])
def test_bold_of_complex_or_rgb_voxels_is_refused(tmp_path, dtype, problem):
    import nibabel as nib

    path = tmp_path / "odd_bold.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((3, 3, 3, 4), dtype), np.eye(4)), str(path))
    with pytest.raises(InputError, match=rf"odd_bold\.nii\.gz: {re.escape(problem)}"):
        read_bold(path)


def test_bold_without_voxels_is_refused(tmp_path):
    path = write_bold(tmp_path / "flat_bold.nii.gz", data=np.zeros((4, 0, 4, 10), np.float32))
    with pytest.raises(InputError, match=r"flat_bold\.nii\.gz: image of shape \(4, 0, 4, 10\) has no voxels"):
        read_bold(path)


def test_boolean_repetition_time_is_not_one_second(tmp_path):
    root, _, func = _run(tmp_path)
    write_json(func / f"{BASE}_bold.json", {"RepetitionTime": True})
    _load_fails(root, rf"{BASE}_bold\.json: RepetitionTime True is not a number")


# --- events.tsv ----------------------------------------------------------------


@pytest.mark.parametrize("duration,problem", [
    ("long", r"'duration' column is not numeric \(could not convert string to float: 'long'\)"),  # ValueError escaped
    ("-2", r"'duration' must be >= 0 seconds or n/a; line 2 has -2"),
    ("inf", r"'duration' must be >= 0 seconds or n/a; line 2 has inf"),
])
def test_bad_event_duration(tmp_path, duration, problem):
    root, _, func = _run(tmp_path)
    write_tsv(func / f"{BASE}_events.tsv", ["onset", "duration", "trial_type"],
              [(4.0, duration, "open"), (10.0, 2.0, "closed")])
    _load_fails(root, rf"{BASE}_events\.tsv: events TSV {problem}")


def test_events_without_a_label_column_say_so(tmp_path):
    from eegfmri_viewer.io.info import dataset_info, format_info

    root, _, func = _run(tmp_path)
    write_tsv(func / f"{BASE}_events.tsv", ["onset", "duration"], [(4.0, 2.0), (10.0, 2.0)])
    rec = load_run(discover(root).runs[0])
    assert set(rec.events.trial_type) == {"event"}
    assert "no trial_type, value, stim_type or condition column" in rec.events.source
    assert "every event is 'event'" in format_info(dataset_info(root))


def test_events_path_that_is_a_folder(tmp_path):
    from eegfmri_viewer.io.single import open_files

    root, eeg, func = _run(tmp_path)
    with pytest.raises(InputError, match=r"func: is a folder, expected an events TSV file"):
        open_files(eeg / f"{BASE}_eeg.vhdr", func / f"{BASE}_bold.nii.gz", events_path=func)


# --- channels.tsv, electrodes.tsv, coordsystem.json -----------------------------


def test_channels_tsv_of_another_recording(tmp_path):
    root, eeg, _ = _run(tmp_path)
    write_tsv(eeg / f"{BASE}_channels.tsv", ["name", "type", "status"], [("E1", "EEG", "good"), ("E2", "EEG", "bad")])
    _load_fails(root, rf"{BASE}_channels\.tsv: channels\.tsv lists none of the recording's channels "
                      r"\(it has \['E1', 'E2'\]; the EEG file has \['Fp1', 'Fp2'")


def test_channels_tsv_names_match_an_edf_style_export(tmp_path):
    names = [f"EEG {n}-REF" for n in NAMES[:8]]
    make_bids_run(tmp_path, n_vol=10, ch_names=names)
    eeg = tmp_path / "sub-01" / "eeg"
    write_tsv(eeg / f"{BASE}_channels.tsv", ["name", "type", "status"],
              [(n, "EEG", "bad" if n == "C3" else "good") for n in NAMES[:8]])
    rec = load_run(discover(tmp_path).runs[0], correct_artifacts=False)
    assert rec.eeg.info["bads"] == ["EEG C3-REF"]


def test_channels_tsv_short_name_shared_by_two_channels_is_refused(tmp_path):
    names = ["EEG C3-REF", "EEG C3-LE"] + [f"EEG {n}-REF" for n in NAMES[:6] if n != "C3"]
    make_bids_run(tmp_path, n_vol=10, ch_names=names)
    eeg = tmp_path / "sub-01" / "eeg"
    rows = [("C3", "EEG", "bad")] + [(n, "EEG", "good") for n in NAMES[:6] if n != "C3"]
    write_tsv(eeg / f"{BASE}_channels.tsv", ["name", "type", "status"], rows)
    _load_fails(tmp_path, rf"{BASE}_channels\.tsv: line 2: 'C3' could be any of the recording's channels "
                          r"EEG C3-REF, EEG C3-LE; name the channel as the EEG file does")
    # named as in the file, each row finds its own channel
    rows[0] = ("EEG C3-LE", "EEG", "bad")
    write_tsv(eeg / f"{BASE}_channels.tsv", ["name", "type", "status"], rows + [("EEG C3-REF", "EEG", "good")])
    rec = load_run(discover(tmp_path).runs[0], correct_artifacts=False)
    assert rec.eeg.info["bads"] == ["EEG C3-LE"]


def test_channels_tsv_of_short_names_for_a_recording_with_every_channel_twice(tmp_path):
    short = ["Fp1", "Fp2", "C3", "C4", "O1", "O2"]
    make_bids_run(tmp_path, n_vol=10, ch_names=[f"EEG {n}-{ref}" for n in short for ref in ("REF", "LE")])
    eeg = tmp_path / "sub-01" / "eeg"
    write_tsv(eeg / f"{BASE}_channels.tsv", ["name", "type", "status"], [(n, "EEG", "good") for n in short])
    _load_fails(tmp_path, rf"{BASE}_channels\.tsv: line 2: 'Fp1' could be any of the recording's channels "
                          r"EEG Fp1-REF, EEG Fp1-LE")


def test_channels_tsv_unknown_status(tmp_path):
    root, eeg, _ = _run(tmp_path)
    rows = [(n, "EEG", "good") for n in NAMES[:8]]
    rows[3] = (NAMES[3], "EEG", "noisy")
    write_tsv(eeg / f"{BASE}_channels.tsv", ["name", "type", "status"], rows)
    _load_fails(root, rf"{BASE}_channels\.tsv: line 5 \(F4\): status 'noisy' is not one of good, bad or n/a")


def test_channels_tsv_status_is_case_insensitive_and_may_be_na(tmp_path):
    root, eeg, _ = _run(tmp_path)
    status = ["Good", "BAD", "n/a", "", "good", "good", "good", "good"]
    write_tsv(eeg / f"{BASE}_channels.tsv", ["name", "type", "status"],
              [(n, "EEG", s) for n, s in zip(NAMES[:8], status)])
    rec = load_run(discover(root).runs[0], correct_artifacts=False)
    assert rec.eeg.info["bads"] == [NAMES[1]]


def test_electrodes_tsv_with_a_non_numeric_coordinate(tmp_path):
    make_bids_run(tmp_path, n_vol=10, electrodes=True)
    path = tmp_path / "sub-01" / "eeg" / f"{BASE}_electrodes.tsv"
    text = path.read_text().splitlines()
    name, x, y, z = text[3].split("\t")
    text[3] = "\t".join([name, "12,5", y, z])  # decimal comma: used to be dropped silently
    path.write_text("\n".join(text) + "\n")
    _load_fails(tmp_path, rf"{BASE}_electrodes\.tsv: line 4 \({name}\): coordinates \['12,5', '{y}', '{z}'\] "
                          r"are not numbers \(use n/a for an unknown position\)")


def test_electrodes_tsv_n_a_position_falls_back_to_the_standard_montage(tmp_path):
    from eegfmri_viewer.io.montage import channel_positions

    make_bids_run(tmp_path, n_vol=10, electrodes=True)
    path = tmp_path / "sub-01" / "eeg" / f"{BASE}_electrodes.tsv"
    text = path.read_text().splitlines()
    text[3] = "\t".join([text[3].split("\t")[0], "n/a", "n/a", "n/a"])
    path.write_text("\n".join(text) + "\n")
    rec = load_run(discover(tmp_path).runs[0], correct_artifacts=False)
    _, pos = channel_positions(rec.eeg)
    assert np.isfinite(pos).all()


def test_electrodes_tsv_with_every_electrode_at_one_point(tmp_path):
    root, eeg, _ = _run(tmp_path)
    write_tsv(eeg / f"{BASE}_electrodes.tsv", ["name", "x", "y", "z"], [(n, 0, 0, 0) for n in NAMES[:8]])
    _load_fails(root, rf"{BASE}_electrodes\.tsv: all 8 electrodes are at the same point \[0\.0, 0\.0, 0\.0\]")


def test_coordinate_units_that_are_not_text(tmp_path):
    make_bids_run(tmp_path, n_vol=10, electrodes=True)
    write_json(tmp_path / "sub-01" / "eeg" / f"{BASE}_coordsystem.json", {"EEGCoordinateUnits": 1000})
    # AttributeError ('int' object has no attribute 'lower') escaped before.
    _load_fails(tmp_path, rf"{BASE}_coordsystem\.json: EEGCoordinateUnits 1000 is not text")


# --- results bundles -----------------------------------------------------------


class _Trap:
    """Unpickling this creates ``marker``: proof that a file was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _bundle(path):
    return save_bundle(path, ResultsBundle(config={"a": 1}, metrics={"m": 1}, dataset={"label": "x"},
                                           arrays={"saliency": {"classes": np.array(["a", "b"])}}))


def _set_manifest(out, **changes):
    manifest = json.loads((out / "manifest.json").read_text())
    manifest.update(changes)
    (out / "manifest.json").write_text(json.dumps(manifest))


def _rehash(out, rel):
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"][rel] = file_sha256(out / rel)
    (out / "manifest.json").write_text(json.dumps(manifest))


def _load_bundle_fails(out, match, **kw):
    before = tree_digest(out)
    with pytest.raises(BundleError, match=match):
        load_bundle(out, **kw)
    assert tree_digest(out) == before


def test_truncated_npz_with_matching_checksum(tmp_path):
    out = _bundle(tmp_path / "res")
    npz = out / "saliency.npz"
    npz.write_bytes(npz.read_bytes()[:40])
    _rehash(out, "saliency.npz")
    _load_bundle_fails(out, r"saliency\.npz: cannot be read \(BadZipFile")
    _load_bundle_fails(out, r"saliency\.npz: cannot be read", verify=False)


def test_npz_with_an_object_array_is_refused_never_unpickled(tmp_path):
    out = _bundle(tmp_path / "res")
    marker = tmp_path / "unpickled"
    np.savez(out / "saliency.npz", classes=np.array([_Trap(marker)], dtype=object))
    _rehash(out, "saliency.npz")
    _load_bundle_fails(out, r"saliency\.npz: cannot be read \(ValueError: Object arrays cannot be loaded")
    assert not marker.exists()


def test_single_npy_named_npz(tmp_path):
    out = _bundle(tmp_path / "res")
    np.save(out / "extra.npy", np.arange(3))
    (out / "extra.npy").rename(out / "extra.npz")
    _load_bundle_fails(out, r"extra\.npz: cannot be read \(ValueError: holds a single array")


@pytest.mark.parametrize("changes,problem", [
    ({"format_version": "four"}, "format_version 'four' is not a whole number"),  # ValueError escaped
    ({"format_version": None}, "format_version None is not a whole number"),      # TypeError escaped
    ({"files": ["config.toml"]}, "'files' is a JSON list, expected an object"),   # AttributeError escaped
    ({"files": {"../outside.json": "0" * 64}}, "lists '../outside.json', which is outside the bundle folder"),
])
def test_malformed_manifest(tmp_path, changes, problem):
    out = _bundle(tmp_path / "res")
    (tmp_path / "outside.json").write_text("{}")
    _set_manifest(out, **changes)
    _load_bundle_fails(out, rf"manifest\.json: {re.escape(problem)}")


def test_manifest_or_metrics_that_are_not_objects(tmp_path):
    out = _bundle(tmp_path / "res")
    (out / "metrics.json").write_text("[1, 2]")
    _rehash(out, "metrics.json")
    _load_bundle_fails(out, r"metrics\.json: holds a JSON list, expected an object")
    (out / "manifest.json").write_text("[1, 2]")
    _load_bundle_fails(out, r"manifest\.json: holds a JSON list, expected an object")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickled_weights_are_refused_never_unpickled(tmp_path):
    pytest.importorskip("torch")
    import pickle

    out = _bundle(tmp_path / "res")
    marker = tmp_path / "unpickled"
    (out / "weights").mkdir()
    (out / "weights" / "phase1_fmri.pt").write_bytes(pickle.dumps({"w": _Trap(marker)}))
    _load_bundle_fails(out, r"phase1_fmri\.pt: holds Python objects besides tensors; refused", load_weights=True)
    assert not marker.exists()


def test_truncated_weights(tmp_path):
    torch = pytest.importorskip("torch")
    out = _bundle(tmp_path / "res")
    (out / "weights").mkdir()
    pt = out / "weights" / "phase1_fmri.pt"
    torch.save({"w": torch.ones(3)}, pt)
    pt.write_bytes(pt.read_bytes()[:60])
    _load_bundle_fails(out, r"phase1_fmri\.pt: is corrupted or not a PyTorch weights file", load_weights=True)


# --- command line --------------------------------------------------------------


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "eegfmri_viewer", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_cli_info_on_a_truncated_bold_prints_one_line(tmp_path):
    path = write_bold(tmp_path / "sub-01_bold.nii.gz", n_vol=10)
    path.write_bytes(path.read_bytes()[:900])
    before = tree_digest(tmp_path)
    res = _cli("info", path, "--tr", "2")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [res.stderr.strip()]
    assert res.stderr.startswith(f"error: {path}: file is truncated or corrupted")
    assert tree_digest(tmp_path) == before


def test_cli_analyze_with_negative_event_duration_writes_nothing(tmp_path):
    make_bids_run(tmp_path / "bids", n_vol=10)
    write_tsv(tmp_path / "bids" / "sub-01" / "func" / f"{BASE}_events.tsv", ["onset", "duration", "trial_type"],
              [(4.0, -1.0, "open"), (10.0, 2.0, "closed")])
    before = tree_digest(tmp_path / "bids")
    res = _cli("analyze", tmp_path / "bids", "--out", tmp_path / "res", "--quiet")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert re.fullmatch(rf"error: \S+{BASE}_events\.tsv: events TSV 'duration' must be >= 0 seconds or n/a; "
                        r"line 2 has -1\n", res.stderr)
    assert not (tmp_path / "res").exists()
    assert tree_digest(tmp_path / "bids") == before
