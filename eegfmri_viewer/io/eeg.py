"""EEG readers (through MNE) and the checks every EEG file goes through.

Accepted formats: BrainVision (``.vhdr`` with its ``.vmrk`` / ``.eeg``), EDF
(``.edf``), BDF (``.bdf``), EEGLAB (``.set``, with or without ``.fdt``) and FIF
(``.fif``, ``.fif.gz``). Files are opened without loading the samples
(``preload=False``) so a long 5 kHz recording costs little memory; the samples
are read on demand, in chunks.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from ..progress import check_cancel, report
from .errors import InputError

EEG_EXTENSIONS = {
    ".vhdr": "BrainVision",
    ".edf": "EDF",
    ".bdf": "BDF",
    ".set": "EEGLAB",
    ".fif": "FIF",
    ".fif.gz": "FIF",
}

# Channel-name prefixes that mark non-EEG sensors recorded alongside the EEG
# (scanner EEG caps almost always carry an ECG lead, often EOG / EMG).
_NAME_TYPES = (
    (re.compile(r"^(ecg|ekg)", re.I), "ecg"),
    (re.compile(r"^(eog|veog|heog|leog|reog)", re.I), "eog"),
    (re.compile(r"^emg", re.I), "emg"),
    (re.compile(r"^(resp|breath)", re.I), "resp"),
    (re.compile(r"^(gsr|eda)", re.I), "gsr"),
    (re.compile(r"^(trig|sti|status)", re.I), "stim"),
)


def eeg_format(path) -> str:
    """Name of the EEG format of ``path`` (``"BrainVision"``, ``"EDF"``, ...).

    Raises
    ------
    InputError
        When the extension is not one of the accepted EEG formats.
    """
    name = Path(path).name.lower()
    for ext in sorted(EEG_EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext):
            return EEG_EXTENSIONS[ext]
    accepted = ", ".join(sorted(EEG_EXTENSIONS))
    raise InputError(path, f"unsupported EEG format (accepted: {accepted})")


def read_eeg(path, preload: bool = False):
    """Open an EEG recording with MNE, without loading its samples by default.

    Parameters
    ----------
    path : str | Path
        ``.vhdr``, ``.edf``, ``.bdf``, ``.set`` or ``.fif`` file.
    preload : bool
        Load the samples into memory now (default False).

    Returns
    -------
    raw : mne.io.BaseRaw
        The recording; channels whose names say ECG / EOG / EMG / ... are typed
        accordingly (see :func:`type_channels_by_name`).

    Raises
    ------
    InputError
        Missing or unreadable file, unsupported format, duplicate channel names,
        no samples.
    """
    import mne

    path = Path(path)
    fmt = eeg_format(path)
    if not path.exists():
        raise InputError(path, "EEG file not found")
    if not path.is_file():
        raise InputError(path, "is a folder, expected an EEG file")
    readers = {
        "BrainVision": mne.io.read_raw_brainvision,
        "EDF": mne.io.read_raw_edf,
        "BDF": mne.io.read_raw_bdf,
        "EEGLAB": mne.io.read_raw_eeglab,
        "FIF": mne.io.read_raw_fif,
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = readers[fmt](path, preload=preload, verbose="warning")
        except MemoryError:
            raise
        except Exception as err:  # MNE's readers raise many types for corrupt headers (configparser, scipy, ...)
            raise InputError(path, f"cannot read {fmt} EEG file ({type(err).__name__}: {_short(err)})") from err
    for w in caught:
        msg = str(w.message)
        if "Channel names are not unique" in msg:
            dups = msg.split("duplicates for:", 1)[-1].split(". Applying")[0].strip()
            raise InputError(path, f"duplicate channel names {dups}")
    check_unique_names(raw.ch_names, path)
    if raw.n_times == 0 or len(raw.ch_names) == 0:
        raise InputError(path, "EEG file holds no samples or no channels")
    type_channels_by_name(raw)
    return raw


#: Bytes per value of MNE's BrainVision sample formats (INT_16, INT_32, IEEE_FLOAT_32).
BRAINVISION_BYTES = {"short": 2, "int": 4, "single": 4, "double": 8}


def truncation_warnings(raw) -> list:
    """Say when a BrainVision data file does not hold a whole number of samples.

    BrainVision headers do not state the number of samples: readers take the
    file size divided by the size of one sample (all channels). A copy cut
    short mid-sample shows as a remainder; MNE then reads the whole samples
    and silently drops the rest, so the recording may be shorter than it was.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        As :func:`read_eeg` returns it.

    Returns
    -------
    warnings : list of str
        Empty for other formats and for whole files.
    """
    extras = getattr(raw, "_raw_extras", None)
    filenames = getattr(raw, "filenames", ())
    if not extras or not filenames or filenames[0] is None or not str(filenames[0]).lower().endswith(".eeg"):
        return []
    width = BRAINVISION_BYTES.get(str(extras[0].get("fmt")))
    n_ch = int(extras[0].get("orig_nchan") or raw.info["nchan"])
    if width is None or n_ch <= 0:
        return []
    data = Path(filenames[0])
    try:
        size = data.stat().st_size
    except OSError:
        return []
    rest = size % (n_ch * width)
    if rest == 0:
        return []
    return [f"{data}: {size} bytes is not a whole number of samples ({n_ch} channels \u00d7 {width} bytes); "
            f"the last {rest} bytes were left out: the file looks cut short (an incomplete copy?), so the "
            "recording may end early"]


def _short(err: Exception, limit: int = 300) -> str:
    """The first line of an error message, cut to ``limit`` characters (binary junk can make it huge)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return text if len(text) <= limit else text[:limit] + "..."


def check_unique_names(ch_names, path) -> None:
    """Raise :class:`InputError` when two channels share a name (case-insensitive).

    Names differing only in case collide in montage matching, so they count as
    duplicates too.
    """
    seen: dict = {}
    dups = []
    for name in ch_names:
        key = name.strip().lower()
        if key in seen:
            dups.append(name)
        seen[key] = name
    if dups:
        raise InputError(path, f"duplicate channel names {sorted(set(dups))}")


def type_channels_by_name(raw) -> dict:
    """Set the type of channels whose names mark ECG, EOG, EMG, respiration, GSR or triggers.

    Only channels MNE typed as EEG are changed; nothing is dropped.

    Returns
    -------
    changed : dict
        ``{channel name: new type}``.
    """
    types = dict(zip(raw.ch_names, raw.get_channel_types()))
    changed = {}
    for name, kind in types.items():
        if kind != "eeg":
            continue
        for pattern, new in _NAME_TYPES:
            if pattern.match(name.strip()):
                changed[name] = new
                break
    if changed:
        raw.set_channel_types(changed, on_unit_change="ignore", verbose="error")
    return changed


def channels_by_type(raw) -> dict:
    """``{channel type: count}`` of a recording, e.g. ``{"eeg": 63, "ecg": 1}``."""
    kinds, counts = np.unique(raw.get_channel_types(), return_counts=True)
    return {str(k): int(c) for k, c in zip(kinds, counts)}


def check_finite(raw, path=None, chunk_s: float = 20.0, progress=None, cancel=None) -> None:
    """Read the samples chunk by chunk and fail on the first NaN or Inf.

    Memory stays at one chunk (``n_channels x chunk_s x sfreq`` floats) however
    long the recording.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Preloaded or not.
    path : str | Path | None
        Named in the error (defaults to the raw's first file).
    chunk_s : float
        Seconds read at a time.

    Raises
    ------
    InputError
        Naming the first channel and time with a non-finite value.
    """
    if path is None:
        path = raw.filenames[0] if raw.filenames and raw.filenames[0] else "EEG"
    n = raw.n_times
    step = max(1, int(round(chunk_s * raw.info["sfreq"])))
    for start in range(0, n, step):
        check_cancel(cancel)
        stop = min(n, start + step)
        try:
            data = raw.get_data(start=start, stop=stop)
        except MemoryError:
            raise
        except Exception as err:  # a data file shorter than its header says, or changed on disk
            raise InputError(path, f"cannot read the EEG samples from {start / raw.info['sfreq']:.3f} s "
                                   f"({type(err).__name__}: {_short(err)})") from err
        bad = ~np.isfinite(data)
        if bad.any():
            ch, s = np.argwhere(bad)[0]
            kind = "NaN" if np.isnan(data[ch, s]) else "Inf"
            t = (start + s) / raw.info["sfreq"]
            raise InputError(
                path,
                f"EEG data contain {kind} values ({int(bad.sum())} in this block; first in channel "
                f"{raw.ch_names[ch]} at {t:.3f} s)",
            )
        report(progress, stop / n, "checking EEG samples")
