"""BOLD parcellation into ROI time series with nilearn maskers.

Coordinate atlases use :class:`nilearn.maskers.NiftiSpheresMasker` (mean over a
sphere of ``atlas.radius_mm`` around each centre, overlapping spheres allowed so
that large radii work); label atlases use
:class:`nilearn.maskers.NiftiLabelsMasker` (mean over each label, the labels
resampled to the BOLD grid). The image is read in blocks of volumes, so a long
run neither sits in memory twice nor blocks cancellation. The ROI series are
then cleaned together with :func:`nilearn.signal.clean`: linear detrend,
regression of the confounds when given, and z-scoring per ROI.

Confounds: when the table has the six fMRIPrep motion columns
(``trans_x`` ... ``rot_z``), those, their ``_derivative1`` columns and
``csf`` / ``white_matter`` are regressed (a standard 14-parameter model);
otherwise every numeric column is. Missing values (the first row of
derivatives) are replaced by the column mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from numpy import ndarray

from ..io.errors import InputError
from ..progress import check_cancel, report
from .atlases import Atlas

_MOTION = ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z")


@dataclass
class ROISeries:
    """ROI time series of one run.

    Attributes
    ----------
    data : ndarray, shape (n_volumes, n_rois), float32
        Detrended, confound-cleaned, z-scored per ROI. An ROI without signal
        (outside the brain / field of view) is all zeros.
    atlas : Atlas
    tr : float
        Seconds between volumes.
    confounds_used : list of str
        Confound columns regressed out.
    empty_rois : ndarray, shape (n_empty,), int
        Atlas indices of ROIs that had no signal (outside the image, flat, or
        holding NaN / Inf voxels); their columns of ``data`` are zeros.
    nonfinite_rois : ndarray, shape (n_nonfinite,), int
        The ROIs among ``empty_rois`` left out because a voxel of theirs holds
        NaN or Inf in some volume (NaN voxels outside every ROI are ignored:
        SPM-masked images hold NaN outside the brain).
    """

    data: ndarray
    atlas: Atlas
    tr: float
    confounds_used: list = None
    empty_rois: ndarray = None
    nonfinite_rois: ndarray = None

    @property
    def n_volumes(self) -> int:
        return int(self.data.shape[0])

    @property
    def times(self) -> ndarray:
        """BOLD-clock onset of each volume, shape (n_volumes,)."""
        return np.arange(self.n_volumes) * self.tr


def select_confounds(confounds, n_volumes: int, source: str = "confounds") -> tuple:
    """Pick and clean the confound regressors.

    Parameters
    ----------
    confounds : pandas.DataFrame | ndarray, shape (n_volumes, n_columns) | None
    n_volumes : int
    source : str
        Name used in error messages.

    Returns
    -------
    matrix : ndarray, shape (n_volumes, n_used) | None
    names : list of str
    """
    if confounds is None:
        return None, []
    import pandas as pd

    df = confounds if isinstance(confounds, pd.DataFrame) else pd.DataFrame(np.asarray(confounds, dtype=float))
    if len(df) != n_volumes:
        raise InputError(source, f"{len(df)} confound rows for {n_volumes} BOLD volumes")
    cols = [str(c) for c in df.columns]
    if all(m in cols for m in _MOTION):
        wanted = list(_MOTION) + [f"{m}_derivative1" for m in _MOTION] + ["csf", "white_matter"]
        use = [c for c in wanted if c in cols]
    else:
        use = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    if not use:
        return None, []
    X = df[use].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    means = np.nanmean(np.where(np.isfinite(X), X, np.nan), axis=0)
    means = np.where(np.isfinite(means), means, 0.0)
    X = np.where(np.isfinite(X), X, means)
    varying = X.std(axis=0) > 0
    X = X[:, varying]
    names = [str(c) for c, v in zip(use, varying) if v]
    if X.shape[1] >= n_volumes // 2:
        raise InputError(source, f"{X.shape[1]} confound columns for {n_volumes} volumes: too many to regress")
    return (X if X.shape[1] else None), names


def parcellate(bold_img, atlas: Atlas, tr: float, confounds=None, block_volumes: Optional[int] = None,
               standardize: bool = True, progress=None, cancel=None) -> ROISeries:
    """Extract cleaned ROI time series from a 4-D BOLD image.

    Parameters
    ----------
    bold_img : nibabel.Nifti1Image
        4-D BOLD in the atlas space (MNI for the coordinate atlases). Its data
        are read through the array proxy, a block of volumes at a time, and not
        modified.
    atlas : Atlas
        From :func:`~eegfmri_viewer.preprocessing.atlases.load_atlas`.
    tr : float
        Repetition time (s).
    confounds : pandas.DataFrame | ndarray, shape (n_volumes, n_columns) | None
        Nuisance regressors (see the module docstring for the selection).
    block_volumes : int | None
        Volumes read at a time; default as many as fit in about 256 MB of
        float32 (each block costs one pass of the masker, so fewer is faster).
    standardize : bool
        z-score each ROI over this run (default). False keeps the detrended,
        cleaned signal in scanner units, for a scaling shared by several runs
        (:func:`standardize_runs`).
    progress, cancel : callables, optional

    Returns
    -------
    roi_series : ROISeries

    Raises
    ------
    InputError
        Not 4-D, too few volumes, bad TR or confounds, no ROI inside the image.
    """
    import nibabel as nib
    from nilearn import signal

    source = bold_img.get_filename() or "BOLD image"
    shape = bold_img.shape
    if len(shape) != 4:
        raise InputError(source, f"{len(shape)}-D image, expected 4-D BOLD")
    n_vol = int(shape[3])
    if n_vol < 3:
        raise InputError(source, f"only {n_vol} volume(s); need at least 3 to clean a time series")
    if tr is None or not float(tr) > 0:
        raise InputError(source, f"repetition time must be > 0 s, got {tr}")
    conf, conf_names = select_confounds(confounds, n_vol, source=f"confounds of {source}")

    if block_volumes is None:
        block_volumes = max(8, int(256e6 // (4 * int(np.prod(shape[:3])))))
    masker = present = bad_voxels = None
    out = np.zeros((n_vol, atlas.n_rois), dtype=float)
    for v0 in range(0, n_vol, block_volumes):
        check_cancel(cancel)
        v1 = min(n_vol, v0 + block_volumes)
        block = np.asarray(bold_img.dataobj[..., v0:v1], dtype=np.float32)
        bad = ~np.isfinite(block)
        if bad.any():
            # nilearn would average them as zeros; which ROIs they touch is found below
            bad_voxels = bad.any(axis=3) if bad_voxels is None else bad_voxels | bad.any(axis=3)
            block = np.where(bad, np.float32(0), block)
        img = nib.Nifti1Image(block, bold_img.affine, bold_img.header)
        if masker is None:
            masker, present = _make_masker(atlas, img, source)
        out[v0:v1][:, present] = masker.transform(img)
        report(progress, 0.9 * v1 / n_vol, f"parcellating BOLD ({v1}/{n_vol} volumes)")
    check_cancel(cancel)

    # NaN / Inf voxels outside every ROI (SPM writes NaN outside the brain mask) do not matter;
    # a ROI holding one is left out rather than averaged over a guess
    nonfinite = np.empty(0, dtype=int)
    if bad_voxels is not None:
        hit = masker.transform(nib.Nifti1Image(bad_voxels[..., None].astype(np.float32), bold_img.affine))[0]
        nonfinite = np.asarray(present)[hit > 0]
        out[:, nonfinite] = 0.0
    empty = np.flatnonzero(np.all(out == out[:1], axis=0))
    good = np.setdiff1d(np.arange(atlas.n_rois), empty)
    if len(good) == 0:
        if len(nonfinite):
            raise InputError(source, f"every {atlas.name} ROI with signal holds NaN/Inf voxels")
        raise InputError(source, f"no {atlas.name} ROI holds signal: is the image in the atlas space?")
    cleaned = np.zeros_like(out)
    cleaned[:, good] = signal.clean(out[:, good], detrend=True, standardize="zscore_sample" if standardize else None,
                                    confounds=conf, t_r=float(tr), filter=False)
    report(progress, 1.0, "BOLD parcellated")
    return ROISeries(data=cleaned.astype(np.float32), atlas=atlas, tr=float(tr),
                     confounds_used=conf_names, empty_rois=empty, nonfinite_rois=nonfinite)


def pooled_roi_scale(series: list) -> ndarray:
    """Standard deviation of each ROI over several runs together (e.g. all runs of one subject).

    Dividing the runs of a subject by one standard deviation per ROI keeps the
    differences of response amplitude between them (before / after therapy);
    z-scoring each run on its own would make a region's response the same size
    in every run.

    Parameters
    ----------
    series : list of ndarray, each shape (n_volumes_r, n_rois)
        Detrended ROI series, e.g. ``parcellate(..., standardize=False).data``;
        each run's own mean is removed before pooling.

    Returns
    -------
    scale : ndarray, shape (n_rois,)
        Pooled standard deviation; 1 for ROIs without signal (they stay 0).
    """
    centred = [np.asarray(s, dtype=np.float64) - np.asarray(s, dtype=np.float64).mean(axis=0) for s in series]
    stacked = np.concatenate(centred, axis=0)
    sd = stacked.std(axis=0, ddof=1) if len(stacked) > 1 else np.zeros(stacked.shape[1])
    return np.where(sd > 0, sd, 1.0)


def _inside_fov(coords: ndarray, img) -> ndarray:
    """Indices of the world points whose nearest voxel lies inside the image."""
    import nibabel as nib

    ijk = nib.affines.apply_affine(np.linalg.inv(img.affine), coords)
    dims = np.array(img.shape[:3])
    return np.flatnonzero(np.all((ijk > -0.5) & (ijk < dims - 0.5), axis=1))


def _sphere_support(coords: ndarray, radius: float, img):
    """Mask of the voxels a sphere of ``radius`` around any seed can use.

    nilearn's sphere masker scans its whole mask once per seed; restricting
    the mask to the spheres (dilated by one voxel diagonal, so each seed's
    nearest voxel stays in) gives the same signals many times faster.
    """
    import nibabel as nib
    from scipy.spatial import cKDTree

    shape = img.shape[:3]
    ijk = np.indices(shape).reshape(3, -1).T
    world = nib.affines.apply_affine(img.affine, ijk)
    vox = np.sqrt((img.affine[:3, :3] ** 2).sum(axis=0)).max()
    dist, _ = cKDTree(coords).query(world, distance_upper_bound=radius + np.sqrt(3) * vox)
    mask = np.isfinite(dist).reshape(shape).astype(np.uint8)
    return nib.Nifti1Image(mask, img.affine)


def _make_masker(atlas: Atlas, img, source: str) -> tuple:
    """Masker fitted on ``img`` and the atlas indices of its output columns."""
    from nilearn.maskers import NiftiLabelsMasker, NiftiSpheresMasker

    if atlas.is_label_atlas:
        masker = NiftiLabelsMasker(labels_img=str(atlas.label_img), resampling_target="data",
                                   strategy="mean", standardize=None, reports=False)
        try:
            masker.fit(img)
        except ValueError as exc:
            raise InputError(source, f"cannot place the labels of {atlas.name} in this image ({exc})") from None
        # labels that vanish when resampled to the BOLD grid give no column
        ids = getattr(masker, "region_ids_", None)
        if isinstance(ids, dict):
            kept = [int(v) for k, v in ids.items() if k != "background"]
        else:
            kept = [int(v) for v in np.unique(np.asarray(masker.labels_img_.dataobj)) if v != 0]
        pos = {int(v): i for i, v in enumerate(atlas.label_values)}
        return masker, np.array([pos[v] for v in kept if v in pos], dtype=int)
    present = _inside_fov(atlas.coords, img)
    if len(present) == 0:
        raise InputError(source, f"no {atlas.name} ROI lies inside the image: is it in MNI space?")
    seeds = atlas.coords[present]
    masker = NiftiSpheresMasker(seeds=[tuple(c) for c in seeds], radius=atlas.radius_mm,
                                allow_overlap=True, standardize=None, reports=False,
                                mask_img=_sphere_support(seeds, atlas.radius_mm, img))
    try:
        masker.fit(img)
    except ValueError as exc:
        raise InputError(source, f"cannot place the {atlas.name} ROIs in this image ({exc})") from None
    return masker, present
