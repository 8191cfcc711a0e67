"""The command-line options that add a before / after comparison to a command (``report``, ``tables``)."""

from __future__ import annotations

import argparse
from typing import Optional, Tuple

UNIT_HELP = ("what the comparison's tests exchange: blocks (each block's mean; the default when both sides "
             "record blocks, since windows of one block are correlated), windows (the default otherwise; "
             "liberal) or subjects (paired: sign flips of the changes of the subjects recorded in both sessions)")


def permutation_count(text: str) -> int:
    """argparse type of ``--permutations``: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--permutations must be a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"--permutations must be >= 1, got {value}")
    return value


def fdr_threshold(text: str) -> float:
    """argparse type of ``--q``: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--q must be a number between 0 and 1, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"--q must be between 0 and 1 (exclusive), got {text}")
    return value


def add_comparison_arguments(parser: argparse.ArgumentParser, adds: str) -> None:
    """``--compare RESULTS_B``, ``--sessions A B``, ``--permutations`` and ``--unit``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    adds : str
        What the comparison adds to the command's output, for the help text.
    """
    parser.add_argument("--compare", metavar="RESULTS_B", help=f"second bundle (after); adds {adds}")
    parser.add_argument("--sessions", nargs=2, metavar=("A", "B"),
                        help=f"compare two sessions inside the bundle (analysed over both); adds {adds}")
    parser.add_argument("--permutations", type=permutation_count, default=10000,
                        help="permutations of the comparison, >= 1 (default 10000)")
    parser.add_argument("--unit", choices=("windows", "blocks", "subjects"), default=None, help=UNIT_HELP)


def bundles_and_their_inputs(folders) -> list:
    """The bundle folders and the data each was computed from (a command's outputs stay outside all of them).

    The data are read from each bundle's JSON files
    (:func:`eegfmri_viewer.results.read_bundle_inputs`), before anything is loaded.
    """
    from eegfmri_viewer.results import read_bundle_inputs

    folders = [p for p in folders if p]
    return [*folders, *(inp for folder in folders for inp in read_bundle_inputs(folder))]


def comparison_inputs(args: argparse.Namespace) -> list:
    """The bundles the command reads (``results``, ``--compare``) and their input data."""
    return bundles_and_their_inputs((getattr(args, "results", None), getattr(args, "compare", None)))


def comparison_from_args(bundle, args: argparse.Namespace) -> Tuple[Optional[object], Optional[object]]:
    """The comparison the options ask for: ``(CompareResult or None, bundle B or None)``.

    Raises
    ------
    ValueError
        Both ``--compare`` and ``--sessions`` were given.
    InputError
        Bundle B cannot be read, or the two cannot be compared.
    """
    if args.compare and args.sessions:
        raise ValueError("give either --compare RESULTS_B or --sessions A B, not both")
    if not (args.compare or args.sessions):
        return None, None
    from eegfmri_viewer.comparison.compare import compare_bundles
    from eegfmri_viewer.results import load_bundle

    if args.compare:
        bundle_b = load_bundle(args.compare)
        return compare_bundles(bundle, bundle_b, n_permutations=args.permutations, unit=args.unit), bundle_b
    return compare_bundles(bundle, session_a=args.sessions[0], session_b=args.sessions[1],
                           n_permutations=args.permutations, unit=args.unit), None


def print_comparison_notes(comparison, stream, warn_stream=None) -> None:
    """The comparison's warnings (to ``warn_stream``, stderr by default), test unit and what it left out."""
    import sys

    if comparison is None:
        return
    for warning in comparison.meta.get("warnings", []):
        print(f"warning: {warning}", file=warn_stream or sys.stderr)
    if comparison.meta.get("unit_note"):
        print(f"comparison unit: {comparison.meta['unit_note']}", file=stream)
    if comparison.meta.get("lagged_r_missing"):
        print(f"note: {comparison.meta['lagged_r_missing']}", file=stream)
