"""EEG <-> BOLD time alignment from scanner volume markers.

The scanner sends one trigger per volume (BrainVision ``R128``, or markers called
``Volume`` / ``Scan Start``); its times on the EEG clock are the volume onsets.
Markers are matched to a regular grid ``t_k = a + b k`` (``b`` ~ TR) fitted by
least squares, so that a clock drift does not count as jitter. Markers that fall
off the grid or past the last volume are *extra*; volumes without a marker are
*missing* and get their onset from the fitted grid. Without markers the two
recordings are taken to start together, shifted by a stated offset.
"""

from __future__ import annotations

from typing import Iterable, Optional

import numpy as np

from .errors import InputError
from .recording import Alignment

VOLUME_MARKERS = ("R128", "Volume", "Scan Start")

# A marker further than this fraction of a TR from its grid slot is not a volume onset.
_OFF_GRID_FRACTION = 0.25
# Marker spacing differing from the TR by more than this fraction is reported.
_TR_MISMATCH_FRACTION = 0.01


def _norm(desc: str) -> str:
    return "".join(str(desc).lower().split())


def marker_matches(description: str, marker: str) -> bool:
    """True when an annotation / event description is the marker ``marker``.

    ``"Response/R128"`` matches ``"R128"``: BrainVision prefixes the marker type.
    Case and blanks are ignored.
    """
    d, m = _norm(description), _norm(marker)
    return d == m or d.rsplit("/", 1)[-1] == m


def find_volume_markers(descriptions: Iterable[str], onsets, marker: Optional[str] = None) -> tuple:
    """Pick the volume-marker times out of annotations or events.

    Parameters
    ----------
    descriptions : iterable of str, length n
    onsets : array-like, shape (n,)
        EEG-clock seconds.
    marker : str | None
        A user-chosen marker; by default the first of ``R128``, ``Volume``,
        ``Scan Start`` that occurs at least twice.

    Returns
    -------
    marker : str | None
        The marker used (``None`` when none was found).
    times : ndarray, shape (n_markers,)
        Sorted EEG-clock times.
    """
    desc = np.asarray(list(descriptions), dtype=str)
    onsets = np.asarray(onsets, dtype=float)
    candidates = (marker,) if marker else VOLUME_MARKERS
    for cand in candidates:
        hit = np.array([marker_matches(d, cand) for d in desc], dtype=bool)
        if hit.sum() >= (1 if marker else 2):
            return cand, np.sort(onsets[hit])
    return None, np.empty(0)


def align_markers(times, tr: float, n_volumes: int, marker: str, first_marker_index: int = 0) -> Alignment:
    """Align the BOLD volumes to volume-marker times.

    Parameters
    ----------
    times : array-like, shape (n_markers,)
        EEG-clock marker times in seconds.
    tr : float
        Repetition time in seconds.
    n_volumes : int
        Volumes in the BOLD image.
    marker : str
        Marker name (for messages).
    first_marker_index : int
        Index of the marker that marks volume 0 (markers before it, e.g. for
        dummy scans removed from the image, count as extra).

    Returns
    -------
    alignment : Alignment
        ``method="markers"`` with counts of missing / extra markers and the
        largest jitter.
    """
    t = np.sort(np.asarray(times, dtype=float))
    if len(t) == 0:
        raise ValueError("no marker times")
    t0 = t[min(first_marker_index, len(t) - 1)]
    a, b = t0, float(tr)
    idx = np.round((t - a) / b).astype(int)
    for _ in range(3):
        keep = _unique_nearest(t, idx, a, b, n_volumes)
        if keep.sum() >= 2:
            b, a = np.polyfit(idx[keep], t[keep], 1)
        idx = np.round((t - a) / b).astype(int)
    keep = _unique_nearest(t, idx, a, b, n_volumes)
    resid = t - (a + b * idx)
    onsets = a + b * np.arange(n_volumes)
    onsets[idx[keep]] = t[keep]
    n_matched = int(keep.sum())
    n_extra = int(len(t) - n_matched)
    n_missing = int(n_volumes - n_matched)
    jitter = float(np.max(np.abs(resid[keep]))) if n_matched else 0.0
    msgs = [f"{len(t)} '{marker}' volume markers for {n_volumes} volumes at TR {tr:g} s"]
    if n_missing:
        msgs.append(f"warning: {n_missing} volume(s) have no marker; their onsets are interpolated on the TR grid")
    if n_extra:
        msgs.append(f"warning: {n_extra} marker(s) match no volume (off the TR grid, duplicated, or beyond the {n_volumes} volumes)")
    if abs(b - tr) > _TR_MISMATCH_FRACTION * tr:
        msgs.append(f"warning: marker spacing {b:.4f} s differs from the TR {tr:g} s")
    if jitter > 0.01 * tr:
        msgs.append(f"warning: marker jitter up to {jitter * 1e3:.1f} ms")
    return Alignment(
        method="markers", tr=float(tr), volume_onsets_eeg_s=onsets, offset_s=float(onsets[0]),
        n_markers=int(len(t)), n_missing=n_missing, n_extra=n_extra, max_jitter_s=jitter,
        marker=marker, messages=msgs,
    )


def _unique_nearest(t, idx, a, b, n_volumes) -> np.ndarray:
    """Mask of markers kept: on the grid, inside the run, nearest one per slot."""
    resid = np.abs(t - (a + b * idx))
    ok = (idx >= 0) & (idx < n_volumes) & (resid <= _OFF_GRID_FRACTION * b)
    keep = np.zeros(len(t), dtype=bool)
    best: dict = {}
    for i in np.flatnonzero(ok):
        j = best.get(idx[i])
        if j is None or resid[i] < resid[j]:
            best[idx[i]] = i
    keep[list(best.values())] = True
    return keep


def align_start(tr: float, n_volumes: int, offset_s: float = 0.0) -> Alignment:
    """Alignment without markers: volume 0 starts ``offset_s`` after the EEG starts.

    Returns
    -------
    alignment : Alignment
        ``method="start"`` with a warning in ``messages``.
    """
    onsets = offset_s + tr * np.arange(n_volumes, dtype=float)
    msg = (
        f"warning: no scanner volume markers found; EEG and BOLD are assumed to start together "
        f"(volume 0 at EEG time {offset_s:g} s, TR {tr:g} s)"
    )
    return Alignment(
        method="start", tr=float(tr), volume_onsets_eeg_s=onsets, offset_s=float(offset_s),
        n_markers=0, n_missing=0, n_extra=0, max_jitter_s=0.0, marker=None, messages=[msg],
    )


def annotation_times(raw) -> tuple:
    """Descriptions and EEG-clock onsets (seconds from the first sample) of a raw's annotations.

    Returns
    -------
    descriptions : ndarray, shape (n,) str
    onsets : ndarray, shape (n,) float
    """
    ann = raw.annotations
    onsets = np.asarray(ann.onset, float)
    if ann.orig_time is not None:
        onsets = onsets - raw.first_time
    # MNE >= 1.13 stores descriptions as StringDType, which does not cast to "<U".
    return np.array([str(d) for d in ann.description], dtype=str), onsets


def align_recording(raw, tr: float, n_volumes: int, marker: Optional[str] = None,
                    events_table=None, offset_s: float = 0.0, eeg_path=None) -> Alignment:
    """Align a recording's EEG with its BOLD run.

    Volume markers are looked for in the EEG annotations, then in
    ``events_table`` (a BIDS EEG ``events.tsv`` on the EEG clock).

    Parameters
    ----------
    raw : mne.io.BaseRaw
    tr : float
    n_volumes : int
    marker : str | None
        User-chosen volume marker; it must exist when given.
    events_table : pandas.DataFrame | None
        Columns ``onset`` and ``trial_type`` (or ``value``).
    offset_s : float
        EEG time of volume 0 for start alignment.
    eeg_path : Path | None
        Named in errors.

    Raises
    ------
    InputError
        The chosen marker does not occur; or the EEG ends before the BOLD run
        (by more than one TR).
    """
    desc, onsets = annotation_times(raw)
    name, times = find_volume_markers(desc, onsets, marker)
    if name is None and events_table is not None and len(events_table):
        col = "trial_type" if "trial_type" in events_table else ("value" if "value" in events_table else None)
        if col is not None:
            name, times = find_volume_markers(events_table[col].astype(str), events_table["onset"].astype(float), marker)
    if marker and name is None:
        raise InputError(eeg_path, f"volume marker {marker!r} not found in the EEG annotations or events")
    if name is not None:
        al = align_markers(times, tr, n_volumes, name)
    else:
        al = align_start(tr, n_volumes, offset_s)
    check_eeg_covers_bold(raw, al, eeg_path)
    return al


def marker_interval(raw, marker: Optional[str] = None, events_table=None) -> tuple:
    """The usual time between volume markers, a TR measured on the EEG clock.

    Parameters
    ----------
    raw : mne.io.BaseRaw
    marker : str | None
        User-chosen volume marker (default: the first of :data:`VOLUME_MARKERS` found).
    events_table : pandas.DataFrame | None
        A BIDS EEG ``events.tsv``, searched when the annotations hold no markers.

    Returns
    -------
    marker : str | None
        The marker found.
    interval_s : float | None
        Median interval between consecutive markers (robust to a few missing
        or extra ones); None with fewer than 3 markers.
    """
    desc, onsets = annotation_times(raw)
    name, times = find_volume_markers(desc, onsets, marker)
    if name is None and events_table is not None and len(events_table):
        col = "trial_type" if "trial_type" in events_table else ("value" if "value" in events_table else None)
        if col is not None:
            name, times = find_volume_markers(events_table[col].astype(str), events_table["onset"].astype(float),
                                              marker)
    times = np.asarray(times, dtype=float)
    times = times[np.isfinite(times)]
    if name is None or len(times) < 3:
        return name, None
    steps = np.diff(np.sort(times))
    steps = steps[steps > 0]
    return name, (float(np.median(steps)) if len(steps) else None)


def check_eeg_covers_bold(raw, alignment: Alignment, eeg_path=None) -> None:
    """Raise :class:`InputError` when the EEG stops before the BOLD run ends.

    Ending within one TR of the end is accepted (the last trigger can arrive just
    before the EEG is stopped); it is noted in ``alignment.messages``.
    """
    eeg_dur = raw.n_times / raw.info["sfreq"]
    end = float(alignment.volume_onsets_eeg_s[-1] + alignment.tr)
    start = float(alignment.volume_onsets_eeg_s[0])
    if eeg_dur < end - alignment.tr or start < -alignment.tr:
        raise InputError(
            eeg_path,
            f"EEG ({eeg_dur:.1f} s) is shorter than the BOLD run: {alignment.n_volumes} volumes x TR "
            f"{alignment.tr:g} s need the EEG from {start:.1f} s to {end:.1f} s",
        )
    if eeg_dur < end:
        alignment.messages.append(f"warning: EEG ends {end - eeg_dur:.2f} s before the end of the last volume")
