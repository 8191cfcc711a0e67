"""Readers for simultaneous EEG-fMRI: BIDS discovery, single files, alignment,
scanner-artifact correction and input validation (no Qt here).

Heavy libraries (mne, nibabel, pandas) are imported inside the functions that
need them, so importing this package is cheap.
"""

from .errors import InputError
from .recording import Alignment, Events, Recording

__all__ = ["InputError", "Alignment", "Events", "Recording"]
