"""How fine a comparison's saliency test can be, in the words the CLI, the report and the GUI share.

With few blocks (or windows) per class on each side, a permutation test has
few distinct relabellings, so its p-value cannot fall below a floor however
large a change is (``compare.json`` ``smallest_p``, one per class); at or above
the FDR threshold, no ROI of that class can be significant. The paired test
over subjects has the same kind of floor: with n subjects paired in a class,
2 / 2 ** n (sign flips).
"""

from __future__ import annotations

from typing import Optional


def class_floor(result, class_index: int) -> Optional[float]:
    """The smallest p-value the class's test can give; None when not recorded or a side has no units."""
    floors = result.meta.get("smallest_p") or []
    if class_index >= len(floors) or floors[class_index] is None:
        return None
    return float(floors[class_index])


def class_units_text(result, class_index: int) -> str:
    """The units a class's test used: ``"2 vs 2 blocks"``, ``"3 subjects paired"``; ``""`` when not recorded.

    For the paired test (``unit`` ``"subjects"``), ``n_windows_a`` holds the
    subjects with windows of the class on both sides.
    """
    unit = result.meta.get("unit", "windows")
    n_a, n_b = result.arrays.get("n_windows_a"), result.arrays.get("n_windows_b")
    if n_a is None or n_b is None or class_index >= len(n_a):
        return ""
    if unit == "subjects":
        return f"{int(n_a[class_index])} subjects paired"
    return f"{int(n_a[class_index])} vs {int(n_b[class_index])} {unit}"


def class_resolution_text(result, class_index: int, q_threshold: float = 0.05) -> str:
    """``"2 vs 2 blocks; smallest possible p 0.33; exact: all 6 relabellings; none can reach q < 0.05"`` for one class.

    Parameters
    ----------
    result : CompareResult
    class_index : int
    q_threshold : float
        FDR threshold of "significant".

    Returns
    -------
    text : str
        Units per side (or the subjects paired, for the paired test), the
        smallest possible p, how the relabellings were drawn (``compare.json``
        ``permutations``, when recorded) and, when that p is not below
        ``q_threshold``, that no ROI can reach it; ``""`` without a recorded
        floor (e.g. no units on a side).
    """
    units = class_units_text(result, class_index)
    floor = class_floor(result, class_index)
    if not units or floor is None:
        return ""
    plans = result.meta.get("permutations") or []
    plan = plans[class_index] if class_index < len(plans) and plans[class_index] else None
    return (f"{units}; smallest possible p {floor:.2g}"
            + (f"; {plan['text']}" if plan and plan.get("text") else "")
            + (f"; none can reach q < {q_threshold:g}" if floor >= q_threshold else ""))


def unreachable_classes(result, q_threshold: float = 0.05) -> list:
    """Indices of the classes whose smallest possible p is not below ``q_threshold`` (none can be significant)."""
    n = len(result.meta.get("smallest_p") or [])
    return [i for i in range(n) if class_resolution_text(result, i, q_threshold)
            and class_floor(result, i) >= q_threshold]
