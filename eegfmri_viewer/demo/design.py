"""Block design, neural activity and the haemodynamic response of one demo run.

The neural activity of each planted region is the one driver of both
modalities: the EEG rhythms take their envelopes from it and the BOLD signal is
it convolved with the canonical HRF.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import spec

# Step of the neural-activity grid (s): fine enough for the HRF and for smooth
# EEG envelopes, coarse enough to stay cheap.
NEURAL_DT = 0.05


@dataclass
class RunDesign:
    """Timing of one run.

    Attributes
    ----------
    n_volumes : int
    tr : float
    onsets : ndarray, shape (n_blocks,)
        Block onsets, BOLD clock (s from the onset of volume 0).
    durations : ndarray, shape (n_blocks,)
    classes : list of str, len n_blocks
    eeg_offset_s : float
        EEG-clock time of the onset of volume 0.
    eeg_duration_s : float
        Length of the EEG recording.
    """

    n_volumes: int
    tr: float
    onsets: np.ndarray
    durations: np.ndarray
    classes: list
    eeg_offset_s: float
    eeg_duration_s: float

    @property
    def volume_onsets_eeg(self) -> np.ndarray:
        """EEG-clock onset of every volume, shape (n_volumes,)."""
        return self.eeg_offset_s + self.tr * np.arange(self.n_volumes)


def block_order(n_blocks: int, rng: np.random.Generator) -> list:
    """Classes of ``n_blocks`` consecutive blocks.

    Cycles through random permutations of the classes, so each class gets the
    same number of blocks (up to one), and never repeats a class across a cycle
    boundary, so that every block is a change of state.
    """
    out: list = []
    while len(out) < n_blocks:
        perm = list(rng.permutation(len(spec.CLASSES)))
        if out and spec.CLASSES[perm[0]] == out[-1]:
            perm = perm[1:] + perm[:1]
        out.extend(spec.CLASSES[i] for i in perm)
    return out[:n_blocks]


def make_design(duration_s: float, sfreq: float, rng: np.random.Generator) -> RunDesign:
    """Blocks of ``spec.BLOCK_S`` seconds filling ``duration_s`` of scanning.

    Parameters
    ----------
    duration_s : float
        Scan length; rounded down to whole blocks (at least 3).
    sfreq : float
        EEG sampling rate; the EEG lead-in is a whole number of samples.
    rng : numpy.random.Generator

    Returns
    -------
    design : RunDesign
    """
    n_blocks = int(duration_s // spec.BLOCK_S)
    if n_blocks < len(spec.CLASSES):
        raise ValueError(f"duration {duration_s:g} s holds fewer than {len(spec.CLASSES)} blocks of {spec.BLOCK_S:g} s")
    classes = block_order(n_blocks, rng)
    onsets = spec.BLOCK_S * np.arange(n_blocks)
    durations = np.full(n_blocks, spec.BLOCK_S)
    n_volumes = int(round(n_blocks * spec.BLOCK_S / spec.TR))
    lo, hi = spec.EEG_LEAD_IN_S
    offset = round(rng.uniform(lo, hi) * sfreq) / sfreq
    eeg_duration = offset + n_volumes * spec.TR + spec.EEG_TAIL_S
    return RunDesign(n_volumes=n_volumes, tr=spec.TR, onsets=onsets, durations=durations, classes=classes,
                     eeg_offset_s=float(offset), eeg_duration_s=float(eeg_duration))


def neural_grid(design: RunDesign) -> np.ndarray:
    """EEG-clock times of the neural-activity grid, shape (n_t,)."""
    return np.arange(0.0, design.eeg_duration_s + NEURAL_DT, NEURAL_DT)


def class_boxcars(design: RunDesign, t: np.ndarray) -> np.ndarray:
    """Indicator of each class's blocks on the grid ``t`` (EEG clock).

    Edges are smoothed over 0.5 s (a raised cosine): brain states do not switch
    within one sample.

    Returns
    -------
    box : ndarray, shape (n_classes, n_t)
    """
    box = np.zeros((len(spec.CLASSES), len(t)))
    for onset, dur, cls in zip(design.onsets, design.durations, design.classes):
        start = design.eeg_offset_s + onset
        box[spec.CLASSES.index(cls)] += (t >= start) & (t < start + dur)
    k = int(round(0.5 / NEURAL_DT))
    kernel = np.hanning(k + 2)[1:-1]
    kernel /= kernel.sum()
    return np.stack([np.convolve(b, kernel, mode="same") for b in box])


def spontaneous(n: int, n_t: int, rng: np.random.Generator) -> np.ndarray:
    """AR(1) fluctuations with ``spec.SPONTANEOUS_SD`` and ``spec.SPONTANEOUS_TAU_S``.

    Returns
    -------
    x : ndarray, shape (n, n_t)
    """
    from scipy.signal import lfilter

    phi = np.exp(-NEURAL_DT / spec.SPONTANEOUS_TAU_S)
    e = rng.standard_normal((n, n_t)) * spec.SPONTANEOUS_SD * np.sqrt(1 - phi**2)
    x = lfilter([1.0], [1.0, -phi], e, axis=1)
    # Start in the stationary state instead of at zero.
    x += spec.SPONTANEOUS_SD * rng.standard_normal((n, 1)) * phi ** np.arange(1, n_t + 1)[None, :]
    return x


def neural_activity(design: RunDesign, amp: np.ndarray, subject_gain: np.ndarray,
                    rng: np.random.Generator) -> tuple:
    """Neural activity of every planted region.

    Parameters
    ----------
    design : RunDesign
    amp : ndarray, shape (n_classes, n_planted)
        From :func:`spec.activation_matrix`.
    subject_gain : ndarray, shape (n_planted,)
        Per-subject scaling of each region's class-locked activation.
    rng : numpy.random.Generator

    Returns
    -------
    t : ndarray, shape (n_t,)
        EEG-clock grid.
    neural : ndarray, shape (n_planted, n_t)
        ``sum_c amp[c, r] * box_c(t) * subject_gain[r] + spontaneous_r(t)``.
    """
    t = neural_grid(design)
    box = class_boxcars(design, t)
    locked = (amp * subject_gain[None, :]).T @ box
    return t, locked + spontaneous(amp.shape[1], len(t), rng)


def canonical_hrf(dt: float = NEURAL_DT, length_s: float = 32.0) -> np.ndarray:
    """SPM canonical double-gamma HRF (peak at 5 s, undershoot at 15 s).

    ``h(t) = g(t; 6) - g(t; 16) / 6`` with ``g(t; a)`` the gamma density of
    shape ``a`` and unit scale, normalised so that ``sum(h) * dt = 1`` (a
    sustained unit activity gives a unit plateau).

    Returns
    -------
    h : ndarray, shape (n_taps,)
    """
    from scipy.stats import gamma

    t = np.arange(0.0, length_s, dt)
    h = gamma.pdf(t, 6.0) - gamma.pdf(t, 16.0) / 6.0
    return h / (h.sum() * dt)


def bold_response(design: RunDesign, t: np.ndarray, neural: np.ndarray) -> np.ndarray:
    """Neural activity convolved with the HRF, sampled at each volume.

    A volume is taken at the middle of its acquisition (onset + TR / 2).

    Returns
    -------
    resp : ndarray, shape (n_volumes, n_planted)
        In units of neural activity (plateau 1 for a sustained activity of 1).
    """
    from scipy.signal import fftconvolve

    h = canonical_hrf()
    conv = fftconvolve(neural, h[None, :], axes=1)[:, : len(t)] * NEURAL_DT
    acq = design.volume_onsets_eeg + design.tr / 2
    idx = np.clip(np.round(acq / NEURAL_DT).astype(int), 0, len(t) - 1)
    return conv[:, idx].T
