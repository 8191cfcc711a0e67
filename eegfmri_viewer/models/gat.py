"""Per-view graph attention network (phase 2, paper eqs. 13-16).

One :class:`ViewGAT` embeds the nodes of one view (an EEG band or fMRI) on that
view's graph. It keeps the attention coefficients alpha_ij of every layer and head
so that the views can draw them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def with_self_loops(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Return ``edge_index`` without duplicate self loops plus one self loop per node.

    Parameters
    ----------
    edge_index : Tensor, shape (2, n_edges), int64
        Edges ``(source j, target i)``.
    num_nodes : int
        Number of nodes.

    Returns
    -------
    Tensor, shape (2, n_edges' + num_nodes)
        The edges without self loops, then the self loops ``(i, i)`` for i = 0..num_nodes-1.
    """
    from torch_geometric.utils import add_self_loops, remove_self_loops

    edge_index, _ = remove_self_loops(edge_index)
    edge_index, _ = add_self_loops(edge_index, num_nodes=num_nodes)
    return edge_index


class ViewGAT(nn.Module):
    r"""Multi-head graph attention network for one view.

    Each layer computes, for an edge from node j to node i (eq. 14, with the
    LeakyReLU of the GAT paper that the paper's "ReLU" refers to)

    .. math::
        e_{ij} = \mathrm{LeakyReLU}\big(a^\top [W f_i \,\|\, W f_j]\big),

    normalises over the neighbours of i, self loop included (eq. 15)

    .. math::
        \alpha_{ij} = \frac{\exp(e_{ij})}{\sum_{k \in N_i} \exp(e_{ik})},

    and aggregates (eq. 16) :math:`f_i' = \sigma(\sum_{j \in N_i} \alpha_{ij} W f_j)`,
    with one set (W, a) per head. Hidden layers concatenate their heads and use
    :math:`\sigma` = ELU; the last layer averages its heads and is linear, so the
    embeddings can take the signed values that the inner products of eq. 23 need.
    The layers are PyG ``GATConv`` with self loops added once, here, so that the
    returned edge list is exactly the one the attention refers to.

    Parameters
    ----------
    in_dim : int
        Node feature size F (eq. 13).
    hidden_dim : int
        Channels per head of the hidden layers.
    out_dim : int
        Embedding size d.
    heads : int
        Attention heads per layer.
    n_layers : int
        Number of GAT layers (>= 1).
    dropout : float
        Dropout on the attention coefficients during training.

    Shapes
    ------
    - input: node features ``(N, F)``, edge index ``(2, E)``
    - output: embeddings ``(N, d)``, edge index with self loops ``(2, E + N)``,
      attention: list of ``n_layers`` tensors ``(E + N, heads)``
    """

    def __init__(self, in_dim: int, hidden_dim: int = 16, out_dim: int = 16, heads: int = 4,
                 n_layers: int = 2, dropout: float = 0.0):
        super().__init__()
        from torch_geometric.nn import GATConv

        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        self.layers = nn.ModuleList()
        dim = in_dim
        for layer in range(n_layers):
            last = layer == n_layers - 1
            if last:
                conv = GATConv(dim, out_dim, heads=heads, concat=False, dropout=dropout,
                               add_self_loops=False)
            else:
                conv = GATConv(dim, hidden_dim, heads=heads, concat=True, dropout=dropout,
                               add_self_loops=False)
                dim = hidden_dim * heads
            self.layers.append(conv)
        self.heads = heads
        self.out_dim = out_dim

    def forward(self, x: Tensor, edge_index: Tensor,
                add_self_loops: bool = True) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Embed the nodes.

        Parameters
        ----------
        x : Tensor, shape (N, F)
            Node features.
        edge_index : Tensor, shape (2, E), int64
            Edges ``(source j, target i)``.
        add_self_loops : bool
            Add one self loop per node (after removing existing ones). Pass False when
            ``edge_index`` already holds them (e.g. from :func:`with_self_loops`), which
            keeps the edge order of the caller.

        Returns
        -------
        embeddings : Tensor, shape (N, d)
        edge_index : Tensor, shape (2, E + N)
            The edges the attention refers to (self loops included).
        attention : list of Tensor, each shape (E + N, heads)
            alpha_ij of every layer; for every target node i and head they sum to 1.
        """
        if add_self_loops:
            edge_index = with_self_loops(edge_index, x.shape[0])
        attention = []
        h = x
        for layer, conv in enumerate(self.layers):
            h, (_, alpha) = conv(h, edge_index, return_attention_weights=True)
            attention.append(alpha)
            if layer < len(self.layers) - 1:
                h = torch.nn.functional.elu(h)
        return h, edge_index, attention
