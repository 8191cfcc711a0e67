"""Dataset browser and the window's BIDS / EEG+BOLD entry points (run under xvfb-run)."""

from __future__ import annotations

import time

import pytest

from eegfmri_viewer.io.bids import discover
from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.state import AppState
from eegfmri_viewer.views.dataset_browser_view import COLUMNS, DatasetBrowserView, run_infos
from eegfmri_viewer.workers import FunctionWorker
from io_testdata import make_bids_run, write_bold, write_tsv
from shown_window import shown_window


@pytest.fixture
def window(qtbot, tmp_path):
    with shown_window(qtbot, tmp_path) as win:
        yield win


def _browser(window):
    return window.docks["Dataset"].ensure_built()


def test_open_bids_lists_runs_with_columns_and_loads_first(qtbot, window, tmp_path):
    root = tmp_path / "bids"
    make_bids_run(root, sub="01", ses="a", run="1", n_vol=10, tr=2.0, sfreq=250.0, bad_channels=("C3", "P4"))
    make_bids_run(root, sub="02", ses="a", run="1", n_vol=10, tr=2.0, sfreq=250.0)
    make_bids_run(root, sub="03", ses="a", run="1", eeg=False)  # BOLD only: skipped with a reason
    fmriprep = root / "derivatives" / "fmriprep" / "sub-02" / "ses-a" / "func"
    base = "sub-02_ses-a_task-rest_run-1"
    write_bold(fmriprep / f"{base}_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz", 10)
    write_tsv(fmriprep / f"{base}_desc-confounds_timeseries.tsv", ["framewise_displacement"],
              [("n/a",)] + [(0.2,)] * 8 + [(0.8,)])
    assert window.open_path(root)
    browser = _browser(window)
    with qtbot.waitSignal(browser.infosLoaded, timeout=15000):
        qtbot.waitUntil(lambda: window.discovery is not None, timeout=10000)
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=10000)
    assert window.state.dataset.subject == "01"

    tree = browser.tree
    assert [tree.headerItem().text(i) for i in range(tree.columnCount())] == COLUMNS
    tops = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert tops[:2] == ["sub-01", "sub-02"]
    assert tops[2].startswith("Skipped (")
    skipped = tree.topLevelItem(2).child(0)
    assert "03" in skipped.text(0) and skipped.text(6)  # the reason is shown

    run = tree.topLevelItem(0).child(0).child(0)  # sub-01 ▸ ses-a ▸ run
    assert run is browser.run_item(0)
    assert run.text(1) == "8"          # channels
    assert run.text(2) == "250"        # sfreq
    assert float(run.text(3)) == pytest.approx(24.0, abs=0.1)  # lead 2 s + 10 vols × 2 s + 2 s
    assert float(run.text(4)) == 2.0   # TR
    assert run.text(5) == "10"         # volumes
    assert "closed: 1" in run.text(6) and "open: 2" in run.text(6)
    assert run.text(7) == "2" and "C3, P4" in run.toolTip(7)
    assert run.text(8) == "" and "No motion parameters" in run.toolTip(8)
    other = tree.topLevelItem(1).child(0).child(0)
    assert other.text(7) == "0" and other.text(8) == "0.24"
    assert "largest 0.80 mm; 1 of 10 volumes above 0.5 mm" in other.toolTip(8)
    assert run.text(9).startswith("markers 'R128': ok, jitter")

    # selecting another run makes it the dataset
    with qtbot.waitSignal(window.state.datasetChanged, timeout=10000):
        browser.select_run(1)
    assert window.state.dataset.subject == "02"


def test_fifty_run_tree_fills_without_blocking(qtbot, tmp_path):
    root = tmp_path / "big"
    for i in range(50):
        make_bids_run(root, sub=f"{i:02d}", n_vol=6, func_events=False)
    discovery = discover(root)
    assert len(discovery.runs) == 50
    state = AppState()
    browser = DatasetBrowserView(state)
    qtbot.addWidget(browser)
    workers = []

    def read_headers(runs):
        worker = FunctionWorker(run_infos, runs, name="read run headers")
        worker.finished.connect(browser.set_infos)
        workers.append(worker.start())

    browser.headersRequested.connect(read_headers)
    t0 = time.perf_counter()
    browser.show_discovery(discovery)
    elapsed = time.perf_counter() - t0
    # the tree is there at once; headers are read in the background
    assert browser.tree.topLevelItemCount() == 50
    assert elapsed < 1.0
    assert browser.infos == []
    with qtbot.waitSignal(browser.infosLoaded, timeout=60000):
        pass
    assert all(isinstance(i, dict) for i in browser.infos)
    assert browser.run_item(49).text(5) == "6"
    assert workers[0].wait(10)


def test_bad_folder_shows_input_error_dialog(qtbot, window, tmp_path):
    bad = tmp_path / "not_bids"
    (bad / "sub-01").mkdir(parents=True)  # looks like BIDS, holds no data
    with qtbot.waitSignal(window.errorShown, timeout=10000) as blocker:
        assert window.open_path(bad)
    assert isinstance(blocker.args[0], InputError)
    assert str(bad) in str(blocker.args[0])
    assert window.error_dialogs
    for box in list(window.error_dialogs):
        box.close()
    assert window.state.dataset is None


def test_open_eeg_bold_files_sets_dataset(qtbot, window, tmp_path):
    root = make_bids_run(tmp_path / "one", sub="01")
    eeg = next((root / "sub-01" / "eeg").glob("*_eeg.vhdr"))
    bold = next((root / "sub-01" / "func").glob("*_bold.nii.gz"))
    with qtbot.waitSignal(window.state.datasetChanged, timeout=15000):
        window.open_eeg_bold(eeg, bold)
    assert window.state.dataset.bold.shape[3] == 10
