"""``eegfmri-viewer analyze``: run the pipeline headless and write a results bundle.

Kept light to import: argument parsing only; the pipeline (torch, mne,
nilearn) is imported when the command runs.
"""

from __future__ import annotations

import argparse
import sys
import time

HELP = "run preprocessing, graphs and both phases headless, and write a results bundle"

DESCRIPTION = """\
Analyse a BIDS dataset (or one BOLD file with its events) and write a results
bundle folder (manifest.json, config.toml, metrics.json, dataset.json,
saliency.npz, windows.npz, graphs.npz, transfer.npz, model weights and, with
EEG, the phase-2 arrays). Open the bundle in the GUI or read it with
eegfmri_viewer.results.load_bundle. Settings: --config FILE.toml (keys in
docs/config.md); unknown keys are an error.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``analyze`` options to ``parser``."""
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("bids_root", nargs="?", default=None, metavar="BIDS_ROOT",
                        help="BIDS dataset folder (omit with --bold)")
    parser.add_argument("--out", required=True, metavar="DIR", help="results bundle folder to write")
    parser.add_argument("--config", metavar="FILE.toml", help="analysis settings (see docs/config.md)")
    parser.add_argument("--subject", nargs="+", metavar="L", help="subject labels to include (without sub-)")
    parser.add_argument("--session", nargs="+", metavar="L", help="session labels to include (without ses-)")
    parser.add_argument("--level", choices=("group", "individual"),
                        help="one model for all subjects (group) or one per subject (individual); "
                             "default from the config (group)")
    parser.add_argument("--force", action="store_true",
                        help="replace DIR if it holds an earlier results bundle (or is empty); "
                             "any other folder, and the input data, are never replaced")
    parser.add_argument("--bold", metavar="FILE", help="analyse one 4-D BOLD NIfTI instead of a BIDS folder (fMRI only)")
    parser.add_argument("--events", metavar="FILE", help="events TSV of --bold (onset, duration, trial_type)")
    parser.add_argument("--eeg", metavar="FILE", help="EEG file recorded with --bold (optional)")
    parser.add_argument("--tr", type=float, metavar="S",
                        help="repetition time in seconds: overrides the files for --bold; for a BIDS folder, "
                             "used only by runs that state none")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


class _ProgressBar:
    """One self-overwriting line on stderr, redrawn at most 10 times a second."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self.last = 0.0
        self.t0 = time.perf_counter()

    def __call__(self, fraction: float, message: str = "") -> None:
        now = time.perf_counter()
        if now - self.last < 0.1 and fraction < 1.0:
            return
        self.last = now
        filled = int(round(self.width * fraction))
        line = f"\r[{'#' * filled}{'.' * (self.width - filled)}] {100 * fraction:5.1f}% {now - self.t0:6.0f}s {message}"
        self.stream.write(line[:160].ljust(100))
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    from eegfmri_viewer.io.errors import InputError
    from eegfmri_viewer.progress import Cancelled
    from eegfmri_viewer.results import BundleError

    if (args.bids_root is None) == (args.bold is None):
        print("error: give either BIDS_ROOT or --bold FILE (with --events FILE)", file=sys.stderr)
        return 2
    from eegfmri_viewer.pipeline.config import AnalysisConfig
    from eegfmri_viewer.results import check_bundle_destination

    try:
        config = AnalysisConfig.from_toml(args.config) if args.config else AnalysisConfig()
        # Before anything is loaded or trained: where the results go.
        # (not the config file: it has been read, and re-running a bundle's own config.toml into it is fine)
        check_bundle_destination(args.out, force=args.force, inputs=[args.bids_root, args.bold, args.events, args.eeg],
                                 out_name="--out")
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bar = None if args.quiet else _ProgressBar()
    try:
        from eegfmri_viewer.pipeline.analyze import analyze

        if args.bold is not None:
            from eegfmri_viewer.io.single import open_files

            source = [open_files(args.eeg, args.bold, args.events, tr=args.tr,
                                 correct_artifacts=config.preprocessing.correct_artifacts, progress=bar)]
        else:
            source = args.bids_root
        # a BIDS run that states no TR takes --tr; a stated one is never overridden
        out = analyze(source, args.out, config=config, subjects=args.subject, sessions=args.session,
                      level=args.level, force=args.force, progress=bar, tr=args.tr if args.bold is None else None)
    except (InputError, BundleError) as exc:
        if bar is not None:
            bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Cancelled):
        if bar is not None:
            bar.close()
        print("interrupted; nothing was written", file=sys.stderr)
        return 130
    if bar is not None:
        bar.close()
    from eegfmri_viewer.results import load_bundle

    bundle = load_bundle(out, verify=False)
    fm = bundle.metrics.get("phase1", {}).get("fmri", {})
    print(f"results: {out}")
    print(f"fMRI test accuracy {fm.get('test_acc', float('nan')):.3f}, balanced {fm.get('test_balanced_acc', float('nan')):.3f} "
          f"(chance {fm.get('chance', float('nan')):.3f}, {fm.get('n_test', 0)} test windows){_vs_chance(fm)}")
    _print_initialisations("fMRI", fm)
    for band, m in bundle.metrics.get("phase1", {}).get("eeg", {}).items():
        print(f"EEG {band}: test accuracy {m['test_acc']:.3f}, balanced {m['test_balanced_acc']:.3f}{_vs_chance(m)}")
        _print_initialisations(f"EEG {band}", m)
    for w in bundle.dataset.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    return 0


def _print_initialisations(name: str, metrics: dict) -> None:
    """Which initialisation was kept for each model trained from several (group, or each subject)."""
    from eegfmri_viewer.pipeline.phase1_stage import kept_initialisations

    for subject, tried, kept in kept_initialisations(metrics):
        where = f", subject {subject}" if subject is not None else ""
        losses = ", ".join(f"{t['best_monitor']:.3f}" for t in tried)
        print(f"{name} model{where}: kept initialisation {kept} of {len(tried)} (validation losses {losses})")


def _vs_chance(entry: dict) -> str:
    """``"; block permutation p < 0.001 on 24 test blocks, binomial p < 0.001 vs chance"``, or the warning
    that chance is not beaten (its maps are not reliable)."""
    from eegfmri_viewer.training.chance_level import chance_test, p_text

    test = chance_test(entry)
    if test is None:
        return ""
    p = f"binomial p {p_text(test.p_value)}"
    if test.p_block is not None:
        p = f"block permutation p {p_text(test.p_block)} on {test.n_blocks} test blocks, {p}"
    if not test.above_chance:
        return f"; NOT shown to beat chance ({p}): read its saliency maps with caution"
    return f"; {p} vs chance"


def main(argv=None) -> int:
    """Stand-alone entry point (``python -m eegfmri_viewer.pipeline.command_analyze``)."""
    parser = argparse.ArgumentParser(prog="eegfmri-viewer analyze")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
