"""Run :func:`~eegfmri_viewer.pipeline.analyze.analyze` in a child process.

Training holds the GIL for long stretches (numpy, scipy, MNE, nilearn and torch
calls that do not release it), so a GUI that runs ``analyze`` in one of its own
threads cannot repaint during those calls (measured: stalls up to ~300 ms).
:func:`analyze_in_process` runs the same function in a fresh interpreter
started with the ``"spawn"`` method (no forked locks, no Qt state copied into
the child) and relays what the child reports to plain callbacks in the
calling thread, which spends its time blocked on a pipe and so leaves the GIL
to the GUI.

Messages from the child are JSON documents sent with
``Connection.send_bytes``: the parent never unpickles anything the child
wrote. Cancellation goes the other way through a ``multiprocessing.Event``
that the child's ``cancel()`` reads; a child that does not stop within
:data:`CANCEL_GRACE_S` is terminated. The child also exits by itself when its
parent dies, so no orphan keeps training.

No Qt here: the Qt wrapper lives in :mod:`eegfmri_viewer.workers`.
"""

from __future__ import annotations

import atexit
import builtins
import importlib
import json
import logging
import multiprocessing
import os
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Optional

from eegfmri_viewer.progress import Cancelled, check_cancel

# How often the parent looks at its cancel flag while it waits for messages.
POLL_S = 0.05
# A cancelled child gets this long to raise Cancelled before it is terminated.
CANCEL_GRACE_S = 2.0
# Progress messages are thinned in the child: a message per batch would only
# cost pipe traffic and GUI wake-ups.
PROGRESS_MIN_INTERVAL_S = 0.05
# The child runs at a lower CPU priority than its parent (POSIX only): on a
# machine with few cores the window then gets the CPU as soon as it needs it,
# and training still has every idle cycle.
CHILD_NICE = 10
# Share of the progress bar for opening a recording's files (reading, EEG artifact
# correction) before ``analyze`` runs on it.
OPEN_FILES_SHARE = 0.1
# How often the child checks that its parent is still alive.
PARENT_CHECK_S = 0.5
# Log records of the child from this level on are relayed to the parent's log
# (the root logger of a fresh interpreter passes WARNING and above).
CHILD_LOG_LEVEL = logging.WARNING

_live: "set[multiprocessing.process.BaseProcess]" = set()
_live_lock = threading.Lock()


class AnalysisProcessError(RuntimeError):
    """The analysis process failed in a way that has no local exception type.

    Raised for a child that died without reporting (crash, killed for memory)
    and for exceptions whose type cannot be rebuilt in the parent.
    """


def analyze_in_process(source, out_dir, config=None, *, subjects=None, sessions=None, level=None,
                       force: bool = False, progress=None, cancel=None,
                       on_epoch: Optional[Callable[[dict], None]] = None,
                       torch_threads: Optional[int] = None) -> Path:
    """Run ``analyze`` in a spawned child process; same arguments and result.

    Parameters
    ----------
    source : str or Path or RecordingFiles
        A BIDS root, or the loose files of one recording
        (:class:`~eegfmri_viewer.io.single.RecordingFiles`), which the child
        opens with :func:`~eegfmri_viewer.io.single.open_files` and analyses
        as ``analyze --bold FILE [--events FILE] [--eeg FILE]`` does.
        (Recordings already loaded in this process cannot be sent to the
        child; call ``analyze`` directly for those.)
    out_dir : str or Path
        Bundle folder to write. For files it is checked here, before the
        child starts (:func:`~eegfmri_viewer.results.check_bundle_destination`
        with the files as inputs: never inside the folder that holds one).
    config : AnalysisConfig or mapping or str or Path or None
        Settings: a config object, its ``to_dict()`` form, a ``config.toml``,
        or None for the defaults. Validated here, before the child starts,
        so a bad setting fails at once.
    subjects, sessions, level, force
        As for :func:`~eegfmri_viewer.pipeline.analyze.analyze`.
    progress, cancel
        See :mod:`eegfmri_viewer.progress`; called in the calling thread.
        ``cancel`` is polled every :data:`POLL_S` seconds.
    on_epoch : callable, optional
        Called in the calling thread with each per-epoch record of the child
        (a dict of str, int, float and None, as ``analyze`` reports it).
    torch_threads : int, optional
        ``torch.set_num_threads`` in the child.

    Returns
    -------
    out_dir : Path
        The bundle written.

    Raises
    ------
    InputError
        Bad input or settings (the child's exception, rebuilt here).
    Cancelled
        ``cancel()`` turned true; the child has ended.
    AnalysisProcessError
        The child died without reporting, or raised an exception whose type
        cannot be rebuilt here (its message keeps the original type name).
    Exception
        Any other exception of the child, rebuilt with the same type and
        arguments; its ``remote_traceback`` attribute holds the child's
        formatted traceback.
    """
    from eegfmri_viewer.io.errors import InputError
    from eegfmri_viewer.io.single import RecordingFiles
    from eegfmri_viewer.pipeline.config import AnalysisConfig

    if isinstance(source, RecordingFiles):
        # before the child starts (seconds of imports), as `analyze --bold` checks before loading
        from eegfmri_viewer.results import check_bundle_destination

        check_bundle_destination(out_dir, force=force, inputs=source.paths())
        if subjects is not None or sessions is not None:
            raise InputError(source.bold, "subjects and sessions select runs of a BIDS folder, "
                                          "not of one recording's files")
        sent_source = {"files": source.to_dict()}
    elif isinstance(source, (str, os.PathLike)):
        sent_source = {"folder": str(source)}
    else:
        raise TypeError("analyze_in_process needs a dataset folder (str or Path) or RecordingFiles as source; "
                        f"got {type(source).__name__}")
    if config is None:
        config = AnalysisConfig()
    elif isinstance(config, (str, os.PathLike)):
        config = AnalysisConfig.from_toml(config)
    elif not isinstance(config, AnalysisConfig):
        config = AnalysisConfig.from_dict(config)
    if level is not None and level not in ("group", "individual"):
        raise InputError(None, f"level must be 'group' or 'individual', got {level!r}")
    check_cancel(cancel)

    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    stop = ctx.Event()
    options = {"subjects": list(subjects) if subjects is not None else None,
               "sessions": list(sessions) if sessions is not None else None,
               "level": level, "force": bool(force), "torch_threads": torch_threads}
    proc = ctx.Process(target=_child_main, name="eegfmri-analysis",
                       args=(sender, stop, sent_source, str(out_dir), config.to_dict(), options, os.getpid()))
    try:
        proc.start()
    except BaseException:
        receiver.close()
        sender.close()
        raise
    with _live_lock:
        _live.add(proc)
    _lower_priority(proc.pid)
    # The parent's copy of the write end must go, or the pipe never reports
    # EOF when the child dies without a last message.
    sender.close()
    final = None
    stop_deadline = None
    try:
        while final is None:
            if stop_deadline is None and cancel is not None and cancel():
                stop.set()
                stop_deadline = time.monotonic() + CANCEL_GRACE_S
            if stop_deadline is not None and time.monotonic() > stop_deadline:
                raise Cancelled("cancelled by the user (the analysis process was terminated)")
            if not receiver.poll(POLL_S):
                continue
            try:
                data = receiver.recv_bytes()
            except EOFError:
                proc.join(1.0)
                if stop.is_set():
                    raise Cancelled("cancelled by the user") from None
                raise AnalysisProcessError(
                    f"the analysis process stopped without a result (exit code {proc.exitcode}); "
                    "it may have run out of memory") from None
            message = json.loads(data)
            kind = message.get("kind")
            if kind == "progress" and progress is not None:
                progress(float(message["fraction"]), str(message["message"]))
            elif kind == "epoch" and on_epoch is not None:
                on_epoch(message["record"])
            elif kind == "log":
                # the child's log lines go to this process's log file, as before
                logging.getLogger(str(message["name"])).log(int(message["level"]), "%s", message["message"])
            elif kind in ("finished", "failed", "cancelled"):
                final = message
    finally:
        _end_child(proc, graceful=final is not None)
        receiver.close()
    if final["kind"] == "finished":
        return Path(final["path"])
    if final["kind"] == "cancelled" or stop.is_set():
        # a run the user stopped ends as cancelled even if it failed meanwhile
        raise Cancelled("cancelled by the user")
    raise rebuild_exception(final["error"])


def _lower_priority(pid: int) -> None:
    # Set from here, at once, not by the child: its start-up (interpreter,
    # numpy, torch imports) is the first CPU burst. Threads the child starts
    # later inherit the value.
    if CHILD_NICE and hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, 0) + CHILD_NICE)
        except OSError:
            pass


def _end_child(proc, graceful: bool) -> None:
    """Wait for a child that reported its end; terminate, then kill, one that did not."""
    if graceful:
        proc.join(5.0)
    if proc.is_alive():
        proc.terminate()
        proc.join(2.0)
    if proc.is_alive():
        proc.kill()
        proc.join(2.0)
    with _live_lock:
        _live.discard(proc)
    if not proc.is_alive():
        proc.close()


@atexit.register
def _terminate_live_children() -> None:
    # Runs before multiprocessing's own exit handler (atexit is last in, first
    # out), which would otherwise wait for a training child to finish.
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        try:
            if proc.is_alive():
                proc.terminate()
                proc.join(2.0)
        except ValueError:  # already closed
            pass


# -- errors across the process boundary -------------------------------------------
def describe_exception(exc: BaseException) -> dict:
    """A JSON-able description of ``exc`` from which :func:`rebuild_exception` rebuilds it.

    Parameters
    ----------
    exc : BaseException

    Returns
    -------
    description : dict
        Keys ``module``, ``type``, ``message``, ``args`` (None when not
        JSON-able), ``path`` and ``problem`` (InputError only) and
        ``traceback``.
    """
    args = None
    try:
        args = json.loads(json.dumps(list(exc.args)))
    except (TypeError, ValueError):
        pass
    path = getattr(exc, "path", None)
    return {
        "module": type(exc).__module__,
        "type": type(exc).__qualname__,
        "message": str(exc),
        "args": args,
        "path": str(path) if path is not None else None,
        "problem": getattr(exc, "problem", None),
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    }


def rebuild_exception(description: dict) -> BaseException:
    """The exception that :func:`describe_exception` described, as far as it can be rebuilt.

    Only builtin and ``eegfmri_viewer`` exception types are rebuilt; any other
    type (or one whose constructor refuses the arguments) becomes an
    :class:`AnalysisProcessError` whose message starts with the original type
    name. The result carries the child's traceback as ``remote_traceback``.
    """
    from eegfmri_viewer.io.errors import InputError

    module, name = description.get("module", ""), description.get("type", "")
    message = description.get("message", "")
    cls = None
    if module == "builtins":
        cls = getattr(builtins, name, None)
    elif module == "eegfmri_viewer" or module.startswith("eegfmri_viewer."):
        try:
            cls = importlib.import_module(module)
            for part in name.split("."):
                cls = getattr(cls, part)
        except (ImportError, AttributeError):
            cls = None
    exc = None
    if isinstance(cls, type) and issubclass(cls, InputError) and description.get("problem") is not None:
        try:
            exc = cls(description.get("path"), description["problem"])
        except TypeError:
            exc = None
    elif isinstance(cls, type) and issubclass(cls, BaseException):
        args = description.get("args")
        try:
            exc = cls(*args) if args is not None else cls(message)
        except TypeError:
            exc = None
    if exc is None or str(exc) != message:
        exc = AnalysisProcessError(f"{name}: {message}" if name else message)
    exc.remote_traceback = description.get("traceback", "")
    return exc


# -- the child --------------------------------------------------------------------
def _json_default(value: Any):
    # numpy scalars and arrays in per-epoch records
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


class _PipeLogHandler(logging.Handler):
    """Sends the child's log records to the parent, which logs them again."""

    def __init__(self, send: Callable[[dict], None]):
        super().__init__(CHILD_LOG_LEVEL)
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._send({"kind": "log", "name": record.name, "level": record.levelno,
                        "message": record.getMessage()})
        except Exception:  # noqa: BLE001 - a closed pipe must not break the analysis
            self.handleError(record)


def _watch_parent(parent_pid: int) -> None:
    # A parent killed without cleanup (SIGKILL, crash) would leave the child
    # training for minutes; re-parenting changes getppid().
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent_pid:
            os._exit(3)


def _child_main(conn, stop, source: dict, out_dir: str, config: dict, options: dict, parent_pid: int) -> None:
    """Entry point of the child process: run ``analyze`` and report over ``conn``.

    ``source`` is ``{"folder": BIDS root}`` or ``{"files": RecordingFiles.to_dict()}``.
    """
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()
    send_lock = threading.Lock()

    def send(message: dict) -> None:
        data = json.dumps(message, default=_json_default).encode("utf-8")
        with send_lock:
            conn.send_bytes(data)

    last = [None, 0.0]

    def progress(fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if message == last[0] and fraction < 1.0 and now - last[1] < PROGRESS_MIN_INTERVAL_S:
            return
        last[0], last[1] = message, now
        send({"kind": "progress", "fraction": float(fraction), "message": str(message)})

    def on_epoch(record: dict) -> None:
        send({"kind": "epoch", "record": dict(record)})

    logging.getLogger().addHandler(_PipeLogHandler(send))

    try:
        if options.get("torch_threads"):
            import torch

            torch.set_num_threads(int(options["torch_threads"]))
        from eegfmri_viewer.pipeline.analyze import analyze
        from eegfmri_viewer.pipeline.config import AnalysisConfig

        settings = AnalysisConfig.from_dict(config)
        analyse_progress = progress
        if "files" in source:
            from eegfmri_viewer.io.single import RecordingFiles
            from eegfmri_viewer.progress import sub_progress

            files = RecordingFiles.from_dict(source["files"])
            # as `analyze --bold` opens them: the analysis settings decide the artifact correction
            recording = files.open(correct_artifacts=settings.preprocessing.correct_artifacts,
                                   progress=sub_progress(progress, 0.0, OPEN_FILES_SHARE), cancel=stop.is_set)
            data = [recording]
            analyse_progress = sub_progress(progress, OPEN_FILES_SHARE, 1.0)
        else:
            data = source["folder"]
        path = analyze(data, out_dir, config=settings,
                       subjects=options.get("subjects"), sessions=options.get("sessions"),
                       level=options.get("level"), force=options.get("force", False),
                       progress=analyse_progress, cancel=stop.is_set, on_epoch=on_epoch)
        send({"kind": "finished", "path": str(path)})
    except Cancelled:
        send({"kind": "cancelled"})
    except BaseException as exc:  # noqa: BLE001 - every failure must reach the parent
        send({"kind": "failed", "error": describe_exception(exc)})
    finally:
        conn.close()
