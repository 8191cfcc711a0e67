"""Settings of phase 2 (GAT, cross-view attention, fusion) and of the EEG-fMRI coupling.

These dataclasses are the ``[phase2]`` and ``[coupling]`` tables of the analysis
configuration (``AnalysisConfig`` nests them). Defaults follow DESIGN.md steps 6-10;
``docs/method.md`` explains each choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from eegfmri_viewer.pipeline.config_fields import choice_field, choice_problems


@dataclass
class Phase2Config:
    """Phase 2: per-view GAT, cross-view attention and multi-view fusion.

    Attributes
    ----------
    enabled : bool
        Run phase 2 when the data hold EEG and fMRI.
    hidden_dim : int
        Channels per head of the first GAT layer (its output is ``hidden_dim * heads``).
    out_dim : int
        Embedding size d of every view (second GAT layer, heads averaged).
    heads : int
        Attention heads of each GAT layer.
    cross_heads : int
        Heads of the cross-view attention; must divide ``out_dim``.
    n_layers : int
        GAT layers per view (the paper uses 2).
    k : int
        Neighbours per node in each view graph (k-NN on C_v); clipped to n_nodes - 1.
    centring : str
        Centring of the node features before the cosine of eq. 11 (C_v, the view
        graphs and the targets of eq. 23): ``"nodes_windows"`` (remove the mean over
        nodes in every window, then each node's mean over windows), ``"nodes"``
        (only the former) or ``"none"`` (raw features, eq. 11 literally).
    rho : float
        Share of the cross-view representation in eq. 20, 0 <= rho <= 1.
    epochs : int
        Maximum training epochs.
    lr : float
        Adam learning rate of phase 2 (GAT, cross-view attention and fusion).
    weight_decay : float
        Adam weight decay (L2).
    batch_size : int
        Windows per optimisation step.
    patience : int
        Early stopping: epochs without a lower validation loss before stopping.
    seed : int
        Seed of torch and numpy for initialisation and batch order.
    n_salient : int
        Size of the phase-2 node set: the salient fMRI ROIs (ranked by the phase-1
        CAM, union over classes) that ``analyze`` passes on as ``node_index``.
        At least 2 (phase 2 relates nodes to each other); above the atlas size
        it is clipped to the atlas size, with a warning.
    """

    enabled: bool = True
    hidden_dim: int = 16
    out_dim: int = 16
    heads: int = 4
    cross_heads: int = 4
    n_layers: int = 2
    k: int = 8
    centring: str = choice_field("nodes_windows", ("nodes_windows", "nodes", "none"))
    rho: float = 0.8
    epochs: int = 60
    lr: float = 1e-2
    weight_decay: float = 1e-4
    batch_size: int = 64
    patience: int = 10
    seed: int = 0
    n_salient: int = 32

    def problems(self) -> list[str]:
        """Return the settings that are out of range, as ``"key: why"`` sentences."""
        out = choice_problems(self)
        for key in ("hidden_dim", "out_dim", "heads", "cross_heads", "n_layers", "k",
                    "epochs", "batch_size"):
            if int(getattr(self, key)) < 1:
                out.append(f"{key}: must be at least 1, got {getattr(self, key)}")
        if int(self.n_salient) < 2:
            # one node has no graph, attention or coupling across nodes: phase 2 would be skipped
            out.append(f"n_salient: must be at least 2 (phase 2 relates ROIs to each other), got {self.n_salient}")
        if self.patience < 0:
            out.append(f"patience: must be >= 0, got {self.patience}")
        if not 0.0 <= self.rho <= 1.0:
            out.append(f"rho: must lie in [0, 1], got {self.rho}")
        if self.lr <= 0:
            out.append(f"lr: must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            out.append(f"weight_decay: must be >= 0, got {self.weight_decay}")
        if self.cross_heads >= 1 and self.out_dim % self.cross_heads:
            out.append(f"cross_heads: must divide out_dim ({self.out_dim}), got {self.cross_heads}")
        return out


@dataclass
class CouplingConfig:
    """Lagged EEG-power / BOLD coupling (DESIGN.md step 10).

    Attributes
    ----------
    min_lag_s : float
        Shortest (most negative) BOLD shift relative to the HRF-convolved EEG
        band power, in seconds; lags are taken in steps of one TR from
        ``min_lag_s`` to ``max_lag_s``. Negative lag: BOLD precedes EEG.
    max_lag_s : float
        Longest BOLD shift relative to the HRF-convolved EEG band power, in
        seconds (steps of one TR). Positive lag: BOLD follows EEG.
    n_permutations : int
        Surrogates for the p-value (0 skips the test; p-values are then NaN).
    null : {"shift", "blocks"}
        Surrogate BOLD under the null: circularly shifted by at least ``block_s``
        (keeps the whole autocorrelation but at the wrap point), or cut into
        blocks of ``block_s`` that are shuffled (a little liberal for slow signals).
    block_s : float
        Least circular shift, or length of the shuffled blocks, in seconds. At
        least the span of the HRF (32 s), so that the surrogate never lines up
        with the original within the lags searched.
    seed : int
        Seed of the permutation draw.
    remove_task : bool
        Remove the task from both sides first (each class's block regressor, in
        the forms it takes in the HRF-convolved band power and in the BOLD,
        fitted by least squares per recording), so the lagged correlation
        measures the coupling beyond what the task drives in both.
        Off by default: the plain correlation the paper uses.
    """

    min_lag_s: float = -10.0
    max_lag_s: float = 10.0
    n_permutations: int = 200
    null: str = choice_field("shift", ("shift", "blocks"))
    block_s: float = 32.0
    seed: int = 0
    remove_task: bool = False

    def problems(self) -> list[str]:
        """Return the settings that are out of range, as ``"key: why"`` sentences."""
        out = choice_problems(self)
        if self.min_lag_s > self.max_lag_s:
            out.append(f"min_lag_s: must be <= max_lag_s ({self.max_lag_s}), got {self.min_lag_s}")
        if self.n_permutations < 0:
            out.append(f"n_permutations: must be >= 0, got {self.n_permutations}")
        if self.block_s <= 0:
            out.append(f"block_s: must be > 0, got {self.block_s}")
        return out
