"""BOLD readers (through nibabel): 4-D NIfTI, repetition time, sample checks.

The image is opened lazily: ``img.dataobj`` is an array proxy and volumes are read
one at a time when needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np

from ..progress import check_cancel, report
from .errors import InputError

BOLD_EXTENSIONS = (".nii", ".nii.gz")

# Header and sidecar TRs closer than this are the same TR written with rounding.
_TR_TOLERANCE_S = 1e-3
# Bytes after the image that a complete .nii.gz may hold without being fully decompressed to check.
_TRAILER_SLACK = 1 << 16


def read_bold(path):
    """Open a 4-D NIfTI BOLD image without loading its voxels.

    Parameters
    ----------
    path : str | Path
        ``.nii`` or ``.nii.gz`` file.

    Returns
    -------
    img : nibabel.Nifti1Image
        Shape ``(nx, ny, nz, n_volumes)``; data stay on disk (array proxy).

    Raises
    ------
    InputError
        Missing, unreadable, unsupported or not 4-D (with at least 2 volumes).
    """
    import nibabel as nib

    path = Path(path)
    if not path.name.lower().endswith(BOLD_EXTENSIONS):
        raise InputError(path, "unsupported BOLD format (accepted: 4-D NIfTI .nii or .nii.gz)")
    if not path.exists():
        raise InputError(path, "BOLD file not found")
    if not path.is_file():
        raise InputError(path, "is a folder, expected a BOLD NIfTI file")
    try:
        img = nib.load(str(path))
    except Exception as err:  # nibabel raises many types for corrupt files
        raise InputError(path, f"cannot read NIfTI file ({type(err).__name__}: {err})") from err
    shape = img.shape
    if len(shape) != 4:
        raise InputError(path, f"{len(shape)}-D image, expected 4-D BOLD (x, y, z, time)")
    if shape[3] < 2:
        raise InputError(path, f"4-D image with {shape[3]} volume, expected a BOLD time series")
    if min(shape[:3]) < 1:
        raise InputError(path, f"image of shape {tuple(int(x) for x in shape)} has no voxels")
    dtype = np.dtype(img.get_data_dtype())
    if dtype.kind not in "iufb" or dtype.fields is not None:
        raise InputError(path, f"voxel type {dtype} is not real numbers (complex or RGB images are not BOLD)")
    _check_complete(img, path)
    return img


def _check_complete(img, path: Path) -> None:
    """Fail when the file holds fewer voxel bytes than its header announces.

    An uncompressed file is checked by its size. For a gzip file the trailer's
    uncompressed size (modulo 2**32) is compared first, which costs nothing; only
    when it disagrees (a cut file, one written in several gzip members, or one
    with more than ``_TRAILER_SLACK`` bytes after the image) is the stream
    decompressed to count its bytes.
    """
    import gzip
    import zlib

    header = img.header
    dtype = np.dtype(header.get_data_dtype())
    # The loaded header's vox_offset is reset to 0; the array proxy keeps the file's.
    offset = int(getattr(img.dataobj, "offset", header.get_data_offset()))
    needed = offset + int(np.prod(header.get_data_shape())) * dtype.itemsize
    again = "(copy or download it again)"
    if not path.name.lower().endswith(".gz"):
        size = path.stat().st_size
        if size < needed:
            raise InputError(path, f"file is truncated: the header announces {needed} bytes of image, "
                                   f"the file holds {size} {again}")
        return
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        if fh.tell() >= 4:
            fh.seek(-4, 2)
            # A file may hold bytes after the image; a cut file ends in compressed
            # data, whose last 4 bytes land in this window 1 time in 65536.
            if 0 <= int.from_bytes(fh.read(4), "little") - needed % 2**32 < _TRAILER_SLACK:
                return
    total = 0
    try:
        with gzip.open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                total += len(chunk)
    except (EOFError, OSError, zlib.error) as err:
        raise InputError(path, f"file is truncated or corrupted: its gzip stream breaks off ({err}) {again}") from err
    if total < needed:
        raise InputError(path, f"file is truncated: the header announces {needed} bytes of image, "
                               f"the decompressed file holds {total} {again}")


def header_tr(img) -> Optional[float]:
    """Repetition time in seconds from the NIfTI header, or None when not set.

    Uses the 4th pixdim and the header's time unit (s, ms or us).
    """
    try:
        zooms = img.header.get_zooms()
    except Exception:
        return None
    if len(zooms) < 4:
        return None
    tr = float(zooms[3])
    if not np.isfinite(tr) or tr <= 0:
        return None
    try:
        unit = img.header.get_xyzt_units()[1]
    except Exception:
        unit = "sec"
    if unit == "msec":
        tr /= 1e3
    elif unit == "usec":
        tr /= 1e6
    return tr


def read_json(path) -> dict:
    """Read a JSON sidecar; :class:`InputError` naming the file when it is not valid JSON."""
    path = Path(path)
    try:
        with open(path, "r", encoding="utf-8-sig") as f:
            data = json.load(f)
    except FileNotFoundError as err:
        raise InputError(path, "sidecar file not found") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(path, f"cannot read JSON sidecar ({err})") from err
    if not isinstance(data, dict):
        raise InputError(path, "JSON sidecar must hold an object")
    return data


def resolve_tr(img, bold_path, sidecar: Optional[dict] = None, sidecar_path=None, user_tr: Optional[float] = None,
               fallback_tr: Optional[float] = None):
    """Decide the repetition time from the user, the sidecar and the header.

    Order: the user's TR, then the sidecar's ``RepetitionTime``, then the header.
    A disagreement between sidecar and header is reported (the sidecar wins, as
    BIDS says).

    Parameters
    ----------
    img : nibabel.Nifti1Image
    bold_path : Path
        Named in messages.
    sidecar : dict | None
        Merged ``*_bold.json`` content.
    sidecar_path : Path | None
        Named in messages.
    user_tr : float | None
        TR given explicitly (single-file opening); wins over the files.
    fallback_tr : float | None
        TR given for a BIDS dataset (``--tr``): used only when neither the
        sidecar nor the header states one, never over a TR the data state.

    Returns
    -------
    tr : float
    warnings : list of str

    Raises
    ------
    InputError
        No TR anywhere, or a TR that is not a positive number.
    """
    warns: list = []
    h_tr = header_tr(img)
    s_tr = None
    if sidecar is not None and "RepetitionTime" in sidecar:
        raw_tr = sidecar["RepetitionTime"]
        try:
            if isinstance(raw_tr, bool):  # float(true) would be a 1 s TR
                raise TypeError
            s_tr = float(raw_tr)
        except (TypeError, ValueError):
            raise InputError(sidecar_path, f"RepetitionTime {raw_tr!r} is not a number")
        if not np.isfinite(s_tr) or s_tr <= 0:
            raise InputError(sidecar_path, f"RepetitionTime {raw_tr!r} must be a positive number of seconds")
    if user_tr is not None:
        tr = float(user_tr)
        if not np.isfinite(tr) or tr <= 0:
            raise InputError(bold_path, f"TR {user_tr!r} must be a positive number of seconds")
        other = s_tr if s_tr is not None else h_tr
        if other is not None and abs(other - tr) > _TR_TOLERANCE_S:
            src = "sidecar" if s_tr is not None else "header"
            warns.append(f"{bold_path}: TR {tr:g} s given by the user differs from the {src} TR {other:g} s; using {tr:g} s")
        return tr, warns
    if s_tr is not None:
        if h_tr is not None and abs(h_tr - s_tr) > _TR_TOLERANCE_S:
            warns.append(
                f"{bold_path}: TR inconsistent between NIfTI header ({h_tr:g} s) and sidecar "
                f"{Path(sidecar_path).name if sidecar_path else 'JSON'} ({s_tr:g} s); using the sidecar's {s_tr:g} s"
            )
        return s_tr, warns
    if h_tr is not None:
        if sidecar is not None:
            warns.append(f"{bold_path}: no RepetitionTime in the sidecar; using the NIfTI header TR {h_tr:g} s")
        return h_tr, warns
    if fallback_tr is not None:
        tr = float(fallback_tr)
        if not np.isfinite(tr) or tr <= 0:
            raise InputError(bold_path, f"TR {fallback_tr!r} must be a positive number of seconds")
        warns.append(f"{bold_path}: no RepetitionTime in a *_bold.json sidecar and none in the NIfTI header; "
                     f"using the TR given with --tr, {tr:g} s")
        return tr, warns
    side = Path(str(bold_path).split(".nii")[0] + ".json").name
    raise InputError(bold_path, "TR missing: no RepetitionTime in a *_bold.json sidecar and none in the NIfTI header "
                                f"(add \"RepetitionTime\" in seconds to {side}, or give it with --tr)")


# Two TRs further apart than this fraction are different TRs, not rounding or clock drift.
_TR_DISAGREEMENT = 0.05


def check_tr_sources(tr: float, tr_source: str, tr_path, header: Optional[float], marker: Optional[str],
                     marker_s: Optional[float]) -> None:
    """Fail when the TR used is contradicted by both the NIfTI header and the volume markers.

    A sidecar ``RepetitionTime`` of 2000 (milliseconds by mistake) or 2.5 where
    the header says 2 s and the scanner's markers come every 2.0 s would
    otherwise surface later as "EEG too short".

    Parameters
    ----------
    tr : float
        The TR in use (seconds).
    tr_source : str
        Where it came from, e.g. ``"RepetitionTime"``.
    tr_path : str | Path
        The file that states it (named in the error).
    header : float | None
        NIfTI header TR.
    marker : str | None
        Volume marker name.
    marker_s : float | None
        Median interval between volume markers (EEG clock).

    Raises
    ------
    InputError
        When the header and the markers agree with each other and not with ``tr``.
    """
    def near(a, b):
        return abs(a - b) <= _TR_DISAGREEMENT * max(a, b)

    if header is None or marker_s is None or near(tr, marker_s) or not near(header, marker_s):
        return
    hint = "; BIDS wants seconds" + (" (is it in milliseconds?)" if abs(tr / 1000 - header) <= 0.05 * header else "")
    raise InputError(tr_path, f"{tr_source} {tr:g} s disagrees with the NIfTI header ({header:g} s) and the "
                              f"{marker} marker interval ({marker_s:.3g} s){hint}")


def check_finite_bold(img, path, progress=None, cancel=None, block_bytes: int = 256 * 1024**2) -> list:
    """Find NaN or Inf voxels in a BOLD image.

    Images masked by SPM (and others) hold NaN outside the brain, so a NaN
    voxel does not reject the run: the voxels are counted and reported, and
    the parcellation treats them as outside the brain (a ROI that holds one
    is left out, see :func:`~eegfmri_viewer.preprocessing.fmri.parcellate`).
    A volume without a single finite voxel holds no data and is an error.

    Integer data with finite scaling cannot hold NaN / Inf and are not read.
    Float data are read in blocks of whole volumes (about ``block_bytes`` each):
    compressed files are decompressed from the start on every access, so
    volume-by-volume reading would cost quadratic time.

    Returns
    -------
    warnings : list of str
        One message naming the file and the number of non-finite voxels, or
        none.

    Raises
    ------
    InputError
        A volume that is NaN / Inf everywhere, or volumes that cannot be read.
    """
    dtype = np.dtype(img.get_data_dtype())
    slope, inter = img.header.get_slope_inter()
    finite_scaling = all(v is None or np.isfinite(v) for v in (slope, inter))
    if dtype.kind in "iub" and finite_scaling:
        report(progress, 1.0, "BOLD data are integers")
        return []
    n = img.shape[3]
    per_volume = int(np.prod(img.shape[:3])) * max(dtype.itemsize, 4)
    step = max(1, block_bytes // max(per_volume, 1))
    proxy = img.dataobj
    bad_voxels = None
    first_volume = None
    for v0 in range(0, n, step):
        check_cancel(cancel)
        try:
            block = np.asanyarray(proxy[..., v0:v0 + step])
        except MemoryError:
            raise
        except Exception as err:  # changed on disk since it was opened, or a corrupt gzip stream
            raise InputError(path, f"cannot read BOLD volumes {v0} to {min(n, v0 + step) - 1} "
                                   f"({type(err).__name__}: {err})") from err
        bad = ~np.isfinite(block)
        if bad.any():
            per_vol = bad.reshape(-1, bad.shape[-1]).sum(axis=0)
            full = np.flatnonzero(per_vol == bad[..., 0].size)
            if len(full):
                raise InputError(path, f"BOLD volume {v0 + int(full[0])} holds only NaN/Inf values")
            if first_volume is None:
                first_volume = v0 + int(np.flatnonzero(per_vol)[0])
            bad_voxels = bad.any(axis=3) if bad_voxels is None else bad_voxels | bad.any(axis=3)
        report(progress, min(n, v0 + step) / n, "checking BOLD volumes")
    if bad_voxels is None:
        return []
    n_bad = int(bad_voxels.sum())
    return [f"{path}: {n_bad} of {bad_voxels.size} voxels hold NaN/Inf values (first in volume {first_volume}; "
            "e.g. outside a brain mask): they are treated as outside the brain, and an atlas ROI that holds "
            "one is left out"]
