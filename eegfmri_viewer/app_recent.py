"""File ▸ Open Recent: the BIDS folders and results opened lately.

A folder is added once it has opened (the runs of a BIDS folder listed, a
results bundle loaded), most recent first, at most :data:`MAX_RECENT`; the list
is kept in the window's settings as JSON, so it survives a restart. A folder
that is gone is listed greyed out, and choosing an entry opens it as
:meth:`MainWindow.open_path` does (a dialog if it can no longer be opened).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

log = logging.getLogger(__name__)

SETTINGS_KEY = "recent/paths"
MAX_RECENT = 8


class RecentPaths(QObject):
    """The Open Recent submenu of a main window and the list behind it.

    Parameters
    ----------
    window : MainWindow
        Provides ``settings``, ``open_path`` and ``add_file_menu``.

    Attributes
    ----------
    menu : QMenu
    """

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.menu = QMenu("Open &Recent", window)
        self.menu.setToolTipsVisible(True)
        window.add_file_menu(self.menu)
        # a folder deleted meanwhile is greyed out when the menu opens
        self.menu.aboutToShow.connect(self._rebuild)
        self._rebuild()

    def paths(self) -> list:
        """The folders opened lately, most recent first (str)."""
        text = self.window.settings.value(SETTINGS_KEY, "")
        if not text:
            return []
        try:
            stored = json.loads(str(text))
        except json.JSONDecodeError:
            log.warning("%s: the list of recent folders is not valid JSON; it is ignored",
                        self.window.settings.fileName())
            return []
        return [str(p) for p in stored if isinstance(p, str) and p][:MAX_RECENT] if isinstance(stored, list) else []

    def add(self, path) -> None:
        """Put ``path`` first in the list (once)."""
        path = str(Path(path).expanduser().resolve())
        paths = [path] + [p for p in self.paths() if p != path]
        self._store(paths[:MAX_RECENT])

    def clear(self) -> None:
        """Forget every recent folder."""
        self._store([])

    def _store(self, paths: list) -> None:
        self.window.settings.setValue(SETTINGS_KEY, json.dumps(paths))
        self.window.settings.sync()
        self._rebuild()

    def _rebuild(self) -> None:
        self.menu.clear()
        paths = self.paths()
        for i, path in enumerate(paths, start=1):
            # & marks the mnemonic: the folder's own ampersands are doubled
            action = QAction(f"&{i} {path.replace('&', '&&')}", self.menu)
            exists = Path(path).exists()
            action.setEnabled(exists)
            action.setToolTip(path if exists else f"{path} no longer exists")
            action.triggered.connect(lambda checked=False, p=path: self.window.open_path(p))
            self.menu.addAction(action)
        if paths:
            self.menu.addSeparator()
        clear = self.menu.addAction("&Clear Menu")
        clear.setEnabled(bool(paths))
        clear.triggered.connect(self.clear)
        self.menu.setEnabled(True)
