"""Longest GUI event-loop stall while ``analyze`` trains in a background worker.

A 10 ms QTimer runs in the GUI thread while the whole pipeline runs on a
two-subject demo dataset in the worker the main window uses
(:func:`eegfmri_viewer.workers.analysis_worker`: ``analyze`` in a child
process, with the per-epoch events that drive the Training dock's live curves,
and the bundle loaded at the end). The longest gap between two timer ticks is
how long the window could not repaint. Target: < 100 ms.
``--in-thread`` runs ``analyze`` in a thread of the GUI process instead (the
former design) for comparison. The load average is printed because other
processes on the machine lengthen the stalls.
Needs a display: run under ``xvfb-run -a``. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-thread", action="store_true",
                        help="run analyze in a thread of the GUI process (the former design)")
    args = parser.parse_args(argv)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from eegfmri_viewer.demo.generate import generate_demo_dataset
    from eegfmri_viewer.pipeline.config import AnalysisConfig
    from eegfmri_viewer.workers import FunctionWorker, analysis_worker

    app = QApplication.instance() or QApplication(sys.argv)
    work = Path(tempfile.mkdtemp(prefix="bench_training_"))
    root = generate_demo_dataset(work / "demo", n_subjects=2, n_sessions=1, duration_s=120.0)
    config = AnalysisConfig().with_overrides(training={"epochs": 5}, phase2={"epochs": 5})
    gaps, last, epochs = [], [time.perf_counter()], []

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    if args.in_thread:
        from eegfmri_viewer.pipeline.analyze import analyze

        worker = FunctionWorker(analyze, root, work / "res", config=config, event_kwarg="on_epoch")
    else:
        worker = analysis_worker(root, work / "res", config)
    worker.event.connect(epochs.append)
    outcome = {}
    worker.finished.connect(lambda _r: outcome.setdefault("ok", True))
    worker.failed.connect(lambda f: outcome.setdefault("error", str(f.exception)))
    worker.done.connect(app.quit)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    timer.start()
    worker.start()
    app.exec()
    timer.stop()
    gaps_ms = sorted(g * 1000 for g in gaps[1:])
    result = {
        "benchmark": "training_responsiveness",
        "mode": "thread" if args.in_thread else "process",
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],  # before, after
        "analysis_s": round(time.perf_counter() - start, 1),
        "epochs_reported": len(epochs),
        "max_stall_ms": round(gaps_ms[-1], 1) if gaps_ms else None,
        "p99_stall_ms": round(gaps_ms[int(0.99 * (len(gaps_ms) - 1))], 1) if gaps_ms else None,
        "target_ms": 100,
        "ok": bool(outcome.get("ok")),
        "error": outcome.get("error"),
    }
    result["passed"] = bool(result["ok"] and result["max_stall_ms"] is not None and result["max_stall_ms"] < 100)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
