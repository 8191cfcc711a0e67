"""Short labels of the analysis views (EEG bands, fMRI) where full names do not fit."""

from __future__ import annotations

#: Short labels of the default view names; other (user-configured) names keep their own.
SHORT_VIEW_NAMES = {"delta": "\u03b4", "theta": "\u03b8", "alpha": "\u03b1", "beta": "\u03b2",
                    "gamma": "\u03b3", "fmri": "fMRI"}


def view_label(name: str) -> str:
    """A view's name as the views write it in full: ``"fMRI"`` for ``"fmri"``, bands as named."""
    return "fMRI" if str(name).lower() == "fmri" else str(name)


def short_view_name(name: str) -> str:
    """Short label of a view: the Greek letter of a default EEG band, "fMRI", else ``name``."""
    return SHORT_VIEW_NAMES.get(str(name).lower(), str(name))


def display_order(views, bands) -> list:
    """Positions of ``views`` in the order the views show them: the bands as the analysis lists them, then fMRI.

    The bundle keeps the paper's view order (beta, delta, gamma, theta, alpha,
    fMRI); the band lists of the other views (Coupling, Teaching, the lag
    key) follow the analysis's band order, low to high frequency by default,
    and so do the Attention & fusion and Embeddings views.

    Parameters
    ----------
    views : sequence of str
        View names in the bundle's order.
    bands : sequence of str
        The analysis's band names, in its order.

    Returns
    -------
    order : list of int
        ``order[k]`` is the bundle position of the view shown k-th; views that
        are neither a band nor fMRI keep their place after the bands.
    """
    views = [str(v) for v in views]
    rank = {str(b): i for i, b in enumerate(bands)}
    return sorted(range(len(views)), key=lambda k: (0, rank[views[k]]) if views[k] in rank else
                  (2, k) if views[k].lower() in ("fmri", "fused") else (1, k))
