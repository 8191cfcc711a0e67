"""Training: block splits, the epoch generator, determinism, saliency summaries."""

import numpy as np
import pytest
import torch

from eegfmri_viewer.models.cheb_gcnn import SpectralGCNN
from eegfmri_viewer.progress import Cancelled
from eegfmri_viewer.training.loop import (ClassifierTraining, TrainSettings, balanced_accuracy,
                                          class_weights, seeded)
from eegfmri_viewer.training.saliency import (class_mean_cam, connection_saliency, connection_summary, own_class_cam,
                                              salient_connections, salient_nodes, subject_mean_cam,
                                              top_nodes_union)
from eegfmri_viewer.training.splits import block_split, unique_blocks


def blocks_dataset(n_subjects=3, blocks_per_class=5, windows_per_block=4, n_classes=2):
    labels, blocks, subjects = [], [], []
    b = 0
    for s in range(n_subjects):
        for c in range(n_classes):
            for _ in range(blocks_per_class):
                labels += [c] * windows_per_block
                blocks += [b] * windows_per_block
                subjects += [f"{s:02d}"] * windows_per_block
                b += 1
    return np.array(labels), np.array(blocks), np.array(subjects)


def test_split_keeps_blocks_whole_and_stratifies():
    labels, blocks, subjects = blocks_dataset()
    split = block_split(labels, blocks, subjects, seed=3)
    for b in np.unique(blocks):
        assert len(set(split[blocks == b])) == 1, f"block {b} in two splits"
    for name in ("train", "val", "test"):
        for s in np.unique(subjects):
            for c in (0, 1):
                assert np.any((split == name) & (subjects == s) & (labels == c))
    assert np.array_equal(split, block_split(labels, blocks, subjects, seed=3))
    assert not np.array_equal(split, block_split(labels, blocks, subjects, seed=4))


def test_split_with_few_blocks_falls_back_to_class_strata():
    labels, blocks, subjects = blocks_dataset(n_subjects=4, blocks_per_class=2)
    split = block_split(labels, blocks, subjects, seed=0)
    for b in np.unique(blocks):
        assert len(set(split[blocks == b])) == 1
    for name in ("train", "val", "test"):
        for c in (0, 1):
            assert np.any((split == name) & (labels == c))


def test_split_rejects_mixed_block():
    with pytest.raises(ValueError, match="more than one class"):
        block_split(np.array([0, 1, 0]), np.array([0, 0, 1]))


def test_unique_blocks_across_recordings():
    ids = unique_blocks(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))
    assert len(np.unique(ids)) == 4


def test_metrics_helpers():
    assert balanced_accuracy([0, 0, 0, 1], [0, 0, 0, 0]) == 0.5
    np.testing.assert_allclose(class_weights([0, 0, 0, 1], 3), [2 / 3, 2.0, 0.0])


def toy_problem(seed=0, n_nodes=8, n_times=40):
    """Class 1 has a 10 Hz oscillation of larger amplitude on nodes 0 and 1."""
    rng = np.random.default_rng(seed)
    labels, blocks, subjects = blocks_dataset(n_subjects=2, blocks_per_class=5, windows_per_block=3)
    t = np.arange(n_times) / 100.0
    x = rng.normal(size=(len(labels), n_nodes, n_times)) * 0.5
    x[labels == 1, :2] += 2.0 * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 6, size=((labels == 1).sum(), 1, 1)))
    W = np.ones((n_nodes, n_nodes)) - np.eye(n_nodes)
    W[0, 1:] = W[1:, 0] = 0.2
    src, dst = np.nonzero(W)
    L = np.diag(W.sum(1)) - W
    return x.astype(np.float32), labels, blocks, subjects, np.stack([src, dst]), W[src, dst], np.linalg.eigvalsh(L).max()


def train_toy(seed, epochs=25, cancel=None):
    x, labels, blocks, subjects, ei, ew, lam = toy_problem()
    split = block_split(labels, blocks, subjects, seed=0)
    with seeded(seed):
        model = SpectralGCNN(x.shape[2], 2, 100.0, ei, ew, lam, kernel_s=0.1, hidden=(8,), K=2)
        run = ClassifierTraining(model, x, labels, split, 2, TrainSettings(epochs=epochs, batch_size=8, lr=1e-2,
                                                                           patience=100, seed=seed))
        history = run.run(cancel=cancel)
        with torch.no_grad():
            cam = model.cam(torch.as_tensor(x)).numpy()
    return run, history, cam, labels


def test_training_learns_and_yields_epochs():
    torch.set_num_threads(1)
    run, history, cam, labels = train_toy(0)
    assert [h["epoch"] for h in history] == list(range(1, 26))
    assert history[-1]["stop"] is True
    assert {"loss", "train_acc", "val_acc", "val_loss", "best_epoch"} <= set(history[0])
    assert history[-1]["loss"] < history[0]["loss"]
    assert run.evaluate("test")["balanced_acc"] >= 0.9
    mean = class_mean_cam(cam, labels)
    # the planted nodes carry the class-1 evidence
    assert set(np.argsort(-mean[1])[:2]) == {0, 1}


def test_same_seed_same_cam_and_different_seed_differs():
    torch.set_num_threads(1)
    _, h1, cam1, _ = train_toy(5, epochs=4)
    _, h2, cam2, _ = train_toy(5, epochs=4)
    _, _, cam3, _ = train_toy(6, epochs=4)
    np.testing.assert_array_equal(cam1, cam2)
    assert [h["loss"] for h in h1] == [h["loss"] for h in h2]
    assert not np.allclose(cam1, cam3)


def test_early_stopping_restores_best_epoch():
    x, labels, blocks, subjects, ei, ew, lam = toy_problem()
    split = block_split(labels, blocks, subjects, seed=0)
    with seeded(0):
        model = SpectralGCNN(x.shape[2], 2, 100.0, ei, ew, lam, hidden=(8,), K=2)
        run = ClassifierTraining(model, x, labels, split, 2, TrainSettings(epochs=200, batch_size=8, lr=5e-2,
                                                                           patience=3))
        history = run.run()
    assert len(history) < 200
    assert len(history) - run.best_epoch == 3
    best_val = history[run.best_epoch - 1]["val_loss"]
    assert best_val <= min(h["val_loss"] for h in history) + 1e-6
    assert run.evaluate("val")["loss"] == pytest.approx(best_val, rel=1e-5)


def test_cancel_stops_training():
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        train_toy(0, epochs=50, cancel=cancel)


def test_saliency_summaries():
    rng = np.random.default_rng(0)
    n_win, n_classes, n_nodes = 12, 2, 6
    cam = rng.normal(size=(n_win, n_classes, n_nodes))
    labels = np.array([0, 1] * 6)
    subjects = np.array(["a"] * 6 + ["b"] * 6)
    cam[labels == 0, 0, 4] += 10
    cam[labels == 1, 1, 2] += 10
    mean = class_mean_cam(cam, labels)
    np.testing.assert_allclose(mean[0], cam[labels == 0, 0].mean(0))
    per_subject = subject_mean_cam(cam, labels, subjects, ["a", "b"])
    assert per_subject.shape == (2, 2, 6)
    np.testing.assert_allclose(per_subject[1, 1], cam[(labels == 1) & (subjects == "b"), 1].mean(0))
    own = own_class_cam(cam, labels)
    np.testing.assert_allclose(own[1], cam[1, 1])
    sal = salient_nodes(per_subject, top_n=1)
    assert sal.sum() == 2 and sal[0, 4] and sal[1, 2]
    assert list(top_nodes_union(mean, 1)) == [2, 4]
    W = np.zeros((6, 6))
    W[2, 4] = W[4, 2] = 0.5
    W[0, 1] = W[1, 0] = 1.0
    edge_index = np.array(np.nonzero(W))
    sal2 = salient_nodes(per_subject, top_n=2)
    mask = salient_connections(sal2 | sal2[::-1], edge_index)
    assert mask.shape == (2, 4)
    score = connection_saliency(mean, W)
    assert score.shape == (2, 6, 6) and score[0, 2, 3] == 0
    np.testing.assert_allclose(score[0, 2, 4], 0.5 * (mean[0, 2] + mean[0, 4]) / 2)


def test_connection_summary_lists_each_edge_once_with_its_score_and_mask():
    W = np.zeros((5, 5))
    for i, j, w in [(0, 1, 1.0), (1, 3, 0.5), (2, 4, 0.25)]:
        W[i, j] = W[j, i] = w
    edge_index = np.array(np.nonzero(W))
    cam = np.array([[4.0, 2.0, 0.0, 1.0, -1.0], [0.0, 0.0, 3.0, 0.0, 3.0]])
    salient = np.array([[True, True, False, False, False], [False, False, True, False, True]])
    out = connection_summary(cam, salient, edge_index, W[tuple(edge_index)])
    assert out["connections"].tolist() == [[0, 1, 2], [1, 3, 4]]
    np.testing.assert_allclose(out["weight"], [1.0, 0.5, 0.25])
    np.testing.assert_allclose(out["saliency"], [[3.0, 0.75, -0.125], [0.0, 0.0, 0.75]])
    assert out["salient"].tolist() == [[True, False, False], [False, False, True]]


def test_a_nan_validation_loss_in_the_first_epoch_does_not_stick():
    """A model whose first validation pass is NaN (e.g. a transient overflow) recovers its best epoch."""
    torch.set_num_threads(1)

    class FirstValidationNaN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 2)
            self.eval_passes = 0

        def forward(self, x):
            out = self.lin(x.mean(dim=1))
            if not self.training:
                self.eval_passes += 1
                if self.eval_passes == 1:
                    return out * float("nan")
            return out

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 40)
    x = rng.normal(size=(80, 3, 4)).astype(np.float32)
    x[labels == 1] += 1.0
    split = np.array(["train", "train", "val", "test"] * 20)
    with seeded(0):
        run = ClassifierTraining(FirstValidationNaN(), x, labels, split, 2,
                                 TrainSettings(epochs=6, batch_size=16, lr=0.05, patience=100))
        history = run.run()
    assert np.isnan(history[0]["val_loss"]) and np.isfinite(history[1]["val_loss"])
    assert run.best_epoch > 1 and np.isfinite(run.best_monitor)
    assert run.best_monitor == min(h["val_loss"] for h in history[1:])
