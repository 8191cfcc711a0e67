"""File ▸ Open Recent: folders that opened, most recent first, kept across restarts."""

import shutil

from PySide6.QtCore import QSettings

from bundle_factory import make_bundle
from io_testdata import make_bids_run
from shown_window import shown_window
from eegfmri_viewer.app_recent import MAX_RECENT, SETTINGS_KEY


def _entries(window):
    return [a for a in window.recent.menu.actions() if not a.isSeparator()][:-1]  # the last is Clear Menu


def test_opened_folders_are_listed_most_recent_first_and_reopen(qtbot, tmp_path):
    bids = make_bids_run(tmp_path / "study", n_vol=10)
    results = tmp_path / "results"
    make_bundle(results, phase2=False)
    with shown_window(qtbot, tmp_path) as win:
        assert win.recent.menu.title() == "Open &Recent"
        assert win.recent.menu.menuAction() in win.file_menu.actions()
        assert _entries(win) == [] and not win.recent.menu.actions()[-1].isEnabled()  # nothing to clear
        assert win.open_path(bids)
        qtbot.waitUntil(lambda: win.recent.paths() == [str(bids.resolve())], timeout=15000)
        assert win.open_path(results)
        qtbot.waitUntil(lambda: win.state.results is not None, timeout=15000)
        qtbot.waitUntil(lambda: len(win.recent.paths()) == 2, timeout=5000)
        assert win.recent.paths() == [str(results.resolve()), str(bids.resolve())]
        assert [a.text() for a in _entries(win)] == [f"&1 {results.resolve()}", f"&2 {bids.resolve()}"]
        # choosing an entry opens it again, and it comes first
        win.state.set_results(None)
        _entries(win)[1].trigger()
        qtbot.waitUntil(lambda: win.recent.paths()[0] == str(bids.resolve()), timeout=15000)
        # a folder that cannot be opened is not remembered
        assert not win.open_path(tmp_path / "nowhere")
        for box in list(win.error_dialogs):
            box.close()
        assert len(win.recent.paths()) == 2

    # the list survives a restart; a folder that is gone is greyed out
    shutil.rmtree(results)
    with shown_window(qtbot, tmp_path) as again:
        entries = _entries(again)
        assert [a.isEnabled() for a in entries] == [True, False]
        assert "no longer exists" in entries[1].toolTip()
        again.recent.menu.actions()[-1].trigger()  # Clear Menu
        assert again.recent.paths() == [] and _entries(again) == []
    assert QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat).value(SETTINGS_KEY) == "[]"


def test_the_list_keeps_the_latest_folders_once_each(qtbot, tmp_path):
    with shown_window(qtbot, tmp_path) as win:
        for i in range(MAX_RECENT + 3):
            win.recent.add(tmp_path / f"f{i}")
        win.recent.add(tmp_path / "f5")
        paths = win.recent.paths()
        assert len(paths) == MAX_RECENT and paths[0] == str((tmp_path / "f5").resolve())
        assert len(set(paths)) == MAX_RECENT and str((tmp_path / "f0").resolve()) not in paths
        # a hand-edited settings file that is not JSON is ignored
        win.settings.setValue(SETTINGS_KEY, "{not json")
        assert win.recent.paths() == []
