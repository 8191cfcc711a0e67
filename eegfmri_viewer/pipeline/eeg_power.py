"""EEG band power at the ROIs, one value per BOLD volume (input of the coupling).

Band power at an ROI is the squared envelope of the ROI's band signal
``s_r(t) = sum_c T[r, c] x_c(t)`` (``T`` the electrode -> ROI transfer matrix).
Because the Hilbert transform is linear, ``|s_r + i H s_r|² = t_r a(t) a(t)^H t_r^H``
with ``a`` the analytic electrode signals. So each recording is reduced once to
the per-volume covariance ``C_v = mean_{t in volume v} a(t) a(t)^H``
(n_ch × n_ch per volume and band), and the power of any ROI set follows
exactly as ``Re(t_r C_v t_r^H)`` without keeping the band signals in memory.
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
    cov : ndarray, shape (n_bands, n_volumes, n_channels, n_channels), complex64
        Volumes not covered by the EEG take the samples at the nearest edge.
    """
    from scipy.signal import hilbert

    n_bands, n_ch, n_times = band_signal.shape
    edges_vol = np.arange(n_volumes + 1, dtype=float)
    if alignment is not None:
        edges_t = alignment.volume_to_eeg_time(edges_vol)
    else:
        edges_t = edges_vol * tr
    edges = np.clip(np.round((np.asarray(edges_t) - times[0]) * sfreq).astype(int), 0, n_times - 1)
    out = np.zeros((n_bands, n_volumes, n_ch, n_ch), dtype=np.complex64)
    for b in range(n_bands):
        a = hilbert(np.asarray(band_signal[b], dtype=np.float64), axis=-1)
        for v in range(n_volumes):
            s0, s1 = edges[v], max(edges[v + 1], edges[v] + 1)
            seg = a[:, s0:s1]
            out[b, v] = (seg @ seg.conj().T) / seg.shape[1]
    return out


def roi_power(cov: ndarray, T: ndarray) -> ndarray:
    """Band power at ROIs from :func:`volume_covariance`.

    Parameters
    ----------
    cov : ndarray, shape (n_bands, n_volumes, n_channels, n_channels)
    T : ndarray, shape (n_rois, n_channels)
        Rows of the transfer matrix of the wanted ROIs.

    Returns
    -------
    power : ndarray, shape (n_bands, n_rois, n_volumes), float32
    """
    T = np.asarray(T, dtype=np.complex128)
    power = np.einsum("rc,bvcd,rd->brv", T, cov.astype(np.complex128), T.conj(), optimize=True)
    return power.real.astype(np.float32)
