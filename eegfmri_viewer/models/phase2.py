"""Phase-2 model: per-view GAT, cross-view attention and multi-view fusion end to end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor, nn

from eegfmri_viewer.models.cross_view import CrossViewAttention
from eegfmri_viewer.models.fusion import MultiViewFusion
from eegfmri_viewer.models.gat import ViewGAT

#: The paper's view order (eq. 24 lists the same six views).
DEFAULT_VIEWS = ("beta", "delta", "gamma", "theta", "alpha", "fmri")


def view_order(bands: Sequence[str]) -> list[str]:
    """Order the views: the paper's bands first, other bands as given, fMRI last.

    Parameters
    ----------
    bands : sequence of str
        EEG band names of the analysis (e.g. delta, theta, alpha, beta, gamma).

    Returns
    -------
    list of str
        For the default bands: beta, delta, gamma, theta, alpha, fmri.
    """
    known = [v for v in DEFAULT_VIEWS[:-1] if v in bands]
    other = [b for b in bands if b not in DEFAULT_VIEWS[:-1]]
    return known + other + ["fmri"]


@dataclass
class Phase2Output:
    """Everything one forward pass produces (N nodes, M views, d features).

    Attributes
    ----------
    embeddings : Tensor, shape (N, M, d)
        Per-view GAT embeddings E_v.
    hat : Tensor, shape (N, M, d)
        Cross-view representations (eq. 19).
    tilde : Tensor, shape (N, M, d)
        Eq. 20.
    final : Tensor, shape (N, M, d)
        Eq. 22, the embeddings the loss and the coupling use.
    fused : Tensor, shape (N, d)
        E_f (eq. 21).
    omega : Tensor, shape (N, M)
        Fusion weights.
    cross_attention : Tensor, shape (N, H, M, M)
        Attention across views.
    gat_edge_index : list of Tensor, each shape (2, E_v)
        Per view, the edges (self loops included) the GAT attention refers to.
    gat_attention : list of list of Tensor, each shape (E_v, heads)
        Per view and layer, alpha_ij.
    """

    embeddings: Tensor
    hat: Tensor
    tilde: Tensor
    final: Tensor
    fused: Tensor
    omega: Tensor
    cross_attention: Tensor
    gat_edge_index: list
    gat_attention: list


class Phase2Model(nn.Module):
    """Per-view GAT -> cross-view attention -> multi-view fusion (DESIGN.md steps 6-8).

    Every view has its own :class:`ViewGAT` (own weights, own graph); the cross-view
    attention and the fusion are shared and act on each node separately, so nodes
    of several windows can be stacked into one batch.

    Parameters
    ----------
    in_dims : sequence of int
        Feature size of each view, in the order of ``views``.
    views : sequence of str
        View names, e.g. :data:`DEFAULT_VIEWS`.
    hidden_dim, out_dim, heads, n_layers : int
        GAT settings (see :class:`ViewGAT`).
    cross_heads : int
        Heads of :class:`CrossViewAttention`.
    rho : float
        Eq. 20.
    dropout : float
        GAT attention dropout.

    Shapes
    ------
    - input: per view, features ``(N, F_v)`` and edge index ``(2, E_v)`` on the same N nodes
    - output: :class:`Phase2Output`
    """

    def __init__(self, in_dims: Sequence[int], views: Sequence[str] = DEFAULT_VIEWS,
                 hidden_dim: int = 16, out_dim: int = 16, heads: int = 4, cross_heads: int = 4,
                 n_layers: int = 2, rho: float = 0.8, dropout: float = 0.0):
        super().__init__()
        if len(in_dims) != len(views):
            raise ValueError(f"{len(in_dims)} feature sizes for {len(views)} views")
        self.views = list(views)
        self.gats = nn.ModuleDict({
            v: ViewGAT(f, hidden_dim, out_dim, heads, n_layers, dropout) for v, f in zip(views, in_dims)
        })
        self.cross = CrossViewAttention(out_dim, cross_heads, rho)
        self.fusion = MultiViewFusion(out_dim)

    def forward(self, features: Sequence[Tensor], edge_indices: Sequence[Tensor],
                add_self_loops: bool = True) -> Phase2Output:
        """Run the three stages.

        Parameters
        ----------
        features : sequence of Tensor, each shape (N, F_v)
        edge_indices : sequence of Tensor, each shape (2, E_v)
        add_self_loops : bool
            Passed to :meth:`ViewGAT.forward`.

        Returns
        -------
        Phase2Output
        """
        embeddings, edges, attention = [], [], []
        for view, x, ei in zip(self.views, features, edge_indices):
            e, ei_loops, alpha = self.gats[view](x, ei, add_self_loops)
            embeddings.append(e)
            edges.append(ei_loops)
            attention.append(alpha)
        stacked = torch.stack(embeddings, dim=1)  # (N, M, d)
        tilde, hat, cross_attention = self.cross(stacked)
        final, fused, omega = self.fusion(stacked, tilde)
        return Phase2Output(stacked, hat, tilde, final, fused, omega, cross_attention, edges, attention)
