"""2-D report figures drawn with matplotlib's Agg canvas (no pyplot, no GUI).

Each function returns PNG bytes. Figures are drawn on ``matplotlib.figure.Figure``
objects directly, so they are thread-safe and never open a window.
"""

from __future__ import annotations

import io
from typing import Optional, Sequence

import numpy as np


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _phase1_histories(metrics: dict) -> list:
    """``(name, history)`` of every phase-1 model with a non-empty history."""
    curves = []
    phase1 = metrics.get("phase1", {})
    if "fmri" in phase1:
        curves.append(("fMRI", phase1["fmri"].get("history", [])))
    for band, entry in phase1.get("eeg", {}).items():
        curves.append((f"EEG {band}", entry.get("history", [])))
    return [(name, h) for name, h in curves if h]


def has_validation_accuracy(metrics: dict) -> bool:
    """True when some phase-1 epoch has a finite validation accuracy (there were validation windows)."""
    for _, history in _phase1_histories(metrics):
        for h in history:
            v = h.get("val_acc")
            if isinstance(v, (int, float)) and np.isfinite(v):
                return True
    return False


def training_curves(metrics: dict) -> Optional[bytes]:
    """Loss and validation accuracy per epoch of every phase-1 model and phase 2.

    Without validation windows (no finite ``val_acc``) the validation panel is
    left out rather than drawn empty; the report says why.

    Parameters
    ----------
    metrics : dict
        Content of ``metrics.json``.
    """
    curves = _phase1_histories(metrics)
    phase2_loss = metrics.get("phase2", {}).get("loss", [])
    if not curves and not phase2_loss:
        return None
    with_val = has_validation_accuracy(metrics)
    n_panels = 1 + with_val + bool(phase2_loss)
    fig = _figure(10 * n_panels / 3, 3.2)
    axes = list(np.atleast_1d(fig.subplots(1, n_panels)))
    ax_loss = axes[0]
    ax_acc = axes[1] if with_val else None
    for name, history in curves:
        epochs = [h.get("epoch", i) for i, h in enumerate(history)]
        ax_loss.plot(epochs, [_number(h.get("loss")) for h in history], label=name)
        if ax_acc is not None:
            ax_acc.plot(epochs, [_number(h.get("val_acc")) for h in history], label=name)
    ax_loss.set(title="Phase 1 training loss", xlabel="epoch")
    if ax_acc is not None:
        ax_acc.set(title="Phase 1 validation accuracy", xlabel="epoch", ylim=(0, 1.02))
        ax_acc.legend(fontsize=7)
    elif curves:
        ax_loss.legend(fontsize=7)
    if phase2_loss:
        ax_p2 = axes[-1]
        ax_p2.plot(np.arange(1, len(phase2_loss) + 1), phase2_loss, color="k")
        ax_p2.set(title="Phase 2 reconstruction loss (eq. 24)", xlabel="epoch", yscale="log")
    return _png(fig)


def _number(value) -> float:
    """A metric as a float; NaN for None or a non-number (metrics.json may hold null)."""
    return float(value) if isinstance(value, (int, float)) else np.nan


def _head_outline(ax) -> None:
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="k", lw=1.2)
    ax.plot([-0.12, 0, 0.12], [0.99, 1.12, 0.99], color="k", lw=1.2)
    for side in (-1, 1):
        ear = np.linspace(-0.25, 0.25, 50)
        ax.plot(side * (1.0 + 0.06 * np.cos(ear * np.pi * 2)), ear, color="k", lw=1.2)


def electrode_graph(
    pos_2d: np.ndarray,
    names: Sequence[str],
    cam: np.ndarray,
    edge_index: Optional[np.ndarray] = None,
    edge_weight: Optional[np.ndarray] = None,
    title: str = "",
    top_edges: int = 40,
) -> bytes:
    """Electrodes on a head outline, coloured by CAM, with the strongest edges.

    Parameters
    ----------
    pos_2d : ndarray, shape (n_channels, 2)
        Topomap layout of the electrodes (nose up).
    names : sequence of str, length n_channels
    cam : ndarray, shape (n_channels,)
        Saliency of each electrode.
    edge_index : ndarray, shape (2, n_edges) or None
    edge_weight : ndarray, shape (n_edges,) or None
        Edge weights (GAT attention); the ``top_edges`` largest are drawn,
        width and opacity by weight.
    """
    fig = _figure(4.2, 4.4)
    ax = fig.add_subplot(111)
    xy = np.asarray(pos_2d, dtype=float)
    scale = np.abs(xy).max() or 1.0
    xy = xy / scale * 0.9
    if edge_index is not None and edge_weight is not None and len(edge_weight):
        order = np.argsort(-edge_weight)[:top_edges]
        wmax = float(edge_weight[order].max()) or 1.0
        for e in order:
            i, j = edge_index[:, e]
            if i == j:
                continue
            w = float(edge_weight[e]) / wmax
            ax.plot(xy[[i, j], 0], xy[[i, j], 1], color="tab:purple", lw=0.5 + 3 * w, alpha=0.2 + 0.7 * w)
    _head_outline(ax)
    lim = float(np.nanmax(np.abs(cam))) or 1.0
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=cam, cmap="RdBu_r", vmin=-lim, vmax=lim, s=60, edgecolors="k", linewidths=0.5, zorder=3)
    for (x, y), name in zip(xy, names):
        ax.text(x, y - 0.07, name, ha="center", va="top", fontsize=5)
    fig.colorbar(sc, ax=ax, shrink=0.6, label="CAM")
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    return _png(fig)


def fusion_weights(views: Sequence[str], global_weights: np.ndarray, b_weights: Optional[np.ndarray] = None) -> bytes:
    """Bars of the global fusion weights ω per view (optionally A beside B).

    Parameters
    ----------
    views : sequence of str, length n_views
    global_weights : ndarray, shape (n_views,)
    b_weights : ndarray, shape (n_views,) or None
        Second session's weights, drawn beside the first.
    """
    fig = _figure(5, 3)
    ax = fig.add_subplot(111)
    x = np.arange(len(views))
    width = 0.4 if b_weights is not None else 0.7
    ax.bar(x - (width / 2 if b_weights is not None else 0), global_weights, width, label="A" if b_weights is not None else None)
    if b_weights is not None:
        ax.bar(x + width / 2, b_weights, width, label="B")
        ax.legend()
    ax.axhline(1 / len(views), color="grey", ls="--", lw=0.8)
    ax.set_xticks(x, list(views))
    ax.set(ylabel="fusion weight ω (mean over nodes)", title="Multi-view fusion weights (eqs. 21-22)")
    return _png(fig)


def coupling_heatmap(bands: Sequence[str], roi_labels: Sequence[str], coupling: np.ndarray) -> bytes:
    """Bands × ROIs heatmap of EEG-fMRI coupling.

    Parameters
    ----------
    coupling : ndarray, shape (n_bands, n_rois)
    """
    fig = _figure(max(5, 0.25 * len(roi_labels) + 2), 3)
    ax = fig.add_subplot(111)
    lim = float(np.nanmax(np.abs(coupling))) or 1.0
    im = ax.imshow(coupling, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_yticks(np.arange(len(bands)), list(bands))
    ax.set_xticks(np.arange(len(roi_labels)), list(roi_labels), rotation=90, fontsize=6)
    fig.colorbar(im, ax=ax, label="cos(ἔ_band, ἔ_fMRI)")
    ax.set_title("EEG-fMRI coupling per band and ROI")
    return _png(fig)


def coupling_time_courses(tr: float, power: np.ndarray, bold: np.ndarray, blocks: Optional[np.ndarray],
                          classes: Sequence[str], title: str, window: int) -> bytes:
    """One recording's band power and BOLD at a ROI over the class blocks, and their sliding-window r.

    Parameters
    ----------
    tr : float
        Seconds per volume.
    power, bold : ndarray, shape (n_volumes,)
        z-scored HRF-convolved band power on the ROI and the ROI's BOLD.
    blocks : ndarray, shape (n_classes, n_volumes) or None
        Fraction of each volume in each class's events.
    classes : sequence of str
    title : str
    window : int
        Volumes in the sliding window of the lower panel.
    """
    from eegfmri_viewer.pipeline.coupling import block_runs, sliding_correlation, sliding_null_band

    t = np.arange(len(power)) * tr
    fig = _figure(8, 3.6)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    if blocks is not None:
        labelled = set()
        for c, start, stop in block_runs(blocks):
            top.axvspan(start * tr, stop * tr, color=f"C{c}", alpha=0.18, lw=0,
                        label=classes[c] if c not in labelled else None)
            labelled.add(c)
    top.plot(t, power, color="#228833", lw=1.4, label="band power (HRF-convolved)")
    top.plot(t, bold, color="#aa3377", lw=1.4, label="BOLD")
    top.set(ylabel="z", title=title)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    if 3 <= window <= len(power):
        centres, r = sliding_correlation(power, bold, window)
        lo, hi = sliding_null_band(power, bold, window)
        if np.isfinite(lo):
            bottom.axhspan(lo, hi, xmin=0, xmax=1, color="grey", alpha=0.25, lw=0)
        bottom.plot(centres * tr, r, color="black", lw=1.2)
    bottom.axhline(0, color="grey", lw=0.8)
    bottom.axhline(float(np.mean(power * bold)), color="black", lw=0.8, ls="--")
    bottom.set(ylim=(-1.05, 1.05), ylabel="r", xlabel="time (s)")
    bottom.set_title(f"r in a {window * tr:g}-s window (dashed: whole run; grey: 95 % of r with the BOLD "
                     "shifted in time)", fontsize=8)
    return _png(fig)
