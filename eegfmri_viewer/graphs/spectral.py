r"""Graph spectra and Chebyshev filters of phase 1, for the Teaching view (numpy only).

Same conventions as the phase-1 model (:mod:`eegfmri_viewer.models.cheb_gcnn`)
and :class:`~eegfmri_viewer.graphs.graph.Graph`:

* ``edge_index`` lists both directions of every undirected edge and
  :math:`W[i, j]` is the sum of the weights listed for ``i → j`` (as
  ``scaled_laplacian`` accumulates them). A list that is not symmetric is
  symmetrised as :math:`(W + W^T)/2` so that :math:`L` stays symmetric; for the
  graphs the pipeline builds this changes nothing.
* :math:`L = D - W` (eq. 1, combinatorial), :math:`L = U \Lambda U^T`.
* Chebyshev filter (eqs. 7–10): :math:`g(\lambda) = \sum_{k=0}^{K-1} \theta_k
  T_k(2\lambda/\lambda_{max} - 1)`, applied on the graph as
  :math:`y = \sum_{k=0}^{K-1} \theta_k T_k(\tilde L) x` with
  :math:`\tilde L = 2L/\lambda_{max} - I`. ``K`` counts the polynomial terms
  (K = 3 uses :math:`T_0, T_1, T_2`), so an order-K filter reaches exactly
  ``K - 1`` hops. A graph without edges (:math:`\lambda_{max} = 0`) gives
  :math:`\tilde L = -I`, as ``Graph.scaled_laplacian`` does.
* The phase-1 weights hold :math:`\Theta_k^T` as ``convs.{layer}.lins.{k}.weight``
  (shape (out, in)), so the filter from input channel ``i`` to output channel
  ``o`` has :math:`\theta_k = \texttt{lins[k].weight[o, i]}`.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Mapping, Tuple

import numpy as np
from numpy import ndarray

from eegfmri_viewer.blas_threads import one_blas_thread


def weight_matrix(edge_index, edge_weight, n_nodes: int) -> ndarray:
    """Dense symmetric weights from an edge list (self-loops dropped).

    Parameters
    ----------
    edge_index : array-like, shape (2, n_edges)
        Both directions of every edge.
    edge_weight : array-like, shape (n_edges,)
    n_nodes : int

    Returns
    -------
    W : ndarray, shape (n_nodes, n_nodes)
        ``(A + A^T) / 2`` where ``A[i, j]`` accumulates the weights of ``i → j``.
    """
    ei = np.asarray(edge_index, dtype=np.int64).reshape(2, -1)
    w = np.asarray(edge_weight, dtype=float).reshape(-1)
    if w.shape[0] != ei.shape[1]:
        raise ValueError(f"edge_weight has {w.shape[0]} entries for {ei.shape[1]} edges")
    if ei.size and (ei.min() < 0 or ei.max() >= n_nodes):
        raise ValueError(f"edge_index refers to nodes outside 0..{n_nodes - 1}")
    A = np.zeros((n_nodes, n_nodes))
    np.add.at(A, (ei[0], ei[1]), w)
    W = 0.5 * (A + A.T)
    # Self-loops cancel in D - W anyway; dropping them keeps W a plain adjacency.
    np.fill_diagonal(W, 0.0)
    return W


def graph_laplacian(edge_index, edge_weight, n_nodes: int, normalized: bool = False) -> ndarray:
    r"""Laplacian :math:`L = D - W` (eq. 1), or :math:`I - D^{-1/2} W D^{-1/2}`.

    Parameters
    ----------
    edge_index : array-like, shape (2, n_edges)
    edge_weight : array-like, shape (n_edges,)
    n_nodes : int
    normalized : bool
        Symmetric normalised Laplacian instead of the combinatorial one (the
        phase-1 model uses the combinatorial one). Isolated nodes get a zero
        row and column.

    Returns
    -------
    L : ndarray, shape (n_nodes, n_nodes)
    """
    W = weight_matrix(edge_index, edge_weight, n_nodes)
    d = W.sum(axis=1)
    L = np.diag(d) - W
    if normalized:
        inv_sqrt = np.zeros_like(d)
        inv_sqrt[d > 0] = 1.0 / np.sqrt(d[d > 0])
        L = inv_sqrt[:, None] * L * inv_sqrt[None, :]
    return L


def laplacian_modes(edge_index, edge_weight, n_nodes: int, normalized: bool = False) -> Tuple[ndarray, ndarray]:
    r"""Eigen-decomposition :math:`L = U \Lambda U^T` of the graph Laplacian.

    Parameters
    ----------
    edge_index : array-like, shape (2, n_edges)
        Both directions of every edge.
    edge_weight : array-like, shape (n_edges,)
    n_nodes : int
    normalized : bool
        Use :math:`I - D^{-1/2} W D^{-1/2}` instead of :math:`D - W`.

    Returns
    -------
    eigenvalues : ndarray, shape (n_nodes,)
        Ascending, round-off below zero clipped to 0 (L is positive semi-definite).
    eigenvectors : ndarray, shape (n_nodes, n_nodes)
        Column ``k`` is mode ``k`` (unit norm). The sign is fixed so that the
        entry of largest magnitude is positive (the first such entry on ties),
        so the same graph always draws the same colours.
    """
    L = graph_laplacian(edge_index, edge_weight, n_nodes, normalized=normalized)
    if n_nodes == 0:
        return np.zeros(0), np.zeros((0, 0))
    with one_blas_thread():
        lam, U = np.linalg.eigh(L)
    lam = np.clip(lam, 0.0, None)
    peak = np.argmax(np.abs(U), axis=0)
    signs = np.sign(U[peak, np.arange(n_nodes)])
    signs[signs == 0] = 1.0
    return lam, U * signs[None, :]




def sign_changes(vector, edge_index) -> Tuple[int, int]:
    """Undirected edges whose two end nodes have opposite signs in ``vector``.

    Parameters
    ----------
    vector : array-like, shape (n_nodes,)
    edge_index : array-like, shape (2, n_edges)

    Returns
    -------
    n_changes : int
        Edges ``{i, j}`` with ``vector[i] * vector[j] < 0`` (each pair once).
    n_pairs : int
        Undirected edges without self-loops.
    """
    v = np.asarray(vector, dtype=float).reshape(-1)
    ei = np.asarray(edge_index, dtype=np.int64).reshape(2, -1)
    keep = ei[0] != ei[1]
    if not keep.any():
        return 0, 0
    pairs = np.unique(np.sort(ei[:, keep], axis=0), axis=1)
    return int((v[pairs[0]] * v[pairs[1]] < 0).sum()), int(pairs.shape[1])


def _scaled_argument(lambdas, lambda_max: float) -> ndarray:
    lambdas = np.asarray(lambdas, dtype=float)
    if lambda_max <= 0:
        return np.full_like(lambdas, -1.0)
    return 2.0 * lambdas / float(lambda_max) - 1.0


def chebyshev_response(theta, lambdas, lambda_max: float) -> ndarray:
    r"""Frequency response :math:`g(\lambda) = \sum_k \theta_k T_k(2\lambda/\lambda_{max} - 1)`.

    Parameters
    ----------
    theta : array-like, shape (..., K)
        Chebyshev coefficients of one or many filters (last axis: ``T_0 … T_{K-1}``).
    lambdas : array-like, shape (n_lambdas,)
        Graph frequencies (Laplacian eigenvalues, or a grid over [0, λmax]).
    lambda_max : float
        The λmax the filter was trained with.

    Returns
    -------
    g : ndarray, shape (..., n_lambdas)
    """
    theta = np.asarray(theta, dtype=float)
    x = _scaled_argument(np.asarray(lambdas, dtype=float).reshape(-1), lambda_max)
    K = theta.shape[-1]
    t_prev, t_cur = np.ones_like(x), x
    terms = [t_prev]
    for k in range(1, K):
        terms.append(t_cur)
        t_prev, t_cur = t_cur, 2.0 * x * t_cur - t_prev
    T = np.stack(terms[:K])  # (K, n_lambdas)
    return theta @ T


def chebyshev_impulse_response(edge_index, edge_weight, n_nodes: int, lambda_max: float, theta,
                               node: int) -> ndarray:
    r"""The filter :math:`\sum_k \theta_k T_k(\tilde L)` applied to a unit impulse at ``node``.

    Evaluated with the Chebyshev recursion :math:`T_0\delta = \delta`,
    :math:`T_1\delta = \tilde L\delta`, :math:`T_k\delta = 2\tilde L T_{k-1}\delta - T_{k-2}\delta`
    (no eigen-decomposition), as the phase-1 layer does. Entries more than
    ``K - 1`` hops from ``node`` are exactly zero.

    Parameters
    ----------
    edge_index : array-like, shape (2, n_edges)
    edge_weight : array-like, shape (n_edges,)
    n_nodes : int
    lambda_max : float
        λmax the filter was trained with.
    theta : array-like, shape (..., K)
        Chebyshev coefficients (one filter, or several along leading axes).
    node : int
        Where the impulse is.

    Returns
    -------
    y : ndarray, shape (..., n_nodes)
    """
    if not 0 <= int(node) < n_nodes:
        raise ValueError(f"node {node} is outside 0..{n_nodes - 1}")
    theta = np.asarray(theta, dtype=float)
    L = graph_laplacian(edge_index, edge_weight, n_nodes)
    L_hat = -np.eye(n_nodes) if lambda_max <= 0 else 2.0 * L / float(lambda_max) - np.eye(n_nodes)
    delta = np.zeros(n_nodes)
    delta[int(node)] = 1.0
    K = theta.shape[-1]
    terms = [delta]
    if K > 1:
        terms.append(L_hat @ delta)
    for _ in range(2, K):
        terms.append(2.0 * (L_hat @ terms[-1]) - terms[-2])
    return theta @ np.stack(terms)  # (..., K) @ (K, n_nodes)


def hop_distance(edge_index, n_nodes: int, node: int) -> ndarray:
    """Number of edges on the shortest path from ``node`` to every node (BFS).

    Edges are taken as undirected.

    Parameters
    ----------
    edge_index : array-like, shape (2, n_edges)
    n_nodes : int
    node : int

    Returns
    -------
    hops : ndarray, shape (n_nodes,), int
        0 at ``node``; -1 where ``node`` cannot be reached.
    """
    ei = np.asarray(edge_index, dtype=np.int64).reshape(2, -1)
    neighbours = [[] for _ in range(n_nodes)]
    for i, j in ei.T:
        if i != j:
            neighbours[i].append(j)
            neighbours[j].append(i)
    hops = np.full(n_nodes, -1, dtype=np.int64)
    hops[int(node)] = 0
    queue = deque([int(node)])
    while queue:
        i = queue.popleft()
        for j in neighbours[i]:
            if hops[j] < 0:
                hops[j] = hops[i] + 1
                queue.append(j)
    return hops


def _as_array(value: Any) -> ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=float)


def chebyshev_theta_from_state_dict(state_dict: Mapping[str, Any], layer: int = 0) -> ndarray:
    """Chebyshev coefficients of one graph layer of a phase-1 ``SpectralGCNN``.

    Parameters
    ----------
    state_dict : mapping of str to Tensor or ndarray
        ``SpectralGCNN.state_dict()`` (as saved in ``weights/<name>.pt``).
    layer : int
        Graph layer (``convs.{layer}``); 0 is the first, which filters the
        temporal features.

    Returns
    -------
    theta : ndarray, shape (out_channels, in_channels, K)
        ``theta[o, i]`` are the coefficients of the filter from input channel
        ``i`` to output channel ``o`` (``convs.{layer}.lins.{k}.weight[o, i]``).

    Raises
    ------
    KeyError
        When the state_dict has no ``convs.{layer}.lins.0.weight``.
    """
    prefix = f"convs.{int(layer)}.lins."
    mats = []
    while f"{prefix}{len(mats)}.weight" in state_dict:
        mats.append(_as_array(state_dict[f"{prefix}{len(mats)}.weight"]))
    if not mats:
        raise KeyError(f"the weights have no Chebyshev layer {layer} ({prefix}0.weight): "
                       "they are not those of a phase-1 SpectralGCNN")
    return np.stack(mats, axis=-1)
