"""Open one EEG file and one BOLD file without a BIDS folder.

Sidecars lying next to the files with BIDS names are used when present
(``<bold stem>.json`` for the TR; ``<eeg stem minus _eeg>_channels.tsv``,
``_electrodes.tsv``, ``_events.tsv``), so a copied BIDS run opens the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class RecordingFiles:
    """The loose files of one recording, as ``analyze --bold FILE [--events FILE] [--eeg FILE] [--tr S]`` takes them.

    A JSON-safe description (paths as absolute strings) that can cross a
    process boundary: :func:`eegfmri_viewer.pipeline.analysis_process.analyze_in_process`
    sends it to its child, which opens it with :meth:`open`.

    Attributes
    ----------
    bold : str
        4-D BOLD NIfTI.
    events : str or None
        Events TSV on the BOLD clock; None: the BIDS-named ``_events.tsv``
        beside the BOLD (or the EEG's), as :func:`open_files` finds it.
    eeg : str or None
        EEG file recorded with the BOLD run; None for fMRI only.
    tr : float or None
        Repetition time given by the user; None: from the sidecar or header.
    """

    bold: str
    events: Optional[str] = None
    eeg: Optional[str] = None
    tr: Optional[float] = None

    def __post_init__(self) -> None:
        if not self.bold:
            raise InputError(None, "a BOLD file is needed (4-D NIfTI .nii or .nii.gz)")
        for name in ("bold", "events", "eeg"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, str(Path(value).expanduser().resolve()))
        if self.tr is not None:
            object.__setattr__(self, "tr", float(self.tr))

    @classmethod
    def from_recording(cls, recording, tr: Optional[float] = None) -> "RecordingFiles":
        """The files a recording opened with :func:`open_files` was read from.

        Events read from the EEG's BIDS events file (EEG clock) are not named:
        ``events`` takes BOLD-clock files only, and :func:`open_files` finds
        that file again by its name.

        Parameters
        ----------
        recording : Recording
            With a ``bold_path``.
        tr : float or None
            The TR the user gave when opening it (the recording's own TR may
            come from the files, which the analysis reads again).

        Raises
        ------
        InputError
            The recording has no BOLD file.
        """
        bold = getattr(recording, "bold_path", None)
        if bold is None:
            raise InputError(getattr(recording, "eeg_path", None), "the recording has no BOLD run to analyse")
        eeg = getattr(recording, "eeg_path", None)
        events = getattr(recording, "events_path", None)
        if events is not None and eeg is not None:
            # the EEG's own BIDS events file, the one _sibling(eeg, "_events.tsv") finds
            stem = _stem(Path(eeg))
            eeg_events = Path(eeg).with_name((stem.rsplit("_", 1)[0] if "_" in stem else stem) + "_events.tsv")
            if Path(events).resolve() == eeg_events.resolve():
                events = None
        return cls(bold=str(bold), events=str(events) if events is not None else None,
                   eeg=str(eeg) if eeg is not None else None, tr=tr)

    def paths(self) -> list:
        """The input files, BOLD first: ``[bold, events, eeg]`` without the Nones (list of str)."""
        return [p for p in (self.bold, self.events, self.eeg) if p is not None]

    def describe(self) -> str:
        """``"sub-01_task-x_bold.nii.gz (+ events ev.tsv, + EEG sub-01.vhdr)"``: what is analysed, by name."""
        extra = [f"events {Path(self.events).name}"] if self.events else []
        extra += [f"EEG {Path(self.eeg).name}"] if self.eeg else []
        extra += [f"TR {self.tr:g} s"] if self.tr is not None else []
        return Path(self.bold).name + (f" (+ {', + '.join(extra)})" if extra else "")

    def command(self, out: str = "FOLDER") -> str:
        """The equivalent command line, ``eegfmri-viewer analyze --bold ... --out OUT``."""
        import shlex

        parts = ["eegfmri-viewer", "analyze", "--bold", self.bold]
        if self.events:
            parts += ["--events", self.events]
        if self.eeg:
            parts += ["--eeg", self.eeg]
        if self.tr is not None:
            parts += ["--tr", f"{self.tr:g}"]
        return " ".join(shlex.quote(p) for p in parts) + f" --out {out}"

    def to_dict(self) -> dict:
        """``{"bold": str, "events": str | None, "eeg": str | None, "tr": float | None}`` (JSON-safe)."""
        return {"bold": self.bold, "events": self.events, "eeg": self.eeg, "tr": self.tr}

    @classmethod
    def from_dict(cls, values: dict) -> "RecordingFiles":
        """Inverse of :meth:`to_dict`; unknown keys are an error.

        Raises
        ------
        InputError
            Unknown keys or no ``bold``.
        """
        unknown = set(values) - {"bold", "events", "eeg", "tr"}
        if unknown:
            raise InputError(None, f"recording files: unknown keys {', '.join(sorted(unknown))}")
        if not values.get("bold"):
            raise InputError(None, "recording files: a BOLD file is needed")
        return cls(bold=values["bold"], events=values.get("events"), eeg=values.get("eeg"), tr=values.get("tr"))

    def open(self, correct_artifacts: bool = True, progress=None, cancel=None) -> Recording:
        """Open the files with :func:`open_files` (see there for ``correct_artifacts``)."""
        return open_files(self.eeg, self.bold, self.events, tr=self.tr, correct_artifacts=correct_artifacts,
                          progress=progress, cancel=cancel)
