"""Brain atlases: ROI centres, names and networks.

Coordinate atlases come from the files nilearn ships (no download):

* ``"power2011"`` (default): 264 ROIs of Power et al. 2011. nilearn ships no
  network labels for them; an ROI whose centre lies within 2 mm of a
  Seitzman et al. 2018 ROI (239 of the 264: Seitzman's set extends Power's)
  takes Seitzman's network label, the others get ``""``.
* ``"dosenbach2010"``: 160 ROIs with labels and networks.
* ``"seitzman2018"``: 300 ROIs with networks.

A user label atlas is a 3-D integer NIfTI (0 = background) in the space of the
BOLD data. ROI centres are the centroids of the labelled voxels (world mm).
Names come from a sidecar look-up table next to it when present:
``<stem>.tsv`` / ``<stem>.csv`` with columns ``index`` and ``name`` (BIDS
``dseg.tsv`` style, an optional ``network`` column), or ``<stem>.txt`` /
``<stem>_LUT.txt`` with lines ``index name ...`` (FreeSurfer style);
otherwise ``"label <value>"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
from numpy import ndarray

from ..io.errors import InputError

COORDINATE_ATLASES = ("power2011", "dosenbach2010", "seitzman2018")


@dataclass
class Atlas:
    """A set of ROIs.

    Attributes
    ----------
    name : str
        ``"power2011"``, ``"dosenbach2010"``, ``"seitzman2018"`` or the path of
        a label NIfTI.
    coords : ndarray, shape (n_rois, 3)
        ROI centres, MNI mm (world mm of the label image for label atlases).
    names : list of str
    networks : list of str
        ``""`` where the atlas has no label.
    radius_mm : float | None
        Sphere radius for coordinate atlases; ``None`` for label atlases.
    label_img : Path | None
        The label NIfTI (label atlases only).
    label_values : ndarray, shape (n_rois,) | None
        Integer label of each ROI in ``label_img`` (label atlases only).
    """

    name: str
    coords: ndarray
    names: list
    networks: list
    radius_mm: Optional[float]
    label_img: Optional[Path] = None
    label_values: Optional[ndarray] = field(default=None)

    @property
    def n_rois(self) -> int:
        return int(len(self.coords))

    @property
    def is_label_atlas(self) -> bool:
        return self.label_img is not None


def _xyz(df) -> ndarray:
    return df[["x", "y", "z"]].to_numpy(dtype=float)


def _seitzman_networks_for(coords: ndarray, max_mm: float = 2.0) -> list:
    from nilearn import datasets
    from scipy.spatial import cKDTree

    s = datasets.fetch_coords_seitzman_2018()
    dist, idx = cKDTree(_xyz(s.rois)).query(coords)
    nets = np.asarray(s.networks, dtype=str)
    return [str(nets[i]) if d <= max_mm else "" for d, i in zip(dist, idx)]


def load_atlas(name: str = "power2011", radius_mm: float = 5.0) -> Atlas:
    """Load a coordinate atlas shipped with nilearn, or a user label atlas.

    Parameters
    ----------
    name : str | Path
        ``"power2011"`` (default), ``"dosenbach2010"``, ``"seitzman2018"``, or
        the path of a 3-D label NIfTI.
    radius_mm : float
        Sphere radius for coordinate atlases (default 5 mm).

    Returns
    -------
    atlas : Atlas

    Raises
    ------
    InputError
        Unknown atlas name, missing or malformed label image.
    """
    key = str(name).lower()
    if key in COORDINATE_ATLASES:
        if not radius_mm > 0:
            raise InputError("atlas", f"sphere radius must be > 0 mm, got {radius_mm}")
        from nilearn import datasets

        if key == "power2011":
            b = datasets.fetch_coords_power_2011()
            coords = _xyz(b.rois)
            names = [f"ROI {int(r)}" for r in b.rois["roi"]]
            networks = _seitzman_networks_for(coords)
        elif key == "dosenbach2010":
            b = datasets.fetch_coords_dosenbach_2010()
            coords = _xyz(b.rois)
            names = [str(x) for x in b.labels]
            networks = [str(x) for x in np.asarray(b.networks)]
        else:
            b = datasets.fetch_coords_seitzman_2018()
            coords = _xyz(b.rois)
            regions = np.asarray(b.regions, dtype=str)
            names = [f"ROI {i + 1} ({regions[i]})" for i in range(len(coords))]
            networks = [str(x) for x in np.asarray(b.networks)]
        return Atlas(name=key, coords=coords, names=names, networks=networks,
                     radius_mm=float(radius_mm))
    path = Path(name)
    if path.suffix in (".nii", ".gz") or path.exists():
        return load_label_atlas(path)
    raise InputError(
        str(name),
        f"unknown atlas (built-in: {', '.join(COORDINATE_ATLASES)}; or give a label NIfTI path)",
    )


def _read_lut(path: Path) -> dict:
    """``{label value: (name, network)}`` from a sidecar table, or ``{}``."""
    import pandas as pd

    stem = path.name
    for ext in (".nii.gz", ".nii"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
    folder = path.parent
    for cand in (folder / f"{stem}.tsv", folder / f"{stem}.csv"):
        if cand.is_file():
            try:
                df = pd.read_csv(cand, sep="\t" if cand.suffix == ".tsv" else ",")
            except Exception as exc:  # pandas raises many kinds on a broken table
                raise InputError(cand, f"unreadable label table ({exc})") from None
            cols = {c.lower(): c for c in df.columns}
            if "index" not in cols or "name" not in cols:
                raise InputError(cand, f"label table needs 'index' and 'name' columns, has {list(df.columns)}")
            net = cols.get("network")
            out = {}
            for _, row in df.iterrows():
                out[int(row[cols["index"]])] = (str(row[cols["name"]]), str(row[net]) if net else "")
            return out
    for cand in (folder / f"{stem}.txt", folder / f"{stem}_LUT.txt"):
        if cand.is_file():
            out = {}
            for line in cand.read_text(errors="replace").splitlines():
                parts = line.split()
                if len(parts) >= 2 and not line.lstrip().startswith("#"):
                    try:
                        out[int(parts[0])] = (parts[1], "")
                    except ValueError:
                        continue
            if not out:
                raise InputError(cand, "no 'index name' lines in the label table")
            return out
    return {}


def load_label_atlas(path) -> Atlas:
    """Read a 3-D integer label NIfTI as an :class:`Atlas`.

    Parameters
    ----------
    path : str | Path

    Returns
    -------
    atlas : Atlas
        ``coords`` are the voxel centroids of each label in world mm,
        ``label_values`` the integer labels (sorted, background 0 excluded).
    """
    import nibabel as nib

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "label atlas file not found")
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except Exception as exc:  # nibabel raises several types for broken files
        raise InputError(path, f"not a readable NIfTI image ({exc})") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InputError(path, f"{data.ndim}-D image, expected a 3-D label image")
    if not np.all(np.isfinite(data)) or not np.allclose(data, np.round(data)):
        raise InputError(path, "label image must hold integer labels")
    labels = np.round(data).astype(np.int64)
    values = np.unique(labels)
    values = values[values != 0]
    if len(values) == 0:
        raise InputError(path, "label image holds only background (0)")
    ijk = np.indices(labels.shape).reshape(3, -1).T
    flat = labels.ravel()
    sums = np.zeros((len(values), 3))
    idx = np.searchsorted(values, flat)
    keep = flat != 0
    np.add.at(sums, idx[keep], ijk[keep])
    counts = np.bincount(idx[keep], minlength=len(values))
    centroid_ijk = sums / counts[:, None]
    coords = nib.affines.apply_affine(img.affine, centroid_ijk)
    lut = _read_lut(path)
    names = [lut.get(int(v), (f"label {int(v)}", ""))[0] for v in values]
    networks = [lut.get(int(v), ("", ""))[1] for v in values]
    return Atlas(name=str(path), coords=coords, names=names, networks=networks,
                 radius_mm=None, label_img=path, label_values=values)
