"""Exact permutation tests when the relabellings are few; what compare.json and the CLI say about them,
about ROI indices, sessions and the space of the coordinates."""

import itertools
import json

import numpy as np
import pytest

from bundle_factory import make_bundle
from eegfmri_viewer.comparison.compare import compare_bundles, coordinate_space, load_compare
from eegfmri_viewer.comparison.stats import permutation_test, relabelling_plan, sign_flip_test, smallest_p
from eegfmri_viewer.results import load_bundle, save_bundle


def _brute_force_p(a, b):
    """Two-sided p over every choice of the units called A (the exact test's definition)."""
    x = np.concatenate([a, b])
    observed = np.abs(b.mean(0) - a.mean(0))
    hits, total = 0, 0
    for chosen in itertools.combinations(range(len(x)), len(a)):
        mask = np.zeros(len(x), bool)
        mask[list(chosen)] = True
        hits = hits + (np.abs(x[~mask].mean(0) - x[mask].mean(0)) >= observed - 1e-12)
        total += 1
    return hits / total


def test_two_against_two_blocks_enumerates_the_six_splits():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (2, 40)), rng.normal(0, 1, (2, 40))
    b[:, 3] += 10.0
    _, p = permutation_test(a, b, n_permutations=1000, seed=0)
    np.testing.assert_allclose(p, _brute_force_p(a, b))
    # every p is a multiple of 1/6, none below the smallest possible p the CLI prints
    np.testing.assert_allclose(p * 6, np.round(p * 6), atol=1e-9)
    assert p.min() >= smallest_p(2, 2, n_permutations=1000) == pytest.approx(1 / 3)
    assert p[3] == pytest.approx(1 / 3)
    # exact: the seed does not matter
    np.testing.assert_array_equal(permutation_test(a, b, n_permutations=1000, seed=9)[1], p)
    assert relabelling_plan(2, 2, 1000) == {"possible": 6, "exact": True, "used": 6,
                                            "text": "exact: all 6 relabellings"}


def test_unequal_sides_have_no_mirror_so_the_floor_is_one_over_the_splits():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, (3, 20)), rng.normal(0, 1, (4, 20))
    b[:, 0] = [5.0, 5.1, 5.2, 5.3]  # B far above A: only the observed split is as extreme
    _, p = permutation_test(a, b, n_permutations=100, seed=0)
    np.testing.assert_allclose(p, _brute_force_p(a, b))
    assert p[0] == pytest.approx(1 / 35) == smallest_p(3, 4, n_permutations=100)


def test_sampled_p_is_never_below_the_exact_floor():
    # 5 vs 5: 252 splits, more than 200 permutations, so they are sampled
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, (5, 10)), rng.normal(0, 1, (5, 10))
    b[:, 0] += 50.0
    plan = relabelling_plan(5, 5, 200)
    assert not plan["exact"] and plan["used"] == 200 and plan["text"] == "200 random relabellings (of 252)"
    _, p = permutation_test(a, b, n_permutations=200, seed=0)
    # 1 / 201 would be below 2 / 252, which no exact test can go under
    assert p[0] == pytest.approx(2 / 252) == smallest_p(5, 5, n_permutations=200)
    assert (p >= smallest_p(5, 5, n_permutations=200) - 1e-15).all()
    # sign flips: 10 subjects have 1024 patterns, more than 1000 permutations
    d = np.ones((10, 4)) + rng.normal(0, 0.01, (10, 4))
    assert relabelling_plan(10, None, 1000)["text"] == "1000 random sign patterns (of 1024)"
    floor = smallest_p(10, n_permutations=1000)
    assert floor == pytest.approx(2 / 1024)
    lowest = [sign_flip_test(d, n_permutations=1000, seed=seed)[1].min() for seed in range(8)]
    assert min(lowest) >= floor - 1e-15
    # seed 5 draws neither the observed pattern nor its mirror: 1 / 1001 would be reported without the floor
    assert lowest[5] == pytest.approx(floor)


def _two_blocks_per_class(path, seed=0):
    """A bundle whose every class has two blocks (each class's windows split into an early and a late block)."""
    make_bundle(path.with_name(path.name + "_source"), phase2=False, seed=seed)
    bundle = load_bundle(path.with_name(path.name + "_source"))
    win = bundle.arrays["windows"]
    n = len(win["labels"])
    win["blocks"] = win["labels"] * 10 + (np.arange(n) >= n // 2)
    save_bundle(path, bundle)
    return bundle


def test_compare_reports_exact_tests_and_zero_based_roi_index(tmp_path, capsys):
    from eegfmri_viewer.cli import main

    _two_blocks_per_class(tmp_path / "a", seed=0)
    _two_blocks_per_class(tmp_path / "b", seed=1)
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "cmp"),
                 "--permutations", "1000"]) == 0
    out = capsys.readouterr().out
    # the review's case: 2 vs 2 blocks, 1000 permutations asked for, 6 distinct splits
    assert "1000 permutations" not in out
    assert "(exact permutation tests over blocks: every relabelling, FDR q < 0.05)" in out
    assert "[2 vs 2 blocks; smallest possible p 0.33; exact: all 6 relabellings; none can reach q < 0.05]" in out
    result = load_compare(tmp_path / "cmp")
    assert result.meta["permutations"][0] == {"possible": 6, "exact": True, "used": 6,
                                              "text": "exact: all 6 relabellings"}
    assert result.arrays["permutations_used"].tolist() == [6, 6, 6]
    assert result.arrays["permutations_exact"].all()
    p = result.arrays["fmri_cam_p"]
    assert np.nanmin(p) >= min(result.meta["smallest_p"]) - 1e-12
    np.testing.assert_allclose(p * 6, np.round(p * 6), atol=1e-9)
    # ROI indices: 0-based, said so, beside the atlas's own (1-based) name
    summary = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    row = summary["top_changes"]["rest"][0]
    assert row["roi_index"] == row["roi"]
    assert row["name"] == str(result.arrays["roi_names"][row["roi_index"]])
    np.testing.assert_allclose(row["coords"], result.arrays["roi_coords"][row["roi_index"]])
    assert "0-based" in summary["notes"]["roi"]


def test_sessions_on_a_bundle_without_sessions_says_so(tmp_path, capsys):
    from eegfmri_viewer.cli import main

    make_bundle(tmp_path / "a", phase2=False)
    bundle = load_bundle(tmp_path / "a")
    # what analyze writes for recordings without a BIDS ses- label
    bundle.arrays["windows"]["session"] = np.full(len(bundle.arrays["windows"]["labels"]), "")
    save_bundle(tmp_path / "nosessions", bundle)
    assert main(["compare", str(tmp_path / "nosessions"), "--sessions", "pre", "post",
                 "--out", str(tmp_path / "cmp")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "this bundle has no sessions" in err and "(sessions: )" not in err
    assert not (tmp_path / "cmp").exists()
    # with sessions, a missing one names those there are
    bundle.arrays["windows"]["session"] = np.where(np.arange(len(bundle.arrays["windows"]["labels"])) % 2, "2", "1")
    save_bundle(tmp_path / "sessions", bundle)
    assert main(["compare", str(tmp_path / "sessions"), "--sessions", "pre", "1", "--out", str(tmp_path / "c2")]) == 2
    assert "has no windows of session 'pre' (sessions: 1, 2)" in capsys.readouterr().err
    # the usage error has the same prefix
    assert main(["compare", str(tmp_path / "sessions"), "--out", str(tmp_path / "c3")]) == 2
    assert capsys.readouterr().err.startswith("error: give either RESULTS_B or --sessions A B")


def _with_space(path, source, space):
    bundle = load_bundle(source)
    for rec in bundle.dataset["recordings"]:
        rec["space"] = space
    save_bundle(path, bundle)


def test_native_space_is_said_beside_the_coordinates(tmp_path, capsys):
    from eegfmri_viewer.cli import main

    make_bundle(tmp_path / "a", phase2=False)
    make_bundle(tmp_path / "b", phase2=False, seed=1)
    # MNI data: the coordinates are where they say
    mni = compare_bundles(load_bundle(tmp_path / "a"), load_bundle(tmp_path / "b"), n_permutations=20)
    assert mni.meta["space"] == "MNI"
    assert "MNI" in mni.meta["notes"]["coords"] and not mni.meta.get("warnings")
    _with_space(tmp_path / "na", tmp_path / "a", "native")
    _with_space(tmp_path / "nb", tmp_path / "b", "native")
    assert main(["compare", str(tmp_path / "na"), str(tmp_path / "nb"), "--out", str(tmp_path / "cmp"),
                 "--permutations", "20"]) == 0
    err = capsys.readouterr().err
    assert "warning: The BOLD of na and nb is in native space, not MNI" in err
    summary = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert summary["space"] == "native"
    assert "not coordinates in these data" in summary["notes"]["coords"]
    assert any("is in native space, not MNI" in w for w in summary["warnings"])
    # one side native, one MNI: mixed, and the native side is named
    space, note, warning = coordinate_space({"before": "MNI152NLin2009cAsym", "after": "native"})
    assert space == "mixed" and "The BOLD of after is in native space" in warning and "before" not in warning
    # unknown is not called native (nor "not MNI")
    space, note, warning = coordinate_space({"before": "MNI", "after": ["unknown"]})
    assert space == "mixed" and "The BOLD of after is of unknown space" in warning
    assert "native space" not in warning and "not MNI" not in warning and "perhaps not coordinates" in note
    # two MNI templates: MNI, no warning
    assert coordinate_space({"a": "MNI152NLin6Asym", "b": "MNI152NLin2009cAsym"})[::2] == ("MNI", None)
    # bundles that do not record the space: nothing claimed
    assert coordinate_space({"a": None, "b": None})[0] is None
