"""What the report and the tables must say about the atlas ROIs of a bundle.

Two facts of ``dataset.json`` change how ROI results may be read:

* the space of the analysed BOLD images (``recordings[].space``, see
  :func:`eegfmri_viewer.io.space.detect_space`): the ROI coordinates are the
  atlas's MNI coordinates, which name the intended regions only in an image
  registered to MNI; in a native-space image they do not;
* the ROIs without BOLD signal (``recordings[].empty_rois``): outside the field
  of view or the brain mask, their series are flat zeros, so their CAM says
  nothing about the brain; those empty in every recording are never phase-2
  nodes and are left out of the "most salient" rankings.
"""

from __future__ import annotations

from typing import List, Optional

import numpy as np


def space_fits_atlas(space) -> bool:
    """True when a recording's ``space`` is an MNI template (what the atlas coordinates need)."""
    return str(space).upper().startswith("MNI")


def bold_spaces(dataset: dict) -> List[str]:
    """The distinct spaces of the analysed BOLD images, in recording order (recordings without one skipped)."""
    spaces = [str(r["space"]) for r in dataset.get("recordings") or [] if r.get("space")]
    return list(dict.fromkeys(spaces))


def bold_space_label(dataset: dict) -> str:
    """One label for the bundle's BOLD space: the space, several joined by ``+``, ``""`` when not recorded."""
    return "+".join(bold_spaces(dataset))


def misfit_spaces(dataset: dict) -> List[str]:
    """The recorded BOLD spaces that the atlas's MNI coordinates do not fit (``native``, ``unknown``, ...)."""
    return [s for s in bold_spaces(dataset) if not space_fits_atlas(s)]


def _space_phrase(spaces) -> str:
    known = [s for s in spaces if s != "unknown"]
    if not known:
        return "an image whose space is unknown"
    return f"this {' / '.join(known)}-space image" + (" (or of unknown space)" if "unknown" in spaces else "")


def coordinates_header(*datasets) -> str:
    """Column header of ROI coordinates: plain MNI, or saying that they do not fit the analysed images.

    Parameters
    ----------
    *datasets : dict
        ``dataset.json`` of each bundle shown (two in a comparison).
    """
    spaces = list(dict.fromkeys(s for d in datasets if d for s in misfit_spaces(d)))
    if not spaces:
        return "MNI x, y, z (mm)"
    return f"atlas x, y, z (mm; MNI, which does not fit {_space_phrase(spaces)})"


def coordinates_caveat(*datasets) -> Optional[str]:
    """A sentence for where ROI positions are drawn or listed; None when every image is in MNI space."""
    spaces = list(dict.fromkeys(s for d in datasets if d for s in misfit_spaces(d)))
    if not spaces:
        return None
    return ("The BOLD images were analysed in " + " / ".join(spaces) + " space, not MNI: the ROI positions "
            "drawn here and listed in the tables are the atlas's MNI coordinates, which do not match the image, "
            "so a ROI's series does not come from the region its name and position say. Register the BOLD to "
            "MNI (e.g. fMRIPrep --output-spaces MNI152NLin2009cAsym) to read them anatomically.")


def rois_without_bold(dataset: dict) -> np.ndarray:
    """Atlas ROIs without BOLD signal in every parcellated recording (``recordings[].empty_rois``).

    Recordings with ``empty_rois`` null (not parcellated) or without the field
    (bundles written before it) do not count; with none that has it, none is
    empty.

    Returns
    -------
    rois : ndarray, shape (n_empty,), int
        Sorted atlas indices.
    """
    lists = [set(int(i) for i in r["empty_rois"]) for r in dataset.get("recordings") or []
             if r.get("empty_rois") is not None]
    if not lists:
        return np.zeros(0, dtype=int)
    return np.array(sorted(set.intersection(*lists)), dtype=int)
