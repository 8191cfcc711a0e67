"""EEG / BOLD / events readers and montage matching on tiny generated files."""

from __future__ import annotations

import numpy as np
import pytest

from io_testdata import NAMES, eeg_signal, write_bold, write_brainvision, write_edf, write_tsv

from eegfmri_viewer.io.bold import read_bold, resolve_tr
from eegfmri_viewer.io.eeg import channels_by_type, eeg_format, read_eeg
from eegfmri_viewer.io.events import read_events_tsv
from eegfmri_viewer.io.montage import apply_positions, channel_positions, match_standard
from eegfmri_viewer.io.space import detect_space


def _fif(tmp_path, x, names, sfreq=250.0):
    import mne

    raw = mne.io.RawArray(x, mne.create_info(names, sfreq, "eeg"), verbose="error")
    path = tmp_path / "rec_raw.fif"
    raw.save(path, verbose="error")
    return path


@pytest.mark.parametrize("fmt", ["BrainVision", "EDF", "BDF", "FIF"])
def test_each_eeg_format_opens_without_preloading(tmp_path, fmt):
    x = eeg_signal(4, 2500)
    names = NAMES[:4]
    if fmt == "BrainVision":
        path = write_brainvision(tmp_path, "rec", names, 250.0, 10.0, data=x)
    elif fmt in ("EDF", "BDF"):
        path = write_edf(tmp_path / f"rec.{fmt.lower()}", x, 250.0, names, bdf=fmt == "BDF")
    else:
        path = _fif(tmp_path, x, names)
    raw = read_eeg(path)
    assert eeg_format(path) == fmt
    assert not raw.preload
    assert raw.ch_names == names and raw.info["sfreq"] == 250.0
    tol = 2e-7 if fmt == "EDF" else 1e-8
    np.testing.assert_allclose(raw.get_data(), x, atol=tol)


def test_non_eeg_channels_are_typed_not_dropped(tmp_path):
    names = NAMES[:4] + ["ECG", "VEOG", "EMG1"]
    path = write_brainvision(tmp_path, "rec", names, 250.0, 4.0)
    raw = read_eeg(path)
    assert raw.ch_names == names
    assert channels_by_type(raw) == {"ecg": 1, "eeg": 4, "emg": 1, "eog": 1}


def test_standard_montage_matches_case_insensitively_with_aliases(tmp_path):
    names = ["FP1", "fz", "T3", "T4", "T5", "T6", "EEG Cz-REF"]
    matched, unmatched = match_standard(names)
    assert unmatched == []
    np.testing.assert_allclose(matched["T3"], match_standard(["T7"])[0]["T7"])
    np.testing.assert_allclose(matched["T6"], match_standard(["P8"])[0]["P8"])
    path = write_brainvision(tmp_path, "rec", names, 250.0, 2.0)
    raw = read_eeg(path)
    assert apply_positions(raw, path) == "standard 10-05 montage"
    _, pos = channel_positions(raw)
    assert np.isfinite(pos).all() and np.all(np.linalg.norm(pos, axis=1) > 0.05)
    # T3 and T4 sit on opposite sides of the head.
    assert pos[2, 0] < 0 < pos[3, 0]


def test_electrodes_tsv_wins_over_standard_montage(tmp_path):
    names = NAMES[:3]
    path = write_brainvision(tmp_path, "rec", names, 250.0, 2.0)
    tsv = write_tsv(tmp_path / "rec_electrodes.tsv", ["name", "x", "y", "z"],
                    [("Fp1", 10, 20, 30), ("Fp2", -10, 20, 30), ("F3", 0, 0, 90)])
    raw = read_eeg(path)
    assert apply_positions(raw, path, tsv, units="mm") == "rec_electrodes.tsv"
    _, pos = channel_positions(raw)
    np.testing.assert_allclose(pos[0], [0.010, 0.020, 0.030], atol=1e-9)


def test_bold_is_read_lazily_with_header_tr(tmp_path):
    path = write_bold(tmp_path / "sub-01_bold.nii.gz", n_vol=7, tr=1.5)
    img = read_bold(path)
    assert img.shape[3] == 7
    assert not img.in_memory
    tr, warns = resolve_tr(img, path)
    assert tr == 1.5 and warns == []
    assert detect_space(img, path)[0] == "MNI"


def test_native_space_bold_is_flagged(tmp_path):
    path = write_bold(tmp_path / "sub-01_bold.nii.gz", n_vol=3, mni=False)
    space, warns = detect_space(read_bold(path), path)
    assert space == "native"
    assert "native" in warns[0] and "MNI atlas coordinates do not fit" in warns[0]


def test_events_tsv_reads_trial_types_and_skips_scanner_markers(tmp_path):
    path = write_tsv(tmp_path / "ev_events.tsv", ["onset", "duration", "trial_type"],
                     [(1.0, 2.0, "rest"), (2.0, 0, "Response/R128"), (5.0, "n/a", "task"), ("n/a", 1, "task")])
    ev = read_events_tsv(path)
    np.testing.assert_allclose(ev.onset, [1.0, 5.0])
    np.testing.assert_allclose(ev.duration, [2.0, 0.0])
    assert list(ev.trial_type) == ["rest", "task"]
    assert ev.counts() == {"rest": 1, "task": 1}
