"""What the report and the tables must say about the atlas ROIs of a bundle.

Two facts of ``dataset.json`` change how ROI results may be read:

* the space of the analysed BOLD images (``recordings[].space``, see
  :func:`eegfmri_viewer.io.space.detect_space`): the ROI coordinates are the
  atlas's MNI coordinates, which name the intended regions only in an image
  registered to MNI; in a native-space image they do not (the test and the
  wording are :mod:`eegfmri_viewer.io.space`'s, shared with compare and the GUI);
* the ROIs without BOLD signal (``recordings[].empty_rois``): outside the field
  of view or the brain mask, their series are flat zeros, so their CAM says
  nothing about the brain; those empty in every recording are never phase-2
  nodes and are left out of the "most salient" rankings.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from eegfmri_viewer.io.space import coordinates_fit_text, dataset_spaces, recording_spaces, space_caveat


def bold_space_label(dataset: dict) -> str:
    """One label for the bundle's BOLD space: the space, several joined by ``+``, ``""`` when not recorded."""
    return "+".join(dataset_spaces(dataset))


def _recording_spaces(datasets) -> list:
    """``(label, space)`` of the recordings of one bundle, or of two (B's labels start with ``"B: "``)."""
    shown = [d for d in datasets if d]
    if len(datasets) < 2 or len(shown) < 2:
        return [pair for d in shown for pair in recording_spaces(d)]
    return recording_spaces(shown[0], "A: ") + recording_spaces(shown[1], "B: ")


def coordinates_header(*datasets) -> str:
    """Column header of ROI coordinates: plain MNI, or saying that they do not fit the analysed images.

    Parameters
    ----------
    *datasets : dict
        ``dataset.json`` of each bundle shown (two in a comparison).
    """
    fit = coordinates_fit_text(_recording_spaces(datasets))
    return "MNI x, y, z (mm)" if fit == "MNI" else f"atlas x, y, z (mm; {fit})"


def coordinates_caveat(*datasets) -> Optional[str]:
    """:func:`eegfmri_viewer.io.space.space_caveat` (with advice) of the bundles' recordings; None when all are MNI."""
    return space_caveat(_recording_spaces(datasets), advice=True) or None


def rois_without_bold(dataset: dict, session: Optional[str] = None) -> np.ndarray:
    """Atlas ROIs without BOLD signal in every parcellated recording (``recordings[].empty_rois``).

    Recordings with ``empty_rois`` null (not parcellated) or without the field
    (bundles written before it) do not count; with none that has it, none is
    empty.

    Parameters
    ----------
    dataset : dict
        ``dataset.json`` of a bundle.
    session : str or None
        Only the recordings of this session (``recordings[].session``).

    Returns
    -------
    rois : ndarray, shape (n_empty,), int
        Sorted atlas indices.
    """
    lists = [set(int(i) for i in r["empty_rois"]) for r in dataset.get("recordings") or []
             if r.get("empty_rois") is not None and (session is None or str(r.get("session")) == str(session))]
    if not lists:
        return np.zeros(0, dtype=int)
    return np.array(sorted(set.intersection(*lists)), dtype=int)


def compared_rois_without_bold(dataset_a: dict, dataset_b: Optional[dict] = None, session_a: Optional[str] = None,
                               session_b: Optional[str] = None) -> np.ndarray:
    """ROIs without BOLD signal on either side of a comparison: their change compares flat zeros.

    Each side's ROIs are those of :func:`rois_without_bold` (empty in every
    recording of that side); a ROI empty on either side is left out of the
    change tables and the B − A images.

    Parameters
    ----------
    dataset_a, dataset_b : dict
        ``dataset.json`` of bundle A and B (B None: two sessions of A).
    session_a, session_b : str or None
        The sessions compared, when the sides are sessions.

    Returns
    -------
    rois : ndarray, shape (n_left_out,), int
        Sorted atlas indices.
    """
    b = dataset_a if dataset_b is None else dataset_b
    return np.union1d(rois_without_bold(dataset_a, session_a), rois_without_bold(b, session_b)).astype(int)
