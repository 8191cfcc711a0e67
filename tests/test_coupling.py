"""EEG-fMRI coupling: canonical HRF, lagged correlation, peak lag and permutation p-values."""

from __future__ import annotations

import numpy as np
import pytest

from eegfmri_viewer.pipeline.coupling import (
    NULLS, canonical_hrf, embedding_coupling, hrf_convolve, lag_steps, lagged_correlation, lagged_coupling,
    class_blocks, recording_correlation, task_design, task_regressors)

TR = 2.0


def _ar1(rng, shape, phi=0.8):
    x = rng.normal(size=shape)
    for t in range(1, shape[-1]):
        x[..., t] += phi * x[..., t - 1]
    return x


def test_canonical_hrf_has_the_spm_shape():
    h = canonical_hrf(0.1)
    t = np.arange(len(h)) * 0.1
    assert h.sum() == pytest.approx(1.0)
    assert t[h.argmax()] == pytest.approx(5.0, abs=0.15)  # peak ~5 s for SPM's (6, 16, 1/6)
    assert t[h.argmin()] == pytest.approx(15.0, abs=1.0)  # undershoot
    assert h.min() < 0
    assert len(canonical_hrf(TR)) == 17  # 0..32 s in 2 s steps


def test_hrf_convolution_of_an_impulse_is_the_hrf():
    x = np.zeros(40)
    x[3] = 1.0
    y = hrf_convolve(x, TR)
    h = canonical_hrf(TR)
    # the mean removed before convolving shifts every sample by -mean * cumulative kernel sum
    expected = np.convolve(x - x.mean(), h)[:40]
    np.testing.assert_allclose(y, expected, atol=1e-12)
    assert y.argmax() - 3 in (2, 3)  # the 5 s peak falls between the 4 s and 6 s samples


def test_lag_steps_cover_minus_to_plus_ten_seconds():
    np.testing.assert_array_equal(lag_steps(2.0, -10, 10), np.arange(-5, 6))
    np.testing.assert_array_equal(lag_steps(3.0, -10, 10), np.arange(-3, 4))


def test_lagged_correlation_matches_numpy_corrcoef():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(1, 2, 50)), rng.normal(size=(2, 50))
    lags = np.array([-3, 0, 2])
    r = lagged_correlation([x], [y], lags)
    for li, lag in enumerate(lags):
        for node in range(2):
            a = x[0, node, : 50 - lag] if lag >= 0 else x[0, node, -lag:]
            b = y[node, lag:] if lag >= 0 else y[node, : 50 + lag]
            assert r[0, node, li] == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-10)


def test_lagged_correlation_pools_recordings_of_different_lengths():
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(2, 3, t)) for t in (40, 7, 25)]
    ys = [rng.normal(size=(3, t)) for t in (40, 7, 25)]
    lags = np.arange(-6, 7)
    r = lagged_correlation(xs, ys, lags)
    assert r.shape == (2, 3, len(lags))
    for li, lag in enumerate(lags):
        for b in range(2):
            for node in range(3):
                a_parts, b_parts = [], []
                for x, y in zip(xs, ys):
                    t = x.shape[-1]
                    if abs(lag) >= t - 1:  # too short to overlap at this lag: left out
                        continue
                    a_parts.append(x[b, node, : t - lag] if lag >= 0 else x[b, node, -lag:])
                    b_parts.append(y[node, lag:] if lag >= 0 else y[node, : t + lag])
                expected = np.corrcoef(np.concatenate(a_parts), np.concatenate(b_parts))[0, 1]
                assert r[b, node, li] == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("lag", [2, -3, 0])
def test_planted_lag_is_found_with_a_small_p_value(lag):
    rng = np.random.default_rng(abs(lag) + 10)
    n_vol, n_rec = 150, 2
    power = [np.abs(_ar1(rng, (1, 3, n_vol))) for _ in range(n_rec)]
    bold = []
    for p in power:
        x = hrf_convolve(p[0], TR)
        y = np.roll(x, lag, axis=-1)  # y[t + lag] = x[t]
        y = y / y.std() + 0.5 * rng.normal(size=y.shape)
        bold.append(y)
    out = lagged_coupling(power, bold, TR, n_permutations=100, seed=0)
    np.testing.assert_array_equal(out["peak_lag_s"], lag * TR)
    assert (out["p_value"] < 0.05).all()
    assert (out["lagged_corr"][0, :, list(out["lags_s"]).index(lag * TR)] > 0.5).all()


def test_unrelated_bold_gives_large_p_values():
    rng = np.random.default_rng(3)
    n_vol, n_nodes = 150, 30
    power = [np.abs(_ar1(rng, (1, n_nodes, n_vol))) for _ in range(2)]
    # independent BOLD with BOLD-like autocorrelation
    bold = [hrf_convolve(_ar1(rng, (n_nodes, n_vol)), TR) + 0.2 * rng.normal(size=(n_nodes, n_vol))
            for _ in range(2)]
    out = lagged_coupling(power, bold, TR, n_permutations=100, seed=1)
    p = out["p_value"][0]
    assert np.mean(p < 0.05) <= 0.2
    assert np.median(p) > 0.2
    # 30 uncorrected tests: some fall below 0.05 by chance; none survives the correction
    assert (p < 0.1).any()
    assert (out["p_value_fwer"] >= out["p_value"]).all()
    assert (out["p_value_fwer"] > 0.1).all()


def test_corrected_p_values_keep_planted_coupling_among_unrelated_rois():
    rng = np.random.default_rng(5)
    n_vol, n_nodes, coupled = 150, 40, [3, 17, 31]
    power = [np.abs(_ar1(rng, (2, n_nodes, n_vol))) for _ in range(2)]
    bold = []
    for p in power:
        y = hrf_convolve(_ar1(rng, (n_nodes, n_vol)), TR) + 0.2 * rng.normal(size=(n_nodes, n_vol))
        x = hrf_convolve(p[1, coupled], TR)  # band 1 drives the BOLD of three ROIs
        y[coupled] = x / x.std(axis=-1, keepdims=True) + 0.7 * rng.normal(size=x.shape)
        bold.append(y)
    out = lagged_coupling(power, bold, TR, n_permutations=200, seed=2)
    fwer = out["p_value_fwer"]
    assert (fwer[1, coupled] < 0.01).all()
    others = np.ones((2, n_nodes), bool)
    others[1, coupled] = False
    # 77 tests without coupling: several pass uncorrected, at most one after the correction
    # (a family-wise error of 5 % allows one now and then)
    assert (out["p_value"][others] < 0.05).sum() >= 3
    assert (fwer[others] < 0.05).sum() <= 1
    # the maximum statistic: a test is significant after correction only when its peak beats
    # the null maximum over every band and ROI, so the corrected p can only grow
    assert (fwer >= out["p_value"]).all()
    # the same observed peak gets the same corrected p, whatever its band or ROI
    peaks = np.abs(out["lagged_corr"]).max(axis=-1)
    order = np.argsort(peaks, axis=None)
    assert np.all(np.diff(fwer.ravel()[order]) <= 1e-12)


def _independent(rng, n_rec=4, n_vol=150, n_nodes=40):
    """Band power and BOLD with slow autocorrelations and no relation between them."""
    power = [np.exp(0.5 * _ar1(rng, (1, n_nodes, n_vol), phi=0.9) / 2.3) for _ in range(n_rec)]
    bold = [hrf_convolve(_ar1(rng, (n_nodes, n_vol), phi=0.5), TR) + 0.3 * rng.normal(size=(n_nodes, n_vol))
            for _ in range(n_rec)]
    return power, bold


@pytest.mark.parametrize("null", NULLS)
def test_p_values_keep_their_level_on_independent_slow_signals(null):
    # 8 x 40 tests with no coupling; slow signals give large chance correlations, which a
    # null that kept no autocorrelation would call significant (see the next test)
    rng = np.random.default_rng(11)
    p = []
    for s in range(8):
        power, bold = _independent(rng)
        p.append(lagged_coupling(power, bold, TR, n_permutations=100, null=null, seed=s)["p_value"].ravel())
    p = np.concatenate(p)
    assert 0.02 <= np.mean(p < 0.05) <= 0.09
    assert 0.3 <= np.median(p) <= 0.7


def test_a_null_that_ignores_autocorrelation_would_be_liberal():
    # the same data, with volumes shuffled one by one (blocks of one TR): far too many "couplings",
    # which is why the surrogates keep the autocorrelation
    rng = np.random.default_rng(11)
    p = []
    for s in range(8):
        power, bold = _independent(rng)
        p.append(lagged_coupling(power, bold, TR, n_permutations=100, null="blocks", block_s=TR,
                                 seed=s)["p_value"].ravel())
    assert np.mean(np.concatenate(p) < 0.05) > 0.15


def test_circular_shift_surrogates_keep_each_recording_whole():
    from eegfmri_viewer.pipeline.coupling import _circular_shift

    rng = np.random.default_rng(0)
    y = rng.normal(size=(3, 50))
    for _ in range(20):
        z = _circular_shift(y, 16, rng)
        # the same shift for every ROI, never closer than the least shift to the original alignment
        shifts = [j for j in range(50) if np.array_equal(z, np.roll(y, j, axis=1))]
        assert len(shifts) == 1 and 16 <= shifts[0] <= 34
    assert np.array_equal(_circular_shift(y[:, :1], 16, rng), y[:, :1])


def test_no_permutations_gives_nan_p_and_mismatch_is_refused():
    rng = np.random.default_rng(0)
    out = lagged_coupling([rng.random((2, 3, 40))], [rng.normal(size=(3, 40))], TR, n_permutations=0)
    assert np.isnan(out["p_value"]).all() and out["p_value"].shape == (2, 3)
    assert np.isnan(out["p_value_fwer"]).all() and out["p_value_fwer"].shape == (2, 3)
    with pytest.raises(ValueError, match="do not match"):
        lagged_coupling([rng.random((2, 3, 40))], [rng.normal(size=(4, 40))], TR)
    with pytest.raises(ValueError, match="null must be one of shift, blocks"):
        lagged_coupling([rng.random((2, 3, 40))], [rng.normal(size=(3, 40))], TR, null="phase")


def test_embedding_coupling_is_a_per_roi_cosine():
    band = np.array([[[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]])
    fmri = np.array([[2.0, 0.0], [-1.0, -1.0], [1.0, 0.0]])
    c, g = embedding_coupling(band, fmri)
    np.testing.assert_allclose(c, [[1.0, -1.0, 0.0]], atol=1e-6)
    assert g[0] == pytest.approx(0.0)


def test_task_design_is_the_hrf_convolved_boxcar_of_each_class():
    onset, duration = np.array([10.0, 50.0, 30.0]), np.array([20.0, 20.0, 10.0])
    kinds = np.array(["visual", "visual", "motor"])
    d = task_design(onset, duration, kinds, ["motor", "rest", "visual"], TR, 60, oversample=4)
    assert d.shape == (60, 3)
    assert np.all(d[:, 1] == 0)  # no rest event in this run
    # the visual regressor: boxcar on a TR/4 grid, convolved with the HRF, taken at each volume onset
    t = np.arange(240) * TR / 4
    box = (((t >= 10) & (t < 30)) | ((t >= 50) & (t < 70))).astype(float)
    np.testing.assert_allclose(d[:, 2], np.convolve(box, canonical_hrf(TR / 4))[:240][::4], atol=1e-12)
    # the response starts with the onset, not before, and peaks late in the block
    assert d[5, 0] == 0 and d[16, 0] > 0 and 10 + 5 <= d[:, 2].argmax() * TR <= 30 + 2


def test_removing_the_task_keeps_spontaneous_coupling_and_drops_task_driven_co_modulation():
    rng = np.random.default_rng(8)
    n_vol, n_rec = 180, 4
    onsets = np.arange(0.0, n_vol * TR, 60.0)
    power, bold, designs = [], [], []
    for _ in range(n_rec):
        design = task_design(onsets, np.full(len(onsets), 30.0), np.full(len(onsets), "task"), ["task"], TR, n_vol)
        task = np.repeat((np.arange(n_vol * TR / 30) % 2 == 0).astype(float), int(30 / TR))[:n_vol]
        spont = _ar1(rng, (n_vol,), phi=0.6)
        p = np.empty((1, 2, n_vol))
        p[0, 0] = np.exp(0.8 * task + 0.2 * rng.normal(size=n_vol))  # ROI 0: task only, nothing shared beyond it
        p[0, 1] = np.exp(0.5 * spont)                                 # ROI 1: spontaneous coupling, no task
        y = np.empty((2, n_vol))
        y[0] = 2.0 * design[:, 0] + 0.3 * rng.normal(size=n_vol)
        y[1] = hrf_convolve(p[0, 1], TR) / hrf_convolve(p[0, 1], TR).std() + 0.7 * rng.normal(size=n_vol)
        power.append(p), bold.append(y), designs.append(design)
    plain = lagged_coupling(power, bold, TR, n_permutations=100, seed=0)
    beyond = lagged_coupling(power, bold, TR, n_permutations=100, seed=0, confounds=designs)
    # the task correlates ROI 0's power and BOLD; with the task removed nothing is left there
    assert plain["p_value"][0, 0] < 0.05 and np.abs(plain["lagged_corr"][0, 0]).max() > 0.5
    assert beyond["p_value"][0, 0] > 0.05 and np.abs(beyond["lagged_corr"][0, 0]).max() < 0.2
    # the spontaneous coupling of ROI 1 survives
    assert beyond["p_value"][0, 1] < 0.05 and np.abs(beyond["lagged_corr"][0, 1]).max() > 0.4
    with pytest.raises(ValueError, match="do not match"):
        lagged_coupling(power, bold, TR, confounds=[d[:-1] for d in designs])


def test_removing_regressors_is_the_least_squares_residual_even_with_an_absent_class():
    from eegfmri_viewer.pipeline.coupling import _remove

    onset, duration = np.array([10.0, 70, 130, 190, 250]), np.full(5, 20.0)
    kinds = np.array(["A", "C", "A", "C", "A"])  # no "B" in this run: a zero column in the middle
    d = task_regressors(onset, duration, kinds, ["A", "B", "C"], TR, 150)
    assert d.shape == (150, 6) and np.all(d[:, 1] == 0)
    x = np.random.default_rng(0).normal(size=(3, 150))
    design = np.column_stack([np.ones(150), d])
    expected = x - np.linalg.lstsq(design, x.T, rcond=None)[0].T @ design.T
    np.testing.assert_allclose(_remove(x, d), expected, atol=1e-9)


def test_task_removal_leaves_no_coupling_when_the_bold_response_is_not_canonical():
    # EEG power follows the blocks, BOLD follows them 1 s later than the canonical HRF, and
    # nothing else links them: with the task removed from both sides, nothing is left
    rng = np.random.default_rng(1)
    n, onset = 200, np.arange(10.0, 380.0, 60.0)
    duration, kinds = np.full(len(onset), 30.0), np.full(len(onset), "A")
    t = np.arange(n) * TR
    box = np.zeros(n)
    for o in onset:
        box[(t >= o) & (t < o + 30.0)] = 1.0
    late = task_design(onset + 1.0, duration, kinds, ["A"], TR, n)[:, 0]
    design = task_regressors(onset, duration, kinds, ["A"], TR, n)
    power = [3 * box[None, None] + rng.normal(size=(1, 40, n)) for _ in range(3)]
    bold = [3 * late[None] + 0.3 * rng.normal(size=(40, n)) for _ in range(3)]
    plain = recording_correlation(power, bold, TR)
    beyond = recording_correlation(power, bold, TR, confounds=[design] * 3)
    assert plain.mean() > 0.5  # the task alone correlates them
    assert abs(float(beyond.mean())) < 0.03


def test_shift_surrogates_never_realign_within_the_searched_lags():
    # a perfectly coupled ROI: no surrogate may come back within the lags searched, even
    # with a least shift (block_s) shorter than the lag range
    rng = np.random.default_rng(2)
    power = [np.abs(_ar1(rng, (1, 1, 120)))]
    bold = [hrf_convolve(power[0][0], TR)]
    out = lagged_coupling(power, bold, TR, n_permutations=200, block_s=TR, seed=0)
    assert out["p_value"][0, 0] == pytest.approx(1 / 201)


def test_block_runs_shade_each_volume_by_the_class_that_fills_most_of_it():
    from eegfmri_viewer.pipeline.coupling import block_runs

    # TR 2 s: rest 0-7 s, visual 7-15 s, then a 0.5-s "motor" event at 20 s (a quarter of volume 10)
    blocks = class_blocks(np.array([0.0, 7.0, 20.0]), np.array([7.0, 8.0, 0.5]),
                          np.array(["rest", "visual", "motor"]), ["rest", "visual", "motor"], 2.0, 12)
    np.testing.assert_allclose(blocks[:, 3], [0.5, 0.5, 0.0])  # 6-8 s: half rest, half visual
    np.testing.assert_allclose(blocks[2, 10], 0.25)
    # ties go to the first class; volume 7 (14-16 s) is half visual, half nothing: visual
    assert block_runs(blocks) == [(0, 0, 4), (1, 4, 8), (2, 10, 11)]
    assert block_runs(np.full((3, 5), np.nan)) == []


def test_lagged_coupling_of_prepared_time_courses_is_the_same():
    from eegfmri_viewer.pipeline.coupling import prepared_time_courses

    rng = np.random.default_rng(4)
    power = [rng.random((2, 3, 60)) for _ in range(2)]
    bold = [rng.normal(size=(3, 60)) for _ in range(2)]
    design = [rng.normal(size=(60, 2)) for _ in range(2)]
    plain = lagged_coupling(power, bold, 2.0, n_permutations=20, confounds=design)
    given = lagged_coupling(power, bold, 2.0, n_permutations=20,
                            prepared=prepared_time_courses(power, bold, 2.0, design))
    for key in ("lagged_corr", "p_value", "p_value_fwer", "peak_lag_s"):
        np.testing.assert_array_equal(plain[key], given[key])
