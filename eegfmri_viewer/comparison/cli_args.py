"""The command-line options that add a before / after comparison to a command (``report``, ``tables``)."""

from __future__ import annotations

import argparse
from typing import Optional, Tuple

UNIT_HELP = ("what the comparison's tests exchange: windows (default), blocks (each block's mean) or subjects "
             "(paired: sign flips of the changes of the subjects recorded in both sessions)")


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
    parser.add_argument("--permutations", type=int, default=10000, help="permutations of the comparison (default 10000)")
    parser.add_argument("--unit", choices=("windows", "blocks", "subjects"), default="windows", help=UNIT_HELP)


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
