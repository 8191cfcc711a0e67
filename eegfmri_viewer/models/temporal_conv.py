"""Temporal convolution applied to every node's time series (phase 1, first layer).

The kernel length follows the sampling rate: it covers ``kernel_s`` seconds,
so the same setting learns comparable frequency filters at any rate. Defaults
(see :mod:`eegfmri_viewer.pipeline.config`): 0.1 s for EEG (25 samples at
250 Hz, enough to resolve one cycle of 10 Hz and to act as a band-pass filter
within each band) and 6 s for fMRI (3 TRs at TR = 2 s, about the width of the
haemodynamic response).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def kernel_length(sfreq: float, kernel_s: float, n_times: int) -> int:
    """Number of samples that cover ``kernel_s`` seconds at ``sfreq`` Hz.

    Parameters
    ----------
    sfreq : float
        Sampling rate of the node time series in Hz (``1 / TR`` for fMRI).
    kernel_s : float
        Kernel duration in seconds.
    n_times : int
        Length of the series; the kernel never exceeds it.

    Returns
    -------
    n : int
        ``round(sfreq * kernel_s)`` clipped to ``[1, n_times]``.
    """
    return int(min(max(1, round(float(sfreq) * float(kernel_s))), max(1, int(n_times))))


class TemporalConv(nn.Module):
    r"""Shared 1-D convolution over time for each node, rectified and pooled.

    For node :math:`i` with series :math:`x_i(t)` and filter :math:`h_f`,

    .. math::

        z_{i,f,s} = \frac{1}{|S_s|} \sum_{t \in S_s}
                    \mathrm{ReLU}\big((h_f * x_i)(t \cdot \mathrm{stride}) + b_f\big)

    where :math:`S_s` are ``n_segments`` equal time segments (adaptive
    average pooling). Rectification followed by averaging acts as an envelope
    detector, so band-power differences (EEG) and sustained BOLD changes
    (fMRI) both become node features. The same filters are used at every node,
    so the layer does not depend on the number of nodes. The input is divided
    by the buffer ``input_scale`` (set from the training data, saved with the
    weights), so raw volts and standardised BOLD both reach the convolution
    at unit scale.

    Parameters
    ----------
    n_times : int
        Samples per window.
    sfreq : float
        Sampling rate in Hz.
    kernel_s : float
        Kernel duration in seconds (see :func:`kernel_length`).
    n_filters : int
        Number of temporal filters.
    n_segments : int
        Time segments kept after pooling (clipped to the convolved length).
    stride : int or None
        Convolution stride; ``None`` uses ``max(1, kernel // 2)``: successive
        kernels overlap by half, so every sample is seen while the cost of
        EEG windows of thousands of samples drops by ``stride`` (the pooled
        envelope does not need every output sample).

    Shapes
    ------
    - input: :math:`(B, N, T)` node time series
    - output: :math:`(B, N, n\_filters \cdot n\_segments)` node features
    """

    def __init__(self, n_times: int, sfreq: float, kernel_s: float, n_filters: int = 8,
                 n_segments: int = 4, stride: int | None = None):
        super().__init__()
        self.kernel = kernel_length(sfreq, kernel_s, n_times)
        self.stride = int(stride) if stride else max(1, self.kernel // 2)
        n_out = (int(n_times) - self.kernel) // self.stride + 1
        self.n_segments = int(max(1, min(n_segments, n_out)))
        self.n_filters = int(n_filters)
        self.conv = nn.Conv1d(1, self.n_filters, self.kernel, stride=self.stride)
        self.pool = nn.AdaptiveAvgPool1d(self.n_segments)
        self.register_buffer("input_scale", torch.ones((), dtype=torch.get_default_dtype()))

    @property
    def out_features(self) -> int:
        """Node features produced per node, ``n_filters * n_segments``."""
        return self.n_filters * self.n_segments

    def forward(self, x: Tensor) -> Tensor:
        """Features of every node.

        Parameters
        ----------
        x : Tensor, shape (B, N, T)

        Returns
        -------
        z : Tensor, shape (B, N, n_filters * n_segments)
        """
        b, n, t = x.shape
        h = self.conv((x / self.input_scale).reshape(b * n, 1, t))
        h = self.pool(torch.relu(h))
        return h.reshape(b, n, self.out_features)
