"""Plain sentences for views whose results are missing (Qt-free).

Every view shows such a sentence instead of an empty plot, saying what is
missing and how to get it.
"""

from __future__ import annotations

from typing import Iterable, Optional

NO_RESULTS = (
    "No results loaded. Open a results folder (File \u25b8 Open results\u2026) "
    "or run an analysis in the Training dock."
)


def missing_message(results, eeg: bool = False, phase2: Iterable[str] = ()) -> Optional[str]:
    """What a view lacks in ``results``, as a sentence, or ``None`` if nothing.

    Parameters
    ----------
    results : ResultsBundle or None
        The loaded results.
    eeg : bool
        The view needs the EEG keys of ``saliency.npz``.
    phase2 : iterable of str
        Phase-2 files the view needs (stems, e.g. ``"fusion"``).

    Returns
    -------
    message : str or None
    """
    if results is None:
        return NO_RESULTS
    phase2 = list(phase2)
    if (eeg or phase2) and not results.has_eeg:
        what = "EEG results" if not phase2 else "EEG and phase-2 results"
        return (
            f"This view needs {what}; these results are fMRI-only. "
            "Run the analysis on recordings with EEG."
        )
    missing = [stem for stem in phase2 if not results.has(stem)]
    if missing:
        files = ", ".join(f"{stem}.npz" for stem in missing)
        return f"This view needs phase-2 results ({files}); run the analysis with phase 2 enabled."
    return None
