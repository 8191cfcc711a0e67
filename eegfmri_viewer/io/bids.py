"""BIDS discovery and loading of one run into a :class:`Recording`.

Layout read (``[...]`` optional)::

    root/
      dataset_description.json
      [task-<t>_bold.json, task-<t>_eeg.json ...]        inherited sidecars
      sub-<s>/[ses-<e>/]
        eeg/sub-<s>[_ses-<e>]_task-<t>[_run-<r>]_eeg.vhdr|.edf|.bdf|.set|.fif
            ..._eeg.json  ..._channels.tsv  ..._events.tsv  ..._electrodes.tsv  ..._coordsystem.json
        func/sub-<s>[_ses-<e>]_task-<t>[_run-<r>]_bold.nii[.gz]
            ..._bold.json (RepetitionTime)  ..._events.tsv
      derivatives/fmriprep/sub-<s>/[ses-<e>/]func/
            ..._space-MNI152NLin2009cAsym[_res-<n>]_desc-preproc_bold.nii.gz
            ..._desc-confounds_timeseries.tsv

A run is usable when it has both an EEG recording and a BOLD run with the same
subject, session, task and run. Sidecars follow the BIDS inheritance principle:
JSON files from the root down to the data folder are merged (deeper wins), and
for TSV files the nearest applicable one is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional


from ..progress import check_cancel, report, sub_progress
from .errors import InputError
from .recording import Recording, make_label

ENTITY_RE = re.compile(r"(?:^|_)([a-zA-Z]+)-([a-zA-Z0-9]+)")
EEG_SUFFIX_RE = re.compile(r"_eeg\.(vhdr|edf|bdf|set|fif)$", re.I)
OTHER_EEG_RE = re.compile(r"_eeg\.([a-z0-9]+)$", re.I)
BOLD_RE = re.compile(r"_bold\.nii(\.gz)?$")
# Preferred fMRIPrep output spaces, best first; any other MNI152* space comes after.
MNI_PREFERENCE = ("MNI152NLin2009cAsym", "MNI152NLin6Asym", "MNI152NLin2009cSym", "MNI152Lin")
# Files in eeg/ that belong to a recording without being its header.
_EEG_COMPANIONS = (".eeg", ".vmrk", ".fdt", ".dat")


def entities(path) -> dict:
    """BIDS key-value entities of a file name, e.g. ``{"sub": "01", "task": "rest"}``."""
    name = Path(path).name
    stem = name.split(".", 1)[0]
    return {k: v for k, v in ENTITY_RE.findall(stem)}


@dataclass
class RunEntry:
    """Files of one usable run (or of a single-file opening).

    All paths are absolute; sidecar lists run from the root down to the data
    folder (the inheritance order).
    """

    subject: str
    session: Optional[str]
    task: Optional[str]
    run: Optional[str]
    eeg_path: Optional[Path]
    bold_path: Path
    bold_raw_path: Optional[Path] = None   # the raw BIDS BOLD when a derivative is used
    bold_json: list = field(default_factory=list)
    eeg_json: list = field(default_factory=list)
    events_path: Optional[Path] = None     # BOLD clock (func/)
    eeg_events_path: Optional[Path] = None  # EEG clock (eeg/)
    channels_path: Optional[Path] = None
    electrodes_path: Optional[Path] = None
    coordsystem_path: Optional[Path] = None
    confounds_path: Optional[Path] = None
    tr: Optional[float] = None             # given by the user; wins over sidecar and header
    fallback_tr: Optional[float] = None    # given by the user for a dataset; only where no file states a TR
    marker: Optional[str] = None           # user-chosen volume marker
    notes: list = field(default_factory=list)

    @property
    def label(self) -> str:
        return make_label(self.subject, self.session, self.task, self.run)


@dataclass
class Skipped:
    """A run that cannot be used, and why."""

    subject: str
    session: Optional[str]
    task: Optional[str]
    run: Optional[str]
    reason: str
    path: Optional[Path] = None

    @property
    def label(self) -> str:
        return make_label(self.subject, self.session, self.task, self.run)


@dataclass
class Discovery:
    """Result of :func:`discover`: usable runs and skipped runs with reasons."""

    root: Path
    runs: list
    skipped: list

    def subjects(self) -> list:
        return sorted({r.subject for r in self.runs})


def _key(ent: dict) -> tuple:
    return (ent.get("sub"), ent.get("ses"), ent.get("task"), ent.get("run"))


def inherited(root: Path, data_path: Path, suffix: str) -> list:
    """Sidecars applicable to ``data_path`` under the BIDS inheritance principle.

    Parameters
    ----------
    root : Path
        BIDS root.
    data_path : Path
        The data file.
    suffix : str
        Sidecar suffix with extension, e.g. ``"_bold.json"`` or ``"_events.tsv"``.

    Returns
    -------
    paths : list of Path
        From the top level down to the data folder; within a folder, fewer
        entities first.
    """
    root = Path(root).resolve()
    data_path = Path(data_path).resolve()
    want = entities(data_path)
    dirs = []
    d = data_path.parent
    while True:
        dirs.append(d)
        if d == root or d.parent == d:
            break
        d = d.parent
    found = []
    for level, folder in enumerate(reversed(dirs)):
        if not folder.is_dir():
            continue
        for f in folder.iterdir():
            name = f.name
            if not f.is_file() or not (name.endswith(suffix) or name == suffix.lstrip("_")):
                continue
            if f.resolve() == data_path:
                continue
            ent = entities(f)
            if all(want.get(k) == v for k, v in ent.items()):
                found.append((level, len(ent), f))
    found.sort(key=lambda x: (x[0], x[1]))
    return [f for _, _, f in found]


def merged_json(paths) -> dict:
    """Merge JSON sidecars in inheritance order (later files override earlier)."""
    from .bold import read_json

    out: dict = {}
    for p in paths:
        out.update(read_json(p))
    return out


def _nearest(paths) -> Optional[Path]:
    return paths[-1] if paths else None


def _data_dirs(root: Path, kind: str) -> list:
    dirs = []
    for sub in sorted(root.glob("sub-*")):
        if not sub.is_dir():
            continue
        if (sub / kind).is_dir():
            dirs.append(sub / kind)
        for ses in sorted(sub.glob("ses-*")):
            if (ses / kind).is_dir():
                dirs.append(ses / kind)
    return dirs


def _fmriprep_bold(root: Path, key: tuple) -> tuple:
    """Best ``space-MNI152*`` preprocessed BOLD and confounds in derivatives/fmriprep for ``key``."""
    deriv = None
    for name in ("fmriprep", "fMRIPrep", "fMRIprep"):
        if (root / "derivatives" / name).is_dir():
            deriv = root / "derivatives" / name
            break
    if deriv is None:
        return None, None
    sub, ses, task, run = key
    folder = deriv / f"sub-{sub}" / (f"ses-{ses}" if ses else "") / "func"
    if not folder.is_dir():
        return None, None
    cands, confounds = [], None
    for f in sorted(folder.iterdir()):
        ent = entities(f)
        if _key(ent) != key:
            continue
        if BOLD_RE.search(f.name) and ent.get("desc") == "preproc" and ent.get("space", "").startswith("MNI152"):
            space = ent["space"]
            rank = MNI_PREFERENCE.index(space) if space in MNI_PREFERENCE else len(MNI_PREFERENCE)
            res = ent.get("res", "")
            cands.append((rank, res, f))
        if f.name.endswith(("_desc-confounds_timeseries.tsv", "_desc-confounds_regressors.tsv")):
            confounds = f
    if not cands:
        return None, confounds
    cands.sort(key=lambda c: (c[0], c[1]))
    return cands[0][2], confounds


def discover(root, include_bold_only: bool = False) -> Discovery:
    """List the runs of a BIDS dataset that have both EEG and BOLD.

    Parameters
    ----------
    root : str | Path
        BIDS root folder.
    include_bold_only : bool
        Also return BOLD runs without EEG as usable (``eeg_path=None``), for
        fMRI-only analyses; by default they are skipped.

    Returns
    -------
    discovery : Discovery
        ``runs`` (list of :class:`RunEntry`, sorted) and ``skipped`` (list of
        :class:`Skipped` with reasons).

    Raises
    ------
    InputError
        Missing root, not a folder, or no ``sub-*`` folder with eeg/ or func/ data.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise InputError(root, "BIDS root not found")
    if not root.is_dir():
        raise InputError(root, "is a file, expected a BIDS root folder")
    root = root.resolve()
    eeg_files: dict = {}
    bold_files: dict = {}
    skipped = []
    for d in _data_dirs(root, "eeg"):
        for f in sorted(d.iterdir()):
            ent = entities(f)
            if EEG_SUFFIX_RE.search(f.name):
                eeg_files.setdefault(_key(ent), []).append(f)
            elif OTHER_EEG_RE.search(f.name) and f.suffix.lower() not in _EEG_COMPANIONS + (".json", ".tsv"):
                skipped.append(Skipped(*_key(ent), reason=f"unsupported EEG format {f.suffix} "
                                       "(accepted: .vhdr, .edf, .bdf, .set, .fif)", path=f))
    for d in _data_dirs(root, "func"):
        for f in sorted(d.iterdir()):
            if BOLD_RE.search(f.name):
                bold_files.setdefault(_key(entities(f)), []).append(f)
    if not eeg_files and not bold_files and not skipped:
        if (root / "manifest.json").is_file() and (root / "dataset.json").is_file():
            raise InputError(root, "is a results bundle, not a dataset: read it with `eegfmri-viewer report` or "
                                   "`eegfmri-viewer tables`, or open it in the GUI with Open results")
        raise InputError(root, "empty BIDS root: no sub-*/[ses-*/]eeg/*_eeg.* or func/*_bold.nii[.gz] files found")
    runs = []
    for key in sorted(set(eeg_files) | set(bold_files), key=lambda k: tuple(x or "" for x in k)):
        eegs, bolds = eeg_files.get(key, []), bold_files.get(key, [])
        if not bolds:
            skipped.append(Skipped(*key, reason="EEG without a BOLD run (no func/*_bold.nii[.gz] with the same "
                                   "subject, session, task and run)", path=eegs[0]))
            continue
        if not eegs and not include_bold_only:
            skipped.append(Skipped(*key, reason="BOLD without an EEG recording (no eeg/*_eeg.* with the same "
                                   "subject, session, task and run)", path=bolds[0]))
            continue
        runs.append(_make_entry(root, key, eegs[0] if eegs else None, bolds, eegs))
    return Discovery(root=root, runs=runs, skipped=skipped)


def _make_entry(root: Path, key: tuple, eeg: Optional[Path], bolds: list, eegs: list) -> RunEntry:
    notes = []
    bold = bolds[0]
    if len(bolds) > 1:
        notes.append(f"{len(bolds)} BOLD files for this run; using {bold.name}")
    if len(eegs) > 1:
        notes.append(f"{len(eegs)} EEG files for this run; using {eeg.name}")
    entry = RunEntry(*key, eeg_path=eeg, bold_path=bold, notes=notes)
    entry.bold_json = inherited(root, bold, "_bold.json")
    entry.events_path = _nearest(inherited(root, bold, "_events.tsv"))
    deriv, confounds = _fmriprep_bold(root, key)
    if deriv is not None:
        entry.bold_raw_path = bold
        entry.bold_path = deriv
        side = deriv.with_name(deriv.name.split(".nii")[0] + ".json")
        if side.exists():
            entry.bold_json = entry.bold_json + [side]
        entry.notes.append(f"using fMRIPrep output {deriv.name}")
    entry.confounds_path = confounds if deriv is not None else None
    if eeg is not None:
        entry.eeg_json = inherited(root, eeg, "_eeg.json")
        entry.eeg_events_path = _nearest(inherited(root, eeg, "_events.tsv"))
        entry.channels_path = _nearest(inherited(root, eeg, "_channels.tsv"))
        entry.electrodes_path = _nearest(inherited(root, eeg, "_electrodes.tsv"))
        entry.coordsystem_path = _nearest(inherited(root, eeg, "_coordsystem.json"))
    return entry


def load_run(entry: RunEntry, correct_artifacts: bool = True, check_data: bool = True,
             progress=None, cancel=None) -> Recording:
    """Load one run: EEG (not preloaded), BOLD (proxy), TR, space, alignment, events.

    Parameters
    ----------
    entry : RunEntry
        From :func:`discover` or :func:`eegfmri_viewer.io.single.open_files`.
    correct_artifacts : bool
        Remove the gradient artifact (when volume markers exist) and the pulse
        artifact (when an ECG channel exists); logged in ``Recording.corrections``.
    check_data : bool
        Scan EEG and BOLD samples for NaN / Inf (chunked, constant memory).

    Returns
    -------
    recording : Recording

    Raises
    ------
    InputError
        Any invalid input, naming the file.
    eegfmri_viewer.progress.Cancelled
    """
    from .alignment import align_recording, marker_interval
    from .artifacts import correct_artifacts as _correct
    from .bold import check_finite_bold, check_tr_sources, header_tr, read_bold, read_json, resolve_tr
    from .eeg import check_finite, read_eeg, truncation_warnings
    from .events import (check_events_within, eeg_clock_to_bold, events_from_annotations,
                         missing_onset_warning, read_events_table, table_to_events)
    from .montage import apply_channels_tsv, apply_positions
    from .space import detect_space

    warns = list(entry.notes)
    report(progress, 0.0, f"{entry.label}: reading BOLD")
    bold = read_bold(entry.bold_path)
    side = merged_json(entry.bold_json) if entry.bold_json else None
    tr, w = resolve_tr(bold, entry.bold_path, side, entry.bold_json[-1] if entry.bold_json else None, entry.tr,
                       fallback_tr=entry.fallback_tr)
    warns += w
    space, w = detect_space(bold, entry.bold_path)
    warns += w
    n_vol = int(bold.shape[3])
    check_cancel(cancel)

    raw = alignment = None
    eeg_table = None
    if entry.eeg_path is not None:
        report(progress, 0.1, f"{entry.label}: reading EEG")
        raw = read_eeg(entry.eeg_path)
        warns += truncation_warnings(raw)
        if entry.eeg_json:
            eeg_side = merged_json(entry.eeg_json)
            sf = eeg_side.get("SamplingFrequency")
            if isinstance(sf, (int, float)) and abs(float(sf) - raw.info["sfreq"]) > 1e-3 * raw.info["sfreq"]:
                warns.append(f"{entry.eeg_json[-1]}: SamplingFrequency {sf} differs from the file's "
                             f"{raw.info['sfreq']:g} Hz; using the file's")
        if entry.channels_path is not None:
            apply_channels_tsv(raw, entry.channels_path)
        units = None
        if entry.coordsystem_path is not None:
            units = merged_json([entry.coordsystem_path]).get("EEGCoordinateUnits")
            if units is not None and not isinstance(units, str):
                raise InputError(entry.coordsystem_path, f"EEGCoordinateUnits {units!r} is not text "
                                                         "(expected \"m\", \"cm\" or \"mm\")")
        apply_positions(raw, entry.eeg_path, entry.electrodes_path, units)
        if entry.eeg_events_path is not None:
            eeg_table = read_events_table(entry.eeg_events_path)
        check_cancel(cancel)
        report(progress, 0.2, f"{entry.label}: aligning EEG and BOLD")
        marker_name, marker_s = marker_interval(raw, entry.marker, eeg_table)
        if entry.tr is None and side is not None and "RepetitionTime" in side:
            stated = next(p for p in reversed(entry.bold_json) if "RepetitionTime" in read_json(p))
            check_tr_sources(tr, "RepetitionTime", stated, header_tr(bold), marker_name, marker_s)
        try:
            alignment = align_recording(raw, tr, n_vol, entry.marker, eeg_table, eeg_path=entry.eeg_path)
        except InputError as err:
            if marker_s is None or abs(marker_s - tr) <= 0.05 * tr:
                raise
            # a wrong TR shows as an EEG too short for the run: say what the markers measured
            raise InputError(err.path, f"{err.problem}; but the '{marker_name}' volume markers come every "
                                       f"{marker_s:.3g} s, not every {tr:g} s: is the TR right?") from err
        warns += [f"{entry.eeg_path}: {m[len('warning: '):]}" for m in alignment.messages if m.startswith("warning: ")]

    report(progress, 0.3, f"{entry.label}: reading events")
    events, events_file = None, None
    if entry.events_path is not None:
        table = read_events_table(entry.events_path)
        warns += missing_onset_warning(table, entry.events_path)
        events, events_file = table_to_events(table, str(entry.events_path)), entry.events_path
    elif eeg_table is not None and alignment is not None:
        warns += missing_onset_warning(eeg_table, entry.eeg_events_path)
        ev = table_to_events(eeg_table, str(entry.eeg_events_path), (alignment.marker,))
        events, events_file = eeg_clock_to_bold(ev, alignment), entry.eeg_events_path
    elif raw is not None:
        events, events_file = events_from_annotations(raw, alignment), entry.eeg_path
    if events is not None:
        check_events_within(events, n_vol * tr, events_file)
        if len(events) == 0:
            warns.append(f"{events_file}: no condition events (every row is a scanner marker or has an "
                         "empty / n/a trial_type)")
            events = None
    else:
        warns.append(f"{entry.label}: no events (no *_events.tsv and no EEG annotations)")

    if check_data:
        if raw is not None:
            check_finite(raw, entry.eeg_path, progress=sub_progress(progress, 0.3, 0.6), cancel=cancel)
        warns += check_finite_bold(bold, entry.bold_path, progress=sub_progress(progress, 0.6, 0.7), cancel=cancel)

    confounds = None
    if entry.confounds_path is not None:
        confounds = _read_confounds(entry.confounds_path, n_vol, warns)

    corrections = []
    if raw is not None and correct_artifacts:
        corrections, w = _correct(raw, alignment, progress=sub_progress(progress, 0.7, 1.0), cancel=cancel)
        warns += [f"{entry.eeg_path}: {m}" for m in w]
    report(progress, 1.0, f"{entry.label}: loaded")
    return Recording(
        subject=entry.subject, session=entry.session, task=entry.task, run=entry.run,
        eeg=raw, eeg_path=entry.eeg_path, bold=bold, bold_path=entry.bold_path, tr=tr,
        events=events, alignment=alignment, confounds=confounds, space=space,
        corrections=corrections, warnings=warns,
        events_path=Path(events_file) if events_file is not None and Path(str(events_file)).is_file() else None,
    )


def _read_confounds(path: Path, n_vol: int, warns: list):
    import pandas as pd

    try:
        table = pd.read_csv(path, sep="\t", na_values=["n/a"])
    except Exception as err:
        raise InputError(path, f"cannot read confounds TSV ({type(err).__name__}: {err})") from err
    if len(table) != n_vol:
        warns.append(f"{path}: {len(table)} confound rows for {n_vol} volumes; confounds not used")
        return None
    return table
