"""BOLD of one demo run on a 4 mm MNI grid.

Model for voxel ``v`` and volume ``k`` (inside nilearn's MNI152 brain mask)::

    y[k, v] = S0[v] * (1 + sum_r w_r(v) p_r h_r[k] / 100 + phys[k, v] + drift[k, v]
                         + spike[k, v] + noise[k, v])

* ``h_r``: neural activity of planted region ``r`` convolved with the canonical
  HRF (``design.bold_response``), ``p_r`` its signal change in percent and
  ``w_r(v) = exp(-d^2 / (2 sigma^2))`` (``d`` the distance to the region's
  centre, cut at ``spec.BOLD_RADIUS_MM``).
* ``phys``: physiological noise, a global signal plus a few smooth spatial
  patterns with slow AR(1) time courses (cardiac and respiratory fluctuations
  aliased at TR 2 s look like this).
* ``drift``: linear and quadratic scanner drift with smooth spatial maps.
* ``spike``: motion-like spikes, a few volumes with an intensity change that
  grows linearly along a random direction (as a small head movement in a
  non-uniform coil sensitivity).
* ``noise``: thermal noise, AR(1) in time, independent across voxels.

``S0`` follows the MNI152 T1 template's contrast, so the mean image looks
like a brain. Values are stored as int16.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..progress import check_cancel
from . import spec

VOXEL_MM = 4
THERMAL_PCT = 1.0
THERMAL_AR = 0.3
PHYS_PCT = 0.2
PHYS_AR = 0.5
N_PHYS_PATTERNS = 4
GLOBAL_PCT = 0.2
DRIFT_PCT = 1.5
SPIKE_PCT = 1.5


@dataclass
class BoldGrid:
    """The voxel grid and baseline image.

    Attributes
    ----------
    affine : ndarray, shape (4, 4)
        Voxel -> MNI mm.
    shape : tuple of int
        (nx, ny, nz).
    ijk : ndarray, shape (n_voxels, 3)
        Indices of the in-mask voxels.
    xyz : ndarray, shape (n_voxels, 3)
        Their MNI coordinates (mm).
    s0 : ndarray, shape (n_voxels,)
        Baseline intensity.
    """

    affine: np.ndarray
    shape: tuple
    ijk: np.ndarray
    xyz: np.ndarray
    s0: np.ndarray


def make_grid() -> BoldGrid:
    """4 mm MNI grid from the MNI152 brain mask and template that nilearn ships."""
    from nilearn import datasets, image

    mask_img = datasets.load_mni152_brain_mask(resolution=VOXEL_MM)
    tmpl = datasets.load_mni152_template(resolution=VOXEL_MM)
    if tmpl.shape != mask_img.shape or not np.allclose(tmpl.affine, mask_img.affine):
        tmpl = image.resample_to_img(tmpl, mask_img, interpolation="continuous",
                                     force_resample=True, copy_header=True)
    mask = np.asarray(mask_img.dataobj) > 0
    ijk = np.argwhere(mask)
    affine = np.asarray(mask_img.affine, float)
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    t = np.asarray(tmpl.dataobj, float)[mask]
    s0 = 6000.0 + 6000.0 * np.clip(t / np.percentile(t, 99), 0.0, 1.0)
    return BoldGrid(affine=affine, shape=tuple(int(s) for s in mask.shape), ijk=ijk, xyz=xyz, s0=s0)


def region_weights(grid: BoldGrid, centres_mm: np.ndarray) -> np.ndarray:
    """Spatial profile of each region's response.

    Returns
    -------
    w : ndarray, shape (n_regions, n_voxels)
    """
    d2 = ((grid.xyz[None, :, :] - np.asarray(centres_mm, float)[:, None, :]) ** 2).sum(-1)
    w = np.exp(-d2 / (2 * spec.BOLD_SIGMA_MM**2))
    w[d2 > spec.BOLD_RADIUS_MM**2] = 0.0
    return w


def smooth_maps(grid: BoldGrid, n: int, rng: np.random.Generator, sigma_mm: float = 30.0) -> np.ndarray:
    """Smooth random spatial patterns (sums of broad Gaussian blobs), unit RMS.

    Returns
    -------
    maps : ndarray, shape (n, n_voxels)
    """
    out = np.zeros((n, len(grid.xyz)))
    for i in range(n):
        centres = grid.xyz[rng.integers(0, len(grid.xyz), 4)]
        signs = rng.choice([-1.0, 1.0], 4)
        for c, s in zip(centres, signs):
            out[i] += s * np.exp(-((grid.xyz - c) ** 2).sum(1) / (2 * sigma_mm**2))
        out[i] /= np.sqrt(np.mean(out[i] ** 2))
    return out


def ar1(rng: np.random.Generator, shape: tuple, phi: float) -> np.ndarray:
    """Unit-variance AR(1) series along axis 0."""
    from scipy.signal import lfilter

    e = rng.standard_normal(shape) * np.sqrt(1 - phi**2)
    e[0] /= np.sqrt(1 - phi**2)
    return lfilter([1.0], [1.0, -phi], e, axis=0)


def simulate_bold(grid: BoldGrid, centres_mm: np.ndarray, pct: np.ndarray, response: np.ndarray,
                  rng: np.random.Generator, cancel=None) -> tuple:
    """BOLD volumes of one run.

    Parameters
    ----------
    grid : BoldGrid
    centres_mm : ndarray, shape (n_planted, 3)
        MNI centres of the planted regions.
    pct : ndarray, shape (n_planted,)
        Signal change (%) per unit of HRF-convolved neural activity.
    response : ndarray, shape (n_volumes, n_planted)
        From :func:`design.bold_response`.
    rng : numpy.random.Generator
    cancel : callable | None
        Checked between the stages (see :mod:`eegfmri_viewer.progress`).

    Returns
    -------
    data : ndarray, shape (nx, ny, nz, n_volumes), int16
    spikes : list of int
        Volumes with a motion-like spike.
    """
    n_vol = response.shape[0]
    n_vox = len(grid.xyz)
    frac = response @ (region_weights(grid, centres_mm) * (pct[:, None] / 100.0))
    check_cancel(cancel)
    frac += (THERMAL_PCT / 100.0) * ar1(rng, (n_vol, n_vox), THERMAL_AR)
    check_cancel(cancel)
    patterns = smooth_maps(grid, N_PHYS_PATTERNS, rng)
    frac += (PHYS_PCT / 100.0) * ar1(rng, (n_vol, N_PHYS_PATTERNS), PHYS_AR) @ patterns
    frac += (GLOBAL_PCT / 100.0) * ar1(rng, (n_vol, 1), PHYS_AR)
    u = np.linspace(-1.0, 1.0, n_vol)
    drift_maps = smooth_maps(grid, 2, rng, sigma_mm=60.0)
    frac += (DRIFT_PCT / 100.0) * (np.outer(u, drift_maps[0]) + 0.5 * np.outer(1.5 * u**2 - 0.5, drift_maps[1]))
    n_spikes = max(1, n_vol // 60)
    spikes = sorted(int(k) for k in rng.choice(np.arange(3, n_vol - 1), n_spikes, replace=False))
    for k in spikes:
        direction = rng.standard_normal(3)
        direction /= np.linalg.norm(direction)
        ramp = grid.xyz @ direction / 70.0
        frac[k] += (SPIKE_PCT / 100.0) * (ramp + 0.5 * rng.choice([-1.0, 1.0]))
        frac[k + 1] += 0.3 * (SPIKE_PCT / 100.0) * ramp
    check_cancel(cancel)
    vox = np.round(grid.s0[None, :] * (1.0 + frac))
    data = np.zeros(grid.shape + (n_vol,), dtype=np.int16)
    data[grid.ijk[:, 0], grid.ijk[:, 1], grid.ijk[:, 2], :] = np.clip(vox, 1, 32767).astype(np.int16).T
    return data, spikes
