"""Is a BOLD image in MNI space? Decided from the NIfTI sform / qform codes, the
BIDS ``space-`` entity and the image's bounding box in world coordinates.

MNI atlas coordinates (Power 2011, ...) only pick the intended regions in an
image registered to an MNI template; for a native-space image the app says so.
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
    if entity and entity.upper().startswith("MNI"):
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
