"""Samples for the models: windows labelled by the events.

Rules (BOLD clock, seconds from the onset of volume 0):

* ``mode="blocks"`` (block designs): each event ``e`` (onset ``o``, duration
  ``d``) is tiled by windows ``[t, t + window_s)`` with ``t = o, o + step_s,
  ...``; a window belongs to the event's class only when the event covers it
  entirely (``t + window_s <= o + d``). Windows of one event share
  ``blocks = e``, so a split by blocks never puts windows of one block on both
  sides.
* ``mode="events"`` (event-related designs): one window ``[o, o + window_s)``
  per event, whatever its duration. Windows of events closer than
  ``window_s`` share samples: of one condition, they form one block (so the
  split keeps them together); of different conditions, both are left out and
  counted, since their data mix the two responses.
* fMRI: the window's volumes are shifted by the haemodynamic delay: volume
  indices ``v0 + 0 .. n_fmri_times - 1``, ``v0`` the volume nearest to
  ``(t + hrf_delay_s) / tr`` (halves rounded up, not to even: windows
  ``window_s`` apart then start the same number of volumes apart), with
  ``n_fmri_times = max(1, floor(window_s / tr))``, the whole volumes inside
  the window, so that windows whose onsets lie ``window_s`` apart (neighbouring
  windows of a block, or of two blocks) never share a volume.
* EEG: not shifted (the EEG is the neural signal); the BOLD-clock start ``t``
  is mapped to the EEG clock with ``recording.alignment`` (volume markers or
  start offset) and ``round(window_s * sfreq)`` samples are taken from the
  nearest sample (halves up).
  Without an alignment the two clocks are taken as equal.
* A window that does not fit inside the data (either modality) is dropped.
* A window whose BOLD volumes include a censored one (head motion above the
  threshold, :mod:`eegfmri_viewer.io.motion`) is dropped and counted; so is a
  window whose EEG span may have seen such a movement (the framewise
  displacement of volume k compares the head positions of volumes k - 1 and k,
  so a movement anywhere during their acquisition, BOLD-clock times
  ``((k - 1) TR, (k + 1) TR)``, can raise it): a head movement that spoils a
  volume also leaves artefacts in the EEG recorded meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from numpy import ndarray

from ..io.errors import InputError


@dataclass
class Windows:
    """Labelled samples of one or more recordings.

    Attributes
    ----------
    eeg : ndarray, shape (n_windows, n_bands, n_channels, n_eeg_times), float32
        Band signals; shape ``(n_windows, 0, 0, 0)`` without EEG.
    fmri : ndarray, shape (n_windows, n_rois, n_fmri_times), float32
        ROI BOLD, shifted by ``hrf_delay_s``; ``(n_windows, 0, 0)`` without BOLD.
    labels : ndarray, shape (n_windows,), int
        Index into ``class_names``.
    blocks : ndarray, shape (n_windows,), int
        Event (block) index; unique across the recordings of a concatenation.
    onsets_s : ndarray, shape (n_windows,)
        BOLD-clock onset of each window.
    class_names : list of str
    subject : ndarray, shape (n_windows,), str
    n_censored : int
        Windows left out for head motion: their BOLD volumes include a
        censored volume, or their EEG span overlaps the acquisition of one
        or of the volume before it (when its framewise displacement arose).
    n_overlapping : int
        Event windows left out because they overlap a window of another class
        (``mode="events"``).
    """

    eeg: ndarray
    fmri: ndarray
    labels: ndarray
    blocks: ndarray
    onsets_s: ndarray
    class_names: list
    subject: ndarray
    n_censored: int = 0
    n_overlapping: int = 0

    def __len__(self) -> int:
        return int(len(self.labels))

    def counts(self) -> dict:
        """Windows per class name."""
        return {c: int(np.sum(self.labels == i)) for i, c in enumerate(self.class_names)}


def make_windows(recording, eeg_bands=None, roi_series=None, window_s: Optional[float] = None,
                 hrf_delay_s: float = 5.0, step_s: Optional[float] = None,
                 class_names: Optional[Sequence[str]] = None, censor: Optional[ndarray] = None,
                 mode: str = "blocks") -> Windows:
    """Cut a recording into event-labelled EEG and fMRI windows.

    Parameters
    ----------
    recording : Recording
        Provides ``events`` (BOLD clock), ``alignment``, ``tr`` and ``subject``.
    eeg_bands : EEGBands | None
        From :func:`~eegfmri_viewer.preprocessing.eeg.preprocess_eeg`.
    roi_series : ROISeries | None
        From :func:`~eegfmri_viewer.preprocessing.fmri.parcellate`.
    window_s : float | None
        Window length; default three TRs (6 s when the TR is unknown).
    hrf_delay_s : float
        Haemodynamic delay applied to the BOLD windows (default 5 s).
    step_s : float | None
        Hop between window starts inside an event; default ``window_s``
        (non-overlapping windows).
    class_names : sequence of str | None
        Classes to keep, in this order (e.g. shared by all subjects of a group
        analysis); events of other types are skipped. Default: the sorted
        trial types of the recording.
    censor : ndarray of bool, shape (n_volumes,) | None
        Volumes not to use (e.g. framewise displacement above a threshold):
        a window whose BOLD volumes include one, or whose EEG span overlaps
        the acquisition of one or of the volume before it, is left out.
    mode : "blocks" | "events"
        Windows tile the blocks of a condition, or start at each event's
        onset (see the module's rules).

    Returns
    -------
    windows : Windows

    Raises
    ------
    InputError
        No events, no data stream, or no window fits.
    """
    events = recording.events
    src = recording.label or "recording"
    if events is None or len(events.onset) == 0:
        raise InputError(src, "no events: windows cannot be labelled")
    if eeg_bands is None and roi_series is None:
        raise InputError(src, "neither EEG nor BOLD to cut into windows")
    tr = roi_series.tr if roi_series is not None else recording.tr
    if window_s is None:
        window_s = 3.0 * tr if tr else 6.0
    window_s = float(window_s)
    step_s = window_s if step_s is None else float(step_s)
    if not window_s > 0 or not step_s > 0:
        raise InputError(src, f"window ({window_s} s) and step ({step_s} s) must be > 0")

    types = np.asarray(events.trial_type, dtype=str)
    if class_names is None:
        class_names = sorted(set(types.tolist()))
    class_names = [str(c) for c in class_names]
    cls_index = {c: i for i, c in enumerate(class_names)}

    # the whole volumes inside window_s: windows whose onsets lie window_s apart then never
    # share a volume, however the TR divides the window
    n_fmri = max(1, int(np.floor(window_s / tr + 1e-9))) if roi_series is not None else 0
    n_eeg = 0
    if eeg_bands is not None:
        n_eeg = int(round(window_s * eeg_bands.sfreq))
        align = recording.alignment

    def starts(t: float) -> tuple:
        """First BOLD volume and first EEG sample of the window starting at BOLD-clock ``t``."""
        v0 = s0 = None
        if roi_series is not None:
            v0 = _nearest((t + hrf_delay_s) / tr)
        if eeg_bands is not None:
            t_eeg = float(align.volume_to_eeg_time(t / align.tr)) if align is not None else t
            s0 = _nearest((t_eeg - eeg_bands.times[0]) * eeg_bands.sfreq)
        return v0, s0

    if mode not in ("blocks", "events"):
        raise ValueError(f"mode must be 'blocks' or 'events', got {mode!r}")
    if censor is not None:
        censor = np.asarray(censor, dtype=bool)
        if not tr:
            raise ValueError("censor needs the TR of the recording, to know when each volume was acquired")
        n_volumes = roi_series.n_volumes if roi_series is not None else None
        if n_volumes is not None and len(censor) != n_volumes:
            raise ValueError(f"censor has {len(censor)} entries for {n_volumes} volumes")
    onsets = np.asarray(events.onset, float)
    durations = np.asarray(events.duration, float)
    block_of, n_overlapping = np.arange(len(onsets)), 0
    if mode == "events":
        spans = [starts(o) for o in onsets]
        block_of, dropped = _event_blocks(onsets, types, cls_index, spans, (n_fmri, n_eeg))
        n_overlapping = int(dropped.sum())
        # one window per event: its span is the window, whatever the event's duration
        durations = np.where(dropped, -1.0, window_s)
        step_s = window_s
    rows = []
    n_censored = 0
    for e, (onset, dur, tt) in enumerate(zip(onsets, durations, types)):
        if tt not in cls_index:
            continue
        t = onset
        while t + window_s <= onset + dur + 1e-9:
            v0, s0 = starts(t)
            ok = True
            if v0 is not None:
                ok &= v0 >= 0 and v0 + n_fmri <= roi_series.n_volumes
            if s0 is not None:
                ok &= s0 >= 0 and s0 + n_eeg <= eeg_bands.band_signal.shape[-1]
            if ok and censor is not None and _moved(censor, t, window_s, tr, v0, n_fmri, s0 is not None):
                ok = False
                n_censored += 1
            if ok:
                rows.append((t, cls_index[tt], int(block_of[e]), v0, s0))
            t += step_s
    if not rows:
        n_kept = int(np.isin(types, class_names).sum())
        if n_overlapping and n_overlapping == n_kept:
            raise InputError(src, f"all {n_overlapping} events lie closer than {window_s:g} s to an event of "
                                  "another condition: their windows would mix the two")
        if n_censored:
            raise InputError(src, f"all {n_censored} windows meet a censored (moved) volume, in their BOLD "
                                  "volumes or during their EEG")
        if mode == "events":
            also = f" ({n_overlapping} more left out for overlapping another condition's)" if n_overlapping else ""
            raise InputError(src, f"no event's {window_s:g} s window fits inside the data{also}")
        longest = float(np.max(np.asarray(events.duration, float)[np.isin(types, class_names)], initial=0.0))
        if longest < window_s:
            # an event-related design: events are shorter than any window
            raise InputError(src, f"no {window_s:g} s window fits inside an event: the longest lasts {longest:g} s. "
                                  "Windows are cut inside blocks of one condition; use a shorter "
                                  "[preprocessing] window_s, or merge_gap_s to join consecutive events of a "
                                  "condition into blocks")
        raise InputError(src, f"no {window_s:g} s window fits inside both the events and the data")

    n = len(rows)
    if roi_series is not None:
        fmri = np.stack([roi_series.data[r[3]:r[3] + n_fmri].T for r in rows]).astype(np.float32)
    else:
        fmri = np.zeros((n, 0, 0), dtype=np.float32)
    if eeg_bands is not None:
        eeg = np.stack([eeg_bands.band_signal[:, :, r[4]:r[4] + n_eeg] for r in rows]).astype(np.float32)
    else:
        eeg = np.zeros((n, 0, 0, 0), dtype=np.float32)
    return Windows(
        eeg=eeg,
        fmri=fmri,
        labels=np.array([r[1] for r in rows], dtype=int),
        blocks=np.array([r[2] for r in rows], dtype=int),
        onsets_s=np.array([r[0] for r in rows], dtype=float),
        class_names=class_names,
        subject=np.array([str(recording.subject)] * n),
        n_censored=n_censored,
        n_overlapping=n_overlapping,
    )


def _moved(censor: ndarray, t: float, window_s: float, tr: float, v0: Optional[int], n_fmri: int,
           has_eeg: bool) -> bool:
    """Whether the window starting at BOLD-clock ``t`` meets a censored volume.

    Its BOLD volumes ``v0 : v0 + n_fmri``, and, with EEG, the volumes ``k``
    whose framewise displacement overlaps the EEG span ``[t, t + window_s)``:
    FD[k] compares the head positions of volumes k - 1 and k, so a movement
    anywhere during their acquisition, BOLD-clock ``((k - 1) tr, (k + 1) tr)``,
    can raise it.
    """
    if v0 is not None and np.any(censor[max(v0, 0):v0 + n_fmri]):
        return True
    if has_eeg and tr:
        first = int(np.floor(t / tr + 1e-9))
        last = int(np.ceil((t + window_s) / tr - 1e-9))
        return bool(np.any(censor[max(first, 0):max(last + 1, 0)]))
    return False


def _nearest(x: float) -> int:
    # Python's round() takes halves to the even integer, which made windows 3 TR apart
    # start 2 or 4 volumes apart in turn when the delay is a half TR (5 s at TR 2 s)
    return int(np.floor(x + 0.5 + 1e-9))


def _event_blocks(onsets: ndarray, types: ndarray, cls_index: dict, spans: list, lengths: tuple) -> tuple:
    """Blocks of event-locked windows, and the events left out.

    Two windows overlap when they share a BOLD volume or an EEG sample, judged
    on the index spans actually cut (not on the onsets in seconds, which the
    rounding to volumes and samples can make look apart).

    Parameters
    ----------
    onsets : ndarray, shape (n_events,)
    types : ndarray, shape (n_events,), str
    cls_index : dict
        Classes kept; events of other types neither count nor overlap.
    spans : list of (int | None, int | None)
        First BOLD volume and first EEG sample of each event's window (None
        for a stream that is absent).
    lengths : (int, int)
        Volumes and samples per window.

    Returns
    -------
    block_of : ndarray, shape (n_events,), int
        For each event, the first event of its chain: the events left whose
        windows overlap one another, which the split must keep on one side.
    dropped : ndarray, shape (n_events,), bool
        Events whose window overlaps the window of an event of another kept class.
    """
    kept = np.flatnonzero(np.isin(types, list(cls_index)))
    near = np.zeros((len(kept), len(kept)), dtype=bool)
    for stream, length in enumerate(lengths):
        first = [spans[e][stream] for e in kept]
        if length and all(f is not None for f in first):
            first = np.asarray(first)
            near |= np.abs(first[:, None] - first[None, :]) < length
    other = types[kept][:, None] != types[kept][None, :]
    dropped = np.zeros(len(onsets), dtype=bool)
    dropped[kept] = np.any(near & other, axis=1)
    left = ~dropped[kept]
    # chains: connected groups of overlapping windows among the events left
    block_of = np.arange(len(onsets))
    group = np.arange(len(kept))
    for a in range(len(kept)):
        for b in np.flatnonzero(near[a] & left & left[a]):
            ga, gb = group[a], group[b]
            if ga != gb:
                group[group == gb] = ga
    for k, e in enumerate(kept):
        members = kept[group == group[k]]
        block_of[e] = members[np.argsort(onsets[members], kind="stable")][0]
    return block_of, dropped


def concatenate_windows(parts: Sequence[Windows]) -> Windows:
    """Stack the windows of several recordings (same classes, shapes).

    Block indices are offset so that they stay unique across recordings.

    Parameters
    ----------
    parts : sequence of Windows

    Returns
    -------
    windows : Windows
    """
    parts = list(parts)
    if not parts:
        raise ValueError("no windows to concatenate")
    names = parts[0].class_names
    for p in parts[1:]:
        if p.class_names != names:
            raise ValueError(f"class names differ: {names} vs {p.class_names}")
    blocks, offset = [], 0
    for p in parts:
        blocks.append(p.blocks + offset)
        offset += int(p.blocks.max()) + 1 if len(p) else 0
    return Windows(
        eeg=np.concatenate([p.eeg for p in parts]),
        fmri=np.concatenate([p.fmri for p in parts]),
        labels=np.concatenate([p.labels for p in parts]),
        blocks=np.concatenate(blocks),
        onsets_s=np.concatenate([p.onsets_s for p in parts]),
        class_names=list(names),
        subject=np.concatenate([p.subject for p in parts]),
        n_censored=sum(p.n_censored for p in parts),
        n_overlapping=sum(p.n_overlapping for p in parts),
    )
