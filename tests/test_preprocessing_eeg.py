"""EEG preprocessing: decimation, reference, band signals and band power."""

from pathlib import Path

import mne
import numpy as np
import pytest
from scipy.signal import resample_poly

from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.preprocessing import DEFAULT_BANDS, preprocess_eeg, validate_bands
from eegfmri_viewer.preprocessing.eeg import decimate_raw, decimation_factor
from eegfmri_viewer.progress import Cancelled

CHANNELS = ["Fp1", "Fp2", "C3", "C4", "Cz", "P3", "P4", "O1", "O2"]


def _montage():
    name = "colin27_1005" if "colin27_1005" in mne.channels.get_builtin_montages() else "standard_1005"
    return mne.channels.make_standard_montage(name)


def _raw(sfreq=1000.0, seconds=20.0, seed=0, burst=(8.0, 12.0)):
    rng = np.random.default_rng(seed)
    n = int(sfreq * seconds)
    t = np.arange(n) / sfreq
    data = 2e-6 * rng.normal(size=(len(CHANNELS) + 1, n))
    data[: len(CHANNELS)] += 50e-6  # a DC offset, as amplifiers have
    on = (t >= burst[0]) & (t < burst[1])
    data[CHANNELS.index("O1"), on] += 20e-6 * np.sin(2 * np.pi * 10.0 * t[on])
    info = mne.create_info(CHANNELS + ["ECG"], sfreq, ["eeg"] * len(CHANNELS) + ["ecg"])
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_montage(_montage(), verbose="error")
    return raw


def test_alpha_burst_shows_in_alpha_power_not_beta():
    eb = preprocess_eeg(_raw())
    assert eb.band_names == [b[0] for b in DEFAULT_BANDS]
    o1 = eb.ch_names.index("O1")
    inside = (eb.times >= 9.0) & (eb.times < 11.0)
    outside = (eb.times >= 2.0) & (eb.times < 6.0) | (eb.times >= 14.0) & (eb.times < 18.0)
    alpha = eb.band_power[eb.band_names.index("alpha"), o1]
    beta = eb.band_power[eb.band_names.index("beta"), o1]
    assert alpha[inside].mean() > 50 * alpha[outside].mean()
    assert beta[inside].mean() < 3 * beta[outside].mean()
    # band power is the squared envelope: mean power = amplitude² (7/8 after the average reference)
    amp = 20e-6 * (1 - 1 / len(CHANNELS))
    assert alpha[inside].mean() == pytest.approx(amp**2, rel=0.15)
    assert eb.band_signal.dtype == np.float32 and eb.band_power.dtype == np.float32
    assert eb.band_signal.shape == (5, len(CHANNELS), len(eb.times))


def test_decimation_to_about_250_hz_and_average_reference():
    for sfreq_in, expected in [(1000.0, 250.0), (5000.0, 250.0), (512.0, 256.0), (250.0, 250.0)]:
        eb = preprocess_eeg(_raw(sfreq=sfreq_in, seconds=6.0, burst=(1, 2)))
        assert eb.sfreq == pytest.approx(expected)
        assert np.allclose(np.diff(eb.times), 1 / expected)
        assert len(eb.times) == pytest.approx(6.0 * expected, abs=1)
    assert eb.ch_names == CHANNELS  # ECG is not EEG
    assert eb.info["sfreq"] == pytest.approx(eb.sfreq)
    assert np.all(np.isfinite(eb.ch_pos)) and eb.ch_pos.shape == (len(CHANNELS), 3)
    # average reference: zero mean across channels at every sample, in every band
    scale = np.abs(eb.band_signal).max()
    assert np.abs(eb.band_signal.mean(axis=1)).max() < 1e-5 * scale
    eb_none = preprocess_eeg(_raw(seconds=6.0, burst=(1, 2)), reference=None)
    assert np.abs(eb_none.band_signal.mean(axis=1)).max() > 1e-3 * scale


def test_chunked_decimation_equals_whole_recording():
    raw = _raw(sfreq=1000.0, seconds=7.3)
    picks = np.arange(len(CHANNELS))
    chunked = decimate_raw(raw, picks, 4, 0, raw.n_times, chunk_s=0.9)
    x = raw.get_data(picks=picks)
    whole = resample_poly(x - x[:, : 900 + 48].mean(axis=1, keepdims=True), 1, 4, axis=1)
    # the offset removed is the mean of the first chunk read (chunk + its right pad)
    assert chunked.shape == whole.shape
    assert np.allclose(chunked, whole, atol=1e-12)


def test_unpreloaded_raw_is_read_without_loading(tmp_path):
    fname = tmp_path / "x_raw.fif"
    _raw(seconds=8.0).save(fname, verbose="error")
    raw = mne.io.read_raw_fif(fname, preload=False, verbose="error")
    messages = []
    eb = preprocess_eeg(raw, tmin=1.0, tmax=7.0, chunk_s=2.0, progress=lambda f, m: messages.append(f))
    assert not raw.preload
    assert eb.times[0] == pytest.approx(1.0) and eb.times[-1] == pytest.approx(7.0, abs=0.005)
    assert messages[-1] == 1.0 and messages == sorted(messages)


def test_cancel_and_bad_input():
    with pytest.raises(Cancelled):
        preprocess_eeg(_raw(seconds=4.0), cancel=lambda: True)
    with pytest.raises(InputError, match="Nyquist"):
        preprocess_eeg(_raw(sfreq=80.0, seconds=4.0))
    with pytest.raises(InputError, match="appears twice"):
        validate_bands([("a", 1, 4), ("a", 4, 8)])
    with pytest.raises(InputError, match="above the low edge"):
        validate_bands([("a", 8, 4)])
    raw = _raw(seconds=4.0)
    raw.info["bads"] = list(CHANNELS)
    with pytest.raises(InputError, match="no EEG channels"):
        preprocess_eeg(raw)
    with pytest.raises(InputError, match="reference channel"):
        preprocess_eeg(_raw(seconds=4.0), reference=["Xx"])


def test_decimation_factor_keeps_bands_below_nyquist():
    assert decimation_factor(5000.0, 250.0, 45.0) == 20
    assert decimation_factor(1000.0, 250.0, 45.0) == 4
    # a 100 Hz band would be damaged at 250 Hz: decimate less
    assert 1000.0 / decimation_factor(1000.0, 250.0, 100.0) / 2 * 0.8 > 100.0


REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


@pytest.mark.skipif(not (REAL / "eeg_eeglab_sample" / "eeglab_data.set").is_file(), reason="real data absent")
def test_real_eeglab_recording_and_its_transfer_matrix():
    from eegfmri_viewer.graphs import sphere_leadfield, transfer_matrix
    from eegfmri_viewer.preprocessing import load_atlas

    raw = mne.io.read_raw_eeglab(REAL / "eeg_eeglab_sample" / "eeglab_data.set", preload=False, verbose="error")
    eb = preprocess_eeg(raw, tmax=60.0)
    assert eb.sfreq == 128.0 and eb.decimation == 1  # already below 250 Hz: no decimation
    assert eb.band_power.shape[:2] == (5, len(eb.ch_names))
    assert np.all(np.isfinite(eb.band_power)) and np.all(eb.band_power >= 0)
    assert not raw.preload
    # real montage (EEGLAB .locs on a sphere): the forward/inverse round trip still localises
    atlas = load_atlas("dosenbach2010")
    T = transfer_matrix(eb.info, atlas.coords)
    assert T.shape == (160, len(eb.ch_names))
    G, _, radial, _ = sphere_leadfield(eb.info, atlas.coords)
    X = np.einsum("cjo,jo->cj", G - G.mean(axis=0), radial)
    ranks = [int((np.abs(T @ X[:, j]) > np.abs(T @ X[:, j])[j]).sum()) for j in range(0, 160, 10)]
    assert max(ranks) < 3
