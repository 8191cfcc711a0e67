"""CSV tables of a results bundle: saliency, coupling and fusion weights.

For spreadsheets and statistics software. One file per table, comma
separated, a header row, one value per cell, ROIs named with their MNI
coordinates. Files are written atomically (temporary file + rename); existing
files are never replaced unless the caller says so. A bundle without some
arrays (fMRI-only, or phase 2 not run) gets the tables it can, and the result
says which were skipped and why.

Tables (``n_cls`` classes, ``n_rois`` atlas ROIs, ``n_b`` bands, ``n_ch``
electrodes, ``n_nodes`` phase-2 ROIs):

=========================  ===========================================  ======================
file                       columns                                      rows
=========================  ===========================================  ======================
recordings.csv             recording, subject, session, task, run,      n_recordings
                           tr_s, space, eeg_file, bold_file,
                           interpolated, dropped, mean_fd_mm,
                           max_fd_mm, n_volumes_above_fd, n_volumes
saliency_fmri.csv          class, roi, roi_name, network, x_mm, y_mm,   n_cls × n_rois
                           z_mm, cam, salient, bold_vs_mean,
                           has_bold, bold_space
saliency_eeg.csv           band, class, electrode, cam, salient         n_b × n_cls × n_ch
connections.csv            graph, class, node_a, name_a, node_b,        (fMRI + n_b graphs) ×
                           name_b, weight, saliency, salient            n_cls × edges
coupling.csv               band, roi, roi_name, x_mm, y_mm, z_mm,       n_b × n_nodes
                           coupling, peak_lag_s, p_value, p_value_fwer
recording_coupling.csv     recording, subject, session, band, roi,      n_recordings × n_b ×
                           roi_name, x_mm, y_mm, z_mm, r                n_rois
fusion_global.csv          view, weight                                 6
fusion_nodes.csv           roi, roi_name, x_mm, y_mm, z_mm, then one    n_nodes
                           column per view (``w_beta`` ...)
changes.csv                measure, band, class, roi, roi_name, x_mm,   (1 + n_b) × n_cls × n_rois
(with a comparison)        y_mm, z_mm, a, b, diff, p, q                 (+ n_b × n_rois lagged_r)
=========================  ===========================================  ======================

``changes.csv`` holds the comparison's relative CAM of session A and B, the
change B − A, the permutation p-value and the FDR q-value, for the fMRI CAM
(``measure`` = ``fmri_cam``, ``band`` empty) and the EEG CAM on ROIs per band
(``measure`` = ``eeg_roi_cam``), and, when the bundles hold each recording's
EEG power-BOLD correlation, that correlation at the canonical delay per band
(``measure`` = ``lagged_r``, ``class`` empty; tested over recordings).

``recordings.csv`` is the data-quality sheet of the analysed recordings
(``dataset.json``): the bad EEG channels interpolated and dropped (separated by
spaces) and the head motion (framewise displacement; empty cells without motion
parameters, or for bundles written before these were recorded), e.g. as
covariates of one's own model.

``recording_coupling.csv`` holds each recording's EEG power-BOLD correlation at
the canonical delay (``coupling.npz`` ``recording_lagged_r``), labelled by
subject and session: the units of the before / after tests, for a model of
one's own (e.g. a mixed model with subject as a random effect).

``connections.csv`` lists every edge of the graph each phase-1 model was
trained on once (``graph`` = ``fmri``, or the band name for an electrode
graph), with its weight, its saliency ``W[a, b] (CAM_c(a) + CAM_c(b)) / 2``
and whether both ends are salient nodes of the class; ``node_a`` / ``node_b``
are atlas ROI indices (fMRI) or channel indices.

In ``saliency_fmri.csv``, ``has_bold`` is 0 for a ROI without BOLD signal in
every recording (outside the field of view or the brain mask: flat zeros, so
its CAM says nothing about the brain, and it is never a phase-2 node), 1
otherwise, empty for bundles written before this was recorded; every ROI keeps
its row. ``bold_space`` is the space of the analysed BOLD images
(``dataset.json`` ``recordings[].space``: an MNI template name, ``native`` or
``unknown``; several joined by ``+``): ``x_mm``, ``y_mm``, ``z_mm`` are always
the atlas's MNI coordinates, which name the intended regions only when it is
an MNI space.

``bold_vs_mean`` is the class's mean BOLD against the mean of all windows (in
standard deviations of the ROI's series): whether a ROI supports the class by
being up or by being down in it (empty for bundles written without it).

``peak_lag_s``, ``p_value`` and ``p_value_fwer`` (corrected for every band and
ROI tested, by the maximum statistic) are those of the lagged coupling at every
atlas ROI when the bundle has it, so they are the numbers the viewer shows; they
are empty cells when the bundle has no lagged correlation (``p_value_fwer`` also
for bundles written before it was added); ``salient`` is 1 or 0 (empty when the bundle has no such mask).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from eegfmri_viewer.atomic_write import atomic_write_bytes, check_files_folder
from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.progress import CancelFlag, ProgressCallback, check_cancel, report

TABLE_FILES = ("recordings.csv", "saliency_fmri.csv", "saliency_eeg.csv", "connections.csv", "coupling.csv", "recording_coupling.csv",
               "fusion_global.csv", "fusion_nodes.csv", "changes.csv")


@dataclass
class TablesResult:
    """What :func:`write_tables` did.

    Attributes
    ----------
    folder : Path
    written : list of Path
        Files written, in table order.
    skipped : dict of str to str
        File name -> why it was not written (the bundle lacks its arrays).
    """

    folder: Path
    written: List[Path] = field(default_factory=list)
    skipped: Dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One sentence for a status bar or a log."""
        text = f"{len(self.written)} table(s) written to {self.folder}"
        if self.skipped:
            text += "; skipped " + "; ".join(f"{name} ({why})" for name, why in self.skipped.items())
        return text


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (float, np.floating)):
        return "" if not np.isfinite(value) else repr(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def _csv_bytes(header: List[str], rows) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buf.getvalue().encode("utf-8")


def _roi_info(bundle):
    names = bundle.get("saliency", "roi_names")
    coords = np.asarray(bundle.get("saliency", "roi_coords"), dtype=float)
    networks = bundle.get("saliency", "roi_networks")
    n = len(coords)
    names = [str(x) for x in names] if names is not None else [f"ROI {i}" for i in range(n)]
    networks = [str(x) for x in networks] if networks is not None else [""] * n
    return names, coords, networks


def saliency_fmri_rows(bundle) -> tuple:
    """Header and rows of ``saliency_fmri.csv`` (group fMRI CAM per class and ROI).

    Returns
    -------
    header : list of str
    rows : list of list, length n_classes * n_rois
    """
    from eegfmri_viewer.report.roi_context import bold_space_label, rois_without_bold

    names, coords, networks = _roi_info(bundle)
    cam = np.asarray(bundle.get("saliency", "fmri_cam"), dtype=float)  # (n_cls, n_rois)
    salient = bundle.get("saliency", "salient_fmri")
    activity = bundle.get("saliency", "fmri_class_activity")
    recordings = bundle.dataset.get("recordings") or []
    if any(r.get("empty_rois") is not None for r in recordings):
        has_bold = np.ones(cam.shape[1], dtype=bool)
        has_bold[rois_without_bold(bundle.dataset)] = False
    else:  # bundles written before empty ROIs were recorded: unknown
        has_bold = [None] * cam.shape[1]
    space = bold_space_label(bundle.dataset) or None
    rows = []
    for c, cls in enumerate(bundle.classes):
        for r in range(cam.shape[1]):
            rows.append([cls, r, names[r], networks[r], *coords[r], cam[c, r],
                         bool(salient[c, r]) if salient is not None else None,
                         float(activity[c, r]) if activity is not None else None,
                         None if has_bold[r] is None else bool(has_bold[r]), space])
    return ["class", "roi", "roi_name", "network", "x_mm", "y_mm", "z_mm", "cam", "salient", "bold_vs_mean",
            "has_bold", "bold_space"], rows


def saliency_eeg_rows(bundle) -> tuple:
    """Header and rows of ``saliency_eeg.csv`` (EEG CAM per band, class and electrode)."""
    cam = np.asarray(bundle.get("saliency", "eeg_cam"), dtype=float)  # (n_b, n_cls, n_ch)
    electrodes = bundle.get("saliency", "electrodes")
    electrodes = [str(e) for e in electrodes] if electrodes is not None else [str(i) for i in range(cam.shape[2])]
    salient = bundle.get("saliency", "salient_eeg")
    rows = []
    for b, band in enumerate(bundle.bands):
        for c, cls in enumerate(bundle.classes):
            for e, name in enumerate(electrodes):
                rows.append([band, cls, name, cam[b, c, e], bool(salient[b, c, e]) if salient is not None else None])
    return ["band", "class", "electrode", "cam", "salient"], rows


def connection_graphs(bundle) -> List[tuple]:
    """The graphs whose salient connections the bundle holds.

    Returns
    -------
    list of (graph, prefix, mask_key, node_names)
        ``graph`` is ``"fmri"`` or a band name; ``prefix`` the key prefix in
        ``saliency.npz`` (``fmri``, ``eeg_<band>``).
    """
    out = []
    if bundle.has("saliency", "fmri_connections"):
        names, _, _ = _roi_info(bundle)
        out.append(("fmri", "fmri", "salient_fmri_connections", names))
    electrodes = [str(e) for e in bundle.get("saliency", "electrodes", [])]
    for band in bundle.bands:
        if bundle.has("saliency", f"eeg_{band}_connections"):
            out.append((band, f"eeg_{band}", f"salient_eeg_{band}_connections", electrodes))
    return out


def connection_rows(bundle) -> tuple:
    """Header and rows of ``connections.csv`` (every edge of every phase-1 graph, per class)."""
    rows = []
    for graph, prefix, mask_key, names in connection_graphs(bundle):
        conn = np.asarray(bundle.get("saliency", f"{prefix}_connections"), dtype=int)
        weight = np.asarray(bundle.get("saliency", f"{prefix}_connection_weight"), dtype=float)
        score = np.asarray(bundle.get("saliency", f"{prefix}_connection_saliency"), dtype=float)
        mask = bundle.get("saliency", mask_key)
        for c, cls in enumerate(bundle.classes):
            for e, (a, b) in enumerate(conn.T):
                rows.append([graph, cls, a, names[a], b, names[b], weight[e], score[c, e],
                             bool(mask[c, e]) if mask is not None else None])
    return ["graph", "class", "node_a", "name_a", "node_b", "name_b", "weight", "saliency", "salient"], rows


def lagged_arrays(coupling: dict) -> tuple:
    """The lagged-coupling arrays of ``coupling.npz`` and the atlas ROI of each of their rows.

    Those of every atlas ROI (``roi_*``) when the bundle has them, else those of
    the phase-2 nodes. The two agree on the nodes except for ``p_value_fwer``,
    which is corrected for the tests of its own family: the ROI family is the one
    every analysis ran, so the viewer, the tables and the report all use it.

    Parameters
    ----------
    coupling : dict
        Arrays of ``coupling.npz``.

    Returns
    -------
    arrays : dict
        ``lagged_corr`` (n_bands, n, n_lags), ``peak_lag_s``, ``p_value`` and
        ``p_value_fwer`` (n_bands, n), each present only when saved.
    roi : ndarray, shape (n,)
        Atlas ROI index of each row.
    """
    prefix = "roi_" if "roi_lagged_corr" in coupling else ""
    arrays = {k: np.asarray(coupling[prefix + k]) for k in ("lagged_corr", "peak_lag_s", "p_value", "p_value_fwer")
              if prefix + k in coupling}
    if prefix:
        roi = np.arange(np.shape(coupling["roi_lagged_corr"])[1])
    else:
        roi = np.asarray(coupling["node_index"], dtype=int)
    return arrays, roi


def coupling_rows(bundle) -> tuple:
    """Header and rows of ``coupling.csv`` (band × phase-2 ROI)."""
    names, coords, _ = _roi_info(bundle)
    cp = bundle.arrays["coupling"]
    coupling = np.asarray(cp["coupling"], dtype=float)  # (n_b, n_nodes)
    nodes = np.asarray(cp["node_index"], dtype=int)
    lagged, lag_roi = lagged_arrays(cp)
    row_of = {int(r): i for i, r in enumerate(lag_roi)}

    def lag_value(key, b, roi):
        return float(lagged[key][b, row_of[roi]]) if key in lagged and roi in row_of else None

    rows = []
    for b, band in enumerate(str(x) for x in cp["bands"]):
        for k, roi in enumerate(nodes):
            rows.append([band, roi, names[roi], *coords[roi], coupling[b, k],
                         *(lag_value(key, b, int(roi)) for key in ("peak_lag_s", "p_value", "p_value_fwer"))])
    return ["band", "roi", "roi_name", "x_mm", "y_mm", "z_mm", "coupling", "peak_lag_s", "p_value",
            "p_value_fwer"], rows


def recording_coupling_rows(bundle) -> tuple:
    """Header and rows of ``recording_coupling.csv`` (recording × band × atlas ROI)."""
    names, coords, _ = _roi_info(bundle)
    cp = bundle.arrays["coupling"]
    r = np.asarray(cp["recording_lagged_r"], dtype=float)  # (n_rec, n_b, n_rois)
    n_rec = len(r)

    def labels(key, fallback):
        return [str(x) for x in cp[key]] if key in cp else [fallback] * n_rec

    tc = bundle.arrays.get("timecourses", {})
    recordings = [str(x) for x in tc["recording_label"]] if "recording_label" in tc else [str(i) for i in range(n_rec)]
    subjects, sessions = labels("recording_subject", ""), labels("recording_session", "")
    rows = []
    for i in range(n_rec):
        for b, band in enumerate(str(x) for x in cp["bands"]):
            for roi in range(r.shape[-1]):
                rows.append([recordings[i], subjects[i], sessions[i], band, roi, names[roi], *coords[roi], r[i, b, roi]])
    return ["recording", "subject", "session", "band", "roi", "roi_name", "x_mm", "y_mm", "z_mm", "r"], rows


def recording_rows(bundle) -> tuple:
    """Header and rows of ``recordings.csv`` (one per recording of ``dataset.json``)."""
    rows = []
    for r in bundle.dataset.get("recordings", []):
        bad = r.get("eeg_bad_channels") or {}
        motion = r.get("motion") or {}
        rows.append([r.get("label"), r.get("subject"), r.get("session"), r.get("task"), r.get("run"), r.get("tr"),
                     r.get("space"), Path(r["eeg_path"]).name if r.get("eeg_path") else None,
                     Path(r["bold_path"]).name if r.get("bold_path") else None,
                     " ".join(bad["interpolated"]) if "interpolated" in bad else None,
                     " ".join(bad["dropped"]) if "dropped" in bad else None,
                     motion.get("mean_fd_mm"), motion.get("max_fd_mm"), motion.get("n_volumes_above"),
                     motion.get("n_volumes")])
    return ["recording", "subject", "session", "task", "run", "tr_s", "space", "eeg_file", "bold_file",
            "interpolated", "dropped", "mean_fd_mm", "max_fd_mm", "n_volumes_above_fd", "n_volumes"], rows


def fusion_global_rows(bundle) -> tuple:
    """Header and rows of ``fusion_global.csv`` (global ω per view)."""
    fu = bundle.arrays["fusion"]
    weights = np.asarray(fu["fusion_weights_global"], dtype=float)
    return ["view", "weight"], [[str(v), w] for v, w in zip(fu["views"], weights)]


def fusion_node_rows(bundle) -> tuple:
    """Header and rows of ``fusion_nodes.csv`` (ω per phase-2 ROI and view)."""
    names, coords, _ = _roi_info(bundle)
    fu = bundle.arrays["fusion"]
    weights = np.asarray(fu["fusion_weights"], dtype=float)  # (n_nodes, 6)
    views = [str(v) for v in fu["views"]]
    rows = [[int(roi), names[roi], *coords[roi], *weights[k]] for k, roi in enumerate(np.asarray(fu["node_index"], dtype=int))]
    return ["roi", "roi_name", "x_mm", "y_mm", "z_mm"] + [f"w_{v}" for v in views], rows


def changes_rows(comparison) -> tuple:
    """Header and rows of ``changes.csv`` from a :class:`~eegfmri_viewer.comparison.compare.CompareResult`."""
    arrays = comparison.arrays
    classes = [str(c) for c in arrays["classes"]]
    names = [str(n) for n in arrays["roi_names"]]
    coords = np.asarray(arrays["roi_coords"], dtype=float)
    rows = []
    blocks = [("fmri_cam", "", None)]
    if "eeg_roi_cam_diff" in arrays:
        blocks += [("eeg_roi_cam", str(band), b) for b, band in enumerate(arrays["bands"])]
    for measure, band, b in blocks:
        a, bb, diff, p, q = (np.asarray(arrays[f"{measure}_{k}"], dtype=float) for k in ("a", "b", "diff", "p", "q"))
        if b is not None:
            a, bb, diff, p, q = a[b], bb[b], diff[b], p[b], q[b]
        for c, cls in enumerate(classes):
            for r in range(len(names)):
                rows.append([measure, band, cls, r, names[r], *coords[r], a[c, r], bb[c, r], diff[c, r], p[c, r], q[c, r]])
    if "lagged_r_diff" in arrays:
        # not per class: the EEG power-BOLD correlation of the recordings (class left empty)
        a, bb, diff, p, q = (np.asarray(arrays[f"lagged_r_{k}"], dtype=float) for k in ("a", "b", "diff", "p", "q"))
        for b, band in enumerate(str(x) for x in arrays["bands"]):
            for r in range(len(names)):
                rows.append(["lagged_r", band, "", r, names[r], *coords[r], a[b, r], bb[b, r], diff[b, r], p[b, r],
                             q[b, r]])
    header = ["measure", "band", "class", "roi", "roi_name", "x_mm", "y_mm", "z_mm", "a", "b", "diff", "p", "q"]
    return header, rows


def _plan(bundle) -> Dict[str, tuple]:
    """File name -> (rows function or None, reason when None)."""
    plan: Dict[str, tuple] = {}
    plan["recordings.csv"] = (recording_rows, None) if bundle.dataset.get("recordings") else (
        None, "dataset.json lists no recordings")
    ok_fmri = bundle.has("saliency", "fmri_cam") and bundle.has("saliency", "roi_coords")
    plan["saliency_fmri.csv"] = (saliency_fmri_rows, None) if ok_fmri else (
        None, "no fMRI CAM in saliency.npz")
    plan["saliency_eeg.csv"] = (saliency_eeg_rows, None) if bundle.has("saliency", "eeg_cam") else (
        None, "no EEG CAM (fMRI-only analysis)")
    plan["connections.csv"] = (connection_rows, None) if connection_graphs(bundle) else (
        None, "no salient connections in saliency.npz (bundle written before they were saved)")
    plan["coupling.csv"] = (coupling_rows, None) if bundle.has("coupling", "coupling") and ok_fmri else (
        None, "no coupling.npz (phase 2 did not run)")
    plan["recording_coupling.csv"] = (
        (recording_coupling_rows, None) if bundle.has("coupling", "recording_lagged_r") and ok_fmri else
        (None, "no per-recording EEG power-BOLD correlation (fMRI-only, phase 2 not run, or written before it "
               "was saved)"))
    has_fusion = bundle.has("fusion", "fusion_weights_global")
    plan["fusion_global.csv"] = (fusion_global_rows, None) if has_fusion else (
        None, "no fusion.npz (phase 2 did not run)")
    plan["fusion_nodes.csv"] = (fusion_node_rows, None) if has_fusion and bundle.has("fusion", "fusion_weights") \
        and ok_fmri else (None, "no per-node fusion weights (phase 2 did not run)")
    return plan


def existing_tables(folder) -> List[Path]:
    """Table files that already exist in ``folder`` (what :func:`write_tables` would replace)."""
    folder = Path(folder)
    return [folder / name for name in TABLE_FILES if (folder / name).exists()]


def write_tables(
    bundle,
    folder,
    comparison=None,
    overwrite: bool = False,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelFlag] = None,
) -> TablesResult:
    """Write the CSV tables of ``bundle`` into ``folder``.

    Parameters
    ----------
    bundle : ResultsBundle
    folder : str or Path
        Output folder (created if missing).
    comparison : CompareResult or None
        Adds ``changes.csv`` (compare mode).
    overwrite : bool
        Replace existing table files. Without it, any existing table file
        raises :class:`InputError` before anything is written.

    Returns
    -------
    result : TablesResult
        Files written and tables skipped (with the reason).

    Raises
    ------
    InputError
        ``folder`` is a file, is or lies inside a results bundle, cannot be
        created, or holds table files and ``overwrite`` is False.
    """
    # never the bundle itself or a folder inside a bundle; a file or an uncreatable path fails here
    folder = check_files_folder(folder, "tables")
    if not overwrite:
        present = existing_tables(folder)
        if present:
            raise InputError(folder, "already holds " + ", ".join(p.name for p in present)
                             + "; choose another folder or confirm replacing them")
    result = TablesResult(folder=folder.resolve())
    plan = _plan(bundle)
    if comparison is not None:
        plan["changes.csv"] = (lambda _bundle: changes_rows(comparison), None)
    for k, (name, (rows_fn, reason)) in enumerate(plan.items()):
        check_cancel(cancel)
        report(progress, k / len(plan), f"table {name}")
        if rows_fn is None:
            result.skipped[name] = reason
            continue
        header, rows = rows_fn(bundle)
        result.written.append(atomic_write_bytes(folder / name, _csv_bytes(header, rows)))
    report(progress, 1.0, "tables done")
    return result
