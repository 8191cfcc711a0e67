"""Geometry of a 2-D head drawing (outline, nose, ears) around a topomap layout.

Qt-free: the electrode graph view turns these point lists into curves. The head
circle is centred on the layout's origin (the vertex of the azimuthal projection
MNE uses for topomaps) when the origin lies among the electrodes, and sized so
that every electrode sits inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Ear contour of MNE's topomap head, in units of the head diameter (x outward, y up).
_EAR_X = np.array([0.497, 0.510, 0.518, 0.5299, 0.5419, 0.54, 0.547, 0.532, 0.510, 0.489])
_EAR_Y = np.array([0.0555, 0.0775, 0.0783, 0.0746, 0.0555, -0.0055, -0.0932, -0.1313, -0.1384, -0.1199])


@dataclass
class HeadOutline:
    """Polylines of a head seen from above, nose up (+y), right ear at +x.

    Attributes
    ----------
    center : ndarray, shape (2,)
    radius : float
    head : ndarray, shape (n_points, 2)
        Closed circle.
    nose : ndarray, shape (3, 2)
    left_ear, right_ear : ndarray, shape (10, 2)
    """

    center: np.ndarray
    radius: float
    head: np.ndarray
    nose: np.ndarray
    left_ear: np.ndarray
    right_ear: np.ndarray


def head_outline(pos_2d, margin: float = 1.08, n_points: int = 121) -> HeadOutline:
    """Head, nose and ears that enclose the electrode layout ``pos_2d``.

    Parameters
    ----------
    pos_2d : ndarray, shape (n_channels, 2)
        Electrode positions in the topomap plane (nose towards +y); NaN rows
        (unknown positions) are ignored.
    margin : float
        Head radius as a multiple of the farthest electrode's distance from
        the centre.
    n_points : int
        Points on the head circle.

    Returns
    -------
    outline : HeadOutline
    """
    pos = np.asarray(pos_2d, dtype=float).reshape(-1, 2)
    pos = pos[np.isfinite(pos).all(axis=1)]
    if len(pos) == 0:
        center, far = np.zeros(2), 1.0
    else:
        lo, hi = pos.min(axis=0), pos.max(axis=0)
        # The projection's origin is the vertex (Cz); use it when the montage
        # surrounds it, else the layout's middle (e.g. a posterior-only cap).
        center = np.zeros(2) if np.all(lo <= 0) and np.all(hi >= 0) else (lo + hi) / 2
        far = float(np.max(np.linalg.norm(pos - center, axis=1)))
        far = far if far > 0 else 1.0
    radius = margin * far
    t = np.linspace(0, 2 * np.pi, n_points)
    head = center + radius * np.column_stack([np.cos(t), np.sin(t)])
    nose = center + radius * np.array([[-0.18, 0.984], [0.0, 1.15], [0.18, 0.984]])
    ear = np.column_stack([_EAR_X, _EAR_Y]) * 2 * radius
    right_ear = center + ear
    left_ear = center + ear * np.array([-1.0, 1.0])
    return HeadOutline(center=center, radius=radius, head=head, nose=nose, left_ear=left_ear, right_ear=right_ear)
