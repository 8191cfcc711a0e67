"""Test accuracy against chance, and the line the Cortex 3-D view and the Electrode graph show beside a map."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from eegfmri_viewer.training.chance_level import binomial_tail, chance_sentence, chance_test


@pytest.mark.parametrize("k, n, p", [(0, 7, 1 / 3), (4, 7, 1 / 3), (7, 7, 1 / 3), (60, 96, 1 / 3), (95, 96, 0.25),
                                     (3, 10, 0.5), (500, 1200, 1 / 3)])
def test_binomial_tail_is_the_exact_upper_tail(k, n, p):
    assert binomial_tail(k, n, p) == pytest.approx(stats.binom.sf(k - 1, n, p), rel=1e-9, abs=1e-300)
    assert binomial_tail(n + 1, n, p) == 0.0


def test_a_near_chance_model_on_few_windows_is_not_shown_to_beat_chance():
    # the small demo's fMRI model after 15 epochs: 4 of 7 test windows right, 3 classes
    test = chance_test({"test_acc": 4 / 7, "test_balanced_acc": 0.56, "n_test": 7, "chance": 1 / 3})
    assert (test.n_correct, test.n_test) == (4, 7) and not test.above_chance and test.few_windows
    assert test.p_value == pytest.approx(stats.binom.sf(3, 7, 1 / 3))
    text = chance_sentence(test)
    assert text.startswith("test accuracy 0.57 (balanced 0.56) on 7 windows, chance 0.33: not shown to beat chance")
    assert "read the map with caution" in text
    # the default demo's: 95 of 96
    good = chance_test({"test_acc": 95 / 96, "test_balanced_acc": 0.99, "n_test": 96, "chance": 1 / 3})
    assert good.above_chance and not good.few_windows
    assert chance_sentence(good) == "test accuracy 0.99 (balanced 0.99) on 96 windows, chance 0.33 (binomial p < 0.001)"
    assert "(binomial p = 0.173)" in text
    # above chance, but on few windows: said
    few = chance_test({"test_acc": 1.0, "n_test": 9, "chance": 1 / 3})
    assert few.above_chance and "few test windows" in chance_sentence(few)


def test_the_compact_line_gives_the_verdict_first():
    near = chance_test({"test_acc": 0.29, "n_test": 69, "chance": 1 / 3, "n_test_per_class": [23, 23, 23]})
    assert chance_sentence(near, compact=True).startswith("not shown above chance (binomial p = 0.")
    assert chance_sentence(near, compact=True).endswith("accuracy 0.29, chance 0.33, 69 test windows")


def test_chance_is_the_largest_class_share_of_unbalanced_test_windows():
    # always answering the largest class: 35 of 50 right, which beats 1/3 by far and chance not at all
    majority = {"test_acc": 0.7, "test_balanced_acc": 1 / 3, "n_test": 50, "chance": 1 / 3}
    assert chance_test(majority).above_chance  # without the class counts only 1/3 is known
    test = chance_test({**majority, "n_test_per_class": [35, 10, 5]})
    assert test.chance == pytest.approx(0.7) and not test.above_chance
    assert test.p_value == pytest.approx(stats.binom.sf(34, 50, 0.7))
    # earlier metrics: the counts from windows.npz
    from eegfmri_viewer.training.chance_level import test_class_counts

    labels = np.array([0] * 40 + [1] * 12 + [2] * 8)
    split = np.array(["test"] * 35 + ["train"] * 5 + ["test"] * 10 + ["val"] * 2 + ["test"] * 5 + ["train"] * 3)
    counts = test_class_counts(labels, split, 3)
    assert counts == [35, 10, 5] and not chance_test(majority, counts).above_chance
    assert test_class_counts(labels, split[:-1], 3) is None


def test_p_values_near_the_threshold_agree_with_the_verdict():
    from eegfmri_viewer.training.chance_level import p_text

    assert p_text(0.0498) == "= 0.0498" and p_text(0.04996) == "= 0.04996" and p_text(0.0503) == "= 0.0503"
    assert p_text(0.0004) == "< 0.001" and p_text(0.173) == "= 0.173"


@pytest.mark.parametrize("entry", [{}, {"test_acc": 0.9, "chance": 1 / 3}, {"test_acc": 0.9, "n_test": 0, "chance": 0.5},
                                   {"test_acc": float("nan"), "n_test": 5, "chance": 0.5}])
def test_results_without_test_windows_have_no_chance_test(entry):
    assert chance_test(entry) is None


def _results(fmri=None, alpha=None):
    eeg = {"alpha": alpha} if alpha is not None else {}
    return SimpleNamespace(metrics={"phase1": {**({"fmri": fmri} if fmri else {}), "eeg": eeg}})


def test_model_quality_label_warns_only_when_chance_is_not_beaten(qapp):
    from eegfmri_viewer.views.model_quality import ModelQualityLabel

    label = ModelQualityLabel()
    label.show()
    label.show_for(_results(fmri={"test_acc": 4 / 7, "n_test": 7, "chance": 1 / 3}), "fmri")
    assert label.isVisible() and label.warning and label.text().startswith("fMRI model: test accuracy 0.57")
    label.show_for(_results(alpha={"test_acc": 0.95, "n_test": 60, "chance": 1 / 3}), "eeg", "alpha")
    assert label.isVisible() and not label.warning and label.text().startswith("EEG alpha model: test accuracy 0.95")
    # the block test's verdict, where it exists: many windows right, but on too few blocks
    blocky = {"test_acc": 0.95, "n_test": 60, "chance": 1 / 3, "confusion": [[20, 0], [3, 37]],
              "block_test": {"p_value": 0.25, "n_blocks": 4, "n_permutations": 2000}}
    results = _results(alpha=blocky)
    results.classes = ["rest", "task"]
    label.show_for(results, "eeg", "alpha")
    assert label.warning and "60 windows of 4 blocks" in label.text() and "block permutation p = 0.25" in label.text()
    assert "Test windows right per class: rest 20/20, task 37/40." in label.toolTip()
    label.show_for(_results(fmri={"test_acc": 0.9, "chance": 1 / 3}), "fmri")  # earlier results: no n_test
    assert not label.isVisible()
    label.show_for(None, "fmri")
    assert not label.isVisible()


@pytest.mark.gui
def test_the_cortex_and_electrode_views_say_how_well_their_model_classifies(qtbot, tmp_path):
    from bundle_factory import make_bundle

    from eegfmri_viewer.results import load_bundle
    from eegfmri_viewer.state import AppState, CortexOverlay
    from eegfmri_viewer.views.cortex_view import CortexView
    from eegfmri_viewer.views.electrode_graph_view import ElectrodeGraphView

    make_bundle(tmp_path / "b", phase2=True, eeg=True)
    bundle = load_bundle(tmp_path / "b", verify=False)
    bundle.metrics = copy.deepcopy(bundle.metrics)
    bundle.metrics["phase1"]["fmri"].update(test_acc=4 / 7, n_test=7)
    bundle.metrics["phase1"]["eeg"] = {"alpha": {"test_acc": 0.95, "test_balanced_acc": 0.95, "n_test": 60,
                                                 "chance": 1 / 3}}
    state = AppState()
    cortex = CortexView(state)
    graph = ElectrodeGraphView(state)
    for w in (cortex, graph):
        qtbot.addWidget(w)
        w.resize(700, 500)
        w.show()
    state.set_band("alpha")
    state.set_results(bundle)
    note = cortex.quality_note
    assert note.isVisible() and note.warning and "fMRI model" in note.text()
    cortex.set_source("eeg")
    assert note.isVisible() and not note.warning and "EEG alpha model" in note.text()
    assert cortex.scalar_bar.GetTitle() == "EEG alpha CAM at ROIs"  # not on the electrodes' scale
    graph_note = graph.findChild(type(note))
    # the Electrode graph's column is narrow: a short line, the whole sentence in the tooltip
    assert graph_note.isVisible() and graph_note.text() == "EEG alpha model: accuracy 0.95, chance 0.33, 60 test windows"
    assert "test accuracy 0.95 (balanced 0.95) on 60 windows" in graph_note.toolTip()
    state.set_band("beta")  # no metrics for this band's model: nothing claimed
    assert not graph_note.isVisible()
    # another view's map on the cortex is not the model's: no accuracy beside it
    cortex.set_source("fmri")
    state.set_overlay(CortexOverlay("Laplacian mode 2", np.zeros(len(bundle.get("saliency", "roi_coords"))),
                                    owner="Teaching"))
    assert not note.isVisible()
    state.set_overlay(None)
    assert note.isVisible()
    assert "GAT attention weights" in graph.note
    cortex.plotter.close()


def _exact_block_p(labels, pred, blocks):
    """Enumerates every arrangement of the block labels (one recording): the p-value the Monte Carlo estimates."""
    import itertools

    uniq = np.unique(blocks)
    block_label = np.array([labels[blocks == b][0] for b in uniq])
    right = np.array([[np.sum(pred[blocks == b] == c) for c in range(3)] for b in uniq])
    observed = right[np.arange(len(uniq)), block_label].sum()
    stats_ = [right[np.arange(len(uniq)), list(perm)].sum() for perm in itertools.permutations(block_label)]
    return np.mean(np.array(stats_) >= observed)


def test_block_test_does_not_count_the_windows_of_a_block_as_independent():
    from eegfmri_viewer.training.chance_level import block_permutation_test

    # 6 test blocks of 10 windows (2 per class) in one run; the model answers one class per block, right
    # for 4 blocks: 40 of 60 windows, which the binomial test calls far above chance
    blocks = np.repeat(np.arange(6), 10)
    labels = np.repeat([0, 0, 1, 1, 2, 2], 10)
    pred = np.repeat([0, 0, 1, 1, 0, 1], 10)
    binomial = chance_test({"test_acc": 40 / 60, "n_test": 60, "chance": 1 / 3, "n_test_per_class": [20, 20, 20]})
    assert binomial.p_value < 1e-6 and binomial.above_chance
    result = block_permutation_test(labels, pred, blocks, np.zeros(60))
    exact = _exact_block_p(labels, pred, blocks)
    assert result["n_blocks"] == 6 and result["unit"] == "blocks within recordings"
    # 90 distinct arrangements of [0, 0, 1, 1, 2, 2]: counted, not sampled
    assert result["exact"] and result["n_arrangements"] == 90 and result["n_permutations"] == 0
    assert result["p_value"] == pytest.approx(exact, abs=1e-12) and exact > 0.05
    # sampled instead (a stratum limit below 90): close to the exact value
    import eegfmri_viewer.training.chance_level as chance_level

    limit = chance_level.MAX_EXACT_ARRANGEMENTS
    try:
        chance_level.MAX_EXACT_ARRANGEMENTS = 10
        sampled = block_permutation_test(labels, pred, blocks, np.zeros(60), n_permutations=20000, seed=1)
    finally:
        chance_level.MAX_EXACT_ARRANGEMENTS = limit
    assert not sampled["exact"] and sampled["n_permutations"] == 20000
    assert sampled["p_value"] == pytest.approx(exact, abs=0.01)
    entry = {"test_acc": 40 / 60, "test_balanced_acc": 40 / 60, "n_test": 60, "chance": 1 / 3,
             "n_test_per_class": [20, 20, 20], "block_test": result}
    test = chance_test(entry)
    assert test.p_block == result["p_value"] and test.n_blocks == 6 and not test.above_chance
    text = chance_sentence(test)
    assert text.startswith("test accuracy 0.67 (balanced 0.67) on 60 windows of 6 blocks, chance 0.33: "
                           "not shown to beat chance (block permutation p = 0.")
    assert "binomial p < 0.001); read the map with caution" in text
    assert chance_sentence(test, compact=True).startswith(f"not shown above chance (block p = {result['p_value']:.3g})")
    assert block_permutation_test(labels, pred, blocks, np.zeros(60), seed=7) == result  # exact: no seed involved


def test_block_test_never_reports_less_than_the_blocks_allow():
    from eegfmri_viewer.training.chance_level import block_permutation_test

    # one test block per class in one run, all right: 6 arrangements, so p = 1/6 at best (exact)
    labels = np.repeat([0, 1, 2], 4)
    result = block_permutation_test(labels, labels.copy(), np.repeat([0, 1, 2], 4), np.zeros(12))
    assert result["exact"] and result["p_value"] == pytest.approx(1 / 6)
    # sampled p-values are held at that floor too
    import eegfmri_viewer.training.chance_level as chance_level

    limit = chance_level.MAX_EXACT_ARRANGEMENTS
    try:
        chance_level.MAX_EXACT_ARRANGEMENTS = 1
        for seed in range(20):
            sampled = block_permutation_test(labels, labels.copy(), np.repeat([0, 1, 2], 4), np.zeros(12),
                                             n_permutations=200, seed=seed)
            assert sampled["p_value"] >= 1 / 6
    finally:
        chance_level.MAX_EXACT_ARRANGEMENTS = limit


def test_block_test_passes_a_model_right_on_many_blocks_and_exchanges_labels_within_recordings_only():
    from eegfmri_viewer.training.chance_level import block_permutation_test

    rng = np.random.default_rng(0)
    # 4 recordings of 6 test blocks (2 per class), 3 windows each; the model is right on all but one window
    blocks = np.repeat(np.arange(24), 3)
    labels = np.repeat(np.concatenate([rng.permutation([0, 0, 1, 1, 2, 2]) for _ in range(4)]), 3)
    recordings = np.repeat(np.arange(4), 18)
    pred = labels.copy()
    pred[5] = (pred[5] + 1) % 3
    result = block_permutation_test(labels, pred, blocks, recordings)
    # exact over the 90 ** 4 arrangements (strata convolved): only the observed one gets 71 of 72 windows right
    assert result["exact"] and result["n_arrangements"] == 90 ** 4 and result["n_blocks"] == 24
    assert result["p_value"] == pytest.approx(1 / 90 ** 4, rel=1e-9)
    # a model that only tells the recordings apart, where each recording holds one class: within a
    # recording there is nothing to exchange, so nothing shows it decodes the classes
    labels = np.repeat([0, 1, 2, 0], 18)
    result = block_permutation_test(labels, labels.copy(), blocks, recordings)
    assert result["p_value"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="different classes"):
        block_permutation_test(np.array([0, 1]), np.array([0, 1]), np.array([3, 3]), np.zeros(2))


def test_confusion_and_recall_per_class():
    from eegfmri_viewer.training.chance_level import class_recall_text, confusion_matrix

    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    pred = np.array([0, 0, 1, 1, 2, 2, 2, 0])
    confusion = confusion_matrix(labels, pred, 4)
    assert confusion == [[2, 1, 0, 0], [0, 1, 1, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
    # a class without test windows is left out, not shown as 0/0
    assert class_recall_text({"confusion": confusion}, ["rest", "visual", "motor", "other"]) == \
        "rest 2/3, visual 1/2, motor 2/3"
    assert class_recall_text({"confusion": confusion}, ["rest", "visual"]) == ""  # does not fit: nothing claimed
    assert class_recall_text({}, ["rest"]) == ""
