"""EEG preprocessing: re-reference, early decimation, band signals and band power.

Order of operations, and why:

1. Only the EEG channels of the requested time span are read, in chunks, so
   a long unpreloaded 5 kHz recording never sits in memory at the acquisition
   rate. Bad channels are left out, or read too so that they can be rebuilt
   (step 3).
2. Each chunk is decimated by an integer factor ``q = round(sfreq_in / sfreq)``
   with :func:`scipy.signal.resample_poly` (Kaiser-windowed FIR anti-alias
   filter). Chunks overlap by more than the filter half-length, so the result
   equals decimating the whole recording at once. A constant per-channel
   offset (the mean of the first chunk) is removed first so that the
   zero-padded recording edges do not ring. All later work runs at
   ``sfreq_in / q`` (about 250 Hz by default).
3. Bad channels (``raw.info["bads"]`` and those the caller adds) are, by
   default, interpolated from the good ones by spherical splines
   (:meth:`mne.io.Raw.interpolate_bads`) on the decimated data, so that they
   neither enter the average reference with their artefacts nor leave a hole
   in the montage that a group analysis would have to drop from every
   recording. Splines are linear in the data, so interpolating after the
   decimation equals decimating the interpolated recording.
4. Re-reference (average by default) on the decimated data; re-referencing is
   linear and commutes with the filters.
5. Per band: zero-phase FIR band-pass (:func:`mne.filter.filter_data`), then the
   analytic signal (Hilbert transform); band power is the squared envelope
   ``|x + i H(x)|²``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil
from typing import Any, Optional, Sequence, Union

import numpy as np
from numpy import ndarray

from ..io.errors import InputError
from ..progress import check_cancel, report
from .bands import DEFAULT_BANDS, validate_bands


@dataclass
class EEGBands:
    """Band-filtered EEG at the working rate.

    Attributes
    ----------
    sfreq : float
        Sampling rate after decimation (about 250 Hz).
    times : ndarray, shape (n_times,)
        EEG-clock seconds (``raw.times`` convention: 0 = first sample of the raw).
    ch_names : list of str
        EEG channels kept: all of them when bad channels were interpolated,
        the good ones when they were dropped.
    ch_pos : ndarray, shape (n_channels, 3)
        Head-frame positions in metres; NaN where unknown.
    bands : tuple of (str, float, float)
        ``((name, lo, hi), ...)``.
    band_signal : ndarray, shape (n_bands, n_channels, n_times), float32
        Band-passed EEG (volts).
    band_power : ndarray, shape (n_bands, n_channels, n_times), float32
        Squared Hilbert envelope of ``band_signal`` (V²).
    info : mne.Info
        Info of the decimated EEG channels, with the montage (for the forward model).
    reference : str
        Reference applied (``"average"``, ``"none"`` or the reference channels).
    decimation : int
        Integer factor between the acquisition rate and ``sfreq``.
    interpolated : list of str
        Bad channels rebuilt from the others by spherical splines.
    dropped : list of str
        Bad channels left out.
    """

    sfreq: float
    times: ndarray
    ch_names: list
    ch_pos: ndarray
    bands: tuple
    band_signal: ndarray
    band_power: ndarray
    info: Any
    reference: str = "average"
    decimation: int = 1
    interpolated: list = field(default_factory=list)
    dropped: list = field(default_factory=list)

    @property
    def band_names(self) -> list:
        return [b[0] for b in self.bands]


def _raw_source(raw) -> str:
    names = [f for f in (getattr(raw, "filenames", None) or []) if f]
    return str(names[0]) if names else "EEG recording"


def decimation_factor(sfreq_in: float, sfreq: float, max_band_hz: float) -> int:
    """Integer decimation factor giving about ``sfreq``.

    The factor is lowered until the highest band edge sits below 80 % of the
    new Nyquist frequency, so the anti-alias filter leaves every band intact.

    Parameters
    ----------
    sfreq_in : float
        Acquisition rate (Hz).
    sfreq : float
        Wanted working rate (Hz).
    max_band_hz : float
        Highest band edge (Hz).

    Returns
    -------
    q : int
        ``>= 1``; 1 when the recording is already at or below ``sfreq``.
    """
    q = max(1, int(round(sfreq_in / float(sfreq))))
    while q > 1 and max_band_hz >= 0.8 * (sfreq_in / q) / 2.0:
        q -= 1
    return q


def decimate_raw(raw, picks, q: int, start: int, stop: int, chunk_s: float = 10.0,
                 progress=None, cancel=None) -> ndarray:
    """Read ``raw[picks, start:stop]`` chunk by chunk and decimate it by ``q``.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Preloaded or not.
    picks : array-like of int, shape (n_channels,)
    q : int
        Decimation factor.
    start, stop : int
        Sample range of ``raw`` (stop exclusive).
    chunk_s : float
        Seconds of acquisition-rate data read at once.

    Returns
    -------
    data : ndarray, shape (n_channels, ceil((stop - start) / q)), float64
        Output sample ``j`` is at input sample ``start + j * q``.
    """
    from scipy.signal import resample_poly

    picks = np.asarray(picks, dtype=int)
    sfreq_in = float(raw.info["sfreq"])
    n_in = stop - start
    n_out = int(ceil(n_in / q))
    out = np.empty((len(picks), n_out), dtype=float)
    # resample_poly's filter spans 10 * q input samples on each side
    pad = 12 * q
    step = max(q, int(chunk_s * sfreq_in) // q * q)
    offset = None
    a = start
    while a < stop:
        check_cancel(cancel)
        b = min(stop, a + step)
        lo = max(start, a - pad)
        hi = min(stop, b + pad)
        x = raw.get_data(picks=picks, start=lo, stop=hi)
        if offset is None:
            offset = x.mean(axis=1, keepdims=True)
        x = x - offset
        if q > 1:
            y = resample_poly(x, 1, q, axis=1)
        else:
            y = x
        j0 = (a - start) // q
        j1 = min(n_out, j0 + int(ceil((b - a) / q)))
        m0 = (a - lo) // q
        out[:, j0:j1] = y[:, m0:m0 + (j1 - j0)]
        report(progress, (b - start) / n_in, f"reading and decimating EEG ({q}x)")
        a = b
    return out


def _apply_reference(data: ndarray, ch_names: list, reference, source: str) -> tuple:
    if reference is None or (isinstance(reference, str) and reference.lower() in ("none", "")):
        return data, "none"
    if isinstance(reference, str) and reference.lower() == "average":
        return data - data.mean(axis=0, keepdims=True), "average"
    refs = [reference] if isinstance(reference, str) else list(reference)
    missing = [r for r in refs if r not in ch_names]
    if missing:
        raise InputError(source, f"reference channel(s) {missing} are not among the EEG channels")
    idx = [ch_names.index(r) for r in refs]
    return data - data[idx].mean(axis=0, keepdims=True), "+".join(refs)


def _band_info(raw, ch_names: list, sfreq: float):
    import mne

    info = mne.create_info(list(ch_names), float(sfreq), "eeg")
    montage = raw.get_montage()
    if montage is not None:
        # a channel without a position would become a NaN digitisation point, and the
        # head-sphere fit of the forward model and of the interpolation would fail on it
        pos = montage.get_positions()
        placed = {name: xyz for name, xyz in pos["ch_pos"].items() if np.all(np.isfinite(xyz))}
        montage = mne.channels.make_dig_montage(ch_pos=placed, nasion=pos["nasion"], lpa=pos["lpa"],
                                                rpa=pos["rpa"], hsp=pos["hsp"], hpi=pos["hpi"],
                                                coord_frame=pos["coord_frame"])
        info.set_montage(montage, on_missing="ignore", verbose="error")
    return info


def channel_positions(info) -> ndarray:
    """Head-frame positions of the channels of ``info``, NaN where unknown.

    Returns
    -------
    pos : ndarray, shape (n_channels, 3)
        Metres.
    """
    pos = np.array([ch["loc"][:3] for ch in info["chs"]], dtype=float)
    unknown = ~np.all(np.isfinite(pos), axis=1) | np.all(pos == 0, axis=1)
    pos[unknown] = np.nan
    return pos


def bad_channel_plan(raw, extra_bads: Sequence[str] = (), bad_channels: str = "interpolate") -> tuple:
    """Which EEG channels the analysis keeps, rebuilds and drops.

    Bad channels are those of ``raw.info["bads"]`` (``channels.tsv``) and
    ``extra_bads``. With ``"interpolate"`` each bad channel that has a position
    is rebuilt from the good ones; a bad channel without a position is dropped.

    Parameters
    ----------
    raw : mne.io.BaseRaw
    extra_bads : sequence of str
        Channels marked bad beyond the file's (e.g. in the GUI).
    bad_channels : {"interpolate", "drop"}

    Returns
    -------
    picks : list of int
        Indices in ``raw`` of the EEG channels kept (good and rebuilt), in file order.
    rebuilt, dropped : list of str
        Bad channels rebuilt by interpolation, and bad channels left out.

    Raises
    ------
    InputError
        When a marked channel is not an EEG channel of ``raw``, no good EEG
        channel is left, or fewer than 4 good channels have positions to
        interpolate from.
    """
    import mne

    source = _raw_source(raw)
    eeg_all = [int(i) for i in mne.pick_types(raw.info, eeg=True, exclude=[])]
    eeg_names = [raw.ch_names[i] for i in eeg_all]
    unknown = [c for c in extra_bads if c not in eeg_names]
    if unknown:
        raise InputError(source, f"channel(s) {', '.join(unknown)} marked bad are not EEG channels of "
                                 "this recording")
    bads = set(raw.info["bads"]) | set(extra_bads)
    good = [i for i in eeg_all if raw.ch_names[i] not in bads]
    if not good:
        raise InputError(source, "no EEG channels (all missing or marked bad)")
    bad_idx = [i for i in eeg_all if raw.ch_names[i] in bads]
    to_rebuild = []
    if bad_channels == "interpolate" and bad_idx:
        positioned = np.all(np.isfinite(channel_positions(raw.info)), axis=1)
        to_rebuild = [i for i in bad_idx if positioned[i]]
        if to_rebuild and int(positioned[good].sum()) < 4:
            raise InputError(source, f"{int(positioned[good].sum())} good EEG channels have positions: "
                                     "too few to interpolate the bad ones from (set "
                                     "[preprocessing] bad_channels = \"drop\")")
    picks = sorted(good + to_rebuild)
    rebuilt = [raw.ch_names[i] for i in to_rebuild]
    dropped = [raw.ch_names[i] for i in bad_idx if i not in to_rebuild]
    return picks, rebuilt, dropped


@dataclass
class ChannelInterpolator:
    """The linear map that rebuilds a recording's bad channels from its good ones.

    Attributes
    ----------
    picks : list of int
        Indices in the recording of the EEG channels the analysis keeps (good
        and rebuilt), in file order.
    rebuilt : list of str
        Bad channels rebuilt (those with a position).
    matrix : ndarray, shape (n_rebuilt, n_picks)
        ``matrix @ data[picks]`` is the rebuilt channels' signal; the columns
        of bad channels are zero.
    """

    picks: list
    rebuilt: list
    matrix: ndarray

    def apply(self, raw, start: int, stop: int) -> dict:
        """The rebuilt signal of each channel of :attr:`rebuilt` on samples ``start:stop``.

        Returns
        -------
        rows : dict of str to ndarray, shape (stop - start,)
            Volts.
        """
        if not self.rebuilt:
            return {}
        out = self.matrix @ raw.get_data(picks=self.picks, start=int(start), stop=int(stop))
        return dict(zip(self.rebuilt, out))


def bad_channel_interpolator(raw, extra_bads: Sequence[str] = ()) -> ChannelInterpolator:
    """The spherical-spline map :func:`preprocess_eeg` uses for the bad channels of ``raw``.

    The same channels and splines as ``bad_channels="interpolate"``: computed
    by MNE's ``interpolate_bads`` on the unit vectors of the kept channels, so
    applying it to recorded samples is the analysis's interpolation before its
    filtering, decimation and re-reference (all linear, so they commute with
    it). Building it costs an SVD; applying it, one matrix product.

    Parameters
    ----------
    raw : mne.io.BaseRaw
    extra_bads : sequence of str
        Channels marked bad beyond ``channels.tsv``.

    Returns
    -------
    interpolator : ChannelInterpolator
        Bad channels without a position are dropped by the analysis and are
        not in ``rebuilt``.

    Raises
    ------
    InputError
        As :func:`bad_channel_plan`, or when MNE cannot interpolate.
    """
    picks, rebuilt, _ = bad_channel_plan(raw, extra_bads, "interpolate")
    if not rebuilt:
        return ChannelInterpolator(picks, [], np.zeros((0, len(picks))))
    names = [raw.ch_names[i] for i in picks]
    unit = _interpolate(np.eye(len(picks)), _band_info(raw, names, float(raw.info["sfreq"])), rebuilt,
                        _raw_source(raw))
    return ChannelInterpolator(picks, rebuilt, unit[[names.index(name) for name in rebuilt]])


def preprocess_eeg(raw, bands: Sequence = DEFAULT_BANDS, sfreq: float = 250.0,
                   reference: Union[str, Sequence[str], None] = "average",
                   tmin: Optional[float] = None, tmax: Optional[float] = None,
                   chunk_s: float = 10.0, bad_channels: str = "interpolate",
                   extra_bads: Sequence[str] = (), progress=None, cancel=None) -> EEGBands:
    """Re-reference, decimate and band-filter EEG; compute band-power envelopes.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (may be unpreloaded; only the EEG channels are read; it is
        not modified).
    bands : sequence of (str, float, float)
        Bands ``(name, lo Hz, hi Hz)``; default δ 1–4, θ 4–8, α 8–13, β 13–30,
        γ 30–45 Hz.
    sfreq : float
        Wanted working rate; the actual rate is ``sfreq_in / q`` with the
        integer factor of :func:`decimation_factor`.
    reference : "average" | "none" | None | str | list of str
        Average reference (default), no re-referencing, or the mean of the
        named channel(s).
    tmin, tmax : float | None
        Crop (seconds, ``raw.times`` clock) before anything else.
    chunk_s : float
        Seconds of raw data read at a time.
    bad_channels : "interpolate" | "drop"
        Rebuild the bad EEG channels from the good ones by spherical splines
        (default; a bad channel without a position is dropped), or leave them
        out.
    extra_bads : sequence of str
        Channels to treat as bad besides ``raw.info["bads"]`` (``raw`` is not
        changed).
    progress, cancel : callables, optional
        See :mod:`eegfmri_viewer.progress`.

    Returns
    -------
    eeg_bands : EEGBands

    Raises
    ------
    InputError
        No (good) EEG channels, an ``extra_bads`` name that is not an EEG
        channel, too few positioned good channels to interpolate from, empty
        time span, bad bands or reference channels.
    eegfmri_viewer.progress.Cancelled
        When ``cancel()`` turned true.
    """
    import mne
    from scipy.fft import next_fast_len
    from scipy.signal import hilbert

    source = _raw_source(raw)
    bands = validate_bands(bands, source=source)
    if bad_channels not in ("interpolate", "drop"):
        raise ValueError(f"bad_channels must be 'interpolate' or 'drop', got {bad_channels!r}")
    picks, rebuilt, dropped = bad_channel_plan(raw, extra_bads, bad_channels)
    ch_names = [raw.ch_names[i] for i in picks]
    sfreq_in = float(raw.info["sfreq"])
    q = decimation_factor(sfreq_in, sfreq, max(b[2] for b in bands))
    new_sfreq = sfreq_in / q
    bands = validate_bands(bands, sfreq=new_sfreq, source=source)

    start = 0 if tmin is None else int(raw.time_as_index(max(0.0, tmin))[0])
    stop = raw.n_times if tmax is None else min(raw.n_times, int(raw.time_as_index(tmax)[0]) + 1)
    if stop - start < 2 * q:
        raise InputError(source, f"the time span {tmin}..{tmax} s holds no EEG samples")

    data = decimate_raw(raw, picks, q, start, stop, chunk_s=chunk_s,
                        progress=lambda f, m: report(progress, 0.4 * f, m), cancel=cancel)
    info = _band_info(raw, ch_names, new_sfreq)
    if rebuilt:
        data = _interpolate(data, info, rebuilt, source)
    data, ref_name = _apply_reference(data, ch_names, reference, source)
    n_ch, n_t = data.shape
    times = start / sfreq_in + np.arange(n_t) * (q / sfreq_in)

    n_fft = next_fast_len(n_t)
    band_signal = np.empty((len(bands), n_ch, n_t), dtype=np.float32)
    band_power = np.empty((len(bands), n_ch, n_t), dtype=np.float32)
    block = 16
    n_steps = len(bands) * int(ceil(n_ch / block))
    step = 0
    for bi, (name, lo, hi) in enumerate(bands):
        for c0 in range(0, n_ch, block):
            check_cancel(cancel)
            x = mne.filter.filter_data(data[c0:c0 + block], new_sfreq, lo, hi, method="fir",
                                       phase="zero", fir_design="firwin", verbose="error")
            band_signal[bi, c0:c0 + block] = x
            analytic = hilbert(x, N=n_fft, axis=-1)[:, :n_t]
            band_power[bi, c0:c0 + block] = analytic.real**2 + analytic.imag**2
            step += 1
            report(progress, 0.4 + 0.6 * step / n_steps, f"{name} band ({lo:g}-{hi:g} Hz)")

    return EEGBands(
        sfreq=new_sfreq,
        times=times,
        ch_names=ch_names,
        ch_pos=channel_positions(info),
        bands=bands,
        band_signal=band_signal,
        band_power=band_power,
        info=info,
        reference=ref_name,
        decimation=q,
        interpolated=rebuilt,
        dropped=dropped,
    )


def _interpolate(data: ndarray, info, bads: list, source: str) -> ndarray:
    """``data`` with the rows of ``bads`` rebuilt from the others by spherical splines.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        Decimated EEG, rows in the order of ``info``.
    info : mne.Info
        The channels of ``data`` with their positions.
    bads : list of str
        Channels to rebuild (each with a position).

    Returns
    -------
    data : ndarray, shape (n_channels, n_times)
        ``data`` itself, its rows of ``bads`` replaced.
    """
    import mne

    info = info.copy()
    info["bads"] = list(bads)
    # good channels without a position can't enter the splines: they are left as they are
    unplaced = [name for name, ok in zip(info["ch_names"], np.all(np.isfinite(channel_positions(info)), axis=1))
                if not ok and name not in bads]
    raw = mne.io.RawArray(data, info, copy="auto", verbose="error")
    try:
        raw.interpolate_bads(reset_bads=True, mode="accurate", exclude=unplaced, verbose="error")
    except (RuntimeError, ValueError) as exc:
        raise InputError(source, f"bad channel(s) {', '.join(bads)} could not be interpolated ({exc})") from None
    rows = [info["ch_names"].index(name) for name in bads]
    data[rows] = raw.get_data(picks=list(bads))
    return data
