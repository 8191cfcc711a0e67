"""Command line: ``eegfmri-viewer`` starts the GUI; subcommands run the core.

Qt is imported only when the GUI starts, and a subcommand's module only when
that subcommand is used, so ``eegfmri-viewer info ...`` works without a display
and the GUI starts without loading torch or MNE.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Optional, Sequence

from eegfmri_viewer import __version__

log = logging.getLogger(__name__)

# (subcommand, module). Each module defines HELP: str, add_arguments(parser) and
# run(args) -> int. A module that does not exist (yet) is left out.
COMMANDS: list[tuple[str, str]] = [
    ("info", "eegfmri_viewer.io.command_info"),
    ("demo-data", "eegfmri_viewer.demo.command"),
    ("analyze", "eegfmri_viewer.pipeline.command_analyze"),
    ("compare", "eegfmri_viewer.comparison.command"),
    ("report", "eegfmri_viewer.report.command"),
    ("tables", "eegfmri_viewer.report.command_tables"),
]

SCREENSHOT_TIMEOUT_S = 120.0
# --demo --screenshot waits for the demo analysis: ~1 min to generate the dataset
# and 3-4 min to analyse it on two cores, more on a busy machine.
DEMO_SCREENSHOT_TIMEOUT_S = 1800.0


def _import_command(module_name: str) -> Optional[ModuleType]:
    """Import a subcommand module; None if that module (or its package) does not exist.

    Any other ImportError (a missing dependency inside the module) propagates.
    """
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            return None
        raise


def _wanted_command(argv: Sequence[str]) -> Optional[str]:
    """The subcommand named in ``argv`` (first positional argument), if any."""
    names = {name for name, _ in COMMANDS}
    for arg in argv:
        if arg == "--":
            return None
        if arg.startswith("-"):
            continue
        return arg if arg in names else None
    return None


def build_parser(load: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The argument parser; subcommand modules named in ``load`` (or "all") are imported."""
    parser = argparse.ArgumentParser(
        prog="eegfmri-viewer",
        description="Explore simultaneous EEG-fMRI with graph neural networks. "
        "Without a subcommand, starts the viewer.",
    )
    parser.add_argument("--version", action="version", version=f"eegfmri-viewer {__version__}")
    parser.add_argument("--screenshot", metavar="PNG", type=Path,
                        help="render the main window to PNG once it has settled, then exit")
    parser.add_argument("--open", metavar="PATH", type=Path, dest="open_path",
                        help="open at start: a BIDS folder, a results folder, or a BOLD NIfTI (.nii, .nii.gz; "
                             "fMRI only, with the BIDS-named _events.tsv beside it). An EEG file is opened "
                             "together with its BOLD run: File > Open EEG + BOLD files in the viewer")
    parser.add_argument("--demo", action="store_true",
                        help="open the built-in demo dataset (generated on first use) with its results, "
                             "analysing it first if it was not analysed with these settings yet")
    parser.add_argument("--demo-small", action="store_true",
                        help="like --demo, with the small demo dataset (2 subjects x 1 session x 2 min)")
    parser.add_argument("--demo-config", metavar="TOML", type=Path,
                        help="analysis settings for --demo (config.toml format; default settings otherwise)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS:
        if "all" not in load and name not in load:
            continue
        module = _import_command(module_name)
        if module is None:
            continue
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``eegfmri-viewer``; returns the exit status.

    A reader that closes the pipe early (``eegfmri-viewer info ... | head``)
    ends the command quietly with status 141 (128 + SIGPIPE), as a shell tool would.
    """
    try:
        return _main(argv)
    except BrokenPipeError:
        _quiet_broken_pipe()
        return 141


def _quiet_broken_pipe() -> None:
    # Python flushes stdout again at exit; pointing it at devnull keeps that
    # flush from raising (and printing) a second BrokenPipeError.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _wanted_command(argv)
    wants_help = any(a in ("-h", "--help") for a in argv)
    if command is not None:
        load: Sequence[str] = (command,)
    elif wants_help:
        load = ("all",)
    else:
        load = ()
    parser = build_parser(load)
    if command is not None and _import_command(dict(COMMANDS)[command]) is None:
        parser.error(f"the '{command}' command is not available in this installation")
    args = parser.parse_args(argv)
    if args.demo_config is not None and not (args.demo or args.demo_small):
        parser.error("--demo-config needs --demo or --demo-small")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "_run", None) is not None:
        return _run_command(args)
    return run_gui(args)


def _run_command(args: argparse.Namespace) -> int:
    try:
        from eegfmri_viewer.io.errors import InputError
    except ImportError:  # pragma: no cover - io is part of the package
        InputError = ValueError  # noqa: N806
    try:
        return int(args._run(args) or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run_gui(args: argparse.Namespace) -> int:
    """Start the Qt application and the main window; returns the exit status."""
    demo = bool(getattr(args, "demo", False) or getattr(args, "demo_small", False))
    demo_config = None
    if demo and getattr(args, "demo_config", None) is not None:
        from eegfmri_viewer.io.errors import InputError
        from eegfmri_viewer.pipeline.config import AnalysisConfig

        try:
            demo_config = AnalysisConfig.from_toml(args.demo_config)
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    from eegfmri_viewer import app as app_module

    QCoreApplication.setOrganizationName(app_module.ORGANIZATION)
    QCoreApplication.setApplicationName(app_module.APPLICATION)
    QCoreApplication.setApplicationVersion(__version__)
    qapp = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "eegfmri-viewer"])
    app_module.setup_logging(logging.DEBUG if args.verbose else logging.INFO)

    window = app_module.MainWindow()
    window.show()
    if args.open_path is not None:
        window.open_path(args.open_path)
    if demo:
        window.open_demo(small=bool(getattr(args, "demo_small", False)), analyse=True, config=demo_config)

    outcome = {"rc": 0}
    if args.screenshot is not None:
        def done(ok: bool) -> None:
            # a demo that could not be analysed fails the run, screenshot or not
            demo_ok = not demo or window.demo_outcome in ("reused", "analysed")
            outcome["rc"] = 0 if ok and demo_ok else 1
            if not demo_ok:
                log.error("the demo did not complete (%s); the screenshot shows the window as it was",
                          window.demo_outcome)
            window.close()
            qapp.quit()

        timeout_s = DEMO_SCREENSHOT_TIMEOUT_S if demo else SCREENSHOT_TIMEOUT_S
        app_module.save_screenshot_when_settled(window, args.screenshot, done, timeout_s=timeout_s)

    qapp.aboutToQuit.connect(window.save_layout)
    # Ctrl+C in the terminal closes the window the normal way; the timer lets the
    # interpreter run its signal handler while Qt's loop waits for events.
    signal.signal(signal.SIGINT, lambda *_: window.close())
    from PySide6.QtCore import QTimer

    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(250)

    rc = qapp.exec()
    rc = rc or outcome["rc"]
    wake.stop()
    from eegfmri_viewer.workers.pool import unfinished_workers

    # The loop can also end without closing the window (Ctrl+C, app.quit()).
    deadline = time.monotonic() + 5.0
    for worker in unfinished_workers():
        worker.cancel()
    for worker in unfinished_workers():
        worker.wait(max(0.0, deadline - time.monotonic()))
    if unfinished_workers():
        # Work that ignores its cancel flag must not keep the process alive,
        # and its QThread must not be destroyed while running (Qt aborts then).
        log.warning("exiting with %d background task(s) still running", len(unfinished_workers()))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    return rc
