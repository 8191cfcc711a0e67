"""Helpers for tests of the 2-D (pyqtgraph) views: show a view, settle, map and click plot coordinates."""

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication


def show(qtbot, view_cls, state, size=(900, 700)):
    """Build ``view_cls(state)``, show it at ``size`` and wait until it is exposed."""
    view = view_cls(state)
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    settle()
    return view


def settle():
    for _ in range(3):
        QApplication.processEvents()


def render(plot_widget):
    """Paint the plot's viewport and return it as a QImage (view pixels = image pixels)."""
    settle()
    return plot_widget.viewport().grab().toImage()


def to_pixel(plot_widget, x, y):
    """Viewport pixel of the plot coordinates (x, y)."""
    vb = plot_widget.getPlotItem().getViewBox()
    return plot_widget.mapFromScene(vb.mapViewToScene(QPointF(float(x), float(y))))


def hover(plot_widget, x, y):
    # The first move only enters the viewport; the second is a hover move.
    pos = to_pixel(plot_widget, x, y)
    QTest.mouseMove(plot_widget.viewport(), pos + type(pos)(2, 0))
    settle()
    QTest.mouseMove(plot_widget.viewport(), pos)
    settle()


def click(plot_widget, x, y):
    """A real left click at the plot coordinates (x, y)."""
    pos = to_pixel(plot_widget, x, y)
    QTest.mouseMove(plot_widget.viewport(), pos)
    QTest.mouseClick(plot_widget.viewport(), Qt.LeftButton, Qt.NoModifier, pos)
    settle()


def rgb(image, px, py):
    c = image.pixelColor(int(round(px)), int(round(py)))
    return np.array([c.red(), c.green(), c.blue()])
