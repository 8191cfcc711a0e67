"""k-NN graphs, Laplacians and the Graph dataclass."""

import numpy as np
import pytest

from eegfmri_viewer.graphs import Graph, functional_knn_graph, knn_graph_from_distances, spatial_knn_graph
from eegfmri_viewer.graphs import graph as graph_module


def test_knn_on_a_line_is_hand_checkable():
    # nodes at 0, 1, 3, 7, 15 on a line; k = 1
    x = np.array([0.0, 1.0, 3.0, 7.0, 15.0])
    D = np.abs(x[:, None] - x[None, :])
    g = knn_graph_from_distances(D, k=1)
    # nearest: 0->1, 1->0, 3->1, 7->3, 15->7; union gives edges 0-1, 1-2, 2-3, 3-4
    expected = {(0, 1), (1, 2), (2, 3), (3, 4)}
    got = {tuple(sorted(e)) for e in g.edge_index.T.tolist()}
    assert got == expected
    assert g.edge_index.shape[1] == 2 * len(expected)  # both directions listed
    # sigma = median of kept edge lengths (1, 2, 4, 8) = 3
    assert g.W[0, 1] == pytest.approx(np.exp(-1 / 9))
    assert g.W[3, 4] == pytest.approx(np.exp(-64 / 9))


def test_knn_ties_go_to_lower_index():
    D = np.array([[0, 1, 1, 1], [1, 0, 2, 2], [1, 2, 0, 2], [1, 2, 2, 0]], dtype=float)
    g = knn_graph_from_distances(D, k=1)
    # node 0 has three neighbours at distance 1: picks node 1; nodes 1..3 pick node 0
    assert sorted(g.neighbours(0).tolist()) == [1, 2, 3]
    assert g.neighbours(1).tolist() == [0]


def test_functional_graph_symmetric_with_at_least_k_neighbours():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 200))
    X[1] = X[0] + 0.1 * rng.normal(size=200)  # a strongly correlated pair
    g = functional_knn_graph(X, k=8)
    assert np.array_equal(g.W, g.W.T)
    assert np.all(np.diag(g.W) == 0) and np.all(g.W >= 0)
    n_nb = (g.W > 0).sum(axis=1)
    assert n_nb.min() >= 8
    # every node's own 8 nearest (by correlation distance) are among its neighbours
    r = np.corrcoef(X)
    d = np.sqrt(2 * (1 - r))
    np.fill_diagonal(d, np.inf)
    for i in range(40):
        assert set(np.argsort(d[i])[:8]) <= set(g.neighbours(i).tolist())
    # union symmetrisation: the number of edges is exactly |A ∪ Aᵀ|
    A = np.zeros((40, 40), bool)
    for i in range(40):
        A[i, np.argsort(d[i])[:8]] = True
    assert (g.W > 0).sum() == (A | A.T).sum()
    assert 1 in g.neighbours(0)
    assert g.W[0, 1] == g.W[g.W > 0].max()  # most correlated = heaviest edge


def test_laplacian_and_scaled_laplacian():
    rng = np.random.default_rng(1)
    g = spatial_knn_graph(rng.normal(size=(30, 3)), k=5)
    L = g.laplacian()
    assert np.allclose(L, np.diag(g.W.sum(1)) - g.W)
    assert np.allclose(L.sum(axis=1), 0)
    ev = np.linalg.eigvalsh(L)
    assert g.lambda_max == pytest.approx(ev[-1])
    evs = np.linalg.eigvalsh(g.scaled_laplacian())
    assert evs.min() >= -1 - 1e-9 and evs.max() <= 1 + 1e-9
    assert evs.max() == pytest.approx(1.0)


def test_lambda_max_is_not_recomputed(monkeypatch):
    g = spatial_knn_graph(np.random.default_rng(2).normal(size=(20, 3)), k=4)

    def forbidden(*a, **k):
        raise AssertionError("eigen-decomposition after construction")

    monkeypatch.setattr(graph_module.np.linalg, "eigvalsh", forbidden)
    monkeypatch.setattr(graph_module.np.linalg, "eigh", forbidden)
    for _ in range(3):
        g.scaled_laplacian()


def test_k_clipped_for_small_graphs_and_bad_weights_rejected():
    g = spatial_knn_graph(np.eye(3), k=8)
    assert (g.W > 0).sum(axis=1).tolist() == [2, 2, 2]
    with pytest.raises(ValueError):
        Graph.from_weights(np.array([[0, 1], [2, 0]]))
    with pytest.raises(ValueError):
        Graph.from_weights(np.array([[1.0, 1], [1, 0]]))


def test_constant_series_still_gets_neighbours():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(10, 50))
    X[4] = 1.0
    g = functional_knn_graph(X, k=3)
    assert (g.W[4] > 0).sum() >= 3
    assert np.all(np.isfinite(g.W))
