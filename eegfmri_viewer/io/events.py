"""Experimental events: BIDS ``*_events.tsv`` and EEG annotations.

Events handed to later stages are on the BOLD clock (seconds from the onset of
volume 0). BIDS ``func/*_events.tsv`` already are; ``eeg/*_events.tsv`` and EEG
annotations are on the EEG clock and go through the :class:`Alignment`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .alignment import VOLUME_MARKERS, annotation_times, marker_matches
from .errors import InputError
from .recording import Alignment, Events

# Annotations that are bookkeeping of the recorder or the scanner, not conditions.
_NOT_CONDITION_PREFIXES = ("new segment", "bad_", "bad ", "edge", "sync on", "sync off", "datastart")
_NOT_CONDITIONS = {"trigger", "missing_trigger", "boundary", "", "nan", "n/a"}


def read_events_table(path):
    """Read a BIDS events TSV as a DataFrame (``onset`` numeric, ``n/a`` as NaN).

    Raises
    ------
    InputError
        Missing / unreadable file or no ``onset`` column.
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise InputError(path, "events file not found")
    if not path.is_file():
        raise InputError(path, "is a folder, expected an events TSV file")
    try:
        table = pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=True, encoding="utf-8-sig")
    except Exception as err:
        raise InputError(path, f"cannot read events TSV ({type(err).__name__}: {err})") from err
    table.columns = [str(c).strip() for c in table.columns]
    if "onset" not in table.columns:
        raise InputError(path, "events TSV has no 'onset' column")
    try:
        table["onset"] = table["onset"].astype(float)
    except (TypeError, ValueError) as err:
        raise InputError(path, f"events TSV 'onset' column is not numeric ({err})") from err
    if "duration" in table.columns:
        try:
            table["duration"] = table["duration"].astype(float)
        except (TypeError, ValueError) as err:
            raise InputError(path, f"events TSV 'duration' column is not numeric ({err})") from err
        dur = table["duration"].to_numpy(float)
        # n/a (NaN) durations are allowed by BIDS and read as 0; a negative or infinite one is a typo.
        bad = ~np.isnan(dur) & (~np.isfinite(dur) | (dur < 0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(path, f"events TSV 'duration' must be >= 0 seconds or n/a; line {row + 2} has {dur[row]:g}"
                                   + (f" ({int(bad.sum())} such rows)" if bad.sum() > 1 else ""))
    return table


def missing_onset_warning(table, path) -> list:
    """Say which rows of an events table were left out for an ``n/a`` onset.

    BIDS requires a number in ``onset``; such rows cannot be placed in time.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`read_events_table` (``onset`` as float, ``n/a`` as NaN).
    path : str | Path
        The events file, named in the message.

    Returns
    -------
    warnings : list of str
        ``["<path>: lines 2, 5: onset n/a; these events were left out"]`` or ``[]``.
        Line numbers count the header as line 1.
    """
    onset = table["onset"].to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(onset))
    if not len(bad):
        return []
    lines = [str(int(i) + 2) for i in bad]
    shown = ", ".join(lines[:10]) + (f" and {len(lines) - 10} more" if len(lines) > 10 else "")
    return [f"{path}: line{'s' if len(lines) > 1 else ''} {shown}: onset n/a (BIDS needs a number of seconds); "
            f"{'these events were' if len(lines) > 1 else 'this event was'} left out"]


def _label_column(table) -> Optional[str]:
    for col in ("trial_type", "value", "stim_type", "condition"):
        if col in table.columns:
            return col
    return None


def is_condition(description: str, extra_markers=()) -> bool:
    """False for scanner volume / slice markers and recorder bookkeeping annotations."""
    d = str(description).strip().lower()
    for m in tuple(VOLUME_MARKERS) + tuple(m for m in extra_markers if m):
        if marker_matches(description, m):
            return False
    return d not in _NOT_CONDITIONS and not any(d.startswith(p) for p in _NOT_CONDITION_PREFIXES)


def table_to_events(table, source: str, exclude_markers=()) -> Events:
    """Events from an events table, leaving out scanner markers and rows without a label."""
    col = _label_column(table)
    onset = table["onset"].to_numpy(float)
    dur = table["duration"].to_numpy(float) if "duration" in table.columns else np.zeros(len(table))
    dur = np.where(np.isfinite(dur), dur, 0.0)
    if col is None:
        labels = np.full(len(table), "event", dtype=object)
        # said where `info` and the analysis show the events' origin: one class cannot be classified
        source = f"{source} (no trial_type, value, stim_type or condition column: every event is 'event')"
    else:
        labels = table[col].astype(str).to_numpy()
    keep = np.isfinite(onset) & np.array([is_condition(x, exclude_markers) for x in labels], dtype=bool)
    return Events(onset=onset[keep], duration=dur[keep], trial_type=np.asarray(labels[keep], dtype=str), source=source)


def read_events_tsv(path) -> Events:
    """Read BIDS events (``onset``, ``duration``, ``trial_type``) as :class:`Events`.

    ``trial_type`` falls back to ``value``; rows with ``n/a`` onsets and
    scanner-marker rows (``R128`` ...) are left out.
    """
    return table_to_events(read_events_table(path), str(path))


def eeg_clock_to_bold(events: Events, alignment: Alignment, source: Optional[str] = None) -> Events:
    """Move events from the EEG clock to the BOLD clock with ``alignment``."""
    vol = alignment.eeg_time_to_volume(events.onset)
    return Events(onset=np.asarray(vol, float) * alignment.tr, duration=events.duration.copy(),
                  trial_type=events.trial_type.copy(), source=source or events.source)


def events_from_annotations(raw, alignment: Alignment) -> Events:
    """Condition events from the EEG annotations, on the BOLD clock.

    Volume markers, slice triggers and recorder bookkeeping (``New Segment``,
    ``BAD_`` ...) are left out.
    """
    desc, onsets = annotation_times(raw)
    dur = np.asarray(raw.annotations.duration, float)
    keep = np.array([is_condition(d, (alignment.marker,)) for d in desc], dtype=bool)
    ev = Events(onset=onsets[keep], duration=dur[keep], trial_type=desc[keep], source="EEG annotations")
    return eeg_clock_to_bold(ev, alignment, "EEG annotations")


def check_events_within(events: Events, run_duration_s: float, path) -> None:
    """Raise :class:`InputError` when an event starts outside ``[0, run_duration_s]``.

    Parameters
    ----------
    events : Events
        On the BOLD clock.
    run_duration_s : float
        ``n_volumes * TR``.
    path : str | Path
        The events' file, named in the message.
    """
    on = np.asarray(events.onset, float)
    bad = (on < -1e-6) | (on > run_duration_s + 1e-6)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(
            path,
            f"{int(bad.sum())} event(s) outside the recording (0 to {run_duration_s:.1f} s); "
            f"first: '{events.trial_type[first]}' at {on[first]:.2f} s",
        )
