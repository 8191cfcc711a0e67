"""The white pyqtgraph plot with grey axes that the 2-D views draw their curves, bars and heat maps in."""

from __future__ import annotations

from typing import Optional

import pyqtgraph as pg
from PySide6.QtGui import QFont


def style_axes(plot_item: pg.PlotItem, tick_font: Optional[QFont] = None) -> None:
    """Grey left and bottom axes with dark labels, and plain numbers on them.

    Parameters
    ----------
    plot_item : pg.PlotItem
    tick_font : QFont, optional
        Font of the tick labels (views that measure their labels to decide
        which ones fit pass the font they measure with).
    """
    for axis in ("left", "bottom"):
        plot_item.getAxis(axis).setPen(pg.mkPen((80, 80, 80)))
        plot_item.getAxis(axis).setTextPen(pg.mkPen((30, 30, 30)))
        # Correlations and weights read better as 0.2 than as 200 (x0.001).
        plot_item.getAxis(axis).enableAutoSIPrefix(False)
        if tick_font is not None:
            plot_item.getAxis(axis).setStyle(tickFont=tick_font)


def axes_plot(tick_font: Optional[QFont] = None) -> pg.PlotWidget:
    """A white plot without context menu or buttons, its axes styled by :func:`style_axes`."""
    widget = pg.PlotWidget(background="w")
    widget.setMenuEnabled(False)
    item = widget.getPlotItem()
    item.hideButtons()
    style_axes(item, tick_font)
    return widget
