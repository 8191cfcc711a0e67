"""The application's single source of truth for linked views."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import QObject, Signal

from eegfmri_viewer.state.selection import Selection


class AppState(QObject):
    """Current dataset, results, comparison, selection and run status.

    Views read the properties and call the setters; every setter emits its
    signal(s) only when the stored value really changes, so views can redraw
    on signals without feedback loops.

    Signals
    -------
    datasetChanged(object)
        New :class:`~eegfmri_viewer.io.recording.Recording` or ``None``.
    resultsChanged(object)
        New ``ResultsBundle`` or ``None``.
    compareChanged(object)
        New comparison result or ``None``.
    selectionChanged(object)
        The new :class:`Selection`, after any field changed.
    nodeChanged(str, int)
        Node kind (``""`` for none) and index (``-1`` for none).
    classChanged(int), bandChanged(str), sessionChanged(str), timeChanged(float)
        One field of the selection changed (session ``""`` means none).
    runStatusChanged(str)
        ``"idle"``, ``"running: ..."``, ``"failed: ..."`` or ``"cancelled"``.
    overlayChanged(object)
        New :class:`~eegfmri_viewer.state.overlay.CortexOverlay` or ``None``.
        New results clear the overlay (it belongs to the results it was made from).
    overlayDismissed(str)
        The overlay of this owner was taken off the cortex from outside its
        view (:meth:`dismiss_overlay`): the view's "on the cortex" box unticks.
    badChannelsChanged(str)
        The channels the user marked bad in the recording with this label
        changed (see :meth:`toggle_bad`); a whole new set of marks
        (:meth:`load_marked_bad`) emits once per label whose marks changed.
    """

    datasetChanged = Signal(object)
    resultsChanged = Signal(object)
    compareChanged = Signal(object)
    selectionChanged = Signal(object)
    nodeChanged = Signal(str, int)
    classChanged = Signal(int)
    bandChanged = Signal(str)
    sessionChanged = Signal(str)
    timeChanged = Signal(float)
    runStatusChanged = Signal(str)
    overlayChanged = Signal(object)
    overlayDismissed = Signal(str)
    badChannelsChanged = Signal(str)

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._dataset: Any = None
        self._results: Any = None
        self._compare: Any = None
        self._selection = Selection()
        self._run_status = "idle"
        self._overlay: Any = None
        # {recording label: channel names} the user marked bad, for the dataset in _bad_dataset
        self._marked_bad: dict[str, frozenset] = {}
        self._bad_dataset = ""
        # reads the marks kept for a dataset not in view (set by BadChannelStore)
        self._stored_marks = None

    # -- read-only properties -------------------------------------------------
    @property
    def dataset(self) -> Any:
        """The loaded Recording, or ``None``."""
        return self._dataset

    @property
    def results(self) -> Any:
        """The loaded ResultsBundle, or ``None``."""
        return self._results

    @property
    def compare(self) -> Any:
        """The current before/after comparison result, or ``None``."""
        return self._compare

    @property
    def selection(self) -> Selection:
        """The current :class:`Selection` (immutable)."""
        return self._selection

    @property
    def overlay(self) -> Any:
        """The map the cortex shows instead of the CAM, or ``None``."""
        return self._overlay

    @property
    def run_status(self) -> str:
        """Status of the background analysis."""
        return self._run_status

    # -- setters ----------------------------------------------------------------
    # Large objects are compared by identity: equality on arrays is ambiguous and
    # loading the same file again is a real change the views must see.
    def set_dataset(self, dataset: Any) -> None:
        """Replace the current recording (``None`` to clear)."""
        if dataset is not self._dataset:
            self._dataset = dataset
            self.datasetChanged.emit(dataset)

    def set_results(self, results: Any) -> None:
        """Replace the current results bundle (``None`` to clear)."""
        if results is not self._results:
            self.set_overlay(None)
            self._results = results
            self.resultsChanged.emit(results)

    def set_compare(self, compare: Any) -> None:
        """Replace the current comparison result (``None`` to clear)."""
        if compare is not self._compare:
            self._compare = compare
            self.compareChanged.emit(compare)

    def select_node(self, kind: Optional[str], index: Optional[int]) -> None:
        """Select node ``index`` of ``kind`` ("roi"/"electrode"); ``None``/``-1`` clears."""
        if kind in (None, "") or index is None or index < 0:
            kind, index = None, None
        else:
            index = int(index)
        if self._replace(node_kind=kind, node_index=index):
            self.nodeChanged.emit(kind or "", -1 if index is None else index)
            self.selectionChanged.emit(self._selection)

    def set_class(self, index: int) -> None:
        """Select the class with index ``index``."""
        index = int(index)
        if index < 0:
            raise ValueError(f"class index must be >= 0, got {index}")
        if self._replace(class_index=index):
            self.classChanged.emit(index)
            self.selectionChanged.emit(self._selection)

    def set_band(self, name: str) -> None:
        """Select the EEG band called ``name``."""
        name = str(name)
        if self._replace(band=name):
            self.bandChanged.emit(name)
            self.selectionChanged.emit(self._selection)

    def set_session(self, session: Optional[str]) -> None:
        """Select a session label (``None`` or ``""`` for none)."""
        session = session or None
        if self._replace(session=session):
            self.sessionChanged.emit(session or "")
            self.selectionChanged.emit(self._selection)

    def set_time(self, t: float) -> None:
        """Move the time cursor to ``t`` seconds (BOLD clock)."""
        t = float(t)
        if not math.isfinite(t):
            raise ValueError(f"time must be finite, got {t}")
        if self._replace(time_s=t):
            self.timeChanged.emit(t)
            self.selectionChanged.emit(self._selection)

    def set_overlay(self, overlay: Any) -> None:
        """Show ``overlay`` (a CortexOverlay) on the cortex instead of the CAM; ``None`` ends it."""
        if overlay is not self._overlay:
            self._overlay = overlay
            self.overlayChanged.emit(overlay)

    def dismiss_overlay(self) -> None:
        """Take the overlay off the cortex for its owner (the Cortex view's "Show the CAM", its dock closed)."""
        overlay = self._overlay
        if overlay is not None:
            self.set_overlay(None)
            self.overlayDismissed.emit(str(overlay.owner or ""))

    def set_run_status(self, status: str) -> None:
        """Set the analysis run status text."""
        status = str(status)
        if status != self._run_status:
            self._run_status = status
            self.runStatusChanged.emit(status)

    # -- channels marked bad by the user -------------------------------------------
    @property
    def bad_channels_dataset(self) -> str:
        """The dataset (BIDS root or file path) the marks belong to; ``""`` when none was loaded."""
        return self._bad_dataset

    def marked_bad(self) -> dict[str, list[str]]:
        """``{recording label: sorted channel names}`` marked bad, recordings with marks only.

        The shape of ``[preprocessing] marked_bad`` in the analysis settings.
        """
        return {label: sorted(names) for label, names in sorted(self._marked_bad.items()) if names}

    def set_stored_marks_reader(self, reader) -> None:
        """Where :meth:`marks_for_dataset` finds the marks of datasets not in view.

        Parameters
        ----------
        reader : callable
            ``reader(dataset) -> {recording label: channel names}``.
        """
        self._stored_marks = reader

    def marks_for_dataset(self, dataset: str) -> dict[str, list[str]]:
        """The marks of ``dataset`` (a BIDS root): those in view, else those kept, else ``{}``."""
        if not dataset:
            return {}
        key = str(Path(dataset).expanduser().resolve())
        if self._bad_dataset and key == str(Path(self._bad_dataset).expanduser().resolve()):
            return self.marked_bad()
        stored = self._stored_marks(key) if self._stored_marks is not None else {}
        return {str(label): sorted(str(n) for n in names) for label, names in sorted(stored.items()) if names}

    def marked_bad_of(self, label: str) -> list[str]:
        """Sorted names of the channels marked bad in the recording ``label``."""
        return sorted(self._marked_bad.get(str(label), ()))

    def is_marked_bad(self, label: str, name: str) -> bool:
        """Whether the user marked channel ``name`` of recording ``label`` bad."""
        return str(name) in self._marked_bad.get(str(label), ())

    def set_marked_bad(self, label: str, names) -> None:
        """Mark exactly ``names`` (iterable of channel names) bad in recording ``label``."""
        label = str(label)
        if not label:
            raise ValueError("a recording label is needed to mark channels bad")
        new = frozenset(str(n) for n in names)
        if any(not n for n in new):
            raise ValueError(f"{label}: empty channel name among {sorted(new)}")
        if new != self._marked_bad.get(label, frozenset()):
            if new:
                self._marked_bad[label] = new
            else:
                self._marked_bad.pop(label, None)
            self.badChannelsChanged.emit(label)

    def toggle_bad(self, label: str, name: str) -> bool:
        """Mark channel ``name`` of recording ``label`` bad, or good again; returns whether it is bad now."""
        names = set(self._marked_bad.get(str(label), ()))
        bad = str(name) not in names
        names.symmetric_difference_update({str(name)})
        self.set_marked_bad(label, names)
        return bad

    def load_marked_bad(self, dataset: str, marks: dict) -> None:
        """Replace every mark by ``marks`` (``{label: channel names}``) of the dataset ``dataset``.

        Emits :attr:`badChannelsChanged` for each label whose marks changed.
        """
        new = {str(label): frozenset(str(n) for n in names) for label, names in marks.items() if names}
        changed = sorted(label for label in set(new) | set(self._marked_bad)
                         if new.get(label) != self._marked_bad.get(label))
        self._bad_dataset = str(dataset)
        self._marked_bad = new
        for label in changed:
            self.badChannelsChanged.emit(label)

    def _replace(self, **changes: Any) -> bool:
        """Store a new selection with ``changes``; return whether anything changed."""
        new = dataclasses.replace(self._selection, **changes)
        if new == self._selection:
            return False
        self._selection = new
        return True
