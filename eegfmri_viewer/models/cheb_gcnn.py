r"""Phase-1 spectral graph CNN with Class Activation Maps (paper eqs. 1, 5, 7–10).

The graph signal of a window is the matrix of node time series. A temporal
convolution (:class:`~eegfmri_viewer.models.temporal_conv.TemporalConv`) turns
each node's series into features; Chebyshev graph convolutions then filter
those features on the graph, and global average pooling over nodes followed by
a linear layer gives the class scores. Because the pooling is a plain mean,
the class score decomposes over nodes, which is what the Class Activation Map
(CAM) reads out.

Equations as implemented
------------------------
Laplacian (eq. 1): :math:`L = D - W` (combinatorial, not normalised), with
:math:`\lambda_{max}` computed once by the graph and passed in.

Spectral filter (eq. 5): :math:`y = U g(\Lambda) U^T x`, :math:`L = U \Lambda U^T`.

Chebyshev approximation (eqs. 7–9): :math:`g(\Lambda) = \sum_{k=0}^{K-1}
\theta_k T_k(\Lambda_n)`, :math:`\Lambda_n = 2\Lambda/\lambda_{max} - I`,
:math:`T_0 = 1`, :math:`T_1(x) = x`, :math:`T_k = 2xT_{k-1} - T_{k-2}`.

Graph convolution (eq. 10): :math:`y = \sum_{k=0}^{K-1} \theta_k T_k(\tilde L) x`,
:math:`\tilde L = 2L/\lambda_{max} - I`, evaluated by the recursion without an
eigendecomposition (:class:`ChebGraphConv`; tested against the dense spectral
filter and against PyG's ``ChebConv``). With several input and output channels each
:math:`\theta_k` is a matrix :math:`\Theta_k` (``lins[k]``):
:math:`Y = \sum_k T_k(\tilde L) X \Theta_k + b`. ``K`` counts the polynomial
terms, as in eq. 7 (K = 3 uses :math:`T_0, T_1, T_2`, a 2-hop filter).

CAM: with :math:`F \in R^{N \times F}` the output of the last graph layer
(after ReLU), :math:`w` and :math:`b` the linear layer,

.. math::

    \mathrm{logit}_c = \sum_k w_{c,k} \frac{1}{N}\sum_i F_{i,k} + b_c
                     = \frac{1}{N}\sum_i \mathrm{CAM}_c(i) + b_c,
    \qquad \mathrm{CAM}_c(i) = \sum_k w_{c,k} F_{i,k}.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from eegfmri_viewer.models.temporal_conv import TemporalConv


def cheb_conv(in_channels: int, out_channels: int, K: int):
    """PyG ``ChebConv`` on the combinatorial Laplacian ``L = D - W`` (eq. 1).

    The reference implementation that :class:`ChebGraphConv` is tested against.
    """
    from torch_geometric.nn import ChebConv

    return ChebConv(in_channels, out_channels, K=K, normalization=None)


def scaled_laplacian(edge_index: Tensor, edge_weight: Tensor, n_nodes: int, lambda_max) -> Tensor:
    r"""Dense :math:`\tilde L = 2 (D - W) / \lambda_{max} - I` from an edge list.

    Parameters
    ----------
    edge_index : Tensor, shape (2, n_edges)
    edge_weight : Tensor, shape (n_edges,)
    n_nodes : int
    lambda_max : float or Tensor
        Largest eigenvalue of ``L``, computed once by the graph.

    Returns
    -------
    L_hat : Tensor, shape (n_nodes, n_nodes)
    """
    W = torch.zeros((n_nodes, n_nodes), dtype=edge_weight.dtype, device=edge_weight.device)
    W = W.index_put((edge_index[0], edge_index[1]), edge_weight, accumulate=True)
    L = torch.diag(W.sum(dim=1)) - W
    eye = torch.eye(n_nodes, dtype=W.dtype, device=W.device)
    return 2.0 * L / torch.as_tensor(lambda_max, dtype=W.dtype) - eye


class ChebGraphConv(nn.Module):
    r"""Chebyshev graph convolution (eq. 10) for a batch of signals on one graph.

    .. math::

        Y = \sum_{k=0}^{K-1} T_k(\tilde L)\, X\, \Theta_k + b,\qquad
        T_0 X = X,\; T_1 X = \tilde L X,\; T_k X = 2 \tilde L\, T_{k-1} X - T_{k-2} X

    Same operator and parameter layout as PyG ``ChebConv`` with
    ``normalization=None`` (``lins[k].weight`` is :math:`\Theta_k^T`), but the
    scaled Laplacian is passed in, built once per graph, and applied as a dense
    matrix product over the whole batch: the node sets here (at most a few
    hundred ROIs or electrodes) make a dense product much faster on a CPU
    than per-edge message passing on ``(B, E, F)`` tensors.

    Parameters
    ----------
    in_channels, out_channels : int
    K : int
        Number of Chebyshev terms (eq. 7).

    Shapes
    ------
    - x: :math:`(B, N, F_{in})`
    - L_hat: :math:`(N, N)`
    - output: :math:`(B, N, F_{out})`
    """

    def __init__(self, in_channels: int, out_channels: int, K: int = 3):
        super().__init__()
        if K < 1:
            raise ValueError(f"K must be at least 1, got {K}")
        self.lins = nn.ModuleList(nn.Linear(in_channels, out_channels, bias=False) for _ in range(K))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        for lin in self.lins:
            nn.init.xavier_uniform_(lin.weight)

    @staticmethod
    def propagate(L_hat: Tensor, x: Tensor) -> Tensor:
        """``L_hat @ x[b]`` for every b, as one (N, N) x (N, B*F) product."""
        b, n, f = x.shape
        y = L_hat @ x.transpose(0, 1).reshape(n, b * f)
        return y.reshape(n, b, f).transpose(0, 1)

    def forward(self, x: Tensor, L_hat: Tensor) -> Tensor:
        tx0 = x
        out = self.lins[0](tx0)
        if len(self.lins) > 1:
            tx1 = self.propagate(L_hat, x)
            out = out + self.lins[1](tx1)
            for lin in self.lins[2:]:
                tx2 = 2.0 * self.propagate(L_hat, tx1) - tx0
                out = out + lin(tx2)
                tx0, tx1 = tx1, tx2
        return out + self.bias


class SpectralGCNN(nn.Module):
    r"""Temporal convolution, Chebyshev graph convolutions, GAP, linear, softmax.

    The graph (``edge_index``, ``edge_weight``, ``lambda_max``) is stored as
    buffers, so a saved ``state_dict`` holds everything needed to recompute
    the outputs; the forward methods accept another graph for experiments.

    Parameters
    ----------
    n_times : int
        Samples per window and node.
    n_classes : int
        Number of classes (brain states).
    sfreq : float
        Sampling rate of the node series (Hz); ``1 / TR`` for fMRI.
    edge_index : Tensor or ndarray, shape (2, n_edges)
        Both directions of every edge.
    edge_weight : Tensor or ndarray, shape (n_edges,)
        Non-negative weights ``W[i, j]``.
    lambda_max : float
        Largest eigenvalue of ``L = D - W``, computed once by the graph.
    kernel_s : float
        Temporal kernel duration in seconds (0.1 s for EEG, about 3 TRs for fMRI).
    n_filters, n_segments : int
        Temporal filters and time segments (see ``TemporalConv``).
    hidden : sequence of int
        Output channels of the successive Chebyshev layers; the last one is
        the feature dimension ``F`` of :meth:`node_features` and of the CAM.
    K : int
        Chebyshev polynomial terms per layer (eq. 7), default 3.
    dropout : float
        Dropout on node features before each graph layer (training only).
    stride : int or None
        Temporal convolution stride (see ``TemporalConv``).
    node_embedding : int
        Size of a learned per-node vector appended to every node's temporal
        features (0 disables it). Why: the filters are shared by all nodes
        and the pooling is a mean, so without it the model is invariant to
        permuting nodes with their graph: it could not tell apart two classes
        that activate *different* regions by the same amount. The embedding
        lets a graph unit respond at some nodes and stay silent at others,
        and the CAM then says which. It is an input of the first graph layer,
        so the CAM identity is unchanged.
    n_nodes : int or None
        Number of nodes (needed for the embedding); default
        ``edge_index.max() + 1``.

    Shapes
    ------
    - x: :math:`(B, N, T)` node time series of B windows
    - :meth:`forward`: :math:`(B, C)` logits (apply softmax for probabilities)
    - :meth:`node_features`: :math:`(B, N, F)` last graph layer after ReLU
    - :meth:`cam`: :math:`(B, C, N)`
    """

    def __init__(self, n_times: int, n_classes: int, sfreq: float, edge_index, edge_weight,
                 lambda_max: float, kernel_s: float = 0.1, n_filters: int = 8, n_segments: int = 4,
                 hidden: Sequence[int] = (32, 32), K: int = 3, dropout: float = 0.25,
                 stride: int | None = None, node_embedding: int = 8, n_nodes: int | None = None):
        super().__init__()
        if not hidden:
            raise ValueError("hidden needs at least one graph layer")
        self.temporal = TemporalConv(n_times, sfreq, kernel_s, n_filters, n_segments, stride)
        if n_nodes is None:
            n_nodes = int(torch.as_tensor(edge_index).max()) + 1 if torch.as_tensor(edge_index).numel() else 1
        self.n_nodes = int(n_nodes)
        if node_embedding > 0:
            self.node_embedding = nn.Parameter(0.1 * torch.randn(self.n_nodes, int(node_embedding)))
        else:
            self.register_parameter("node_embedding", None)
        channels = [self.temporal.out_features + max(0, int(node_embedding)), *[int(h) for h in hidden]]
        self.convs = nn.ModuleList(ChebGraphConv(a, b, int(K)) for a, b in zip(channels[:-1], channels[1:]))
        self.dropout = nn.Dropout(float(dropout))
        self.classifier = nn.Linear(channels[-1], int(n_classes))
        dtype = torch.get_default_dtype()
        self.register_buffer("edge_index", torch.as_tensor(edge_index, dtype=torch.long).reshape(2, -1).clone())
        self.register_buffer("edge_weight", torch.as_tensor(edge_weight, dtype=dtype).reshape(-1).clone())
        self.register_buffer("lambda_max", torch.tensor(float(lambda_max), dtype=dtype))
        self.n_classes = int(n_classes)
        self._L_hat = None

    def _apply(self, fn, *args, **kwargs):
        # a dtype or device change invalidates the cached Laplacian
        self._L_hat = None
        return super()._apply(fn, *args, **kwargs)

    def load_state_dict(self, *args, **kwargs):
        self._L_hat = None
        return super().load_state_dict(*args, **kwargs)

    @property
    def n_features(self) -> int:
        """Feature dimension ``F`` of the last graph layer."""
        return self.classifier.in_features

    def _laplacian(self, n_nodes: int, edge_index, edge_weight, lambda_max) -> Tensor:
        if edge_index is None:
            # the stored graph: its scaled Laplacian is built once and cached
            if self._L_hat is None or self._L_hat.shape[0] != n_nodes:
                self._L_hat = scaled_laplacian(self.edge_index, self.edge_weight, n_nodes, self.lambda_max)
            return self._L_hat
        edge_weight = torch.as_tensor(edge_weight, dtype=self.edge_weight.dtype)
        lam = self.lambda_max if lambda_max is None else lambda_max
        return scaled_laplacian(torch.as_tensor(edge_index), edge_weight, n_nodes, lam)

    def node_features(self, x: Tensor, edge_index: Tensor | None = None, edge_weight: Tensor | None = None,
                      lambda_max: float | None = None) -> Tensor:
        """Output of the last Chebyshev layer after ReLU.

        Parameters
        ----------
        x : Tensor, shape (B, N, T)
        edge_index, edge_weight, lambda_max : optional
            Another graph; by default the one stored in the model.

        Returns
        -------
        F : Tensor, shape (B, N, F)
        """
        L_hat = self._laplacian(x.shape[1], edge_index, edge_weight, lambda_max)
        h = self.temporal(x)
        if self.node_embedding is not None:
            h = torch.cat([h, self.node_embedding.expand(h.shape[0], -1, -1)], dim=-1)
        for conv in self.convs:
            h = torch.relu(conv(self.dropout(h), L_hat))
        return h

    def forward(self, x: Tensor, edge_index: Tensor | None = None, edge_weight: Tensor | None = None,
                lambda_max: float | None = None) -> Tensor:
        """Class logits: global average pooling over nodes, then the linear layer.

        Returns
        -------
        logits : Tensor, shape (B, C)
            ``softmax(logits, -1)`` are the class probabilities.
        """
        return self.classifier(self.node_features(x, edge_index, edge_weight, lambda_max).mean(dim=1))

    def predict_proba(self, x: Tensor, *args, **kwargs) -> Tensor:
        """Softmax of :meth:`forward`, shape (B, C)."""
        return torch.softmax(self.forward(x, *args, **kwargs), dim=-1)

    def cam_from_features(self, features: Tensor) -> Tensor:
        """CAM from node features: ``CAM[b, c, i] = sum_k w[c, k] F[b, i, k]``.

        Parameters
        ----------
        features : Tensor, shape (B, N, F)

        Returns
        -------
        cam : Tensor, shape (B, C, N)
        """
        return torch.einsum("ck,bik->bci", self.classifier.weight, features)

    def cam(self, x: Tensor, edge_index: Tensor | None = None, edge_weight: Tensor | None = None,
            lambda_max: float | None = None) -> Tensor:
        """Class Activation Map of every class at every node.

        ``logits[b, c] == cam[b, c].mean() + bias[c]`` (the CAM identity).

        Returns
        -------
        cam : Tensor, shape (B, C, N)
        """
        return self.cam_from_features(self.node_features(x, edge_index, edge_weight, lambda_max))
