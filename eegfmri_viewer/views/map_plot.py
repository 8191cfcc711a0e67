"""A pyqtgraph plot for drawing nodes on a map (head layout, glass brain): no axes, equal scales."""

from __future__ import annotations

import pyqtgraph as pg


def map_plot() -> pg.PlotWidget:
    """A white plot without axes, buttons or context menu, with its aspect ratio locked.

    Positions are in the map's own units (e.g. the head radius or mm), so x and
    y must keep one scale for the layout to look right.
    """
    widget = pg.PlotWidget(background="w")
    widget.setMenuEnabled(False)
    item = widget.getPlotItem()
    item.hideAxis("left")
    item.hideAxis("bottom")
    item.setAspectLocked(True)
    item.hideButtons()
    return widget
