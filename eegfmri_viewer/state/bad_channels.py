"""Channels the user marked bad, kept across restarts in the application's QSettings.

The marks live in :class:`~eegfmri_viewer.state.app_state.AppState` for the
dataset in view; :class:`BadChannelStore` swaps them when a recording of
another dataset is loaded and writes every change back. The input files
(``channels.tsv``) are never written: the marks reach the analysis as
``[preprocessing] marked_bad``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import QObject, QSettings

log = logging.getLogger(__name__)

#: QSettings key of the JSON ``{dataset: {recording label: [channel names]}}``.
SETTINGS_KEY = "bad_channels/marks"


def dataset_key(recording: Any) -> str:
    """The dataset a recording belongs to: its BIDS root, else its EEG (or BOLD) file.

    The BIDS root is the folder above the recording's ``sub-<label>`` folder,
    the path the Training dock analyses.

    Parameters
    ----------
    recording : Recording or None

    Returns
    -------
    key : str
        Absolute path, ``""`` for no recording or one without files.
    """
    if recording is None:
        return ""
    path = getattr(recording, "eeg_path", None) or getattr(recording, "bold_path", None)
    if path is None:
        return ""
    path = Path(path).expanduser().resolve()
    folders = path.parts[:-1]
    subject = f"sub-{getattr(recording, 'subject', '')}"
    # the last one: a BIDS root may itself sit below a folder of that name
    for i in range(len(folders) - 1, 0, -1):
        if folders[i] == subject:
            # an fMRI-only run read from fMRIPrep's output lies in <root>/derivatives/<pipeline>/sub-<label>;
            # an EEG file under derivatives/ belongs to that derivative dataset
            if getattr(recording, "eeg_path", None) is None and i >= 3 and folders[i - 2] == "derivatives":
                i -= 2
            return str(Path(*folders[:i]))
    return str(path)


def read_marks(settings: QSettings) -> dict:
    """Every stored mark, ``{dataset: {recording label: [channel names]}}``; ``{}`` if none or unreadable."""
    text = settings.value(SETTINGS_KEY, "")
    if not text:
        return {}
    try:
        stored = json.loads(str(text))
    except json.JSONDecodeError:
        log.warning("%s: the channels marked bad are not valid JSON; they are ignored", settings.fileName())
        return {}
    if not isinstance(stored, dict):
        return {}
    # a hand-edited file may hold anything: only lists of names survive
    return {str(ds): {str(label): [str(n) for n in names if n] for label, names in marks.items()
                      if isinstance(names, list)}
            for ds, marks in stored.items() if isinstance(marks, dict)}


class BadChannelStore(QObject):
    """Keeps the state's bad-channel marks in ``settings``, per dataset and recording.

    Loading a recording of another dataset (see :func:`dataset_key`) replaces
    the state's marks by those stored for it; every change of the marks is
    written at once.

    Parameters
    ----------
    state : AppState
    settings : QSettings
    parent : QObject, optional
        ``state`` by default, so that the store lives as long as the state.
    """

    def __init__(self, state, settings: QSettings, parent: Optional[QObject] = None):
        super().__init__(parent if parent is not None else state)
        self.state = state
        self.settings = settings
        self._loading = False
        state.datasetChanged.connect(self._on_dataset)
        state.badChannelsChanged.connect(self._on_marks_changed)
        state.set_stored_marks_reader(lambda dataset: read_marks(self.settings).get(dataset, {}))
        self._on_dataset(state.dataset)

    def _on_dataset(self, recording: Any) -> None:
        key = dataset_key(recording)
        # another run of the same dataset keeps the marks; no recording keeps them too
        if not key or key == self.state.bad_channels_dataset:
            return
        self._loading = True
        try:
            self.state.load_marked_bad(key, read_marks(self.settings).get(key, {}))
        finally:
            self._loading = False

    def _on_marks_changed(self, _label: str) -> None:
        key = self.state.bad_channels_dataset
        if self._loading or not key:
            return
        stored = read_marks(self.settings)
        marks = self.state.marked_bad()
        if marks:
            stored[key] = marks
        else:
            stored.pop(key, None)
        self.settings.setValue(SETTINGS_KEY, json.dumps(stored, sort_keys=True))
        self.settings.sync()
