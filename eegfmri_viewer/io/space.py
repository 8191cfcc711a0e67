"""Is a BOLD image in MNI space? Decided from the NIfTI sform / qform codes, the
BIDS ``space-`` entity and the image's bounding box in world coordinates.

MNI atlas coordinates (Power 2011, ...) only pick the intended regions in an
image registered to an MNI template; for a native-space image the app says so.
The second half holds the one test of "is this space MNI?" and the one wording
of that caveat (:func:`space_caveat`) that compare, the report, the tables and
the GUI share.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Optional

import numpy as np

# NIfTI xform codes.
_SCANNER, _ALIGNED, _TALAIRACH, _MNI = 1, 2, 3, 4
# Box around the MNI152 brain, mm (min, max) per axis.
_MNI_BRAIN = np.array([[-78.0, 78.0], [-112.0, 76.0], [-70.0, 86.0]])


def world_bbox(img) -> np.ndarray:
    """World-coordinate bounding box of the image's voxel grid.

    Returns
    -------
    bbox : ndarray, shape (3, 2)
        (min, max) in mm for x, y, z.
    """
    shape = np.asarray(img.shape[:3]) - 1
    corners = np.array(list(itertools.product(*[[0, s] for s in shape])), float)
    world = corners @ img.affine[:3, :3].T + img.affine[:3, 3]
    return np.stack([world.min(0), world.max(0)], axis=1)


def mni_box_fits(img) -> bool:
    """True when the image's field of view covers most (>= 80 %) of the MNI brain
    box and is not wildly larger (<= 8 times its volume)."""
    box = world_bbox(img)
    lo = np.maximum(box[:, 0], _MNI_BRAIN[:, 0])
    hi = np.minimum(box[:, 1], _MNI_BRAIN[:, 1])
    inter = np.prod(np.clip(hi - lo, 0, None))
    brain = np.prod(_MNI_BRAIN[:, 1] - _MNI_BRAIN[:, 0])
    size = np.prod(box[:, 1] - box[:, 0])
    return bool(inter / brain >= 0.8 and size <= 8 * brain)


def space_entity(path) -> Optional[str]:
    """The BIDS ``space-<label>`` of a file name, or None."""
    m = re.search(r"(?:^|_)space-([A-Za-z0-9]+)", Path(path).name)
    return m.group(1) if m else None


def detect_space(img, path) -> tuple:
    """Decide the space of a BOLD image.

    Parameters
    ----------
    img : nibabel.Nifti1Image
    path : str | Path
        Its file (for the ``space-`` entity and messages).

    Returns
    -------
    space : str
        The template name of a ``space-MNI152...`` entity, ``"MNI"``, ``"native"``
        or ``"unknown"``.
    warnings : list of str
    """
    entity = space_entity(path)
    codes = (int(img.header["sform_code"]), int(img.header["qform_code"]))
    fits = mni_box_fits(img)
    box = world_bbox(img)
    box_txt = ", ".join(f"{a:.0f}..{b:.0f}" for a, b in box)
    native_note = "MNI atlas coordinates do not fit it without registration to MNI (e.g. fMRIPrep --output-spaces MNI152NLin2009cAsym)"
    if is_mni_space(entity):
        if fits:
            return entity, []
        return "unknown", [f"{path}: named space-{entity} but its bounding box ({box_txt} mm) does not match an MNI brain; {native_note}"]
    if entity and entity not in ("MNI",):
        return "native", [f"{path}: BOLD in space-{entity}, not MNI; {native_note}"]
    if _MNI in codes and fits:
        return "MNI", []
    if (_ALIGNED in codes or _TALAIRACH in codes) and fits:
        return "MNI", [f"{path}: taken as MNI space from its bounding box ({box_txt} mm); the sform code says 'aligned', not 'MNI'"]
    if codes[0] in (0, _SCANNER) and codes[1] in (0, _SCANNER):
        return "native", [f"{path}: BOLD is in native (scanner) space (sform/qform code {codes[0]}/{codes[1]}); {native_note}"]
    return "unknown", [f"{path}: cannot tell whether the BOLD is in MNI space (sform/qform code {codes[0]}/{codes[1]}, "
                       f"bounding box {box_txt} mm); {native_note}"]


# --- The space of analysed recordings, as dataset.json records it, and what it means for the ROI coordinates.
# One wording per case, shared by the CLI, compare.json, the report, the tables and the GUI: "native" (the image
# is known not to be in MNI space) and "unknown" (it could not be shown to be in MNI space, which is no claim of
# native space) are phrased separately; several recordings or sides may mix them ("mixed").

#: What to do about BOLD that is not (or not known to be) in MNI space.
REGISTER_ADVICE = ("Register the BOLD to MNI (e.g. fMRIPrep --output-spaces MNI152NLin2009cAsym) to read the "
                   "ROIs anatomically.")


def is_mni_space(space) -> bool:
    """True for the spaces MNI atlas coordinates fit: ``"MNI"`` and ``MNI152...`` templates (not None or "")."""
    return bool(space) and str(space).upper().startswith("MNI")


def is_native_space(space) -> bool:
    """True for a recorded space known not to be MNI: ``"native"`` or another BIDS ``space-`` label (``T1w``)."""
    return bool(space) and not is_mni_space(space) and str(space) != "unknown"


def recording_spaces(dataset, prefix: str = "") -> list:
    """``(label, space)`` of each recording of a ``dataset.json`` dict that records its space.

    Parameters
    ----------
    dataset : dict or None
        ``dataset.json`` (``recordings[].label`` and ``recordings[].space``).
    prefix : str
        Put before each label (e.g. ``"B: "`` for the second side of a comparison).

    Returns
    -------
    spaces : list of (str, str)
        In recording order; recordings without a space (older bundles) left out.
    """
    out = []
    for i, rec in enumerate((dataset or {}).get("recordings") or []):
        if isinstance(rec, dict) and rec.get("space"):
            out.append((prefix + str(rec.get("label") or f"recording {i + 1}"), str(rec["space"])))
    return out


def dataset_spaces(dataset) -> list:
    """The distinct recorded spaces of a ``dataset.json`` dict, in recording order."""
    return list(dict.fromkeys(space for _, space in recording_spaces(dataset)))


def common_space(spaces) -> Optional[str]:
    """One label for several recorded spaces.

    Parameters
    ----------
    spaces : iterable of str or None
        Spaces as :func:`detect_space` records them; None and "" are not recorded.

    Returns
    -------
    space : str or None
        The space when all agree; ``"MNI"`` when they are different MNI templates
        (the atlas fits them all); ``"mixed"`` when MNI and non-MNI, or native and
        unknown, are mixed; None when none is recorded.
    """
    known = list(dict.fromkeys(str(s) for s in spaces if s))
    if not known:
        return None
    if len(known) == 1:
        return known[0]
    return "MNI" if all(is_mni_space(s) for s in known) else "mixed"


def space_groups(spaces) -> tuple:
    """Labels of the recordings in native space and in unknown space.

    Parameters
    ----------
    spaces : sequence of (str, str)
        ``(label, space)`` per recording (:func:`recording_spaces`).

    Returns
    -------
    native, unknown : list of str
        Labels, each once, in order; MNI recordings are in neither.
    """
    native = list(dict.fromkeys(label for label, space in spaces if is_native_space(space)))
    unknown = list(dict.fromkeys(label for label, space in spaces if str(space) == "unknown"))
    return native, unknown


def _which(labels, most: int = 3, noun: Optional[str] = None) -> str:
    shown = ", ".join(labels[:most])
    if len(labels) > most:
        text = f"{shown} and {len(labels) - most} more"
    else:
        text = " and ".join(labels) if len(labels) == 2 else shown
    # several names read as one run's unless counted ("of the 2 runs x and y")
    return f"the {len(labels)} {noun} {text}" if noun and len(labels) > 1 else text


def space_caveat(spaces, advice: bool = False, noun: Optional[str] = None) -> str:
    """What the ROI coordinates mean for recordings not (or not known to be) in MNI space; ``""`` when all are MNI.

    Parameters
    ----------
    spaces : sequence of (str, str)
        ``(label, space)`` per recording or side (:func:`recording_spaces`).
    advice : bool
        Append :data:`REGISTER_ADVICE`.
    noun : str, optional
        Plural of what the labels name (e.g. ``"runs"``): several labels are
        then counted, "The BOLD of the 2 runs x and y is ...". Each label is
        named once whatever the noun.

    Returns
    -------
    text : str
        One sentence for the native-space recordings, one for those of unknown
        space (never called native: :func:`detect_space` could only not show
        them to be MNI), both when they are mixed; ``""`` when every recorded
        space is MNI or none is recorded.
    """
    native, unknown = space_groups(spaces)
    parts = []
    if native:
        parts.append(f"The BOLD of {_which(native, noun=noun)} is in native space, not MNI: the ROI positions "
                     "are the atlas's MNI coordinates, which do not match it, so a ROI's series does not come from "
                     "the region its name and position say.")
    if unknown:
        parts.append(f"The BOLD of {_which(unknown, noun=noun)} is of unknown space (it could not be shown to "
                     "be in MNI space, which does not make it native): if it is not in MNI space, the atlas's MNI "
                     "ROI positions do not match it and a ROI's series may not come from the region its name and "
                     "position say.")
    if parts and advice:
        parts.append(REGISTER_ADVICE)
    return " ".join(parts)


def coordinates_fit_text(spaces) -> str:
    """How the atlas's MNI coordinates relate to these recordings, for a column header or a note.

    Returns
    -------
    text : str
        ``"MNI"`` when every recorded space is MNI (or none is recorded), else
        e.g. ``"MNI, which does not fit the native-space BOLD"`` or ``"MNI,
        which may not fit the BOLD of unknown space"`` (both, joined, when mixed).
    """
    native, unknown = space_groups(spaces)
    parts = (["which does not fit the native-space BOLD"] if native else []) + \
            (["may not fit the BOLD of unknown space" if native else "which may not fit the BOLD of unknown space"]
             if unknown else [])
    return "MNI" if not parts else "MNI, " + " and ".join(parts)
