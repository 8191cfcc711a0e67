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
the block's haemodynamics), so the p-value is a best case: a model that fails
this test is certainly not shown to beat chance, while one that passes it may
still rest on few blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

#: Below this many test windows the accuracy is called "few windows" whatever its p-value.
FEW_TEST_WINDOWS = 20
ALPHA = 0.05


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
    """

    accuracy: float
    balanced_accuracy: float
    n_test: int
    n_correct: int
    chance: float
    p_value: float

    @property
    def above_chance(self) -> bool:
        """p < 0.05."""
        return self.p_value < ALPHA

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
    return ChanceTest(accuracy=acc, balanced_accuracy=float(balanced) if balanced is not None else float("nan"),
                      n_test=n, n_correct=k, chance=chance, p_value=binomial_tail(k, n, chance))


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
    (binomial p = 0.173); read the map with caution"; ``compact``: "not above chance (p = 0.173):
    accuracy 0.57, chance 0.33, 7 test windows"
    """
    if compact:
        # for a narrow view: the verdict first, the rest in the full sentence
        head = f"accuracy {test.accuracy:.2f}, chance {test.chance:.2f}, {test.n_test} test windows"
        return f"not above chance (p {p_text(test.p_value)}): {head}" if not test.above_chance else head
    balanced = f" (balanced {test.balanced_accuracy:.2f})" if math.isfinite(test.balanced_accuracy) else ""
    head = f"test accuracy {test.accuracy:.2f}{balanced} on {test.n_test} windows, chance {test.chance:.2f}"
    p = f"binomial p {p_text(test.p_value)}"
    if not test.above_chance:
        return f"{head}: not shown to beat chance ({p}); read the map with caution"
    if test.few_windows:
        return f"{head} ({p}, but few test windows)"
    return f"{head} ({p})"
