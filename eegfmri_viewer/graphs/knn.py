"""k-nearest-neighbour graphs over ROIs or electrodes (DESIGN.md step 3).

Both builders share one rule:

* every node keeps its ``k`` nearest other nodes (ties broken by the lower
  node index, so the result is deterministic);
* the graph is symmetrised by **union**: i and j are joined when j is among
  the k nearest of i *or* i is among the k nearest of j. Every node therefore
  has at least ``k`` neighbours, and some have more;
* weights follow the Gaussian kernel ``w_ij = exp(-d_ij² / σ²)`` (the paper's
  "distance function"), with the bandwidth ``σ`` = the median distance over
  the kept edges, so that a typical edge weighs ``exp(-1) ≈ 0.37`` whatever
  the scale of the distances.

For functional graphs the distance is the correlation distance
``d = sqrt(2 (1 - r))`` (the Euclidean distance between the z-scored series,
up to a constant), so strongly correlated nodes are near.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from numpy import ndarray

from .graph import Graph


def knn_select(D: ndarray, k: int) -> ndarray:
    """Boolean k-NN adjacency (not yet symmetric) from a distance matrix.

    Parameters
    ----------
    D : ndarray, shape (n_nodes, n_nodes)
        Pairwise distances; the diagonal is ignored.
    k : int
        Neighbours per node, ``1 <= k <= n_nodes - 1``.

    Returns
    -------
    chosen : ndarray of bool, shape (n_nodes, n_nodes)
        ``chosen[i, j]`` when j is one of the k nearest nodes of i.
    """
    n = D.shape[0]
    D = np.array(D, dtype=float)
    np.fill_diagonal(D, np.inf)
    # stable sort: equal distances go to the lower index
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    chosen = np.zeros((n, n), dtype=bool)
    chosen[np.repeat(np.arange(n), k), order.ravel()] = True
    return chosen


def knn_graph_from_distances(D, k: int = 8, sigma: Optional[float] = None) -> Graph:
    """Symmetric (union) k-NN graph with Gaussian-kernel weights.

    Parameters
    ----------
    D : array-like, shape (n_nodes, n_nodes)
        Symmetric pairwise distances (>= 0).
    k : int
        Neighbours kept per node (default 8). Clipped to ``n_nodes - 1`` so
        that small node sets (e.g. a few salient ROIs) still give a graph.
    sigma : float | None
        Kernel bandwidth; default the median distance over the kept edges.
        When that median is 0 (identical nodes) every kept edge weighs 1.

    Returns
    -------
    graph : Graph
    """
    D = np.asarray(D, dtype=float)
    n = D.shape[0]
    if D.ndim != 2 or D.shape[1] != n:
        raise ValueError(f"distance matrix must be square, got shape {D.shape}")
    if n < 2:
        raise ValueError(f"a graph needs at least 2 nodes, got {n}")
    if not np.all(np.isfinite(D)):
        raise ValueError("distance matrix has non-finite entries")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    k = min(int(k), n - 1)
    chosen = knn_select(D, k)
    adj = chosen | chosen.T
    np.fill_diagonal(adj, False)
    d = 0.5 * (D + D.T)
    if sigma is None:
        iu = np.triu(adj, 1)
        sigma = float(np.median(d[iu]))
    if sigma > 0:
        W = np.where(adj, np.exp(-(d**2) / sigma**2), 0.0)
    else:
        W = adj.astype(float)
    # exp() underflow must not drop a chosen edge: keep a tiny positive weight
    W = np.where(adj, np.maximum(W, np.finfo(float).tiny), 0.0)
    return Graph.from_weights(W)


def correlation_distance(features) -> ndarray:
    """``sqrt(2 (1 - r))`` between node time series.

    Parameters
    ----------
    features : array-like, shape (n_nodes, n_obs)

    Returns
    -------
    D : ndarray, shape (n_nodes, n_nodes)
        In [0, 2]. A constant series has no correlation: its r is taken as 0
        (distance sqrt(2)) with every other node.
    """
    X = np.asarray(features, dtype=float)
    X = X - X.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(X, axis=1)
    ok = norm > 1e-12 * max(1.0, float(norm.max()) if norm.size else 1.0)
    Z = np.zeros_like(X)
    Z[ok] = X[ok] / norm[ok, None]
    r = np.clip(Z @ Z.T, -1.0, 1.0)
    np.fill_diagonal(r, 1.0)
    return np.sqrt(np.maximum(2.0 * (1.0 - r), 0.0))


def functional_knn_graph(features, k: int = 8, sigma: Optional[float] = None) -> Graph:
    """k-NN graph on functional connectivity (correlation) between nodes.

    Parameters
    ----------
    features : array-like, shape (n_nodes, n_obs)
        One series per node, e.g. the ROI BOLD (or electrode band signal) of
        the *training* windows concatenated in time, so that the graph does not
        see the test data.
    k : int
        Nearest neighbours per node (default 8, as the paper).
    sigma : float | None
        Gaussian bandwidth; default the median correlation distance of the kept
        edges (see the module docstring).

    Returns
    -------
    graph : Graph
        Union-symmetrised, weights ``exp(-d² / σ²)`` with ``d = sqrt(2 (1 - r))``.
    """
    X = np.asarray(features, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"features must be (n_nodes, n_obs), got shape {X.shape}")
    if X.shape[1] < 2:
        raise ValueError(f"need at least 2 observations per node to correlate, got {X.shape[1]}")
    if not np.all(np.isfinite(X)):
        raise ValueError("features have non-finite values")
    return knn_graph_from_distances(correlation_distance(X), k=k, sigma=sigma)


def spatial_knn_graph(coords, k: int = 8, sigma: Optional[float] = None) -> Graph:
    """k-NN graph on the Euclidean distance between node positions.

    Parameters
    ----------
    coords : array-like, shape (n_nodes, 3)
        ROI centres (MNI mm) or electrode positions (any one unit).
    k : int
        Nearest neighbours per node (default 8).
    sigma : float | None
        Gaussian bandwidth in the unit of ``coords``; default the median length
        of the kept edges.

    Returns
    -------
    graph : Graph
    """
    C = np.asarray(coords, dtype=float)
    if C.ndim != 2:
        raise ValueError(f"coords must be (n_nodes, n_dims), got shape {C.shape}")
    if not np.all(np.isfinite(C)):
        raise ValueError("coords have non-finite values (unknown positions?)")
    D = np.linalg.norm(C[:, None, :] - C[None, :, :], axis=-1)
    return knn_graph_from_distances(D, k=k, sigma=sigma)
