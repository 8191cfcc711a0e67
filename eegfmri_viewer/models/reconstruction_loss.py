"""Node correlations (paper eq. 11) and the reconstruction objective (eqs. 23-24)."""

from __future__ import annotations

import torch
from torch import Tensor


def cosine_similarity_matrix(features: Tensor, eps: float = 1e-8) -> Tensor:
    """Cosine similarity between the nodes' feature vectors (eq. 11).

    Parameters
    ----------
    features : Tensor, shape (..., n_nodes, F)
    eps : float
        Guards against zero vectors (a node whose features are all zero has
        similarity 0 with every node, itself included).

    Returns
    -------
    Tensor, shape (..., n_nodes, n_nodes)
        ``C[i, j] = f_i . f_j / (|f_i| |f_j|)``.
    """
    norm = features.norm(dim=-1, keepdim=True)
    unit = features / norm.clamp_min(eps)
    return unit @ unit.transpose(-1, -2)


def reconstruction_loss(targets: Tensor, embeddings: Tensor) -> Tensor:
    r"""Reconstruction objective of eqs. 23-24.

    .. math::
        \zeta = \sum_v \sum_{i,j} \big(C_v[i,j] - \acute e_v[i]^\top \acute e_v[j]\big)^2

    summed over views, nodes i and j (the diagonal included), and averaged over
    the leading batch (window) axis.

    Parameters
    ----------
    targets : Tensor, shape (B, M, n_nodes, n_nodes)
        Node correlations C_v of each window and view.
    embeddings : Tensor, shape (B, M, n_nodes, d)
        Final view embeddings (eq. 22).

    Returns
    -------
    Tensor, shape ()
        Mean over B of zeta_total.
    """
    gram = embeddings @ embeddings.transpose(-1, -2)
    return ((targets - gram) ** 2).sum(dim=(1, 2, 3)).mean()
