"""``eegfmri-viewer tables``: the CSV tables of a results bundle (what File ▸ Export tables… writes)."""

from __future__ import annotations

import argparse
import sys

from eegfmri_viewer.comparison.cli_args import add_comparison_arguments, comparison_from_args

HELP = "write the CSV tables of a results bundle (saliency, connections, coupling, fusion; changes when compared)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", help="results bundle folder (from 'eegfmri-viewer analyze')")
    parser.add_argument("--out", required=True, help="folder to write the tables into (created if missing)")
    add_comparison_arguments(parser, "changes.csv")
    parser.add_argument("--force", action="store_true", help="replace table files already in the folder")


def run(args: argparse.Namespace) -> int:
    from eegfmri_viewer.io.errors import InputError
    from eegfmri_viewer.report.tables import write_tables
    from eegfmri_viewer.results import load_bundle

    try:
        bundle = load_bundle(args.results)
        comparison, _ = comparison_from_args(bundle, args)
        result = write_tables(bundle, args.out, comparison=comparison, overwrite=args.force)
    except (InputError, ValueError) as exc:
        hint = " (--force replaces them)" if "already holds" in str(exc) else ""
        print(f"eegfmri-viewer tables: {exc}{hint}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0
