"""``analyze``: recordings (or a BIDS folder) in, a results bundle out.

Stages (each timed in ``manifest.json`` under ``timings_s``):

1. ``load``: BIDS discovery and loading (or the given recordings); runs
   without EEG are used only when no run has EEG (fMRI-only mode).
2. ``preprocess``: per recording, EEG bands (re-reference, decimate, band-pass)
   and the per-volume covariance of the analytic band signals (for the
   coupling, see :mod:`~eegfmri_viewer.pipeline.eeg_power`); BOLD
   parcellated into ROI series; events merged into blocks
   (:mod:`~eegfmri_viewer.pipeline.blocks`) and cut into windows.
3. ``split``: one train / validation / test split by blocks, shared by every
   model, so that phase 2 and the metrics of all modalities agree on which
   windows are held out.
4. ``phase1_fmri``: Chebyshev GCNN on ROIs; ``phase1_eeg``: one per band on
   electrodes (one electrode graph shared by the bands, built from the
   broadband sum of the band signals of the training windows).
5. ``transfer``: EEG -> ROI transfer matrix; EEG CAMs and node features are
   carried to the ROIs linearly (``eeg_roi_cam = T @ eeg_cam``).
6. ``phase2`` (EEG present and ``phase2.enabled``): on the salient ROI set,
   the union over classes of the top fMRI-CAM ROIs taken in turn (class 0's
   best, class 1's best, ...) until ``phase2.n_salient`` ROIs are chosen.
7. ``save``: the bundle, written atomically.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
from numpy import ndarray

from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.io.motion import REPORT_THRESHOLD_MM, framewise_displacement, motion_summary
from eegfmri_viewer.pipeline.config import AnalysisConfig
from eegfmri_viewer.pipeline.coupling import class_blocks, task_regressors
from eegfmri_viewer.progress import check_cancel, report, sub_progress
from eegfmri_viewer.results import file_sha256

# Progress fractions at which each stage starts (the last one ends at 1).
_STAGES = {"load": 0.0, "preprocess": 0.08, "phase1_fmri": 0.3, "phase1_eeg": 0.42, "transfer": 0.75,
           "phase2": 0.78, "coupling_rois": 0.94, "save": 0.97}


class _Timer:
    def __init__(self):
        self.timings = {}

    def stage(self, name):
        timer = self

        class _Ctx:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                timer.timings[name] = round(timer.timings.get(name, 0.0) + time.perf_counter() - self.t0, 3)

        return _Ctx()


def _input_files(recordings) -> list:
    files = []
    for rec in recordings:
        for p in (rec.eeg_path, rec.bold_path):
            if p is None:
                continue
            p = Path(p)
            files.append(p)
            if p.suffix.lower() == ".vhdr":
                files += [p.with_suffix(s) for s in (".vmrk", ".eeg")]
            elif p.suffix.lower() == ".set":
                files.append(p.with_suffix(".fdt"))
        if rec.events is not None and rec.events.source and Path(str(rec.events.source)).is_file():
            files.append(Path(str(rec.events.source)))
    seen, out = set(), []
    for f in files:
        f = f.resolve()
        if f.is_file() and f not in seen:
            seen.add(f)
            out.append(f)
    return out


def _strip_prefix(labels, prefix: str):
    """``["sub-01", "02"]`` -> ``["01", "02"]``: BIDS entity labels with or without their key."""
    if not labels:
        return labels
    return [str(x)[len(prefix):] if str(x).startswith(prefix) else str(x) for x in labels]


def _load_recordings(source, subjects, sessions, config, warnings, progress, cancel, tr=None) -> tuple:
    """Returns (recordings, label, source description)."""
    from eegfmri_viewer.io.recording import Recording

    subjects = _strip_prefix(subjects, "sub-")
    sessions = _strip_prefix(sessions, "ses-")

    if isinstance(source, Recording):
        source = [source]
    if isinstance(source, (list, tuple)):
        recs = list(source)
        if subjects:
            recs = [r for r in recs if r.subject in subjects]
        if sessions:
            recs = [r for r in recs if r.session in sessions]
        if not recs:
            raise InputError(None, "no recording left to analyse after the subject / session selection")
        label = recs[0].label if len(recs) == 1 else f"{len(recs)} recordings"
        return recs, label, [str(r.bold_path or r.eeg_path) for r in recs]
    from eegfmri_viewer.io.bids import discover, load_run

    root = Path(source)
    discovery = discover(root, include_bold_only=True)
    runs = discovery.runs
    if subjects:
        missing = sorted(set(subjects) - {r.subject for r in runs})
        if missing:
            raise InputError(root, f"subject(s) {', '.join(missing)} not found; available: "
                                   f"{', '.join(sorted({r.subject for r in runs}))}")
        runs = [r for r in runs if r.subject in subjects]
    if sessions:
        available = sorted({str(r.session) for r in runs if r.session})
        missing = sorted(set(sessions) - set(available))
        if missing:
            raise InputError(root, f"session(s) {', '.join(missing)} not found"
                                   + (f" for the selected subjects; available: {', '.join(available)}" if available
                                      else "; the dataset has no ses-* folders"))
        runs = [r for r in runs if r.session in sessions]
    for r in runs:
        r.fallback_tr = tr
    for s in discovery.skipped:
        warnings.append(f"skipped {s.label}: {s.reason}")
    if any(r.eeg_path is not None for r in runs):
        bold_only = [r for r in runs if r.eeg_path is None]
        for r in bold_only:
            warnings.append(f"skipped {r.label}: no EEG while other runs have EEG")
        runs = [r for r in runs if r.eeg_path is not None]
    if not runs:
        raise InputError(root, "no usable run for the selected subjects and sessions")
    recs = []
    for i, entry in enumerate(runs):
        check_cancel(cancel)
        report(progress, i / len(runs), f"loading {entry.label}")
        recs.append(load_run(entry, correct_artifacts=config.preprocessing.correct_artifacts,
                             progress=sub_progress(progress, i / len(runs), (i + 1) / len(runs)), cancel=cancel))
    return recs, root.name, str(root.resolve())


def _load_atlas(config):
    from eegfmri_viewer.preprocessing import load_atlas, load_label_atlas

    name = config.preprocessing.atlas
    if name.lower().endswith((".nii", ".nii.gz")):
        return load_label_atlas(name)
    return load_atlas(name, radius_mm=config.preprocessing.radius_mm)


def class_activity(fmri_windows, labels, n_classes: int):
    """Mean BOLD of each class's windows against the mean of all windows, per ROI.

    Read beside the CAM: a ROI can support a class by being active in it or by
    being silent in it (a classifier often tells a state by another state's
    missing activity), and this says which.

    Parameters
    ----------
    fmri_windows : ndarray, shape (n_windows, n_rois, n_times)
        The model's fMRI input (BOLD scaled per subject or run, see
        ``preprocessing.bold_scaling``).
    labels : ndarray, shape (n_windows,)
    n_classes : int

    Returns
    -------
    ndarray, shape (n_classes, n_rois)
        In the input's units (standard deviations of the ROI's series); NaN for a
        class without windows.
    """
    level = np.asarray(fmri_windows).mean(axis=2, dtype=np.float64)
    labels = np.asarray(labels)
    overall = level.mean(axis=0)
    out = np.full((n_classes, level.shape[1]), np.nan)
    for c in range(n_classes):
        if (labels == c).any():
            out[c] = level[labels == c].mean(axis=0) - overall
    return out


def _all_roi_lagged_coupling(covariances, rois_per_rec, T, tr: float, ccfg, task_designs=None, sessions=None,
                             subjects=None, progress=None, cancel=None) -> tuple:
    """Lagged EEG-BOLD coupling at every atlas ROI (not only the phase-2 nodes).

    So that any ROI the user selects has its lag curves. The permutations use
    the same seed, hence the same block orders, as the phase-2 nodes' test: on
    those ROIs both give the same numbers.

    Returns
    -------
    dict
        ``roi_lagged_corr`` (n_bands, n_rois, n_lags), ``roi_peak_lag_s``,
        ``roi_p_value`` and ``roi_p_value_fwer`` (n_bands, n_rois; corrected over
        all bands and atlas ROIs); ``recording_lagged_r`` (n_recordings, n_bands,
        n_rois), each recording's own r at the canonical delay, and
        ``recording_session`` and ``recording_subject`` (n_recordings,), its
        session and subject labels: the units of a before / after test of the
        coupling (paired by subject when the same subjects were recorded twice).
    time_courses : dict
        ``power`` (n_recordings, n_bands, n_rois, n_volumes_max) and ``bold``
        (n_recordings, n_rois, n_volumes_max), float16: what was correlated
        (:func:`~eegfmri_viewer.pipeline.coupling.prepared_time_courses`), NaN
        after the end of a shorter recording; ``n_volumes`` (n_recordings,).
    """
    from eegfmri_viewer.pipeline.coupling import lagged_coupling, prepared_time_courses, zero_lag_correlation
    from eegfmri_viewer.pipeline.eeg_power import roi_power

    power = [roi_power(c, T) for c in covariances]
    bold = [np.asarray(r, dtype=np.float32).T for r in rois_per_rec]
    x, y = prepared_time_courses(power, bold, tr, confounds=task_designs)
    out = lagged_coupling(power, bold, tr, ccfg.min_lag_s, ccfg.max_lag_s, ccfg.n_permutations, ccfg.block_s,
                          ccfg.seed, null=ccfg.null, prepared=(x, y), progress=progress, cancel=cancel)
    per_recording = zero_lag_correlation(x, y)
    coupling = {"roi_lagged_corr": out["lagged_corr"], "roi_peak_lag_s": out["peak_lag_s"],
                "roi_p_value": out["p_value"], "roi_p_value_fwer": out["p_value_fwer"],
                "recording_lagged_r": per_recording,
                "recording_session": np.asarray([str(s) for s in (sessions or [""] * len(bold))]),
                "recording_subject": np.asarray([str(s) for s in (subjects or [""] * len(bold))])}
    n_volumes = np.array([b.shape[-1] for b in y])
    # float16 halves the file; the z-scores keep about 3 significant digits, plenty to plot
    # and to recompute each recording's r to 1e-3.
    power_out = np.full((len(x),) + x[0].shape[:2] + (n_volumes.max(),), np.nan, dtype=np.float16)
    bold_out = np.full((len(y), y[0].shape[0], n_volumes.max()), np.nan, dtype=np.float16)
    for r, (a, b) in enumerate(zip(x, y)):
        power_out[r, ..., : a.shape[-1]] = a
        bold_out[r, :, : b.shape[-1]] = b
    return coupling, {"power": power_out, "bold": bold_out, "n_volumes": n_volumes}


def _connection_arrays(prefix: str, mask_key: str, cam_classes, salient, graph) -> dict:
    """Bundle arrays of the salient connections on ``graph`` (the one the CAM was computed on).

    ``{prefix}_connections`` (2, n_conn), ``{prefix}_connection_weight`` (n_conn,),
    ``{prefix}_connection_saliency`` (n_classes, n_conn) and ``mask_key`` (n_classes, n_conn).
    """
    from eegfmri_viewer.training.saliency import connection_summary

    summary = connection_summary(cam_classes, salient, graph.edge_index, graph.edge_weight)
    return {f"{prefix}_connections": summary["connections"], f"{prefix}_connection_weight": summary["weight"],
            f"{prefix}_connection_saliency": summary["saliency"], mask_key: summary["salient"]}


def _round_robin_top(cam_classes: ndarray, n: int) -> ndarray:
    """Union over classes of their best nodes, taken in turn, until ``n`` nodes."""
    cam_classes = np.asarray(cam_classes, dtype=float)
    # a node NaN in every class (no BOLD) is never taken; NaN in one class only ranks last there
    usable = np.flatnonzero(np.isfinite(cam_classes).any(axis=0))
    cam_classes = np.nan_to_num(cam_classes, nan=-np.inf)
    orders = [usable[np.argsort(-row[usable], kind="stable")] for row in cam_classes]
    n = int(min(n, len(usable)))
    chosen, seen, rank = [], set(), 0
    while len(chosen) < n and rank < len(usable):
        for order in orders:
            node = int(order[rank])
            if node not in seen and len(chosen) < n:
                seen.add(node)
                chosen.append(node)
        rank += 1
    return np.array(sorted(chosen), dtype=np.int64)


def _scale_bold_per_subject(per_rec_windows: list, rois_per_rec: list, rec_subjects: list) -> None:
    """z-score the ROI series of each subject over all its runs together, in place.

    The windows are slices of the same detrended series (zero mean per run), so
    dividing them by the subject's per-ROI standard deviation is the same as
    cutting them from the scaled series.
    """
    from eegfmri_viewer.preprocessing.fmri import pooled_roi_scale

    for subject in sorted(set(rec_subjects)):
        idx = [i for i, s in enumerate(rec_subjects) if s == subject]
        scale = pooled_roi_scale([rois_per_rec[i] for i in idx])
        for i in idx:
            win = per_rec_windows[i]
            win.fmri = (win.fmri / scale[None, :, None]).astype(np.float32)
            rois_per_rec[i] = (rois_per_rec[i] / scale[None, :]).astype(np.float32)


def band_sampling(sfreq: float, lo: float, hi: float, phase1) -> tuple:
    """Subsampling factor and kernel duration of one band's model.

    A band-passed signal holds nothing above ``hi``, so every ``q``-th sample
    with ``q = floor(sfreq / (2.5 hi))`` keeps it (the new Nyquist frequency
    is 1.25 ``hi``, a margin for the filter's transition band) while the
    model of a slow band becomes many times cheaper (delta: q = 25 at 250 Hz).
    The kernel follows the new rate; it covers at least one cycle of ``lo``
    so that slow bands keep a kernel of several samples.

    Returns
    -------
    q : int
        1 when ``phase1.eeg_subsample`` is off.
    kernel_s : float
        ``max(phase1.eeg_kernel_s, 1 / lo)``.
    """
    q = max(1, int(sfreq // (2.5 * hi))) if phase1.eeg_subsample else 1
    return q, max(float(phase1.eeg_kernel_s), 1.0 / float(lo))


def _recording_info(rec, bad_eeg: dict, motion: dict, empty_rois: Optional[dict] = None) -> dict:
    return {"subject": rec.subject, "session": rec.session, "task": rec.task, "run": rec.run,
            "label": rec.label, "eeg_path": str(rec.eeg_path) if rec.eeg_path else None,
            "bold_path": str(rec.bold_path) if rec.bold_path else None, "tr": rec.tr, "space": rec.space,
            "warnings": list(rec.warnings), "corrections": list(rec.corrections),
            # None: the EEG of this recording was not preprocessed (fMRI-only analysis)
            "eeg_bad_channels": bad_eeg.get(str(rec.label)),
            "motion": motion.get(str(rec.label)),
            # None: not parcellated (skipped before); else atlas indices of its ROIs without BOLD signal
            "empty_rois": (empty_rois or {}).get(str(rec.label))}


def roi_signal_warnings(roi_series, bold_path) -> list:
    """What a run's parcellation must say about ROIs without usable BOLD.

    Parameters
    ----------
    roi_series : ROISeries
        From :func:`~eegfmri_viewer.preprocessing.fmri.parcellate`; its
        ``empty_rois`` are the ROIs without signal (outside the field of view
        or the brain mask, or holding NaN / Inf voxels, listed in
        ``nonfinite_rois``).
    bold_path : str or Path or None
        The BOLD file, named in the warnings.

    Returns
    -------
    warnings : list of str
    """
    atlas = roi_series.atlas
    n = atlas.n_rois
    out = []
    nonfinite = np.asarray(roi_series.nonfinite_rois if roi_series.nonfinite_rois is not None else [], dtype=int)
    empty = np.setdiff1d(np.asarray(roi_series.empty_rois if roi_series.empty_rois is not None else [], dtype=int),
                         nonfinite)
    where = bold_path or "BOLD image"
    if len(empty):
        out.append(f"{where}: {len(empty)} of {n} {atlas.name} atlas ROIs hold no BOLD voxels (outside the "
                   f"field of view or the brain mask; e.g. {_roi_list(atlas, empty)}): their series are "
                   "flat zeros, they carry no information to the models and are never phase-2 nodes")
    if len(nonfinite):
        out.append(f"{where}: {len(nonfinite)} of {n} {atlas.name} atlas ROIs hold NaN/Inf voxels "
                   f"({_roi_list(atlas, nonfinite)}): left out of this run like ROIs without voxels")
    return out


def _roi_list(atlas, idx, limit: int = 5) -> str:
    names = [f"{atlas.names[i]}" if atlas.names[i] else f"ROI {i}" for i in idx[:limit]]
    return ", ".join(names) + (f" and {len(idx) - limit} more" if len(idx) > limit else "")


def class_subject_warnings(labels: ndarray, subjects: ndarray, class_names: Sequence[str]) -> list:
    """Warn when classes and subjects are confounded: a class missing from some subjects.

    A class whose windows all come from some of the subjects can be told by
    who was recorded instead of by the brain state (e.g. one subject's
    events.tsv without a trial_type column gives the class ``event`` only
    there).

    Parameters
    ----------
    labels : ndarray, shape (n_windows,)
        Class index of each window.
    subjects : ndarray, shape (n_windows,)
        Subject label of each window.
    class_names : sequence of str

    Returns
    -------
    warnings : list of str
        One per class absent from some subject, and one per subject missing classes.
    """
    labels = np.asarray(labels)
    subjects = np.asarray(subjects).astype(str)
    subject_order = sorted(set(subjects.tolist()))
    if len(subject_order) < 2:
        return []
    have = {s: {int(c) for c in np.unique(labels[subjects == s])} for s in subject_order}
    out = []
    for c, name in enumerate(class_names):
        with_c = [s for s in subject_order if c in have[s]]
        if with_c and len(with_c) < len(subject_order):
            out.append(f"class '{name}' occurs only in {', '.join('sub-' + s for s in with_c)}: it is confounded "
                       "with the subject (a model can tell it by who was recorded)")
    for s in subject_order:
        missing = [name for c, name in enumerate(class_names) if c not in have[s]]
        if missing and len(missing) < len(class_names):
            out.append(f"class(es) {', '.join(missing)} absent from sub-{s}")
    return out


def validation_warnings(split: ndarray, subjects: ndarray, level: str, training) -> list:
    """What the analysis must say when models get no validation windows.

    Without them a model trains for all epochs (no early stopping) and from
    its first initialisation only (nothing to choose on).

    Parameters
    ----------
    split : ndarray, shape (n_windows,)
        ``"train"`` / ``"val"`` / ``"test"``.
    subjects : ndarray, shape (n_windows,)
    level : "group" | "individual"
    training : TrainingConfig

    Returns
    -------
    warnings : list of str
    """
    if training.val_fraction <= 0:
        return []
    if not np.any(split == "val"):
        return [f"no validation windows (too few blocks per class for training.val_fraction "
                f"{training.val_fraction:g}): early stopping is off, every model trains for all {training.epochs} "
                "epochs, and each from its first initialisation only"]
    if level != "individual":
        return []
    subjects = np.asarray(subjects).astype(str)
    # a subject without training windows gets no model at all
    trained = set(subjects[split == "train"].tolist())
    without = sorted(trained - set(subjects[split == "val"].tolist()))
    if not without:
        return []
    return [f"subject(s) {', '.join(without)} have no validation windows (too few blocks): their models train "
            f"for all {training.epochs} epochs without early stopping, from their first initialisation only"]


def analyze(source, out_dir, config=None, subjects: Optional[Sequence[str]] = None,
            sessions: Optional[Sequence[str]] = None, level: Optional[str] = None, force: bool = False,
            progress=None, cancel=None, on_epoch: Optional[Callable[[dict], None]] = None,
            tr: Optional[float] = None) -> Path:
    """Run the whole pipeline and write a results bundle.

    Parameters
    ----------
    source : str or Path or list of Recording
        A BIDS root, or recordings already loaded (e.g. from
        :func:`eegfmri_viewer.io.single.open_files`).
    out_dir : str or Path
        Bundle folder to write.
    config : AnalysisConfig or str or Path or None
        Settings, or a ``config.toml`` to read; default settings when None.
    subjects, sessions : sequence of str, optional
        Labels to keep (``"01"`` or ``"sub-01"``; ``"1"`` or ``"ses-1"``).
    level : "group" | "individual" | None
        Overrides ``config.training.level`` when given.
    force : bool
        Replace an existing ``out_dir``.
    progress, cancel
        See :mod:`eegfmri_viewer.progress`.
    on_epoch : callable, optional
        ``on_epoch(dict(stage=..., epoch=..., loss=..., train_acc=..., val_acc=...))``
        after every epoch of every model (``stage`` is ``"fmri"``,
        ``"eeg_<band>"`` or ``"phase2"``).
    tr : float, optional
        Repetition time in seconds for the runs of a BIDS root whose sidecar
        and header state none (never over a TR the data state).

    Returns
    -------
    out_dir : Path
        The bundle written (load it with :func:`eegfmri_viewer.results.load_bundle`).

    Raises
    ------
    InputError
        Bad input or settings, an existing ``out_dir`` without ``force``.
    eegfmri_viewer.progress.Cancelled
        When ``cancel()`` turned true; nothing is written then.
    """
    import torch

    out_dir = Path(out_dir).expanduser().resolve()
    from eegfmri_viewer.results import check_bundle_destination

    # Before anything is loaded or trained, for every caller: never onto, around or into the
    # input data (recordings opened from loose files protect the folders that hold them).
    check_bundle_destination(out_dir, force=force,
                             inputs=[source] if isinstance(source, (str, Path)) else _input_files(source))
    if config is None:
        config = AnalysisConfig()
    elif not isinstance(config, AnalysisConfig):
        config = AnalysisConfig.from_toml(config)
    if level is not None:
        config = config.with_overrides(training={"level": level})
    level = config.training.level
    threads_before = torch.get_num_threads()
    torch.set_num_threads(config.training.threads)
    try:
        return _analyze(source, out_dir, config, subjects, sessions, level, force, progress, cancel, on_epoch, tr)
    finally:
        torch.set_num_threads(threads_before)


def _analyze(source, out_dir, config, subjects, sessions, level, force, progress, cancel, on_epoch,
             tr=None) -> Path:
    import torch

    from eegfmri_viewer.preprocessing import concatenate_windows, make_windows, parcellate, preprocess_eeg
    from eegfmri_viewer.results import ResultsBundle, save_bundle
    from eegfmri_viewer.training.saliency import (class_mean_cam, own_class_cam,
                                                  salient_nodes, subject_mean_cam)
    from eegfmri_viewer.training.splits import block_split, split_share_warnings

    from eegfmri_viewer.pipeline.blocks import merge_event_blocks
    from eegfmri_viewer.pipeline.eeg_power import roi_power, volume_covariance
    from eegfmri_viewer.pipeline.electrode_layout import topomap_layout
    from eegfmri_viewer.pipeline.phase1_stage import train_phase1

    timer = _Timer()
    warnings: list = []
    pp = config.preprocessing

    def stage_progress(name):
        names = list(_STAGES)
        i = names.index(name)
        stop = _STAGES[names[i + 1]] if i + 1 < len(names) else 1.0
        return sub_progress(progress, _STAGES[name], stop)

    # 1. load
    with timer.stage("load"):
        report(progress, 0.0, "loading recordings")
        recordings, label, source_desc = _load_recordings(source, subjects, sessions, config, warnings,
                                                          stage_progress("load"), cancel, tr=tr)
        for rec in recordings:
            if rec.bold is None:
                raise InputError(rec.eeg_path, f"{rec.label}: no BOLD; analyze needs fMRI")
            if rec.events is None or len(rec.events) == 0:
                raise InputError(rec.events_path or rec.bold_path, f"{rec.label}: no events to label windows with"
                                 + ("" if rec.events_path else " (no events.tsv and no EEG annotations)"))
            for w in rec.warnings:
                warnings.append(f"{rec.label}: {w}" if rec.label not in w else w)
        use_eeg = bool(config.phase1.eeg) and all(rec.eeg is not None for rec in recordings)
        if config.phase1.eeg and not use_eeg and any(rec.eeg is not None for rec in recordings):
            warnings.append("some recordings have no EEG: the EEG models were skipped (fMRI only)")
        # event-locked windows take every event as it is
        merged = [rec if pp.windowing == "events" else
                  dataclasses.replace(rec, events=merge_event_blocks(rec.events, pp.merge_gap_s))
                  for rec in recordings]
        class_names = sorted({str(t) for rec in merged for t in rec.events.trial_type})
        unmatched = sorted(set(pp.marked_bad) - {str(rec.label) for rec in merged})
        if unmatched:
            warnings.append(f"[preprocessing] marked_bad names recording(s) {', '.join(unmatched)}, which are "
                            "not among those analysed; their marks were not used")
        input_files = {str(p): file_sha256(p) for p in _input_files(recordings)}

    # 2. preprocess
    atlas = _load_atlas(config)
    per_rec_windows, covariances, rois_per_rec, eeg_meta = [], [], [], []
    # The task regressors of each recording, built only when [coupling] remove_task
    # asks for them to be removed before the lagged coupling.
    task_designs = []
    # Session of every window, so that one bundle analysed over two sessions
    # can be compared session against session with the same model.
    window_sessions = []
    window_runs = []  # the recording (run) of every window: the chance test exchanges block labels within it
    rec_subjects = []
    rec_sessions = []
    rec_labels = []
    rec_blocks = []  # (n_classes, n_volumes) per recording: the blocks behind the coupling's time courses
    bad_eeg = {}  # recording label -> {"interpolated": [...], "dropped": [...]}, for dataset.json
    motion = {}  # recording label -> motion_summary, for dataset.json
    empty_rois = {}  # recording label -> atlas indices of ROIs without BOLD signal, for dataset.json
    bands = tuple((str(b[0]), float(b[1]), float(b[2])) for b in pp.bands)
    prog = stage_progress("preprocess")
    for i, rec in enumerate(merged):
        check_cancel(cancel)
        frac0, frac1 = i / len(merged), (i + 1) / len(merged)
        eeg_bands = None
        if use_eeg:
            with timer.stage("preprocess_eeg"):
                eeg_bands = preprocess_eeg(rec.eeg, bands=bands, sfreq=pp.eeg_sfreq,
                                           reference=None if pp.reference == "none" else pp.reference,
                                           bad_channels=pp.bad_channels,
                                           extra_bads=pp.marked_bad.get(str(rec.label), ()),
                                           progress=sub_progress(prog, frac0, (frac0 + frac1) / 2), cancel=cancel)
            bad_eeg[str(rec.label)] = {"interpolated": list(eeg_bands.interpolated),
                                       "dropped": list(eeg_bands.dropped)}
            if eeg_bands.interpolated:
                warnings.append(f"{rec.label}: bad EEG channel(s) {', '.join(eeg_bands.interpolated)} "
                                "interpolated from the others (spherical splines)")
            if eeg_bands.dropped:
                warnings.append(f"{rec.label}: bad EEG channel(s) {', '.join(eeg_bands.dropped)} left out")
        with timer.stage("parcellate"):
            roi_series = parcellate(rec.bold, atlas, rec.tr,
                                    confounds=rec.confounds if pp.confounds else None,
                                    standardize=pp.bold_scaling == "run",
                                    progress=sub_progress(prog, (frac0 + frac1) / 2, frac1), cancel=cancel)
        empty_rois[str(rec.label)] = [int(r) for r in (roi_series.empty_rois if roi_series.empty_rois is not None
                                                        else ())]
        warnings.extend(roi_signal_warnings(roi_series, rec.bold_path))
        with timer.stage("windows"):
            fd = framewise_displacement(rec.confounds)
            motion[str(rec.label)] = motion_summary(fd, pp.fd_threshold_mm or REPORT_THRESHOLD_MM)
            censor = None
            if pp.fd_threshold_mm > 0:
                if fd is None:
                    warnings.append(f"{rec.label}: no motion parameters (fMRIPrep confounds): its windows were "
                                    "not censored for head motion")
                else:
                    censor = fd > pp.fd_threshold_mm
            try:
                win = make_windows(rec, eeg_bands, roi_series, window_s=pp.window_s, hrf_delay_s=pp.hrf_delay_s,
                                   step_s=pp.step_s if pp.step_s > 0 else None, class_names=class_names,
                                   censor=censor, mode=pp.windowing)
            except InputError as exc:
                # make_windows names the recording by its label: said once
                reason = exc.problem if exc.path is not None and str(exc.path) == str(rec.label) else str(exc)
                warnings.append(f"{rec.label}: skipped ({reason})")
                continue
            if win.n_overlapping:
                warnings.append(f"{rec.label}: {win.n_overlapping} events left out: each lies closer than "
                                f"{pp.window_s:g} s to an event of another condition")
            if win.n_censored:
                warnings.append(f"{rec.label}: {win.n_censored} of {win.n_censored + len(win)} windows left out "
                                f"for head motion (framewise displacement > {pp.fd_threshold_mm:g} mm)")
        if use_eeg:
            with timer.stage("eeg_power"):
                covariances.append(volume_covariance(eeg_bands.band_signal, eeg_bands.times, eeg_bands.sfreq,
                                                     rec.alignment, roi_series.n_volumes, roi_series.tr))
            eeg_meta.append((list(eeg_bands.ch_names), eeg_bands.info, eeg_bands.ch_pos, eeg_bands.sfreq))
        per_rec_windows.append(win)
        window_sessions.append(np.full(len(win.labels), rec.session or "", dtype=object))
        window_runs.append(np.full(len(win.labels), str(rec.label), dtype=object))
        rois_per_rec.append(roi_series.data)
        if config.coupling.remove_task:
            task_designs.append(task_regressors(rec.events.onset, rec.events.duration, rec.events.trial_type,
                                                class_names, roi_series.tr, roi_series.n_volumes))
        rec_subjects.append(str(rec.subject))
        rec_sessions.append(str(rec.session or ""))
        rec_labels.append(str(rec.label))
        rec_blocks.append(class_blocks(rec.events.onset, rec.events.duration, rec.events.trial_type, class_names,
                                       roi_series.tr, roi_series.n_volumes))
        del eeg_bands
    if not per_rec_windows:
        # the first recording's reason says what to change (e.g. events shorter than the window)
        first = next((w for w in warnings if ": skipped (" in w), "")
        raise InputError(source_desc if isinstance(source_desc, str) else None,
                         "no recording produced windows; check the events and the window length"
                         + (f". {first}" if first else ""))
    if pp.bold_scaling == "subject":
        _scale_bold_per_subject(per_rec_windows, rois_per_rec, rec_subjects)
    tr = float(recordings[0].tr)

    eeg_channels = None
    if use_eeg:
        common = [c for c in eeg_meta[0][0] if all(c in m[0] for m in eeg_meta)]
        if len(common) < 3:
            raise InputError(None, f"the recordings share only {len(common)} EEG channels")
        left_out = sorted({c for m in eeg_meta for c in m[0]} - set(common))
        if left_out:
            warnings.append(f"EEG restricted to the {len(common)} channels that all recordings have "
                            f"(left out: {', '.join(left_out)})")
        for j, (win, meta) in enumerate(zip(per_rec_windows, eeg_meta)):
            idx = [meta[0].index(c) for c in common]
            win.eeg = win.eeg[:, :, idx]
            covariances[j] = covariances[j][:, :, idx][:, :, :, idx]
        import mne

        first_idx = [eeg_meta[0][0].index(c) for c in common]
        eeg_info = mne.pick_info(eeg_meta[0][1], first_idx)
        ch_pos = np.asarray(eeg_meta[0][2])[first_idx]
        eeg_sfreq = float(eeg_meta[0][3])
        eeg_channels = common

    windows = concatenate_windows(per_rec_windows)
    del per_rec_windows
    n_classes = len(class_names)
    warnings.extend(class_subject_warnings(windows.labels, windows.subject, class_names))
    no_bold_anywhere = (np.flatnonzero(np.all(np.stack([np.all(r == 0, axis=0) for r in rois_per_rec]), axis=0))
                        if rois_per_rec else np.empty(0, dtype=int))
    present = sorted(set(windows.labels.tolist()))
    if len(present) < 2:
        sources = sorted({str(r.events.source).split(" (")[0] for r in merged if r.events is not None})
        unfit = [n for c, n in enumerate(class_names) if c not in present]
        raise InputError(sources[0] if len(sources) == 1 else None,
                         f"windows of only {len(present)} class(es) ({', '.join(class_names[c] for c in present)})"
                         + (f"; no window fits class(es) {', '.join(unfit)}" if unfit else "")
                         + ": classification needs at least two"
                         + (f" (events from {', '.join(sources)})" if len(sources) > 1 else ""))
    with timer.stage("split"):
        split = block_split(windows.labels, windows.blocks, windows.subject, config.training.val_fraction,
                            config.training.test_fraction, seed=config.training.seed)
    warnings.extend(validation_warnings(split, windows.subject, level, config.training))
    warnings.extend(split_share_warnings(windows.labels, windows.blocks, split, config.training.test_fraction))
    subject_order = sorted(set(windows.subject.astype(str).tolist()))
    # the chance test exchanges block labels within a recording only
    window_recordings = np.concatenate(window_runs).astype(str)
    weights, metrics = {}, {"phase1": {}}

    # 4. phase 1, fMRI
    referenced = config.phase1.cam_reference == "average"
    with timer.stage("phase1_fmri"):
        fmri = train_phase1(windows.fmri, windows.labels, split, windows.subject, n_classes, 1.0 / tr,
                            config.phase1.fmri_kernel_s, config, "fmri", level, coords=atlas.coords,
                            progress=stage_progress("phase1_fmri"), cancel=cancel, on_epoch=on_epoch,
                            reference="level" if referenced else None, n_init=config.training.n_init_fmri,
                            blocks=windows.blocks, strata=window_recordings)
    weights.update(fmri.state_dicts)
    metrics["phase1"]["fmri"] = fmri.metrics
    fmri_window_cam = fmri.cam - fmri.cam_reference if referenced else fmri.cam
    fmri_cam = class_mean_cam(fmri_window_cam, windows.labels, n_classes)
    fmri_cam_subjects = subject_mean_cam(fmri_window_cam, windows.labels, windows.subject, subject_order)
    top_n = config.phase1.salient_top_n
    saliency = {
        "classes": np.array(class_names, dtype=str),
        "roi_names": np.array(atlas.names, dtype=str),
        "roi_coords": np.asarray(atlas.coords, dtype=float),
        "roi_networks": np.array(atlas.networks, dtype=str),
        "atlas": np.array(str(atlas.name)),
        "bands": np.array([b[0] for b in bands], dtype=str),
        "band_limits": np.array([[b[1], b[2]] for b in bands], dtype=float),
        "subjects": np.array(subject_order, dtype=str),
        "fmri_cam": fmri_cam,
        "fmri_cam_plain": class_mean_cam(fmri.cam, windows.labels, n_classes),
        "cam_reference": np.array(config.phase1.cam_reference),
        "fmri_cam_subjects": fmri_cam_subjects,
        "salient_fmri": salient_nodes(fmri_cam_subjects, top_n),
        "fmri_class_activity": class_activity(windows.fmri, windows.labels, n_classes),
    }
    saliency.update(_connection_arrays("fmri", "salient_fmri_connections", fmri_cam, saliency["salient_fmri"],
                                       fmri.graph))
    n_salient = config.phase2.n_salient
    n_with_bold = len(atlas.names) - len(no_bold_anywhere)
    if use_eeg and config.phase2.enabled and n_salient > n_with_bold:
        warnings.append(f"[phase2] n_salient {n_salient} is more than the {n_with_bold} ROIs with BOLD signal "
                        f"({len(atlas.names)} in the atlas {atlas.name}): clipped to {n_with_bold}")
    # ROIs without BOLD in every recording carry nothing a phase-2 node could relate
    node_index = _round_robin_top(np.where(np.isin(np.arange(fmri_cam.shape[1]), no_bold_anywhere), np.nan,
                                           fmri_cam), n_salient)
    saliency["salient_rois"] = node_index
    window_arrays = {"labels": windows.labels, "subject": windows.subject.astype(str), "blocks": windows.blocks,
                     "onsets_s": windows.onsets_s, "split": split.astype(str),
                     "session": np.concatenate(window_sessions).astype(str),
                     "recording": window_recordings,
                     "fmri_cam": own_class_cam(fmri_window_cam, windows.labels),
                     "fmri_pred": fmri.pred.astype(np.int64)}
    graphs = {"fmri_edge_index": fmri.graph.edge_index, "fmri_edge_weight": fmri.graph.edge_weight,
              "fmri_lambda_max": np.array(fmri.graph.lambda_max)}
    arrays = {"saliency": saliency, "windows": window_arrays, "graphs": graphs}

    # 4b. phase 1, EEG per band
    if use_eeg:
        with timer.stage("phase1_eeg"):
            prog = stage_progress("phase1_eeg")
            cams, feats, plain_cams, band_graphs, preds = [], [], [], [], []
            for b, (band, _, _) in enumerate(bands):
                check_cancel(cancel)
                q, kernel_s = band_sampling(eeg_sfreq, bands[b][1], bands[b][2], config.phase1)
                res = train_phase1(windows.eeg[:, b, :, ::q], windows.labels, split, windows.subject, n_classes,
                                   eeg_sfreq / q, kernel_s, config, f"eeg_{band}", level, coords=ch_pos,
                                   progress=sub_progress(prog, b / len(bands), (b + 1) / len(bands)),
                                   cancel=cancel, on_epoch=on_epoch, reference="power" if referenced else None,
                                   n_init=config.training.n_init_eeg, blocks=windows.blocks,
                                   strata=window_recordings)
                metrics["phase1"].setdefault("eeg", {})[band] = res.metrics
                weights.update(res.state_dicts)
                cams.append(res.cam - res.cam_reference if referenced else res.cam)
                plain_cams.append(class_mean_cam(res.cam, windows.labels, n_classes))
                feats.append(res.features)
                preds.append(res.pred.astype(np.int64))
                band_graphs.append(res.graph)
                if b == 0:
                    # One electrode graph for the bundle: rebuilt from the broadband signal.
                    from eegfmri_viewer.pipeline.phase1_stage import build_graph

                    eeg_graph = build_graph(windows.eeg[split == "train"].sum(axis=1), config.graph.kind,
                                            config.graph.k, ch_pos)
            eeg_cam_windows = np.stack(cams)                    # (n_bands, n_win, C, n_ch)
            eeg_features = np.stack(feats)                      # (n_bands, n_win, n_ch, F)
            del cams, feats
        eeg_cam = np.stack([class_mean_cam(c, windows.labels, n_classes) for c in eeg_cam_windows])
        eeg_cam_subjects = np.stack([subject_mean_cam(c, windows.labels, windows.subject, subject_order)
                                     for c in eeg_cam_windows], axis=1)
        with timer.stage("transfer"):
            from eegfmri_viewer.graphs import transfer_matrix

            T = transfer_matrix(eeg_info, atlas.coords, method=config.graph.transfer,
                                progress=stage_progress("transfer"), cancel=cancel)
        eeg_roi_cam = np.einsum("rc,bkc->bkr", T, eeg_cam)
        saliency.update({
            "electrodes": np.array(eeg_channels, dtype=str),
            "ch_pos": ch_pos,
            "ch_pos_2d": topomap_layout(ch_pos),
            "eeg_cam": eeg_cam,
            "eeg_cam_plain": np.stack(plain_cams),
            "eeg_cam_subjects": eeg_cam_subjects,
            "eeg_roi_cam": eeg_roi_cam,
            "salient_eeg": np.stack([salient_nodes(eeg_cam_subjects[:, b], top_n) for b in range(len(bands))]),
            # a CAM partly drawn from rebuilt signals is shown as such
            "electrode_interpolated": np.array([np.mean([c in bad_eeg.get(label, {}).get("interpolated", ())
                                                         for label in rec_labels]) for c in eeg_channels]),
        })
        own = np.stack([own_class_cam(c, windows.labels) for c in eeg_cam_windows], axis=1)  # (n_win, n_bands, n_ch)
        window_arrays["eeg_roi_cam"] = np.einsum("rc,wbc->wbr", T, own).astype(np.float32)
        window_arrays["eeg_pred"] = np.stack(preds)
        graphs.update({"eeg_edge_index": eeg_graph.edge_index, "eeg_edge_weight": eeg_graph.edge_weight,
                       "eeg_lambda_max": np.array(eeg_graph.lambda_max)})
        for b, (band, _, _) in enumerate(bands):
            g = band_graphs[b]
            graphs.update({f"eeg_{band}_edge_index": g.edge_index, f"eeg_{band}_edge_weight": g.edge_weight,
                           f"eeg_{band}_lambda_max": np.array(g.lambda_max)})
            saliency.update(_connection_arrays(f"eeg_{band}", f"salient_eeg_{band}_connections", eeg_cam[b],
                                               saliency["salient_eeg"][b], g))
        arrays["transfer"] = {"matrix": T, "method": np.array(config.graph.transfer)}

        # 6. phase 2
        if config.phase2.enabled and len(node_index) < 2:
            warnings.append(f"phase 2 skipped: only {len(node_index)} ROI(s) with BOLD signal to choose from")
        if config.phase2.enabled and len(node_index) >= 2:
            try:
                from eegfmri_viewer.pipeline.phase2_stage import Phase2Inputs, run_phase2
            except ImportError as exc:
                warnings.append(f"phase 2 skipped: {exc}")
            else:
                with timer.stage("phase2"):
                    T_nodes = T[node_index]
                    inputs = Phase2Inputs(
                        node_index=node_index,
                        bands=[b[0] for b in bands],
                        fmri_features=fmri.features[:, node_index],
                        eeg_roi_features=np.einsum("rc,bwcf->bwrf", T_nodes, eeg_features).astype(np.float32),
                        eeg_electrode_features=eeg_features,
                        split=split.astype(str),
                        eeg_power_roi=[roi_power(c, T_nodes) for c in covariances],
                        bold_roi=[r[:, node_index].T.astype(np.float32) for r in rois_per_rec],
                        tr=tr,
                        task_design=task_designs or None,
                    )
                    result = run_phase2(inputs, config, progress=stage_progress("phase2"), cancel=cancel,
                                        on_epoch=on_epoch)
                arrays.update(result.arrays)
                metrics["phase2"] = result.metrics
                if result.state_dict:
                    weights["phase2"] = result.state_dict
                with timer.stage("coupling_rois"):
                    coupling, courses = _all_roi_lagged_coupling(
                        covariances, rois_per_rec, T, tr, config.coupling,
                        task_designs or None, sessions=rec_sessions, subjects=rec_subjects,
                        progress=stage_progress("coupling_rois"), cancel=cancel)
                    arrays["coupling"].update(coupling)
                    courses_blocks = np.full((len(rec_blocks), len(class_names), courses["power"].shape[-1]),
                                             np.nan, dtype=np.float16)
                    for r, blk in enumerate(rec_blocks):
                        courses_blocks[r, :, : blk.shape[-1]] = blk
                    arrays["timecourses"] = dict(
                        courses, blocks=courses_blocks, classes=np.array(class_names, dtype=str),
                        bands=np.array([b[0] for b in bands], dtype=str), tr=np.array(float(tr)),
                        recording_label=np.array(rec_labels, dtype=str),
                        task_removed=np.array(bool(config.coupling.remove_task)))
    else:
        arrays["transfer"] = {"matrix": np.zeros((len(atlas.names), 0)), "method": np.array("none")}

    # 7. save
    check_cancel(cancel)
    modalities = ["eeg", "fmri"] if use_eeg else ["fmri"]
    dataset = {
        "label": label,
        "source": source_desc,
        "modalities": modalities,
        "level": level,
        "recordings": [_recording_info(r, bad_eeg, motion, empty_rois) for r in recordings],
        "n_windows_per_class": {c: int(np.sum(windows.labels == i)) for i, c in enumerate(class_names)},
        "n_windows_per_split": {s: int(np.sum(split == s)) for s in ("train", "val", "test")},
        "warnings": list(dict.fromkeys(warnings)),
    }
    manifest = {
        "config": config.to_dict(),
        "input_files": input_files,
        "timings_s": {},
        "versions": {"torch": torch.__version__},
    }
    bundle = ResultsBundle(config=config.to_dict(), metrics=metrics, dataset=dataset, arrays=arrays,
                           weights=weights, manifest=manifest)
    with timer.stage("save"):
        report(progress, _STAGES["save"], "writing results")
        manifest["timings_s"] = dict(timer.timings)
        save_bundle(out_dir, bundle, force=force)
    report(progress, 1.0, f"results written to {out_dir}")
    return out_dir
