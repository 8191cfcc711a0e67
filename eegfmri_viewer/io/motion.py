"""Head motion of a BOLD run from its confounds table: framewise displacement.

Framewise displacement (FD; Power et al. 2012, NeuroImage 59:2142) sums the
absolute volume-to-volume changes of the six rigid-body motion parameters,
rotations turned into millimetres of arc on a sphere of 50 mm (about the
distance from the centre of the head to the cortex)::

    FD[t] = |Δtx| + |Δty| + |Δtz| + 50 mm · (|Δrx| + |Δry| + |Δrz|),   FD[0] = 0

fMRIPrep writes it as the ``framewise_displacement`` column, which is used as
is; otherwise it is computed from ``trans_x, trans_y, trans_z`` (mm) and
``rot_x, rot_y, rot_z`` (radians), the fMRIPrep names.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from numpy import ndarray

FD_COLUMN = "framewise_displacement"
TRANSLATIONS = ("trans_x", "trans_y", "trans_z")
ROTATIONS = ("rot_x", "rot_y", "rot_z")
HEAD_RADIUS_MM = 50.0
#: FD above which a volume counts as moved in summaries (Power et al. 2012's censoring threshold).
REPORT_THRESHOLD_MM = 0.5


def framewise_displacement(confounds) -> Optional[ndarray]:
    """Framewise displacement per volume.

    Parameters
    ----------
    confounds : pandas.DataFrame | None
        Confounds table of the run, one row per volume.

    Returns
    -------
    fd : ndarray, shape (n_volumes,) | None
        Millimetres; 0 for the first volume (and for an ``n/a`` row). None when
        the table has neither ``framewise_displacement`` nor the six motion
        parameters.
    """
    if confounds is None or not hasattr(confounds, "columns"):
        return None
    import pandas as pd

    columns = set(confounds.columns)

    def numbers(names):
        # a cell that is not a number reads as missing (0 motion), as the confound regression reads it
        return confounds[list(names)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)

    if FD_COLUMN in columns:
        fd = numbers([FD_COLUMN])[:, 0]
    elif set(TRANSLATIONS + ROTATIONS) <= columns:
        trans = numbers(TRANSLATIONS)
        rot = numbers(ROTATIONS)
        step = np.abs(np.diff(trans, axis=0)).sum(axis=1) + HEAD_RADIUS_MM * np.abs(np.diff(rot, axis=0)).sum(axis=1)
        fd = np.concatenate([[0.0], step])
    else:
        return None
    return np.where(np.isfinite(fd), fd, 0.0)


def motion_summary(fd: Optional[ndarray], threshold_mm: float = REPORT_THRESHOLD_MM) -> Optional[dict]:
    """Mean and largest FD, and how many volumes moved more than ``threshold_mm``.

    Returns
    -------
    summary : dict | None
        ``{"mean_fd_mm", "max_fd_mm", "threshold_mm", "n_volumes_above", "n_volumes"}``;
        None without ``fd``.
    """
    if fd is None or len(fd) == 0:
        return None
    fd = np.asarray(fd, dtype=float)
    return {"mean_fd_mm": round(float(fd.mean()), 4), "max_fd_mm": round(float(fd.max()), 4),
            "threshold_mm": float(threshold_mm), "n_volumes_above": int(np.sum(fd > threshold_mm)),
            "n_volumes": int(len(fd))}
