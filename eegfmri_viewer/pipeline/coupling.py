"""EEG-fMRI coupling (DESIGN.md step 10).

Two measures per ROI and EEG band:

* embedding coupling: ``cos(e_band[i], e_fmri[i])`` between the final phase-2
  embeddings (eq. 22) of the same ROI, and its mean over ROIs per band (the global
  coupling index);
* lagged coupling: Pearson correlation between the EEG band power at the ROI,
  convolved with the canonical SPM haemodynamic response, and the ROI's BOLD, for
  BOLD shifted by -10 s ... +10 s in TR steps; the lag of the largest |r|; and a
  permutation p-value for that peak against surrogates that keep the
  autocorrelation of the BOLD (circular shifts or shuffled blocks), uncorrected
  and corrected for all bands and ROIs.

See ``docs/method.md`` (section "EEG-fMRI coupling") for the choices.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from eegfmri_viewer.progress import check_cancel, report

#: SPM canonical HRF parameters (spm_hrf.m): delay of response, delay of undershoot,
#: dispersion of response, dispersion of undershoot, response/undershoot ratio,
#: onset, kernel length (all in seconds except the ratio).
SPM_HRF_PARAMS = dict(delay=6.0, undershoot=16.0, dispersion=1.0, u_dispersion=1.0,
                      ratio=6.0, onset=0.0, length=32.0)


def canonical_hrf(tr: float, length_s: float = SPM_HRF_PARAMS["length"]) -> np.ndarray:
    """SPM canonical double-gamma HRF sampled at the TR, normalised to unit sum.

    ``h(t) = Gamma(t; 6, 1) - Gamma(t; 16, 1) / 6`` for ``t = 0, TR, 2 TR, ... <= 32 s``
    (shape 6 and 16, scale 1 s: SPM's defaults), as ``spm_hrf.m`` samples it.

    Parameters
    ----------
    tr : float
        Repetition time in seconds.
    length_s : float
        Kernel length in seconds.

    Returns
    -------
    ndarray, shape (n_taps,)
    """
    from scipy.stats import gamma

    p = SPM_HRF_PARAMS
    t = np.arange(0.0, length_s + 1e-9, tr) - p["onset"]
    h = (gamma.pdf(t, p["delay"] / p["dispersion"], scale=p["dispersion"])
         - gamma.pdf(t, p["undershoot"] / p["u_dispersion"], scale=p["u_dispersion"]) / p["ratio"])
    return h / h.sum()


def hrf_convolve(power: np.ndarray, tr: float) -> np.ndarray:
    """Convolve band-power time courses with the canonical HRF (causal, same length).

    Parameters
    ----------
    power : ndarray, shape (..., n_volumes)
        EEG band power sampled at the TR. Its mean is removed first so that the
        start of the series (which has no past) does not ramp up.

    Returns
    -------
    ndarray, shape (..., n_volumes)
        ``y[t] = sum_k h[k] x[t - k]``.
    """
    from scipy.signal import lfilter

    x = np.asarray(power, dtype=np.float64)
    x = x - x.mean(axis=-1, keepdims=True)
    return lfilter(canonical_hrf(tr), [1.0], x, axis=-1)


def task_design(onset: np.ndarray, duration: np.ndarray, trial_type: np.ndarray, classes: Sequence[str],
                tr: float, n_volumes: int, oversample: int = 16) -> np.ndarray:
    """Expected BOLD response to each class's blocks: the task regressors of a GLM.

    Each class's boxcar (1 while one of its events runs) is built on a grid of
    ``tr / oversample`` seconds, convolved with the canonical HRF
    (:func:`canonical_hrf`) and sampled at the volume onsets, as SPM builds its
    regressors.

    Parameters
    ----------
    onset, duration : ndarray, shape (n_events,)
        Events on the BOLD clock, in seconds from the onset of volume 0.
    trial_type : ndarray, shape (n_events,)
        Class of each event; events of other types are ignored.
    classes : sequence of str
        Classes, one regressor each (in this order).
    tr : float
        Repetition time in seconds.
    n_volumes : int
        Number of volumes of the run.
    oversample : int
        Grid points per TR.

    Returns
    -------
    ndarray, shape (n_volumes, n_classes)
    """
    dt = tr / oversample
    t = np.arange(n_volumes * oversample) * dt
    h = canonical_hrf(dt)
    design = np.zeros((n_volumes, len(classes)))
    kinds = np.asarray(trial_type).astype(str)
    for c, name in enumerate(classes):
        box = np.zeros(len(t))
        for o, d in zip(np.asarray(onset, float)[kinds == name], np.asarray(duration, float)[kinds == name]):
            box[(t >= o) & (t < o + max(d, dt))] = 1.0
        design[:, c] = np.convolve(box, h)[: len(t)][::oversample]
    return design


def block_runs(blocks: np.ndarray) -> list:
    """The runs of volumes in which each class's events take most of the volume, for shading.

    Each volume goes to the class that covers the largest share of it (any
    share above 0, so that an event shorter than a volume still shows); runs
    of one class are merged.

    Parameters
    ----------
    blocks : ndarray, shape (n_classes, n_volumes)
        Share of each volume in each class's events (:func:`class_blocks`); NaN as 0.

    Returns
    -------
    runs : list of (int, int, int)
        ``(class index, first volume, volume after the last)``, in time order.
    """
    blocks = np.nan_to_num(np.asarray(blocks, dtype=float))
    if blocks.size == 0:
        return []
    owner = np.where(blocks.max(axis=0) > 0, blocks.argmax(axis=0), -1)
    change = np.flatnonzero(np.diff(owner)) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [len(owner)]])
    return [(int(owner[a]), int(a), int(b)) for a, b in zip(starts, stops) if owner[a] >= 0]


def task_regressors(onset: np.ndarray, duration: np.ndarray, trial_type: np.ndarray, classes: Sequence[str],
                    tr: float, n_volumes: int, oversample: int = 16) -> np.ndarray:
    """The task, in both forms a class's blocks take in the lagged coupling: what ``remove_task`` removes.

    The band-power regressor is the power convolved with the HRF by
    :func:`hrf_convolve` (kernel sampled at the TR), so the part of it that the
    blocks drive is :func:`hrf_convolve` of the blocks sampled at the TR; the
    BOLD's is the SPM regressor of :func:`task_design`. The two differ a little
    (about 3 % of the variance at TR 2 s). Removing only one of them from both
    sides would leave a fixed function of the task in one side, which correlates
    with the other whenever the true BOLD response is not exactly canonical. Both
    forms are returned, and both are removed from both sides.

    Parameters
    ----------
    onset, duration, trial_type, classes, tr, n_volumes, oversample
        As for :func:`task_design`.

    Returns
    -------
    ndarray, shape (n_volumes, 2 * n_classes)
        The SPM regressors, then the HRF-convolved TR-sampled blocks.
    """
    blocks = class_blocks(onset, duration, trial_type, classes, tr, n_volumes, oversample)
    return np.column_stack([task_design(onset, duration, trial_type, classes, tr, n_volumes, oversample),
                            hrf_convolve(blocks, tr).T])


def class_blocks(onset: np.ndarray, duration: np.ndarray, trial_type: np.ndarray, classes: Sequence[str],
                 tr: float, n_volumes: int, oversample: int = 16) -> np.ndarray:
    """The fraction of each volume that each class's events cover (the blocks, not convolved).

    Parameters
    ----------
    onset, duration, trial_type, classes, tr, n_volumes, oversample
        As for :func:`task_design`.

    Returns
    -------
    ndarray, shape (n_classes, n_volumes)
        Values in [0, 1].
    """
    dt = tr / oversample
    t = np.arange(n_volumes * oversample) * dt
    kinds = np.asarray(trial_type).astype(str)
    blocks = np.zeros((len(classes), n_volumes))
    for c, name in enumerate(classes):
        box = np.zeros(len(t))
        for o, d in zip(np.asarray(onset, float)[kinds == name], np.asarray(duration, float)[kinds == name]):
            box[(t >= o) & (t < o + max(d, dt))] = 1.0
        blocks[c] = box.reshape(n_volumes, oversample).mean(axis=1)
    return blocks


def _remove(x: np.ndarray, design: np.ndarray) -> np.ndarray:
    """``x`` (..., T) less its least-squares fit by ``design`` (T, k) and a constant."""
    d = np.column_stack([np.ones(x.shape[-1]), design])
    # An orthonormal basis of the columns' span from the SVD: a class absent from a run
    # gives a zero column, and the two forms of one class's regressor are nearly
    # collinear; a QR basis with such columns left out would miss part of the span.
    u, sv, _ = np.linalg.svd(d, full_matrices=False)
    q = u[:, sv > 1e-10 * sv[0]]
    return x - (x @ q) @ q.T


def lag_steps(tr: float, min_lag_s: float, max_lag_s: float) -> np.ndarray:
    """Lags in volumes covering ``[min_lag_s, max_lag_s]`` in TR steps.

    Returns
    -------
    ndarray, shape (n_lags,), int
    """
    lo = math.ceil(min_lag_s / tr - 1e-9)
    hi = math.floor(max_lag_s / tr + 1e-9)
    return np.arange(lo, hi + 1)


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=-1, keepdims=True)
    return (x - x.mean(axis=-1, keepdims=True)) / np.where(sd > 0, sd, 1.0)


def lagged_correlation(eeg: Sequence[np.ndarray], bold: Sequence[np.ndarray],
                       lags: np.ndarray) -> np.ndarray:
    """Pearson correlation between EEG regressors and BOLD shifted by each lag.

    ``r(L) = corr(x[t], y[t + L])``: a positive lag means that BOLD follows the EEG.
    Recordings are z-scored separately and their overlapping samples pooled.

    Parameters
    ----------
    eeg : sequence of ndarray, each shape (n_bands, n_nodes, n_volumes_r)
        HRF-convolved band power per recording.
    bold : sequence of ndarray, each shape (n_nodes, n_volumes_r)
        BOLD per recording.
    lags : ndarray, shape (n_lags,), int
        Lags in volumes.

    Returns
    -------
    ndarray, shape (n_bands, n_nodes, n_lags)
        0 where a series is constant or no samples overlap.
    """
    return _LaggedSums(eeg, lags).correlation(bold)


class _LaggedSums:
    """The EEG side of :func:`lagged_correlation`, computed once for many BOLD series.

    The permutation test correlates the same EEG regressors with hundreds of
    reshuffled BOLD series. The sums that involve only the EEG over the samples
    that overlap at each lag (count, sum, sum of squares) do not change, so they
    are kept; each BOLD series then costs one batched matrix product per
    recording (the cross products over all lags at once).
    """

    def __init__(self, eeg: Sequence[np.ndarray], lags: np.ndarray):
        self.lags = np.asarray(lags, dtype=int)
        self.pad = int(np.abs(self.lags).max()) if len(self.lags) else 0
        self.x = [np.asarray(x, dtype=np.float64).transpose(1, 0, 2) for x in eeg]   # (n_nodes, n_bands, T)
        n_nodes, n_bands = self.x[0].shape[:2]
        n_lags = len(self.lags)
        self.n = np.zeros(n_lags)
        self.sx = np.zeros((n_nodes, n_bands, n_lags))
        self.sxx = np.zeros((n_nodes, n_bands, n_lags))
        # valid[r][l, t]: sample t of recording r has a partner t + lag inside the recording
        self.valid = []
        for x in self.x:
            t = x.shape[-1]
            ok = np.zeros((n_lags, t))
            for li, lag in enumerate(self.lags):
                if abs(lag) < t - 1:
                    ok[li, max(0, -lag): min(t, t - lag)] = 1.0
            self.valid.append(ok)
            self.n += ok.sum(axis=1)
            self.sx += x @ ok.T
            self.sxx += (x * x) @ ok.T

    def correlation(self, bold: Sequence[np.ndarray]) -> np.ndarray:
        """Lagged correlation with ``bold`` (one array (n_nodes, T_r) per recording), shape (n_bands, n_nodes, n_lags)."""
        from numpy.lib.stride_tricks import sliding_window_view

        n_nodes, n_bands, n_lags = self.sx.shape
        sy = np.zeros((n_nodes, 1, n_lags))
        syy = np.zeros((n_nodes, 1, n_lags))
        sxy = np.zeros((n_nodes, n_bands, n_lags))
        offsets = self.lags + self.pad
        for x, y, ok in zip(self.x, bold, self.valid):
            t = x.shape[-1]
            y = np.asarray(y, dtype=np.float64)
            ypad = np.zeros((y.shape[0], t + 2 * self.pad))
            ypad[:, self.pad: self.pad + t] = y
            # shifted[i, l, t] = y[i, t + lag_l], 0 where t + lag_l is outside the recording
            shifted = sliding_window_view(ypad, t, axis=-1)[:, offsets] * ok[None]
            sy[:, 0] += shifted.sum(-1)
            syy[:, 0] += (shifted * shifted).sum(-1)
            sxy += np.matmul(x, shifted.transpose(0, 2, 1))
        n = self.n
        enough = n >= 3
        n = np.where(enough, n, 1.0)
        cov = sxy - self.sx * sy / n
        var = (self.sxx - self.sx ** 2 / n) * (syy - sy ** 2 / n)
        r = np.where((var > 1e-12) & enough, cov / np.sqrt(np.maximum(var, 1e-12)), 0.0)
        return r.transpose(1, 0, 2)


def _block_permute(y: np.ndarray, block: int, rng: np.random.Generator) -> np.ndarray:
    n = y.shape[-1]
    starts = np.arange(0, n, block)
    order = rng.permutation(len(starts))
    idx = np.concatenate([np.arange(starts[o], min(starts[o] + block, n)) for o in order])
    return y[..., idx]


def _circular_shift(y: np.ndarray, min_shift: int, rng: np.random.Generator) -> np.ndarray:
    n = y.shape[-1]
    if n < 2:
        return y
    lo = max(1, min(min_shift, n // 2))
    return np.roll(y, int(rng.integers(lo, n - lo + 1)), axis=-1)


#: Null distributions of the lagged-coupling test (``CouplingConfig.null``).
NULLS = ("shift", "blocks")


def prepared_time_courses(eeg_power, bold, tr: float, confounds=None) -> tuple:
    """Both sides of the correlation, per recording: HRF-convolved power and BOLD, less the confounds, z-scored.

    What :func:`lagged_coupling` and :func:`recording_correlation` correlate
    (and what the viewer plots against each other).

    Parameters
    ----------
    eeg_power, bold, tr, confounds
        As for :func:`lagged_coupling`.

    Returns
    -------
    x : list of ndarray, each shape (n_bands, n_nodes, n_volumes_r)
    y : list of ndarray, each shape (n_nodes, n_volumes_r)
    """
    if len(eeg_power) == 0 or len(eeg_power) != len(bold):
        raise ValueError(f"need one BOLD array per EEG power array, got {len(eeg_power)} and {len(bold)}")
    for r, (x, y) in enumerate(zip(eeg_power, bold)):
        if np.ndim(x) != 3 or np.ndim(y) != 2 or np.shape(x)[1:] != np.shape(y):
            raise ValueError(f"recording {r}: EEG power {np.shape(x)} and BOLD {np.shape(y)} do not match "
                             "(expected (n_bands, n_nodes, n_volumes) and (n_nodes, n_volumes))")
    x = [hrf_convolve(p, tr) for p in eeg_power]
    y = [np.asarray(b, dtype=np.float64) for b in bold]
    if confounds is not None:
        if len(confounds) != len(bold):
            raise ValueError(f"need one confound array per recording, got {len(confounds)} for {len(bold)}")
        for r, (c, b) in enumerate(zip(confounds, bold)):
            if np.ndim(c) != 2 or len(c) != np.shape(b)[-1]:
                raise ValueError(f"recording {r}: confounds {np.shape(c)} do not match its "
                                 f"{np.shape(b)[-1]} volumes (expected (n_volumes, n_confounds))")
        x = [_remove(a, np.asarray(c, float)) for a, c in zip(x, confounds)]
        y = [_remove(b, np.asarray(c, float)) for b, c in zip(y, confounds)]
    return [_zscore(a) for a in x], [_zscore(b) for b in y]


def sliding_correlation(x: np.ndarray, y: np.ndarray, window: int, step: int = 1) -> tuple:
    """Pearson correlation of two series in a window slid along them (time-resolved coupling).

    Parameters
    ----------
    x, y : ndarray, shape (n_volumes,)
        The two series (NaN-free).
    window : int
        Window length in samples (at least 3, at most ``n_volumes``).
    step : int
        Samples between window starts.

    Returns
    -------
    centres : ndarray, shape (n_windows,)
        Centre of each window in samples (``start + (window - 1) / 2``).
    r : ndarray, shape (n_windows,)
        Pearson r in each window; 0 where one series is constant in it.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"need two series of one length, got {x.shape} and {y.shape}")
    if not 3 <= window <= len(x):
        raise ValueError(f"window must be between 3 and the {len(x)} samples, got {window}")
    if step < 1:
        raise ValueError(f"step must be at least 1, got {step}")
    xs = sliding_window_view(x, window)[::step]
    ys = sliding_window_view(y, window)[::step]
    xs = xs - xs.mean(axis=1, keepdims=True)
    ys = ys - ys.mean(axis=1, keepdims=True)
    den = np.sqrt((xs * xs).sum(axis=1) * (ys * ys).sum(axis=1))
    r = np.where(den > 1e-12, (xs * ys).sum(axis=1) / np.maximum(den, 1e-12), 0.0)
    centres = np.arange(len(r)) * step + (window - 1) / 2
    return centres, r


def sliding_null_band(x: np.ndarray, y: np.ndarray, window: int, n_shifts: int = 200, level: float = 0.95,
                      seed: int = 0) -> tuple:
    """The range of sliding-window r that two series give when they are not coupled.

    ``y`` is shifted circularly against ``x`` by at least ``window`` samples
    (so that no window pairs a sample with its own partner) and at most
    ``n - window``; the windowed r of every shift are pooled and their central
    ``level`` range returned. The shifts keep each series' autocorrelation,
    which makes chance correlations in short windows of smooth series far
    larger than for white noise (2 / sqrt(window)).

    Parameters
    ----------
    x, y : ndarray, shape (n_volumes,)
    window : int
        As for :func:`sliding_correlation`.
    n_shifts : int
        Shifts drawn (with replacement among the allowed ones).
    level : float
        Central share of the pooled r, e.g. 0.95.
    seed : int

    Returns
    -------
    lo, hi : float
        The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles; NaN when the
        series are too short for a shift of at least ``window``.
    """
    n = len(x)
    if n - window < window:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    shifts = rng.integers(window, n - window + 1, n_shifts)
    pooled = np.concatenate([sliding_correlation(x, np.roll(y, int(k)), window)[1] for k in shifts])
    return float(np.quantile(pooled, (1 - level) / 2)), float(np.quantile(pooled, (1 + level) / 2))


def recording_correlation(eeg_power: Sequence[np.ndarray], bold: Sequence[np.ndarray], tr: float,
                          confounds=None) -> np.ndarray:
    """Each recording's own correlation of HRF-convolved band power and BOLD, at the canonical delay.

    The lag is fixed at 0 (the HRF in the regressor holds the delay), not
    searched: a lag picked per recording would bias comparisons of these
    values towards larger |r|. These are the units of a before / after test
    of the coupling (:mod:`eegfmri_viewer.comparison.compare`).

    Parameters
    ----------
    eeg_power, bold, tr, confounds
        As for :func:`lagged_coupling`.

    Returns
    -------
    ndarray, shape (n_recordings, n_bands, n_nodes)
        Pearson r per recording (0 where a series is constant).
    """
    return zero_lag_correlation(*prepared_time_courses(eeg_power, bold, tr, confounds))


def zero_lag_correlation(x: Sequence[np.ndarray], y: Sequence[np.ndarray]) -> np.ndarray:
    """Each recording's Pearson r of z-scored time courses at lag 0.

    Parameters
    ----------
    x, y
        As returned by :func:`prepared_time_courses`.

    Returns
    -------
    ndarray, shape (n_recordings, n_bands, n_nodes), float32
    """
    return np.stack([(a * b[None]).mean(axis=-1) for a, b in zip(x, y)]).astype(np.float32)


def lagged_coupling(eeg_power: Sequence[np.ndarray], bold: Sequence[np.ndarray], tr: float,
                    min_lag_s: float = -10.0, max_lag_s: float = 10.0, n_permutations: int = 200,
                    block_s: float = 32.0, seed: int = 0, null: str = "shift", confounds=None, prepared=None,
                    progress=None,
                    cancel=None) -> dict:
    """Lag curves, peak lags and permutation p-values for every band and ROI.

    The EEG band power is convolved with the canonical HRF (:func:`hrf_convolve`),
    then correlated with BOLD over the lags (:func:`lagged_correlation`). The peak is
    the lag of the largest |r|. The p-value tests that peak against a null that keeps
    the autocorrelation of BOLD, with one of two surrogates of each recording's BOLD
    (the same for all ROIs, so the dependence between ROIs is kept too):

    * ``"shift"`` (default): the BOLD is shifted circularly by a random offset of at
      least ``block_s`` seconds (and at most the length minus that), i.e. cut into two
      blocks at a random point and the two swapped. The whole autocorrelation is kept
      except at the one seam.
    * ``"blocks"``: the BOLD is cut into consecutive blocks of ``block_s`` seconds
      and the blocks are shuffled. The autocorrelation across block boundaries is
      lost, which makes this null a little liberal for slow signals
      (``benchmarks/bench_coupling_null.py`` measures both).

    With ``confounds`` (e.g. the task regressors of :func:`task_design`), both the
    HRF-convolved band power and the BOLD are first replaced by their residuals
    after a least-squares fit of the confounds: the correlation is then the
    coupling *beyond* what the confounds explain in both (a task that drives EEG
    power and BOLD together correlates them at every region it reaches).

    The maximum |r| over all lags is recomputed for each surrogate, so the search
    over lags is accounted for. ``p = (1 + #{null >= observed}) / (1 + n_permutations)``.

    ``p_value_fwer`` corrects for the number of tests (every band and ROI given) by
    the maximum statistic (Westfall & Young 1993; Nichols & Holmes 2002): each
    observed peak is compared with the largest null peak over all bands and ROIs of
    the same permutation. The permutation moves every ROI's BOLD together, so the
    dependence between ROIs and bands is kept, and the family-wise error rate is
    controlled without assuming independent tests. With N permutations no p-value
    is below 1 / (N + 1), which is why a Bonferroni or FDR correction of the
    uncorrected p-values would be far too coarse here.

    Parameters
    ----------
    eeg_power : sequence of ndarray, each shape (n_bands, n_nodes, n_volumes_r)
        EEG band power at the ROIs, sampled at the TR, per recording.
    bold : sequence of ndarray, each shape (n_nodes, n_volumes_r)
        ROI BOLD per recording.
    tr : float
        Repetition time in seconds.
    min_lag_s, max_lag_s : float
        Lag range in seconds.
    n_permutations : int
        Number of surrogates; 0 gives NaN p-values.
    block_s : float
        Block length (``"blocks"``) or least circular shift (``"shift"``) in seconds.
    seed : int
        Seed of the permutations.
    null : {"shift", "blocks"}
        Surrogate of the BOLD under the null (see above).
    confounds : sequence of ndarray, each shape (n_volumes_r, n_confounds), or None
        Per recording, time courses removed from both sides before correlating.
    prepared : tuple or None
        :func:`prepared_time_courses` of these inputs when the caller has it
        already (it is what is correlated; recomputing it costs the HRF
        convolution of every band and node again).
    progress, cancel
        See :mod:`eegfmri_viewer.progress`.

    Returns
    -------
    dict
        ``lags_s (n_lags,)``, ``lagged_corr (n_bands, n_nodes, n_lags)``,
        ``peak_lag_s (n_bands, n_nodes)``, ``p_value (n_bands, n_nodes)``,
        ``p_value_fwer (n_bands, n_nodes)`` (corrected over all bands and nodes given),
        ``n_permutations ()``.
    """
    if null not in NULLS:
        raise ValueError(f"null must be one of {', '.join(NULLS)}, got {null!r}")
    lags = lag_steps(tr, min_lag_s, max_lag_s)
    x, y = prepared if prepared is not None else prepared_time_courses(eeg_power, bold, tr, confounds)
    sums = _LaggedSums(x, lags)
    corr = sums.correlation(y)
    peak = np.abs(corr).argmax(axis=-1)
    peak_lag_s = lags[peak] * tr
    observed = np.abs(corr).max(axis=-1)
    p_value = np.full(observed.shape, np.nan)
    p_value_fwer = np.full(observed.shape, np.nan)
    if n_permutations > 0:
        rng = np.random.default_rng(seed)
        block = max(1, int(round(block_s / tr)))
        exceed = np.zeros(observed.shape)
        exceed_max = np.zeros(observed.shape)
        for i in range(n_permutations):
            check_cancel(cancel)
            if null == "shift":
                # never closer to the original alignment than the lags searched
                y_perm = [_circular_shift(b, max(block, sums.pad + 1), rng) for b in y]
            else:
                y_perm = [_block_permute(b, block, rng) for b in y]
            null_peak = np.abs(sums.correlation(y_perm)).max(axis=-1)
            exceed += null_peak >= observed - 1e-12
            exceed_max += null_peak.max() >= observed - 1e-12
            if i % 10 == 0:
                report(progress, i / n_permutations, f"coupling permutations {i}/{n_permutations}")
        p_value = (1.0 + exceed) / (1.0 + n_permutations)
        p_value_fwer = (1.0 + exceed_max) / (1.0 + n_permutations)
    report(progress, 1.0, "coupling done")
    return dict(lags_s=(lags * tr).astype(np.float64), lagged_corr=corr.astype(np.float32),
                peak_lag_s=peak_lag_s.astype(np.float64), p_value=p_value, p_value_fwer=p_value_fwer,
                n_permutations=np.asarray(int(n_permutations)))


def embedding_coupling(band_embeddings: np.ndarray, fmri_embedding: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity between each band's and the fMRI embedding of the same ROI.

    Parameters
    ----------
    band_embeddings : ndarray, shape (n_bands, n_nodes, d)
        Final phase-2 embeddings (eq. 22) of the EEG band views.
    fmri_embedding : ndarray, shape (n_nodes, d)
        Final embedding of the fMRI view.

    Returns
    -------
    coupling : ndarray, shape (n_bands, n_nodes)
        ``cos(e_band[i], e_fmri[i])`` (0 for a zero vector).
    coupling_global : ndarray, shape (n_bands,)
        Mean of ``coupling`` over the ROIs.
    """
    a = np.asarray(band_embeddings, dtype=np.float64)
    b = np.asarray(fmri_embedding, dtype=np.float64)[None]
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    cos = np.where(den > 0, (a * b).sum(-1) / np.where(den > 0, den, 1.0), 0.0)
    return cos.astype(np.float32), cos.mean(axis=-1).astype(np.float32)
