"""Phase-1 model: Chebyshev filter against the spectral definition, CAM identity, shapes."""

import numpy as np
import pytest
import torch

from eegfmri_viewer.models.cheb_gcnn import ChebGraphConv, SpectralGCNN, cheb_conv, scaled_laplacian
from eegfmri_viewer.models.temporal_conv import TemporalConv, kernel_length


def random_graph(n=12, p=0.4, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.uniform(0.1, 1.0, (n, n)) * (rng.uniform(size=(n, n)) < p)
    W = np.triu(W, 1)
    W = W + W.T
    src, dst = np.nonzero(W)
    edge_index = np.stack([src, dst])
    L = np.diag(W.sum(1)) - W
    lam = np.linalg.eigvalsh(L).max()
    return W, edge_index, W[src, dst], L, lam


def chebyshev_poly(k, x):
    t0, t1 = np.ones_like(x), x
    if k == 0:
        return t0
    for _ in range(k - 1):
        t0, t1 = t1, 2 * x * t1 - t0
    return t1


@pytest.mark.parametrize("K", [1, 2, 3, 5])
def test_chebyshev_filter_equals_dense_spectral_filter(K):
    W, edge_index, edge_weight, L, lam = random_graph()
    theta = np.random.default_rng(1).normal(size=K)
    conv = ChebGraphConv(1, 1, K).double()
    with torch.no_grad():
        for k, lin in enumerate(conv.lins):
            lin.weight.fill_(theta[k])
    L_hat = scaled_laplacian(torch.tensor(edge_index), torch.tensor(edge_weight), len(W), lam)
    np.testing.assert_allclose(L_hat.numpy(), 2 * L / lam - np.eye(len(W)), atol=1e-12)
    x = np.random.default_rng(2).normal(size=(W.shape[0], 1))
    y = conv(torch.tensor(x)[None], L_hat)[0].detach().numpy()
    # eq. 5 with g from eq. 7 on the eigenvalues: y = U g(Lambda) U^T x
    evals, U = np.linalg.eigh(L)
    lam_n = 2 * evals / lam - 1
    g = sum(theta[k] * chebyshev_poly(k, lam_n) for k in range(K))
    expected = U @ np.diag(g) @ U.T @ x
    np.testing.assert_allclose(y, expected, atol=1e-5)
    # a K-term filter is (K-1)-hop localised: nothing leaks further
    hops = np.linalg.matrix_power((W > 0).astype(int) + np.eye(len(W), dtype=int), K - 1) > 0
    impulse = np.zeros((1, len(W), 1))
    impulse[0, 0] = 1.0
    yi = conv(torch.tensor(impulse), L_hat)[0].detach().numpy()
    assert np.all(np.abs(yi[~hops[:, 0], 0]) < 1e-12)
    assert np.any(np.abs(yi[hops[:, 0], 0]) > 1e-6)


def test_chebyshev_layer_matches_pyg_chebconv():
    W, edge_index, edge_weight, L, lam = random_graph(n=15, seed=3)
    torch.manual_seed(0)
    ours = ChebGraphConv(4, 6, 3).double()
    ref = cheb_conv(4, 6, 3).double()
    with torch.no_grad():
        for a, b in zip(ours.lins, ref.lins):
            b.weight.copy_(a.weight)
        ours.bias.normal_()
        ref.bias.copy_(ours.bias)
    x = torch.randn(3, 15, 4, dtype=torch.float64)
    L_hat = scaled_laplacian(torch.tensor(edge_index), torch.tensor(edge_weight), 15, lam)
    y_ref = torch.stack([ref(xb, torch.tensor(edge_index), torch.tensor(edge_weight), lambda_max=lam) for xb in x])
    np.testing.assert_allclose(ours(x, L_hat).detach().numpy(), y_ref.detach().numpy(), atol=1e-10)


def make_model(n_nodes=10, n_times=50, n_classes=3, seed=0, **kw):
    W, edge_index, edge_weight, L, lam = random_graph(n_nodes, seed=seed)
    torch.manual_seed(seed)
    return SpectralGCNN(n_times, n_classes, sfreq=100.0, edge_index=edge_index, edge_weight=edge_weight,
                        lambda_max=lam, kernel_s=0.1, hidden=(16, 8), **kw)


def test_shapes_and_cam_identity():
    torch.set_default_dtype(torch.float64)
    try:
        model = make_model().eval()
        x = torch.randn(4, 10, 50)
        logits = model(x)
        feats = model.node_features(x)
        cam = model.cam(x)
        assert logits.shape == (4, 3)
        assert feats.shape == (4, 10, 8)
        assert cam.shape == (4, 3, 10)
        assert model.n_features == 8
        np.testing.assert_allclose((cam.mean(-1) + model.classifier.bias).detach().numpy(),
                                   logits.detach().numpy(), atol=1e-5)
        probs = model.predict_proba(x)
        np.testing.assert_allclose(probs.sum(-1).detach().numpy(), 1.0, atol=1e-12)
    finally:
        torch.set_default_dtype(torch.float32)


def test_cam_identity_float32():
    model = make_model().eval()
    x = torch.randn(3, 10, 50)
    with torch.no_grad():
        np.testing.assert_allclose((model.cam(x).mean(-1) + model.classifier.bias).numpy(), model(x).numpy(), atol=1e-5)


def test_stored_graph_is_used_and_can_be_overridden():
    model = make_model().eval()
    x = torch.randn(2, 10, 50)
    with torch.no_grad():
        a = model(x)
        b = model(x, model.edge_index, model.edge_weight * 3.0, float(model.lambda_max) * 3.0)
        c = model(x, model.edge_index, model.edge_weight, float(model.lambda_max) / 2)
    # scaling W and lambda_max together leaves the scaled Laplacian unchanged
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    assert not np.allclose(a.numpy(), c.numpy(), atol=1e-4)


def test_state_dict_roundtrip_reproduces_outputs(tmp_path):
    model = make_model().eval()
    torch.save(model.state_dict(), tmp_path / "m.pt")
    other = make_model(seed=0)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(1.0)
    other.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    other.eval()
    x = torch.randn(2, 10, 50)
    with torch.no_grad():
        np.testing.assert_allclose(model.cam(x).numpy(), other.cam(x).numpy(), atol=1e-6)


def test_kernel_follows_sampling_rate():
    assert kernel_length(250.0, 0.1, 2500) == 25
    assert kernel_length(500.0, 0.1, 2500) == 50
    assert kernel_length(0.5, 6.0, 10) == 3          # fMRI, TR = 2 s: three volumes
    assert kernel_length(0.5, 6.0, 2) == 2           # never longer than the window
    layer = TemporalConv(n_times=2500, sfreq=250.0, kernel_s=0.1, n_filters=4, n_segments=3)
    assert layer.conv.kernel_size == (25,) and layer.conv.stride == (12,)
    assert layer(torch.randn(2, 5, 2500)).shape == (2, 5, 12)


def test_temporal_layer_separates_amplitude():
    # a rectified, pooled convolution must respond to amplitude: this is what
    # lets the model see band power changes
    torch.manual_seed(0)
    layer = TemporalConv(n_times=200, sfreq=100.0, kernel_s=0.1)
    t = torch.arange(200) / 100.0
    x = torch.sin(2 * np.pi * 10 * t).reshape(1, 1, 200)
    with torch.no_grad():
        small = layer(x).sum()
        large = layer(3 * x).sum()
    assert large > 2.5 * small > 0
