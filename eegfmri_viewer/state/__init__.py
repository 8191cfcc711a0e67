"""Shared GUI state: the one :class:`AppState` every view reads and writes.

Only ``PySide6.QtCore`` is used here, so the state can be tested without widgets.
"""

from eegfmri_viewer.state.app_state import AppState
from eegfmri_viewer.state.overlay import CortexOverlay
from eegfmri_viewer.state.selection import Selection

__all__ = ["AppState", "CortexOverlay", "Selection"]
