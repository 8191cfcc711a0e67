"""``eegfmri-viewer compare``: compare two sessions or two results bundles."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from eegfmri_viewer.comparison.cli_args import bundles_and_their_inputs, permutation_count, print_comparison_notes

HELP = "compare two results bundles (before / after) with permutation tests"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_a", help="results bundle of session A (before)")
    parser.add_argument("results_b", nargs="?", help="results bundle of session B (after); omit with --sessions")
    parser.add_argument("--sessions", nargs=2, metavar=("A", "B"),
                        help="compare two sessions inside one bundle analysed over both sessions")
    parser.add_argument("--out", required=True, help="output folder (compare.npz, compare.json)")
    parser.add_argument("--permutations", type=permutation_count, default=10000,
                        help="permutations per test, >= 1 (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the permutations")
    parser.add_argument("--unit", choices=("windows", "blocks", "subjects"), default=None,
                        help="what the permutation test exchanges: blocks (each block's mean; the default when "
                             "both sides record blocks, since windows of one block are correlated), windows "
                             "(the default otherwise; liberal) or subjects (a paired test of the subjects "
                             "recorded in both sessions: sign flips of their differences)")
    parser.add_argument("--force", action="store_true",
                        help="replace an earlier comparison output folder (never any other folder)")


def run(args: argparse.Namespace) -> int:
    from eegfmri_viewer.comparison.compare import (check_compare_destination, compare_bundles, lagged_smallest_p,
                                                   lagged_units, save_compare, top_changes)
    from eegfmri_viewer.comparison.resolution import class_resolution_text
    from eegfmri_viewer.comparison.stats import relabelling_plan, smallest_p
    from eegfmri_viewer.io.errors import InputError
    from eegfmri_viewer.results import load_bundle

    if (args.results_b is None) == (args.sessions is None):
        print("error: give either RESULTS_B or --sessions A B", file=sys.stderr)
        return 2
    try:
        # Before anything is loaded or computed: where the output goes.
        check_compare_destination(args.out, force=args.force,
                                  inputs=bundles_and_their_inputs([args.results_a, args.results_b]))
        a = load_bundle(args.results_a)
        b = load_bundle(args.results_b) if args.results_b else None
        session_a, session_b = args.sessions or (None, None)
        result = compare_bundles(a, b, session_a, session_b, n_permutations=args.permutations, seed=args.seed,
                                 unit=args.unit)
        out = save_compare(result, args.out, force=args.force)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"comparison written to {out}")
    print_comparison_notes(result, sys.stdout)
    unit = result.meta["unit"]
    plans = [plan for plan in result.meta.get("permutations") or [] if plan]
    if unit == "subjects":
        n_subjects = int(result.arrays["n_subjects"])
        floor = smallest_p(n_subjects, n_permutations=args.permutations)
        over = (f"sign flips of {n_subjects} paired subjects; smallest possible p {floor:.2g}; "
                + relabelling_plan(n_subjects, None, args.permutations)["text"])
    elif plans and all(plan["exact"] for plan in plans):
        over = f"exact permutation tests over {unit}: every relabelling"
    elif any(plan["exact"] for plan in plans):
        over = f"{args.permutations} permutations over {unit}, or every relabelling where there are fewer"
    else:
        over = f"{args.permutations} permutations over {unit}"
    print(f"{result.meta['a']}  ->  {result.meta['b']}  ({over}, FDR q < 0.05)")
    if result.meta.get("subjects_left_out"):
        print(f"  left out (recorded in one session only): {', '.join(result.meta['subjects_left_out'])}")
    for i, name in enumerate(result.arrays["classes"]):
        sig = int(result.significant("fmri_cam")[i].sum())
        best = top_changes(result, i, n=1)[0]
        # how fine the test can be: with few blocks no ROI can reach q < 0.05, however large its change
        resolution = class_resolution_text(result, i)
        units = f" [{resolution}]" if resolution else ""
        print(f"  {name}: {sig} ROI(s) changed significantly; largest change {best['name']} "
              f"({best['diff']:+.2f}, q = {best['q']:.3g}){units}")
    arrays = result.arrays
    if "lagged_r_diff" in arrays:
        diff = np.nan_to_num(np.asarray(arrays["lagged_r_diff"], dtype=float))
        b, r = np.unravel_index(np.abs(diff).argmax(), diff.shape)
        sig = int((np.nan_to_num(np.asarray(arrays["lagged_r_q"], dtype=float), nan=1.0) < 0.05).sum())
        lagged_plan = result.meta.get("lagged_r_permutations")
        print(f"  EEG power-BOLD correlation ({lagged_units(arrays)}; smallest possible p "
              f"{lagged_smallest_p(arrays):.2g}" + (f"; {lagged_plan['text']}" if lagged_plan else "")
              + f"): {sig} band x ROI changed significantly; "
              f"largest change {arrays['bands'][b]} at {arrays['roi_names'][r]} ({diff[b, r]:+.2f}, "
              f"q = {float(arrays['lagged_r_q'][b, r]):.3g})")
        if unit == "subjects" and not int(arrays["lagged_r_n_subjects"]):
            print("    (recordings exchanged, not paired: the bundle does not record each recording's subject; "
                  "re-run analyze with this version to pair them)")
    return 0
