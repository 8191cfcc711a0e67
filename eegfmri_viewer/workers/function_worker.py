"""A reusable worker that runs one core function in its own ``QThread``.

The function is plain Python (``fn(*args, progress=..., cancel=..., **kwargs)``,
see :mod:`eegfmri_viewer.progress`); the worker turns its callbacks into Qt
signals that are delivered in the GUI thread, so slots may touch widgets.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from eegfmri_viewer.progress import Cancelled

log = logging.getLogger(__name__)

# Progress callbacks can fire thousands of times per second (one per batch); a
# queued signal per call would flood the GUI event loop, so they are thinned out.
PROGRESS_MIN_INTERVAL_S = 0.05


@dataclass
class WorkerFailure:
    """What ``FunctionWorker.failed`` carries.

    Attributes
    ----------
    exception : BaseException
        The exception raised by the function.
    traceback : str
        The formatted traceback, as Python prints it.
    worker_name : str
        Name of the worker (the function's name unless given).
    """

    exception: BaseException
    traceback: str
    worker_name: str

    def __str__(self) -> str:
        return f"{self.worker_name}: {type(self.exception).__name__}: {self.exception}"


def _is_expected(exc: BaseException) -> bool:
    """True for bad input (``InputError`` and its subclasses, e.g. ``BundleError``).

    Matched by class name along the MRO: an exception rebuilt from an analysis child
    process is of the same classes, and this module imports no core package.
    """
    return any(cls.__name__ == "InputError" for cls in type(exc).__mro__)


class _Thread(QThread):
    """Runs the call; its signals are emitted from the worker thread."""

    begun = Signal()
    stepped = Signal(float, str)
    evented = Signal(object)
    ended = Signal(str, object)  # outcome ("finished", "failed", "cancelled"), payload

    def __init__(self, call: Callable[[], Any], name: str):
        super().__init__()
        self._call = call
        self._name = name
        self.setObjectName(name)

    def run(self) -> None:  # noqa: D401 - QThread API
        self.begun.emit()
        try:
            result = self._call()
        except Cancelled:
            self.ended.emit("cancelled", None)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI
            # an exception relayed from a child process carries the child's traceback
            text = getattr(exc, "remote_traceback", None) or traceback.format_exc()
            self.ended.emit("failed", WorkerFailure(exc, text, self._name))
        else:
            self.ended.emit("finished", result)


class FunctionWorker(QObject):
    """Run ``fn(*args, **kwargs)`` in a background thread.

    The worker adds ``progress=`` and ``cancel=`` keyword arguments (names
    configurable, ``None`` to leave one out) and, if ``event_kwarg`` is given,
    a callback under that name (e.g. ``"on_epoch"``) whose argument is emitted
    through :attr:`event`. All signals arrive in the thread that owns the
    worker (the GUI thread).

    Parameters
    ----------
    fn : callable
        The core function to run.
    *args, **kwargs
        Passed to ``fn``.
    name : str, optional
        Shown in logs and error dialogs; defaults to ``fn.__name__``.
    event_kwarg : str, optional
        Name of ``fn``'s per-event callback argument (``"on_epoch"``, ``"on_event"``).
    progress_kwarg, cancel_kwarg : str or None
        Names of the progress and cancel arguments of ``fn``.
    report_failures : bool
        If True, a :class:`WorkerPool` forwards failures to its ``failed`` signal
        (the main window shows them in an error dialog).

    Signals
    -------
    started()
    progress(float, str)
        Fraction in [0, 1] and message.
    event(object)
        Whatever ``fn`` passed to its event callback.
    finished(object)
        The function's return value.
    failed(object)
        A :class:`WorkerFailure`.
    cancelled()
        The function raised :class:`~eegfmri_viewer.progress.Cancelled`.
    done()
        Emitted last, after the thread has stopped, whatever the outcome.
    """

    started = Signal()
    progress = Signal(float, str)
    event = Signal(object)
    finished = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    done = Signal()

    # Workers started without a pool stay referenced until their thread ends:
    # a QThread collected while running aborts the process.
    _alive: "set[FunctionWorker]" = set()

    def __init__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        name: Optional[str] = None,
        event_kwarg: Optional[str] = None,
        progress_kwarg: Optional[str] = "progress",
        cancel_kwarg: Optional[str] = "cancel",
        report_failures: bool = True,
        parent: Optional[QObject] = None,
        **kwargs: Any,
    ):
        super().__init__(parent)
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.name = name or getattr(fn, "__name__", "worker")
        self.event_kwarg = event_kwarg
        self.progress_kwarg = progress_kwarg
        self.cancel_kwarg = cancel_kwarg
        self.report_failures = report_failures
        self.outcome: Optional[str] = None  # "finished" | "failed" | "cancelled"
        self._cancel_event = threading.Event()
        self._thread: Optional[_Thread] = None
        self._last_progress = (-1.0, None, 0.0)  # fraction, message, monotonic time

    # -- control --------------------------------------------------------------
    def start(self) -> "FunctionWorker":
        """Start the function in a new thread; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError(f"worker {self.name!r} was already started")
        kwargs = dict(self.kwargs)
        if self.progress_kwarg:
            kwargs[self.progress_kwarg] = self._report_progress
        if self.cancel_kwarg:
            kwargs[self.cancel_kwarg] = self._cancel_event.is_set
        if self.event_kwarg:
            kwargs[self.event_kwarg] = self._report_event
        fn, args = self.fn, self.args
        thread = _Thread(lambda: fn(*args, **kwargs), self.name)
        queued = Qt.ConnectionType.QueuedConnection
        thread.begun.connect(self._on_begun, queued)
        thread.stepped.connect(self._on_stepped, queued)
        thread.evented.connect(self._on_evented, queued)
        thread.ended.connect(self._on_ended, queued)
        thread.finished.connect(self._on_thread_finished, queued)
        self._thread = thread
        FunctionWorker._alive.add(self)
        log.debug("starting worker %s", self.name)
        thread.start()
        return self

    def cancel(self) -> None:
        """Ask the function to stop; it raises ``Cancelled`` at its next check."""
        if not self._cancel_event.is_set():
            log.info("cancel requested for %s", self.name)
        self._cancel_event.set()

    @property
    def cancel_requested(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancel_event.is_set()

    def is_running(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.isRunning()

    def wait(self, timeout_s: Optional[float] = None) -> bool:
        """Block until the thread ends or ``timeout_s`` passes; True if it ended.

        Signals queued by the thread are delivered by the event loop afterwards.
        """
        if self._thread is None:
            return True
        if timeout_s is None:
            return self._thread.wait()
        return self._thread.wait(max(0, int(timeout_s * 1000)))

    # -- callbacks running in the worker thread ---------------------------------
    def _report_progress(self, fraction: float, message: str = "") -> None:
        fraction = min(1.0, max(0.0, float(fraction)))
        message = str(message)
        last_fraction, last_message, last_t = self._last_progress
        now = time.monotonic()
        if message == last_message and fraction < 1.0 and now - last_t < PROGRESS_MIN_INTERVAL_S:
            return
        self._last_progress = (fraction, message, now)
        thread = self._thread
        if thread is not None:
            thread.stepped.emit(fraction, message)

    def _report_event(self, payload: Any) -> None:
        thread = self._thread
        if thread is not None:
            thread.evented.emit(payload)

    # -- slots running in the owner's (GUI) thread --------------------------------
    @Slot()
    def _on_begun(self) -> None:
        self.started.emit()

    @Slot(float, str)
    def _on_stepped(self, fraction: float, message: str) -> None:
        self.progress.emit(fraction, message)

    @Slot(object)
    def _on_evented(self, payload: Any) -> None:
        self.event.emit(payload)

    @Slot(str, object)
    def _on_ended(self, outcome: str, payload: Any) -> None:
        self.outcome = outcome
        if outcome == "finished":
            log.debug("worker %s finished", self.name)
            self.finished.emit(payload)
        elif outcome == "cancelled":
            log.info("worker %s cancelled", self.name)
            self.cancelled.emit()
        elif _is_expected(payload.exception):
            # bad input is the user's to fix, not a bug: one line, as the dialog says it; the
            # traceback stays out of the Log dock (at DEBUG in the log file, for a bug report)
            log.warning("%s: %s", self.name, str(payload.exception).strip() or type(payload.exception).__name__)
            log.debug("worker %s failed:\n%s", self.name, payload.traceback)
            self.failed.emit(payload)
        else:
            log.error("worker %s failed:\n%s", self.name, payload.traceback)
            self.failed.emit(payload)

    @Slot()
    def _on_thread_finished(self) -> None:
        FunctionWorker._alive.discard(self)
        self.done.emit()
