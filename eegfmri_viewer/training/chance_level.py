"""Is a phase-1 model's test accuracy above chance?

A CAM is only worth reading when the model it comes from tells the classes
apart. With few test windows a score well above chance can still be luck, so
the views and the report say, next to each map, how many test windows the
accuracy rests on and whether it beats chance.

Chance is the accuracy of the best rule that ignores the data: always
answering the class most frequent among the test windows. With balanced test
windows that is ``1 / n_classes``; the split keeps each class's share of
blocks, not of windows, so unbalanced data (or blocks of unequal length) give
unbalanced test windows, and a model that always answers the largest class
would beat ``1 / n_classes``. The test is the exact one-sided binomial test of
the number of correctly classified test windows against that rate:

    p = P(X >= k),  X ~ Binomial(n, max_c n_c / n)

It treats the windows as independent. Windows of one block are not (they share
the block's haemodynamics), so that p-value is a best case: a model that fails
this test is certainly not shown to beat chance, while one that passes it may
still rest on few blocks.

So ``analyze`` also stores a block permutation test (:func:`block_permutation_test`):
the class labels of the test *blocks* are exchanged among the blocks of each
recording (run), all windows of a block moving together, and the windows right
are counted again for each arrangement:

    p = #{arrangements with at least as many windows right as observed} / #{arrangements}

exactly, over every distinct arrangement, when each recording has few enough
(:data:`MAX_EXACT_ARRANGEMENTS`; typical, with a few test blocks per run), else
over random arrangements, ``(1 + #{>= observed}) / (1 + N)``. Under the null
hypothesis (predictions unrelated to the classes) the block labels of a
randomised block design are exchangeable within a run, so this p-value is valid
whatever the dependence between the windows of a block; it cannot be smaller
than what the number of test blocks allows (3 test blocks of 3 classes in one
run: 6 arrangements, p >= 1/6). Where it exists, the verdict ("above chance") is
this test's; the binomial p-value is kept beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

#: Below this many test windows the accuracy is called "few windows" whatever its p-value.
FEW_TEST_WINDOWS = 20
ALPHA = 0.05
#: Random arrangements of the block test when it is not exact (its smallest p-value is then 1 / (N + 1)).
N_BLOCK_PERMUTATIONS = 2000
#: The block test is exact when no recording has more distinct arrangements of its test blocks' labels.
MAX_EXACT_ARRANGEMENTS = 20000


@dataclass(frozen=True)
class ChanceTest:
    """Test accuracy of one model against chance.

    Attributes
    ----------
    accuracy, balanced_accuracy : float
    n_test : int
        Test windows.
    n_correct : int
        Test windows classified correctly.
    chance : float
        Chance rate: the share of the most frequent class among the test
        windows (``1 / n_classes`` when their classes are not known).
    p_value : float
        One-sided exact binomial p-value of ``n_correct`` or more.
    p_block : float or None
        Block permutation p-value (:func:`block_permutation_test`); None for
        results written before it was stored.
    n_blocks : int or None
        Test blocks behind ``p_block``.
    """

    accuracy: float
    balanced_accuracy: float
    n_test: int
    n_correct: int
    chance: float
    p_value: float
    p_block: Optional[float] = None
    n_blocks: Optional[int] = None

    @property
    def verdict_p(self) -> float:
        """The block permutation p-value where it exists, else the binomial one."""
        return self.p_block if self.p_block is not None else self.p_value

    @property
    def above_chance(self) -> bool:
        """p < 0.05 (the block permutation test's where it exists)."""
        return self.verdict_p < ALPHA

    @property
    def few_windows(self) -> bool:
        return self.n_test < FEW_TEST_WINDOWS


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly in log space.

    Parameters
    ----------
    k, n : int
    p : float
        Success rate, 0 < p < 1.

    Returns
    -------
    tail : float
    """
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * log_p + (n - j) * log_q
             for j in range(k, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def chance_test(entry: dict, test_class_counts=None) -> Optional[ChanceTest]:
    """The chance test of one model's ``metrics.json`` entry (``phase1.fmri`` or ``phase1.eeg.<band>``).

    Parameters
    ----------
    entry : dict
        Needs ``test_acc``, ``n_test`` and ``chance``; ``test_balanced_acc`` is
        carried along, and ``n_test_per_class`` (written since this version)
        sets the chance rate.
    test_class_counts : sequence of int, optional
        Test windows of each class, for entries without ``n_test_per_class``
        (results of earlier versions: from ``windows.npz``).

    Returns
    -------
    test : ChanceTest or None
        None when the entry has no test windows or lacks those keys (results
        of earlier versions).
    """
    try:
        acc = float(entry["test_acc"])
        n = int(entry["n_test"])
        chance = float(entry["chance"])
    except (KeyError, TypeError, ValueError):
        return None
    if n <= 0 or not math.isfinite(acc) or not 0.0 < chance < 1.0:
        return None
    counts = entry.get("n_test_per_class", test_class_counts)
    if counts is not None and len(counts) and sum(int(c) for c in counts) == n:
        # the best data-blind rule: always the most frequent class of the test windows
        chance = max(chance, max(int(c) for c in counts) / n)
    if chance >= 1.0:
        return None
    k = int(round(acc * n))
    balanced = entry.get("test_balanced_acc", float("nan"))
    block = entry.get("block_test") or {}
    p_block = block.get("p_value")
    p_block = float(p_block) if isinstance(p_block, (int, float)) and math.isfinite(p_block) else None
    return ChanceTest(accuracy=acc, balanced_accuracy=float(balanced) if balanced is not None else float("nan"),
                      n_test=n, n_correct=k, chance=chance, p_value=binomial_tail(k, n, chance),
                      p_block=p_block, n_blocks=int(block["n_blocks"]) if p_block is not None else None)


def p_text(p: float) -> str:
    """``"< 0.001"`` or ``"= 0.0498"``: digits enough that the number and the 0.05 verdict agree."""
    if p < 0.001:
        return "< 0.001"
    text = f"{p:.3g}"
    if (p < ALPHA) != (float(text) < ALPHA):
        text = f"{p:.4g}"
    return f"= {text}"


def test_class_counts(labels, split, n_classes: int) -> Optional[list]:
    """Test windows of each class from ``windows.npz`` (``labels``, ``split``), for results of earlier versions.

    Returns
    -------
    counts : list of int or None
        None when the arrays are missing or do not match.
    """
    import numpy as np

    if labels is None or split is None or len(labels) != len(split):
        return None
    test = np.asarray(labels)[np.asarray(split).astype(str) == "test"].astype(int)
    return [int((test == c).sum()) for c in range(int(n_classes))]


def chance_sentence(test: ChanceTest, compact: bool = False) -> str:
    """One line for a view or the report: accuracy, windows, chance, and what that allows.

    Examples
    --------
    "test accuracy 0.57 (balanced 0.56) on 7 windows, chance 0.33: not shown to beat chance
    (binomial p = 0.173); read the map with caution"; with the block test: "test accuracy 0.99
    (balanced 0.99) on 69 windows of 24 blocks, chance 0.33 (block permutation p < 0.001,
    binomial p < 0.001)"; ``compact``: "not shown above chance (binomial p = 0.173): accuracy 0.57, chance
    0.33, 7 test windows"
    """
    blocks = f" of {test.n_blocks} blocks" if test.p_block is not None else ""
    if compact:
        # for a narrow view: the verdict first, the rest in the full sentence
        head = f"accuracy {test.accuracy:.2f}, chance {test.chance:.2f}, {test.n_test} test windows{blocks}"
        which = "block p" if test.p_block is not None else "binomial p"
        return f"not shown above chance ({which} {p_text(test.verdict_p)}): {head}" if not test.above_chance else head
    balanced = f" (balanced {test.balanced_accuracy:.2f})" if math.isfinite(test.balanced_accuracy) else ""
    head = f"test accuracy {test.accuracy:.2f}{balanced} on {test.n_test} windows{blocks}, chance {test.chance:.2f}"
    p = f"binomial p {p_text(test.p_value)}"
    if test.p_block is not None:
        p = f"block permutation p {p_text(test.p_block)}, {p}"
    if not test.above_chance:
        return f"{head}: not shown to beat chance ({p}); read the map with caution"
    if test.few_windows:
        return f"{head} ({p}, but few test windows)"
    return f"{head} ({p})"


def _arrangements(labels) -> "ndarray":
    """Every distinct order of the multiset ``labels``, shape (n_arrangements, len(labels))."""
    import numpy as np

    values, counts = np.unique(np.asarray(labels, dtype=int), return_counts=True)
    out, current, left = [], [], counts.tolist()

    def place(position: int) -> None:
        if position == len(labels):
            out.append(list(current))
            return
        for i, value in enumerate(values.tolist()):
            if left[i]:
                left[i] -= 1
                current.append(value)
                place(position + 1)
                current.pop()
                left[i] += 1

    place(0)
    return np.array(out, dtype=int).reshape(len(out), len(labels))


def _n_arrangements(labels) -> int:
    """Distinct orders of the multiset ``labels``: n! / prod(n_c!)."""
    import numpy as np

    _, counts = np.unique(np.asarray(labels, dtype=int), return_counts=True)
    total = math.factorial(int(counts.sum()))
    for c in counts.tolist():
        total //= math.factorial(int(c))
    return total


def block_permutation_test(labels, pred, blocks, strata, n_permutations: int = N_BLOCK_PERMUTATIONS,
                           seed: int = 0) -> dict:
    """Block permutation test of a model's test accuracy against chance.

    The class labels of the test blocks are exchanged among the blocks of
    each stratum (recording), all windows of a block moving together, and
    the windows right are counted for each arrangement. When every stratum
    has at most :data:`MAX_EXACT_ARRANGEMENTS` distinct arrangements, the
    null distribution is exact: each stratum's arrangements are enumerated and
    the strata's distributions convolved (the statistic is their sum), so the
    p-value is ``P(windows right >= observed)`` over all arrangements, the
    observed one included. Otherwise ``n_permutations`` seeded random
    arrangements give ``(1 + #{>= observed}) / (1 + n_permutations)``, never
    below ``1 / n_arrangements``, the smallest p the blocks allow.

    Parameters
    ----------
    labels, pred : ndarray, shape (n_test,) int
        True and predicted class of each test window.
    blocks : ndarray, shape (n_test,) int
        Block of each window (unique across recordings); all windows of a block
        have one class.
    strata : ndarray, shape (n_test,)
        Recording of each window: block labels are exchanged within it only.
    n_permutations : int
        Random arrangements when the test is not exact.
    seed : int
        Seeds the random arrangements, so that a run repeats its p-value.

    Returns
    -------
    result : dict
        ``p_value``, ``n_blocks``, ``exact`` (bool), ``n_arrangements``
        (distinct arrangements of the block labels, all strata together),
        ``n_permutations`` (random arrangements drawn; 0 when exact) and
        ``unit`` (``"blocks within recordings"``); ``p_value`` is NaN without
        test windows.

    Raises
    ------
    ValueError
        When the windows of one block carry different classes, or the arrays
        differ in length.
    """
    import numpy as np

    labels, pred = np.asarray(labels, dtype=int), np.asarray(pred, dtype=int)
    blocks, strata = np.asarray(blocks), np.asarray(strata).astype(str)
    if not labels.shape == pred.shape == blocks.shape == strata.shape:
        raise ValueError("labels, pred, blocks and strata differ in length")
    result = {"p_value": float("nan"), "n_blocks": 0, "exact": False, "n_arrangements": 0, "n_permutations": 0,
              "unit": "blocks within recordings"}
    if labels.size == 0:
        return result
    uniq, first, where = np.unique(blocks, return_index=True, return_inverse=True)
    block_label = labels[first]
    if np.any(labels != block_label[where]):
        raise ValueError("the windows of a block carry different classes")
    n_classes = int(max(labels.max(), pred.max())) + 1
    # right[b, c]: windows of block b that the model calls c, i.e. those that would be right if b were c
    right = np.zeros((uniq.size, n_classes), dtype=np.int64)
    np.add.at(right, (where, pred), 1)
    observed = int(right[np.arange(uniq.size), block_label].sum())
    block_stratum = strata[first]
    groups = [np.flatnonzero(block_stratum == s) for s in np.unique(block_stratum)]
    sizes = [_n_arrangements(block_label[members]) for members in groups]
    n_arrangements = math.prod(sizes)
    result.update(n_blocks=int(uniq.size), n_arrangements=int(n_arrangements))
    if max(sizes) <= MAX_EXACT_ARRANGEMENTS:
        # exact: the distribution of the sum over strata is the convolution of each stratum's
        distribution = np.ones(1)
        for members in groups:
            stats_ = right[members[None, :], _arrangements(block_label[members])].sum(axis=1)
            distribution = np.convolve(distribution, np.bincount(stats_) / stats_.size)
        result.update(exact=True, p_value=float(min(1.0, distribution[observed:].sum())))
        return result
    rng = np.random.default_rng(seed)
    null = np.zeros(int(n_permutations), dtype=np.int64)
    for members in groups:
        shuffled = rng.permuted(np.tile(block_label[members], (int(n_permutations), 1)), axis=1)
        null += right[members[None, :], shuffled].sum(axis=1)
    p = (1 + np.count_nonzero(null >= observed)) / (1 + int(n_permutations))
    result.update(n_permutations=int(n_permutations), p_value=float(max(p, 1.0 / n_arrangements)))
    return result


def confusion_matrix(labels, pred, n_classes: int) -> list:
    """Test windows by true class (rows) and predicted class (columns).

    Parameters
    ----------
    labels, pred : ndarray, shape (n_test,) int
    n_classes : int

    Returns
    -------
    counts : list of list of int, shape (n_classes, n_classes)
    """
    import numpy as np

    counts = np.zeros((int(n_classes), int(n_classes)), dtype=np.int64)
    np.add.at(counts, (np.asarray(labels, dtype=int), np.asarray(pred, dtype=int)), 1)
    return counts.tolist()


def class_recall_text(entry: dict, classes) -> str:
    """``"rest 23/23, visual 22/23, motor 23/23"``: test windows of each class classified right.

    Empty when the entry has no ``confusion`` (results of earlier versions) or
    it does not fit ``classes``.
    """
    confusion = entry.get("confusion") if entry else None
    classes = [str(c) for c in classes]
    if not confusion or len(confusion) != len(classes) or any(len(row) != len(classes) for row in confusion):
        return ""
    return ", ".join(f"{name} {int(row[c])}/{int(sum(row))}" for c, (name, row) in enumerate(zip(classes, confusion))
                     if sum(row))
