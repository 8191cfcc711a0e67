"""Laplacian eigenmodes and Chebyshev filter responses (graphs/spectral.py).

The Chebyshev recursion on the graph must equal the spectral definition
U g(Λ) Uᵀ (paper eqs. 5–10), K terms must reach exactly K − 1 hops, and the
coefficients read from a real phase-1 state_dict must be the ones the model
applies.
"""

from __future__ import annotations

import numpy as np
import pytest

from eegfmri_viewer.graphs import Graph
from eegfmri_viewer.graphs.spectral import (
    chebyshev_impulse_response,
    chebyshev_response,
    chebyshev_theta_from_state_dict,
    graph_laplacian,
    hop_distance,
    laplacian_modes,
    sign_changes,
)


def random_graph(n=14, p=0.35, seed=0):
    """Connected random weighted graph, edges in both directions (as Graph stores them)."""
    rng = np.random.default_rng(seed)
    W = rng.uniform(0.1, 1.0, (n, n)) * (rng.uniform(size=(n, n)) < p)
    W = np.triu(W, 1)
    for i in range(n - 1):  # a path keeps it connected
        W[i, i + 1] = max(W[i, i + 1], 0.2)
    return Graph.from_weights(W + W.T)


def path_graph(n):
    W = np.zeros((n, n))
    for i in range(n - 1):
        W[i, i + 1] = W[i + 1, i] = 1.0
    return Graph.from_weights(W)


def test_modes_reconstruct_the_laplacian_and_mode_zero_is_constant():
    g = random_graph()
    lam, U = laplacian_modes(g.edge_index, g.edge_weight, g.n_nodes)
    L = g.laplacian()
    np.testing.assert_allclose(graph_laplacian(g.edge_index, g.edge_weight, g.n_nodes), L, atol=1e-12)
    np.testing.assert_allclose(U @ np.diag(lam) @ U.T, L, atol=1e-10)
    np.testing.assert_allclose(U.T @ U, np.eye(g.n_nodes), atol=1e-10)
    assert np.all(np.diff(lam) >= 0)
    assert lam[0] == pytest.approx(0.0, abs=1e-10) and lam[1] > 1e-6  # connected: one zero eigenvalue
    np.testing.assert_allclose(U[:, 0], np.full(g.n_nodes, 1 / np.sqrt(g.n_nodes)), atol=1e-10)
    assert lam[-1] == pytest.approx(g.lambda_max)
    # deterministic sign: the largest-magnitude entry of every mode is positive
    peak = np.argmax(np.abs(U), axis=0)
    assert np.all(U[peak, np.arange(g.n_nodes)] > 0)


def test_normalized_laplacian_has_spectrum_in_0_2():
    g = random_graph(seed=3)
    lam, U = laplacian_modes(g.edge_index, g.edge_weight, g.n_nodes, normalized=True)
    d = g.degree
    L_sym = np.eye(g.n_nodes) - g.W / np.sqrt(np.outer(d, d))
    np.testing.assert_allclose(U @ np.diag(lam) @ U.T, L_sym, atol=1e-10)
    assert lam[0] == pytest.approx(0, abs=1e-10) and lam[-1] <= 2 + 1e-10


def test_one_directional_edge_list_is_symmetrised():
    g = random_graph(seed=4)
    upper = g.edge_index[0] < g.edge_index[1]
    lam, _ = laplacian_modes(g.edge_index[:, upper], 2 * g.edge_weight[upper], g.n_nodes)
    np.testing.assert_allclose(lam, np.linalg.eigvalsh(g.laplacian()).clip(0), atol=1e-10)


def test_higher_modes_oscillate_more_on_a_path():
    g = path_graph(10)
    lam, U = laplacian_modes(g.edge_index, g.edge_weight, g.n_nodes)
    # on a path, mode k changes sign exactly k times along the edges
    assert [sign_changes(U[:, k], g.edge_index)[0] for k in range(10)] == list(range(10))
    assert sign_changes(U[:, 3], g.edge_index)[1] == 9


@pytest.mark.parametrize("K", [1, 2, 3, 4])
def test_chebyshev_recursion_equals_spectral_filter(K):
    g = random_graph(seed=K)
    theta = np.random.default_rng(K).normal(size=K)
    lam, U = laplacian_modes(g.edge_index, g.edge_weight, g.n_nodes)
    gl = chebyshev_response(theta, lam, g.lambda_max)
    node = 5
    delta = np.eye(g.n_nodes)[node]
    spectral = U @ np.diag(gl) @ U.T @ delta
    recursion = chebyshev_impulse_response(g.edge_index, g.edge_weight, g.n_nodes, g.lambda_max, theta, node)
    np.testing.assert_allclose(recursion, spectral, atol=1e-6)
    # T_k(x) = cos(k arccos x) on [-1, 1]
    grid = np.linspace(0, g.lambda_max, 7)
    x = 2 * grid / g.lambda_max - 1
    expected = sum(t * np.cos(k * np.arccos(x)) for k, t in enumerate(theta))
    np.testing.assert_allclose(chebyshev_response(theta, grid, g.lambda_max), expected, atol=1e-12)


def test_chebyshev_response_is_vectorised_over_leading_axes():
    theta = np.random.default_rng(0).normal(size=(4, 3, 5))
    lam = np.linspace(0, 6, 11)
    out = chebyshev_response(theta, lam, 6.0)
    assert out.shape == (4, 3, 11)
    np.testing.assert_allclose(out[2, 1], chebyshev_response(theta[2, 1], lam, 6.0))
    # the impulse response is vectorised the same way
    g = random_graph()
    many = chebyshev_impulse_response(g.edge_index, g.edge_weight, g.n_nodes, g.lambda_max, theta, 0)
    one = chebyshev_impulse_response(g.edge_index, g.edge_weight, g.n_nodes, g.lambda_max, theta[3, 2], 0)
    assert many.shape == (4, 3, g.n_nodes)
    np.testing.assert_allclose(many[3, 2], one)


@pytest.mark.parametrize("K", [1, 2, 3, 5])
def test_k_terms_reach_exactly_k_minus_1_hops(K):
    g = path_graph(12)
    node = 2
    hops = hop_distance(g.edge_index, g.n_nodes, node)
    assert hops.tolist() == [2, 1, 0] + list(range(1, 10))
    theta = np.ones(K)
    y = chebyshev_impulse_response(g.edge_index, g.edge_weight, g.n_nodes, g.lambda_max, theta, node)
    assert np.all(y[hops > K - 1] == 0.0)  # exactly zero, not just small
    assert np.all(y[hops == K - 1] != 0.0)


def test_hop_distance_marks_unreachable_nodes():
    ei = np.array([[0, 1, 1, 2, 3, 4], [1, 0, 2, 1, 4, 3]])
    assert hop_distance(ei, 6, 0).tolist() == [0, 1, 2, -1, -1, -1]
    assert hop_distance(ei, 6, 5).tolist() == [-1, -1, -1, -1, -1, 0]


def test_theta_from_a_real_phase1_state_dict_is_what_the_layer_applies():
    torch = pytest.importorskip("torch")
    from eegfmri_viewer.models.cheb_gcnn import ChebGraphConv, SpectralGCNN

    g = random_graph(n=10, seed=2)
    torch.manual_seed(0)
    model = SpectralGCNN(50, 3, sfreq=100.0, edge_index=g.edge_index, edge_weight=g.edge_weight,
                         lambda_max=g.lambda_max, kernel_s=0.1, hidden=(6, 4), K=3)
    sd = model.state_dict()
    theta = chebyshev_theta_from_state_dict(sd)
    conv0 = model.convs[0]
    assert theta.shape == (6, conv0.lins[0].in_features, 3)
    np.testing.assert_allclose(theta[:, :, 1], sd["convs.0.lins.1.weight"].numpy())
    assert chebyshev_theta_from_state_dict(sd, layer=1).shape == (4, 6, 3)
    # arrays work as well as tensors
    np.testing.assert_allclose(chebyshev_theta_from_state_dict({k: v.numpy() for k, v in sd.items()}), theta)
    with pytest.raises(KeyError, match="layer 2"):
        chebyshev_theta_from_state_dict(sd, layer=2)

    # the layer's output for an impulse on input channel i, read at output channel o,
    # is the impulse response of theta[o, i] (bias removed)
    conv = ChebGraphConv(3, 2, K=3).double()
    n, node, i, o = g.n_nodes, 4, 1, 0
    L_hat = torch.tensor(g.scaled_laplacian())
    x = torch.zeros(1, n, 3, dtype=torch.float64)
    x[0, node, i] = 1.0
    with torch.no_grad():
        y = (conv(x, L_hat) - conv.bias)[0, :, o].numpy()
    th = chebyshev_theta_from_state_dict({f"convs.0.{k}": v for k, v in conv.state_dict().items()})
    expected = chebyshev_impulse_response(g.edge_index, g.edge_weight, n, g.lambda_max, th[o, i], node)
    np.testing.assert_allclose(y, expected, atol=1e-10)


def test_graph_without_edges_follows_graph_convention():
    g = Graph.from_weights(np.zeros((3, 3)))
    lam, U = laplacian_modes(g.edge_index, g.edge_weight, 3)
    assert np.all(lam == 0)
    # L~ = -I: T_k(-1) = (-1)^k
    y = chebyshev_impulse_response(g.edge_index, g.edge_weight, 3, 0.0, [1.0, 2.0, 3.0], 1)
    assert y.tolist() == [0.0, 1 - 2 + 3, 0.0]
    assert chebyshev_response([1.0, 2.0, 3.0], [0.0], 0.0).tolist() == [2.0]
