"""Stratified train / validation / test split by blocks.

Windows cut from one block (one event) overlap and share its slow signal
drifts, so a window-level split would leak test information into training.
Every block goes as a whole to exactly one split. Blocks are stratified by
class, and by subject as well when every (subject, class) has at least three
blocks, so that every split sees every class (and, when possible, every
subject).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy import ndarray

SPLIT_NAMES = ("train", "val", "test")


def _allocate(n: int, fractions: Sequence[float]) -> list:
    """Counts for val and test out of ``n`` blocks; train gets the rest (>= 1)."""
    val_f, test_f = fractions
    if n >= 3:
        n_test = max(1, int(round(n * test_f))) if test_f > 0 else 0
        n_val = max(1, int(round(n * val_f))) if val_f > 0 else 0
        while n_test + n_val > n - 1:
            if n_val >= n_test and n_val > 0:
                n_val -= 1
            else:
                n_test -= 1
        return [n_val, n_test]
    if n == 2:
        return [0, 1] if test_f > 0 else [1 if val_f > 0 else 0, 0]
    return [0, 0]


def block_split(labels: ndarray, blocks: ndarray, groups: ndarray | None = None, val_fraction: float = 0.2,
                test_fraction: float = 0.2, seed: int = 0) -> ndarray:
    """Assign every window to ``"train"``, ``"val"`` or ``"test"`` by block.

    Parameters
    ----------
    labels : ndarray, shape (n_windows,)
        Class index of each window; all windows of a block share it.
    blocks : ndarray, shape (n_windows,)
        Block identifier of each window, unique over the whole data set (for
        several recordings combine recording and event index first, see
        :func:`unique_blocks`).
    groups : ndarray, shape (n_windows,), optional
        Subject of each window, used as an extra stratum when every
        (subject, class) has at least three blocks.
    val_fraction, test_fraction : float
        Fractions of the blocks of each stratum (rounded, at least one block
        each when the stratum has three or more blocks).
    seed : int
        Seed of the shuffle.

    Returns
    -------
    split : ndarray, shape (n_windows,), dtype '<U5'
        ``"train"``, ``"val"`` or ``"test"``.

    Raises
    ------
    ValueError
        When a block holds windows of different classes.
    """
    labels = np.asarray(labels)
    blocks = np.asarray(blocks)
    if labels.shape != blocks.shape:
        raise ValueError(f"labels {labels.shape} and blocks {blocks.shape} differ in shape")
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError("val_fraction and test_fraction must be in [0, 1) and sum to less than 1")
    uniq, first = np.unique(blocks, return_index=True)
    block_label = labels[first]
    for b, lab in zip(uniq, block_label):
        if np.any(labels[blocks == b] != lab):
            raise ValueError(f"block {b} holds windows of more than one class")
    block_group = np.asarray(groups)[first] if groups is not None else np.zeros(len(uniq), dtype=int)

    def strata(keys):
        out = {}
        for i, key in enumerate(keys):
            out.setdefault(key, []).append(i)
        return out

    by_subject_class = strata(list(zip(block_group.tolist(), block_label.tolist())))
    if groups is not None and min(len(v) for v in by_subject_class.values()) >= 3:
        chosen = by_subject_class
    else:
        chosen = strata(block_label.tolist())
    rng = np.random.default_rng(seed)
    block_split_name = np.empty(len(uniq), dtype="<U5")
    for key in sorted(chosen, key=str):
        idx = np.array(chosen[key])
        idx = idx[rng.permutation(len(idx))]
        n_val, n_test = _allocate(len(idx), (val_fraction, test_fraction))
        block_split_name[idx] = "train"
        block_split_name[idx[:n_test]] = "test"
        block_split_name[idx[n_test:n_test + n_val]] = "val"
    position = np.searchsorted(uniq, blocks)
    return block_split_name[position]


def _span(values) -> str:
    lo, hi = min(values), max(values)
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def split_share_warnings(labels: ndarray, blocks: ndarray, split: ndarray, test_fraction: float) -> list:
    """Warn when whole blocks give the test set a share of the windows far from ``test_fraction``.

    With few blocks per class the rounding to whole blocks dominates: two
    blocks per class put one in test, half of the windows, and leave each class
    one block to train on. Far means off by more than ``max(0.1, test_fraction / 2)``.

    Parameters
    ----------
    labels : ndarray, shape (n_windows,)
        Class index of each window.
    blocks : ndarray, shape (n_windows,)
        Block identifier of each window (as given to :func:`block_split`).
    split : ndarray, shape (n_windows,)
        ``"train"`` / ``"val"`` / ``"test"`` (from :func:`block_split`).
    test_fraction : float
        The fraction asked for (``training.test_fraction``).

    Returns
    -------
    warnings : list of str
        Empty, or one message naming the share, the blocks per class in each
        split, and what would help.
    """
    labels, blocks, split = np.asarray(labels), np.asarray(blocks), np.asarray(split)
    n = split.size
    if n == 0:
        return []
    n_test = int(np.count_nonzero(split == "test"))
    share = n_test / n
    if abs(share - test_fraction) <= max(0.1, test_fraction / 2):
        return []
    counts = {name: [] for name in ("total", *SPLIT_NAMES)}
    for c in np.unique(labels):
        in_class = labels == c
        counts["total"].append(len(np.unique(blocks[in_class])))
        for name in SPLIT_NAMES:
            counts[name].append(len(np.unique(blocks[in_class & (split == name)])))
    return [f"the test set holds {n_test} of {n} windows ({share:.0%}; training.test_fraction {test_fraction:g}): "
            f"{_span(counts['total'])} blocks per class, split {_span(counts['train'])} train / "
            f"{_span(counts['val'])} validation / {_span(counts['test'])} test, so a class may train on "
            f"{min(counts['train'])} block(s); more runs or blocks per class give a steadier estimate"]


def unique_blocks(recording_index: ndarray, blocks: ndarray) -> ndarray:
    """Block identifiers unique across recordings.

    Parameters
    ----------
    recording_index : ndarray, shape (n_windows,)
        Index of the recording each window came from.
    blocks : ndarray, shape (n_windows,)
        Event index within its recording.

    Returns
    -------
    ids : ndarray, shape (n_windows,), int64
    """
    recording_index = np.asarray(recording_index, dtype=np.int64)
    blocks = np.asarray(blocks, dtype=np.int64)
    span = int(blocks.max()) + 1 if blocks.size else 1
    return recording_index * span + blocks
