"""Opening single files in the viewer: a BOLD run alone, an EEG + BOLD pair, a lone EEG file;
what the Dataset tab and the Training dock then show; bad input in the Log (run under xvfb-run)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit, QScrollArea

from eegfmri_viewer import app as app_module, cli
from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.workers import FunctionWorker
from io_testdata import make_bids_run, write_bold, write_tsv
from shown_window import shown_window


@pytest.fixture
def window(qtbot, tmp_path):
    with shown_window(qtbot, tmp_path) as win:
        yield win


def _bold_run(folder: Path):
    """A BOLD run outside any BIDS tree, with its events: 10 volumes of 2 s, two classes."""
    bold = write_bold(folder / "scan_bold.nii.gz", n_vol=10, tr=2.0)
    events = write_tsv(folder / "my_events.tsv", ["onset", "duration", "trial_type"],
                       [(2.0, 2.0, "faces"), (8.0, 2.0, "houses"), (14.0, 2.0, "faces")])
    return bold, events


def _answer_file_dialogs(qtbot, answers: list):
    """Answer the next Qt file dialogs in turn: a path selects that file, None cancels."""
    pending = list(answers)
    deadline = time.monotonic() + 30.0

    def apply(dialog, path):
        if path is None:
            dialog.reject()
        else:
            dialog.selectFile(str(path))
            # typed as a user would: selectFile alone waits for the folder's listing, which a busy
            # file-system watcher can delay past the test
            name = dialog.findChild(QLineEdit, "fileNameEdit")
            if name is not None:
                name.setText(str(path))
            dialog.accept()

    def answer():
        # the open file dialog itself, not the active modal widget (another modal widget may be on
        # its stack). A dialog answered before its event loop ran stays open: it is answered again
        # with the answer kept on its C++ object (a new dialog may reuse an old one's wrapper).
        dialog = next((w for w in QApplication.topLevelWidgets() if isinstance(w, QFileDialog) and w.isVisible()),
                      None)
        if dialog is not None and dialog.property("answer_index") is not None:
            apply(dialog, answers[int(dialog.property("answer_index"))])
        elif dialog is not None and pending:
            dialog.setProperty("answer_index", len(answers) - len(pending))
            apply(dialog, pending.pop(0))
        if (pending or dialog is not None) and time.monotonic() < deadline:  # never a later test's dialogs
            QTimer.singleShot(20, answer)

    QTimer.singleShot(20, answer)
    return pending


def _action(window, text: str):
    for action in window.file_menu.actions():
        if action.text().replace("&", "") == text:
            return action
    raise AssertionError(f"no File menu entry {text!r}: {[a.text() for a in window.file_menu.actions()]}")


def test_open_eeg_bold_with_no_eeg_opens_the_bold_run_alone(qtbot, window, tmp_path):
    bold, events = _bold_run(tmp_path)
    with qtbot.waitSignal(window.state.datasetChanged, timeout=15000):
        window.open_eeg_bold(None, bold, events)
    rec = window.state.dataset
    assert rec.eeg is None and rec.bold.shape[3] == 10
    assert sorted(rec.events.counts()) == ["faces", "houses"]
    # every view shows a recording without EEG without failing
    for dock in window.docks.values():
        dock.ensure_built()
    qtbot.waitUntil(window.views_settled, timeout=30000)
    qtbot.wait(200)
    assert not window.error_dialogs


def test_file_menu_opens_a_bold_run_alone_through_its_dialogs(qtbot, window, tmp_path):
    bold, events = _bold_run(tmp_path)
    _answer_file_dialogs(qtbot, [bold, events])
    with qtbot.waitSignal(window.state.datasetChanged, timeout=15000):
        _action(window, "Open BOLD run (fMRI only)...").trigger()
    assert window.state.dataset.bold_path == bold.resolve()
    assert window.state.dataset.events.counts() == {"faces": 2, "houses": 1}


def test_eeg_dialog_then_cancelled_bold_opens_nothing_and_says_why(qtbot, window, tmp_path):
    root = make_bids_run(tmp_path / "one", sub="01")
    eeg = next((root / "sub-01" / "eeg").glob("*_eeg.vhdr"))
    _answer_file_dialogs(qtbot, [eeg, None])
    shown = []
    window.statusBar().messageChanged.connect(shown.append)
    _action(window, "Open EEG + BOLD files...").trigger()
    assert window.state.dataset is None
    assert any("together with its BOLD run" in m for m in shown), shown


def test_open_path_of_a_bold_nifti_opens_it_with_its_bids_events(qtbot, window, tmp_path):
    root = make_bids_run(tmp_path / "bids", sub="01", eeg=False)
    bold = next((root / "sub-01" / "func").glob("*_bold.nii.gz"))
    with qtbot.waitSignal(window.state.datasetChanged, timeout=15000):
        assert window.open_path(bold)
    assert window.state.dataset.eeg is None
    assert window.state.dataset.events.counts() == {"open": 2, "closed": 1}


def test_a_lone_eeg_file_says_it_is_opened_with_its_bold_run(qtbot, window, tmp_path):
    lone = tmp_path / "eeglab_data.set"
    lone.write_bytes(b"")
    shown = []
    window.errorShown.connect(lambda exc, _tb: shown.append(exc))
    assert not window.open_path(lone)
    assert len(shown) == 1 and isinstance(shown[0], InputError)
    assert "together with its BOLD run" in str(shown[0]) and "Open EEG + BOLD files" in str(shown[0])
    assert window.state.dataset is None


def test_dataset_tab_lists_the_single_file_recording(qtbot, window, tmp_path):
    bold, events = _bold_run(tmp_path)
    with qtbot.waitSignal(window.state.datasetChanged, timeout=15000):
        window.open_bold(bold, events)
    browser = window.docks["Dataset"].ensure_built()
    text = browser.label.text()
    assert "Open a BIDS folder" not in text
    assert "scan_bold.nii.gz" in text and "10 volumes" in text and "TR 2 s" in text
    assert f"space {window.state.dataset.space}" in text
    assert "faces 2" in text and "houses 1" in text
    assert browser.tree.topLevelItemCount() == 1
    row = browser.tree.topLevelItem(0)
    assert row.text(4) == "2" and row.text(5) == "10"
    assert "faces: 2" in row.text(6)
    # a native-space BOLD: its warning is shown there too
    native = write_bold(tmp_path / "native" / "nat_bold.nii.gz", n_vol=10, tr=2.0, mni=False)
    with qtbot.waitSignal(window.state.datasetChanged, timeout=15000):
        window.open_bold(native, events)
    warnings = window.state.dataset.warnings
    assert warnings, "a native-space image is expected to carry a warning"
    assert all(f"Warning: {w}" in browser.label.text() for w in warnings)


def test_training_dock_analyses_the_open_single_file_recording(qtbot, window, tmp_path, monkeypatch):
    view = window.docks["Training"].ensure_built()
    assert view.source_edit.text() == str(app_module.demo_dir())  # offered while nothing is open
    monkeypatch.setenv("EEGFMRI_VIEWER_DATA_DIR", str(tmp_path / "appdata"))
    bold, events = _bold_run(tmp_path / "run")
    with qtbot.waitSignal(window.state.datasetChanged, timeout=15000):
        window.open_bold(bold, events)
    # file mode: the source names the open recording and cannot be edited; the demo root is gone
    assert view.source_edit.isReadOnly() and view.source_label.text() == "Analyse"
    assert view.source_edit.text() == "open recording: scan_bold.nii.gz (+ events my_events.tsv)"
    assert view.recording_files().bold == str(bold.resolve())
    assert view.recording_files().events == str(events.resolve())
    # the proposed output lies in the user's results area (the app's data folder), not near the input data
    out = tmp_path / "appdata" / "scan_bold-results"
    assert view.out_edit.text() == str(out)
    # the note is a one-line hint, no longer a refusal; the equivalent command line is its tooltip and copyable
    assert view.source_note.isVisibleTo(view)
    note = view.source_note.text()
    assert "Start analyses the open recording's files" in note and "this dock analyses BIDS folders" not in note
    assert str(bold.parent) not in note
    command = f"--bold {bold.resolve()} --events {events.resolve()} --out {out}"
    assert command in view.source_note.toolTip() and command in view.copy_command_button.toolTip()
    assert view.copy_command_button.isVisibleTo(view)
    qtbot.mouseClick(view.copy_command_button, Qt.MouseButton.LeftButton)
    assert command in QApplication.clipboard().text()
    started = []
    view.start_requested.connect(lambda *a: started.append(a))
    # an output inside the files' folder is refused before anything starts
    view.out_edit.setText(str(tmp_path / "run" / "res"))
    assert view.request_start()
    assert view.message.text().startswith("Not started: ") and "the folder that holds the input file" in \
        view.message.text(), view.message.text()
    assert window.pool.running() == [] and view.start_button.isEnabled()
    assert not (tmp_path / "run" / "res").exists()
    assert started[0][0] == view.recording_files() and started[0][1] == str(tmp_path / "run" / "res")
    # a BIDS folder opened next brings the folder mode back, following that folder
    other = make_bids_run(tmp_path / "study", sub="01")
    with qtbot.waitSignal(window.state.datasetChanged, timeout=15000):
        window.open_path(other)
    qtbot.waitUntil(lambda: view.source_edit.text() == str(other.resolve()), timeout=15000)
    assert not view.source_edit.isReadOnly() and view.source_label.text() == "BIDS root"
    assert view.recording_files() is None and not view.source_note.isVisibleTo(view)
    assert not view.copy_command_button.isVisibleTo(view)


def test_training_dock_built_after_a_single_file_opened_analyses_it_with_the_tr_given(qtbot, window, tmp_path,
                                                                                      monkeypatch):
    monkeypatch.setenv("EEGFMRI_VIEWER_DATA_DIR", str(tmp_path / "appdata"))
    bold, events = _bold_run(tmp_path / "run")
    with qtbot.waitSignal(window.state.datasetChanged, timeout=15000):
        window.open_bold(bold, events, tr=2.0)
    view = window.docks["Training"].ensure_built()
    assert view.source_edit.text() == "open recording: scan_bold.nii.gz (+ events my_events.tsv, + TR 2 s)"
    assert view.recording_files().tr == 2.0 and "--tr 2 --out" in view.command_line()
    assert view.out_edit.text() == str(tmp_path / "appdata" / "scan_bold-results")


def _bad_input(progress=None, cancel=None):
    raise InputError("/data/run_eeg.vhdr", "EEG shorter than BOLD (200.0 s < 300.0 s)")


def _bug(progress=None, cancel=None):
    raise ZeroDivisionError("bad divisor in phase 1")


def test_bad_input_is_one_log_line_without_traceback_a_bug_keeps_its_traceback(qtbot, caplog):
    caplog.set_level(logging.INFO, logger="eegfmri_viewer")
    worker = FunctionWorker(_bad_input, name="open EEG + BOLD")
    with qtbot.waitSignal(worker.failed, timeout=5000) as blocker:
        worker.start()
    assert isinstance(blocker.args[0].exception, InputError)
    shown = [r for r in caplog.records if r.levelno >= logging.INFO and "open EEG + BOLD" in r.getMessage()]
    assert len(shown) == 1 and shown[0].levelno == logging.WARNING
    message = shown[0].getMessage()
    assert "EEG shorter than BOLD" in message and "\n" not in message and "Traceback" not in message
    assert shown[0].exc_info is None
    caplog.clear()
    worker = FunctionWorker(_bug, name="phase 1")
    with qtbot.waitSignal(worker.failed, timeout=5000):
        worker.start()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and "Traceback" in errors[0].getMessage() and "bad divisor" in errors[0].getMessage()
    qtbot.waitUntil(lambda: not worker.is_running(), timeout=2000)


def test_info_of_a_lone_eeg_file_says_what_is_needed(tmp_path):
    from eegfmri_viewer.io.info import dataset_info

    lone = tmp_path / "eeglab_data.set"
    lone.write_bytes(b"")
    with pytest.raises(InputError, match="together with its BOLD run.*--bold FILE"):
        dataset_info(lone)


def test_open_option_help_lists_what_it_opens():
    text = " ".join(cli.build_parser().format_help().split())
    assert "a BIDS folder, a results folder, or a BOLD NIfTI" in text
    assert "An EEG file is opened together with its BOLD run" in text


def test_eeg_shorter_than_bold_is_a_dialog_and_one_log_warning(qtbot, window, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="eegfmri_viewer")
    root = make_bids_run(tmp_path / "one", sub="01")
    eeg = next((root / "sub-01" / "eeg").glob("*_eeg.vhdr"))
    bold = write_bold(tmp_path / "long_bold.nii.gz", n_vol=40, tr=2.0)  # 80 s of BOLD, 24 s of EEG
    with qtbot.waitSignal(window.errorShown, timeout=15000) as blocker:
        window.open_eeg_bold(eeg, bold)
    assert isinstance(blocker.args[0], InputError) and "shorter than the BOLD run" in str(blocker.args[0])
    shown = [r for r in caplog.records if r.levelno >= logging.INFO and "shorter than the BOLD run" in r.getMessage()]
    assert [r.levelno for r in shown] == [logging.WARNING]
    assert "Traceback" not in shown[0].getMessage() and shown[0].getMessage().startswith("open EEG + BOLD: ")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # the Log dock shows what the log holds at INFO and above: no traceback there
    log_view = window.docks["Log"].ensure_built()
    qtbot.waitUntil(lambda: any("shorter than the BOLD run" in line for line in log_view.lines()), timeout=5000)
    # (the dock also lists what earlier windows of this process logged: only this failure's lines count)
    assert not [line for line in log_view.lines() if "alignment.py" in line or "check_eeg_covers_bold" in line]
    assert window.state.dataset is None


REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


@pytest.mark.skipif(not (REAL / "fmri_studyforrest_localizer").is_dir(), reason="real data not present")
def test_real_bold_run_opens_alone_and_a_real_eeglab_file_asks_for_its_bold(qtbot, window):
    folder = REAL / "fmri_studyforrest_localizer"
    bold = folder / "sub-01_task-oneback_run-1_bold.nii.gz"
    with qtbot.waitSignal(window.state.datasetChanged, timeout=30000):
        assert window.open_path(bold)  # as `eegfmri-viewer --open BOLD` does
    assert window.state.dataset.bold.shape[3] == 156
    text = window.docks["Dataset"].ensure_built().label.text()
    assert "156 volumes" in text and "space native" in text and "face 32" in text
    eeglab = sorted((REAL / "eeg_eeglab_sample").glob("*.set"))
    if eeglab:
        shown = []
        window.errorShown.connect(lambda exc, _tb: shown.append(str(exc)))
        assert not window.open_path(eeglab[0])
        assert shown and "together with its BOLD run" in shown[0]


@pytest.mark.timeout(180)
def test_start_in_the_training_dock_analyses_the_open_bold_run_and_opens_its_results(qtbot, window, tmp_path,
                                                                                     monkeypatch):
    import json
    import multiprocessing

    from io_testdata import write_bold as write

    data = tmp_path / "data"
    bold = write(data / "scan_bold.nii.gz", n_vol=60, tr=2.0)
    events = write_tsv(data / "scan_events.tsv", ["onset", "duration", "trial_type"],
                       [(10 + 20 * i, 14, ("face", "house")[i % 2]) for i in range(4)])
    dock = window.docks["Training"]
    dock.show()
    dock.raise_()
    view = dock.ensure_built()
    monkeypatch.setenv("EEGFMRI_VIEWER_DATA_DIR", str(tmp_path / "appdata"))
    with qtbot.waitSignal(window.state.datasetChanged, timeout=15000):
        window.open_bold(bold)  # its events: the BIDS-named scan_events.tsv beside it
    assert view.recording_files().events == str(events.resolve())
    # small and fast: fMRI only (no phase 2), two epochs, the 160-ROI atlas
    for key, value in {("training", "epochs"): 2, ("training", "patience"): 0, ("phase1", "hidden"): "8",
                       ("phase1", "n_filters"): 4, ("preprocessing", "atlas"): "dosenbach2010"}.items():
        widget = view.widgets[key]
        widget.setText(value) if isinstance(value, str) else widget.setValue(value)
    out = tmp_path / "appdata" / "scan_bold-results"
    assert view.out_edit.text() == str(out)
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    assert view.running
    qtbot.waitUntil(lambda: not view.running, timeout=150000)
    assert view.message.text().startswith(f"Done: results in {out}"), view.message.text()
    assert not window.error_dialogs
    results = window.state.results
    assert results is not None and str(results.path) == str(out)
    assert results.dataset["source"] == [str(bold.resolve())]
    assert json.loads((out / "dataset.json").read_text())["recordings"][0]["bold_path"] == str(bold.resolve())
    assert view.curves, "no live training curves were drawn"
    # the files are untouched, and the dock still analyses the open recording
    assert sorted(p.name for p in data.iterdir()) == ["scan_bold.nii.gz", "scan_events.tsv"]
    assert view.source_edit.isReadOnly()
    qtbot.waitUntil(lambda: not multiprocessing.active_children(), timeout=15000)


def _long_native_run(tmp_path: Path):
    """A native-space BOLD run (it carries a warning) deep in long-named folders, with its events."""
    folder = tmp_path / "a_rather_long_data_collection_name" / "fmri_studyforrest_localizer_session"
    bold = write_bold(folder / "sub-01_task-oneback_run-1_bold.nii.gz", n_vol=10, tr=2.0, mni=False)
    events = write_tsv(folder / "sub-01_task-oneback_run-1_events.tsv", ["onset", "duration", "trial_type"],
                       [(0, 4, "body"), (4, 4, "face"), (8, 4, "house"), (12, 4, "object"), (16, 4, "scene")])
    return bold, events


@pytest.mark.parametrize("size", [(1280, 800), (1600, 1000)])
def test_dataset_tab_of_files_is_never_cut_and_says_no_eeg(qtbot, tmp_path, size):
    bold, events = _long_native_run(tmp_path)
    with shown_window(qtbot, tmp_path, size=size) as win:
        dock = win.docks["Dataset"]
        dock.show()
        dock.raise_()
        browser = dock.ensure_built()
        with qtbot.waitSignal(win.state.datasetChanged, timeout=15000):
            win.open_bold(bold, events)
        qtbot.waitUntil(lambda: browser.recording_info is not None, timeout=15000)
        qtbot.wait(100)
        label = browser.label
        assert label.text().startswith("Opened from files") and "Warning: " in label.text()
        # the label has the whole height its text needs; the area around it scrolls when the tab is lower
        assert label.height() >= label.heightForWidth(label.width()), (label.height(), label.width())
        area = browser.label_area
        bar = area.verticalScrollBar()
        assert area.viewport().height() + bar.maximum() >= label.heightForWidth(label.width())
        assert browser.tree.height() > 40, "the run table keeps room below the description"
        row = browser.tree.topLevelItem(0)
        # fMRI only: no EEG, not 0 channels
        assert [row.text(c) for c in (1, 2, 3, 7)] == ["–"] * 4
        # every header explains itself and is wide enough for its own text; long cells carry their full text
        header = browser.tree.header()
        for col in range(browser.tree.columnCount()):
            name = browser.tree.headerItem().text(col)
            assert browser.tree.headerItem().toolTip(col)
            assert browser.tree.columnWidth(col) >= header.fontMetrics().horizontalAdvance(name), name
        assert "scene: 1" in row.toolTip(6)
        out = Path("/tmp/s9/h3")
        if out.is_dir():
            win.grab().save(str(out / f"dataset_files_{size[0]}.png"))


def test_training_dock_at_1280_elides_long_paths_and_keeps_done_in_sight(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("EEGFMRI_VIEWER_DATA_DIR", str(tmp_path / "a_long_user_data_folder" / "eegfmri-viewer"))
    bold, events = _long_native_run(tmp_path)
    with shown_window(qtbot, tmp_path, size=(1280, 800)) as win:
        dock = win.docks["Training"]
        dock.show()
        dock.raise_()
        view = dock.ensure_built()
        with qtbot.waitSignal(win.state.datasetChanged, timeout=15000):
            win.open_bold(bold, events)
        qtbot.waitUntil(lambda: view.recording_files() is not None, timeout=15000)
        out = view.out_edit.text()
        assert out.endswith("sub-01_task-oneback_run-1_bold-results") and "a_long_user_data_folder" in out
        qtbot.wait(100)
        # the long output path is elided in the middle: its start and its folder name stay in sight
        shown = view.out_edit.display_text()
        assert shown != out and "…" in shown, shown
        assert shown.endswith("bold-results") and shown.startswith(out[:3]), shown
        assert view.out_edit.toolTip() == out
        assert view.source_edit.display_text() != view.source_edit.text()
        assert str(bold) in view.source_edit.toolTip()
        # the note is one line; "Done: results in ..." is in sight without scrolling the dock
        note = view.source_note
        assert note.height() <= 2 * note.fontMetrics().lineSpacing(), note.height()
        view.on_finished(out)
        qtbot.wait(100)
        assert view.message.text().startswith("Done: results in ")
        page = view.findChild(QScrollArea)
        viewport = page.viewport()
        assert page.verticalScrollBar().value() == 0
        bottom = view.message.mapTo(viewport, QPoint(0, view.message.height())).y()
        assert view.message.isVisible() and bottom <= viewport.height(), (bottom, viewport.height())
        out_dir = Path("/tmp/s9/h3")
        if out_dir.is_dir():
            win.grab().save(str(out_dir / "training_files_done_1280.png"))
