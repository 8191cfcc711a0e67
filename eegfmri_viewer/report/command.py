"""``eegfmri-viewer report``: one self-contained HTML file of an analysis."""

from __future__ import annotations

import argparse
import sys

HELP = "write a self-contained HTML report of a results bundle (optionally compared with another)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", help="results bundle folder (from 'eegfmri-viewer analyze')")
    parser.add_argument("--compare", metavar="RESULTS_B", help="second bundle (after); adds the significant changes")
    parser.add_argument("--sessions", nargs=2, metavar=("A", "B"),
                        help="compare two sessions inside the bundle (analysed over both); adds the changes")
    parser.add_argument("--out", required=True, help="HTML file to write")
    parser.add_argument("--permutations", type=int, default=10000, help="permutations of the comparison (default 10000)")
    parser.add_argument("--q", type=float, default=0.05, help="FDR threshold for significant changes (default 0.05)")


def run(args: argparse.Namespace) -> int:
    import time

    from eegfmri_viewer.io.errors import InputError
    from eegfmri_viewer.report.html import build_report, write_report
    from eegfmri_viewer.results import load_bundle

    start = time.perf_counter()

    def progress(fraction: float, message: str) -> None:
        print(f"\r[{fraction * 100:5.1f}%] {message:<50}", end="", file=sys.stderr, flush=True)

    if args.compare and args.sessions:
        print("eegfmri-viewer report: give either --compare RESULTS_B or --sessions A B, not both", file=sys.stderr)
        return 2
    try:
        bundle = load_bundle(args.results)
        comparison = bundle_b = None
        if args.compare or args.sessions:
            from eegfmri_viewer.comparison.compare import compare_bundles

            if args.compare:
                bundle_b = load_bundle(args.compare)
                comparison = compare_bundles(bundle, bundle_b, n_permutations=args.permutations)
            else:
                comparison = compare_bundles(bundle, session_a=args.sessions[0], session_b=args.sessions[1],
                                             n_permutations=args.permutations)
        text = build_report(bundle, comparison=comparison, bundle_b=bundle_b, q_threshold=args.q, progress=progress)
        out = write_report(args.out, text)
    except InputError as exc:
        print(f"\neegfmri-viewer report: {exc}", file=sys.stderr)
        return 2
    size_mb = out.stat().st_size / 1e6
    print(f"\nreport written to {out} ({size_mb:.1f} MB, {time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 0
