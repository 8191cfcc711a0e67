"""Run plain core functions in background ``QThread`` s with progress and cancel."""

from eegfmri_viewer.workers.analysis_worker import analysis_worker
from eegfmri_viewer.workers.function_worker import FunctionWorker, WorkerFailure
from eegfmri_viewer.workers.pool import WorkerPool

__all__ = ["FunctionWorker", "WorkerFailure", "WorkerPool", "analysis_worker"]
