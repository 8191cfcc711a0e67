"""Every bad input of issue item 8 gives an InputError naming the file and the problem."""

from __future__ import annotations

import numpy as np
import pytest

from io_testdata import NAMES, eeg_signal, write_bold, write_brainvision, write_edf, write_json, write_tsv

from eegfmri_viewer.io.bids import discover
from eegfmri_viewer.io.bold import read_bold
from eegfmri_viewer.io.eeg import read_eeg
from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.io.single import open_files


def _pair(tmp_path, n_vol=10, tr=2.0, dur_s=None, lead_s=1.0, names=None, data=None, markers=True, **bold_kw):
    dur = dur_s if dur_s is not None else lead_s + n_vol * tr + 1.0
    vols = lead_s + tr * np.arange(n_vol) if markers else None
    eeg = write_brainvision(tmp_path, "sub-01_task-x_eeg", names or NAMES[:4], 100.0, dur, vols, data=data)
    bold = write_bold(tmp_path / "sub-01_task-x_bold.nii.gz", n_vol, tr, **bold_kw)
    return eeg, bold


def test_missing_eeg_file(tmp_path):
    with pytest.raises(InputError, match="EEG file not found") as err:
        read_eeg(tmp_path / "nope.vhdr")
    assert "nope.vhdr" in str(err.value) and err.value.path.name == "nope.vhdr"


def test_missing_bold_file(tmp_path):
    with pytest.raises(InputError, match=r"nope_bold\.nii\.gz: BOLD file not found"):
        read_bold(tmp_path / "nope_bold.nii.gz")


def test_unreadable_eeg_file(tmp_path):
    bad = tmp_path / "broken.vhdr"
    bad.write_text("this is not a BrainVision header\n")
    with pytest.raises(InputError, match=r"broken\.vhdr: cannot read BrainVision EEG file"):
        read_eeg(bad)


def test_unreadable_bold_file(tmp_path):
    bad = tmp_path / "broken_bold.nii.gz"
    bad.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(InputError, match=r"broken_bold\.nii\.gz: cannot read NIfTI file"):
        read_bold(bad)


@pytest.mark.parametrize("name,reader,msg", [
    ("rec.txt", read_eeg, "unsupported EEG format"),
    ("rec.mgz", read_bold, "unsupported BOLD format"),
])
def test_unsupported_format(tmp_path, name, reader, msg):
    (tmp_path / name).write_text("x")
    with pytest.raises(InputError, match=msg) as err:
        reader(tmp_path / name)
    assert name in str(err.value)


def test_bold_not_4d(tmp_path):
    path = write_bold(tmp_path / "anat_bold.nii.gz", ndim=3)
    with pytest.raises(InputError, match=r"anat_bold\.nii\.gz: 3-D image, expected 4-D BOLD"):
        read_bold(path)


def test_tr_missing(tmp_path):
    eeg, bold = _pair(tmp_path, header_tr=0.0)
    with pytest.raises(InputError, match="TR missing"):
        open_files(eeg, bold)


def test_tr_inconsistent_sidecar_wins_with_warning(tmp_path):
    eeg, bold = _pair(tmp_path, tr=2.0, header_tr=1.79)
    write_json(tmp_path / "sub-01_task-x_bold.json", {"RepetitionTime": 2.0})
    rec = open_files(eeg, bold)
    assert rec.tr == 2.0
    assert any("TR inconsistent between NIfTI header (1.79 s) and sidecar" in w for w in rec.warnings)
    assert rec.alignment.n_missing == 0 and rec.alignment.n_extra == 0


def test_eeg_shorter_than_bold_run(tmp_path):
    eeg, bold = _pair(tmp_path, n_vol=10, tr=2.0, dur_s=12.0, markers=False)
    with pytest.raises(InputError, match=r"sub-01_task-x_eeg\.vhdr: EEG \(12\.0 s\) is shorter than the BOLD run"):
        open_files(eeg, bold)


def test_events_outside_recording(tmp_path):
    eeg, bold = _pair(tmp_path, n_vol=10, tr=2.0)
    ev = write_tsv(tmp_path / "late_events.tsv", ["onset", "duration", "trial_type"], [(3.0, 1, "a"), (45.0, 1, "b")])
    with pytest.raises(InputError, match=r"late_events\.tsv: 1 event\(s\) outside the recording \(0 to 20\.0 s\); first: 'b' at 45\.00 s"):
        open_files(eeg, bold, events_path=ev)


def test_nan_in_eeg(tmp_path):
    x = eeg_signal(4, 2200)
    x[2, 1234] = np.nan
    eeg, bold = _pair(tmp_path, data=x)
    with pytest.raises(InputError, match=r"EEG data contain NaN values .* channel F3 at 12\.340 s"):
        open_files(eeg, bold)


def test_inf_in_bold(tmp_path):
    data = np.ones((11, 13, 11, 10), np.float32)
    data[3, 3, 3, 6] = np.inf
    eeg, bold = _pair(tmp_path, data=None)
    write_bold(bold, data=data)
    # one non-finite voxel (as outside an SPM brain mask) is reported, not a rejection of the run
    rec = open_files(eeg, bold)
    assert any(w.startswith(f"{bold}: 1 of 1573 voxels hold NaN/Inf values (first in volume 6") for w in rec.warnings)


def test_duplicate_channel_names(tmp_path):
    path = write_edf(tmp_path / "dup.edf", eeg_signal(3, 500), 250.0, ["Fp1", "Cz", "Fp1"])
    with pytest.raises(InputError, match=r"dup\.edf: duplicate channel names .*Fp1"):
        read_eeg(path)


def test_duplicate_channel_names_differing_in_case(tmp_path):
    path = write_edf(tmp_path / "dupcase.edf", eeg_signal(3, 500), 250.0, ["CZ", "Fp1", "Cz"])
    with pytest.raises(InputError, match=r"dupcase\.edf: duplicate channel names \['Cz'\]"):
        read_eeg(path)


def test_channels_not_in_any_montage(tmp_path):
    eeg, bold = _pair(tmp_path, names=["Fp1", "Cz", "Xq7", "Blub"])
    with pytest.raises(InputError, match=r"_eeg\.vhdr: channels not found in any montage: \['Xq7', 'Blub'\]"):
        open_files(eeg, bold)


def test_empty_bids_root(tmp_path):
    (tmp_path / "dataset_description.json").write_text("{}")
    with pytest.raises(InputError, match="empty BIDS root"):
        discover(tmp_path)


def test_missing_bids_root(tmp_path):
    with pytest.raises(InputError, match="BIDS root not found"):
        discover(tmp_path / "nowhere")
