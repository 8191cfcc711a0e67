"""Permutation tests and false-discovery-rate control for session comparisons.

The comparison asks, per feature (ROI, band × ROI, ...), whether the mean of
session B differs from the mean of session A by more than relabelling the
observations at random would produce. Observations are the analysis windows
(or subjects / recordings at group level). The test is two-sided on the
difference of means. When the distinct relabellings of the units (which
``n_a`` of the ``n_a + n_b`` units are called A: C(n_a + n_b, n_a) of them)
are no more than the permutations asked for, every one is evaluated and the
p-value is exact, ``p = #{|d_perm| >= |d_obs|} / C(n_a + n_b, n_a)`` (the
observed labelling is among them). Otherwise random relabellings give
``p = (1 + #{|d_perm| >= |d_obs|}) / (1 + n_permutations)`` (Phipson & Smyth
2010), never zero, and never reported below the smallest p an exact test could
give (:func:`smallest_p`): a Monte Carlo estimate below it is raised to it.
:func:`relabelling_plan` says which of the two a test does. When the same subjects were
recorded in both sessions, :func:`sign_flip_test` tests their paired
differences instead (each subject's B − A keeps or flips its sign at random),
which removes the differences between subjects from the test. q-values follow Benjamini and
Hochberg (1995) within each family (one class, or one class and band).

Caveat, stated in the report too: windows of one block are correlated, so a
window-level test is optimistic compared with a block- or subject-level one.
"""

from __future__ import annotations

import itertools
import math
from typing import Optional

import numpy as np

from eegfmri_viewer.progress import CancelFlag, check_cancel

# Permutations are evaluated in batches so memory stays bounded
# (batch × n_observations label matrix).
_BATCH = 2000


def permutation_test(
    a: np.ndarray,
    b: np.ndarray,
    n_permutations: int = 10000,
    seed: int = 0,
    cancel: Optional[CancelFlag] = None,
) -> tuple:
    """Two-sided permutation test of ``mean(b) - mean(a)`` per feature.

    Parameters
    ----------
    a : ndarray, shape (n_a, ...)
        Observations of session A (first axis: windows, subjects, ...).
    b : ndarray, shape (n_b, ...)
        Observations of session B; the trailing shape must match ``a``.
    n_permutations : int
        Number of random relabellings; when C(n_a + n_b, n_a) is not larger,
        all relabellings are evaluated instead (an exact test, independent of
        ``seed``).
    seed : int
        Seed of the random generator (the same seed gives the same p-values).
    cancel : callable or None
        Cancel flag, checked between batches.

    Returns
    -------
    diff : ndarray, shape (...)
        ``mean(b) - mean(a)``.
    p : ndarray, shape (...)
        Two-sided permutation p-values in ``[smallest_p(n_a, n_b), 1]``. NaN
        where a feature is NaN in any observation.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"feature shapes differ: {a.shape[1:]} vs {b.shape[1:]}")
    if len(a) == 0 or len(b) == 0:
        raise ValueError("each session needs at least one observation")
    feat_shape = a.shape[1:]
    x = np.concatenate([a.reshape(len(a), -1), b.reshape(len(b), -1)])
    invalid = ~np.isfinite(x).all(axis=0)
    x = np.where(np.isfinite(x), x, 0.0)
    n_a, n = len(a), len(x)
    # diff = w @ x with w = +1/n_b on B rows and -1/n_a on A rows.
    w_obs = np.where(np.arange(n) >= n_a, 1.0 / len(b), -1.0 / n_a)
    observed = w_obs @ x
    exceed = np.zeros_like(observed)
    plan = relabelling_plan(n_a, len(b), n_permutations)
    if plan["exact"]:
        # every choice of the n_a units called A, the observed one (0 .. n_a - 1) first
        splits = itertools.combinations(range(n), n_a)
        while True:
            check_cancel(cancel)
            chosen = np.fromiter(itertools.chain.from_iterable(itertools.islice(splits, _BATCH)), dtype=int)
            if chosen.size == 0:
                break
            chosen = chosen.reshape(-1, n_a)
            weights = np.full((len(chosen), n), 1.0 / len(b))
            np.put_along_axis(weights, chosen, -1.0 / n_a, axis=1)
            exceed += (np.abs(weights @ x) >= np.abs(observed) - 1e-12).sum(axis=0)
        p = exceed / plan["possible"]
    else:
        rng = np.random.default_rng(seed)
        done = 0
        while done < n_permutations:
            check_cancel(cancel)
            m = min(_BATCH, n_permutations - done)
            keys = rng.random((m, n))
            weights = w_obs[np.argsort(keys, axis=1)]
            exceed += (np.abs(weights @ x) >= np.abs(observed) - 1e-12).sum(axis=0)
            done += m
        # no estimate below what the exact test could give (the observed labelling and, with n_a = n_b, its mirror)
        p = np.maximum((1.0 + exceed) / (1.0 + n_permutations), _exact_floor(n_a, len(b)))
    observed[invalid] = np.nan
    p[invalid] = np.nan
    return observed.reshape(feat_shape), p.reshape(feat_shape)


def sign_flip_test(
    d: np.ndarray,
    n_permutations: int = 10000,
    seed: int = 0,
    cancel: Optional[CancelFlag] = None,
) -> tuple:
    """Two-sided paired permutation test of ``mean(d) != 0`` per feature, by sign flips.

    Under the null hypothesis (no change from A to B) each subject's difference
    is as likely to have either sign. With ``2 ** n`` sign patterns at most
    ``n_permutations`` (and at most 2 ** 20), every pattern is evaluated and the
    p-value is exact, ``p = #{|mean(s * d)| >= |mean(d)|} / 2 ** n``; otherwise
    ``n_permutations`` random patterns give ``(1 + #exceed) / (1 + n_permutations)``,
    raised to ``2 / 2 ** n`` where it is below (no exact p can be smaller).

    Parameters
    ----------
    d : ndarray, shape (n_subjects, ...)
        Each subject's difference B − A.
    n_permutations : int
        Random sign patterns when the exact enumeration is too large.
    seed : int
        Seed of the random patterns.
    cancel : callable or None
        Cancel flag, checked between batches.

    Returns
    -------
    diff : ndarray, shape (...)
        ``mean(d)`` over subjects.
    p : ndarray, shape (...)
        Two-sided p-values in ``(0, 1]``; NaN where a feature is NaN for any subject.
    """
    d = np.asarray(d, dtype=float)
    if len(d) == 0:
        raise ValueError("a paired test needs at least one subject")
    feat_shape = d.shape[1:]
    x = d.reshape(len(d), -1)
    invalid = ~np.isfinite(x).all(axis=0)
    x = np.where(np.isfinite(x), x, 0.0)
    n = len(x)
    observed = x.mean(axis=0)
    exceed = np.zeros_like(observed)
    if _enumerates(n, n_permutations):
        # pattern k flips subject j when bit j of k is set; built a batch at a time (2^20 x 20 at once is 170 MB)
        for start in range(0, 2 ** n, _BATCH):
            check_cancel(cancel)
            codes = np.arange(start, min(start + _BATCH, 2 ** n))
            signs = np.where((codes[:, None] >> np.arange(n)) & 1, -1.0, 1.0)
            exceed += (np.abs(signs @ x / n) >= np.abs(observed) - 1e-12).sum(axis=0)
        p = exceed / 2 ** n
    else:
        rng = np.random.default_rng(seed)
        done = 0
        while done < n_permutations:
            check_cancel(cancel)
            m = min(_BATCH, n_permutations - done)
            signs = np.where(rng.random((m, n)) < 0.5, -1.0, 1.0)
            exceed += (np.abs(signs @ x / n) >= np.abs(observed) - 1e-12).sum(axis=0)
            done += m
        p = np.maximum((1.0 + exceed) / (1.0 + n_permutations), _exact_floor(n))
    observed[invalid] = np.nan
    p[invalid] = np.nan
    return observed.reshape(feat_shape), p.reshape(feat_shape)


def smallest_p(n_a: int, n_b: Optional[int] = None, n_permutations: Optional[int] = None) -> float:
    """The smallest two-sided p-value a permutation test of these units can give.

    ``smallest_p(n_a, n_b)``: exchanging ``n_a`` and ``n_b`` units between the
    sides, 2 / C(n_a + n_b, n_a) when ``n_a == n_b`` (the observed labelling
    and its mirror image, A and B swapped, always count) and 1 / C(n_a + n_b,
    n_a) otherwise. ``smallest_p(n)``: sign flips of ``n`` paired differences,
    2 / 2 ** n. When the test samples ``n_permutations`` random relabellings
    instead of enumerating them all (:func:`relabelling_plan`), no p is below
    1 / (1 + n_permutations) either. At most 1.
    """
    floor = _exact_floor(n_a, n_b)
    if n_permutations is not None and not relabelling_plan(n_a, n_b, n_permutations)["exact"]:
        floor = max(floor, 1.0 / (1.0 + n_permutations))
    return floor


def _exact_floor(n_a: int, n_b: Optional[int] = None) -> float:
    """The smallest p of the exact test (every relabelling), see :func:`smallest_p`."""
    if n_b is None:
        return min(1.0, 2.0 / 2 ** n_a)
    return min(1.0, (2.0 if n_a == n_b else 1.0) / math.comb(n_a + n_b, n_a))


def relabelling_plan(n_a: int, n_b: Optional[int] = None, n_permutations: int = 10000) -> dict:
    """How a test of these units relabels them: all relabellings (exact) or random ones.

    Parameters
    ----------
    n_a : int
        Units of side A (or, with ``n_b`` None, paired subjects: sign flips).
    n_b : int or None
        Units of side B for :func:`permutation_test`; None for :func:`sign_flip_test`.
    n_permutations : int
        Permutations asked for.

    Returns
    -------
    plan : dict
        ``possible`` (distinct relabellings: C(n_a + n_b, n_a), or 2 ** n_a
        sign patterns), ``exact`` (True when every one is evaluated, i.e. there
        are no more than ``n_permutations``), ``used`` (relabellings evaluated:
        ``possible`` when exact, else ``n_permutations``) and ``text``, e.g.
        ``"exact: all 6 relabellings"`` or ``"1000 random relabellings"``.
    """
    if n_b is None:
        possible, exact, kind = 2 ** n_a, _enumerates(n_a, n_permutations), "sign patterns"
    else:
        possible, kind = math.comb(n_a + n_b, n_a), "relabellings"
        exact = possible <= max(n_permutations, 1)
    used = possible if exact else int(n_permutations)
    text = f"exact: all {possible} {kind}" if exact else f"{used} random {kind} (of {possible})"
    return {"possible": int(possible), "exact": bool(exact), "used": int(used), "text": text}


def _enumerates(n: int, n_permutations: int) -> bool:
    """Whether :func:`sign_flip_test` evaluates every sign pattern of ``n`` subjects (an exact test)."""
    return n <= 20 and 2 ** n <= max(n_permutations, 1)


def fdr_bh(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Benjamini-Hochberg q-values along ``axis``.

    Parameters
    ----------
    p : ndarray
        p-values; NaN entries are left out of the family and stay NaN.
    axis : int
        Axis that holds one family of tests.

    Returns
    -------
    q : ndarray, same shape as ``p``
        Adjusted p-values (monotone, at most 1).
    """
    p = np.moveaxis(np.asarray(p, dtype=float), axis, -1)
    q = np.full_like(p, np.nan)
    flat_p = p.reshape(-1, p.shape[-1])
    flat_q = q.reshape(-1, p.shape[-1])
    for row_p, row_q in zip(flat_p, flat_q):
        valid = np.flatnonzero(np.isfinite(row_p))
        if valid.size == 0:
            continue
        order = valid[np.argsort(row_p[valid])]
        m = valid.size
        ranked = row_p[order] * m / np.arange(1, m + 1)
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        row_q[order] = np.minimum(ranked, 1.0)
    return np.moveaxis(q, -1, axis)
