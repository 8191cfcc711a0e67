"""One colour per brain-state class, shared by the views that shade blocks of a class (Qt-free)."""

from __future__ import annotations

from typing import Tuple

CLASS_COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]


def class_color(index: int) -> Tuple[int, int, int]:
    """RGB colour of the class at ``index`` in the sorted class list (cycles after six)."""
    return CLASS_COLORS[index % len(CLASS_COLORS)]
