"""Scanner artifact correction of EEG recorded inside the MR scanner.

* Gradient artifact: average artifact subtraction (Allen et al. 2000) locked to
  the volume onsets, done by MNE's :func:`mne.preprocessing.remove_fmri_gradient_artifact`.
* Pulse (ballistocardiogram, BCG) artifact: average artifact subtraction locked to
  the R-peaks found by :func:`mne.preprocessing.find_ecg_events` on the ECG
  channel (Allen et al. 1998). The template of each beat is the mean of the
  ``n_beats`` neighbouring beats, so a slowly changing artifact shape is followed.

Both need the samples in memory; a recording too large for that is left
uncorrected with a warning rather than exhausting the machine.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..blas_threads import one_blas_thread
from ..progress import check_cancel, report
from .recording import Alignment

# Loading more than this for a correction is refused (float64 samples).
MAX_PRELOAD_BYTES = 2 * 1024**3
# Share of EEG power repeating identically in every volume above which a
# gradient artifact is present (clean EEG: about 1 / n_volumes).
GRADIENT_PRESENT_RATIO = 0.2


def _cached_remover(cache: dict):
    """A GradientRemover whose detrended TR epochs are computed once.

    MNE's remover detrends each neighbouring epoch again for every template
    (``sum(window)`` times per volume); the epochs do not change, so the
    removers of one channel block share one cache.
    """
    from mne.preprocessing import GradientRemover

    class _Cached(GradientRemover):
        def get_tr_detrended(self, n):
            if n not in cache:
                cache[n] = super().get_tr_detrended(n)
            return cache[n]

    return _Cached


def remove_gradient(raw, volume_onsets_eeg_s, max_jitter_s: float = 0.0, window=(4, 4), cancel=None) -> str:
    """Subtract the gradient artifact from the EEG channels, in place.

    MNE's :class:`~mne.preprocessing.GradientRemover` averages ``window`` volumes
    around each volume (the volume itself excluded) and leaves the first
    ``window[0]`` and last ``window[1]`` volumes uncorrected; those edge volumes
    are corrected here with one-sided templates of the same total length
    (following resp. preceding volumes), again by ``GradientRemover``.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Preloaded.
    volume_onsets_eeg_s : ndarray, shape (n_volumes,)
        EEG-clock volume onsets (``Alignment.volume_onsets_eeg_s``).
    max_jitter_s : float
        Tolerated deviation of a volume onset from the regular spacing.
    window : tuple of int
        Neighbouring volumes averaged into each template (before, after).

    Returns
    -------
    log : str
        What was done, for ``Recording.corrections``.
    """
    sfreq = raw.info["sfreq"]
    samples = np.round(np.asarray(volume_onsets_eeg_s, float) * sfreq).astype(int)
    spacing = int(np.round(np.median(np.diff(samples))))
    # Only whole TR epochs inside the data can be averaged.
    samples = samples[(samples >= 0) & (samples + spacing <= raw.n_times)]
    n_tr = len(samples)
    if n_tr < 3:
        raise ValueError(f"{n_tr} whole volumes in the EEG, at least 3 needed for a template")
    if n_tr < window[0] + window[1] + 1:
        # Short run: shrink the template to the volumes there are.
        window = ((n_tr - 1) // 2, (n_tr - 1) - (n_tr - 1) // 2)
    total = window[0] + window[1]
    tol = int(np.ceil(max_jitter_s * sfreq)) + 1
    picks = [i for i, t in enumerate(raw.get_channel_types()) if t == "eeg"]
    data = raw._data  # preloaded samples, corrected in place to avoid a second full copy
    with one_blas_thread():
        _gradient_blocks(data, picks, samples, spacing, window, tol, n_tr, cancel)
    return (f"gradient artifact removed by average artifact subtraction over {n_tr} volumes "
            f"(MNE GradientRemover, {total}-volume templates)")


def _gradient_blocks(data, picks, samples, spacing, window, tol, n_tr, cancel) -> None:
    total = window[0] + window[1]
    for start in range(0, len(picks), 8):
        check_cancel(cancel)
        block = picks[start:start + 8]
        sub = data[block]
        remover = _cached_remover({})
        main = remover(sub, samples, window=window, tr_tol=tol)
        out = main.correct()
        head = remover(sub, samples, window=(0, total), tr_tol=tol)
        tail = remover(sub, samples, window=(total, 0), tr_tol=tol)
        for n in list(range(window[0])) + list(range(n_tr - window[1], n_tr)):
            edge = head if n < window[0] else tail
            a, b = samples[n], samples[n] + spacing
            out[:, a:b] = edge.get_tr_corrected(n)
        data[block] = out


def volume_locked_power(raw, volume_onsets_eeg_s, max_volumes: int = 40, max_channels: int = 4) -> float:
    """Fraction of EEG power that repeats identically in every volume.

    The gradient artifact is the same waveform in each volume, so the average
    of the volume epochs keeps nearly all of the power (ratio near 1); for EEG
    without it the average keeps about ``1 / n_volumes``. Only the first
    ``max_volumes`` volumes of ``max_channels`` channels are read, so this is
    cheap on a recording that is not preloaded.

    Returns
    -------
    ratio : float
        ``mean(template**2) / mean(epoch**2)`` after removing each epoch's mean.
    """
    sfreq = raw.info["sfreq"]
    onsets = np.round(np.asarray(volume_onsets_eeg_s, float) * sfreq).astype(int)
    spacing = int(np.round(np.median(np.diff(onsets))))
    onsets = onsets[(onsets >= 0) & (onsets + spacing <= raw.n_times)][:max_volumes]
    if len(onsets) < 3:
        return 0.0
    picks = [i for i, t in enumerate(raw.get_channel_types()) if t == "eeg"][:max_channels]
    data = raw.get_data(picks=picks, start=int(onsets[0]), stop=int(onsets[-1] + spacing))
    epochs = np.stack([data[:, o - onsets[0]:o - onsets[0] + spacing] for o in onsets])  # (n_vol, n_ch, spacing)
    epochs = epochs - epochs.mean(axis=2, keepdims=True)
    total = float(np.mean(epochs**2))
    return float(np.mean(epochs.mean(axis=0) ** 2) / total) if total > 0 else 0.0


def find_r_peaks(raw, ecg_channel: Optional[str] = None) -> tuple:
    """R-peak samples from the ECG channel.

    MNE's QRS detector (:func:`mne.preprocessing.find_ecg_events`) finds the
    beats on the ECG resampled to about 500 Hz (its filters are direct
    convolutions, far too slow at the 5 kHz of scanner EEG; the QRS band ends
    at 35 Hz); beats it misses (an RR gap over 1.5 median RR) are filled by
    :func:`fill_missed_beats`, since an uncorrected beat leaves its whole artifact.

    Returns
    -------
    samples : ndarray, shape (n_beats,)
        Sample indices from the start of ``raw`` (first_samp removed), at the
        raw's sampling rate.
    ch_name : str
    """
    import mne
    from mne.preprocessing import find_ecg_events

    if ecg_channel is None:
        ecg = [n for n, t in zip(raw.ch_names, raw.get_channel_types()) if t == "ecg"]
        if not ecg:
            raise ValueError("no ECG channel")
        ecg_channel = ecg[0]
    sfreq = raw.info["sfreq"]
    decim = max(1, int(sfreq // 500))
    sig = raw.get_data(picks=[ecg_channel])[0]
    if decim > 1:
        from scipy.signal import resample_poly

        # Polyphase filtering keeps memory at input + output; an FFT resample
        # of an hour at 5 kHz would need several GB.
        sig = resample_poly(sig, 1, decim)
    low_sfreq = sfreq / decim
    ecg_raw = mne.io.RawArray(sig[None], mne.create_info([ecg_channel], low_sfreq, "ecg"), verbose="error")
    events, _, _ = find_ecg_events(ecg_raw, ch_name=ecg_channel, verbose="error")
    peaks = events[:, 0] - ecg_raw.first_samp
    # Same band as MNE's detector: the QRS complex, without baseline wander or T waves.
    band = mne.filter.filter_data(sig, low_sfreq, 5.0, 35.0, verbose="error")
    peaks = np.sort(peaks[(peaks >= 0) & (peaks < len(band))])
    check_r_peaks(peaks, band, low_sfreq, ecg_channel)
    peaks = fill_missed_beats(peaks, band, low_sfreq)
    return np.unique(np.clip(peaks * decim, 0, raw.n_times - 1)), ecg_channel


def check_r_peaks(peaks: np.ndarray, ecg: np.ndarray, sfreq: float, ch_name: str) -> None:
    """Refuse R-peaks that are not heart beats.

    A QRS complex stands far above the rest of the band-passed ECG; noise
    maxima picked by the detector on a flat or broken lead do not, and a
    template locked to them would subtract noise. Also the rate must be
    physiological (30-200 beats/min).

    Raises
    ------
    ValueError
        With the reason.
    """
    if len(peaks) < 3:
        raise ValueError(f"only {len(peaks)} R-peaks found in {ch_name}")
    noise = 1.4826 * np.median(np.abs(ecg - np.median(ecg)))
    snr = np.median(np.abs(ecg[peaks])) / noise if noise > 0 else np.inf
    if snr < 5.0:
        raise ValueError(f"no clear R-peaks in {ch_name} (peak / noise ratio {snr:.1f}, below 5)")
    rate = 60.0 * sfreq / float(np.median(np.diff(peaks)))
    if not 30.0 <= rate <= 200.0:
        raise ValueError(f"implausible heart rate {rate:.0f}/min from {ch_name}")


def fill_missed_beats(peaks: np.ndarray, ecg: np.ndarray, sfreq: float) -> np.ndarray:
    """Add beats missed by the detector inside RR gaps longer than 1.5 median RR.

    Each expected beat position (gap split into whole median RR intervals) is
    searched within +-30 % RR for the largest band-passed ECG deflection with the
    polarity of the detected beats; it is kept when it reaches half the median
    detected peak amplitude.

    Parameters
    ----------
    peaks : ndarray, shape (n_beats,)
        Detected R-peak samples, sorted.
    ecg : ndarray, shape (n_times,)
        Band-passed ECG.
    sfreq : float

    Returns
    -------
    peaks : ndarray, shape (n_beats + n_added,)
    """
    if len(peaks) < 3:
        return peaks
    amp = ecg[peaks]
    sign = 1.0 if np.median(amp) >= 0 else -1.0
    ref = np.median(sign * amp)
    rr = float(np.median(np.diff(peaks)))
    added = []
    for a, b in zip(peaks[:-1], peaks[1:]):
        n_missing = int(round((b - a) / rr)) - 1
        if b - a <= 1.5 * rr or n_missing < 1:
            continue
        for k in range(1, n_missing + 1):
            centre = a + k * (b - a) / (n_missing + 1)
            lo, hi = int(centre - 0.3 * rr), int(centre + 0.3 * rr)
            seg = sign * ecg[lo:hi]
            if seg.size and seg.max() >= 0.5 * ref:
                added.append(lo + int(np.argmax(seg)))
    return np.sort(np.concatenate([peaks, np.asarray(added, int)])) if added else peaks


def average_artifact_subtraction(data: np.ndarray, peaks: np.ndarray, pre: int, post: int, n_beats: int = 21) -> np.ndarray:
    """Subtract a running-average template locked to ``peaks``.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        Modified in place and returned.
    peaks : ndarray, shape (n_beats,)
        Event samples (R-peaks).
    pre, post : int
        Samples before / after each peak in the template window.
    n_beats : int
        Beats averaged into each template (centred on the beat, odd).

    Returns
    -------
    data : ndarray, shape (n_channels, n_times)
    """
    n_times = data.shape[1]
    peaks = np.asarray(peaks, int)
    peaks = peaks[(peaks - pre >= 0) & (peaks + post <= n_times)]
    if len(peaks) < 3:
        return data
    offsets = np.arange(-pre, post)
    idx = peaks[:, None] + offsets[None, :]              # (n_beats, n_win)
    half = n_beats // 2
    n = len(peaks)
    lo = np.clip(np.arange(n) - half, 0, None)
    hi = np.clip(np.arange(n) + half + 1, None, n)
    for ch in range(data.shape[0]):
        epochs = data[ch][idx]                           # (n_beats, n_win)
        csum = np.vstack([np.zeros((1, epochs.shape[1])), np.cumsum(epochs, axis=0)])
        templates = (csum[hi] - csum[lo]) / (hi - lo)[:, None]
        corr = np.zeros(n_times)
        # Overlapping windows (a short RR interval) take the later beat's template.
        corr[idx.ravel()] = templates.ravel()
        data[ch] -= corr
    return data


def remove_pulse(raw, ecg_channel: Optional[str] = None, n_beats: int = 21, cancel=None, peaks=None) -> str:
    """Subtract the pulse (BCG) artifact from the EEG channels, in place.

    The template window runs from 0.25 to 0.75 of the median RR interval around
    each R-peak (the BCG follows the R-peak by 0.2-0.4 s).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Preloaded.
    ecg_channel : str | None
        Default: the first channel of type ECG.
    n_beats : int
        Beats averaged into each beat's template.
    peaks : ndarray, shape (n_beats,) | None
        R-peak samples already found by :func:`find_r_peaks`.

    Returns
    -------
    log : str
        What was done.
    """
    if peaks is None:
        peaks, ch = find_r_peaks(raw, ecg_channel)
    else:
        ch = ecg_channel or "ECG"
    rr = float(np.median(np.diff(peaks)))
    pre, post = int(0.25 * rr), int(0.75 * rr)
    picks = [i for i, t in enumerate(raw.get_channel_types()) if t == "eeg"]
    data = raw._data  # preloaded: correct the in-memory samples without a second copy
    for start in range(0, len(picks), 8):
        check_cancel(cancel)
        block = picks[start:start + 8]
        data[block] = average_artifact_subtraction(data[block], peaks, pre, post, n_beats)
    hr = 60.0 * raw.info["sfreq"] / rr
    return (f"pulse (BCG) artifact removed by average subtraction locked to {len(peaks)} R-peaks of {ch} "
            f"(heart rate {hr:.0f}/min, {n_beats}-beat running template)")


def correct_artifacts(raw, alignment: Optional[Alignment], gradient: Optional[bool] = None, pulse: Optional[bool] = None,
                      max_preload_bytes: int = MAX_PRELOAD_BYTES, progress=None, cancel=None) -> tuple:
    """Apply the scanner artifact corrections that the recording allows.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Loaded into memory here if needed (the file is never written).
    alignment : Alignment | None
        Gradient correction needs ``method == "markers"``.
    gradient, pulse : bool | None
        None (default): gradient correction when volume markers exist and the
        EEG shows a volume-locked artifact (:func:`volume_locked_power`); pulse
        correction when an ECG channel with clear R-peaks exists.
    max_preload_bytes : int
        Larger recordings are not loaded; a warning says so.

    Returns
    -------
    corrections : list of str
        What was applied.
    warnings : list of str
    """
    corrections, warns = [], []
    has_markers = alignment is not None and alignment.method == "markers"
    has_ecg = "ecg" in raw.get_channel_types()
    do_grad = has_markers if gradient is None else bool(gradient)
    do_pulse = has_ecg if pulse is None else bool(pulse)
    if gradient and not has_markers:
        warns.append("gradient artifact correction skipped: no scanner volume markers")
        do_grad = False
    if pulse and not has_ecg:
        warns.append("pulse artifact correction skipped: no ECG channel")
        do_pulse = False
    if do_grad and gradient is None:
        ratio = volume_locked_power(raw, alignment.volume_onsets_eeg_s)
        if ratio < GRADIENT_PRESENT_RATIO:
            # Subtracting volume averages from clean EEG would only remove
            # volume-locked brain activity.
            warns.append(f"gradient artifact correction skipped: no gradient artifact found "
                         f"(volume-locked power {100 * ratio:.0f} % of the EEG power)")
            do_grad = False
    peaks = ecg_name = None
    if do_pulse:
        try:
            # Reads the ECG channel only: decide before loading the whole EEG.
            peaks, ecg_name = find_r_peaks(raw)
        except (ValueError, RuntimeError) as err:
            warns.append(f"pulse artifact correction not applied: {err}")
            do_pulse = False
    if not (do_grad or do_pulse):
        return corrections, warns
    if not raw.preload:
        need = 8 * len(raw.ch_names) * raw.n_times
        if need > max_preload_bytes:
            warns.append(
                f"scanner artifact correction skipped: the EEG needs {need / 1024**3:.1f} GB in memory "
                f"(limit {max_preload_bytes / 1024**3:.1f} GB); correct it beforehand or raise the limit"
            )
            return corrections, warns
        report(progress, 0.0, "loading EEG for artifact correction")
        raw.load_data(verbose="error")
    check_cancel(cancel)
    if do_grad:
        report(progress, 0.1, "removing gradient artifact")
        try:
            corrections.append(remove_gradient(raw, alignment.volume_onsets_eeg_s, alignment.max_jitter_s, cancel=cancel))
        except ValueError as err:
            warns.append(f"gradient artifact correction not applied: {err}")
    check_cancel(cancel)
    if do_pulse:
        report(progress, 0.6, "removing pulse artifact")
        try:
            corrections.append(remove_pulse(raw, ecg_name, cancel=cancel, peaks=peaks))
        except (ValueError, RuntimeError) as err:
            warns.append(f"pulse artifact correction not applied: {err}")
    report(progress, 1.0, "artifact correction done")
    return corrections, warns
