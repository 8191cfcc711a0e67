"""A view's body: either a plain sentence (no data yet) or its content."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget


def message_stack(parent: QWidget, message: QLabel, content: QWidget) -> QStackedWidget:
    """Lay out ``message`` (page 0) and ``content`` (page 1) as ``parent``'s body.

    Views show page 0 with a sentence saying what is missing, and page 1 once
    they have data to draw.
    """
    stack = QStackedWidget()
    stack.addWidget(message)
    stack.addWidget(content)
    layout = QVBoxLayout(parent)
    layout.setContentsMargins(2, 2, 2, 2)
    layout.addWidget(stack)
    return stack
