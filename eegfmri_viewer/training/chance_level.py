"""Is a phase-1 model's test accuracy above chance?

A CAM is only worth reading when the model it comes from tells the classes
apart. With few test windows a score well above chance can still be luck, so
the views and the report say, next to each map, how many test windows the
accuracy rests on and whether it beats chance.

The test is the exact one-sided binomial test of the number of correctly
classified test windows against the chance rate ``1 / n_classes`` (the splits
are stratified, so the test windows are close to balanced):

    p = P(X >= k),  X ~ Binomial(n, 1 / n_classes)

It treats the windows as independent. Windows of one block are not (they share
the block's haemodynamics), so the p-value is optimistic: a model that fails
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
        Chance rate (1 / n_classes).
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


def chance_test(entry: dict) -> Optional[ChanceTest]:
    """The chance test of one model's ``metrics.json`` entry (``phase1.fmri`` or ``phase1.eeg.<band>``).

    Parameters
    ----------
    entry : dict
        Needs ``test_acc``, ``n_test`` and ``chance``; ``test_balanced_acc`` is carried along.

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
    k = int(round(acc * n))
    balanced = entry.get("test_balanced_acc", float("nan"))
    return ChanceTest(accuracy=acc, balanced_accuracy=float(balanced) if balanced is not None else float("nan"),
                      n_test=n, n_correct=k, chance=chance, p_value=binomial_tail(k, n, chance))


def chance_sentence(test: ChanceTest) -> str:
    """One line for a view or the report: accuracy, windows, chance, and what that allows.

    Examples
    --------
    "test accuracy 0.57 (balanced 0.56) on 7 windows, chance 0.33: not shown to beat chance
    (binomial p = 0.17); read the map with caution"
    """
    balanced = f" (balanced {test.balanced_accuracy:.2f})" if math.isfinite(test.balanced_accuracy) else ""
    head = f"test accuracy {test.accuracy:.2f}{balanced} on {test.n_test} windows, chance {test.chance:.2f}"
    p = "binomial p < 0.001" if test.p_value < 0.001 else f"binomial p = {test.p_value:.2g}"
    if not test.above_chance:
        return f"{head}: not shown to beat chance ({p}); read the map with caution"
    if test.few_windows:
        return f"{head} ({p}, but few test windows)"
    return f"{head} ({p})"
