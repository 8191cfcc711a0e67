"""What the user is looking at: node, class, band, session and time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

NODE_KINDS = ("roi", "electrode")


@dataclass(frozen=True)
class Selection:
    """Immutable snapshot of the linked-view selection.

    Attributes
    ----------
    node_kind : {"roi", "electrode"} or None
        Kind of the selected node, ``None`` when nothing is selected.
    node_index : int or None
        Atlas ROI index (``0..n_rois-1``) or EEG channel index.
    class_index : int
        Index into the results' class names.
    band : str
        EEG band name, e.g. ``"alpha"``.
    session : str or None
        Session label shown by the comparison views.
    time_s : float
        Cursor time in seconds on the BOLD clock.
    """

    node_kind: Optional[str] = None
    node_index: Optional[int] = None
    class_index: int = 0
    band: str = "alpha"
    session: Optional[str] = None
    time_s: float = 0.0

    def __post_init__(self) -> None:
        if self.node_kind is not None and self.node_kind not in NODE_KINDS:
            raise ValueError(f"node_kind must be one of {NODE_KINDS} or None, got {self.node_kind!r}")
        if (self.node_kind is None) != (self.node_index is None):
            raise ValueError("node_kind and node_index must both be set or both be None")
        if self.node_index is not None and self.node_index < 0:
            raise ValueError(f"node_index must be >= 0, got {self.node_index}")
