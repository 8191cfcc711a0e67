"""The graph dataclass shared by phase 1 (Chebyshev) and the views.

A graph G = {V, E, W} is held as a dense symmetric weight matrix (the node sets
here are small: 264 Power ROIs or ~64 electrodes) plus the PyG-style edge list.
The largest Laplacian eigenvalue is computed once, when the graph is built, so
that the scaled Laplacian used by the Chebyshev recursion never recomputes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy import ndarray


@dataclass
class Graph:
    """Undirected weighted graph.

    Attributes
    ----------
    W : ndarray, shape (n_nodes, n_nodes)
        Symmetric weights, zero diagonal, all >= 0.
    edge_index : ndarray, shape (2, n_edges), int64
        Source (row 0) and target (row 1) of every non-zero weight; both
        directions of an undirected edge are listed.
    edge_weight : ndarray, shape (n_edges,)
        ``W[edge_index[0], edge_index[1]]``.
    lambda_max : float
        Largest eigenvalue of ``L = D - W``, computed once by
        :meth:`from_weights`.
    """

    W: ndarray
    edge_index: ndarray
    edge_weight: ndarray
    lambda_max: float

    @classmethod
    def from_weights(cls, W) -> "Graph":
        """Build a graph from a weight matrix, checking it and computing λmax.

        Parameters
        ----------
        W : array-like, shape (n_nodes, n_nodes)
            Symmetric, non-negative, zero diagonal.

        Returns
        -------
        graph : Graph

        Raises
        ------
        ValueError
            When ``W`` is not square, symmetric, non-negative or finite, or has a
            non-zero diagonal.
        """
        W = np.array(W, dtype=float)
        if W.ndim != 2 or W.shape[0] != W.shape[1]:
            raise ValueError(f"weight matrix must be square, got shape {W.shape}")
        if not np.all(np.isfinite(W)):
            raise ValueError("weight matrix has non-finite entries")
        if np.any(W < 0):
            raise ValueError("weight matrix has negative entries")
        if np.any(np.diag(W) != 0):
            raise ValueError("weight matrix has a non-zero diagonal (self-loops)")
        if not np.allclose(W, W.T, rtol=0, atol=1e-12):
            raise ValueError("weight matrix is not symmetric")
        W = 0.5 * (W + W.T)
        rows, cols = np.nonzero(W)
        edge_index = np.vstack([rows, cols]).astype(np.int64)
        edge_weight = W[rows, cols]
        L = np.diag(W.sum(axis=1)) - W
        lam = float(np.linalg.eigvalsh(L)[-1]) if len(W) else 0.0
        return cls(W=W, edge_index=edge_index, edge_weight=edge_weight, lambda_max=max(lam, 0.0))

    @property
    def n_nodes(self) -> int:
        return int(self.W.shape[0])

    @property
    def degree(self) -> ndarray:
        """Weighted degree, shape (n_nodes,)."""
        return self.W.sum(axis=1)

    def neighbours(self, i: int) -> ndarray:
        """Indices of the nodes joined to node ``i``, shape (n_neighbours,)."""
        return np.flatnonzero(self.W[i])

    def laplacian(self) -> ndarray:
        """Combinatorial Laplacian ``L = D - W`` (paper eq. 1), shape (n_nodes, n_nodes)."""
        return np.diag(self.W.sum(axis=1)) - self.W

    def scaled_laplacian(self) -> ndarray:
        """``L~ = 2 L / λmax - I``, eigenvalues in [-1, 1], shape (n_nodes, n_nodes).

        Uses the stored :attr:`lambda_max`. A graph without edges (λmax = 0)
        gives ``-I``, the limit of the formula for L = 0.
        """
        n = self.n_nodes
        if self.lambda_max <= 0:
            return -np.eye(n)
        return 2.0 * self.laplacian() / self.lambda_max - np.eye(n)
