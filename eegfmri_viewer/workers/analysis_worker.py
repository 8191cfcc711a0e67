"""The worker that runs an analysis for the GUI: ``analyze`` in a child process.

The child process (:mod:`eegfmri_viewer.pipeline.analysis_process`) keeps the
GIL-holding training work out of the GUI process; the worker's own thread only
waits on the child's pipe, relays its messages as the usual
:class:`FunctionWorker` signals and finally reads the bundle.
"""

from __future__ import annotations

from typing import Optional

from eegfmri_viewer.workers.function_worker import FunctionWorker


def _analyze_and_load(source, out_dir, config, progress=None, cancel=None, on_epoch=None,
                      torch_threads: Optional[int] = None, force: bool = False):
    from eegfmri_viewer.pipeline.analysis_process import analyze_in_process
    from eegfmri_viewer.results import load_bundle

    path = analyze_in_process(source, out_dir, config, progress=progress, cancel=cancel, on_epoch=on_epoch,
                              torch_threads=torch_threads, force=force)
    return path, load_bundle(path)


def analysis_worker(source, out_dir, config=None, *, name: str = "training",
                    torch_threads: Optional[int] = None, force: bool = False) -> FunctionWorker:
    """A (not yet started) worker that analyses ``source`` into ``out_dir``.

    Parameters
    ----------
    source : str or Path or RecordingFiles
        BIDS root, or the loose files of one recording
        (:class:`~eegfmri_viewer.io.single.RecordingFiles`, as ``analyze --bold``).
    out_dir : str or Path
        Bundle folder to write.
    config : AnalysisConfig or mapping or None
        Settings (``{table: {key: value}}`` as the Training view emits them).
    name : str
        Worker name, shown in logs and error dialogs.
    torch_threads : int, optional
        ``torch.set_num_threads`` in the child process.
    force : bool
        Replace an earlier results bundle (or an empty folder) at ``out_dir``,
        as ``analyze --force``; never any other folder.

    Returns
    -------
    worker : FunctionWorker
        Its signals: ``progress(float, str)``, ``event(dict)`` once per epoch
        (keys stage, epoch, loss, train_acc, val_acc, ...), ``finished((path,
        ResultsBundle))``, ``failed(WorkerFailure)`` whose exception is the
        child's (same type and message, e.g. ``InputError`` naming the folder)
        and whose traceback is the child's, ``cancelled()`` and ``done()``.
        ``cancel()`` stops the child (terminated if it does not stop within
        ``analysis_process.CANCEL_GRACE_S``).
    """
    return FunctionWorker(_analyze_and_load, source, out_dir, config, name=name, event_kwarg="on_epoch",
                          torch_threads=torch_threads, force=force)
