"""Phase 2 of ``analyze``: view graphs, training of the phase-2 model, and coupling.

``run_phase2`` takes the phase-1 node features of the salient ROIs (fMRI and, via
the transfer matrix, every EEG band), builds one k-NN graph per view on the node
correlations C_v (eq. 11), trains :class:`~eegfmri_viewer.models.phase2.Phase2Model`
end to end on the reconstruction objective (eqs. 23-24) with early stopping on the
validation windows, and returns the arrays of the results bundle (``gat_attention``,
``fusion``, ``embeddings``, ``coupling``; see docs/architecture.md).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from eegfmri_viewer.pipeline.phase2_config import CouplingConfig, Phase2Config
from eegfmri_viewer.progress import check_cancel, report, sub_progress


@dataclass
class Phase2Inputs:
    """What phase 2 needs from phase 1.

    Attributes
    ----------
    node_index : ndarray, shape (n_nodes,)
        Atlas ROI indices of the phase-2 nodes (the salient fMRI ROIs).
    bands : list of str
        EEG band names, in the order of the band axes below.
    fmri_features : ndarray, shape (n_windows, n_nodes, F)
        Phase-1 fMRI node features of every window.
    eeg_roi_features : ndarray, shape (n_bands, n_windows, n_nodes, F)
        Phase-1 EEG node features carried to the ROIs by the transfer matrix.
    eeg_electrode_features : ndarray, shape (n_bands, n_windows, n_ch, F)
        Phase-1 EEG node features on the electrodes.
    split : ndarray, shape (n_windows,) str
        ``"train"``, ``"val"`` or ``"test"`` per window.
    eeg_power_roi : list of ndarray, each shape (n_bands, n_nodes, n_volumes_r)
        Per recording, EEG band power at the ROIs sampled at the TR.
    bold_roi : list of ndarray, each shape (n_nodes, n_volumes_r)
        Per recording, ROI BOLD.
    tr : float
        Repetition time in seconds.
    task_design : list of ndarray, each shape (n_volumes_r, n_classes), or None
        Per recording, the task regressors removed before the lagged coupling
        (``CouplingConfig.remove_task``); None keeps the plain correlation.
    """

    node_index: np.ndarray
    bands: list
    fmri_features: np.ndarray
    eeg_roi_features: np.ndarray
    eeg_electrode_features: np.ndarray
    split: np.ndarray
    eeg_power_roi: list
    bold_roi: list
    tr: float
    task_design: Optional[list] = None


@dataclass
class Phase2Result:
    """Output of :func:`run_phase2`.

    Attributes
    ----------
    arrays : dict
        ``{"gat_attention": {...}, "fusion": {...}, "embeddings": {...}, "coupling": {...}}``,
        each the content of one bundle ``.npz`` (keys as in docs/architecture.md).
    metrics : dict
        ``loss`` (training loss per epoch), ``val_loss``, ``best_epoch``,
        ``best_val_loss``, ``test_loss``, ``epochs``, ``stopped_early``, ``n_nodes``,
        ``views``, ``seconds``.
    state_dict : dict
        Weights of the trained phase-2 model (best validation epoch).
    """

    arrays: dict
    metrics: dict
    state_dict: dict = field(default_factory=dict)


def knn_edges_from_similarity(similarity: np.ndarray, k: int) -> np.ndarray:
    """Symmetric k-nearest-neighbour edges on a similarity matrix.

    Each node is joined to its k most similar other nodes; the union of both
    directions is kept, so every node has at least k neighbours.

    Parameters
    ----------
    similarity : ndarray, shape (n_nodes, n_nodes)
        E.g. C_v of eq. 11.
    k : int
        Neighbours per node; clipped to ``n_nodes - 1``.

    Returns
    -------
    ndarray, shape (2, n_edges), int64
        Both directions of every edge, no self loops, sorted by (target, source).
    """
    n = similarity.shape[0]
    k = int(min(k, n - 1))
    if k < 1:
        return np.zeros((2, 0), dtype=np.int64)
    s = np.array(similarity, dtype=np.float64)
    np.fill_diagonal(s, -np.inf)
    # stable sort so that ties are broken by node index, deterministically
    nbrs = np.argsort(-s, axis=1, kind="stable")[:, :k]
    adj = np.zeros((n, n), dtype=bool)
    adj[np.repeat(np.arange(n), k), nbrs.ravel()] = True
    adj |= adj.T
    target, source = np.nonzero(adj)
    return np.stack([source, target]).astype(np.int64)


def centre_features(features: np.ndarray, centring: str = "nodes_windows",
                    train: Optional[np.ndarray] = None) -> np.ndarray:
    """Centre the node features before the cosine of eq. 11.

    Phase-1 node features are ReLU maps with a large positive part common to all
    nodes and a static per-node offset; uncentred, every cosine is close to 1 and
    the embeddings of all views collapse onto one direction (coupling ~1 everywhere).

    Parameters
    ----------
    features : ndarray, shape (n_windows, n_nodes, F)
    centring : {"nodes_windows", "nodes", "none"}
        ``"nodes"`` removes, in every window, the mean over nodes; ``"nodes_windows"``
        then also removes each node's mean over the windows, so C_v describes how the
        nodes co-fluctuate from window to window; ``"none"`` keeps eq. 11 on the raw
        features.

    Returns
    -------
    ndarray, shape (n_windows, n_nodes, F), float32
    """
    x = np.asarray(features, dtype=np.float32)
    if centring == "none":
        return x.copy()
    x = x - x.mean(axis=1, keepdims=True)
    if centring == "nodes_windows":
        ref = x if train is None else x[np.asarray(train, dtype=bool)]
        x = x - ref.mean(axis=0, keepdims=True)
    return x


def _train_similarity(features: np.ndarray, train: np.ndarray) -> np.ndarray:
    """C_v over the training windows: cosine of each node's features concatenated over windows."""
    x = features[train].transpose(1, 0, 2).reshape(features.shape[1], -1).astype(np.float64)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    u = x / np.where(norm > 0, norm, 1.0)
    return u @ u.T


def _scale(features: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Divide by one scalar (the training windows' RMS): keeps the cosine structure."""
    rms = float(np.sqrt(np.mean(features[train].astype(np.float64) ** 2)))
    return (features / (rms if rms > 0 else 1.0)).astype(np.float32)


def _batched_edges(edge_index, n_nodes: int, n_windows: int):
    """Copies of one graph for a batch of windows, window-major (window b: offset b*n)."""
    import torch

    offsets = torch.arange(n_windows, dtype=torch.long).repeat_interleave(edge_index.shape[1]) * n_nodes
    return edge_index.repeat(1, n_windows) + offsets


def _resolve_config(config) -> tuple[Phase2Config, CouplingConfig]:
    if config is None:
        return Phase2Config(), CouplingConfig()
    if isinstance(config, Phase2Config):
        return config, CouplingConfig()
    p2 = getattr(config, "phase2", None)
    if not isinstance(p2, Phase2Config):
        raise TypeError(f"config must be an AnalysisConfig (with .phase2) or a Phase2Config, got {type(config)}")
    cpl = getattr(config, "coupling", None)
    return p2, cpl if isinstance(cpl, CouplingConfig) else CouplingConfig()


def _check_inputs(inputs: Phase2Inputs) -> None:
    n_win, n_nodes, _ = inputs.fmri_features.shape
    n_bands = len(inputs.bands)
    if inputs.eeg_roi_features.shape[:3] != (n_bands, n_win, n_nodes):
        raise ValueError(f"eeg_roi_features has shape {inputs.eeg_roi_features.shape}, expected "
                         f"({n_bands}, {n_win}, {n_nodes}, F)")
    if inputs.eeg_electrode_features.shape[:2] != (n_bands, n_win):
        raise ValueError(f"eeg_electrode_features has shape {inputs.eeg_electrode_features.shape}, "
                         f"expected ({n_bands}, {n_win}, n_ch, F)")
    if len(inputs.node_index) != n_nodes or len(inputs.split) != n_win:
        raise ValueError(f"node_index ({len(inputs.node_index)}) / split ({len(inputs.split)}) do not "
                         f"match {n_nodes} nodes / {n_win} windows")
    if not np.any(np.asarray(inputs.split) == "train"):
        raise ValueError("phase 2 needs at least one training window")
    if n_nodes < 2:
        raise ValueError(f"phase 2 needs at least 2 nodes, got {n_nodes}")


def run_phase2(inputs: Phase2Inputs, config=None, progress=None, cancel=None,
               on_epoch: Optional[Callable[[dict], None]] = None) -> Phase2Result:
    """Train phase 2 and compute the coupling; see :func:`_run_phase2` for the details.

    Torch runs on one thread during the call (restored afterwards): the phase-2 model
    is many small graph operations, which gain nothing from intra-op threads and slow
    down about tenfold when those threads compete for busy cores (measured on the demo).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_phase2(inputs, config, progress, cancel, on_epoch)
    finally:
        torch.set_num_threads(threads)


def _run_phase2(inputs: Phase2Inputs, config=None, progress=None, cancel=None,
                on_epoch: Optional[Callable[[dict], None]] = None) -> Phase2Result:
    """Train phase 2 and compute the coupling (DESIGN.md steps 6-10).

    Training samples are windows: for window w and view v the model reads the
    node features X_v[w] (scaled by one scalar) on the view graph (fixed: k-NN on
    C_v of the training windows) and reconstructs the window's own node
    correlations C_v[w] (eq. 11, on features centred as ``config.centring`` says,
    see :func:`centre_features`) from the final embeddings (eq. 23). Adam on mini-batches of training windows;
    the weights of the epoch with the lowest validation loss are kept (training
    loss when there are no validation windows). The arrays of the bundle are the
    means over all windows of the per-window outputs of that model; the mean of
    normalised attention or fusion weights is still normalised.

    The GAT of each band is also run (same weights, no further training) on a
    k-NN graph of the electrodes built the same way from the electrode features,
    so that the electrode view can draw attention edges.

    Parameters
    ----------
    inputs : Phase2Inputs
    config : AnalysisConfig or Phase2Config or None
        Uses ``config.phase2`` and ``config.coupling`` of an AnalysisConfig; a bare
        Phase2Config uses the default coupling settings.
    progress, cancel
        See :mod:`eegfmri_viewer.progress`.
    on_epoch : callable or None
        Called after every epoch with ``dict(stage="phase2", epoch, loss, val_loss,
        train_acc=None, val_acc=None)``.

    Returns
    -------
    Phase2Result
    """
    import torch

    from eegfmri_viewer.models.phase2 import Phase2Model, view_order
    from eegfmri_viewer.models.reconstruction_loss import cosine_similarity_matrix, reconstruction_loss
    from eegfmri_viewer.models.gat import with_self_loops
    from eegfmri_viewer.pipeline.coupling import embedding_coupling, lagged_coupling

    t0 = time.perf_counter()
    cfg, ccfg = _resolve_config(config)
    problems = cfg.problems() + ccfg.problems()
    if problems:
        raise ValueError("phase-2 settings out of range: " + "; ".join(problems))
    _check_inputs(inputs)
    report(progress, 0.0, "phase 2: building view graphs")

    bands = list(inputs.bands)
    views = view_order(bands)
    split = np.asarray(inputs.split).astype(str)
    train, val, test = split == "train", split == "val", split == "test"
    n_win, n_nodes, _ = inputs.fmri_features.shape
    raw = {b: np.asarray(inputs.eeg_roi_features[i]) for i, b in enumerate(bands)}
    raw["fmri"] = np.asarray(inputs.fmri_features)

    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)

    # Per view: graph on C_v of the training windows, scaled inputs, per-window targets C_v[w].
    graphs, feats, targets = [], [], []
    for v in views:
        centred = centre_features(raw[v], cfg.centring, train)
        edges = knn_edges_from_similarity(_train_similarity(centred, train), cfg.k)
        graphs.append(with_self_loops(torch.as_tensor(edges), n_nodes))
        feats.append(torch.as_tensor(_scale(raw[v], train)))
        targets.append(cosine_similarity_matrix(torch.as_tensor(centred)))
    targets = torch.stack(targets, dim=1)  # (n_win, M, n, n)

    model = Phase2Model([f.shape[-1] for f in feats], views, cfg.hidden_dim, cfg.out_dim, cfg.heads,
                        cfg.cross_heads, cfg.n_layers, cfg.rho)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def forward(idx: torch.Tensor):
        b = len(idx)
        xs = [f[idx].reshape(b * n_nodes, -1) for f in feats]
        eis = [_batched_edges(g, n_nodes, b) for g in graphs]
        out = model(xs, eis, add_self_loops=False)
        final = out.final.reshape(b, n_nodes, len(views), -1).transpose(1, 2)  # (b, M, n, d)
        return out, reconstruction_loss(targets[idx], final)

    def evaluate(mask: np.ndarray) -> float:
        idx_all = torch.as_tensor(np.nonzero(mask)[0])
        if len(idx_all) == 0:
            return float("nan")
        model.eval()
        total = 0.0
        with torch.no_grad():
            for start in range(0, len(idx_all), 4 * cfg.batch_size):
                idx = idx_all[start:start + 4 * cfg.batch_size]
                total += float(forward(idx)[1]) * len(idx)
        return total / len(idx_all)

    train_idx = torch.as_tensor(np.nonzero(train)[0])
    losses, val_losses = [], []
    best, best_epoch, best_state, stale = float("inf"), 0, copy.deepcopy(model.state_dict()), 0
    train_progress = sub_progress(progress, 0.0, 0.8)
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = train_idx[torch.randperm(len(train_idx), generator=gen)]
        total = 0.0
        for start in range(0, len(order), cfg.batch_size):
            check_cancel(cancel)
            idx = order[start:start + cfg.batch_size]
            optimiser.zero_grad()
            loss = forward(idx)[1]
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(idx)
        train_loss = total / len(order)
        val_loss = evaluate(val)
        losses.append(train_loss)
        val_losses.append(val_loss)
        monitored = val_loss if val.any() else train_loss
        if monitored < best - 1e-9:
            best, best_epoch, best_state, stale = monitored, epoch, copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
        if on_epoch is not None:
            on_epoch(dict(stage="phase2", epoch=epoch, loss=train_loss, val_loss=val_loss,
                          train_acc=None, val_acc=None))
        report(train_progress, epoch / cfg.epochs, f"phase 2: epoch {epoch}, loss {train_loss:.4g}")
        if stale > cfg.patience:
            break
    model.load_state_dict(best_state)
    test_loss = evaluate(test)

    # Means over all windows of the trained model's outputs.
    report(progress, 0.8, "phase 2: embeddings and attention")
    model.eval()
    m = len(views)
    sums: dict = {}

    def add(key, value):
        sums[key] = sums.get(key, 0.0) + value

    with torch.no_grad():
        all_idx = torch.arange(n_win)
        for start in range(0, n_win, 4 * cfg.batch_size):
            check_cancel(cancel)
            idx = all_idx[start:start + 4 * cfg.batch_size]
            b = len(idx)
            out, _ = forward(idx)
            add("final", out.final.reshape(b, n_nodes, m, -1).sum(0))
            add("fused", out.fused.reshape(b, n_nodes, -1).sum(0))
            add("omega", out.omega.reshape(b, n_nodes, m).sum(0))
            add("cross", out.cross_attention.reshape(b, n_nodes, *out.cross_attention.shape[1:]).sum(0))
            for vi in range(m):
                for li, alpha in enumerate(out.gat_attention[vi]):
                    add(("gat", vi, li), alpha.reshape(b, -1, alpha.shape[-1]).sum(0))
    mean = {k: (v / n_win).numpy() for k, v in sums.items()}

    gat_arrays = {"node_index": np.asarray(inputs.node_index, dtype=np.int64)}
    for vi, v in enumerate(views):
        gat_arrays[f"{v}_edge_index"] = graphs[vi].numpy().astype(np.int64)
        gat_arrays[f"{v}_attention"] = np.stack(
            [mean[("gat", vi, li)].T for li in range(cfg.n_layers)]).astype(np.float32)

    # Electrode graphs: the band's GAT on a k-NN graph of the electrodes.
    check_cancel(cancel)
    with torch.no_grad():
        for bi, band in enumerate(bands):
            x = np.asarray(inputs.eeg_electrode_features[bi])
            n_ch = x.shape[1]
            edges = with_self_loops(torch.as_tensor(
                knn_edges_from_similarity(_train_similarity(centre_features(x, cfg.centring, train), train), cfg.k)), n_ch)
            xs = torch.as_tensor(_scale(x, train))
            acc = [0.0] * cfg.n_layers
            for start in range(0, n_win, 4 * cfg.batch_size):
                check_cancel(cancel)
                chunk = xs[start:start + 4 * cfg.batch_size]
                b = chunk.shape[0]
                _, _, alphas = model.gats[band](chunk.reshape(b * n_ch, -1),
                                                _batched_edges(edges, n_ch, b), add_self_loops=False)
                for li, alpha in enumerate(alphas):
                    acc[li] = acc[li] + alpha.reshape(b, -1, alpha.shape[-1]).sum(0)
            gat_arrays[f"eeg_{band}_edge_index"] = edges.numpy().astype(np.int64)
            gat_arrays[f"eeg_{band}_attention"] = np.stack([(a / n_win).numpy().T for a in acc]).astype(np.float32)

    node_index = np.asarray(inputs.node_index, dtype=np.int64)
    final = mean["final"]  # (n, M, d)
    fusion = dict(views=np.asarray(views), cross_view_attention=mean["cross"].astype(np.float32),
                  fusion_weights=mean["omega"].astype(np.float32),
                  fusion_weights_global=mean["omega"].mean(0).astype(np.float32),
                  rho=np.asarray(float(cfg.rho)), node_index=node_index)
    embeddings = {v: final[:, vi].astype(np.float32) for vi, v in enumerate(views)}
    embeddings["fused"] = mean["fused"].astype(np.float32)
    embeddings["node_index"] = node_index

    report(progress, 0.85, "phase 2: EEG-fMRI coupling")
    band_emb = np.stack([embeddings[b] for b in bands])
    coupling, coupling_global = embedding_coupling(band_emb, embeddings["fmri"])
    lagged = lagged_coupling(inputs.eeg_power_roi, inputs.bold_roi, inputs.tr,
                             ccfg.min_lag_s, ccfg.max_lag_s, ccfg.n_permutations, ccfg.block_s, ccfg.seed,
                             null=ccfg.null, confounds=inputs.task_design,
                             progress=sub_progress(progress, 0.85, 1.0), cancel=cancel)
    coupling_arrays = dict(bands=np.asarray(bands), node_index=node_index, coupling=coupling,
                           coupling_global=coupling_global, **lagged)

    metrics = dict(loss=losses, val_loss=val_losses, best_epoch=best_epoch,
                   best_val_loss=best if val.any() else None, test_loss=test_loss,
                   epochs=len(losses), stopped_early=len(losses) < cfg.epochs,
                   n_nodes=int(n_nodes), views=views, seconds=time.perf_counter() - t0)
    metrics = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in metrics.items()}
    metrics["val_loss"] = [None if not np.isfinite(v) else v for v in val_losses]
    report(progress, 1.0, "phase 2 done")
    return Phase2Result(
        arrays=dict(gat_attention=gat_arrays, fusion=fusion, embeddings=embeddings, coupling=coupling_arrays),
        metrics=metrics,
        state_dict={k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
    )
