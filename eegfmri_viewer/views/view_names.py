"""Short labels of the analysis views (EEG bands, fMRI) where full names do not fit."""

from __future__ import annotations

#: Short labels of the default view names; other (user-configured) names keep their own.
SHORT_VIEW_NAMES = {"delta": "\u03b4", "theta": "\u03b8", "alpha": "\u03b1", "beta": "\u03b2",
                    "gamma": "\u03b3", "fmri": "fMRI"}


def short_view_name(name: str) -> str:
    """Short label of a view: the Greek letter of a default EEG band, "fMRI", else ``name``."""
    return SHORT_VIEW_NAMES.get(str(name).lower(), str(name))
