"""``eegfmri-viewer tables``: the CSV tables of a results bundle (what File ▸ Export tables… writes)."""

from __future__ import annotations

import argparse
import sys

from eegfmri_viewer.comparison.cli_args import add_comparison_arguments, comparison_from_args, print_comparison_notes

HELP = "write the CSV tables of a results bundle (saliency, connections, coupling, fusion; changes when compared)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", help="results bundle folder (from 'eegfmri-viewer analyze')")
    parser.add_argument("--out", required=True,
                        help="folder to write the tables into (created if missing; never a results bundle)")
    add_comparison_arguments(parser, "changes.csv")
    parser.add_argument("--force", action="store_true", help="replace table files already in the folder")


def run(args: argparse.Namespace) -> int:
    from eegfmri_viewer.atomic_write import check_files_folder
    from eegfmri_viewer.comparison.cli_args import comparison_inputs
    from eegfmri_viewer.io.errors import InputError
    from eegfmri_viewer.report.tables import existing_tables, write_tables
    from eegfmri_viewer.results import load_bundle

    if args.compare and args.sessions:
        print("error: give either --compare RESULTS_B or --sessions A B, not both", file=sys.stderr)
        return 2
    try:
        # Before anything is loaded or compared: where the tables go.
        folder = check_files_folder(args.out, "tables", inputs=comparison_inputs(args), out_name="--out")
        present = [] if args.force else existing_tables(folder)
        if present:
            raise InputError(folder, "already holds " + ", ".join(p.name for p in present)
                             + "; choose another folder or confirm replacing them")
        bundle = load_bundle(args.results)
        comparison, _ = comparison_from_args(bundle, args)
        print_comparison_notes(comparison, sys.stderr)
        result = write_tables(bundle, args.out, comparison=comparison, overwrite=args.force)
    except (InputError, ValueError) as exc:
        hint = " (--force replaces them)" if "already holds" in str(exc) else ""
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 2
    print(result.summary())
    from eegfmri_viewer.report.roi_context import coordinates_caveat

    caveat = coordinates_caveat(bundle.dataset)
    if caveat:
        print(f"note: {caveat} (saliency_fmri.csv: column bold_space)", file=sys.stderr)
    return 0
