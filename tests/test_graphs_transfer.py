"""EEG -> ROI transfer matrix: a simulated dipole must map back to its ROI."""

import time

import mne
import numpy as np
import pytest

from eegfmri_viewer.graphs import mni_to_head, sphere_leadfield, transfer_matrix
from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.preprocessing import load_atlas
from eegfmri_viewer.progress import Cancelled


def _montage():
    # 'standard_1005' is renamed 'colin27_1005' in recent MNE (same positions)
    name = "colin27_1005" if "colin27_1005" in mne.channels.get_builtin_montages() else "standard_1005"
    return mne.channels.make_standard_montage(name)


@pytest.fixture(scope="module")
def info64():
    names = mne.channels.make_standard_montage("biosemi64").ch_names  # 10-20 names of a 64 cap
    info = mne.create_info(names, 250.0, "eeg")
    info.set_montage(_montage())
    return info


@pytest.fixture(scope="module")
def power():
    return load_atlas("power2011")


@pytest.fixture(scope="module")
def leadfield(info64, power):
    G, head, radial, _ = sphere_leadfield(info64, power.coords)
    return G - G.mean(axis=0), radial


def _rank(T, x, j):
    s = np.abs(T @ x)
    return int((s > s[j]).sum())


# ROIs spread over the atlas order (it runs roughly from ventral-posterior to other networks)
ROIS = [0, 40, 100, 150, 200, 250]


@pytest.mark.parametrize("orientation", ["normal", "free"])
def test_mne_dipole_maps_back_to_its_roi(info64, power, leadfield, orientation):
    Gc, radial = leadfield
    t0 = time.perf_counter()
    T = transfer_matrix(info64, power.coords, method="mne", orientation=orientation)
    dt = time.perf_counter() - t0
    print(f"transfer_matrix mne/{orientation} 64 ch x 264 ROIs: {dt:.2f} s")
    assert T.shape == (264, 64)
    for j in ROIS:
        if orientation == "normal":
            x = Gc[:, j, :] @ radial[j]
        else:
            _, _, vt = np.linalg.svd(Gc[:, j, :], full_matrices=False)
            x = Gc[:, j, :] @ vt[0]
        assert _rank(T, x, j) < 3, f"ROI {j} ranked {_rank(T, x, j)}"
    # all ROIs at once (sLORETA localises a single noiseless dipole exactly)
    if orientation == "normal":
        X = np.einsum("cjo,jo->cj", Gc, radial)
        ranks = [_rank(T, X[:, j], j) for j in range(264)]
        assert max(ranks) < 3


def test_mne_transfer_ignores_the_reference(info64, power):
    T = transfer_matrix(info64, power.coords)
    assert np.allclose(T @ np.ones(64), 0, atol=1e-8 * np.abs(T).max())


def test_distance_dipole_maps_back_for_superficial_rois(info64, power, leadfield):
    Gc, radial = leadfield
    t0 = time.perf_counter()
    T = transfer_matrix(info64, power.coords, method="distance")
    print(f"transfer_matrix distance 64 ch x 264 ROIs: {time.perf_counter() - t0:.3f} s")
    assert T.shape == (264, 64)
    assert np.allclose(T.sum(axis=1), 1)
    head = mni_to_head(power.coords)
    pos = np.array([ch["loc"][:3] for ch in info64["chs"]])
    depth = np.linalg.norm(head[:, None] - pos[None], axis=-1).min(axis=1)
    superficial = np.argsort(depth)[:20]
    X = np.einsum("cjo,jo->cj", Gc, radial)
    ranks = np.array([_rank(T, X[:, j], j) for j in superficial])
    assert np.mean(ranks < 3) >= 0.8


def test_transfer_errors_and_cancel(info64, power):
    with pytest.raises(InputError, match="unknown transfer method"):
        transfer_matrix(info64, power.coords, method="beamformer")
    bare = mne.create_info(["C3", "C4", "Cz"], 250.0, "eeg")
    with pytest.raises(InputError, match="positions unknown"):
        transfer_matrix(bare, power.coords)
    with pytest.raises(Cancelled):
        transfer_matrix(info64, power.coords, cancel=lambda: True)


def test_mni_to_head_matches_fsaverage_fiducial_frame():
    # the MNI origin region lies inside the head, above the ear line (head z > 0)
    head = mni_to_head([[0.0, 0.0, 0.0], [0.0, 60.0, 0.0]])
    assert 0.0 < head[0, 2] < 0.08
    assert head[1, 1] - head[0, 1] == pytest.approx(0.06, abs=0.005)  # anterior is +y in both
