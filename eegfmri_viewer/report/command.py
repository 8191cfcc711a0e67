"""``eegfmri-viewer report``: one self-contained HTML file of an analysis."""

from __future__ import annotations

import argparse
import sys

from eegfmri_viewer.comparison.cli_args import add_comparison_arguments, comparison_from_args

HELP = "write a self-contained HTML report of a results bundle (optionally compared with another)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", help="results bundle folder (from 'eegfmri-viewer analyze')")
    add_comparison_arguments(parser, "the significant changes")
    parser.add_argument("--out", required=True, help="HTML file to write")
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
        comparison, bundle_b = comparison_from_args(bundle, args)
        text = build_report(bundle, comparison=comparison, bundle_b=bundle_b, q_threshold=args.q, progress=progress)
        out = write_report(args.out, text)
    except InputError as exc:
        print(f"\neegfmri-viewer report: {exc}", file=sys.stderr)
        return 2
    size_mb = out.stat().st_size / 1e6
    print(f"\nreport written to {out} ({size_mb:.1f} MB, {time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 0
