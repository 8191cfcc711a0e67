"""Electrode positions and channel types.

Positions come, in this order, from a BIDS ``*_electrodes.tsv``, from the EEG
file itself (EEGLAB, FIF carry positions), or from the standard 10-05 montage
that MNE ships, matched by channel name case-insensitively with the old/new
10-20 aliases (T3/T7, T4/T8, T5/P7, T6/P8). An EEG channel that none of these
place is an error: its data would silently vanish from every spatial view.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import InputError

ALIASES = {"t3": "t7", "t4": "t8", "t5": "p7", "t6": "p8", "t7": "t3", "t8": "t4", "p7": "t5", "p8": "t6"}

# BIDS channels.tsv "type" -> MNE channel type.
BIDS_TYPES = {
    "EEG": "eeg", "EOG": "eog", "HEOG": "eog", "VEOG": "eog", "ECG": "ecg", "EMG": "emg",
    "MISC": "misc", "TRIG": "stim", "RESP": "resp", "GSR": "gsr", "REF": "eeg",
    "PPG": "bio", "TEMP": "temperature", "SYSCLOCK": "syst", "AUDIO": "misc",
}


# BIDS channels.tsv "status" values (empty when the column is absent or the cell is blank).
_STATUS_VALUES = ("good", "bad", "n/a", "")


def normalize_name(name: str) -> str:
    """Lower-case channel name without the 'EEG ' prefix and '-REF'-like suffixes of EDF exports."""
    n = name.strip().lower()
    n = re.sub(r"^eeg[\s_-]+", "", n)
    n = re.sub(r"[-_](ref|le|re|avg|ar|m1|m2|a1|a2)$", "", n)
    return n


def standard_positions() -> dict:
    """``{normalised name: position (3,) in metres, head frame}`` of MNE's 10-05 montage."""
    import mne

    names = mne.channels.get_builtin_montages()
    kind = "colin27_1005" if "colin27_1005" in names else "standard_1005"
    montage = mne.channels.make_standard_montage(kind)
    pos = montage.get_positions()["ch_pos"]
    return {name.lower(): np.asarray(p, float) for name, p in pos.items()}


def match_standard(names) -> tuple:
    """Match channel names to the standard montage.

    Returns
    -------
    matched : dict
        ``{channel name: position (3,)}`` in metres, head frame.
    unmatched : list of str
    """
    std = standard_positions()
    matched, unmatched = {}, []
    for name in names:
        key = normalize_name(name)
        if key in std:
            matched[name] = std[key]
        elif key in ALIASES and ALIASES[key] in std:
            matched[name] = std[ALIASES[key]]
        else:
            unmatched.append(name)
    return matched, unmatched


def _read_tsv(path) -> list:
    path = Path(path)
    try:
        with open(path, "r", encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(path, f"cannot read TSV file ({err})") from err
    return rows


def read_electrodes_tsv(path, units: Optional[str] = None) -> dict:
    """Read a BIDS ``*_electrodes.tsv`` (name, x, y, z).

    Parameters
    ----------
    path : str | Path
    units : str | None
        ``"m"``, ``"cm"`` or ``"mm"`` (from ``*_coordsystem.json``); guessed from
        the magnitude of the coordinates when None (a head is ~0.1 m across).

    Returns
    -------
    positions : dict
        ``{name: ndarray (3,)}`` in metres; rows with ``n/a`` are left out.
    """
    rows = _read_tsv(path)
    if not rows or not {"name", "x", "y", "z"} <= set(rows[0]):
        raise InputError(path, "electrodes.tsv needs the columns name, x, y, z")
    if units is not None and not isinstance(units, str):
        raise InputError(path, f"coordinate units {units!r} are not text (expected m, cm or mm)")
    pos = {}
    for line, row in enumerate(rows, start=2):
        values = [row.get(k) for k in ("x", "y", "z")]
        if any(v is None or str(v).strip().lower() in ("n/a", "nan", "") for v in values):
            continue  # BIDS n/a: position unknown, the standard montage may place it
        try:
            xyz = np.array([float(v) for v in values])
        except (TypeError, ValueError):
            raise InputError(path, f"line {line} ({str(row.get('name') or '').strip() or 'no name'}): coordinates "
                                   f"{values} are not numbers (use n/a for an unknown position)") from None
        if np.all(np.isfinite(xyz)):
            pos[str(row.get("name") or "").strip()] = xyz
    pos.pop("", None)
    if not pos:
        raise InputError(path, "electrodes.tsv has no numeric positions")
    if len(pos) > 1 and np.ptp(np.array(list(pos.values())), axis=0).max() == 0:
        point = [float(v) for v in next(iter(pos.values()))]
        raise InputError(path, f"all {len(pos)} electrodes are at the same point {point}; "
                               "the file holds no real positions")
    scales = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}
    scale = scales.get((units or "").lower())
    if scale is None:
        size = np.max(np.abs(np.array(list(pos.values()))))
        scale = 1.0 if size < 1.0 else (1e-2 if size < 30 else 1e-3)
    elif len(pos) >= 3:
        _check_head_size(path, np.array(list(pos.values())), units, scale, scales)
    return {k: v * scale for k, v in pos.items()}


# Electrode clouds spanning less or more than this (metres) are no head: a unit error.
_HEAD_SPAN_M = (0.05, 0.5)


def _check_head_size(path, xyz, units: str, scale: float, scales: dict) -> None:
    """Raise :class:`InputError` when the positions, read in ``units``, cannot be a head (~0.2 m across)."""
    raw_span = float(np.ptp(xyz, axis=0).max())
    span = raw_span * scale
    if _HEAD_SPAN_M[0] <= span <= _HEAD_SPAN_M[1]:
        return
    fits = [u for u, f in scales.items() if _HEAD_SPAN_M[0] <= raw_span * f <= _HEAD_SPAN_M[1]]
    hint = (f"; are they in {fits[0]} although coordsystem.json says {units}?" if fits
            else "; are these electrode positions?")
    raise InputError(path, f"positions span {span:.3g} m, not a head (~0.2 m){hint} "
                           "(fix EEGCoordinateUnits in *_coordsystem.json or the coordinates)")


def apply_channels_tsv(raw, path) -> dict:
    """Set channel types and bad channels from a BIDS ``*_channels.tsv``.

    Returns
    -------
    changed : dict
        ``{channel name: new MNE type}``.
    """
    rows = _read_tsv(path)
    if rows and "name" not in rows[0]:
        raise InputError(path, "channels.tsv needs a 'name' column")
    lower = {n.lower(): n for n in raw.ch_names}
    # an EDF export's "EEG Fp1-REF" is the table's "Fp1"; a short name that two channels
    # share ("EEG C3-REF", "EEG C3-LE") is ambiguous, and a row naming it is refused below
    by_short: dict = {}
    for n in raw.ch_names:
        by_short.setdefault(normalize_name(n), []).append(n)
    normalized = {k: v[0] for k, v in by_short.items() if len(v) == 1}
    listed = [str(row.get("name") or "").strip() for row in rows]
    if rows and not any(n.lower() in lower or normalize_name(n) in by_short for n in listed):
        raise InputError(path, f"channels.tsv lists none of the recording's channels (it has {listed[:5]}"
                               f"{' ...' if len(listed) > 5 else ''}; the EEG file has {raw.ch_names[:5]}"
                               f"{' ...' if len(raw.ch_names) > 5 else ''}); is it the sidecar of another recording?")
    current = dict(zip(raw.ch_names, raw.get_channel_types()))
    changed, bads = {}, []
    for line, row in enumerate(rows, start=2):
        listed_name = str(row.get("name") or "").strip()
        name = lower.get(listed_name.lower()) or normalized.get(normalize_name(listed_name))
        if name is None:
            shared = by_short.get(normalize_name(listed_name), [])
            if len(shared) > 1:
                raise InputError(path, f"line {line}: '{listed_name}' could be any of the recording's channels "
                                       f"{', '.join(shared)}; name the channel as the EEG file does")
            continue
        kind = BIDS_TYPES.get(str(row.get("type") or "").strip().upper())
        if kind is not None and kind != current[name]:
            changed[name] = kind
        status = str(row.get("status") or "").strip().lower()
        if status not in _STATUS_VALUES:
            raise InputError(path, f"line {line} ({name}): status {row.get('status')!r} is not one of "
                                   "good, bad or n/a")
        if status == "bad":
            bads.append(name)
    if changed:
        raw.set_channel_types(changed, on_unit_change="ignore", verbose="error")
    if bads:
        raw.info["bads"] = sorted(set(raw.info["bads"]) | set(bads))
    return changed


def _has_positions(raw, names) -> bool:
    pos = {ch["ch_name"]: ch["loc"][:3] for ch in raw.info["chs"]}
    return all(np.all(np.isfinite(pos[n])) and np.any(pos[n] != 0) for n in names)


def apply_positions(raw, path, electrodes_tsv=None, units: Optional[str] = None) -> str:
    """Give every EEG channel a position.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Modified in place (its info, never its file).
    path : str | Path
        The EEG file, named in errors.
    electrodes_tsv : str | Path | None
        BIDS electrodes file; wins over everything else.
    units : str | None
        Units of ``electrodes_tsv``.

    Returns
    -------
    source : str
        Where the positions came from: the electrodes file, ``"EEG file"`` or
        ``"standard 10-05 montage"``.

    Raises
    ------
    InputError
        EEG channels found in no montage (listed by name).
    """
    import mne

    eeg = [n for n, t in zip(raw.ch_names, raw.get_channel_types()) if t == "eeg"]
    if not eeg:
        raise InputError(path, "no EEG channels in the recording")
    if electrodes_tsv is not None:
        given = read_electrodes_tsv(electrodes_tsv, units)
        lower = {normalize_name(k): v for k, v in given.items()}
        ch_pos = {n: lower[normalize_name(n)] for n in eeg if normalize_name(n) in lower}
        rest = [n for n in eeg if n not in ch_pos]
        std, unmatched = match_standard(rest)
        ch_pos.update(std)
        source = Path(electrodes_tsv).name + (" + standard 10-05 montage" if std else "")
    elif _has_positions(raw, eeg):
        return "EEG file"
    else:
        ch_pos, unmatched = match_standard(eeg)
        source = "standard 10-05 montage"
    if unmatched:
        raise InputError(
            path,
            f"channels not found in any montage: {unmatched} (give their positions in a *_electrodes.tsv, "
            "or mark them as non-EEG in *_channels.tsv)",
        )
    montage = mne.channels.make_dig_montage(ch_pos=ch_pos, coord_frame="head")
    raw.set_montage(montage, on_missing="ignore", verbose="error")
    return source


def channel_positions(raw) -> tuple:
    """EEG channel names and positions.

    Returns
    -------
    names : list of str
    pos : ndarray, shape (n_eeg, 3)
        Head frame, metres; NaN where unknown.
    """
    names, pos = [], []
    for ch, kind in zip(raw.info["chs"], raw.get_channel_types()):
        if kind == "eeg":
            names.append(ch["ch_name"])
            p = np.asarray(ch["loc"][:3], float)
            pos.append(p if np.any(p != 0) else np.full(3, np.nan))
    return names, np.asarray(pos, float).reshape(-1, 3)
