"""Bad EEG channels: interpolated (default) or dropped, from channels.tsv or marked by the user."""

import json

import mne
import numpy as np
import pytest

from fast_analysis import fast_config
from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.pipeline.config import AnalysisConfig
from eegfmri_viewer.preprocessing import preprocess_eeg

CHANNELS = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8",
            "P7", "P3", "Pz", "P4", "P8", "O1", "Oz", "O2"]
BANDS = [("alpha", 8.0, 13.0)]


def _montage():
    name = "colin27_1005" if "colin27_1005" in mne.channels.get_builtin_montages() else "standard_1005"
    return mne.channels.make_standard_montage(name)


def _smooth_field_raw(broken="C3", sfreq=500.0, seconds=12.0, seed=0):
    """A 10-Hz rhythm whose amplitude varies smoothly over the scalp; ``broken`` carries a large artefact."""
    rng = np.random.default_rng(seed)
    info = mne.create_info(CHANNELS, sfreq, "eeg")
    raw = mne.io.RawArray(np.zeros((len(CHANNELS), int(sfreq * seconds))), info, verbose="error")
    raw.set_montage(_montage(), verbose="error")
    pos = np.array([raw.info["chs"][i]["loc"][:3] for i in range(len(CHANNELS))])
    gain = 1.0 + 8.0 * (pos[:, 0] - pos[:, 0].min()) / np.ptp(pos[:, 0])  # left to right
    t = raw.times
    truth = 10e-6 * gain[:, None] * np.sin(2 * np.pi * 10.0 * t)[None, :]
    truth += 0.5e-6 * rng.normal(size=truth.shape)
    data = truth.copy()
    if broken:
        data[CHANNELS.index(broken)] = 3e-3 * rng.normal(size=len(t))  # a loose electrode
    raw._data[:] = data
    return raw, truth


def _corr(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def test_bad_channel_is_rebuilt_from_its_neighbours_and_keeps_the_reference_clean():
    raw, truth = _smooth_field_raw()
    clean = mne.io.RawArray(truth, raw.info.copy(), verbose="error")
    reference = preprocess_eeg(clean, bands=BANDS, reference="average")
    eb = preprocess_eeg(raw, bands=BANDS, reference="average", extra_bads=["C3"])
    assert eb.ch_names == CHANNELS and eb.interpolated == ["C3"] and eb.dropped == []
    c3 = CHANNELS.index("C3")
    sl = slice(250, -250)  # away from the filter edges
    assert _corr(eb.band_signal[0, c3, sl], reference.band_signal[0, c3, sl]) > 0.95
    # The loose electrode's noise would otherwise enter every channel through the average reference.
    for name in ("O2", "Fp1", "T8"):
        i = CHANNELS.index(name)
        assert _corr(eb.band_signal[0, i, sl], reference.band_signal[0, i, sl]) > 0.99
    noisy = preprocess_eeg(raw, bands=BANDS, reference="average", bad_channels="drop", extra_bads=[])
    assert noisy.interpolated == [] and "C3" in noisy.ch_names
    # without marking it, C3's artefact spreads through the average reference
    t8 = CHANNELS.index("T8")
    assert _corr(noisy.band_signal[0, t8, sl], reference.band_signal[0, t8, sl]) < 0.9


def test_drop_leaves_bad_channels_out_and_the_recording_is_not_changed():
    raw, _ = _smooth_field_raw()
    raw.info["bads"] = ["T7"]
    eb = preprocess_eeg(raw, bands=BANDS, bad_channels="drop", extra_bads=["C3"])
    assert "C3" not in eb.ch_names and "T7" not in eb.ch_names
    assert sorted(eb.dropped) == ["C3", "T7"] and eb.interpolated == []
    assert len(eb.ch_names) == len(CHANNELS) - 2 == eb.band_signal.shape[1]
    assert raw.info["bads"] == ["T7"]  # channels.tsv's marks stay as read; the user's are not added
    eb = preprocess_eeg(raw, bands=BANDS, extra_bads=["C3"])
    assert eb.interpolated == ["T7", "C3"] and eb.ch_names == CHANNELS
    assert raw.info["bads"] == ["T7"]


def test_bad_channel_without_position_is_dropped_and_unknown_names_are_refused():
    raw, _ = _smooth_field_raw(broken=None)
    raw.rename_channels({"Oz": "X1"})  # not in the montage: no position
    raw.set_montage(_montage(), on_missing="ignore", verbose="error")
    eb = preprocess_eeg(raw, bands=BANDS, extra_bads=["X1", "Pz"])
    assert eb.interpolated == ["Pz"] and eb.dropped == ["X1"] and "X1" not in eb.ch_names
    with pytest.raises(InputError, match="Q9 marked bad are not EEG channels"):
        preprocess_eeg(raw, bands=BANDS, extra_bads=["Q9"])


def test_config_validates_marked_bad():
    cfg = AnalysisConfig.from_dict({"preprocessing": {"marked_bad": {"sub-01 ses-1 task-x": ["T7"]}}})
    assert cfg.preprocessing.marked_bad == {"sub-01 ses-1 task-x": ["T7"]}
    with pytest.raises(InputError, match="marked_bad: 'sub-01' must list channel names"):
        AnalysisConfig.from_dict({"preprocessing": {"marked_bad": {"sub-01": "T7"}}})
    with pytest.raises(InputError, match=r"\[preprocessing\] marked_bad must be a table"):
        AnalysisConfig.from_dict({"preprocessing": {"marked_bad": ["T7"]}})
    with pytest.raises(InputError, match="bad_channels: must be 'interpolate' or 'drop'"):
        AnalysisConfig.from_dict({"preprocessing": {"bad_channels": "zero"}})


def test_analyze_interpolates_or_drops_marked_channels(small_demo, tmp_path):
    from eegfmri_viewer.pipeline.analyze import analyze
    from eegfmri_viewer.results import load_bundle

    marks = {"sub-01 ses-1 task-states": ["Cz"], "sub-77 ses-1 task-states": ["Cz"]}
    config = fast_config().with_overrides(preprocessing={"marked_bad": marks})
    b = load_bundle(analyze(small_demo, tmp_path / "interp", config=config))
    dataset = json.loads((b.path / "dataset.json").read_text())
    electrodes = [str(e) for e in b.arrays["saliency"]["electrodes"]]
    assert "Cz" in electrodes
    # the electrode graph rings what was rebuilt: Cz in one of the two recordings
    share = b.arrays["saliency"]["electrode_interpolated"]
    assert share[electrodes.index("Cz")] == 0.5 and share.sum() == 0.5
    rec = {r["label"]: r for r in dataset["recordings"]}
    assert rec["sub-01 ses-1 task-states"]["eeg_bad_channels"] == {"interpolated": ["Cz"], "dropped": []}
    assert rec["sub-02 ses-1 task-states"]["eeg_bad_channels"] == {"interpolated": [], "dropped": []}
    assert any("Cz interpolated" in w for w in dataset["warnings"])
    assert any("sub-77 ses-1 task-states" in w and "not used" in w for w in dataset["warnings"])
    assert b.manifest["config"]["preprocessing"]["marked_bad"] == marks

    config = config.with_overrides(preprocessing={"bad_channels": "drop"})
    b = load_bundle(analyze(small_demo, tmp_path / "drop", config=config))
    # one recording's bad channel leaves the group's montage
    assert "Cz" not in [str(e) for e in b.arrays["saliency"]["electrodes"]]
    dataset = json.loads((b.path / "dataset.json").read_text())
    assert any("restricted" in w for w in dataset["warnings"])

    config = fast_config().with_overrides(preprocessing={"marked_bad": {"sub-01 ses-1 task-states": ["Zz"]}})
    with pytest.raises(InputError, match="Zz marked bad are not EEG channels"):
        analyze(small_demo, tmp_path / "bad", config=config)


def test_good_channels_without_a_position_stay_out_of_the_splines():
    raw, truth = _smooth_field_raw()
    raw.rename_channels({"Oz": "X1"})  # a good channel outside the montage: no position
    raw.set_montage(_montage(), on_missing="ignore", verbose="error")
    eb = preprocess_eeg(raw, bands=BANDS, extra_bads=["C3"])
    assert eb.interpolated == ["C3"] and "X1" in eb.ch_names
    assert np.all(np.isfinite(eb.band_signal))
    clean = mne.io.RawArray(truth, raw.info.copy(), verbose="error")
    reference = preprocess_eeg(clean, bands=BANDS)
    c3, sl = CHANNELS.index("C3"), slice(250, -250)
    assert _corr(eb.band_signal[0, c3, sl], reference.band_signal[0, c3, sl]) > 0.95
    x1 = eb.ch_names.index("X1")
    assert _corr(eb.band_signal[0, x1, sl], reference.band_signal[0, x1, sl]) > 0.99  # left as it is


def test_the_interpolator_rebuilds_the_bad_channel_exactly_as_the_analysis_does():
    from eegfmri_viewer.preprocessing.eeg import bad_channel_interpolator, bad_channel_plan

    raw, truth = _smooth_field_raw()
    before = raw.get_data().copy()
    interpolator = bad_channel_interpolator(raw, ["C3"])
    rows = interpolator.apply(raw, 500, 3000)
    assert list(rows) == ["C3"] and rows["C3"].shape == (2500,)
    # the loose electrode's artefact is gone; what remains is the field at C3
    assert _corr(rows["C3"], truth[CHANNELS.index("C3"), 500:3000]) > 0.95
    assert np.abs(rows["C3"]).max() < 1e-4
    np.testing.assert_array_equal(raw.get_data(), before)  # the recording is not changed
    # the analysis of the recording with C3 marked bad equals the analysis of the recording whose C3
    # was replaced by the preview: same channels, same splines, and filtering and decimation commute
    replaced = raw.copy()
    replaced._data[CHANNELS.index("C3")] = interpolator.apply(raw, 0, raw.n_times)["C3"]
    bands = [("wide", 1.0, 40.0)]
    analysed = preprocess_eeg(raw, bands=bands, reference="average", extra_bads=["C3"])
    previewed = preprocess_eeg(replaced, bands=bands, reference="average")
    np.testing.assert_allclose(analysed.band_signal, previewed.band_signal, rtol=0, atol=1e-9)
    # the same channels as the analysis keeps, rebuilds and drops
    picks, rebuilt, dropped = bad_channel_plan(raw, ["C3"])
    assert rebuilt == ["C3"] and dropped == [] and interpolator.picks == picks == list(range(len(CHANNELS)))
    assert bad_channel_interpolator(raw, []).apply(raw, 0, 100) == {}
    with pytest.raises(InputError, match="not EEG channels"):
        bad_channel_interpolator(raw, ["X9"])
