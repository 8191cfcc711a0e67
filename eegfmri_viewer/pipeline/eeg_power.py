"""EEG band power at the ROIs, one value per BOLD volume (input of the coupling).

Band power at an ROI is the squared envelope of the ROI's band signal
``s_r(t) = sum_c T[r, c] x_c(t)`` (``T`` the electrode -> ROI transfer matrix).
Because the Hilbert transform is linear, ``|s_r + i H s_r|² = t_r a(t) a(t)^H t_r^H``
with ``a = x + i H x`` the analytic electrode signals. So each recording is
reduced once to the per-volume covariance ``C_v = mean_{t in volume v} a(t) a(t)^H``
(n_ch × n_ch per volume and band), and the power of any ROI set follows
exactly as ``t_r C_v t_r^H`` without keeping the band signals in memory. The
transfer matrix is real, so only the real part of ``C_v`` matters (its
imaginary part is antisymmetric and cancels):
``Re C_v = mean(x xᵀ + (Hx)(Hx)ᵀ)``, which is what is stored.
"""

from __future__ import annotations

import numpy as np
from numpy import ndarray


def volume_covariance(band_signal: ndarray, times: ndarray, sfreq: float, alignment, n_volumes: int,
                      tr: float) -> ndarray:
    """Per-volume covariance of the analytic band signals.

    Parameters
    ----------
    band_signal : ndarray, shape (n_bands, n_channels, n_times)
        Band-passed EEG.
    times : ndarray, shape (n_times,)
        EEG-clock seconds of the samples.
    sfreq : float
        EEG sampling rate.
    alignment : Alignment or None
        EEG <-> volume mapping; ``None`` takes the clocks as equal.
    n_volumes : int
    tr : float

    Returns
    -------
    cov : ndarray, shape (n_bands, n_volumes, n_channels, n_channels), float32
        Real part of the analytic-signal covariance per volume. Volumes not
        covered by the EEG take the samples at the nearest edge.
    """
    from scipy.signal import hilbert

    n_bands, n_ch, n_times = band_signal.shape
    edges_vol = np.arange(n_volumes + 1, dtype=float)
    if alignment is not None:
        edges_t = alignment.volume_to_eeg_time(edges_vol)
    else:
        edges_t = edges_vol * tr
    edges = np.clip(np.round((np.asarray(edges_t) - times[0]) * sfreq).astype(int), 0, n_times)
    out = np.zeros((n_bands, n_volumes, n_ch, n_ch), dtype=np.float32)
    for b in range(n_bands):
        x = np.asarray(band_signal[b], dtype=np.float64)
        a = hilbert(x, axis=-1)
        # scale to about unit variance so float32 products keep their precision
        scale = float(np.sqrt(np.mean(x ** 2))) or 1.0
        z = np.concatenate([a.real, a.imag], axis=1).astype(np.float32) / np.float32(scale)
        n = x.shape[1]
        for v in range(n_volumes):
            s0 = min(edges[v], n_times - 1)
            s1 = max(edges[v + 1], s0 + 1)
            seg = np.concatenate([z[:, s0:s1], z[:, n + s0:n + s1]], axis=1)
            out[b, v] = (seg @ seg.T) * np.float32(scale ** 2 / (s1 - s0))
    return out


def roi_power(cov: ndarray, T: ndarray) -> ndarray:
    """Band power at ROIs from :func:`volume_covariance`.

    Parameters
    ----------
    cov : ndarray, shape (n_bands, n_volumes, n_channels, n_channels)
    T : ndarray, shape (n_rois, n_channels)
        Rows of the (real) transfer matrix of the wanted ROIs.

    Returns
    -------
    power : ndarray, shape (n_bands, n_rois, n_volumes), float32
    """
    T = np.asarray(T, dtype=np.float64)
    tc = np.einsum("rc,bvcd->bvrd", T, np.asarray(cov, dtype=np.float64), optimize=True)
    power = np.einsum("bvrd,rd->brv", tc, T)
    return power.astype(np.float32)
