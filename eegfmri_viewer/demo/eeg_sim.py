"""Scalp EEG of one demo run: planted rhythms, 1/f background, sensor noise, artifacts.

Model (per sample, average reference, volts)::

    x(t) = G_osc s(t) + B z(t) + e(t) [+ gradient(t) + pulse(t)]

* ``s_k(t) = a_k exp(g_k n_r(t)) u_k(t)``: each planted rhythm ``k`` is
  unit-RMS band-limited Gaussian noise ``u_k`` in its frequency range, with an
  envelope driven by the neural activity ``n_r`` of its region ``r``;
  ``G_osc`` holds the forward gains of the radial dipoles at those regions.
* ``B z(t)``: background activity of independent 1/f sources at every other
  atlas region. Only its spatial covariance ``G_bg G_bg^T`` matters for
  Gaussian sources, so ``B`` is its symmetric square root and ``z`` are 64
  independent 1/f series: the same statistics at a fraction of the cost.
* ``e(t)``: white sensor noise.
* Optional (``artifacts=True``): an MR gradient artifact, identical in every
  TR and locked to the volume markers, and a pulse (ballistocardiogram)
  artifact locked to the R-peaks of an added ECG channel.
"""

from __future__ import annotations

import numpy as np

from ..progress import check_cancel
from . import spec
from .design import RunDesign
from .sources import HeadModel

BACKGROUND_UV = 8.0        # median channel RMS of the 1/f background
BACKGROUND_EXPONENT = 1.2  # PSD ~ 1 / f**exponent
SENSOR_NOISE_UV = 1.5
GRADIENT_UV = 1500.0       # peak of the gradient artifact at the most exposed channel
N_SLICES = 30
BCG_UV = 40.0              # peak pulse artifact at the most affected channel
ECG_R_UV = 800.0


def band_noise(rng: np.random.Generator, n_sig: int, n_times: int, sfreq: float, lo: float, hi: float) -> np.ndarray:
    """Unit-RMS Gaussian noise band-limited to ``[lo, hi]`` Hz (cosine-tapered edges).

    Returns
    -------
    u : ndarray, shape (n_sig, n_times)
    """
    f = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    taper = 0.5
    mask = np.clip(np.minimum(f - (lo - taper), (hi + taper) - f) / (2 * taper), 0.0, 1.0)
    mask = np.sin(mask * np.pi / 2) ** 2
    spec_ = (rng.standard_normal((n_sig, len(f))) + 1j * rng.standard_normal((n_sig, len(f)))) * mask
    u = np.fft.irfft(spec_, n=n_times, axis=1)
    return u / u.std(axis=1, keepdims=True)


def pink_noise(rng: np.random.Generator, n_sig: int, n_times: int, sfreq: float,
               exponent: float = BACKGROUND_EXPONENT, f_min: float = 0.5) -> np.ndarray:
    """Unit-RMS Gaussian noise with power spectral density ~ ``1 / f**exponent`` above ``f_min``.

    Returns
    -------
    z : ndarray, shape (n_sig, n_times)
    """
    f = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    shape = np.where(f >= f_min, np.maximum(f, f_min) ** (-exponent / 2.0), 0.0)
    spec_ = (rng.standard_normal((n_sig, len(f))) + 1j * rng.standard_normal((n_sig, len(f)))) * shape
    z = np.fft.irfft(spec_, n=n_times, axis=1)
    return z / z.std(axis=1, keepdims=True)


def background_mixing(background: HeadModel) -> np.ndarray:
    """Square root of the sensor covariance of unit background sources, scaled.

    Parameters
    ----------
    background : HeadModel
        Gains of the background dipoles.

    Returns
    -------
    B : ndarray, shape (n_channels, n_channels)
        Symmetric; ``B @ z`` with unit-RMS ``z`` has median channel RMS
        ``BACKGROUND_UV`` (in µV).
    """
    cov = background.gain @ background.gain.T
    w, v = np.linalg.eigh(cov)
    B = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    rms = np.sqrt(np.sum(B**2, axis=1))
    return B * (BACKGROUND_UV / np.median(rms))


def envelope(t_neural: np.ndarray, drive: np.ndarray, times: np.ndarray, baseline_uv: float, log_gain: float) -> np.ndarray:
    """``baseline_uv * exp(log_gain * n(t))`` interpolated to the EEG samples, shape (n_times,)."""
    return baseline_uv * np.exp(log_gain * np.interp(times, t_neural, drive))


def oscillator_sources(osc_head: HeadModel, design_times: np.ndarray, t_neural: np.ndarray, neural: np.ndarray,
                       planted: list, sfreq: float, alpha_shift_hz: float, rng: np.random.Generator,
                       cancel=None) -> np.ndarray:
    """Scalp signal of the planted rhythms (µV).

    Parameters
    ----------
    osc_head : HeadModel
        Gains of the dipoles at the rhythm-carrying regions.
    design_times : ndarray, shape (n_times,)
        EEG sample times.
    t_neural : ndarray, shape (n_t,)
    neural : ndarray, shape (n_planted, n_t)
    planted : list of int
        Atlas rows of ``neural``'s rows.
    sfreq : float
    alpha_shift_hz : float
        The subject's individual alpha frequency offset (applied to alpha rhythms).
    rng : numpy.random.Generator
    cancel : callable | None

    Returns
    -------
    x : ndarray, shape (n_channels, n_times)
    """
    n_times = len(design_times)
    x = np.zeros((osc_head.gain.shape[0], n_times))
    for osc in spec.OSCILLATORS:
        check_cancel(cancel)
        lo, hi = osc.freq_hz
        if osc.band == "alpha":
            lo, hi = lo + alpha_shift_hz, hi + alpha_shift_hz
        u = band_noise(rng, 1, n_times, sfreq, lo, hi)[0]
        env = envelope(t_neural, neural[planted.index(osc.roi)], design_times, osc.baseline_uv, osc.log_gain)
        x += np.outer(osc_head.column(osc.roi), env * u)
    return x


def gradient_artifact(design: RunDesign, n_channels: int, sfreq: float, n_times: int,
                      rng: np.random.Generator) -> np.ndarray:
    """MR gradient artifact: one waveform per TR, repeated at every volume onset.

    The waveform is a sum of harmonics of the slice frequency (``N_SLICES / TR``)
    with random phases; each channel sees it with its own gain. Because
    ``TR * sfreq`` is a whole number, the artifact is exactly periodic and
    average artifact subtraction removes it.

    Returns
    -------
    art : ndarray, shape (n_channels, n_times)
        µV.
    """
    n_tr = int(round(design.tr * sfreq))
    tt = np.arange(n_tr) / sfreq
    f_slice = N_SLICES / design.tr
    n_harm = int((sfreq / 2 - 1) // f_slice)
    wave = np.zeros(n_tr)
    for h in range(1, n_harm + 1):
        wave += np.cos(2 * np.pi * h * f_slice * tt + rng.uniform(0, 2 * np.pi)) / h
    wave *= GRADIENT_UV / np.abs(wave).max()
    chan_gain = rng.uniform(0.3, 1.0, n_channels)
    art = np.zeros((n_channels, n_times))
    start = int(round(design.eeg_offset_s * sfreq))
    one = np.tile(wave, design.n_volumes)
    stop = min(start + len(one), n_times)
    art[:, start:stop] = chan_gain[:, None] * one[None, : stop - start]
    return art


def r_peaks(n_times: int, sfreq: float, rng: np.random.Generator) -> np.ndarray:
    """R-peak samples of a heart beating at 60-75 /min with 3 % beat-to-beat variability."""
    rr = 60.0 / rng.uniform(60.0, 75.0)
    t = rng.uniform(0.1, rr)
    peaks = []
    while t < n_times / sfreq - 0.1:
        peaks.append(int(round(t * sfreq)))
        t += rr * (1 + 0.03 * rng.standard_normal())
    return np.asarray(peaks, int)


def pulse_artifact(info, peaks: np.ndarray, sfreq: float, n_times: int, rng: np.random.Generator) -> tuple:
    """Ballistocardiogram on the EEG channels and the ECG that times it.

    The BCG follows each R-peak by 0.2-0.5 s (a biphasic wave), with a
    left-right and front-back gradient across the scalp and 10 % beat-to-beat
    amplitude variability.

    Returns
    -------
    bcg : ndarray, shape (n_channels, n_times)
        µV.
    ecg : ndarray, shape (n_times,)
        µV.
    """
    pos = np.array([ch["loc"][:3] for ch in info["chs"]])
    pos = (pos - pos.mean(0)) / np.abs(pos - pos.mean(0)).max(0)
    topo = 0.7 * pos[:, 0] + 0.5 * pos[:, 1] + 0.2
    topo = topo / np.abs(topo).max() * BCG_UV
    w = np.arange(int(0.8 * sfreq)) / sfreq
    bcg_wave = np.exp(-((w - 0.25) / 0.04) ** 2) - 0.7 * np.exp(-((w - 0.40) / 0.06) ** 2)
    ecg_t = np.arange(-int(0.3 * sfreq), int(0.5 * sfreq)) / sfreq
    ecg_wave = (ECG_R_UV * np.exp(-(ecg_t / 0.012) ** 2) - 0.15 * ECG_R_UV * np.exp(-((ecg_t - 0.03) / 0.01) ** 2)
                + 0.12 * ECG_R_UV * np.exp(-((ecg_t + 0.16) / 0.025) ** 2)
                + 0.25 * ECG_R_UV * np.exp(-((ecg_t - 0.28) / 0.05) ** 2))
    drive = np.zeros(n_times)
    ecg = np.zeros(n_times)
    for p in peaks:
        a = 1 + 0.1 * rng.standard_normal()
        seg = slice(p, min(p + len(w), n_times))
        drive[seg] += a * bcg_wave[: seg.stop - p]
        lo, hi = p + ecg_t[0] * sfreq, p + ecg_t[-1] * sfreq + 1
        lo_i, hi_i = int(max(lo, 0)), int(min(hi, n_times))
        ecg[lo_i:hi_i] += ecg_wave[lo_i - int(lo): hi_i - int(lo)]
    return np.outer(topo, drive), ecg + 10.0 * rng.standard_normal(n_times)


def simulate_eeg(design: RunDesign, osc_head: HeadModel, mixing: np.ndarray, t_neural: np.ndarray,
                 neural: np.ndarray, planted: list, sfreq: float, alpha_shift_hz: float,
                 rng: np.random.Generator, artifacts: bool = False, cancel=None) -> tuple:
    """EEG samples of one run.

    Parameters
    ----------
    design : RunDesign
    osc_head : HeadModel
    mixing : ndarray, shape (n_channels, n_channels)
        From :func:`background_mixing`.
    t_neural : ndarray, shape (n_t,)
    neural : ndarray, shape (n_planted, n_t)
    planted : list of int
    sfreq : float
    alpha_shift_hz : float
    rng : numpy.random.Generator
    artifacts : bool
        Add the gradient and pulse artifacts and an ECG channel.
    cancel : callable | None
        Checked between the stages (see :mod:`eegfmri_viewer.progress`).

    Returns
    -------
    data : ndarray, shape (n_channels (+1 with ECG), n_times)
        Volts, EEG average-referenced.
    ch_names : list of str
    ch_types : list of str
        ``"EEG"`` or ``"ECG"`` (BIDS channel types).
    """
    n_times = int(round(design.eeg_duration_s * sfreq))
    times = np.arange(n_times) / sfreq
    x = oscillator_sources(osc_head, times, t_neural, neural, planted, sfreq, alpha_shift_hz, rng, cancel)
    # Eight background series at a time, so that cancel is checked often.
    z = np.empty((mixing.shape[1], n_times))
    for start in range(0, mixing.shape[1], 8):
        check_cancel(cancel)
        z[start:start + 8] = pink_noise(rng, min(8, mixing.shape[1] - start), n_times, sfreq)
    x += mixing @ z
    del z
    check_cancel(cancel)
    x += SENSOR_NOISE_UV * rng.standard_normal(x.shape)
    names = list(osc_head.info["ch_names"])
    types = ["EEG"] * len(names)
    ecg = None
    if artifacts:
        check_cancel(cancel)
        x += gradient_artifact(design, x.shape[0], sfreq, n_times, rng)
        bcg, ecg = pulse_artifact(osc_head.info, r_peaks(n_times, sfreq, rng), sfreq, n_times, rng)
        x += bcg
    x -= x.mean(axis=0, keepdims=True)
    if ecg is not None:
        x = np.vstack([x, ecg[None, :]])
        names.append("ECG")
        types.append("ECG")
    return x * 1e-6, names, types
