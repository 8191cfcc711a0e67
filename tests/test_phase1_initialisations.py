"""Several initialisations per phase-1 model, the kept one chosen on the validation loss."""

import numpy as np
import pytest

from phase1_windows import two_class_windows


def _config(seed=0, **training):
    from eegfmri_viewer.pipeline.config import AnalysisConfig

    return AnalysisConfig().with_overrides(training={"epochs": 8, "lr": 0.01, "patience": 0, "seed": seed, **training},
                                           phase1={"hidden": [8]})


def test_the_initialisation_with_the_lowest_validation_loss_is_kept_and_is_a_plain_seeded_run():
    import torch

    from eegfmri_viewer.pipeline.phase1_stage import INIT_SEED_STEP, train_phase1

    torch.set_num_threads(1)
    x, labels, split, subjects = two_class_windows(1.0)
    seen = []
    res = train_phase1(x, labels, split, subjects, 2, 0.5, 6.0, _config(seed=3), "fmri", on_epoch=seen.append,
                       n_init=3)
    tried = res.metrics["initialisations"]
    assert [t["seed"] for t in tried] == [3, 3 + INIT_SEED_STEP, 3 + 2 * INIT_SEED_STEP]
    losses = [t["best_monitor"] for t in tried]
    assert len(set(losses)) == 3, "the initialisations must differ"
    best = int(np.argmin(losses))
    assert res.metrics["chosen_init"] == best + 1
    # every initialisation is its own live curve; the saved history is the kept one's
    assert {(e["stage"], e["init"]) for e in seen} == {("fmri", 1), ("fmri", 2), ("fmri", 3)}
    assert len(seen) == 3 * 8
    assert [h["init"] for h in res.metrics["history"]] == [best + 1] * 8
    # the kept model is exactly what one plain run with that initialisation's seed gives
    plain = train_phase1(x, labels, split, subjects, 2, 0.5, 6.0, _config(seed=tried[best]["seed"]), "fmri")
    assert "initialisations" not in plain.metrics
    for key, value in plain.state_dicts["fmri"].items():
        assert torch.equal(value, res.state_dicts["fmri"][key]), key
    np.testing.assert_array_equal(plain.cam, res.cam)
    assert plain.metrics["test_balanced_acc"] == res.metrics["test_balanced_acc"]


def test_individual_level_chooses_per_subject():
    import torch

    from eegfmri_viewer.pipeline.phase1_stage import train_phase1

    torch.set_num_threads(1)
    x, labels, split, subjects = two_class_windows(1.0)
    res = train_phase1(x, labels, split, subjects, 2, 0.5, 6.0, _config(), "fmri", level="individual", n_init=2)
    for subject in ("01", "02"):
        entry = res.metrics["subjects"][subject]
        losses = [t["best_monitor"] for t in entry["initialisations"]]
        assert entry["chosen_init"] == int(np.argmin(losses)) + 1
    assert {(h["subject"], h["init"]) for h in res.metrics["history"]} == {
        (s, res.metrics["subjects"][s]["chosen_init"]) for s in ("01", "02")}


@pytest.mark.parametrize("key", ["n_init_fmri", "n_init_eeg"])
def test_initialisation_counts_below_one_are_refused(key):
    from eegfmri_viewer.io.errors import InputError
    from eegfmri_viewer.pipeline.config import AnalysisConfig

    with pytest.raises(InputError, match=key):
        AnalysisConfig().with_overrides(training={key: 0})


def test_a_model_without_validation_windows_is_trained_from_one_initialisation():
    import torch

    from eegfmri_viewer.pipeline.phase1_stage import train_phase1

    torch.set_num_threads(1)
    x, labels, split, subjects = two_class_windows(1.0)
    split = split.copy()
    split[(subjects == "02") & (split == "val")] = "train"  # subject 02 keeps no validation blocks
    seen = []
    res = train_phase1(x, labels, split, subjects, 2, 0.5, 6.0, _config(), "fmri", level="individual", n_init=3,
                       on_epoch=seen.append)
    # nothing to choose on but the training loss, which favours the model that fits best, not the one
    # that generalises: subject 02's model is the plain seeded run
    assert "initialisations" not in res.metrics["subjects"]["02"]
    assert len(res.metrics["subjects"]["01"]["initialisations"]) == 3
    assert {e.get("init") for e in seen if e["subject"] == "02"} == {None}


def test_analysis_warns_when_models_get_no_validation_windows():
    from eegfmri_viewer.pipeline.analyze import validation_warnings
    from eegfmri_viewer.pipeline.config import TrainingConfig

    subjects = np.array(["01"] * 4 + ["02"] * 4)
    split = np.array(["train", "val", "test", "train", "train", "train", "test", "train"])
    training = TrainingConfig()
    assert validation_warnings(split, subjects, "group", training) == []
    (individual,) = validation_warnings(split, subjects, "individual", training)
    assert individual.startswith("subject(s) 02 have no validation windows") and "first initialisation" in individual
    no_val = np.where(split == "val", "train", split)
    (group,) = validation_warnings(no_val, subjects, "group", training)
    assert group.startswith("no validation windows") and "all 60 epochs" in group
    training.val_fraction = 0.0  # asked for: nothing to warn about
    assert validation_warnings(no_val, subjects, "group", training) == []
