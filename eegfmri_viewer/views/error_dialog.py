"""Error dialogs: a short message, and the traceback behind "Show Details"."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


def is_input_error(exc: BaseException) -> bool:
    """True for :class:`eegfmri_viewer.io.errors.InputError` and its subclasses.

    Matched by class name along the MRO so this module needs no core import.
    """
    return any(cls.__name__ == "InputError" for cls in type(exc).__mro__)


def short_message(exc: BaseException) -> str:
    """One line for the dialog: the exception type and its message."""
    text = str(exc).strip() or "(no message)"
    first = text.splitlines()[0]
    if len(first) > 300:
        first = first[:297] + "..."
    return f"{type(exc).__name__}: {first}"


def error_dialog(
    exc: BaseException,
    traceback_text: str = "",
    parent: Optional[QWidget] = None,
    context: str = "",
    log_path: Optional[str] = None,
) -> QMessageBox:
    """Build (not show) the dialog for ``exc``.

    Bad input (``InputError``) gets a plain warning with the message naming the
    file; anything else is reported as an unexpected error with the traceback
    in the expandable details and the log file named.

    Parameters
    ----------
    exc : BaseException
    traceback_text : str
        Formatted traceback (shown under "Show Details...").
    parent : QWidget, optional
    context : str
        What was being done, e.g. ``"analyze"``; shown in the title.
    log_path : str, optional
        Log file the traceback was written to.

    Returns
    -------
    box : QMessageBox
        Non-modal, deleted on close. Call ``box.show()`` (or ``open()``).
    """
    box = QMessageBox(parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    if is_input_error(exc):
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Cannot use this input" + (f" ({context})" if context else ""))
        box.setText(str(exc))
    else:
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle("Unexpected error" + (f" in {context}" if context else ""))
        box.setText(short_message(exc))
        info = "The application keeps running; this action did not complete."
        if log_path:
            info += f"\nDetails were written to {log_path}"
        box.setInformativeText(info)
        if traceback_text:
            box.setDetailedText(traceback_text)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return box
