"""A map over the atlas ROIs that a view asks the 3-D cortex to show instead of the CAM."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class CortexOverlay:
    """What the Cortex 3-D view shows while the overlay is set (e.g. a Laplacian eigenmode).

    Compared by identity, like the other large objects of the state: setting a
    new overlay is always a change.

    Attributes
    ----------
    title : str
        Shown as the colour bar's title and in the cortex view's note.
    values : ndarray, shape (n_rois,)
        One value per atlas ROI of the open results (NaN: not drawn), mapped
        to the surface like the CAM, on a diverging scale centred on 0.
    owner : str
        Name of the view that set it (said in the note, so the user knows where
        to turn it off).
    """

    title: str
    values: np.ndarray
    owner: str = ""

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=float)
        if values.ndim != 1:
            raise ValueError(f"overlay values must be one per ROI (1-D), got shape {values.shape}")
        object.__setattr__(self, "values", values)
