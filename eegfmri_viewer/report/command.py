"""``eegfmri-viewer report``: one self-contained HTML file of an analysis."""

from __future__ import annotations

import argparse
import sys

from eegfmri_viewer.comparison.cli_args import (add_comparison_arguments, comparison_from_args, comparison_inputs,
                                                fdr_threshold, print_comparison_notes)

HELP = "write a self-contained HTML report of a results bundle (optionally compared with another)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", help="results bundle folder (from 'eegfmri-viewer analyze')")
    add_comparison_arguments(parser, "the significant changes")
    parser.add_argument("--out", required=True, help="HTML file to write (never inside a results bundle)")
    parser.add_argument("--q", type=fdr_threshold, default=0.05,
                        help="FDR threshold for significant changes, between 0 and 1 (default 0.05)")
    parser.add_argument("--force", action="store_true", help="replace the HTML file if it exists")


def _quiet_vtk_warnings() -> None:
    """Keep VTK's warnings off the terminal; its errors still show.

    With ``DISPLAY`` set but no X server reachable (ssh without forwarding, a
    dead Xvfb), VTK first tries an X window for each off-screen plotter, warns
    "bad X server connection" and then renders without X (EGL / OSMesa); the
    images are the same as without ``DISPLAY``, so the warning only alarms.
    """
    try:
        from vtkmodules.vtkCommonCore import vtkLogger
    except ImportError:  # pragma: no cover - pyvista always brings VTK
        return
    vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_ERROR)


def run(args: argparse.Namespace) -> int:
    import time

    from eegfmri_viewer.io.errors import InputError
    from eegfmri_viewer.report.html import build_report, check_report_path, write_report
    from eegfmri_viewer.results import load_bundle

    start = time.perf_counter()

    def progress(fraction: float, message: str) -> None:
        print(f"\r[{fraction * 100:5.1f}%] {message:<50}", end="", file=sys.stderr, flush=True)

    if args.compare and args.sessions:
        print("error: give either --compare RESULTS_B or --sessions A B, not both", file=sys.stderr)
        return 2
    try:
        # Before anything is loaded or rendered: where the report goes.
        check_report_path(args.out, force=args.force, inputs=comparison_inputs(args))
        bundle = load_bundle(args.results)
        comparison, bundle_b = comparison_from_args(bundle, args)
        print_comparison_notes(comparison, sys.stderr)
        _quiet_vtk_warnings()
        text = build_report(bundle, comparison=comparison, bundle_b=bundle_b, q_threshold=args.q, progress=progress)
        out = write_report(args.out, text, force=args.force)
    except InputError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 2
    size_mb = out.stat().st_size / 1e6
    print(f"\nreport written to {out} ({size_mb:.1f} MB, {time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 0
