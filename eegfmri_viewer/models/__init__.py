"""Torch / PyTorch Geometric models.

Phase 1 (``temporal_conv``, ``cheb_gcnn``): a per-node temporal convolution
followed by Chebyshev spectral graph convolutions, global average pooling over
nodes, a linear layer and softmax, with Class Activation Maps (CAM) per class
and node. Modules are imported from their own files so that importing this
package does not load torch.
"""
