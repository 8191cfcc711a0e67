"""Phase-2 layers: GAT (eqs. 13-16), cross-view attention (17-20), fusion (21-22), loss (23-24)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eegfmri_viewer.models.cross_view import CrossViewAttention
from eegfmri_viewer.models.fusion import MultiViewFusion
from eegfmri_viewer.models.gat import ViewGAT, with_self_loops
from eegfmri_viewer.models.phase2 import DEFAULT_VIEWS, Phase2Model, view_order
from eegfmri_viewer.models.reconstruction_loss import cosine_similarity_matrix, reconstruction_loss
from eegfmri_viewer.pipeline.phase2_stage import knn_edges_from_similarity

N_NODES, F, D = 9, 5, 8


def _random_graph(n, k, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 7))
    return torch.as_tensor(knn_edges_from_similarity(np.corrcoef(x), k))


def _model_inputs(seed=0, n=N_NODES):
    rng = np.random.default_rng(seed)
    feats = [torch.as_tensor(rng.normal(size=(n, F)), dtype=torch.float32) for _ in DEFAULT_VIEWS]
    edges = [_random_graph(n, 3, seed + i) for i in range(len(DEFAULT_VIEWS))]
    return feats, edges


def _model(seed=0, rho=0.8):
    torch.manual_seed(seed)
    return Phase2Model([F] * 6, DEFAULT_VIEWS, hidden_dim=4, out_dim=D, heads=2, cross_heads=2, rho=rho)


def test_view_order_is_the_papers():
    assert view_order(["delta", "theta", "alpha", "beta", "gamma"]) == list(DEFAULT_VIEWS)
    assert view_order(["alpha", "mu"]) == ["alpha", "mu", "fmri"]


def test_gat_attention_sums_to_one_over_incoming_edges_with_self_loops():
    torch.manual_seed(0)
    gat = ViewGAT(F, hidden_dim=4, out_dim=D, heads=3, n_layers=2)
    x = torch.randn(N_NODES, F)
    out, ei, attention = gat(x, _random_graph(N_NODES, 3, 1))
    assert out.shape == (N_NODES, D)
    assert len(attention) == 2
    loops = ei[0] == ei[1]
    assert int(loops.sum()) == N_NODES  # exactly one self loop per node
    for alpha in attention:
        assert alpha.shape == (ei.shape[1], 3)
        sums = torch.zeros(N_NODES, 3).index_add_(0, ei[1], alpha)
        np.testing.assert_allclose(sums.detach().numpy(), 1.0, atol=1e-5)
        assert (alpha > 0).all()


def test_gat_keeps_a_given_edge_order_without_adding_loops():
    ei = with_self_loops(_random_graph(N_NODES, 2, 3), N_NODES)
    gat = ViewGAT(F, 4, D, 2)
    _, ei_out, _ = gat(torch.randn(N_NODES, F), ei, add_self_loops=False)
    assert torch.equal(ei_out, ei)


def test_cross_view_attention_is_over_views_and_sums_to_one():
    model = _model()
    out = model(*_model_inputs())
    att = out.cross_attention
    assert att.shape == (N_NODES, 2, 6, 6)  # (n_nodes, heads, M, M): over views, not nodes
    np.testing.assert_allclose(att.sum(-1).detach().numpy(), 1.0, atol=1e-6)
    assert out.embeddings.shape == out.tilde.shape == out.final.shape == (N_NODES, 6, D)


def test_rho_zero_makes_cross_view_the_identity():
    torch.manual_seed(0)
    block = CrossViewAttention(D, heads=2, rho=0.0)
    e = torch.randn(N_NODES, 6, D)
    tilde, hat, _ = block(e)
    assert torch.equal(tilde, e)
    assert not torch.allclose(hat, e)  # the attended part exists, it is just not mixed in
    out = _model(rho=0.0)(*_model_inputs())
    torch.testing.assert_close(out.tilde, out.embeddings)


def test_cross_view_mixes_views_of_one_node_only():
    """Changing node 0's views changes node 0's output and no other node's (no attention over regions)."""
    torch.manual_seed(0)
    block = CrossViewAttention(D, heads=2, rho=0.8)
    e = torch.randn(N_NODES, 6, D)
    e2 = e.clone()
    e2[0] += torch.randn(6, D)
    t1, _, a1 = block(e)
    t2, _, a2 = block(e2)
    assert not torch.allclose(t1[0], t2[0])
    torch.testing.assert_close(t1[1:], t2[1:])
    torch.testing.assert_close(a1[1:], a2[1:])


def test_node_permutation_is_equivariant():
    model = _model()
    feats, edges = _model_inputs()
    perm = torch.as_tensor(np.random.default_rng(5).permutation(N_NODES))
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(N_NODES)
    # node i of the permuted graph is node perm[i] of the original
    feats_p = [f[perm] for f in feats]
    edges_p = [inverse[e] for e in edges]
    out = model(feats, edges)
    out_p = model(feats_p, edges_p)
    for name in ("embeddings", "tilde", "final", "fused", "omega", "cross_attention"):
        torch.testing.assert_close(getattr(out_p, name), getattr(out, name)[perm], atol=1e-5, rtol=1e-5)


def test_fusion_weights_are_a_softmax_over_views():
    torch.manual_seed(0)
    fusion = MultiViewFusion(D)
    e, tilde = torch.randn(N_NODES, 6, D), torch.randn(N_NODES, 6, D)
    final, fused, omega = fusion(e, tilde)
    assert omega.shape == (N_NODES, 6)
    np.testing.assert_allclose(omega.sum(-1).detach().numpy(), 1.0, atol=1e-6)
    np.testing.assert_allclose(omega.mean(0).sum().item(), 1.0, atol=1e-6)  # global weights
    expected_fused = (omega[..., None] * e).sum(1)
    torch.testing.assert_close(fused, expected_fused)
    torch.testing.assert_close(final, (expected_fused[:, None] + tilde) / 2)


def test_cosine_similarity_matches_numpy():
    x = np.random.default_rng(0).normal(size=(6, 4))
    x[2] = 0.0
    c = cosine_similarity_matrix(torch.as_tensor(x)).numpy()
    for i in range(6):
        for j in range(6):
            den = np.linalg.norm(x[i]) * np.linalg.norm(x[j])
            assert c[i, j] == pytest.approx(x[i] @ x[j] / den if den else 0.0, abs=1e-9)


def test_loss_equals_direct_evaluation_of_eq_23():
    rng = np.random.default_rng(1)
    b, m, n, d = 2, 3, 4, 2
    c = rng.uniform(-1, 1, size=(b, m, n, n))
    e = rng.normal(size=(b, m, n, d))
    expected = 0.0
    for w in range(b):
        for v in range(m):
            for i in range(n):
                for j in range(n):
                    expected += (c[w, v, i, j] - e[w, v, i] @ e[w, v, j]) ** 2
    expected /= b
    got = reconstruction_loss(torch.as_tensor(c), torch.as_tensor(e)).item()
    assert got == pytest.approx(expected, rel=1e-12)


def test_knn_edges_are_symmetric_with_at_least_k_neighbours():
    rng = np.random.default_rng(0)
    s = np.corrcoef(rng.normal(size=(10, 20)))
    ei = knn_edges_from_similarity(s, 3)
    pairs = set(map(tuple, ei.T))
    assert all((j, i) in pairs for i, j in pairs)
    assert all(i != j for i, j in pairs)
    assert np.bincount(ei[1], minlength=10).min() >= 3
    top = np.argsort(-(s - 2 * np.eye(10)), axis=1)[:, :3]
    for i in range(10):
        for j in top[i]:
            assert (j, i) in pairs
