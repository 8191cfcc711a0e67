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
eigendecomposition. With several input and output channels each
:math:`\theta_k` is a matrix :math:`\Theta_k` (``ChebConv.lins[k]``):
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
    """PyG ``ChebConv`` on the combinatorial Laplacian ``L = D - W`` (eq. 1)."""
    from torch_geometric.nn import ChebConv

    return ChebConv(in_channels, out_channels, K=K, normalization=None)


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
                 stride: int | None = None):
        super().__init__()
        if not hidden:
            raise ValueError("hidden needs at least one graph layer")
        self.temporal = TemporalConv(n_times, sfreq, kernel_s, n_filters, n_segments, stride)
        channels = [self.temporal.out_features, *[int(h) for h in hidden]]
        self.convs = nn.ModuleList(cheb_conv(a, b, int(K)) for a, b in zip(channels[:-1], channels[1:]))
        self.dropout = nn.Dropout(float(dropout))
        self.classifier = nn.Linear(channels[-1], int(n_classes))
        dtype = torch.get_default_dtype()
        self.register_buffer("edge_index", torch.as_tensor(edge_index, dtype=torch.long).reshape(2, -1).clone())
        self.register_buffer("edge_weight", torch.as_tensor(edge_weight, dtype=dtype).reshape(-1).clone())
        self.register_buffer("lambda_max", torch.tensor(float(lambda_max), dtype=dtype))
        self.n_classes = int(n_classes)

    @property
    def n_features(self) -> int:
        """Feature dimension ``F`` of the last graph layer."""
        return self.classifier.in_features

    def _graph(self, edge_index, edge_weight, lambda_max):
        if edge_index is None:
            return self.edge_index, self.edge_weight, self.lambda_max
        lam = self.lambda_max if lambda_max is None else torch.as_tensor(lambda_max, dtype=self.lambda_max.dtype)
        return edge_index, edge_weight, lam

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
        edge_index, edge_weight, lam = self._graph(edge_index, edge_weight, lambda_max)
        h = self.temporal(x)
        for conv in self.convs:
            h = torch.relu(conv(self.dropout(h), edge_index, edge_weight, lambda_max=lam))
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
