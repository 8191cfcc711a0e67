"""Adaptive multi-view fusion (phase 2, paper eqs. 21-22)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class MultiViewFusion(nn.Module):
    r"""Weight the views of each node by a learned score and fuse them.

    A one-layer MLP (one tanh hidden layer shared by all views, then a linear
    read-out to one score) scores every view embedding; a softmax over the views
    gives the weights (eq. 21, read as DESIGN.md fixes the garbled equation):

    .. math::
        s_v = q^\top \tanh(W E_v + b), \qquad
        \omega_v = \mathrm{softmax}_v(s_v), \qquad
        E_f = \sum_v \omega_v E_v ,

    and every view is pulled towards the fused embedding (eq. 22)

    .. math::
        \acute e_v = (E_f + \tilde e_v) / 2 .

    Parameters
    ----------
    dim : int
        Embedding size d.
    hidden_dim : int or None
        Width of the scoring layer (default: ``dim``).

    Shapes
    ------
    - input: GAT embeddings ``E (N, M, d)``, cross-view embeddings ``tilde (N, M, d)``
    - output: ``final (N, M, d)``, ``fused (N, d)``, weights ``omega (N, M)``
      (sum to 1 over views for every node)
    """

    def __init__(self, dim: int, hidden_dim: int | None = None):
        super().__init__()
        hidden_dim = hidden_dim or dim
        self.hidden = nn.Linear(dim, hidden_dim)
        self.score = nn.Linear(hidden_dim, 1, bias=False)

    def forward(self, views: Tensor, tilde: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Fuse the views.

        Parameters
        ----------
        views : Tensor, shape (N, M, d)
            Per-view GAT embeddings E_v.
        tilde : Tensor, shape (N, M, d)
            Cross-view embeddings of eq. 20.

        Returns
        -------
        final : Tensor, shape (N, M, d)
            Eq. 22.
        fused : Tensor, shape (N, d)
            E_f of eq. 21.
        omega : Tensor, shape (N, M)
            Fusion weights, softmax over views.
        """
        scores = self.score(torch.tanh(self.hidden(views))).squeeze(-1)  # (N, M)
        omega = torch.softmax(scores, dim=-1)
        fused = (omega.unsqueeze(-1) * views).sum(dim=1)
        final = 0.5 * (fused.unsqueeze(1) + tilde)
        return final, fused, omega
