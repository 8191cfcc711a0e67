"""``eegfmri-viewer demo-data``: write the simulated demo dataset.

Light to import: the simulation modules load only when the command runs.
"""

from __future__ import annotations

HELP = ("write the simulated EEG-fMRI demo dataset (BIDS, with ground_truth.json); "
        "default 4 subjects x 2 sessions x 6 min, --small 2 subjects x 1 session x 2 min")


def add_arguments(parser) -> None:
    """Add the command's arguments to an :class:`argparse.ArgumentParser`."""
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder to create (the BIDS root)")
    parser.add_argument("--subjects", type=int, default=None, help="number of subjects (default 4; --small: 2)")
    parser.add_argument("--sessions", type=int, choices=(1, 2), default=None,
                        help="sessions per subject; session 2 carries the planted change (default 2; --small: 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, byte-identical files (default 0)")
    parser.add_argument("--duration", type=float, default=None, metavar="SEC",
                        help="scan length per run in seconds, whole 20 s blocks (default 360; --small: 120)")
    parser.add_argument("--small", action="store_true", help="small preset for tests: 2 subjects, 1 session, 2 minutes")
    parser.add_argument("--artifacts", action="store_true",
                        help="add MR gradient and pulse artifacts and an ECG channel to the EEG")
    parser.add_argument("--force", action="store_true", help="replace an existing demo dataset in OUT_DIR")


def run(args) -> int:
    """Generate the dataset; print its root and the generation time.

    Returns
    -------
    status : int
        0 on success, 2 on bad input (the message names the file or option).
    """
    import sys
    import time

    from ..io.errors import InputError
    from .generate import DEFAULT, SMALL, generate_demo_dataset

    preset = SMALL if args.small else DEFAULT
    n_subjects = args.subjects if args.subjects is not None else preset["n_subjects"]
    n_sessions = args.sessions if args.sessions is not None else preset["n_sessions"]
    duration = args.duration if args.duration is not None else preset["duration_s"]
    custom = (n_subjects, n_sessions, duration, args.seed) != (preset["n_subjects"], preset["n_sessions"],
                                                               preset["duration_s"], preset["seed"])
    name = "custom" if custom or args.artifacts else ("small" if args.small else "default")

    def progress(fraction: float, message: str) -> None:
        print(f"\r[{int(100 * fraction):3d}%] {message[:70]:<70}", end="", file=sys.stderr, flush=True)

    from .spec import BLOCK_S

    whole = (duration // BLOCK_S) * BLOCK_S
    if args.duration is not None and whole != duration and whole > 0:
        # the runs are made of whole blocks: say so rather than write a shorter run silently
        print(f"note: --duration {duration:g} s is rounded down to {whole:g} s (whole {BLOCK_S:g} s blocks)",
              file=sys.stderr)

    t0 = time.perf_counter()
    try:
        root = generate_demo_dataset(args.out_dir, n_subjects=n_subjects, n_sessions=n_sessions, seed=args.seed,
                                     duration_s=duration, artifacts=args.artifacts, force=args.force, preset=name,
                                     progress=progress)
    except InputError as err:
        print(file=sys.stderr)
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(file=sys.stderr)
    print(f"demo dataset written to {root} in {time.perf_counter() - t0:.1f} s "
          f"(ground truth: {root / 'ground_truth.json'})")
    return 0
