"""Small synthetic window sets for the phase-1 training tests."""

import numpy as np


def two_class_windows(shift: float, n_blocks: int = 24, per_block: int = 3, n_nodes: int = 12, n_times: int = 4):
    """Two classes in alternating blocks of two subjects; class 1 raises the first 3 nodes by ``shift``.

    Returns
    -------
    x : ndarray, shape (n_blocks * per_block, n_nodes, n_times)
    labels, split, subjects : ndarray, shape (n_blocks * per_block,)
        Split by blocks (``block_split``, seed 0).
    """
    from eegfmri_viewer.training.splits import block_split

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(n_blocks) % 2, per_block)
    blocks = np.repeat(np.arange(n_blocks), per_block)
    subjects = np.repeat(np.array(["01", "02"] * (n_blocks // 2)), per_block)
    x = rng.normal(size=(len(labels), n_nodes, n_times)).astype(np.float32)
    x[labels == 1, :3] += shift
    return x, labels, block_split(labels, blocks, subjects, seed=0), subjects
