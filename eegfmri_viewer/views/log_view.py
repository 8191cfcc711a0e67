"""Log dock: the application's ``logging`` records, live."""

from __future__ import annotations

import logging
from collections import deque
from typing import Optional

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QColor, QTextCharFormat
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

LEVELS = (("Debug", logging.DEBUG), ("Info", logging.INFO), ("Warning", logging.WARNING), ("Error", logging.ERROR))
_COLOURS = {logging.WARNING: "#a86400", logging.ERROR: "#b00020", logging.CRITICAL: "#b00020"}
MAX_LINES = 5000


class _Relay(QObject):
    record = Signal(str, int)  # formatted text, level number


class QtLogHandler(logging.Handler):
    """A ``logging.Handler`` that hands records to the GUI thread.

    ``emit`` may run in any thread; it only emits a Qt signal, which Qt queues
    to the thread of the receiving widget.

    Signals
    -------
    relay.record(str, int)
        Formatted message and level number.
    """

    def __init__(self, level: int = logging.DEBUG):
        super().__init__(level)
        self.relay = _Relay()
        self.setFormatter(logging.Formatter(_FORMAT, _DATEFMT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            self.relay.record.emit(text, record.levelno)
        except RuntimeError:
            # the relay's C++ object is gone (window closed while a thread still logs)
            pass
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_DATEFMT = "%H:%M:%S"


class RecentRecords(logging.Handler):
    """Keeps the last ``capacity`` records, so a Log dock built later shows start-up messages.

    Parameters
    ----------
    capacity : int
    """

    def __init__(self, capacity: int = 2000, level: int = logging.DEBUG):
        super().__init__(level)
        self.setFormatter(logging.Formatter(_FORMAT, _DATEFMT))
        self.records: deque[tuple[str, int]] = deque(maxlen=capacity)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.records.append((self.format(record), record.levelno))
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def install_recent_records(logger: Optional[logging.Logger] = None) -> RecentRecords:
    """Attach (once) and return the :class:`RecentRecords` buffer of ``logger`` (root by default)."""
    logger = logger if logger is not None else logging.getLogger()
    for handler in logger.handlers:
        if isinstance(handler, RecentRecords):
            return handler
    handler = RecentRecords()
    logger.addHandler(handler)
    return handler


def _recent_records(logger: logging.Logger) -> list[tuple[str, int]]:
    for handler in logger.handlers:
        if isinstance(handler, RecentRecords):
            return list(handler.records)
    return []


class LogView(QWidget):
    """Shows log records of the running application, filtered by level.

    Parameters
    ----------
    state : AppState
        The shared state (unused: the log is global to the application).
    parent : QWidget, optional
    logger : logging.Logger, optional
        Logger to listen to; the root logger by default, so records of every
        module (and of libraries such as MNE) appear.
    """

    def __init__(self, state=None, parent: Optional[QWidget] = None, logger: Optional[logging.Logger] = None):
        super().__init__(parent)
        self.state = state
        self._logger = logger if logger is not None else logging.getLogger()
        self._records: list[tuple[str, int]] = []

        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_LINES)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.level_box = QComboBox(self)
        for name, level in LEVELS:
            self.level_box.addItem(name, level)
        self.level_box.setCurrentIndex(1)
        self.level_box.currentIndexChanged.connect(self._refill)
        clear = QPushButton("Clear", self)
        clear.clicked.connect(self.clear)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show:", self))
        bar.addWidget(self.level_box)
        bar.addStretch(1)
        bar.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.text)

        for text, level in _recent_records(self._logger):
            self.append(text, level)
        self.handler = QtLogHandler()
        self.handler.relay.record.connect(self.append)
        self._logger.addHandler(self.handler)
        # An INFO record must reach the dock even if nobody configured logging.
        if self._logger.getEffectiveLevel() > logging.INFO:
            self._logger.setLevel(logging.INFO)
        self.destroyed.connect(self._detach_factory(self._logger, self.handler))

    @staticmethod
    def _detach_factory(logger: logging.Logger, handler: logging.Handler):
        # A plain function (no reference to self): it runs after the widget is gone.
        def detach(*_):
            logger.removeHandler(handler)

        return detach

    def detach(self) -> None:
        """Stop listening to the logger."""
        self._logger.removeHandler(self.handler)

    @property
    def min_level(self) -> int:
        """Lowest level shown."""
        return int(self.level_box.currentData())

    @Slot(str, int)
    def append(self, text: str, level: int) -> None:
        """Add one formatted record (kept even when filtered out, for later refills)."""
        self._records.append((text, level))
        if len(self._records) > MAX_LINES:
            del self._records[: len(self._records) - MAX_LINES]
        if level >= self.min_level:
            self._write(text, level)

    def lines(self) -> list[str]:
        """The lines currently shown."""
        return self.text.toPlainText().splitlines()

    def clear(self) -> None:
        """Forget every record shown so far."""
        self._records.clear()
        self.text.clear()

    def _write(self, text: str, level: int) -> None:
        fmt = QTextCharFormat()
        colour = _COLOURS.get(level)
        if colour:
            fmt.setForeground(QColor(colour))
        cursor = self.text.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        if not self.text.document().isEmpty():
            cursor.insertBlock()
        cursor.insertText(text, fmt)
        self.text.verticalScrollBar().setValue(self.text.verticalScrollBar().maximum())

    @Slot()
    def _refill(self) -> None:
        self.text.clear()
        for text, level in self._records:
            if level >= self.min_level:
                self._write(text, level)
