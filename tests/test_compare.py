"""Session comparison: statistics, planted change recovered, mismatches named."""

import json

import numpy as np
import pytest

from bundle_factory import PLANTED, add_recording_coupling, make_bundle
from eegfmri_viewer.comparison.compare import (
    CompareError,
    compare_bundles,
    load_compare,
    save_compare,
    top_changes,
)
from eegfmri_viewer.comparison.stats import fdr_bh, permutation_test
from eegfmri_viewer.results import load_bundle, save_bundle


def test_permutation_test_detects_shift_and_not_noise():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, (30, 50))
    b = rng.normal(0, 1, (30, 50))
    b[:, 7] += 2.0
    diff, p = permutation_test(a, b, n_permutations=5000, seed=0)
    assert np.argmax(np.abs(diff)) == 7
    assert p[7] < 0.001
    q = fdr_bh(p)
    assert q[7] < 0.05
    assert (q < 0.05).sum() == 1
    # p-values are reproducible under a seed and never zero.
    _, p2 = permutation_test(a, b, n_permutations=5000, seed=0)
    np.testing.assert_array_equal(p, p2)
    assert p.min() >= 1 / 5001


def test_fdr_matches_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    p = np.random.default_rng(0).uniform(0, 1, (3, 40)) ** 3
    np.testing.assert_allclose(fdr_bh(p, axis=-1), np.stack([scipy_stats.false_discovery_control(r) for r in p]))


def _with_change(path, src, roi, cls, amount):
    bundle = load_bundle(src)
    win = bundle.arrays["windows"]
    cam = win["fmri_cam"].copy()
    cam[win["labels"] == cls, roi] += amount
    win["fmri_cam"] = cam
    bundle.dataset["label"] = "after"
    save_bundle(path, bundle)
    return load_bundle(path)


def test_planted_change_is_top_and_significant(tmp_path):
    make_bundle(tmp_path / "a", seed=0)
    roi, cls = PLANTED[1][0], 1
    after = _with_change(tmp_path / "b", tmp_path / "a", roi, cls, 2.0)
    before = load_bundle(tmp_path / "a")
    result = compare_bundles(before, after, n_permutations=20000, unit="windows")
    top = top_changes(result, cls, n=1)[0]
    assert top["roi"] == roi and top["diff"] > 0 and top["q"] < 0.05
    # Other classes did not change.
    assert not result.significant("fmri_cam")[[0, 2]].any()
    out = save_compare(result, tmp_path / "cmp")
    again = load_compare(out)
    np.testing.assert_array_equal(again.arrays["fmri_cam_q"], result.arrays["fmri_cam_q"])
    summary = json.loads((out / "compare.json").read_text())
    assert summary["top_changes"]["visual"][0]["roi"] == roi


def test_self_comparison_finds_nothing(tmp_path):
    make_bundle(tmp_path / "a")
    save_bundle(tmp_path / "copy", load_bundle(tmp_path / "a"))
    bundle = load_bundle(tmp_path / "a")
    result = compare_bundles(bundle, load_bundle(tmp_path / "copy"), n_permutations=2000, unit="windows")
    assert not result.significant("fmri_cam").any()
    assert not result.significant("eeg_roi_cam").any()
    np.testing.assert_allclose(np.nan_to_num(result.arrays["fusion_global_diff"]), 0)


def test_mismatched_bundles_say_what_differs(tmp_path):
    make_bundle(tmp_path / "a")
    other = load_bundle(tmp_path / "a")
    other.arrays["saliency"]["classes"] = np.array(["rest", "visual", "auditory"])
    save_bundle(tmp_path / "b", other)
    with pytest.raises(CompareError, match="classes"):
        compare_bundles(load_bundle(tmp_path / "a"), load_bundle(tmp_path / "b"))
    other.arrays["saliency"]["atlas"] = np.array("dosenbach2010")
    save_bundle(tmp_path / "c", other)
    with pytest.raises(CompareError, match="atlas"):
        compare_bundles(load_bundle(tmp_path / "a"), load_bundle(tmp_path / "c"))


def test_compare_command(tmp_path, capsys):
    from eegfmri_viewer.cli import main

    make_bundle(tmp_path / "a")
    make_bundle(tmp_path / "b", seed=1)
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "cmp"), "--permutations", "500"]) == 0
    assert (tmp_path / "cmp" / "compare.npz").is_file()
    # The output is never overwritten silently.
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "cmp")]) == 2
    assert "already exists" in capsys.readouterr().err
    # two sessions of one bundle: the EEG power-BOLD correlation change is summarised with its resolution
    _with_recording_coupling(tmp_path / "s", tmp_path / "a", 3, {(2, 139): -0.5})
    assert main(["compare", str(tmp_path / "s"), "--sessions", "1", "2", "--out", str(tmp_path / "cs"),
                 "--permutations", "500"]) == 0
    out = capsys.readouterr().out
    # 3 vs 3 recordings have C(6, 3) = 20 relabellings, fewer than the 500 permutations: all are evaluated
    assert "EEG power-BOLD correlation (3 vs 3 recordings; smallest possible p 0.1; exact: all 20 relabellings)" in out
    assert f"largest change alpha at {load_bundle(tmp_path / 's').get('saliency', 'roi_names')[139]} (" in out


def test_block_level_test_is_not_fooled_by_correlated_windows():
    from eegfmri_viewer.comparison.compare import SessionData, compare_sessions

    rng = np.random.default_rng(3)
    n_blocks, per_block, n_rois = 12, 8, 20

    def session(shift, first_block):
        blocks = np.repeat(np.arange(first_block, first_block + n_blocks), per_block)
        # every block has its own offset at every ROI: windows of one block move together
        offsets = rng.normal(0, 1.0, (n_blocks, n_rois))
        cam = offsets[blocks - first_block] + rng.normal(0, 0.1, (len(blocks), n_rois))
        cam[:, 5] += shift
        return SessionData(label="s", labels=np.zeros(len(blocks), dtype=int), fmri_cam=cam, blocks=blocks)

    a, b = session(0.0, 0), session(2.5, 100)
    by_window = compare_sessions(a, b, ["c"], n_permutations=4000, seed=0, unit="windows")
    by_block = compare_sessions(a, b, ["c"], n_permutations=4000, seed=0, unit="blocks")
    assert by_block.meta["unit"] == "blocks"
    # the window-level test takes the block offsets for changes; the block-level test does not
    assert by_window.significant("fmri_cam")[0].sum() > 1
    significant = np.flatnonzero(by_block.significant("fmri_cam")[0])
    assert significant.tolist() == [5]
    np.testing.assert_allclose(by_block.arrays["fmri_cam_diff"], by_window.arrays["fmri_cam_diff"], atol=1e-12)


def test_block_level_test_needs_blocks():
    from eegfmri_viewer.comparison.compare import SessionData, compare_sessions

    side = SessionData(label="s", labels=np.zeros(4, dtype=int), fmri_cam=np.zeros((4, 3)))
    with pytest.raises(CompareError, match="block"):
        compare_sessions(side, side, ["c"], n_permutations=10, unit="blocks")
    with pytest.raises(ValueError, match="unit"):
        compare_sessions(side, side, ["c"], n_permutations=10, unit="trials")


def _with_recording_coupling(path, source, n_per_session, change, seed=0):
    bundle = load_bundle(source)
    r = add_recording_coupling(bundle, n_per_session, change, seed)
    save_bundle(path, bundle)
    return load_bundle(path), r


def test_coupling_change_between_two_sessions_of_one_bundle_is_tested_over_recordings(tmp_path):
    make_bundle(tmp_path / "a")
    # 10 recordings a side: enough labellings for a single change to survive FDR over 264 ROIs
    bundle, r = _with_recording_coupling(tmp_path / "two", tmp_path / "a", 10, {(2, 139): -0.5})
    result = compare_bundles(bundle, session_a="1", session_b="2", n_permutations=20000)
    arr = result.arrays
    # each side is the Fisher-z mean of its own recordings
    np.testing.assert_allclose(arr["lagged_r_a"], np.tanh(np.arctanh(r[:10]).mean(0)), atol=1e-6)
    np.testing.assert_allclose(arr["lagged_r_b"], np.tanh(np.arctanh(r[10:]).mean(0)), atol=1e-6)
    np.testing.assert_allclose(arr["lagged_r_diff"], arr["lagged_r_b"] - arr["lagged_r_a"])
    assert int(arr["n_recordings_a"]) == int(arr["n_recordings_b"]) == 10
    # the planted drop of alpha-BOLD correlation at ROI 139 is found and survives FDR; nothing else does
    assert arr["lagged_r_diff"][2, 139] < -0.4 and arr["lagged_r_q"][2, 139] < 0.05
    others = np.ones(arr["lagged_r_q"].shape, bool)
    others[2, 139] = False
    assert (arr["lagged_r_q"][others] >= 0.05).all()
    assert result.meta["lagged_r"].startswith("EEG power-BOLD correlation")
    # saved and loaded with the rest of the comparison
    again = load_compare(save_compare(result, tmp_path / "cmp"))
    np.testing.assert_array_equal(again.arrays["lagged_r_q"], arr["lagged_r_q"])


def test_one_recording_per_session_shows_the_change_but_cannot_test_it(tmp_path):
    make_bundle(tmp_path / "a")
    bundle, _ = _with_recording_coupling(tmp_path / "one", tmp_path / "a", 1, {(2, 139): -0.5})
    arr = compare_bundles(bundle, session_a="1", session_b="2", n_permutations=1000).arrays
    assert arr["lagged_r_diff"][2, 139] < -0.4
    # two recordings have two labellings: no p-value below 0.5, whatever the change
    assert np.nanmin(arr["lagged_r_p"]) >= 0.5
