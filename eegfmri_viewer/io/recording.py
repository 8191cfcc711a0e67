"""The data classes every later stage starts from (see docs/architecture.md).

A :class:`Recording` is one subject / session / task / run holding its EEG, its
BOLD image, its events and the :class:`Alignment` between the EEG clock and the
BOLD clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
from numpy import ndarray


@dataclass
class Events:
    """Experimental events on the BOLD clock (seconds from the onset of volume 0).

    Attributes
    ----------
    onset : ndarray, shape (n_events,)
        Onsets in seconds, float.
    duration : ndarray, shape (n_events,)
        Durations in seconds, float.
    trial_type : ndarray, shape (n_events,)
        Class label of each event, str.
    source : str
        File the events came from, or ``"EEG annotations"``.
    """

    onset: ndarray
    duration: ndarray
    trial_type: ndarray
    source: str

    def __len__(self) -> int:
        return int(len(self.onset))

    def counts(self) -> dict:
        """Number of events per trial type, ``{trial_type: count}`` sorted by name."""
        names, n = np.unique(np.asarray(self.trial_type, dtype=str), return_counts=True)
        return {str(k): int(v) for k, v in zip(names, n)}


@dataclass
class Alignment:
    """Mapping between the EEG clock and BOLD volume indices.

    Attributes
    ----------
    method : str
        ``"markers"`` (scanner volume markers found in the EEG) or ``"start"``
        (EEG and BOLD assumed to start together, shifted by ``offset_s``).
    tr : float
        Repetition time in seconds.
    volume_onsets_eeg_s : ndarray, shape (n_volumes,)
        EEG-clock time of each volume onset.
    offset_s : float
        EEG time of volume 0.
    n_markers, n_missing, n_extra : int
        Markers found, volumes without a marker, markers that match no volume.
    max_jitter_s : float
        Largest deviation of a matched marker from the regular TR grid.
    marker : str | None
        The marker description used (``None`` for start alignment).
    messages : list of str
        Human-readable findings and warnings.
    """

    method: str
    tr: float
    volume_onsets_eeg_s: ndarray
    offset_s: float
    n_markers: int
    n_missing: int
    n_extra: int
    max_jitter_s: float
    marker: Optional[str]
    messages: list = field(default_factory=list)

    @property
    def n_volumes(self) -> int:
        return int(len(self.volume_onsets_eeg_s))

    def eeg_time_to_volume(self, t) -> ndarray:
        """Fractional volume index of EEG-clock times.

        Between two volume onsets the index is linear in time; outside the run it
        is extrapolated with the TR.

        Parameters
        ----------
        t : float | array-like, shape (n,)
            EEG-clock times in seconds.

        Returns
        -------
        idx : ndarray, shape (n,) (0-d for a scalar)
            Fractional volume index (0.0 = onset of volume 0).
        """
        t = np.asarray(t, dtype=float)
        on = np.asarray(self.volume_onsets_eeg_s, dtype=float)
        idx = np.arange(len(on), dtype=float)
        out = np.interp(t, on, idx)
        before = t < on[0]
        after = t > on[-1]
        out = np.where(before, (t - on[0]) / self.tr, out)
        out = np.where(after, idx[-1] + (t - on[-1]) / self.tr, out)
        return out

    def volume_to_eeg_time(self, idx) -> ndarray:
        """EEG-clock time of (fractional) volume indices; inverse of :meth:`eeg_time_to_volume`.

        Parameters
        ----------
        idx : float | array-like, shape (n,)
            Volume indices, possibly fractional or outside ``[0, n_volumes - 1]``.

        Returns
        -------
        t : ndarray, shape (n,)
            EEG-clock times in seconds.
        """
        idx = np.asarray(idx, dtype=float)
        on = np.asarray(self.volume_onsets_eeg_s, dtype=float)
        n = len(on)
        out = np.interp(idx, np.arange(n, dtype=float), on)
        out = np.where(idx < 0, on[0] + idx * self.tr, out)
        out = np.where(idx > n - 1, on[-1] + (idx - (n - 1)) * self.tr, out)
        return out


@dataclass
class Recording:
    """One subject, session, task and run of simultaneous EEG-fMRI.

    Attributes
    ----------
    eeg : mne.io.BaseRaw | None
        Not preloaded for large files; positions set, non-EEG channels typed.
    bold : nibabel.Nifti1Image | None
        4-D image whose data stay on disk (array proxy).
    events : Events | None
        On the BOLD clock.
    space : str
        ``"MNI152NLin2009cAsym"`` (or another template name), ``"MNI"``,
        ``"native"`` or ``"unknown"``.
    corrections : list of str
        Artifact corrections applied to ``eeg``.
    warnings : list of str
        Everything a user should know about this run.
    events_path : Path | None
        The file the events were read from (also when it held no condition
        events); None for EEG annotations or no events.
    """

    subject: str
    session: Optional[str]
    task: Optional[str]
    run: Optional[str]
    eeg: Any
    eeg_path: Optional[Path]
    bold: Any
    bold_path: Optional[Path]
    tr: Optional[float]
    events: Optional[Events]
    alignment: Optional[Alignment]
    confounds: Any
    space: str
    corrections: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    label: str = ""
    events_path: Optional[Path] = None

    def __post_init__(self) -> None:
        if not self.label:
            self.label = make_label(self.subject, self.session, self.task, self.run)


def make_label(subject, session=None, task=None, run=None) -> str:
    """``"sub-01 ses-1 task-x run-1"`` with the missing entities left out."""
    parts = [f"sub-{subject}"]
    for key, val in (("ses", session), ("task", task), ("run", run)):
        if val:
            parts.append(f"{key}-{val}")
    return " ".join(parts)
