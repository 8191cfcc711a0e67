"""End to end from the Training dock: fill the form, click Start, watch the run fill the views; Cancel."""

import gc
import multiprocessing
import threading
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea

from shown_window import shown_window
from eegfmri_viewer.workers.pool import unfinished_workers

pytestmark = pytest.mark.slow

# Small but complete: phase 1 on fMRI and two EEG bands, then phase 2 and the coupling.
FAST_FORM = {
    ("training", "epochs"): 2,
    ("training", "patience"): 0,
    ("preprocessing", "bands"): '["alpha", 8, 13], ["beta", 13, 30]',
    ("phase1", "hidden"): "8",
    ("phase1", "n_filters"): 4,
    ("graph", "transfer"): "distance",
    ("phase2", "epochs"): 2,
    ("phase2", "n_salient"): 8,
    ("coupling", "n_permutations"): 0,
}


@pytest.fixture
def window(qtbot, tmp_path):
    with shown_window(qtbot, tmp_path) as win:
        yield win
    # Closing the window stops its work. A run left going would hold the CPU and
    # the GIL and stall whatever test comes next, so it fails here, where it started.
    qtbot.waitUntil(lambda: not unfinished_workers(), timeout=15000)
    qtbot.waitUntil(lambda: not multiprocessing.active_children(), timeout=15000)


def _training_view(window, source, out_dir):
    dock = window.docks["Training"]
    dock.show()
    dock.raise_()
    view = dock.ensure_built()
    for (table, key), value in FAST_FORM.items():
        widget = view.widgets[(table, key)]
        if isinstance(value, str):
            widget.setText(value)
        else:
            widget.setValue(value)
    view.source_edit.setText(str(source))
    view.out_edit.setText(str(out_dir))
    return view


def _click(qtbot, button):
    """A real left click on ``button``, scrolled into view first."""
    parent = button.parentWidget()
    while parent is not None and not isinstance(parent, QScrollArea):
        parent = parent.parentWidget()
    if parent is not None:
        parent.ensureWidgetVisible(button)
    qtbot.waitUntil(button.isVisible, timeout=5000)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


@pytest.mark.timeout(300)
def test_start_click_trains_and_fills_the_views(window, qtbot, small_demo, tmp_path):
    out = tmp_path / "results"
    view = _training_view(window, small_demo, out)
    assert window.state.results is None
    _click(qtbot, view.start_button)
    assert not view.start_button.isEnabled() and view.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: view.start_button.isEnabled(), timeout=240000)
    assert not window.error_dialogs, [b.text() for b in window.error_dialogs]
    assert view.message.text().startswith("Done"), view.message.text()
    assert (out / "manifest.json").is_file()

    # live curves: every phase-1 model and phase 2 drew one loss point per epoch
    loss_stages = {stage for stage, key in view.curves if key == "loss"}
    assert any("phase2" in s for s in loss_stages) and len(loss_stages) >= 3, loss_stages
    for stage in loss_stages:
        x, y = view.curves[(stage, "loss")].getData()
        assert len(x) >= 1 and len(y) == len(x)
    x, _ = view.curves[(sorted(s for s in loss_stages if "fmri" in s)[0], "loss")].getData()
    assert len(x) == 2  # two epochs, as set in the form

    results = window.state.results
    assert results is not None and results.has_eeg and results.has_phase2
    assert window.state.run_status == "idle"

    # the views filled by themselves, without opening anything
    cortex = window.docks["Cortex 3-D"].view
    qtbot.waitUntil(lambda: cortex.last_values is not None, timeout=10000)
    assert not cortex.message.isVisible()
    for title in ("Electrode graph", "Embeddings", "Attention & fusion", "Coupling"):
        result_view = window.docks[title].ensure_built()
        assert result_view.message is None, f"{title}: {result_view.message}"


@pytest.mark.timeout(120)
def test_cancel_click_stops_the_run_and_the_window_stays_usable(window, qtbot, small_demo, tmp_path):
    out = tmp_path / "cancelled"
    view = _training_view(window, small_demo, out)
    _click(qtbot, view.start_button)
    worker = window._analysis_workers[id(view)]
    qtbot.waitUntil(worker.is_running, timeout=10000)
    qtbot.wait(1500)  # let it get into the loading stage
    t0 = time.monotonic()
    _click(qtbot, view.cancel_button)
    qtbot.waitUntil(lambda: view.start_button.isEnabled(), timeout=20000)
    stopped_after = time.monotonic() - t0
    assert stopped_after < 10.0, f"the run took {stopped_after:.1f} s to stop"
    assert not worker.is_running()
    assert view.message.text() == "Cancelled."
    assert window.state.run_status == "cancelled"
    assert window.state.results is None
    assert not out.exists()
    qtbot.wait(300)
    assert not window.error_dialogs, [b.text() for b in window.error_dialogs]
    # still usable: the state follows and another run can start
    window.state.set_band("beta")
    assert window.state.selection.band == "beta"
    assert view.request_start() is True
    qtbot.waitUntil(lambda: id(view) in window._analysis_workers, timeout=5000)
    _click(qtbot, view.cancel_button)
    qtbot.waitUntil(lambda: view.start_button.isEnabled(), timeout=20000)


def test_an_output_folder_inside_the_dataset_is_refused_before_any_training(window, qtbot, small_demo):
    inside = small_demo / "sub-01" / "results"
    view = _training_view(window, small_demo, inside)
    _click(qtbot, view.start_button)
    assert id(view) not in window._analysis_workers
    assert view.message.text().startswith("Not started: ") and "lies inside the input" in view.message.text()
    assert view.start_button.isEnabled() and not view.cancel_button.isEnabled()
    assert not inside.exists()


def test_earlier_results_are_replaced_only_when_asked(window, qtbot, small_demo, tmp_path):
    from bundle_factory import make_bundle

    earlier = tmp_path / "earlier"
    make_bundle(earlier)
    view = _training_view(window, small_demo, earlier)
    _click(qtbot, view.start_button)
    assert id(view) not in window._analysis_workers
    assert ("already exists; choose another folder or use \u201cReplace earlier results\u201d to replace it"
            in view.message.text())
    # a folder of one's own is never replaced, ticked or not
    own = tmp_path / "own"
    own.mkdir()
    (own / "notes.txt").write_text("mine")
    view.out_edit.setText(str(own))
    view.replace_check.setChecked(True)
    _click(qtbot, view.start_button)
    assert id(view) not in window._analysis_workers and "is not a results bundle" in view.message.text()
    assert "--force" not in view.message.text() and "\u201cReplace earlier results\u201d only replaces" in view.message.text()
    view.out_edit.setText(str(earlier))
    _click(qtbot, view.start_button)
    worker = window._analysis_workers[id(view)]
    qtbot.waitUntil(worker.is_running, timeout=10000)
    _click(qtbot, view.cancel_button)
    qtbot.waitUntil(lambda: view.start_button.isEnabled(), timeout=20000)
    assert (own / "notes.txt").read_text() == "mine" and (earlier / "manifest.json").is_file()


@pytest.mark.timeout(120)
def test_closing_the_window_during_a_run_stops_it(window, qtbot, small_demo, tmp_path):
    out = tmp_path / "closed"
    view = _training_view(window, small_demo, out)
    _click(qtbot, view.start_button)
    worker = window._analysis_workers[id(view)]
    qtbot.waitUntil(worker.is_running, timeout=10000)
    qtbot.wait(1500)
    t0 = time.monotonic()
    window.close()
    assert time.monotonic() - t0 < 8.0  # closing waits at most 5 s for background work
    qtbot.waitUntil(lambda: not worker.is_running(), timeout=10000)
    qtbot.waitUntil(lambda: not multiprocessing.active_children(), timeout=10000)
    assert not out.exists()


class _Cycle:
    """Garbage only the cycle collector frees; records in which thread that happened."""

    def __init__(self, log):
        self.log = log
        self.me = self

    def __del__(self):
        self.log.append(threading.current_thread() is threading.main_thread())


def test_garbage_is_collected_in_the_gui_thread_while_the_window_lives(window, qtbot):
    # A collection in a worker thread can destroy Qt objects there and deadlock
    # with the GUI thread (it hung this test module after tests/test_app.py).
    assert not gc.isenabled()
    where = []
    _Cycle(where)
    # enough live allocations in a worker thread to trigger collections there if gc were automatic
    kept = []
    worker = threading.Thread(target=lambda: kept.append([[] for _ in range(200_000)]))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(where) > 0, timeout=5000)
    assert where == [True]
