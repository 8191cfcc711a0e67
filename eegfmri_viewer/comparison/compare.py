"""Before / after comparison of two sessions (or two results bundles).

What is compared, per class:

* fMRI CAM per ROI, and the ROI-level EEG CAM per band (``eeg_roi_cam``):
  window-level saliency of session B minus session A, with a permutation
  test over windows and Benjamini-Hochberg q-values per class (and band).
  Each window's CAM is z-scored across ROIs first ("relative saliency"), so
  that two bundles trained separately, whose CAM scales are arbitrary, are
  compared on which regions stand out rather than on the scale of their
  models.
* EEG-fMRI coupling per band and ROI: B − A on the ROIs present in both
  (phase-2 node sets can differ); tested over recordings when the bundles
  hold per-recording coupling (``coupling_recordings``), otherwise reported
  as a difference without a p-value.
* EEG power-BOLD correlation per band and ROI (``coupling.npz``
  ``recording_lagged_r``: each recording's r at the canonical delay): the
  mean of each side (by Fisher z), B − A, and a permutation test that
  exchanges recordings between the sides, with Benjamini-Hochberg q-values per
  band. This works for two sessions of one bundle too, since every recording
  has its own value. With ``unit="subjects"`` the test is paired instead.
* Fusion weights ω: global and per ROI, B − A.

What the tests exchange (``unit``): windows, blocks (each block's mean; the
default when both sides carry block labels, since windows of one block are
correlated and a window-level test is liberal; otherwise windows, and
``compare.json`` says so in ``unit_note``), or,
when the same subjects were recorded before and after, ``"subjects"``: a
paired test. Each subject present on both sides contributes its mean of each
side (per class for the CAM; its recordings' mean Fisher z for the
correlation), and the signs of the subjects' differences B − A are flipped at
random. Differences between subjects then do not enter the test; subjects
recorded on one side only are left out (``compare.json`` lists them).

Sessions come either from two bundles, or from one bundle whose
``windows.npz`` holds a ``session`` key (both sessions analysed with the same
model, which makes the CAM of the two sessions directly comparable).

Output arrays (``compare.npz``; n_cls classes, n_b bands, n_rois atlas ROIs):

==========================  ============================  =====================================
key                         shape                         meaning
==========================  ============================  =====================================
classes, bands, views       (n_cls,), (n_b,), (6,)        labels
roi_names, roi_coords       (n_rois,), (n_rois, 3)        atlas ROIs (atlas centres, MNI mm; row i is the
                                                          0-based ``roi_index`` i of compare.json)
fmri_cam_a, fmri_cam_b      (n_cls, n_rois)               mean relative CAM per session
fmri_cam_diff               (n_cls, n_rois)               B − A
fmri_cam_p, fmri_cam_q      (n_cls, n_rois)               permutation p, FDR q (per class)
eeg_roi_cam_a/_b/_diff      (n_b, n_cls, n_rois)          same for EEG bands on ROIs
eeg_roi_cam_p, _q           (n_b, n_cls, n_rois)          FDR per band and class
coupling_a/_b/_diff         (n_b, n_rois)                 NaN where a ROI is not in both
coupling_p, coupling_q      (n_b, n_rois)                 present only with per-recording data
lagged_r_a/_b/_diff         (n_b, n_rois)                 EEG power-BOLD r at the canonical delay, mean
                                                          over each side's recordings (Fisher z), B − A
lagged_r_p, lagged_r_q      (n_b, n_rois)                 permutation of recordings between the sides
                                                          (paired sign flips over subjects with
                                                          unit "subjects"); FDR per band over ROIs
n_recordings_a, _b          ()                            recordings on each side
lagged_r_n_subjects         ()                            subjects paired (0: recordings exchanged)
lagged_r_smallest_p         ()                            the smallest p that test can give
fusion_global_a/_b/_diff    (6,)                          ω per view
fusion_a/_b/_diff           (n_rois, 6)                   per ROI, NaN where absent
rois_without_bold           (n_left_out,) int             ROIs without BOLD on either side (left out
                                                          of top_changes and the B - A images)
n_windows_a, n_windows_b    (n_cls,)                      units per class (windows, blocks or subjects)
n_subjects                  ()                            subjects paired (unit "subjects" only)
n_permutations, seed        ()                            test settings (permutations asked for)
permutations_used           (n_cls,)                      relabellings each class's test used (all
                                                          of them when exact, else n_permutations)
permutations_exact          (n_cls,)                      True where every relabelling was evaluated
==========================  ============================  =====================================

``compare.json`` holds the description: ``unit``, ``smallest_p`` and
``permutations`` per class (``{"possible", "exact", "used", "text"}``, see
:func:`~eegfmri_viewer.comparison.stats.relabelling_plan`), ``space`` (the
space of the compared BOLD, ``dataset.json`` ``recordings[].space``: an MNI
template, ``"native"``, ``"unknown"``, ``"mixed"`` or null when not recorded),
``notes`` (what ``roi_index``, ``coords`` and the permutation counts mean),
``warnings`` (same input files; BOLD not in MNI space) and ``top_changes``
per class (``roi_index`` 0-based, ``roi`` the same under its older name,
``name``, ``diff``, ``p``, ``q``, ``coords``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from eegfmri_viewer.atomic_write import atomic_folder, check_output_folder, replaceable_comparison
from eegfmri_viewer.comparison.stats import fdr_bh, permutation_test, relabelling_plan, sign_flip_test, smallest_p
from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.io.space import common_space, dataset_spaces, is_mni_space, space_caveat, space_groups
from eegfmri_viewer.progress import CancelFlag, ProgressCallback, check_cancel, report
from eegfmri_viewer.results import ResultsBundle, load_bundle, strict_json


UNITS = ("windows", "blocks", "subjects")

ROI_INDEX_NOTE = ("roi_index (and its older name roi) is the 0-based position of the ROI in the atlas, i.e. its row "
                  "in compare.npz roi_names / roi_coords; name is the atlas's own label, which for Power 2011 "
                  "counts from 1 (roi_index 144 is 'ROI 145')")
PERMUTATIONS_NOTE = ("n_permutations is the number asked for; permutations[c] says, per class, how many "
                     "relabellings the test used: all of them (exact) when there are no more than n_permutations, "
                     "else n_permutations random ones")


class CompareError(InputError):
    """Two results cannot be compared; the message says which part differs."""


@dataclass
class SessionData:
    """One side of a comparison, extracted from a bundle.

    Attributes
    ----------
    label : str
        Human-readable name (bundle label and session).
    labels : ndarray, shape (n_windows,)
        Class index of each window.
    fmri_cam : ndarray, shape (n_windows, n_rois)
        fMRI CAM of each window for its own class (relative, i.e. z-scored
        across ROIs, when the two sides come from two models).
    blocks : ndarray, shape (n_windows,) or None
        Block of each window (``windows.npz`` ``blocks``), for block-level tests.
    eeg_roi_cam : ndarray, shape (n_windows, n_bands, n_rois) or None
        Relative EEG CAM on ROIs per band.
    coupling : ndarray, shape (n_bands, n_rois) or None
        Coupling on atlas ROIs (NaN outside the phase-2 node set).
    coupling_recordings : ndarray, shape (n_recordings, n_bands, n_rois) or None
    lagged_z : ndarray, shape (n_recordings, n_bands, n_rois) or None
        Fisher z (artanh) of each recording's EEG power-BOLD correlation at
        the canonical delay (``coupling.npz`` ``recording_lagged_r``).
    fusion_global : ndarray, shape (6,) or None
    fusion : ndarray, shape (n_rois, 6) or None
    subjects : ndarray, shape (n_windows,) or None
        Subject label of each window (``windows.npz`` ``subject``).
    lagged_subjects : ndarray, shape (n_recordings,) or None
        Subject label of each row of ``lagged_z`` (``coupling.npz``
        ``recording_subject``).
    """

    label: str
    labels: np.ndarray
    fmri_cam: np.ndarray
    blocks: Optional[np.ndarray] = None
    eeg_roi_cam: Optional[np.ndarray] = None
    coupling: Optional[np.ndarray] = None
    coupling_recordings: Optional[np.ndarray] = None
    lagged_z: Optional[np.ndarray] = None
    fusion_global: Optional[np.ndarray] = None
    fusion: Optional[np.ndarray] = None
    subjects: Optional[np.ndarray] = None
    lagged_subjects: Optional[np.ndarray] = None


@dataclass
class CompareResult:
    """Arrays of ``compare.npz`` plus the description in ``compare.json``."""

    arrays: Dict[str, np.ndarray] = field(default_factory=dict)
    meta: Dict[str, Any] = field(default_factory=dict)

    def significant(self, key: str = "fmri_cam", q_threshold: float = 0.05) -> np.ndarray:
        """Boolean mask of ``key_q < q_threshold`` (False where q is NaN)."""
        q = self.arrays[f"{key}_q"]
        return np.nan_to_num(q, nan=1.0) < q_threshold


def _zscore_rows(x: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    return (x - mean) / np.where(std > 0, std, 1.0)


def _on_atlas(values: np.ndarray, node_index: np.ndarray, n_rois: int) -> np.ndarray:
    """Scatter node-axis values (last-but-one or last axis) onto the atlas ROIs."""
    out = np.full(values.shape[:-1] + (n_rois,), np.nan)
    out[..., node_index] = values
    return out


def session_data(bundle: ResultsBundle, session: Optional[str] = None, relative: bool = True) -> SessionData:
    """Extract what the comparison needs from ``bundle`` (optionally one session).

    Parameters
    ----------
    bundle : ResultsBundle
    session : str or None
        Keep only the windows of this session (needs ``windows.npz`` key
        ``session``).
    relative : bool
        z-score each window's CAM across ROIs ("relative saliency"), needed
        when the two sides come from separately trained models whose CAM
        scales are arbitrary. Two sessions of one bundle share one model and
        one scale, and are compared on the CAM itself (``relative=False``):
        z-scoring would make every other ROI look changed when one changes.
    """
    where = bundle.path or bundle.label
    if not bundle.has("windows", "fmri_cam"):
        raise CompareError(where, "has no per-window saliency (windows.npz: fmri_cam); re-run the analysis with this version")
    windows = bundle.arrays["windows"]
    keep = np.ones(len(windows["labels"]), dtype=bool)
    label = bundle.label
    if session is not None:
        if "session" not in windows:
            raise CompareError(where, "does not record sessions per window; compare two bundles instead")
        sessions = windows["session"].astype(str)
        keep = sessions == str(session)
        if not keep.any():
            known = recorded_sessions(sessions)
            if not known:
                raise CompareError(where, "this bundle has no sessions (none of its recordings has a BIDS ses- "
                                          "label), so --sessions cannot pick two; compare two bundles instead "
                                          "(compare RESULTS_A RESULTS_B)")
            raise CompareError(where, f"has no windows of session {session!r} (sessions: {', '.join(known)})")
        label = f"{label} ses-{session}"
    n_rois = bundle.get("saliency", "roi_coords").shape[0]
    data = SessionData(
        label=label,
        labels=windows["labels"][keep].astype(int),
        fmri_cam=windows["fmri_cam"][keep].astype(float),
        blocks=windows["blocks"][keep] if "blocks" in windows else None,
        subjects=windows["subject"][keep].astype(str) if "subject" in windows else None,
    )
    if "eeg_roi_cam" in windows:
        data.eeg_roi_cam = windows["eeg_roi_cam"][keep].astype(float)
    if relative:
        data.fmri_cam = _zscore_rows(data.fmri_cam)
        if data.eeg_roi_cam is not None:
            data.eeg_roi_cam = _zscore_rows(data.eeg_roi_cam)
    if bundle.has("coupling") and session is None:
        cp = bundle.arrays["coupling"]
        node_index = cp["node_index"].astype(int)
        data.coupling = _on_atlas(cp["coupling"], node_index, n_rois)
        if "coupling_recordings" in cp:
            data.coupling_recordings = _on_atlas(cp["coupling_recordings"], node_index, n_rois)
    cp = bundle.arrays.get("coupling", {})
    if "recording_lagged_r" in cp:
        r = np.asarray(cp["recording_lagged_r"], dtype=float)
        rec_keep = np.ones(len(r), dtype=bool)
        if session is not None:
            rec_keep = np.asarray(cp["recording_session"]).astype(str) == str(session)
        if rec_keep.any():
            data.lagged_z = np.arctanh(np.clip(r[rec_keep], -0.999999, 0.999999))
            if "recording_subject" in cp:
                data.lagged_subjects = np.asarray(cp["recording_subject"]).astype(str)[rec_keep]
    if bundle.has("fusion") and session is None:
        fu = bundle.arrays["fusion"]
        data.fusion_global = fu["fusion_weights_global"].astype(float)
        data.fusion = np.moveaxis(_on_atlas(fu["fusion_weights"].T, fu["node_index"].astype(int), n_rois), 0, -1)
    return data


def recorded_sessions(sessions) -> list:
    """The session labels that name a session, sorted (a recording without one has ``""`` in ``windows.npz``)."""
    return sorted({str(s) for s in np.asarray(sessions).astype(str).tolist()} - {"", "None", "n/a"})


def bundle_space(bundle: ResultsBundle) -> Optional[str]:
    """The space of the bundle's BOLD (``dataset.json`` ``recordings[].space``).

    Returns
    -------
    space : str or None
        The recordings' common space (:func:`eegfmri_viewer.io.space.common_space`:
        ``"MNI"``, a template such as ``"MNI152NLin2009cAsym"``, ``"native"``,
        ``"unknown"`` or ``"mixed"``), None when the bundle does not record it
        (older bundles).
    """
    return common_space(dataset_spaces(bundle.dataset))


def coordinate_space(spaces: dict) -> tuple:
    """The ``space`` of a comparison and the note on its ROI coordinates.

    Parameters
    ----------
    spaces : dict
        Side label -> that side's recorded spaces: a list of str
        (:func:`eegfmri_viewer.io.space.dataset_spaces`), one str, or None when
        not recorded.

    Returns
    -------
    space : str or None
        The common space of the data compared
        (:func:`eegfmri_viewer.io.space.common_space`), ``"mixed"`` when MNI and
        non-MNI (or native and unknown) data are mixed, None when no side records it.
    note : str
        What ``coords`` (and ``roi_coords``) are in that space.
    warning : str or None
        For data not (or not known to be) in MNI space:
        :func:`eegfmri_viewer.io.space.space_caveat` of the sides, with advice.
    """
    per_side = {k: ([v] if isinstance(v, str) else list(v or [])) for k, v in spaces.items()}
    pairs = [(side, str(s)) for side, values in per_side.items() for s in values if s]
    space = common_space(s for _, s in pairs)
    base = "coords are the atlas ROI centres, MNI x, y, z in mm"
    if space is None:
        return None, base + " (the bundles do not record the space of their BOLD)", None
    if is_mni_space(space):
        return space, base + f"; the BOLD is in MNI space ({', '.join(dict.fromkeys(s for _, s in pairs))})", None
    native, unknown = space_groups(pairs)
    note = base + ", " + "; ".join(
        ([f"not coordinates in these data: the BOLD of {', '.join(native)} is in native space"] if native else [])
        + ([f"perhaps not coordinates in these data: the BOLD of {', '.join(unknown)} is of unknown space"]
           if unknown else [])
    ) + " (see warnings)"
    return space, note, space_caveat(pairs, advice=True)


def check_compatible(a: ResultsBundle, b: ResultsBundle) -> None:
    """Raise :class:`CompareError` naming the part in which two bundles differ."""
    name_a, name_b = a.path or a.label, b.path or b.label
    sa, sb = a.arrays.get("saliency", {}), b.arrays.get("saliency", {})
    if str(sa.get("atlas", "")) != str(sb.get("atlas", "")):
        raise CompareError(name_b, f"uses atlas {sb.get('atlas')!s}, but {name_a} uses {sa.get('atlas')!s}; both must use the same atlas")
    if sa["roi_coords"].shape != sb["roi_coords"].shape or not np.allclose(sa["roi_coords"], sb["roi_coords"]):
        raise CompareError(name_b, f"has a different ROI set ({len(sb['roi_coords'])} ROIs) than {name_a} ({len(sa['roi_coords'])} ROIs)")
    if a.classes != b.classes:
        raise CompareError(name_b, f"has classes {b.classes}, but {name_a} has {a.classes}; both must have the same classes")
    if a.has_eeg and b.has_eeg and a.bands != b.bands:
        raise CompareError(name_b, f"has bands {b.bands}, but {name_a} has {a.bands}; both must have the same bands")


def block_means(values: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Mean of the windows of each block, blocks in sorted order.

    Parameters
    ----------
    values : ndarray, shape (n_windows, ...)
    blocks : ndarray, shape (n_windows,)

    Returns
    -------
    means : ndarray, shape (n_blocks, ...)
    """
    blocks = np.asarray(blocks)
    return np.stack([values[blocks == b].mean(axis=0) for b in np.unique(blocks)]) if len(blocks) else values[:0]


def _cam_test(a_cam, a_labels, b_cam, b_labels, n_classes, n_permutations, seed, cancel,
              a_blocks=None, b_blocks=None):
    """Per-class permutation test; the class axis is inserted after the leading axes.

    With block labels the units of the test are blocks (each the mean of its
    windows) instead of windows.
    """
    shape = (n_classes,) + a_cam.shape[1:]
    mean_a, mean_b, p = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    counts = np.zeros((2, n_classes), dtype=int)
    for c in range(n_classes):
        xa, xb = a_cam[a_labels == c], b_cam[b_labels == c]
        if a_blocks is not None and b_blocks is not None:
            xa, xb = block_means(xa, a_blocks[a_labels == c]), block_means(xb, b_blocks[b_labels == c])
        counts[:, c] = len(xa), len(xb)
        if len(xa) == 0 or len(xb) == 0:
            continue
        mean_a[c], mean_b[c] = xa.mean(0), xb.mean(0)
        _, p[c] = permutation_test(xa, xb, n_permutations, seed=seed + c, cancel=cancel)
    return mean_a, mean_b, p, counts


def subject_means(values: np.ndarray, subjects: np.ndarray, keep) -> np.ndarray:
    """Mean of each subject's rows, subjects in the order of ``keep``.

    Parameters
    ----------
    values : ndarray, shape (n_rows, ...)
    subjects : ndarray, shape (n_rows,)
    keep : sequence of str

    Returns
    -------
    means : ndarray, shape (len(keep), ...)
    """
    subjects = np.asarray(subjects).astype(str)
    return np.stack([values[subjects == s].mean(axis=0) for s in keep])


def _paired_cam_test(a_cam, a_labels, a_subjects, b_cam, b_labels, b_subjects, n_classes, n_permutations, seed,
                     cancel):
    """Per-class sign-flip test over the subjects with windows of the class on both sides.

    Returns the means over those subjects of each side's subject means, the
    p-values, the subjects per class, and the subjects used for any class.
    """
    shape = (n_classes,) + a_cam.shape[1:]
    mean_a, mean_b, p = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    counts = np.zeros((2, n_classes), dtype=int)
    used = set()
    for c in range(n_classes):
        in_a, in_b = set(a_subjects[a_labels == c]), set(b_subjects[b_labels == c])
        both = sorted(in_a & in_b)
        counts[:, c] = len(both)
        if not both:
            continue
        used.update(both)
        xa = subject_means(a_cam[a_labels == c], a_subjects[a_labels == c], both)
        xb = subject_means(b_cam[b_labels == c], b_subjects[b_labels == c], both)
        mean_a[c], mean_b[c] = xa.mean(0), xb.mean(0)
        _, p[c] = sign_flip_test(xb - xa, n_permutations, seed=seed + c, cancel=cancel)
    return mean_a, mean_b, p, counts, used


def _paired_subjects(a: "SessionData", b: "SessionData") -> list:
    """Subjects with windows on both sides; a clear error when a paired test cannot be made."""
    if a.subjects is None or b.subjects is None:
        raise CompareError(None, "a paired test over subjects needs the subject of every window "
                                 "(windows.npz: subject); re-run the analysis with this version")
    both = sorted(set(a.subjects) & set(b.subjects))
    if len(both) < 2:
        raise CompareError(None, f"a paired test over subjects needs at least two subjects recorded in both "
                                 f"sessions; {a.label} has {sorted(set(a.subjects))}, {b.label} has "
                                 f"{sorted(set(b.subjects))}")
    return both


def default_unit(a: SessionData, b: SessionData) -> tuple:
    """The test unit used when none is asked for: ``(unit, note)``.

    Blocks when both sides carry block labels (windows of one block are
    correlated, so exchanging windows would be liberal), else windows, with a
    note saying so.
    """
    if a.blocks is not None and b.blocks is not None:
        return "blocks", "blocks (each block's mean): windows of one block are correlated"
    missing = " and ".join(s.label for s in (a, b) if s.blocks is None)
    return "windows", (f"windows, since {missing} records no blocks (windows.npz: blocks); windows of one "
                       "block are correlated, so this test is liberal")


def compare_sessions(
    a: SessionData,
    b: SessionData,
    classes,
    bands=(),
    n_permutations: int = 10000,
    seed: int = 0,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelFlag] = None,
    unit: Optional[str] = None,
) -> CompareResult:
    """Compare two sessions: differences, permutation p-values and FDR q-values.

    Parameters
    ----------
    a, b : SessionData
        Before (A) and after (B).
    classes : sequence of str
        Class names, in label order.
    bands : sequence of str
        EEG band names, in array order.
    n_permutations : int
        Permutations per test family.
    seed : int
        Seed of the permutations.
    unit : {"windows", "blocks", "subjects"} or None
        What the permutation test exchanges; None (the default) means
        ``"blocks"`` when both sides carry block labels, else ``"windows"``
        (``meta["unit"]`` says which, ``meta["unit_note"]`` why). Windows of
        one block are correlated, so a window-level test is liberal; ``"blocks"`` tests the
        block means (each block one unit), which needs blocks in both sides
        and enough of them (with n_a and n_b blocks the smallest p-value is
        about 2 / C(n_a + n_b, n_a)). ``"subjects"`` is the paired test of the
        subjects recorded on both sides (sign flips of their differences;
        with n subjects the smallest p-value is 2 / 2 ** n); it pairs the EEG
        power-BOLD correlation too when the recordings' subjects are known.

    Returns
    -------
    result : CompareResult
    """
    unit_note = None
    if unit is None:
        unit, unit_note = default_unit(a, b)
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    by_block = unit == "blocks"
    paired = _paired_subjects(a, b) if unit == "subjects" else None
    if by_block and (a.blocks is None or b.blocks is None):
        raise CompareError(None, "a block-level test needs the block of every window (windows.npz: blocks)")
    blocks = (a.blocks, b.blocks) if by_block else (None, None)
    n_cls = len(classes)
    arrays: Dict[str, np.ndarray] = {
        "classes": np.asarray(classes, dtype=str),
        "bands": np.asarray(bands, dtype=str),
        "n_permutations": np.array(n_permutations),
        "seed": np.array(seed),
    }
    report(progress, 0.05, "fMRI saliency")
    used_subjects: set = set()

    def cam_test(cam_a, cam_b, test_seed):
        if paired is not None:
            *out, used = _paired_cam_test(cam_a, a.labels, a.subjects, cam_b, b.labels, b.subjects, n_cls,
                                          n_permutations, test_seed, cancel)
            used_subjects.update(used)
            return out
        return _cam_test(cam_a, a.labels, cam_b, b.labels, n_cls, n_permutations, test_seed, cancel, *blocks)

    mean_a, mean_b, p, counts = cam_test(a.fmri_cam, b.fmri_cam, seed)
    arrays.update(
        fmri_cam_a=mean_a, fmri_cam_b=mean_b, fmri_cam_diff=mean_b - mean_a, fmri_cam_p=p,
        fmri_cam_q=fdr_bh(p, axis=-1), n_windows_a=counts[0], n_windows_b=counts[1],
    )
    if a.eeg_roi_cam is not None and b.eeg_roi_cam is not None:
        report(progress, 0.4, "EEG saliency on ROIs")
        mean_a, mean_b, p, _ = cam_test(a.eeg_roi_cam, b.eeg_roi_cam, seed + 100)
        # (n_cls, n_bands, n_rois) -> (n_bands, n_cls, n_rois), as in the bundle.
        mean_a, mean_b, p = (np.swapaxes(x, 0, 1) for x in (mean_a, mean_b, p))
        arrays.update(
            eeg_roi_cam_a=mean_a, eeg_roi_cam_b=mean_b, eeg_roi_cam_diff=mean_b - mean_a,
            eeg_roi_cam_p=p, eeg_roi_cam_q=fdr_bh(p, axis=-1),
        )
    check_cancel(cancel)
    if a.coupling is not None and b.coupling is not None:
        report(progress, 0.8, "coupling")
        arrays.update(coupling_a=a.coupling, coupling_b=b.coupling, coupling_diff=b.coupling - a.coupling)
        if a.coupling_recordings is not None and b.coupling_recordings is not None:
            _, p = permutation_test(a.coupling_recordings, b.coupling_recordings, n_permutations, seed=seed + 200, cancel=cancel)
            arrays.update(coupling_p=p, coupling_q=fdr_bh(p, axis=-1))
    lagged_test = None
    if a.lagged_z is not None and b.lagged_z is not None and a.lagged_z.shape[1:] == b.lagged_z.shape[1:]:
        report(progress, 0.85, "EEG power-BOLD correlation")
        lagged_test = _lagged_test(a, b, paired is not None, n_permutations, seed + 300, cancel)
        arrays.update(lagged_test.pop("arrays"))
    if a.fusion_global is not None and b.fusion_global is not None:
        arrays.update(
            views=np.array(["beta", "delta", "gamma", "theta", "alpha", "fmri"]),
            fusion_global_a=a.fusion_global, fusion_global_b=b.fusion_global,
            fusion_global_diff=b.fusion_global - a.fusion_global,
            fusion_a=a.fusion, fusion_b=b.fusion, fusion_diff=b.fusion - a.fusion,
        )
    report(progress, 1.0, "done")
    meta = {
        "a": a.label,
        "b": b.label,
        "unit": unit,
        "unit_note": unit_note,
        "cam_normalisation": "z-score across ROIs per window",
        "n_permutations": n_permutations,
        "seed": seed,
        "fdr": "Benjamini-Hochberg per class (and band) over ROIs",
        "coupling_tested": "coupling_p" in arrays,
        "lagged_r": ("EEG power-BOLD correlation at the canonical delay per recording; mean by Fisher z; "
                     + lagged_test["test"]) if lagged_test else None,
    }
    # The smallest p each class's saliency test can give: few blocks (or subjects) bound it, whatever the data.
    n_a, n_b = (np.asarray(arrays["n_windows_a"], dtype=int), np.asarray(arrays["n_windows_b"], dtype=int))
    meta["smallest_p"] = [None if min(x, y) == 0 else
                          float(smallest_p(int(x), n_permutations=n_permutations) if paired is not None
                                else smallest_p(int(x), int(y), n_permutations=n_permutations))
                          for x, y in zip(n_a, n_b)]
    # whether each class's test saw every relabelling (exact) or n_permutations random ones
    plans = [None if min(x, y) == 0 else
             relabelling_plan(int(x), None if paired is not None else int(y), n_permutations)
             for x, y in zip(n_a, n_b)]
    meta["permutations"] = plans
    arrays["permutations_used"] = np.array([plan["used"] if plan else 0 for plan in plans], dtype=int)
    arrays["permutations_exact"] = np.array([bool(plan and plan["exact"]) for plan in plans], dtype=bool)
    if "coupling_p" in arrays:
        meta["coupling_permutations"] = relabelling_plan(len(a.coupling_recordings), len(b.coupling_recordings),
                                                         n_permutations)
    if lagged_test:
        meta["lagged_r_permutations"] = lagged_test["plan"]
    if paired is not None:
        arrays["n_subjects"] = np.array(len(used_subjects))
        meta["subjects_paired"] = sorted(used_subjects)
        meta["subjects_left_out"] = sorted((set(a.subjects) | set(b.subjects)) - used_subjects)
        if lagged_test and lagged_test.get("left_out"):
            meta["lagged_r_subjects_left_out"] = lagged_test["left_out"]
    return CompareResult(arrays=arrays, meta=meta)


def _lagged_test(a: SessionData, b: SessionData, paired: bool, n_permutations: int, seed: int, cancel) -> dict:
    """Test B − A of the recordings' EEG power-BOLD correlation (Fisher z).

    Paired over the subjects recorded on both sides when ``paired`` and the
    recordings' subjects are known (each subject's mean z per side); otherwise
    the recordings are exchanged between the sides. The units bound the
    smallest p-value (``lagged_r_smallest_p``): one recording per side can show
    a change but never test it.
    """
    za, zb = a.lagged_z, b.lagged_z
    n_subjects = 0
    left_out: list = []
    if paired and a.lagged_subjects is not None and b.lagged_subjects is not None:
        both = sorted(set(a.lagged_subjects) & set(b.lagged_subjects))
        left_out = sorted((set(a.lagged_subjects) | set(b.lagged_subjects)) - set(both))
        if both:
            za, zb = subject_means(za, a.lagged_subjects, both), subject_means(zb, b.lagged_subjects, both)
            n_subjects = len(both)
    if n_subjects:
        _, p = sign_flip_test(zb - za, n_permutations, seed=seed, cancel=cancel)
        floor = smallest_p(n_subjects, n_permutations=n_permutations)
        plan = relabelling_plan(n_subjects, None, n_permutations)
        test = f"two-sided sign-flip test of the paired differences of {n_subjects} subjects"
    else:
        _, p = permutation_test(za, zb, n_permutations, seed=seed, cancel=cancel)
        floor = smallest_p(len(za), len(zb), n_permutations=n_permutations)
        plan = relabelling_plan(len(za), len(zb), n_permutations)
        test = "two-sided permutation test of the recordings"
        if paired:
            test += " (the recordings' subjects are not in the bundle, so they could not be paired)"
    r_a, r_b = np.tanh(za.mean(0)), np.tanh(zb.mean(0))
    arrays = dict(lagged_r_a=r_a, lagged_r_b=r_b, lagged_r_diff=r_b - r_a, lagged_r_p=p,
                  lagged_r_q=fdr_bh(p, axis=-1), n_recordings_a=np.array(len(a.lagged_z)),
                  n_recordings_b=np.array(len(b.lagged_z)), lagged_r_n_subjects=np.array(n_subjects),
                  lagged_r_smallest_p=np.array(floor))
    return dict(arrays=arrays, test=test, left_out=left_out, plan=plan)


def lagged_units(arrays) -> str:
    """What the correlation test of a comparison compared, e.g. "4 vs 4 recordings" or "6 subjects paired"."""
    n_subjects = int(arrays.get("lagged_r_n_subjects", 0))
    if n_subjects:
        return f"{n_subjects} subjects paired"
    return f"{int(arrays['n_recordings_a'])} vs {int(arrays['n_recordings_b'])} recordings"


def lagged_smallest_p(arrays) -> float:
    """The smallest p-value the comparison's correlation test could give (older results: recordings)."""
    if "lagged_r_smallest_p" in arrays:
        return float(arrays["lagged_r_smallest_p"])
    return smallest_p(int(arrays["n_recordings_a"]), int(arrays["n_recordings_b"]),
                      n_permutations=int(arrays["n_permutations"]) if "n_permutations" in arrays else None)


def compare_bundles(
    a: ResultsBundle,
    b: Optional[ResultsBundle] = None,
    session_a: Optional[str] = None,
    session_b: Optional[str] = None,
    n_permutations: int = 10000,
    seed: int = 0,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelFlag] = None,
    unit: Optional[str] = None,
) -> CompareResult:
    """Compare two bundles, or two sessions of one bundle (``b`` None).

    The ROI names and coordinates of ``a`` are added to the result.
    ``unit`` None means blocks when both sides carry block labels, else
    windows (see :func:`compare_sessions`).

    Raises
    ------
    CompareError
        The two sides are the same session or the same bundle folder, or
        the bundles cannot be compared. Two bundles computed from the same
        input files (same checksums) are compared with a warning in
        ``meta["warnings"]``.
    """
    warnings = []
    if b is None:
        if session_a is None or session_b is None:
            raise CompareError(a.path or a.label, "comparing within one bundle needs two session labels")
        if str(session_a) == str(session_b):
            raise CompareError(a.path or a.label, f"session {session_a!r} was given twice; "
                                                  "compare two different sessions")
        b_bundle = a
    else:
        b_bundle = b
        if a is b or (a.path is not None and b.path is not None
                      and Path(a.path).resolve() == Path(b.path).resolve()):
            raise CompareError(b.path or b.label, "is the same results folder as A; compare two different "
                                                  "bundles (or two sessions of one bundle with --sessions)")
        check_compatible(a, b)
        inputs_a, inputs_b = a.manifest.get("input_files") or {}, b.manifest.get("input_files") or {}
        if inputs_a and sorted(inputs_a.values()) == sorted(inputs_b.values()):
            warnings.append("both bundles were computed from the same input files (same checksums in "
                            "manifest.json): the differences show the variability of training, not a "
                            "change between sessions")
    relative = b is not None
    side_a = session_data(a, session_a, relative=relative)
    side_b = session_data(b_bundle, session_b, relative=relative)
    if b is not None and side_a.label == side_b.label and a.path is not None and b.path is not None:
        # Two bundles of one dataset carry the same label; their folders tell them apart.
        name_a, name_b = Path(a.path).name, Path(b.path).name
        if name_a == name_b:
            name_a, name_b = str(Path(a.path).resolve()), str(Path(b.path).resolve())
        side_a.label, side_b.label = name_a, name_b
    result = compare_sessions(side_a, side_b, a.classes, a.bands if a.has_eeg else (), n_permutations, seed, progress,
                              cancel, unit=unit)
    missing = _lagged_missing(a, b_bundle, side_a, side_b, session_a, session_b)
    if missing and "lagged_r_diff" not in result.arrays:
        result.meta["lagged_r_missing"] = missing
    result.meta["cam_normalisation"] = ("z-score across ROIs per window (two models)" if relative
                                        else "none (two sessions of one model share its CAM scale)")
    result.arrays["roi_names"] = a.get("saliency", "roi_names")
    result.arrays["roi_coords"] = a.get("saliency", "roi_coords")
    from eegfmri_viewer.report.roi_context import compared_rois_without_bold

    result.arrays["rois_without_bold"] = compared_rois_without_bold(
        a.dataset, b.dataset if b is not None else None, session_a, session_b)
    space, coords_note, space_warning = coordinate_space({side_a.label: dataset_spaces(a.dataset),
                                                          side_b.label: dataset_spaces(b_bundle.dataset)})
    result.meta["space"] = space
    result.meta["notes"] = {
        "roi": ROI_INDEX_NOTE,
        "coords": coords_note,
        "permutations": PERMUTATIONS_NOTE,
    }
    if space_warning:
        warnings.append(space_warning)
    if warnings:
        result.meta["warnings"] = warnings
    result.meta.update(bundle_a=str(a.path) if a.path else None, bundle_b=str(b_bundle.path) if b_bundle.path else None)
    return result


def _lagged_missing(a: ResultsBundle, b: ResultsBundle, side_a: SessionData, side_b: SessionData,
                    session_a, session_b) -> Optional[str]:
    """Why the EEG power-BOLD correlation is not compared when one side has it, else None."""
    if (side_a.lagged_z is None) == (side_b.lagged_z is None):
        return None
    bundle, side, session = (b, side_b, session_b) if side_a.lagged_z is not None else (a, side_a, session_a)
    where = side.label
    if not bundle.has("coupling"):
        why = "has no coupling.npz (no EEG-BOLD coupling was computed)"
    elif "recording_lagged_r" not in bundle.arrays["coupling"]:
        why = "has no per-recording correlation (coupling.npz: recording_lagged_r; re-run analyze)"
    else:
        why = f"has no recording of session {session!r} with a correlation"
    return f"{where} {why}, so the EEG power-BOLD correlation is not compared"


def rois_left_out(result: CompareResult) -> np.ndarray:
    """Atlas ROIs without BOLD signal on either side (``compare.npz`` ``rois_without_bold``; none for older ones).

    Their series are flat zeros on that side, so their change says nothing
    about the brain: the change tables and the B − A images leave them out.

    Returns
    -------
    rois : ndarray, shape (n_left_out,), int
    """
    return np.asarray(result.arrays.get("rois_without_bold", np.zeros(0, dtype=int)), dtype=int).reshape(-1)


def top_changes(result: CompareResult, class_index: int, n: int = 10, key: str = "fmri_cam") -> list:
    """The ``n`` ROIs with the largest absolute change for one class.

    ROIs without BOLD signal on either side (:func:`rois_left_out`) are never
    listed.

    Returns
    -------
    rows : list of dict
        ``roi_index`` (0-based atlas position: the row in ``roi_names`` /
        ``roi_coords``), ``roi`` (the same, its older name), ``name`` (the
        atlas's label, e.g. ``"ROI 145"`` for index 144 of Power 2011),
        ``diff``, ``p``, ``q``, ``coords`` (the atlas ROI centre, MNI mm);
        sorted by decreasing ``|diff|``.
    """
    diff = result.arrays[f"{key}_diff"][class_index]
    left_out = set(rois_left_out(result).tolist())
    order = [i for i in np.argsort(-np.nan_to_num(np.abs(diff), nan=-1.0), kind="stable") if int(i) not in left_out][:n]
    names = result.arrays.get("roi_names")
    coords = result.arrays.get("roi_coords")
    return [
        {
            "roi_index": int(i),
            "roi": int(i),
            "name": str(names[i]) if names is not None else str(i),
            "diff": float(diff[i]),
            "p": float(result.arrays[f"{key}_p"][class_index, i]),
            "q": float(result.arrays[f"{key}_q"][class_index, i]),
            "coords": [float(v) for v in coords[i]] if coords is not None else None,
        }
        for i in order
    ]


def compare_inputs(result: CompareResult) -> list:
    """The bundle folders a comparison was computed from (never written onto, around or inside)."""
    return [Path(p) for p in (result.meta.get("bundle_a"), result.meta.get("bundle_b")) if p]


def check_compare_destination(out_dir, force: bool = False, inputs=()) -> Path:
    """Check, before any work, that a comparison may be written to the folder ``out_dir``.

    ``force`` replaces only an earlier comparison output (``compare.npz`` /
    ``compare.json`` and nothing else) or an empty folder; ``out_dir`` must not
    be, contain or lie inside any of ``inputs`` (the bundles compared).

    Raises
    ------
    InputError
        Naming the folder and why it is refused.
    """
    return check_output_folder(out_dir, force=force, replaceable=replaceable_comparison, inputs=inputs,
                               what="comparison folder")


def save_compare(result: CompareResult, out_dir, force: bool = False) -> Path:
    """Write ``compare.npz`` and ``compare.json`` to the folder ``out_dir`` atomically.

    ``force`` replaces only an earlier comparison output or an empty folder,
    and ``out_dir`` is never one of the compared bundles, inside or around
    them (see :func:`check_compare_destination`).
    """
    with atomic_folder(out_dir, force=force, replaceable=replaceable_comparison, inputs=compare_inputs(result),
                       what="comparison folder") as tmp:
        np.savez_compressed(tmp / "compare.npz", **{k: np.asarray(v) for k, v in result.arrays.items()})
        summary = dict(result.meta)
        summary["top_changes"] = {
            str(c): top_changes(result, i, n=10) for i, c in enumerate(result.arrays["classes"])
        }
        # standard JSON: a missing number (NaN) is written null
        (tmp / "compare.json").write_text(json.dumps(strict_json(summary), indent=2, allow_nan=False) + "\n",
                                          encoding="utf-8")
    return Path(out_dir).resolve()


def load_compare(path) -> CompareResult:
    """Read a folder written by :func:`save_compare` (no pickles)."""
    path = Path(path)
    npz, meta = path / "compare.npz", path / "compare.json"
    if not npz.is_file():
        raise InputError(path, "has no compare.npz; it is not a comparison written by 'eegfmri-viewer compare'")
    with np.load(npz, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return CompareResult(arrays=arrays, meta=json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {})


def compare_paths(path_a, path_b, **kwargs) -> CompareResult:
    """Load two bundle folders and compare them (see :func:`compare_bundles`)."""
    return compare_bundles(load_bundle(path_a), load_bundle(path_b), **kwargs)
