"""Open one EEG file and one BOLD file without a BIDS folder.

Sidecars lying next to the files with BIDS names are used when present
(``<bold stem>.json`` for the TR; ``<eeg stem minus _eeg>_channels.tsv``,
``_electrodes.tsv``, ``_events.tsv``), so a copied BIDS run opens the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from .bids import RunEntry, entities, load_run
from .errors import InputError
from .recording import Recording


def _stem(path: Path) -> str:
    name = path.name
    for ext in (".nii.gz", ".fif.gz"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return path.stem


def _sibling(path: Path, suffix: str) -> Optional[Path]:
    """``sub-01_task-x_eeg.vhdr`` + ``_channels.tsv`` -> ``sub-01_task-x_channels.tsv`` if it exists."""
    stem = _stem(path)
    base = stem.rsplit("_", 1)[0] if "_" in stem else stem
    cand = path.with_name(base + suffix)
    return cand if cand.exists() else None


def make_entry(eeg_path, bold_path, events_path=None, tr: Optional[float] = None,
               marker: Optional[str] = None, electrodes_path=None) -> RunEntry:
    """Describe a single-file opening as a :class:`RunEntry` (see :func:`open_files`)."""
    if bold_path is None:
        raise InputError(None, "a BOLD file is needed (4-D NIfTI .nii or .nii.gz)")
    bold_path = Path(bold_path).expanduser().resolve()
    eeg_path = Path(eeg_path).expanduser().resolve() if eeg_path is not None else None
    ent = entities(eeg_path if eeg_path is not None else bold_path)
    subject = ent.get("sub") or _stem(eeg_path if eeg_path is not None else bold_path)
    entry = RunEntry(subject=subject, session=ent.get("ses"), task=ent.get("task"), run=ent.get("run"),
                     eeg_path=eeg_path, bold_path=bold_path, tr=tr, marker=marker)
    if eeg_path is not None:
        bold_ent = entities(bold_path)
        differ = [f"{k}-{ent[k]} / {k}-{bold_ent[k]}" for k in ("sub", "ses", "task", "run")
                  if k in ent and k in bold_ent and ent[k] != bold_ent[k]]
        if differ:
            entry.notes.append(f"{eeg_path.name} and {bold_path.name} name different BIDS entities "
                               f"({', '.join(differ)}): are they from the same recording?")
    side = bold_path.with_name(_stem(bold_path) + ".json")
    if side.exists():
        entry.bold_json = [side]
    if events_path is not None:
        events_path = Path(events_path).expanduser().resolve()
        if not events_path.exists():
            raise InputError(events_path, "events file not found")
        entry.events_path = events_path
    else:
        entry.events_path = _sibling(bold_path, "_events.tsv")
    if eeg_path is not None:
        side = eeg_path.with_name(_stem(eeg_path) + ".json")
        if side.exists() and side != bold_path:
            entry.eeg_json = [side]
        entry.channels_path = _sibling(eeg_path, "_channels.tsv")
        entry.electrodes_path = Path(electrodes_path).resolve() if electrodes_path else _sibling(eeg_path, "_electrodes.tsv")
        entry.coordsystem_path = _sibling(eeg_path, "_coordsystem.json")
        if entry.events_path is None:
            entry.eeg_events_path = _sibling(eeg_path, "_events.tsv")
    return entry


def open_files(eeg_path, bold_path, events_path=None, tr: Optional[float] = None, marker: Optional[str] = None,
               electrodes_path=None, correct_artifacts: bool = True, check_data: bool = True,
               progress=None, cancel=None) -> Recording:
    """Open an EEG file and a BOLD file as one :class:`Recording`.

    Parameters
    ----------
    eeg_path : str | Path | None
        ``.vhdr``, ``.edf``, ``.bdf``, ``.set`` or ``.fif``; None for fMRI only.
    bold_path : str | Path
        4-D NIfTI.
    events_path : str | Path | None
        Events TSV (``onset``, ``duration``, ``trial_type``) on the BOLD clock;
        default: a BIDS-named ``*_events.tsv`` next to the BOLD, else the EEG
        annotations.
    tr : float | None
        Repetition time in seconds; wins over sidecar and header (a difference is
        reported).
    marker : str | None
        Volume marker to align on (default: R128, Volume or Scan Start).
    electrodes_path : str | Path | None
        BIDS-style electrodes TSV.
    correct_artifacts, check_data : bool
        See :func:`eegfmri_viewer.io.bids.load_run`.

    Returns
    -------
    recording : Recording
    """
    entry = make_entry(eeg_path, bold_path, events_path, tr, marker, electrodes_path)
    return load_run(entry, correct_artifacts=correct_artifacts, check_data=check_data, progress=progress, cancel=cancel)
