"""A main window shown for a GUI test and closed cleanly afterwards."""

from contextlib import contextmanager

from PySide6.QtCore import QSettings


@contextmanager
def shown_window(qtbot, settings_dir, size=None):
    """Yield a shown :class:`~eegfmri_viewer.app.MainWindow` with its views settled.

    Parameters
    ----------
    qtbot : pytestqt.qtbot.QtBot
    settings_dir : Path
        Folder for the window's own settings file (never the user's).
    size : tuple of int, optional
        Window size (width, height).
    """
    from eegfmri_viewer import app as app_module

    win = app_module.MainWindow(settings=QSettings(str(settings_dir / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    if size is not None:
        win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(win.views_settled, timeout=60000)
    try:
        yield win
    finally:
        for box in list(win.error_dialogs):
            box.close()
        win.close()
        win.uninstall_exception_hooks()
