"""Carry ROI values onto the fsaverage5 cortical surface (no Qt, no pyvista).

The 3-D cortex view shows per-ROI results (CAM saliency of a class) on the
fsaverage5 surfaces that nilearn ships. ROI centres are atlas coordinates in
MNI space (mm); the fsaverage surfaces are in fsaverage "surface RAS", which
for fsaverage is MNI305 space: the two differ by a few millimetres, less than
the mapping radius, so the coordinates are used as they are.

Mapping (:func:`roi_vertex_weights`)::

    w_ij    = exp(-d_ij**2 / (2 * sigma**2))   if d_ij <= radius, else 0
    value_i = sum_j w_ij * x_j / max(1, sum_j w_ij)

with ``d_ij`` the distance (mm) from vertex ``i`` to ROI centre ``j`` and
``sigma = radius / 2`` by default (radius 12 mm). Normalising by
``max(1, sum w)`` makes an isolated ROI a smooth blob that fades with distance
(a vertex at its centre gets exactly its value), while vertices near several
ROIs get their weighted mean (dense atlases are not inflated). Vertices with
no ROI within the radius have no value (NaN). The weights are computed once
on the pial coordinates and reused for the inflated surface, so a region keeps
its values when the surface is switched.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

DEFAULT_RADIUS_MM = 12.0
INFLATED_GAP_MM = 10.0


@dataclass
class CortexSurfaces:
    """Both fsaverage5 hemispheres as one mesh (left first, then right).

    Attributes
    ----------
    pial : ndarray, shape (n_vertices, 3)
        Pial coordinates, mm (fsaverage surface RAS ~ MNI).
    inflated : ndarray, shape (n_vertices, 3)
        Inflated coordinates, mm; each hemisphere is shifted so that the two
        do not overlap and sit where the pial hemispheres are.
    faces : ndarray, shape (n_faces, 3)
        Triangles, int64 indices into the vertex axis of both hemispheres.
    sulc : ndarray, shape (n_vertices,)
        Sulcal depth (positive in sulci, negative on gyri).
    n_left : int
        Number of left-hemisphere vertices (the first ``n_left`` rows).
    """

    pial: np.ndarray
    inflated: np.ndarray
    faces: np.ndarray
    sulc: np.ndarray
    n_left: int

    @property
    def n_vertices(self) -> int:
        return int(self.pial.shape[0])

    def coordinates(self, surface: str) -> np.ndarray:
        """Vertex coordinates of ``surface`` ("pial" or "inflated"), shape (n_vertices, 3)."""
        if surface == "pial":
            return self.pial
        if surface == "inflated":
            return self.inflated
        raise ValueError(f"surface must be 'pial' or 'inflated', got {surface!r}")


@lru_cache(maxsize=1)
def load_fsaverage5() -> CortexSurfaces:
    """Load both fsaverage5 hemispheres shipped with nilearn (no download).

    The result is cached (parsing the GIfTI files takes about a second) and
    shared, so its arrays are read-only.

    Returns
    -------
    surfaces : CortexSurfaces
    """
    from nilearn import datasets, surface

    fs = datasets.fetch_surf_fsaverage("fsaverage5")
    pial, infl, faces, sulc = [], [], [], []
    offset = 0
    for hemi in ("left", "right"):
        mesh = surface.load_surf_mesh(fs[f"pial_{hemi}"])
        inflated = surface.load_surf_mesh(fs[f"infl_{hemi}"])
        pial.append(np.asarray(mesh.coordinates, dtype=float))
        infl.append(np.asarray(inflated.coordinates, dtype=float))
        faces.append(np.asarray(mesh.faces, dtype=np.int64) + offset)
        sulc.append(np.asarray(surface.load_surf_data(fs[f"sulc_{hemi}"]), dtype=float))
        offset += pial[-1].shape[0]
    surfaces = CortexSurfaces(
        pial=np.vstack(pial),
        inflated=np.vstack(place_inflated(pial[0], infl[0], pial[1], infl[1])),
        faces=np.vstack(faces),
        sulc=np.concatenate(sulc),
        n_left=pial[0].shape[0],
    )
    for array in (surfaces.pial, surfaces.inflated, surfaces.faces, surfaces.sulc):
        array.setflags(write=False)
    return surfaces


def place_inflated(pial_left, infl_left, pial_right, infl_right, gap_mm: float = INFLATED_GAP_MM):
    """Shift the inflated hemispheres apart so that they do not overlap.

    FreeSurfer's inflated hemispheres are each centred on the origin, so drawn
    together they intersect. Each is moved so that its y/z centre matches its
    pial hemisphere and the two are ``gap_mm`` apart across the midline.

    Parameters
    ----------
    pial_left, infl_left, pial_right, infl_right : ndarray, shape (n, 3)
        Coordinates (mm) of each hemisphere.
    gap_mm : float
        Distance between the medial walls.

    Returns
    -------
    left, right : ndarray, shape (n, 3)
        Shifted inflated coordinates.
    """

    def centre(c):
        return (c.min(axis=0) + c.max(axis=0)) / 2

    left = infl_left + (centre(pial_left) - centre(infl_left))
    right = infl_right + (centre(pial_right) - centre(infl_right))
    left[:, 0] += -gap_mm / 2 - left[:, 0].max()
    right[:, 0] += gap_mm / 2 - right[:, 0].min()
    return left, right


@dataclass
class VertexWeights:
    """Sparse ROI -> vertex mapping (see the module docstring for the equation).

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix, shape (n_vertices, n_rois)
        Normalised weights ``w_ij / max(1, sum_j w_ij)``.
    raw : scipy.sparse.csr_matrix, shape (n_vertices, n_rois)
        The Gaussian weights ``w_ij`` before normalisation.
    covered : ndarray of bool, shape (n_vertices,)
        Vertices with at least one ROI within the radius.
    radius_mm, sigma_mm : float
        Kernel settings used.
    """

    matrix: sp.csr_matrix
    raw: sp.csr_matrix
    covered: np.ndarray
    radius_mm: float
    sigma_mm: float

    def map(self, roi_values) -> np.ndarray:
        """ROI values to vertex values.

        Parameters
        ----------
        roi_values : array_like, shape (n_rois,)

        Returns
        -------
        vertex_values : ndarray, shape (n_vertices,)
            NaN where no ROI is within the radius, or where all ROIs within
            it have NaN values; NaN ROIs are left out of the normalisation.
        """
        x = np.asarray(roi_values, dtype=float)
        if x.shape != (self.matrix.shape[1],):
            raise ValueError(f"expected {self.matrix.shape[1]} ROI values, got shape {x.shape}")
        finite = np.isfinite(x)
        if finite.all():
            out = self.matrix @ x
            covered = self.covered
        else:
            reach = self.raw @ finite.astype(float)
            out = (self.raw @ np.where(finite, x, 0.0)) / np.maximum(reach, 1.0)
            covered = self.covered & (reach > 0)
        out[~covered] = np.nan
        return out


def roi_vertex_weights(vertex_coords, roi_coords, radius_mm: float = DEFAULT_RADIUS_MM,
                       sigma_mm: float | None = None) -> VertexWeights:
    """Gaussian distance weights from ROI centres to surface vertices.

    Parameters
    ----------
    vertex_coords : ndarray, shape (n_vertices, 3)
        Surface vertex coordinates, mm (use the pial surface).
    roi_coords : ndarray, shape (n_rois, 3)
        ROI centres, mm, same space.
    radius_mm : float
        ROIs farther than this from a vertex do not reach it.
    sigma_mm : float or None
        Gaussian width; ``radius_mm / 2`` when None.

    Returns
    -------
    weights : VertexWeights
        ``weights.matrix`` has shape (n_vertices, n_rois).
    """
    vertex_coords = np.asarray(vertex_coords, dtype=float)
    roi_coords = np.asarray(roi_coords, dtype=float)
    if vertex_coords.ndim != 2 or vertex_coords.shape[1] != 3:
        raise ValueError(f"vertex_coords must have shape (n_vertices, 3), got {vertex_coords.shape}")
    if roi_coords.ndim != 2 or roi_coords.shape[1] != 3:
        raise ValueError(f"roi_coords must have shape (n_rois, 3), got {roi_coords.shape}")
    if radius_mm <= 0:
        raise ValueError(f"radius_mm must be > 0, got {radius_mm}")
    sigma = float(sigma_mm) if sigma_mm is not None else radius_mm / 2.0
    n_v, n_r = len(vertex_coords), len(roi_coords)
    valid = np.all(np.isfinite(roi_coords), axis=1)
    valid_idx = np.flatnonzero(valid)
    if len(valid_idx):
        # output_type="ndarray" keeps exact zero distances (a vertex on an ROI centre).
        pairs = cKDTree(vertex_coords).sparse_distance_matrix(
            cKDTree(roi_coords[valid_idx]), radius_mm, output_type="ndarray"
        )
        rows = pairs["i"].astype(np.int64)
        cols = valid_idx[pairs["j"]]
        d = pairs["v"]
    else:
        rows = cols = np.zeros(0, dtype=np.int64)
        d = np.zeros(0)
    w = np.exp(-(d ** 2) / (2 * sigma ** 2))
    raw = sp.csr_matrix((w, (rows, cols)), shape=(n_v, n_r))
    total = np.asarray(raw.sum(axis=1)).ravel()
    covered = np.diff(raw.indptr) > 0
    matrix = sp.diags(1.0 / np.maximum(total, 1.0)) @ raw
    return VertexWeights(matrix=sp.csr_matrix(matrix), raw=raw, covered=covered, radius_mm=float(radius_mm), sigma_mm=sigma)


def nearest_roi(point, roi_coords) -> int:
    """Index of the ROI centre nearest to ``point``.

    Parameters
    ----------
    point : array_like, shape (3,)
    roi_coords : ndarray, shape (n_rois, 3)
        NaN rows are never chosen.

    Returns
    -------
    index : int
    """
    roi_coords = np.asarray(roi_coords, dtype=float)
    d = np.linalg.norm(roi_coords - np.asarray(point, dtype=float), axis=1)
    d[~np.isfinite(d)] = np.inf
    if not np.isfinite(d).any():
        raise ValueError("no ROI has finite coordinates")
    return int(np.argmin(d))


def roi_anchor_vertices(vertex_coords, roi_coords, radius_mm: float = DEFAULT_RADIUS_MM):
    """Nearest surface vertex of each ROI, for placing ROIs on another surface.

    Parameters
    ----------
    vertex_coords : ndarray, shape (n_vertices, 3)
        Pial coordinates, mm.
    roi_coords : ndarray, shape (n_rois, 3)

    Returns
    -------
    vertex : ndarray of int, shape (n_rois,)
        Nearest vertex index, -1 for ROIs farther than ``radius_mm`` from the
        surface (deep or subcortical ROIs) or with NaN coordinates.
    """
    roi_coords = np.asarray(roi_coords, dtype=float)
    out = np.full(len(roi_coords), -1, dtype=np.int64)
    ok = np.all(np.isfinite(roi_coords), axis=1)
    if ok.any():
        d, idx = cKDTree(vertex_coords).query(roi_coords[ok])
        out[np.flatnonzero(ok)] = np.where(d <= radius_mm, idx, -1)
    return out


def _fsaverage_dir() -> Path:
    import mne

    return Path(mne.__file__).parent / "data" / "fsaverage"


def fsaverage_head():
    """The fsaverage scalp surface that MNE ships, in fsaverage MRI mm.

    Returns
    -------
    points : ndarray, shape (n_points, 3)
        mm, the same frame as :func:`load_fsaverage5`.
    faces : ndarray, shape (n_faces, 3)
    """
    import mne

    path = _fsaverage_dir() / "fsaverage-head.fif"
    surf = mne.read_bem_surfaces(str(path), verbose="error")[0]
    return np.asarray(surf["rr"]) * 1000.0, np.asarray(surf["tris"], dtype=np.int64)


def head_to_mri_mm(ch_pos_head) -> np.ndarray:
    """Electrode positions from the MNE head frame (m) to fsaverage MRI (mm).

    Uses ``fsaverage-trans.fif`` that MNE ships (the transform MNE itself uses
    to show standard montages on fsaverage).

    Parameters
    ----------
    ch_pos_head : ndarray, shape (n_channels, 3)
        Head-frame positions in metres (NaN rows stay NaN).

    Returns
    -------
    ch_pos_mri : ndarray, shape (n_channels, 3)
        mm.
    """
    import mne

    trans = mne.read_trans(str(_fsaverage_dir() / "fsaverage-trans.fif"), verbose="error")["trans"]
    pos = np.asarray(ch_pos_head, dtype=float)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(f"ch_pos must have shape (n_channels, 3), got {pos.shape}")
    return (pos @ trans[:3, :3].T + trans[:3, 3]) * 1000.0
