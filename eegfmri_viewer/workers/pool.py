"""Registry of running workers, so the main window can stop them all on close."""

from __future__ import annotations

import logging
import time
from typing import Optional

from PySide6.QtCore import QObject, Signal, Slot

from eegfmri_viewer.workers.function_worker import FunctionWorker

log = logging.getLogger(__name__)


class WorkerPool(QObject):
    """Keeps every started :class:`FunctionWorker` until its thread ends.

    Signals
    -------
    failed(object)
        A :class:`~eegfmri_viewer.workers.WorkerFailure` of a worker created
        with ``report_failures=True``.
    countChanged(int)
        Number of running workers.
    """

    failed = Signal(object)
    countChanged = Signal(int)

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._workers: list[FunctionWorker] = []

    def start(self, worker: FunctionWorker) -> FunctionWorker:
        """Register ``worker`` and start it; returns the worker."""
        worker.failed.connect(self._forward_failure)
        worker.done.connect(self._forget)
        worker.start()
        self._workers.append(worker)
        self.countChanged.emit(len(self._workers))
        return worker

    def running(self) -> list[FunctionWorker]:
        """Workers whose thread has not ended yet."""
        return list(self._workers)

    def stop_all(self, timeout_s: float = 5.0) -> bool:
        """Cancel every worker and wait up to ``timeout_s`` in total.

        Returns True when all threads ended. A worker whose function never checks
        its cancel flag keeps running; it stays referenced (see
        ``FunctionWorker._alive``) so its thread object is not destroyed while
        running, and :func:`unfinished_workers` tells the caller at exit.
        """
        workers = list(self._workers)
        for worker in workers:
            worker.cancel()
        deadline = time.monotonic() + timeout_s
        all_stopped = True
        for worker in workers:
            remaining = max(0.0, deadline - time.monotonic())
            if not worker.wait(remaining):
                log.warning("worker %s did not stop within %.1f s", worker.name, timeout_s)
                all_stopped = False
        return all_stopped

    @Slot(object)
    def _forward_failure(self, failure: object) -> None:
        worker = self.sender()
        if getattr(worker, "report_failures", True):
            self.failed.emit(failure)

    @Slot()
    def _forget(self) -> None:
        worker = self.sender()
        if worker in self._workers:
            self._workers.remove(worker)
            self.countChanged.emit(len(self._workers))


def unfinished_workers() -> list[FunctionWorker]:
    """Workers (from any pool or none) whose thread is still running."""
    return [w for w in FunctionWorker._alive if w.is_running()]
