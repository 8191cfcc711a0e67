"""2-D topomap layout of electrode positions (the ``ch_pos_2d`` of the bundle)."""

from __future__ import annotations

import numpy as np
from numpy import ndarray


def fit_sphere_centre(pos: ndarray) -> ndarray:
    """Least-squares centre of the sphere through the points.

    Solves ``|p|² = 2 p·c + (r² - |c|²)`` for ``c``; falls back to the mean
    when fewer than four points are known.

    Parameters
    ----------
    pos : ndarray, shape (n, 3)

    Returns
    -------
    centre : ndarray, shape (3,)
    """
    pos = pos[np.all(np.isfinite(pos), axis=1)]
    if len(pos) < 4:
        return pos.mean(axis=0) if len(pos) else np.zeros(3)
    A = np.column_stack([2 * pos, np.ones(len(pos))])
    sol, *_ = np.linalg.lstsq(A, (pos ** 2).sum(axis=1), rcond=None)
    return sol[:3]


def topomap_layout(ch_pos: ndarray) -> ndarray:
    """Azimuthal equidistant projection seen from above (nose up, +y).

    A point at polar angle ``θ`` from the vertex (the +z axis through the
    fitted sphere centre) and azimuth ``φ`` goes to ``θ (cos φ, sin φ)``, the
    projection MNE topomaps use; the result is scaled so that the farthest
    electrode lies at radius 1.

    Parameters
    ----------
    ch_pos : ndarray, shape (n_channels, 3)
        Head-frame positions (NaN where unknown).

    Returns
    -------
    xy : ndarray, shape (n_channels, 2)
        NaN rows where the position is unknown.
    """
    ch_pos = np.asarray(ch_pos, dtype=float)
    rel = ch_pos - fit_sphere_centre(ch_pos)
    r = np.linalg.norm(rel, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        theta = np.arccos(np.clip(rel[:, 2] / r, -1, 1))
    phi = np.arctan2(rel[:, 1], rel[:, 0])
    xy = np.column_stack([theta * np.cos(phi), theta * np.sin(phi)])
    scale = np.nanmax(np.linalg.norm(xy, axis=1)) if np.any(np.isfinite(xy)) else 1.0
    return xy / (scale if scale > 0 else 1.0)
