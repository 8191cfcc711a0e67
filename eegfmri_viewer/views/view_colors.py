"""One colour per analysis view (EEG band, fMRI, fused), shared by the 2-D views.

Qt-free RGB tuples, so the same band has the same colour in the embeddings,
the fusion bars and the lag curves.
"""

from __future__ import annotations

from typing import Tuple

VIEW_COLORS = {
    "delta": (68, 119, 170),
    "theta": (102, 204, 238),
    "alpha": (34, 136, 51),
    "beta": (204, 187, 68),
    "gamma": (238, 102, 119),
    "fmri": (170, 51, 119),
    "fused": (40, 40, 40),
}
_EXTRA = [(153, 153, 51), (136, 34, 85), (68, 170, 153), (221, 204, 119), (17, 119, 51)]


def view_color(name: str, index: int = 0) -> Tuple[int, int, int]:
    """RGB colour of the view ``name``; unknown names cycle through spare colours.

    Parameters
    ----------
    name : str
        Band name, ``"fmri"`` or ``"fused"``.
    index : int
        Position of the view, used to pick a spare colour for unknown names.
    """
    return VIEW_COLORS.get(str(name).lower(), _EXTRA[index % len(_EXTRA)])
