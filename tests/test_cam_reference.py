"""Referenced CAM: the average-state reference, its identity, and what it localises."""

import numpy as np
import pytest
import torch

from eegfmri_viewer.models.cheb_gcnn import SpectralGCNN
from eegfmri_viewer.pipeline.config import AnalysisConfig
from eegfmri_viewer.pipeline.phase1_stage import train_phase1
from eegfmri_viewer.training.cam_reference import reference_inputs
from eegfmri_viewer.training.saliency import class_mean_cam


def test_power_reference_sets_every_node_to_its_mean_training_power():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 4, 50)) * rng.uniform(0.5, 3.0, size=(10, 4, 1))
    x[3, 2] = 0.0                                   # a silent node stays silent
    train = np.array([0, 1, 2, 3, 4, 5])
    ref = reference_inputs(x, "power", train)
    assert ref.shape == x.shape
    mean_power = np.mean(x[train] ** 2, axis=2).mean(axis=0)
    power = np.mean(ref ** 2, axis=2)
    live = np.ones_like(power, dtype=bool)
    live[3, 2] = False
    np.testing.assert_allclose(power[live], np.broadcast_to(mean_power, power.shape)[live], rtol=1e-6)
    assert np.all(ref[3, 2] == 0)
    # the waveform is kept: each reference series is a positive multiple of the window's
    corr = np.corrcoef(ref[7, 1], x[7, 1])[0, 1]
    assert corr == pytest.approx(1.0)


def test_level_reference_is_the_mean_training_window():
    x = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    x = np.concatenate([x, x + 10.0, 100 + x])
    ref = reference_inputs(x, "level", np.array([0, 1, 2, 3]))
    assert ref.shape == (1, 3, 4)
    np.testing.assert_allclose(ref[0], x[:4].mean(axis=0))
    with pytest.raises(ValueError, match="reference kind"):
        reference_inputs(x, "bogus", np.array([0]))
    with pytest.raises(ValueError, match="training window"):
        reference_inputs(x, "level", np.array([], dtype=int))


def test_referenced_cam_sums_to_the_logit_change_from_the_reference():
    torch.manual_seed(0)
    n = 6
    src = np.arange(n)
    edge_index = np.concatenate([np.stack([src, (src + 1) % n]), np.stack([(src + 1) % n, src])], axis=1)
    model = SpectralGCNN(40, 3, 100.0, edge_index, np.ones(edge_index.shape[1]), 4.0, kernel_s=0.05,
                         n_nodes=n).double().eval()
    x = np.random.default_rng(1).normal(size=(5, n, 40))
    x_ref = reference_inputs(x, "power", np.arange(5))
    with torch.no_grad():
        xt, rt = torch.tensor(x), torch.tensor(x_ref)
        rcam = model.cam(xt) - model.cam(rt)
        dlogit = model(xt) - model(rt)
    np.testing.assert_allclose(rcam.mean(-1).numpy(), dlogit.numpy(), atol=1e-10)


def _ring_windows(n_per_class=40, n_nodes=8, n_times=64, seed=0):
    """Class 0 raises the oscillation power at node 2, class 1 lowers it there, class 2 at node 6."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_times) / 64.0
    xs, ys = [], []
    for c in range(3):
        for _ in range(n_per_class):
            amp = np.ones(n_nodes)
            if c == 0:
                amp[2] = 2.5
            elif c == 1:
                amp[2] = 0.3
            else:
                amp[6] = 2.5
            phase = rng.uniform(0, 2 * np.pi, size=(n_nodes, 1))
            x = amp[:, None] * np.sin(2 * np.pi * 10 * t[None] + phase) + 0.2 * rng.normal(size=(n_nodes, n_times))
            xs.append(x)
            ys.append(c)
    return np.asarray(xs, dtype=np.float32), np.asarray(ys)


def test_referenced_cam_finds_a_node_whose_power_drops():
    torch.set_num_threads(1)
    x, y = _ring_windows()
    n = len(y)
    rng = np.random.default_rng(3)
    split = np.where(rng.uniform(size=n) < 0.7, "train", np.where(rng.uniform(size=n) < 0.5, "val", "test"))
    cfg = AnalysisConfig().with_overrides(training={"epochs": 40, "patience": 0, "seed": 0, "lr": 0.01},
                                          graph={"kind": "spatial", "k": 2})
    angle = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    coords = np.stack([np.cos(angle), np.sin(angle), np.zeros(8)], axis=1)
    res = train_phase1(x, y, split, np.array(["01"] * n), 3, 64.0, 0.1, cfg, "eeg_test", coords=coords,
                       reference="power")
    assert res.metrics["test_balanced_acc"] > 0.9
    referenced = class_mean_cam(res.cam - res.cam_reference, y, 3)
    # class 1 is told by the *drop* of power at node 2: the referenced map puts it first
    assert int(np.argmax(referenced[1])) == 2
    assert int(np.argmax(referenced[0])) == 2
    assert int(np.argmax(referenced[2])) == 6
