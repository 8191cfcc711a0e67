"""The "on the cortex" check box of a view that can put its map on the Cortex 3-D view."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox


def untick_when_replaced(check: QCheckBox, owner: str, overlay) -> bool:
    """Untick ``check`` (without its signal) when another view's ``overlay`` took the cortex.

    The cortex shows one overlay at a time; a box left ticked would say this
    view's map is shown when it is not.

    Parameters
    ----------
    check : QCheckBox
        The view's "on the cortex" box.
    owner : str
        The view's overlay owner name.
    overlay : CortexOverlay or None
        The state's new overlay.

    Returns
    -------
    bool
        Whether the box was unticked.
    """
    if overlay is None or overlay.owner == owner:
        return False
    return _untick(check)


def untick_when_dismissed(check: QCheckBox, owner: str, dismissed_owner: str) -> bool:
    """Untick ``check`` (without its signal) when this view's map was taken off the cortex from outside.

    Parameters
    ----------
    check : QCheckBox
        The view's "on the cortex" box.
    owner : str
        The view's overlay owner name.
    dismissed_owner : str
        Owner of the overlay that :meth:`AppState.dismiss_overlay` removed.

    Returns
    -------
    bool
        Whether the box was unticked.
    """
    if dismissed_owner != owner:
        return False
    return _untick(check)


def _untick(check: QCheckBox) -> bool:
    """Untick a ticked ``check`` without its signal; returns whether it was ticked."""
    if not check.isChecked():
        return False
    check.blockSignals(True)
    check.setChecked(False)
    check.blockSignals(False)
    return True
