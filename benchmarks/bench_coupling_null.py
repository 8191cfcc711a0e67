"""Calibration of the lagged-coupling p-values when there is no coupling.

::

    .venv/bin/python benchmarks/bench_coupling_null.py [--sims 100] [--null shift blocks] [--block-s 16 32 64]

Each simulation draws recordings of the default demo's size (8 recordings of 180
volumes at TR 2 s) in which EEG band power and BOLD are independent, each with a
slow autocorrelation like the real signals: band power is a log-normal AR(1)
process (``--phi-eeg``, per volume), BOLD an AR(1) process (``--phi-bold``)
convolved with the canonical HRF plus white noise. Everything else is what
``analyze`` runs: :func:`eegfmri_viewer.pipeline.coupling.lagged_coupling` with its
HRF convolution, the search over lags from -10 to +10 s, and the surrogates of
the null (``--null``: circular shifts, the default of ``analyze``, or shuffled
blocks) with ``--permutations`` draws.

For a test that keeps its level, about 5 % of the uncorrected p-values fall below
0.05 (``fpr_0.05``; 1 % below 0.01), and the corrected ``p_value_fwer`` falls below
0.05 somewhere in a simulation in about 5 % of the simulations (``fwer_0.05``).
Shuffled blocks lose the autocorrelation across block boundaries, so short
blocks make that test liberal for slow signals; a circular shift keeps all of it
but at one wrap point. ``block_s`` (default 32 s) is the block length or the least
shift.
``*_se`` are Monte-Carlo standard errors. Prints progress on stderr and one JSON
object on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

from eegfmri_viewer.blas_threads import one_blas_thread
from eegfmri_viewer.pipeline.coupling import NULLS, hrf_convolve, lagged_coupling

TR = 2.0


def _ar1(rng: np.random.Generator, shape: tuple, phi: float) -> np.ndarray:
    """Stationary AR(1) series with unit variance along the last axis."""
    x = rng.normal(size=shape) * math.sqrt(1.0 - phi ** 2)
    x[..., 0] = rng.normal(size=shape[:-1])
    for t in range(1, shape[-1]):
        x[..., t] += phi * x[..., t - 1]
    return x


def null_recordings(rng: np.random.Generator, n_recordings: int, n_volumes: int, n_rois: int,
                    phi_eeg: float, phi_bold: float) -> tuple:
    """Independent band power (1, n_rois, T) and BOLD (n_rois, T) per recording."""
    power = [np.exp(0.5 * _ar1(rng, (1, n_rois, n_volumes), phi_eeg)) for _ in range(n_recordings)]
    bold = [hrf_convolve(_ar1(rng, (n_rois, n_volumes), phi_bold), TR)
            + 0.3 * rng.normal(size=(n_rois, n_volumes)) for _ in range(n_recordings)]
    return power, bold


def _rate(hits: np.ndarray) -> tuple:
    rate = float(np.mean(hits))
    return round(rate, 4), round(math.sqrt(max(rate * (1 - rate), 1e-12) / max(hits.size, 1)), 4)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=100, help="simulations per block length")
    parser.add_argument("--rois", type=int, default=50, help="ROIs per simulation")
    parser.add_argument("--recordings", type=int, default=8)
    parser.add_argument("--volumes", type=int, default=180, help="volumes per recording")
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--null", nargs="+", default=["shift", "blocks"], choices=NULLS)
    parser.add_argument("--block-s", type=float, nargs="+", default=[16.0, 32.0, 64.0])
    parser.add_argument("--phi-eeg", type=float, default=0.9, help="AR(1) coefficient of band power per volume")
    parser.add_argument("--phi-bold", type=float, default=0.5, help="AR(1) coefficient of the BOLD drive")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    results = []
    with one_blas_thread():
        for null, block_s in ((n, b) for n in args.null for b in args.block_s):
            rng = np.random.default_rng(args.seed)
            p_all, any_fwer, t0 = [], [], time.perf_counter()
            for s in range(args.sims):
                power, bold = null_recordings(rng, args.recordings, args.volumes, args.rois,
                                              args.phi_eeg, args.phi_bold)
                out = lagged_coupling(power, bold, TR, n_permutations=args.permutations, block_s=block_s,
                                      seed=int(rng.integers(2 ** 31)), null=null)
                p_all.append(out["p_value"].ravel())
                any_fwer.append(bool((out["p_value_fwer"] < 0.05).any()))
            p_all = np.concatenate(p_all)
            fpr05, se05 = _rate(p_all < 0.05)
            fpr01, se01 = _rate(p_all < 0.01)
            fwer, fwer_se = _rate(np.asarray(any_fwer))
            row = {"null": null, "block_s": block_s, "fpr_0.05": fpr05, "fpr_0.05_se": se05, "fpr_0.01": fpr01,
                   "fpr_0.01_se": se01, "fwer_0.05": fwer, "fwer_0.05_se": fwer_se,
                   "seconds": round(time.perf_counter() - t0, 1)}
            print(f"{null} {block_s:g} s: {row}", file=sys.stderr, flush=True)
            results.append(row)
    print(json.dumps({"benchmark": "coupling_null", "sims": args.sims, "rois": args.rois,
                      "recordings": args.recordings, "volumes": args.volumes,
                      "permutations": args.permutations, "phi_eeg": args.phi_eeg, "phi_bold": args.phi_bold,
                      "nominal": 0.05, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
