"""Atlases and BOLD parcellation."""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.preprocessing import load_atlas, parcellate
from eegfmri_viewer.progress import Cancelled

AFFINE = np.array([[4.0, 0, 0, -90], [0, 4.0, 0, -126], [0, 0, 4.0, -72], [0, 0, 0, 1]])
SHAPE = (46, 55, 46)


def _mni_img(data):
    img = nib.Nifti1Image(data.astype(np.float32), AFFINE)
    img.header.set_sform(AFFINE, code=4)
    img.header.set_qform(AFFINE, code=4)
    return img


def _world_grid():
    ijk = np.indices(SHAPE).reshape(3, -1).T
    return nib.affines.apply_affine(AFFINE, ijk).reshape(SHAPE + (3,))


@pytest.mark.parametrize("name,n", [("power2011", 264), ("dosenbach2010", 160), ("seitzman2018", 300)])
def test_builtin_coordinate_atlases(name, n):
    a = load_atlas(name, radius_mm=6.0)
    assert a.coords.shape == (n, 3) and len(a.names) == n and len(a.networks) == n
    assert a.radius_mm == 6.0 and not a.is_label_atlas
    assert len(set(a.names)) == n
    assert np.all(np.abs(a.coords) < 110)


def test_power_networks_where_seitzman_coincides():
    a = load_atlas("power2011")
    labelled = [n for n in a.networks if n]
    assert 200 <= len(labelled) < 264
    assert "DefaultMode" in labelled and "Visual" in labelled


def test_unknown_atlas():
    with pytest.raises(InputError, match="unknown atlas"):
        load_atlas("aal")


def test_planted_signal_recovered_at_its_power_roi():
    rng = np.random.default_rng(0)
    n_vol, tr = 40, 2.0
    atlas = load_atlas("power2011")
    target = 130
    grid = _world_grid()
    near = np.linalg.norm(grid - atlas.coords[target], axis=-1) <= 5.0
    signal = np.sin(2 * np.pi * np.arange(n_vol) / 10.0)
    data = 1000 + rng.normal(size=SHAPE + (n_vol,))
    data[near] += 5 * signal
    img = _mni_img(data)
    before = np.asarray(img.dataobj).copy()
    messages = []
    rs = parcellate(img, atlas, tr, block_volumes=16, progress=lambda f, m: messages.append(f))
    assert rs.data.shape == (n_vol, 264) and rs.data.dtype == np.float32
    assert np.array_equal(np.asarray(img.dataobj), before)  # input untouched
    corr = np.array([np.corrcoef(rs.data[:, j], signal)[0, 1] for j in range(264)])
    assert int(np.argmax(corr)) == target and corr[target] > 0.9
    assert np.sort(corr)[-2] < 0.5
    assert np.allclose(rs.data.mean(axis=0), 0, atol=1e-4)
    assert np.allclose(rs.data.std(axis=0, ddof=1), 1, atol=1e-3)
    assert messages[-1] == 1.0
    assert rs.times[1] == tr


def test_confound_regression_removes_a_shared_nuisance():
    rng = np.random.default_rng(1)
    n_vol = 60
    nuisance = rng.normal(size=n_vol)
    data = 100 + 0.2 * rng.normal(size=SHAPE + (n_vol,)) + 3 * nuisance
    atlas = load_atlas("dosenbach2010")
    raw = parcellate(_mni_img(data), atlas, 2.0)
    conf = pd.DataFrame({"nuisance": nuisance, "constant": np.ones(n_vol)})
    cleaned = parcellate(_mni_img(data), atlas, 2.0, confounds=conf)
    r_raw = np.mean([abs(np.corrcoef(raw.data[:, j], nuisance)[0, 1]) for j in range(160)])
    r_clean = np.mean([abs(np.corrcoef(cleaned.data[:, j], nuisance)[0, 1]) for j in range(160)])
    assert r_raw > 0.9 and r_clean < 0.05
    assert cleaned.confounds_used == ["nuisance"]
    with pytest.raises(InputError, match="confound rows"):
        parcellate(_mni_img(data), atlas, 2.0, confounds=conf.iloc[:10])


def test_label_atlas_with_lut(tmp_path):
    labels = np.zeros(SHAPE, dtype=np.int16)
    labels[10:15, 10:15, 10:15] = 3
    labels[30:34, 30:34, 30:34] = 7
    path = tmp_path / "myatlas.nii.gz"
    nib.save(_mni_img(labels), path)
    (tmp_path / "myatlas.tsv").write_text("index\tname\tnetwork\n3\tleft blob\tA\n7\tright blob\tB\n")
    atlas = load_atlas(str(path))
    assert atlas.is_label_atlas and atlas.names == ["left blob", "right blob"]
    assert atlas.networks == ["A", "B"] and atlas.label_values.tolist() == [3, 7]
    centre = nib.affines.apply_affine(AFFINE, [12, 12, 12])
    assert np.allclose(atlas.coords[0], centre)
    rng = np.random.default_rng(2)
    n_vol = 30
    sig = rng.normal(size=n_vol)
    data = 100 + rng.normal(size=SHAPE + (n_vol,))
    data[30:34, 30:34, 30:34] += 4 * sig
    rs = parcellate(_mni_img(data), atlas, 2.0)
    assert rs.data.shape == (n_vol, 2)
    assert np.corrcoef(rs.data[:, 1], sig)[0, 1] > 0.9
    assert abs(np.corrcoef(rs.data[:, 0], sig)[0, 1]) < 0.5


def test_bad_bold_and_cancel(tmp_path):
    atlas = load_atlas("dosenbach2010")
    with pytest.raises(InputError, match="expected 4-D"):
        parcellate(_mni_img(np.zeros(SHAPE)), atlas, 2.0)
    with pytest.raises(InputError, match="repetition time"):
        parcellate(_mni_img(np.zeros(SHAPE + (5,))), atlas, 0.0)
    with pytest.raises(Cancelled):
        parcellate(_mni_img(np.zeros(SHAPE + (5,))), atlas, 2.0, cancel=lambda: True)
    bad = tmp_path / "three_d_4.nii.gz"
    nib.save(_mni_img(np.zeros(SHAPE + (2,))), bad)
    with pytest.raises(InputError, match="3-D label image"):
        load_atlas(str(bad))


def test_pooled_scaling_keeps_the_amplitude_change_between_runs():
    from eegfmri_viewer.preprocessing.fmri import pooled_roi_scale

    rng = np.random.default_rng(0)
    box = np.tile(np.r_[np.ones(10), np.zeros(10)], 5)
    before = np.stack([2.0 * box, rng.normal(size=100)], axis=1) + 0.1 * rng.normal(size=(100, 2))
    after = np.stack([5.0 * box, rng.normal(size=100)], axis=1) + 0.1 * rng.normal(size=(100, 2))
    before -= before.mean(0)
    after -= after.mean(0)
    scale = pooled_roi_scale([before, after])
    a, b = before / scale, after / scale

    def response(x):
        return x[box == 1].mean() - x[box == 0].mean()

    # the response of ROI 0 stays 2.5 times larger after, as in the data
    assert response(b[:, 0]) / response(a[:, 0]) == pytest.approx(2.5, rel=0.02)
    pooled = np.concatenate([a, b])
    np.testing.assert_allclose(pooled.std(0, ddof=1), 1.0, rtol=1e-6)
    # per-run z-scoring would have made them equal: that is what pooling avoids
    assert response(after[:, 0] / after[:, 0].std()) == pytest.approx(response(before[:, 0] / before[:, 0].std()),
                                                                       rel=0.02)
    # a ROI without signal keeps a unit scale (it stays 0)
    assert pooled_roi_scale([np.zeros((5, 1)), np.zeros((5, 1))])[0] == 1.0
