"""Main window, error handling and the command line."""

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDockWidget, QLabel, QMessageBox

from eegfmri_viewer import __version__, app as app_module, cli
from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.progress import check_cancel
from eegfmri_viewer.workers import FunctionWorker

REPO = Path(__file__).resolve().parents[1]


def _spin(progress=None, cancel=None):
    while True:
        check_cancel(cancel)
        time.sleep(0.02)


def _broken(progress=None, cancel=None):
    raise ZeroDivisionError("bad divisor in phase 1")


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def _open_window(qtbot, settings):
    window = app_module.MainWindow(settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(window.views_settled, timeout=30000)
    return window


@pytest.fixture
def window(qtbot, settings):
    win = _open_window(qtbot, settings)
    yield win
    for box in list(win.error_dialogs):
        box.close()
    win.close()
    win.uninstall_exception_hooks()


def _menu_titles(window):
    return [a.text().replace("&", "") for a in window.menuBar().actions()]


def test_window_opens_with_menus_status_bar_and_log_dock(window):
    assert window.isVisible()
    assert _menu_titles(window) == ["File", "View", "Help"]
    assert window.statusBar().isVisible()
    log_dock = window.docks["Log"]
    assert log_dock.isVisible() and log_dock.view is not None
    assert window.file_menu.actions()[-1] is window.quit_action
    assert window.state.run_status == "idle"


def test_add_file_action_goes_above_quit(window):
    hits = []
    action = window.add_file_action("Open &BIDS Dataset...", lambda: hits.append(1), "Ctrl+O")
    actions = window.file_menu.actions()
    assert actions.index(action) < actions.index(window.quit_action)
    action.trigger()
    assert hits == [1]


def test_docks_close_and_come_back_from_view_menu(window, qtbot):
    dock = window.docks["Log"]
    dock.close()
    qtbot.waitUntil(lambda: not dock.isVisible(), timeout=2000)
    entry = [a for a in window.view_menu.actions() if a.text() == "Log"]
    assert entry, "the View menu has no entry for the Log dock"
    entry[0].trigger()
    qtbot.waitUntil(dock.isVisible, timeout=2000)
    features = dock.features()
    assert features & QDockWidget.DockWidgetFeature.DockWidgetMovable
    assert features & QDockWidget.DockWidgetFeature.DockWidgetClosable
    dock.close()
    window.reset_layout_action.trigger()
    qtbot.waitUntil(dock.isVisible, timeout=2000)


def test_layout_and_geometry_persist(qtbot, settings):
    first = _open_window(qtbot, settings)
    first.resize(900, 640)
    first.docks["Log"].close()
    qtbot.waitUntil(lambda: not first.docks["Log"].isVisible(), timeout=2000)
    first.close()
    assert settings.value("window/state") is not None

    second = _open_window(qtbot, settings)
    try:
        assert not second.docks["Log"].isVisible()
        assert (second.width(), second.height()) == (900, 640)
    finally:
        second.close()


def test_first_start_layout_gives_the_result_views_room(qtbot, window):
    docks = window.docks
    # the tool docks share one tabbed place: one of them shows at a time
    shown = [t for t in app_module.TABBED_DOCKS if not docks[t].visibleRegion().isEmpty()]
    assert len(shown) == 1
    h = window.height()
    qtbot.waitUntil(lambda: docks["Attention & fusion"].height() > 0.25 * h, timeout=5000)
    assert docks["Coupling"].height() > 0.25 * h
    assert docks["Cortex 3-D"].height() > 2 * docks[shown[0]].height()
    # Reset Layout brings a closed tool dock back into the shared tabs, with the same room
    docks["Log"].close()
    window.reset_layout()
    qtbot.waitUntil(lambda: docks["Log"] in window.tabifiedDockWidgets(docks["Training"]), timeout=5000)
    qtbot.waitUntil(lambda: docks["Attention & fusion"].height() > 0.25 * h, timeout=5000)


def test_signals_tab_gets_room_when_brought_up(qtbot, window):
    docks, h = window.docks, window.height()
    assert docks["Signals"].visibleRegion().isEmpty()  # behind another tab at first start
    docks["Signals"].raise_()
    # EEG traces and BOLD slices need height: the tab grows, and the 3-D view stays in sight
    qtbot.waitUntil(lambda: docks["Signals"].height() >= 0.25 * h, timeout=5000)
    assert docks["Cortex 3-D"].height() > 0.2 * h
    window.reset_layout()
    qtbot.waitUntil(lambda: docks["Attention & fusion"].height() > 0.25 * h, timeout=5000)


def test_training_controls_are_in_sight_in_the_low_tab_row_and_tool_tabs_get_room(qtbot, window):
    docks, h = window.docks, window.height()
    training = docks["Training"].ensure_built()
    # first start: the tool tabs are low, yet the run controls show without scrolling
    qtbot.waitUntil(lambda: docks["Cortex 3-D"].height() > 2 * docks["Training"].height(), timeout=5000)
    for widget in (training.source_edit, training.start_button, training.progress_bar):
        assert not widget.visibleRegion().isEmpty() and widget.visibleRegion().boundingRect().height() == widget.height()
    docks["Dataset"].raise_()
    qtbot.waitUntil(lambda: docks["Dataset"].height() >= 0.3 * (docks["Dataset"].height()
                                                                 + docks["Cortex 3-D"].height()), timeout=5000)
    docks["Training"].raise_()
    qtbot.waitUntil(lambda: docks["Training"].height() >= 0.4 * (docks["Training"].height()
                                                                  + docks["Cortex 3-D"].height()), timeout=5000)


def test_results_take_the_room_back_from_the_setup_tabs(qtbot, window, tmp_path):
    from bundle_factory import make_bundle

    from eegfmri_viewer.results import load_bundle

    docks = window.docks

    def share(title):
        return docks[title].height() / (docks[title].height() + docks["Cortex 3-D"].height())

    docks["Dataset"].raise_()
    qtbot.waitUntil(lambda: share("Dataset") >= 0.35, timeout=5000)
    make_bundle(tmp_path / "res", phase2=False)
    window.state.set_results(load_bundle(tmp_path / "res"))
    qtbot.waitUntil(lambda: share("Dataset") < 0.3, timeout=5000)
    # with results open, bringing up a setup tab keeps the 3-D view large; Signals still gets room
    docks["Training"].raise_()
    qtbot.wait(200)
    assert share("Training") < 0.3
    # (the 3-D map keeps its 240 px floor with results open: Signals gets the rest, well over a third)
    docks["Signals"].raise_()
    qtbot.waitUntil(lambda: share("Signals") >= 0.35, timeout=5000)


def test_teaching_view_opens_from_the_help_menu_beside_the_bottom_plots(qtbot, window):
    dock = window.docks["Teaching"]
    # Hidden at first start, and not even built (it costs nothing until asked for).
    assert not dock.isVisible() and not dock.built
    window.teaching_action.trigger()
    qtbot.waitUntil(lambda: dock.isVisible() and dock.built, timeout=10000)
    assert window.dockWidgetArea(dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert not dock.visibleRegion().isEmpty()
    qtbot.waitUntil(lambda: dock.width() > 0.4 * window.width(), timeout=5000)
    # The 3-D view it can draw on stays in sight.
    assert not window.docks["Cortex 3-D"].visibleRegion().isEmpty()
    # Closing it takes its map off the cortex: nothing would be left to turn the map off.
    from eegfmri_viewer.state import CortexOverlay

    window.state.set_overlay(CortexOverlay("Laplacian mode 2", [0.0], owner="Coupling"))
    dock.close()
    assert window.state.overlay is not None  # another view's map stays
    window.teaching_action.trigger()
    qtbot.waitUntil(dock.isVisible, timeout=5000)
    window.state.set_overlay(CortexOverlay("Laplacian mode 2", [0.0], owner="Teaching"))
    dock.close()
    assert window.state.overlay is None
    window.teaching_action.trigger()
    qtbot.waitUntil(dock.isVisible, timeout=5000)
    window.reset_layout()
    qtbot.waitUntil(lambda: not dock.isVisible(), timeout=2000)
    # The View menu's entry gives it the same room.
    entry = next(a for a in window.view_menu.actions() if a.text() == "Teaching")
    entry.trigger()
    qtbot.waitUntil(lambda: dock.isVisible() and dock.width() > 0.4 * window.width(), timeout=5000)


def test_view_that_fails_to_import_is_not_fatal(qtbot, settings, monkeypatch, caplog):
    monkeypatch.setattr(app_module, "VIEW_DOCKS", app_module.VIEW_DOCKS + [
        ("Broken", "eegfmri_viewer.views.no_such_view_module:Nothing", Qt.DockWidgetArea.RightDockWidgetArea)])
    window = _open_window(qtbot, settings)
    try:
        broken = window.docks["Broken"]
        assert broken.view is None and "no_such_view_module" in broken.error
        assert isinstance(broken.widget(), QLabel) and "could not be loaded" in broken.widget().text()
        assert window.docks["Log"].view is not None
        assert any("Broken view" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    finally:
        window.close()


def test_log_dock_shows_logging_from_any_thread(window, qtbot, tmp_path):
    view = window.docks["Log"].view
    logging.getLogger("eegfmri_viewer.test").info("loaded 42 volumes")
    worker_thread = threading.Thread(target=lambda: logging.getLogger("eegfmri_viewer.io").warning("from a thread"))
    worker_thread.start()
    worker_thread.join()
    qtbot.waitUntil(lambda: any("from a thread" in line for line in view.lines()), timeout=2000)
    assert any("loaded 42 volumes" in line for line in view.lines())
    # startup records logged before the dock existed are shown too
    assert any("started; log file" in line for line in view.lines())
    logging.getLogger("eegfmri_viewer.test").debug("hidden debug line")
    qtbot.wait(50)
    assert not any("hidden debug line" in line for line in view.lines())
    # what is opened is on record, with where it came from
    from bundle_factory import make_bundle

    from eegfmri_viewer.results import load_bundle

    make_bundle(tmp_path / "p07", eeg=False)
    window.state.set_results(load_bundle(tmp_path / "p07"))
    qtbot.waitUntil(lambda: any(f"opened results {tmp_path / 'p07'} (synthetic test bundle)" in line
                                for line in view.lines()), timeout=2000)
    assert not window.error_dialogs


def _single_dialog(window, qtbot):
    qtbot.waitUntil(lambda: len(window.error_dialogs) == 1, timeout=3000)
    box = window.error_dialogs[0]
    assert box.isVisible()
    return box


def test_uncaught_exception_in_gui_thread_shows_dialog_and_app_survives(window, qtbot):
    def bad_slot():
        raise RuntimeError("slider out of range 99")

    QTimer.singleShot(0, bad_slot)
    box = _single_dialog(window, qtbot)
    assert "slider out of range 99" in box.text()
    assert "bad_slot" in box.detailedText()
    assert box.icon() == QMessageBox.Icon.Critical
    log_text = app_module.log_file_path().read_text(encoding="utf-8")
    assert "slider out of range 99" in log_text and "Traceback" in log_text
    box.close()
    qtbot.waitUntil(lambda: not window.error_dialogs, timeout=2000)
    # still alive and responsive
    window.state.set_band("beta")
    assert window.isVisible() and window.state.selection.band == "beta"


def test_uncaught_exception_in_a_python_thread_shows_dialog(window, qtbot):
    def background():
        raise OSError("disk full while caching")

    thread = threading.Thread(target=background, name="cache-writer")
    thread.start()
    thread.join()
    box = _single_dialog(window, qtbot)
    assert "disk full while caching" in box.text()
    assert "cache-writer" in box.windowTitle()


def test_same_error_repeating_does_not_stack_dialogs(window, qtbot):
    def bad():
        raise ValueError("paint failed")

    for _ in range(3):
        QTimer.singleShot(0, bad)
    qtbot.wait(200)
    assert len(window.error_dialogs) == 1


def test_worker_failure_shows_dialog_and_sets_run_status(window, qtbot):
    worker = FunctionWorker(_broken)
    with qtbot.waitSignal(worker.done, timeout=5000):
        window.run_worker(worker, "phase 1")
    box = _single_dialog(window, qtbot)
    assert "bad divisor in phase 1" in box.text()
    assert "_broken" in box.detailedText()
    assert window.state.run_status.startswith("failed: ZeroDivisionError")
    assert "bad divisor in phase 1" in app_module.log_file_path().read_text(encoding="utf-8")


def test_input_error_dialog_has_no_traceback(window, qtbot):
    def bad_file(progress=None, cancel=None):
        raise InputError("/data/sub-01_bold.nii.gz", "3-D image, expected 4-D BOLD")

    worker = FunctionWorker(bad_file)
    with qtbot.waitSignal(worker.done, timeout=5000):
        window.run_worker(worker)
    box = _single_dialog(window, qtbot)
    assert box.text() == "/data/sub-01_bold.nii.gz: 3-D image, expected 4-D BOLD"
    assert box.detailedText() == ""
    assert box.icon() == QMessageBox.Icon.Warning


def test_open_missing_path_names_it(window, qtbot, tmp_path):
    missing = tmp_path / "nope"
    assert window.open_path(missing) is False
    box = _single_dialog(window, qtbot)
    assert str(missing) in box.text()


def test_close_while_worker_runs_stops_it(qtbot, settings, qtlog):
    window = _open_window(qtbot, settings)
    worker = window.run_worker(FunctionWorker(_spin), "long analysis")
    qtbot.waitUntil(worker.is_running, timeout=3000)
    assert window._cancel_button.isVisible()
    t0 = time.monotonic()
    window.close()
    assert time.monotonic() - t0 < 3.0  # the worker would spin forever if not stopped
    assert not worker.is_running()
    qtbot.waitSignal(worker.done, timeout=2000, raising=False)
    assert not [r for r in qtlog.records if "QThread" in r.message]


def test_about_box_names_version_and_licence(window):
    box = window.show_about()
    try:
        assert __version__ in box.text() and "BSD-3-Clause" in box.text()
    finally:
        box.close()


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"eegfmri-viewer {__version__}"


def test_missing_command_module_is_skipped_but_broken_one_is_not(tmp_path, monkeypatch):
    assert cli._import_command("eegfmri_viewer.no_such_package.command") is None
    assert cli._import_command("eegfmri_viewer.no_such_module") is None
    (tmp_path / "needs_missing_dep.py").write_text("import a_dependency_that_is_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError):
        cli._import_command("needs_missing_dep")


def test_subcommand_table_drives_the_parser(tmp_path, monkeypatch, capsys):
    (tmp_path / "hello_command.py").write_text(
        "HELP = 'say hello'\n"
        "def add_arguments(p):\n    p.add_argument('name')\n"
        "def run(args):\n    print('hello', args.name)\n    return 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "COMMANDS", cli.COMMANDS + [("hello", "hello_command")])
    assert cli.main(["hello", "world"]) == 3
    assert "hello world" in capsys.readouterr().out


@pytest.mark.gui
def test_screenshot_writes_a_real_png(tmp_path):
    out = tmp_path / "shots" / "window.png"
    env = dict(os.environ)
    result = subprocess.run([sys.executable, "-m", "eegfmri_viewer", "--screenshot", str(out)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert not image.isNull() and image.width() >= 400 and image.height() >= 300
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 5, "the screenshot is blank"


def test_open_results_folder_loads_it_into_the_state(window, qtbot, tmp_path):
    import numpy as np

    from eegfmri_viewer.results import ResultsBundle, save_bundle

    bundle = ResultsBundle(dataset={"label": "sub-01"},
                           arrays={"saliency": {"classes": np.array(["rest", "task"]),
                                                "fmri_cam": np.ones((2, 3))}})
    folder = save_bundle(tmp_path / "res", bundle)
    with qtbot.waitSignal(window.state.resultsChanged, timeout=10000) as blocker:
        assert window.open_path(folder)
    loaded = blocker.args[0]
    np.testing.assert_array_equal(loaded.get("saliency", "fmri_cam"), np.ones((2, 3)))
    assert window.state.run_status == "idle"
    assert not window.error_dialogs


def test_file_menu_offers_the_openers(window):
    texts = [a.text().replace("&", "") for a in window.file_menu.actions()]
    for wanted in ("Open BIDS folder...", "Open EEG + BOLD files...", "Open results..."):
        assert wanted in texts


def test_open_unknown_folder_says_so(window, qtbot, tmp_path):
    assert window.open_path(tmp_path) is False
    box = _single_dialog(window, qtbot)
    assert str(tmp_path) in box.text() and "this application can open" in box.text()


class _PaintsNothingView(QLabel):
    """Stands in for a GL view: Qt's own grab cannot see its content."""

    def __init__(self, state, parent=None):
        super().__init__("", parent)

    def grab_image(self):
        image = QImage(self.width(), self.height(), QImage.Format.Format_RGB32)
        image.fill(0xFF00FF00)
        return image


def test_screenshot_composites_views_that_grab_themselves(qtbot, settings, monkeypatch):
    sys.modules.setdefault("_gl_like_view_for_test", sys.modules[__name__])
    monkeypatch.setattr(app_module, "VIEW_DOCKS", app_module.VIEW_DOCKS + [
        ("GL", "_gl_like_view_for_test:_PaintsNothingView", Qt.DockWidgetArea.RightDockWidgetArea)])
    window = _open_window(qtbot, settings)
    try:
        view = window.docks["GL"].view
        image = window.grab_image()
        centre = view.mapTo(window, view.rect().center())
        ratio = image.devicePixelRatio()
        assert image.pixel(int(centre.x() * ratio), int(centre.y() * ratio)) == 0xFF00FF00
        log_centre = window.docks["Log"].view.mapTo(window, window.docks["Log"].view.rect().center())
        assert image.pixel(int(log_centre.x() * ratio), int(log_centre.y() * ratio)) != 0xFF00FF00
    finally:
        window.close()


def test_demo_into_a_foreign_folder_is_refused_with_a_plain_dialog(window, qtbot, tmp_path):
    (tmp_path / "thesis.txt").write_text("not a dataset")
    worker = window.open_demo(root=tmp_path)
    with qtbot.waitSignal(worker.done, timeout=30000):
        pass
    box = _single_dialog(window, qtbot)
    assert str(tmp_path) in box.text() and "not a demo dataset" in box.text()
    assert box.detailedText() == ""
    assert (tmp_path / "thesis.txt").read_text() == "not a dataset"
    assert window.state.run_status.startswith("failed")

