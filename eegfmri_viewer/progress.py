"""Progress reporting and cancellation shared by every long core function.

Core functions take ``progress(fraction, message)`` and ``cancel() -> bool``
callables (both optional). They stay plain Python so that the same function
runs from the command line, from tests and inside a Qt worker.
"""

from __future__ import annotations

from typing import Callable, Optional

ProgressCallback = Callable[[float, str], None]
CancelFlag = Callable[[], bool]


class Cancelled(Exception):
    """Raised inside a core function when its cancel flag was set."""


def report(progress: Optional[ProgressCallback], fraction: float, message: str = "") -> None:
    """Call ``progress`` if given, with ``fraction`` clipped to [0, 1]."""
    if progress is not None:
        progress(min(1.0, max(0.0, float(fraction))), message)


def check_cancel(cancel: Optional[CancelFlag]) -> None:
    """Raise :class:`Cancelled` when ``cancel`` says so."""
    if cancel is not None and cancel():
        raise Cancelled("cancelled by the user")


def sub_progress(progress: Optional[ProgressCallback], start: float, stop: float) -> Optional[ProgressCallback]:
    """Map a sub-task's [0, 1] progress onto ``[start, stop]`` of ``progress``."""
    if progress is None:
        return None

    def _sub(fraction: float, message: str = "") -> None:
        report(progress, start + (stop - start) * fraction, message)

    return _sub
