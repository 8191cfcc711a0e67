"""Paired before / after comparison over subjects (``unit="subjects"``): sign flips of each subject's change."""

import itertools

import numpy as np
import pytest

from bundle_factory import make_bundle, make_paired_bundle
from eegfmri_viewer.comparison.compare import (
    CompareError,
    SessionData,
    compare_bundles,
    compare_sessions,
    lagged_smallest_p,
    lagged_units,
)
from eegfmri_viewer.comparison.stats import sign_flip_test, smallest_p
from eegfmri_viewer.results import load_bundle, save_bundle


def test_sign_flip_test_is_exact_for_few_subjects():
    rng = np.random.default_rng(0)
    d = rng.normal(0.2, 1.0, (5, 30))
    d[:, 3] = [1.0, 1.2, 0.9, 1.1, 1.05]  # every subject changes the same way
    diff, p = sign_flip_test(d, n_permutations=1000, seed=0)
    np.testing.assert_allclose(diff, d.mean(0))
    # brute force over all 2^5 sign patterns
    signs = np.array(list(itertools.product([1.0, -1.0], repeat=5)))
    expected = (np.abs(signs @ d / 5) >= np.abs(d.mean(0)) - 1e-12).mean(axis=0)
    np.testing.assert_allclose(p, expected)
    # identity and its mirror always count: nothing is below 2 / 2^5, and the consistent change reaches it
    assert p.min() >= smallest_p(5) == 2 / 32
    assert p[3] == pytest.approx(2 / 32)
    # exact: independent of the seed
    np.testing.assert_array_equal(sign_flip_test(d, n_permutations=1000, seed=7)[1], p)


def test_the_smallest_p_counts_the_permutations_drawn():
    # exact enumeration (2^10 = 1024 patterns, no more than the permutations): 2 / 2^n
    assert smallest_p(10, n_permutations=2000) == pytest.approx(2 / 1024)
    # more patterns than permutations: random flips, so never below 1 / (1 + N)
    assert smallest_p(20, n_permutations=10000) == pytest.approx(1 / 10001)
    assert smallest_p(10, n_permutations=100) == pytest.approx(1 / 101)
    assert smallest_p(10, 10, n_permutations=200) == pytest.approx(1 / 201)
    assert smallest_p(2, 2, n_permutations=200) == pytest.approx(2 / 6)
    d = np.ones((15, 3)) + np.random.default_rng(0).normal(0, 0.01, (15, 3))
    _, p = sign_flip_test(d, n_permutations=1000, seed=0)
    assert p.min() >= smallest_p(15, n_permutations=1000) and p.min() == pytest.approx(1 / 1001)


def test_sign_flip_test_samples_when_the_patterns_are_too_many():
    rng = np.random.default_rng(1)
    d = rng.normal(0.0, 1.0, (30, 40))
    d[:, 11] += 1.5
    d[4, 20] = np.nan
    _, p = sign_flip_test(d, n_permutations=3000, seed=0)
    assert p[11] == pytest.approx(1 / 3001)  # Phipson & Smyth: never zero
    assert np.isnan(p[20])
    _, again = sign_flip_test(d, n_permutations=3000, seed=0)
    np.testing.assert_array_equal(p, again)
    # calibrated under the null: about 5 % of the features below 0.05
    null = rng.normal(0.0, 1.0, (30, 2000))
    _, p_null = sign_flip_test(null, n_permutations=2000, seed=2)
    assert 0.03 < (p_null < 0.05).mean() < 0.07


def _subjects_sessions(n_subjects, n_rois, change, rng, windows_per_subject=6, between_sd=1.0):
    """Two sessions of the same subjects; every subject has its own level at every ROI (large), the same in A and B."""
    level = rng.normal(0.0, between_sd, (n_subjects, n_rois))
    subjects = np.repeat([f"{i:02d}" for i in range(n_subjects)], windows_per_subject)
    sides = []
    for shift in (0.0, change):
        cam = level[np.repeat(np.arange(n_subjects), windows_per_subject)]
        cam = cam + rng.normal(0.0, 0.1, cam.shape)
        cam[:, 5] += shift
        sides.append(SessionData(label="A" if not shift else "B", labels=np.zeros(len(cam), dtype=int),
                                 fmri_cam=cam, blocks=np.arange(len(cam)) // windows_per_subject,
                                 subjects=subjects.copy()))
    return sides


def test_paired_test_finds_a_change_that_differences_between_subjects_hide():
    a, b = _subjects_sessions(10, 10, 0.5, np.random.default_rng(3))
    paired = compare_sessions(a, b, ["c"], n_permutations=5000, seed=0, unit="subjects")
    # each subject's mean before and after, then every one of the 2^10 sign patterns
    assert paired.meta["unit"] == "subjects"
    assert paired.meta["subjects_paired"] == [f"{i:02d}" for i in range(10)]
    assert paired.meta["subjects_left_out"] == []
    assert int(paired.arrays["n_subjects"]) == 10 and paired.arrays["n_windows_a"].tolist() == [10]
    assert np.flatnonzero(paired.significant("fmri_cam")[0]).tolist() == [5]
    assert paired.arrays["fmri_cam_p"][0, 5] == pytest.approx(2 / 1024)
    # the same data with each subject's windows one block, unpaired: the subjects' levels swamp the change
    unpaired = compare_sessions(a, b, ["c"], n_permutations=5000, seed=0, unit="blocks")
    assert unpaired.arrays["fmri_cam_p"][0, 5] > 0.05
    np.testing.assert_allclose(paired.arrays["fmri_cam_diff"], unpaired.arrays["fmri_cam_diff"], atol=1e-12)


def test_paired_test_needs_the_same_subjects_on_both_sides():
    a, b = _subjects_sessions(4, 6, 0.0, np.random.default_rng(4))
    only_b = SessionData(label="B", labels=b.labels, fmri_cam=b.fmri_cam,
                         subjects=np.where(b.subjects == "00", "00", "99"))
    with pytest.raises(CompareError, match=r"at least two subjects recorded in both sessions.*'99'"):
        compare_sessions(a, only_b, ["c"], n_permutations=100, unit="subjects")
    no_subjects = SessionData(label="B", labels=b.labels, fmri_cam=b.fmri_cam)
    with pytest.raises(CompareError, match="subject of every window"):
        compare_sessions(a, no_subjects, ["c"], n_permutations=100, unit="subjects")
    # a subject recorded before only is left out, and said to be
    three = SessionData(label="B", labels=b.labels[b.subjects != "03"], fmri_cam=b.fmri_cam[b.subjects != "03"],
                        subjects=b.subjects[b.subjects != "03"])
    result = compare_sessions(a, three, ["c"], n_permutations=100, unit="subjects")
    assert result.meta["subjects_paired"] == ["00", "01", "02"] and result.meta["subjects_left_out"] == ["03"]
    np.testing.assert_allclose(result.arrays["fmri_cam_a"][0],
                               a.fmri_cam[a.subjects != "03"].mean(0), atol=1e-12)


def _paired_recordings(tmp_path, n_subjects, change, seed=0, with_subjects=True):
    make_paired_bundle(tmp_path / "paired", n_subjects, change, seed, with_subjects)
    return load_bundle(tmp_path / "paired")


def test_power_bold_correlation_is_paired_by_subject(tmp_path):
    # 14 subjects: 2^14 sign patterns, enough for one change to survive FDR over 264 ROIs
    bundle = _paired_recordings(tmp_path, 14, {(2, 139): -0.15})
    paired = compare_bundles(bundle, session_a="1", session_b="2", n_permutations=20000, unit="subjects")
    arr = paired.arrays
    assert int(arr["lagged_r_n_subjects"]) == 14 and lagged_units(arr) == "14 subjects paired"
    assert lagged_smallest_p(arr) == pytest.approx(2 / 2 ** 14)
    assert "sign-flip test of the paired differences of 14 subjects" in paired.meta["lagged_r"]
    assert arr["lagged_r_q"][2, 139] < 0.05
    assert (np.nan_to_num(arr["lagged_r_q"], nan=1.0) < 0.05).sum() == 1
    # exchanging the 28 recordings instead: the subjects' own levels (sd 0.25) hide a change of 0.15
    assert int(arr["n_subjects"]) == 14
    unpaired = compare_bundles(bundle, session_a="1", session_b="2", n_permutations=20000).arrays
    assert lagged_units(unpaired) == "14 vs 14 recordings"
    assert unpaired["lagged_r_p"][2, 139] > 0.05
    np.testing.assert_allclose(arr["lagged_r_diff"][2, 139], unpaired["lagged_r_diff"][2, 139], atol=0.02)


def test_recordings_without_subjects_are_exchanged_and_it_is_said(tmp_path):
    bundle = _paired_recordings(tmp_path, 6, {}, with_subjects=False)
    result = compare_bundles(bundle, session_a="1", session_b="2", n_permutations=2000, unit="subjects")
    # the CAM is paired (windows know their subject); the correlation cannot be
    assert int(result.arrays["n_subjects"]) == 6
    assert int(result.arrays["lagged_r_n_subjects"]) == 0
    assert "could not be paired" in result.meta["lagged_r"]
    assert lagged_smallest_p(result.arrays) == pytest.approx(smallest_p(6, 6))


def test_compare_command_runs_the_paired_test(tmp_path, capsys):
    from eegfmri_viewer.cli import main

    _paired_recordings(tmp_path, 6, {(2, 139): -0.3})
    assert main(["compare", str(tmp_path / "paired"), "--sessions", "1", "2", "--unit", "subjects",
                 "--out", str(tmp_path / "cmp"), "--permutations", "500"]) == 0
    out = capsys.readouterr().out
    assert "sign flips of 6 paired subjects; smallest possible p 0.031" in out
    # 2 ** 6 = 64 sign patterns, fewer than the 500 permutations: all are evaluated, and it is said
    assert "sign flips of 6 paired subjects; smallest possible p 0.031; exact: all 64 sign patterns" in out
    assert "EEG power-BOLD correlation (6 subjects paired; smallest possible p 0.031; exact: all 64 sign patterns)" in out
    # a bundle whose windows are all one subject cannot be paired: a clear message, exit status 2
    make_bundle(tmp_path / "one", seed=1)
    one = load_bundle(tmp_path / "one")
    one.arrays["windows"]["session"] = np.where(np.arange(len(one.arrays["windows"]["labels"])) % 2, "2", "1")
    save_bundle(tmp_path / "one_sessions", one)
    assert main(["compare", str(tmp_path / "one_sessions"), "--sessions", "1", "2", "--unit", "subjects",
                 "--out", str(tmp_path / "cmp1")]) == 2
    assert "at least two subjects recorded in both sessions" in capsys.readouterr().err
    assert not (tmp_path / "cmp1").exists()
