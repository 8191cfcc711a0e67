"""run_phase2 on tiny synthetic Phase2Inputs: bundle arrays, normalisation, training, seeds, cancel."""

from __future__ import annotations

import numpy as np
import pytest

from eegfmri_viewer.pipeline.phase2_config import CouplingConfig, Phase2Config
from eegfmri_viewer.pipeline.phase2_stage import Phase2Inputs, run_phase2
from eegfmri_viewer.progress import Cancelled

BANDS = ["delta", "theta", "alpha", "beta", "gamma"]
N_WIN, N_NODES, F, N_CH = 30, 10, 6, 12


def make_inputs(seed=0):
    """Non-negative node features (like ReLU maps): a static part per node, plus two node groups
    whose feature pattern follows a latent activity that changes from window to window, plus noise."""
    rng = np.random.default_rng(seed)
    activity = rng.normal(size=(N_WIN, 2))

    def view(n):
        base = np.abs(rng.normal(size=(n, F)))
        groups = np.zeros((2, n))
        groups[0, : n // 3], groups[1, n // 3: 2 * n // 3] = 1.0, 1.0
        pattern = rng.normal(size=(2, F))
        drive = np.einsum("wg,gn,gf->wnf", activity, groups, pattern)
        return np.abs(base[None] + drive + 0.05 * rng.normal(size=(N_WIN, n, F))).astype(np.float32)

    split = np.array(["train"] * 18 + ["val"] * 6 + ["test"] * 6)
    return Phase2Inputs(
        node_index=np.arange(20, 20 + N_NODES),
        bands=list(BANDS),
        fmri_features=view(N_NODES),
        eeg_roi_features=np.stack([view(N_NODES) for _ in BANDS]),
        eeg_electrode_features=np.stack([view(N_CH) for _ in BANDS]),
        split=split,
        eeg_power_roi=[rng.random((len(BANDS), N_NODES, 60)) for _ in range(2)],
        bold_roi=[rng.normal(size=(N_NODES, 60)) for _ in range(2)],
        tr=2.0,
    )


CFG = Phase2Config(epochs=25, hidden_dim=4, out_dim=8, heads=2, cross_heads=2, k=3, patience=8, batch_size=8, lr=1e-2)
CCFG = CouplingConfig(n_permutations=20)


class _Config:  # the AnalysisConfig shape run_phase2 reads: .phase2 and .coupling
    phase2 = CFG
    coupling = CCFG


@pytest.fixture(scope="module")
def result():
    epochs = []
    res = run_phase2(make_inputs(), _Config(), on_epoch=epochs.append)
    res.epochs_seen = epochs
    return res


def test_bundle_arrays_have_the_documented_shapes(result):
    a = result.arrays
    views = ["beta", "delta", "gamma", "theta", "alpha", "fmri"]
    assert list(a["fusion"]["views"]) == views
    assert a["fusion"]["cross_view_attention"].shape == (N_NODES, 2, 6, 6)
    assert a["fusion"]["fusion_weights"].shape == (N_NODES, 6)
    assert a["fusion"]["fusion_weights_global"].shape == (6,)
    assert float(a["fusion"]["rho"]) == pytest.approx(0.8)
    for v in views:
        assert a["embeddings"][v].shape == (N_NODES, 8)
        ei, att = a["gat_attention"][f"{v}_edge_index"], a["gat_attention"][f"{v}_attention"]
        assert ei.shape[0] == 2 and att.shape == (2, 2, ei.shape[1])
        assert ei.max() < N_NODES
    assert a["embeddings"]["fused"].shape == (N_NODES, 8)
    for b in BANDS:
        ei = a["gat_attention"][f"eeg_{b}_edge_index"]
        assert ei.max() == N_CH - 1
        assert a["gat_attention"][f"eeg_{b}_attention"].shape == (2, 2, ei.shape[1])
    c = a["coupling"]
    assert list(c["bands"]) == BANDS
    assert c["coupling"].shape == c["peak_lag_s"].shape == c["p_value"].shape == (5, N_NODES)
    assert c["coupling_global"].shape == (5,)
    np.testing.assert_allclose(c["lags_s"], np.arange(-10, 11, 2.0))
    assert c["lagged_corr"].shape == (5, N_NODES, 11)
    assert int(c["n_permutations"]) == 20
    for stem in a.values():
        np.testing.assert_array_equal(stem["node_index"], np.arange(20, 20 + N_NODES))


def test_saved_attention_and_weights_are_normalised(result):
    a = result.arrays
    np.testing.assert_allclose(a["fusion"]["cross_view_attention"].sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(a["fusion"]["fusion_weights"].sum(-1), 1.0, atol=1e-5)
    assert a["fusion"]["fusion_weights_global"].sum() == pytest.approx(1.0, abs=1e-5)
    for key in a["gat_attention"]:
        if key.endswith("_attention"):
            ei = a["gat_attention"][key.replace("_attention", "_edge_index")]
            att = a["gat_attention"][key]
            n = ei.max() + 1
            for layer in range(att.shape[0]):
                for head in range(att.shape[1]):
                    sums = np.bincount(ei[1], weights=att[layer, head], minlength=n)
                    np.testing.assert_allclose(sums, 1.0, atol=1e-5)


def test_coupling_is_the_cosine_of_band_and_fmri_embeddings(result):
    e = result.arrays["embeddings"]
    c = result.arrays["coupling"]["coupling"]
    for bi, b in enumerate(BANDS):
        for i in range(N_NODES):
            x, y = e[b][i], e["fmri"][i]
            assert c[bi, i] == pytest.approx(x @ y / np.linalg.norm(x) / np.linalg.norm(y), abs=1e-5)
    np.testing.assert_allclose(result.arrays["coupling"]["coupling_global"], c.mean(1), atol=1e-6)


def test_training_reduces_the_loss_and_reports_every_epoch(result):
    loss = result.metrics["loss"]
    assert loss[-1] < 0.5 * loss[0]
    assert len(result.epochs_seen) == result.metrics["epochs"] == len(loss)
    assert result.epochs_seen[0]["stage"] == "phase2"
    assert result.epochs_seen[-1]["loss"] == pytest.approx(loss[-1])
    best = result.metrics["best_epoch"]
    assert result.metrics["best_val_loss"] == pytest.approx(min(result.metrics["val_loss"]))
    assert result.metrics["val_loss"][best - 1] == pytest.approx(result.metrics["best_val_loss"])
    assert result.metrics["test_loss"] is not None
    assert set(result.state_dict) and all(k.startswith(("gats.", "cross.", "fusion.")) for k in result.state_dict)


def test_same_seed_same_result_and_other_seed_differs():
    inp = make_inputs(1)
    cfg = Phase2Config(epochs=4, hidden_dim=4, out_dim=8, heads=2, cross_heads=2, k=3, batch_size=8)
    r1 = run_phase2(inp, cfg)
    r2 = run_phase2(inp, cfg)
    for stem in r1.arrays:
        for key in r1.arrays[stem]:
            np.testing.assert_array_equal(r1.arrays[stem][key], r2.arrays[stem][key])
    cfg.seed = 3
    r3 = run_phase2(inp, cfg)
    assert not np.allclose(r1.arrays["embeddings"]["fused"], r3.arrays["embeddings"]["fused"])


def test_cancel_stops_and_progress_reaches_one():
    inp = make_inputs(2)
    cfg = Phase2Config(epochs=3, hidden_dim=4, out_dim=8, heads=2, cross_heads=2, k=3)
    calls = []
    with pytest.raises(Cancelled):
        run_phase2(inp, cfg, cancel=lambda: len(calls) > 0, on_epoch=calls.append)
    assert len(calls) == 1
    fractions = []
    run_phase2(inp, cfg, progress=lambda f, m: fractions.append(f))
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)


def test_bad_inputs_and_settings_are_refused():
    inp = make_inputs(0)
    inp.eeg_roi_features = inp.eeg_roi_features[:, :, :-1]
    with pytest.raises(ValueError, match="eeg_roi_features"):
        run_phase2(inp, CFG)
    with pytest.raises(ValueError, match="rho"):
        run_phase2(make_inputs(0), Phase2Config(rho=1.5))
    with pytest.raises(ValueError, match="cross_heads"):
        run_phase2(make_inputs(0), Phase2Config(out_dim=10, cross_heads=4))


def test_centring_removes_the_common_mode_and_the_node_means_of_training_windows():
    from eegfmri_viewer.pipeline.phase2_stage import centre_features

    x = make_inputs(0).fmri_features
    train = np.arange(N_WIN) < 18
    nodes = centre_features(x, "nodes")
    np.testing.assert_allclose(nodes.mean(axis=1), 0.0, atol=1e-5)
    both = centre_features(x, "nodes_windows", train)
    np.testing.assert_allclose(both[train].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(both.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_array_equal(centre_features(x, "none"), x)
    assert not np.allclose(both[~train].mean(axis=0), 0.0, atol=1e-3)  # test windows do not set the mean
