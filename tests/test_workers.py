"""FunctionWorker / WorkerPool: run core functions off the GUI thread."""

import threading
import time

import pytest
from PySide6.QtCore import QThread

from eegfmri_viewer.progress import check_cancel, report
from eegfmri_viewer.workers import FunctionWorker, WorkerFailure, WorkerPool
from eegfmri_viewer.workers.pool import unfinished_workers


def add(a, b, *, scale=1, progress=None, cancel=None):
    for i in range(5):
        report(progress, (i + 1) / 5, f"step {i + 1}")
    return (a + b) * scale, threading.get_ident()


def explode(progress=None, cancel=None):
    raise KeyError("no such band: zeta")


def spin(duration_s=30.0, progress=None, cancel=None):
    """Works in 20 ms slices and checks ``cancel`` between them, as core code does."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < duration_s:
        check_cancel(cancel)
        time.sleep(0.02)
    return "ran to the end"


def train(n_epochs, progress=None, cancel=None, on_epoch=None):
    for epoch in range(n_epochs):
        on_epoch({"epoch": epoch, "loss": 1.0 / (epoch + 1)})
    return n_epochs


def test_success_runs_in_another_thread_and_reports_progress(qtbot):
    worker = FunctionWorker(add, 2, 3, scale=10)
    progress, started = [], []
    worker.progress.connect(lambda f, m: progress.append((f, m)))
    worker.started.connect(lambda: started.append(True))
    with qtbot.waitSignal(worker.finished, timeout=5000) as blocker:
        worker.start()
    value, thread_id = blocker.args[0]
    assert value == 50
    assert thread_id != threading.get_ident()
    assert started == [True]
    assert progress[-1] == (1.0, "step 5")
    assert all(0.0 <= f <= 1.0 for f, _ in progress)
    assert worker.outcome == "finished"
    qtbot.waitUntil(lambda: not worker.is_running(), timeout=2000)


def test_signals_are_delivered_in_the_gui_thread(qtbot):
    worker = FunctionWorker(add, 1, 1)
    seen = []
    gui_thread = QThread.currentThread()
    worker.progress.connect(lambda *a: seen.append(QThread.currentThread() is gui_thread))
    worker.finished.connect(lambda *a: seen.append(QThread.currentThread() is gui_thread))
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.start()
    assert seen and all(seen)


def test_failure_carries_exception_and_traceback(qtbot):
    worker = FunctionWorker(explode)
    finished = []
    worker.finished.connect(finished.append)
    with qtbot.waitSignal(worker.failed, timeout=5000) as blocker:
        worker.start()
    failure = blocker.args[0]
    assert isinstance(failure, WorkerFailure)
    assert isinstance(failure.exception, KeyError)
    assert "explode" in failure.traceback and "no such band: zeta" in failure.traceback
    assert failure.worker_name == "explode"
    assert finished == [] and worker.outcome == "failed"


def test_cancel_is_honoured_within_half_a_second(qtbot):
    worker = FunctionWorker(spin, 30.0)
    finished = []
    worker.finished.connect(finished.append)
    with qtbot.waitSignal(worker.started, timeout=5000):
        worker.start()
    t0 = time.monotonic()
    with qtbot.waitSignal(worker.cancelled, timeout=2000):
        worker.cancel()
    assert time.monotonic() - t0 < 0.5
    assert finished == [] and worker.outcome == "cancelled"
    assert worker.wait(1.0)


def test_event_callback_name_is_configurable(qtbot):
    worker = FunctionWorker(train, 4, event_kwarg="on_epoch")
    events = []
    worker.event.connect(events.append)
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.start()
    qtbot.waitUntil(lambda: len(events) == 4, timeout=2000)
    assert [e["epoch"] for e in events] == [0, 1, 2, 3]


def test_worker_cannot_start_twice(qtbot):
    worker = FunctionWorker(add, 1, 2)
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.start()
    with pytest.raises(RuntimeError):
        worker.start()


def test_progress_flood_is_thinned(qtbot):
    def chatty(progress=None, cancel=None):
        for i in range(20000):
            progress(i / 20000, "training")
        progress(1.0, "training")

    worker = FunctionWorker(chatty)
    calls = []
    worker.progress.connect(lambda f, m: calls.append(f))
    with qtbot.waitSignal(worker.done, timeout=10000):
        worker.start()
    assert 1 <= len(calls) < 2000
    assert calls[-1] == 1.0


def test_pool_stop_all_while_running_no_hang_no_qthread_warning(qtbot, qtlog):
    pool = WorkerPool()
    workers = [pool.start(FunctionWorker(spin, 30.0)) for _ in range(3)]
    qtbot.waitUntil(lambda: all(w.is_running() for w in workers), timeout=3000)
    t0 = time.monotonic()
    assert pool.stop_all(timeout_s=5.0)
    assert time.monotonic() - t0 < 1.0
    assert not any(w.is_running() for w in workers)
    qtbot.waitUntil(lambda: pool.running() == [], timeout=2000)
    del workers, pool
    import gc

    gc.collect()
    assert not [r for r in qtlog.records if "QThread" in r.message]


def test_pool_forwards_failures_unless_opted_out(qtbot):
    pool = WorkerPool()
    forwarded = []
    pool.failed.connect(forwarded.append)
    quiet = FunctionWorker(explode, report_failures=False, name="quiet")
    loud = FunctionWorker(explode, name="loud")
    with qtbot.waitSignals([quiet.done, loud.done], timeout=5000):
        pool.start(quiet)
        pool.start(loud)
    assert [f.worker_name for f in forwarded] == ["loud"]


def test_uncooperative_function_does_not_block_stop_all_forever(qtbot):
    def stubborn(progress=None, cancel=None):
        time.sleep(1.0)  # never checks cancel
        return "late"

    pool = WorkerPool()
    worker = pool.start(FunctionWorker(stubborn))
    qtbot.waitUntil(worker.is_running, timeout=2000)
    t0 = time.monotonic()
    assert pool.stop_all(timeout_s=0.2) is False
    assert time.monotonic() - t0 < 0.6
    assert worker in unfinished_workers()
    # the worker stays referenced until its thread really ends
    with qtbot.waitSignal(worker.done, timeout=5000):
        pass
    assert worker not in unfinished_workers()


@pytest.mark.gui
def test_process_exit_after_stop_all_is_clean(tmp_path):
    """The real exit path: QApplication quits with workers just stopped."""
    import subprocess
    import sys

    script = tmp_path / "exit_app.py"
    script.write_text(
        "import sys, time\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from eegfmri_viewer.progress import check_cancel\n"
        "from eegfmri_viewer.workers import FunctionWorker, WorkerPool\n"
        "def spin(progress=None, cancel=None):\n"
        "    while True:\n"
        "        check_cancel(cancel)\n"
        "        time.sleep(0.02)\n"
        "app = QApplication([])\n"
        "pool = WorkerPool()\n"
        "for _ in range(3):\n"
        "    pool.start(FunctionWorker(spin))\n"
        "def stop():\n"
        "    print('stopped', pool.stop_all(2.0))\n"
        "    app.quit()\n"
        "QTimer.singleShot(200, stop)\n"
        "sys.exit(app.exec())\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "stopped True" in out.stdout
    assert "QThread" not in out.stderr


# -- analysis_worker: analyze in a child process, as the main window runs it ----------
def test_analysis_worker_failure_names_the_folder_with_the_child_traceback(qtbot, tmp_path):
    import multiprocessing

    from eegfmri_viewer.io.errors import InputError
    from eegfmri_viewer.workers import analysis_worker

    folder = tmp_path / "not a dataset"
    folder.mkdir()
    worker = analysis_worker(str(folder), str(tmp_path / "res"), {"training": {"epochs": 1}})
    with qtbot.waitSignal(worker.failed, timeout=60000) as blocker:
        worker.start()
    failure = blocker.args[0]
    assert isinstance(failure, WorkerFailure)
    assert isinstance(failure.exception, InputError)
    assert "not a dataset" in str(failure.exception)
    # the traceback shown in the error dialog is the child's, down to the pipeline
    assert "analyze" in failure.traceback and "_child_main" in failure.traceback
    qtbot.waitUntil(lambda: not worker.is_running(), timeout=5000)
    assert not multiprocessing.active_children()


def test_analysis_worker_cancel_stops_the_child_process(qtbot, small_demo, tmp_path):
    import multiprocessing

    from eegfmri_viewer.workers import analysis_worker

    worker = analysis_worker(str(small_demo), str(tmp_path / "res"), {"training": {"epochs": 50}},
                             torch_threads=1)
    with qtbot.waitSignal(worker.progress, timeout=60000):
        worker.start()
    assert multiprocessing.active_children(), "the analysis should run in a child process"
    t0 = time.monotonic()
    with qtbot.waitSignal(worker.cancelled, timeout=5000):
        worker.cancel()
    assert time.monotonic() - t0 < 4.0
    qtbot.waitUntil(lambda: not worker.is_running(), timeout=5000)
    assert not multiprocessing.active_children()
    assert not (tmp_path / "res").exists()


def test_closing_the_window_path_stop_all_leaves_no_analysis_process(qtbot, small_demo, tmp_path):
    import multiprocessing

    from eegfmri_viewer.workers import analysis_worker

    pool = WorkerPool()
    worker = analysis_worker(str(small_demo), str(tmp_path / "res"), {"training": {"epochs": 50}},
                             torch_threads=1)
    with qtbot.waitSignal(worker.progress, timeout=60000):
        pool.start(worker)
    assert pool.stop_all(timeout_s=5.0)  # what MainWindow.closeEvent does
    assert not multiprocessing.active_children()
    qtbot.waitUntil(lambda: not pool.running(), timeout=2000)
    assert worker.outcome == "cancelled"
