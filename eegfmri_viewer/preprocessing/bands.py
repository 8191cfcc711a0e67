"""EEG frequency bands: the defaults and their validation."""

from __future__ import annotations

from typing import Optional

from ..io.errors import InputError

DEFAULT_BANDS = (
    ("delta", 1.0, 4.0),
    ("theta", 4.0, 8.0),
    ("alpha", 8.0, 13.0),
    ("beta", 13.0, 30.0),
    ("gamma", 30.0, 45.0),
)


def validate_bands(bands, sfreq: Optional[float] = None, source: Optional[str] = None) -> tuple:
    """Check a band list and return it as ``((name, lo, hi), ...)`` floats.

    Parameters
    ----------
    bands : sequence of (str, float, float)
        Band name, lower and upper edge in Hz.
    sfreq : float | None
        Sampling rate the bands will be filtered at; when given, every upper
        edge must lie below the Nyquist frequency ``sfreq / 2``.
    source : str | None
        File or setting the bands came from, named in the error.

    Returns
    -------
    bands : tuple of (str, float, float)

    Raises
    ------
    InputError
        Empty list, malformed entry, duplicate name, ``lo <= 0``,
        ``lo >= hi`` or ``hi >= sfreq / 2``.
    """
    where = source or "bands"
    try:
        items = list(bands)
    except TypeError:
        raise InputError(where, f"bands must be a list of (name, low Hz, high Hz), got {bands!r}") from None
    if not items:
        raise InputError(where, "no frequency bands given")
    out = []
    seen = set()
    for item in items:
        try:
            name, lo, hi = item
            name = str(name)
            lo = float(lo)
            hi = float(hi)
        except (TypeError, ValueError):
            raise InputError(where, f"band {item!r} is not (name, low Hz, high Hz)") from None
        if not name:
            raise InputError(where, f"band {item!r} has an empty name")
        if name in seen:
            raise InputError(where, f"band name {name!r} appears twice")
        seen.add(name)
        if not lo > 0:
            raise InputError(where, f"band {name!r}: low edge {lo} Hz must be > 0")
        if not hi > lo:
            raise InputError(where, f"band {name!r}: high edge {hi} Hz must be above the low edge {lo} Hz")
        if sfreq is not None and hi >= sfreq / 2.0:
            raise InputError(
                where,
                f"band {name!r}: high edge {hi} Hz is not below the Nyquist frequency "
                f"{sfreq / 2.0:g} Hz of the {sfreq:g} Hz EEG",
            )
        out.append((name, lo, hi))
    return tuple(out)
