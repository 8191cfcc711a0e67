"""How the 2-D views name an atlas ROI of the open results."""

from __future__ import annotations


def roi_name(results, roi: int) -> str:
    """The atlas's name of ROI ``roi`` (``saliency.npz`` ``roi_names``), else ``"ROI <roi>"``."""
    names = results.get("saliency", "roi_names") if results is not None else None
    return str(names[roi]) if names is not None and 0 <= roi < len(names) else f"ROI {roi}"


def roi_label(results, roi: int) -> str:
    """``"<name> (index <roi>)"``.

    The index is the 0-based atlas row that the bundle arrays and the ``roi``
    column of the exported tables use; an atlas's own names may count from 1
    (Power 2011: index 139 is "ROI 140").
    """
    return f"{roi_name(results, roi)} (index {roi})"
