"""Cross-view attention (phase 2, paper eqs. 17-20).

For each node, its embeddings in the M views form a sequence of M tokens;
self-attention runs across that sequence, so the softmax is over the view axis
(never over nodes: the public code the paper follows mixes regions inside a view,
which DESIGN.md rules out).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class CrossViewAttention(nn.Module):
    r"""Multi-head scaled dot-product self-attention across the views of each node.

    For node n with view embeddings :math:`E_1..E_M \in R^d` (eq. 17)
    :math:`Q_v = E_v W_q,\ K_v = E_v W_k,\ V_v = E_v W_v`, split into H heads of
    size :math:`k = d / H`. Per head (eq. 18)

    .. math::
        A^h_{vu} = \mathrm{softmax}_u\Big(\frac{Q^h_v \cdot K^h_u}{\sqrt{k}}\Big),
        \qquad \hat e^h_v = \sum_u A^h_{vu} V^h_u ,

    the heads are concatenated and projected back to d by :math:`W_o` (eq. 19,
    :math:`\hat e_v`), and the residual mix of eq. 20 gives

    .. math::
        \tilde e_v = \rho\, \hat e_v + (1 - \rho)\, E_v .

    With :math:`\rho = 0` the block is the identity.

    Parameters
    ----------
    dim : int
        Embedding size d.
    heads : int
        Number of heads H; must divide ``dim``.
    rho : float
        Share of the attended representation, 0 <= rho <= 1.

    Shapes
    ------
    - input: ``(N, M, d)`` (nodes, views, features)
    - output: ``tilde (N, M, d)``, ``hat (N, M, d)``, attention ``(N, H, M, M)``
      (row v: how much view v reads from each view u; rows sum to 1)
    """

    def __init__(self, dim: int, heads: int = 4, rho: float = 0.8):
        super().__init__()
        if dim % heads:
            raise ValueError(f"heads ({heads}) must divide dim ({dim})")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"rho must lie in [0, 1], got {rho}")
        self.dim, self.heads, self.rho = dim, heads, float(rho)
        self.head_dim = dim // heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)

    def forward(self, views: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Attend across views.

        Parameters
        ----------
        views : Tensor, shape (N, M, d)

        Returns
        -------
        tilde : Tensor, shape (N, M, d)
            Eq. 20.
        hat : Tensor, shape (N, M, d)
            Eq. 19.
        attention : Tensor, shape (N, H, M, M)
            Softmax over the last (view) axis.
        """
        n, m, d = views.shape

        def split(t: Tensor) -> Tensor:
            return t.reshape(n, m, self.heads, self.head_dim).transpose(1, 2)  # (N, H, M, k)

        q, k, v = split(self.q(views)), split(self.k(views)), split(self.v(views))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)  # (N, H, M, M)
        attention = torch.softmax(scores, dim=-1)
        hat = (attention @ v).transpose(1, 2).reshape(n, m, d)
        hat = self.out(hat)
        tilde = self.rho * hat + (1.0 - self.rho) * views
        return tilde, hat, attention
