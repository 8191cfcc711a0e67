"""``eegfmri-viewer info PATH``: what was found per run, as text or JSON.

Light to import: the readers are imported inside :func:`run`.
"""

from __future__ import annotations

HELP = ("list the runs of a BIDS dataset (or an EEG file with its BOLD run, or a BOLD run alone) with channels, "
        "TR, space, alignment, events and warnings")


def add_arguments(parser) -> None:
    """Add the ``info`` arguments to an :class:`argparse.ArgumentParser`."""
    parser.add_argument("path", help="BIDS root folder, or an EEG file (.vhdr .edf .bdf .set .fif) with its BOLD "
                                     "run in --bold (an EEG file is read together with its BOLD run), "
                                     "or a BOLD file alone (fMRI only)")
    parser.add_argument("--bold", default=None, help="BOLD 4-D NIfTI recorded with the EEG file (required with one)")
    parser.add_argument("--events", default=None, help="events TSV (onset, duration, trial_type) on the BOLD clock")
    parser.add_argument("--tr", type=float, default=None, help="repetition time in seconds: with --bold or a BOLD file it overrides sidecar and "
                                                       "header; for a BIDS folder it is used only by runs that state none")
    parser.add_argument("--marker", default=None, help="scanner volume marker (default: R128, Volume or Scan Start)")
    parser.add_argument("--check-data", action="store_true", help="also scan every sample for NaN / Inf")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args) -> int:
    """Print the dataset summary; 0 when at least one run is usable, else 2.

    An :class:`~eegfmri_viewer.io.errors.InputError` propagates (the CLI prints it
    and exits 2).
    """
    import json

    from .info import dataset_info, format_info

    info = dataset_info(args.path, bold=args.bold, events=args.events, tr=args.tr,
                        marker=getattr(args, "marker", None), check_data=getattr(args, "check_data", False))
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(format_info(info))
    return 0 if info["n_usable"] > 0 else 2
