"""What the ``info`` command (and the dataset browser) shows about a dataset.

Everything here returns plain JSON-able dicts, so the same data serve the text
output, ``--json`` and the GUI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..progress import check_cancel, report, sub_progress
from .errors import InputError
from .motion import framewise_displacement, motion_summary


def alignment_status(alignment) -> str:
    """One line on how EEG and BOLD were aligned."""
    if alignment is None:
        return "no EEG"
    if alignment.method == "start":
        return f"no volume markers: start-aligned, volume 0 at EEG {alignment.offset_s:g} s"
    if alignment.n_missing or alignment.n_extra:
        return (f"markers '{alignment.marker}': {alignment.n_missing} missing, {alignment.n_extra} extra, "
                f"jitter {alignment.max_jitter_s * 1e3:.1f} ms")
    return f"markers '{alignment.marker}': ok, jitter {alignment.max_jitter_s * 1e3:.1f} ms"


def recording_info(rec) -> dict:
    """Summary of a :class:`Recording` as a JSON-able dict.

    Keys: subject, session, task, run, label, eeg_path, eeg_format, n_channels,
    channels_by_type, bad_channels, sfreq, duration_s, bold_path, bold_shape, n_volumes, tr,
    space, n_volume_markers, marker, alignment, alignment_status, events_source,
    events_per_class, confounds, motion, corrections, corrections_available, warnings.
    """
    from .eeg import channels_by_type, eeg_format

    d = {"subject": rec.subject, "session": rec.session, "task": rec.task, "run": rec.run, "label": rec.label}
    if rec.eeg is not None:
        raw = rec.eeg
        d.update(eeg_path=str(rec.eeg_path), eeg_format=eeg_format(rec.eeg_path), n_channels=len(raw.ch_names),
                 channels_by_type=channels_by_type(raw), bad_channels=list(raw.info["bads"]),
                 sfreq=float(raw.info["sfreq"]),
                 duration_s=round(raw.n_times / raw.info["sfreq"], 3))
    else:
        d.update(eeg_path=None, eeg_format=None, n_channels=0, channels_by_type={}, bad_channels=[], sfreq=None,
                 duration_s=None)
    d.update(bold_path=str(rec.bold_path), bold_shape=[int(x) for x in rec.bold.shape],
             n_volumes=int(rec.bold.shape[3]), tr=rec.tr, space=rec.space)
    al = rec.alignment
    if al is not None:
        d.update(n_volume_markers=al.n_markers, marker=al.marker, alignment={
            "method": al.method, "offset_s": round(al.offset_s, 4), "n_markers": al.n_markers,
            "n_missing": al.n_missing, "n_extra": al.n_extra, "max_jitter_s": round(al.max_jitter_s, 6),
            "messages": list(al.messages)})
    else:
        d.update(n_volume_markers=0, marker=None, alignment=None)
    d["alignment_status"] = alignment_status(al)
    d["events_source"] = rec.events.source if rec.events is not None else None
    d["events_per_class"] = rec.events.counts() if rec.events is not None else {}
    d["confounds"] = None if rec.confounds is None else {"n_columns": int(rec.confounds.shape[1])}
    d["motion"] = motion_summary(framewise_displacement(rec.confounds))
    d["corrections"] = list(rec.corrections)
    avail = []
    if al is not None and al.method == "markers":
        avail.append("gradient")
    if rec.eeg is not None and "ecg" in rec.eeg.get_channel_types():
        avail.append("pulse")
    d["corrections_available"] = avail
    d["warnings"] = list(rec.warnings)
    return d


def dataset_info(path, bold=None, events=None, tr: Optional[float] = None, marker: Optional[str] = None,
                 check_data: bool = False, correct_artifacts: bool = False, progress=None, cancel=None) -> dict:
    """Load every run of a BIDS root (or one EEG + BOLD pair) and summarise it.

    Parameters
    ----------
    path : str | Path
        BIDS root folder, an EEG file (with ``bold``), or a BOLD file alone
        (fMRI only).
    bold, events : str | Path | None
        Single-file opening: the BOLD file and an optional events TSV.
    tr : float | None
        Repetition time: overrides the files' for a single-file opening; for
        a BIDS root, used only by runs whose sidecar and header state none.
    marker : str | None
        Volume marker to align on.
    check_data : bool
        Also scan the samples for NaN / Inf (reads every sample).
    correct_artifacts : bool
        Also run the scanner artifact corrections (slow: loads the EEG).

    Returns
    -------
    info : dict
        ``{"source", "kind": "bids" | "files", "runs": [recording_info...],
        "skipped": [{label, subject, session, task, run, reason, path}], "n_usable"}``.
        A run that fails to load goes to ``skipped`` with the error as reason.

    Raises
    ------
    InputError
        Missing path, empty BIDS root, or a single-file opening that fails.
    """
    from .bids import Skipped, discover, load_run
    from .single import make_entry

    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(path, "not found")
    runs, skipped = [], []
    if path.is_dir():
        kind = "bids"
        disc = discover(path)
        entries = disc.runs
        skipped = [_skipped_dict(s) for s in disc.skipped]
        for e in entries:
            e.marker = marker
            e.fallback_tr = tr  # never over a TR the dataset states
    else:
        kind = "files"
        if bold is None and path.name.lower().endswith((".nii", ".nii.gz")):
            entries = [make_entry(None, path, events, tr, marker)]
        elif bold is None:
            raise InputError(path, _lone_file_problem(path))
        else:
            entries = [make_entry(path, bold, events, tr, marker)]
    n = max(1, len(entries))
    for i, entry in enumerate(entries):
        check_cancel(cancel)
        sub = sub_progress(progress, i / n, (i + 1) / n)
        try:
            rec = load_run(entry, correct_artifacts=correct_artifacts, check_data=check_data, progress=sub, cancel=cancel)
        except InputError as err:
            if kind == "files":
                raise
            skipped.append(_skipped_dict(Skipped(entry.subject, entry.session, entry.task, entry.run,
                                                 reason=str(err), path=entry.eeg_path)))
            continue
        runs.append(recording_info(rec))
    report(progress, 1.0, "done")
    return {"source": str(path.resolve()), "kind": kind, "runs": runs, "skipped": skipped, "n_usable": len(runs)}


def _lone_file_problem(path: Path) -> str:
    """Why a file given alone (not a folder, not a BOLD NIfTI) cannot be summarised."""
    from .eeg import EEG_EXTENSIONS

    name = path.name.lower()
    if any(name.endswith(ext) for ext in EEG_EXTENSIONS):
        return ("an EEG recording is read together with its BOLD run (this application is for simultaneous "
                "EEG-fMRI): give the BOLD file with --bold FILE (and its events with --events FILE)")
    if name.endswith(".toml"):
        return ("is a settings file, not data: give it to `eegfmri-viewer analyze DATASET --config FILE`; "
                "info reads a BIDS folder, an EEG file with --bold, or a BOLD NIfTI")
    if name in ("manifest.json", "dataset.json", "metrics.json") or name.endswith(".npz"):
        return ("is part of a results bundle, not data: read the bundle folder with `eegfmri-viewer report` or "
                "`eegfmri-viewer tables`, or open it in the GUI with Open results")
    accepted = ", ".join(sorted(EEG_EXTENSIONS))
    return (f"not a file info reads: give a BIDS folder, an EEG file ({accepted}) with --bold FILE, "
            "or a BOLD NIfTI (.nii, .nii.gz)")


def _skipped_dict(s) -> dict:
    return {"label": s.label, "subject": s.subject, "session": s.session, "task": s.task, "run": s.run,
            "reason": s.reason, "path": str(s.path) if s.path else None}


def format_info(info: dict) -> str:
    """Human-readable text of :func:`dataset_info`'s result."""
    lines = [f"{info['source']} ({'BIDS dataset' if info['kind'] == 'bids' else 'files'}): "
             f"{info['n_usable']} usable run(s), {len(info['skipped'])} skipped"]
    for r in info["runs"]:
        lines.append("")
        lines.append(r["label"])
        if r["eeg_path"]:
            chans = ", ".join(f"{v} {k.upper()}" for k, v in r["channels_by_type"].items())
            lines.append(f"  EEG    {r['eeg_format']} {r['eeg_path']}")
            lines.append(f"         {r['n_channels']} channels ({chans}), {r['sfreq']:g} Hz, {r['duration_s']:.1f} s")
            if r["bad_channels"]:
                lines.append(f"         marked bad: {', '.join(r['bad_channels'])}")
        else:
            lines.append("  EEG    none (fMRI only)")
        shape = "x".join(str(x) for x in r["bold_shape"])
        lines.append(f"  BOLD   {r['bold_path']}")
        lines.append(f"         {shape}, TR {r['tr']:g} s, space {r['space']}")
        lines.append(f"  align  {r['n_volume_markers']} volume markers; {r['alignment_status']}")
        ev = ", ".join(f"{k} {v}" for k, v in r["events_per_class"].items()) or "none"
        lines.append(f"  events {ev}" + (f" (from {r['events_source']})" if r["events_source"] else ""))
        if r["confounds"]:
            lines.append(f"  confounds {r['confounds']['n_columns']} columns")
        if r.get("motion"):
            m = r["motion"]
            lines.append(f"  motion framewise displacement mean {m['mean_fd_mm']:.2f} mm, max {m['max_fd_mm']:.2f} mm; "
                         f"{m['n_volumes_above']} of {m['n_volumes']} volumes above {m['threshold_mm']:g} mm")
        if r["corrections"]:
            lines += [f"  corrected: {c}" for c in r["corrections"]]
        elif r["corrections_available"]:
            what = {"gradient": "gradient (volume markers)", "pulse": "pulse (ECG channel)"}
            lines.append("  correctable on loading: " + ", ".join(what[c] for c in r["corrections_available"]))
        lines += [f"  warning: {w}" for w in r["warnings"]]
    if info["skipped"]:
        lines.append("")
        lines.append("skipped:")
        lines += [f"  {s['label']}: {s['reason']}" for s in info["skipped"]]
    return "\n".join(lines)
