"""Scanner artifact correction on synthetic EEG with a known artifact added:
the residual artifact power must drop by at least 20 dB."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from eegfmri_viewer.io.artifacts import correct_artifacts, remove_gradient, remove_pulse
from eegfmri_viewer.io.alignment import align_markers


def _db(artifact, residual):
    return 10 * np.log10(np.sum(artifact**2) / np.sum(residual**2))


def _gradient_case(seed=0, sfreq=1000.0, tr=1.0, n_vol=30, pad=2.0, n_ch=4):
    rng = np.random.default_rng(seed)
    n = int((2 * pad + n_vol * tr) * sfreq)
    clean = rng.normal(0, 10e-6, (n_ch, n))
    per = int(tr * sfreq)
    t = np.arange(per) / sfreq
    # 20 slices per volume: a switched gradient with a decaying edge, 1 mV.
    wave = np.sign(np.sin(2 * np.pi * 20 * t)) * np.exp(-((t * 20) % 1) * 5) * 1e-3
    art = np.zeros((n_ch, n))
    onsets = pad + tr * np.arange(n_vol) + rng.uniform(-0.5e-3, 0.5e-3, n_vol)
    for o in onsets:
        s = int(round(o * sfreq))
        art[:, s:s + per] += wave * np.arange(1, n_ch + 1)[:, None]
    info = mne.create_info([f"E{i}" for i in range(n_ch)] + ["ECG"], sfreq, ["eeg"] * n_ch + ["ecg"])
    ecg = rng.normal(0, 1e-6, (1, n))
    raw = mne.io.RawArray(np.vstack([clean + art, ecg]), info, verbose="error")
    return raw, clean, art, onsets


def test_gradient_artifact_drops_20_db():
    raw, clean, art, onsets = _gradient_case()
    al = align_markers(onsets, 1.0, len(onsets), "R128")
    log = remove_gradient(raw, al.volume_onsets_eeg_s, al.max_jitter_s)
    residual = raw.get_data(picks="eeg") - clean
    assert _db(art, residual) >= 20.0
    assert "gradient artifact removed" in log and "30 volumes" in log
    # The edge volumes that MNE's symmetric template skips are corrected too.
    s0 = int(round(onsets[0] * 1000))
    assert _db(art[:, s0:s0 + 1000], residual[:, s0:s0 + 1000]) >= 20.0


def _pulse_case(seed=0, sfreq=250.0, dur=120.0, n_ch=4):
    rng = np.random.default_rng(seed)
    n = int(dur * sfreq)
    rr = 60 / 70 * (1 + 0.05 * rng.standard_normal(400))
    peaks = np.cumsum(rr) + 0.5
    ps = np.round(peaks[peaks < dur - 1] * sfreq).astype(int)
    ecg = rng.normal(0, 20e-6, n)
    w = sfreq / 125.0  # QRS width 8 ms whatever the rate
    k = np.arange(-int(5 * w), int(5 * w) + 1)
    qrs = 1e-3 * np.exp(-0.5 * (k / w) ** 2)
    for p in ps:
        ecg[p + k] += qrs
    bt = np.arange(int(0.6 * sfreq)) / sfreq
    bcg = 60e-6 * np.sin(2 * np.pi * bt / 0.6) * np.exp(-bt / 0.3)
    clean = rng.normal(0, 5e-6, (n_ch, n))
    art = np.zeros((n_ch, n))
    for p in ps:
        s = p + int(0.05 * sfreq)
        art[:, s:s + len(bt)] += bcg * np.linspace(-1, 2, n_ch)[:, None]
    info = mne.create_info([f"E{i}" for i in range(n_ch)] + ["ECG"], sfreq, ["eeg"] * n_ch + ["ecg"])
    return mne.io.RawArray(np.vstack([clean + art, ecg]), info, verbose="error"), clean, art, len(ps)


@pytest.mark.parametrize("sfreq", [250.0, 2000.0])
def test_pulse_artifact_drops_20_db(sfreq):
    # At 2 kHz the R-peaks are found on the ECG resampled to 500 Hz and mapped back.
    raw, clean, art, n_beats = _pulse_case(sfreq=sfreq, dur=120.0 if sfreq < 1000 else 60.0)
    log = remove_pulse(raw)
    residual = raw.get_data(picks="eeg") - clean
    assert _db(art, residual) >= 20.0
    assert f"locked to {n_beats} R-peaks of ECG" in log
    # The ECG channel itself is left alone.
    assert np.abs(raw.get_data(picks="ecg")).max() > 5e-4


def test_corrections_on_by_default_when_markers_and_ecg_present_and_logged():
    raw, clean, art, onsets = _gradient_case()
    al = align_markers(onsets, 1.0, len(onsets), "R128")
    corrections, warns = correct_artifacts(raw, al)
    assert len(corrections) == 1 and corrections[0].startswith("gradient")
    # An ECG lead with noise only has no beats: the pulse correction says why it did nothing.
    assert any("pulse artifact correction not applied: no clear R-peaks in ECG" in w for w in warns)


def test_corrections_skipped_with_a_reason():
    raw, _, _, onsets = _gradient_case()
    corrections, warns = correct_artifacts(raw.copy().pick("eeg"), None, gradient=True, pulse=True)
    assert corrections == []
    assert "no scanner volume markers" in warns[0] and "no ECG channel" in warns[1]
    al = align_markers(onsets, 1.0, len(onsets), "R128")
    big = raw.copy()
    corrections, warns = correct_artifacts(big, al, max_preload_bytes=1000)
    # Already preloaded: nothing needs loading, so the size limit does not apply.
    assert corrections and corrections[0].startswith("gradient")


def test_gradient_correction_skipped_on_eeg_without_gradient_artifact():
    raw, clean, art, onsets = _gradient_case()
    clean_raw = mne.io.RawArray(clean, mne.create_info([f"E{i}" for i in range(4)], 1000.0, "eeg"), verbose="error")
    al = align_markers(onsets, 1.0, len(onsets), "R128")
    corrections, warns = correct_artifacts(clean_raw, al)
    assert corrections == []
    assert "gradient artifact correction skipped: no gradient artifact found" in warns[0]
    np.testing.assert_array_equal(clean_raw.get_data(), clean)
