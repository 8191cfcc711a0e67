"""Preprocessing: EEG bands, atlases, BOLD parcellation and labelled windows."""

from .atlases import COORDINATE_ATLASES, Atlas, load_atlas, load_label_atlas
from .bands import DEFAULT_BANDS, validate_bands
from .eeg import EEGBands, preprocess_eeg
from .fmri import ROISeries, parcellate
from .windows import Windows, concatenate_windows, make_windows

__all__ = [
    "Atlas", "COORDINATE_ATLASES", "DEFAULT_BANDS", "EEGBands", "ROISeries", "Windows",
    "concatenate_windows", "load_atlas", "load_label_atlas", "make_windows", "parcellate",
    "preprocess_eeg", "validate_bands",
]
