"""Cold start: launching ``eegfmri-viewer`` until the main window is first shown.

Median over 5 fresh processes (interpreter start included). The child runs the
real ``eegfmri_viewer.cli.main([])`` path; only the Qt event loop is replaced
by one that stops once the window is exposed on the display. Also recorded:
which heavy libraries were imported at that moment (none may be: torch,
torch_geometric, mne, nilearn, pyvista), and the time until every visible
dock held its built view.

Needs an X display; without one a private Xvfb server is started.
Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 5
TARGET_S = 1.5
HEAVY = ("torch", "torch_geometric", "mne", "nilearn", "pyvista")
REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
from PySide6.QtWidgets import QApplication

from PySide6.QtCore import QEvent, QObject

class ExposeClock(QObject):
    # notes when the window first reaches the screen (Qt paints it during that event)
    def __init__(self, handle):
        super().__init__()
        self.handle, self.at, self.heavy = handle, None, None
        handle.installEventFilter(self)
    def eventFilter(self, obj, event):
        if self.at is None and event.type() == QEvent.Type.Expose and self.handle.isExposed():
            self.heavy = [m for m in HEAVY if m in sys.modules]
            # the expose event paints the window; stamp after that
            QTimer.singleShot(0, self.stamp)
        return False
    def stamp(self):
        if self.at is None:
            self.at = time.time()

from PySide6.QtCore import QTimer

def exec_until_shown(self=None):
    app = QApplication.instance()
    window = next(w for w in app.topLevelWidgets() if type(w).__name__ == "MainWindow")
    clock = ExposeClock(window.windowHandle())
    deadline = time.time() + 60
    while clock.at is None and time.time() < deadline:
        app.processEvents()
        time.sleep(0.001)
    shown = clock.at
    heavy = clock.heavy
    while not window.views_settled() and time.time() < deadline:
        app.processEvents()
        time.sleep(0.001)
    settled = time.time()
    later = [m for m in HEAVY if m in sys.modules]
    print(json.dumps({"shown": shown, "settled": settled, "heavy": heavy, "heavy_after_views": later}))
    window.close()
    return 0

QApplication.exec = exec_until_shown
from eegfmri_viewer import cli
sys.exit(cli.main([]))
""".replace("HEAVY", repr(HEAVY))


def _start_xvfb():
    """Start Xvfb on a free display; returns (process, ":N")."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    return proc, f":{number}"


def one_run(env: dict) -> dict:
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120,
                         cwd=REPO)
    if out.returncode != 0:
        raise RuntimeError(f"start-up run failed ({out.returncode}):\n{out.stderr[-3000:]}")
    child = json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])
    return {"shown_s": child["shown"] - t0, "views_built_s": child["settled"] - t0, "heavy": child["heavy"],
            "heavy_after_views": child["heavy_after_views"]}


def main() -> int:
    xvfb = None
    env = dict(os.environ)
    if not env.get("DISPLAY"):
        xvfb, env["DISPLAY"] = _start_xvfb()
    env.pop("QT_QPA_PLATFORM", None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env["EEGFMRI_VIEWER_CONFIG_DIR"] = os.path.join(tmp, "config")
            env["EEGFMRI_VIEWER_DATA_DIR"] = os.path.join(tmp, "data")
            one_run(env)  # warm the OS file cache: "cold" means a fresh process, not a cold disk
            runs = [one_run(env) for _ in range(RUNS)]
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(10)
    shown = [r["shown_s"] for r in runs]
    heavy = sorted({m for r in runs for m in r["heavy"]})
    median = statistics.median(shown)
    result = {
        "name": "startup",
        "metric": "cold start to first shown main window (median of fresh processes)",
        "unit": "s",
        "runs": RUNS,
        "median_s": round(median, 3),
        "min_s": round(min(shown), 3),
        "max_s": round(max(shown), 3),
        "samples_s": [round(s, 3) for s in shown],
        "views_built_median_s": round(statistics.median(r["views_built_s"] for r in runs), 3),
        "target_s": TARGET_S,
        "heavy_modules_at_show": heavy,
        # information only: views may load these once the window is on screen
        "heavy_modules_after_views_built": sorted({m for r in runs for m in r["heavy_after_views"]}),
        "passed": median < TARGET_S and not heavy,
    }
    print(json.dumps(result))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
