"""Dataset browser: the runs of a BIDS folder as subjects ▸ sessions ▸ runs.

A recording opened from single files (File ▸ Open EEG + BOLD files…, Open BOLD
run…) is listed alone, with the same columns and, above the tree, its files,
TR, volumes, space, events and warnings (:meth:`DatasetBrowserView.show_recording`).

The tree is filled in one go from a :class:`~eegfmri_viewer.io.bids.Discovery`;
the per-run columns (channels, sampling rate, duration, TR, volumes, events
per class) come from reading every run's headers in one background worker, so
a large dataset never blocks the window. Selecting a run asks for it to be
loaded. Views own no workers: the main window answers ``headersRequested``
(with :func:`run_infos` in a worker, then :meth:`DatasetBrowserView.set_infos`)
and ``runRequested`` (``load_run`` in a worker, then ``state.set_dataset``).
"""

from __future__ import annotations

import logging
from typing import Optional

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from eegfmri_viewer.state import AppState

log = logging.getLogger(__name__)

COLUMNS = ["Run", "Channels", "Sfreq (Hz)", "Duration (s)", "TR (s)", "Volumes", "Events per class",
           "Bad channels", "Mean FD (mm)", "EEG-BOLD alignment"]
#: What each column holds: the header's tooltip (a narrow column cuts its header).
COLUMN_TIPS = {
    "Run": "Subject, session, task and run of the recording",
    "Channels": "EEG channels (– : no EEG, an fMRI-only run)",
    "Sfreq (Hz)": "EEG sampling rate in Hz (– : no EEG)",
    "Duration (s)": "Length of the EEG recording in seconds (– : no EEG)",
    "TR (s)": "BOLD repetition time in seconds",
    "Volumes": "BOLD volumes",
    "Events per class": "Blocks (events) of each class in the events file; hover a cell for the full list",
    "Bad channels": "EEG channels marked bad in channels.tsv (– : no EEG)",
    "Mean FD (mm)": "Mean framewise displacement of the head (fMRIPrep confounds)",
    "EEG-BOLD alignment": "Whether the EEG and the BOLD cover each other in time; hover a cell for the details",
}
#: Widest a column opens (px) before its cells elide: wider ones push the others out of sight.
MAX_COLUMN_WIDTH = 220
#: Shown in the EEG columns of an fMRI-only run (no EEG), instead of a count of 0.
NO_EEG = "–"
# the RunEntry index is kept on run items; skipped items hold their reason instead
_ENTRY_ROLE = Qt.ItemDataRole.UserRole
EMPTY_TEXT = "Open a BIDS folder, an EEG + BOLD pair or a BOLD run (File menu) to list it here."


def run_infos(runs: list, progress=None, cancel=None) -> list:
    """Header summaries of ``runs`` (fast: no artifact correction, no data scan).

    Parameters
    ----------
    runs : list of RunEntry
        From :func:`eegfmri_viewer.io.bids.discover`.

    Returns
    -------
    infos : list
        One item per run: the :func:`~eegfmri_viewer.io.info.recording_info`
        dict, or the error message (str) when the run cannot be read.
    """
    from eegfmri_viewer.io.bids import load_run
    from eegfmri_viewer.io.info import recording_info
    from eegfmri_viewer.progress import check_cancel, report

    out: list = []
    for i, entry in enumerate(runs):
        check_cancel(cancel)
        report(progress, i / max(len(runs), 1), f"reading {entry.label}")
        try:
            out.append(recording_info(load_run(entry, correct_artifacts=False, check_data=False)))
        except Exception as exc:  # noqa: BLE001 - one unreadable run must not hide the others
            log.warning("run %s could not be read: %s", entry.label, exc)
            out.append(str(exc))
    report(progress, 1.0, "runs read")
    return out


def single_recording_text(info: dict) -> str:
    """What the Dataset tab says above a recording opened from files.

    Parameters
    ----------
    info : dict
        :func:`~eegfmri_viewer.io.info.recording_info` of the recording.

    Returns
    -------
    text : str
        Several lines: the files, the BOLD run (volumes, TR, space), the events per
        class and every warning.
    """
    from pathlib import Path

    lines = ["Opened from files (not a BIDS folder):"]
    if info.get("eeg_path"):
        lines.append(f"EEG {Path(info['eeg_path']).name}: {info.get('n_channels')} channels, "
                     f"{_fmt(info.get('sfreq'), 0)} Hz, {_fmt(info.get('duration_s'), 1)} s")
    else:
        lines.append("EEG none (fMRI only)")
    lines.append(f"BOLD {Path(str(info.get('bold_path'))).name}: {info.get('n_volumes')} volumes, "
                 f"TR {_fmt(info.get('tr'), 3)} s, space {info.get('space')}")
    events = ", ".join(f"{k} {v}" for k, v in sorted((info.get("events_per_class") or {}).items()))
    source = info.get("events_source")
    lines.append(f"Events: {events} (from {source})" if events and source else f"Events: {events or 'none'}")
    warnings = list(info.get("warnings") or [])
    lines += [f"Warning: {w}" for w in warnings]
    return "\n".join(lines)


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"
    return str(value)


class DatasetBrowserView(QWidget):
    """Tree of the runs of a BIDS dataset, with their skipped runs and reasons.

    Parameters
    ----------
    state : AppState
        The application state (the loaded run becomes ``state.dataset``).
    parent : QWidget, optional

    Signals
    -------
    headersRequested(list)
        The RunEntry list whose headers should be read (see :func:`run_infos`).
    runRequested(object)
        The RunEntry the user selected, to be loaded.
    infosLoaded(list)
        Emitted by :meth:`set_infos` once the columns are filled.
    """

    headersRequested = Signal(list)
    runRequested = Signal(object)
    infosLoaded = Signal(list)

    def __init__(self, state: AppState, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.state = state
        self.discovery = None
        #: the :func:`~eegfmri_viewer.io.info.recording_info` of a recording opened from files, else None
        self.recording_info: Optional[dict] = None
        self.infos: list = []
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        header = self.tree.headerItem()
        for col, name in enumerate(COLUMNS):
            header.setToolTip(col, COLUMN_TIPS[name])
        self.tree.setUniformRowHeights(True)
        self.tree.itemSelectionChanged.connect(self._on_selection)
        self.label = QLabel(EMPTY_TEXT)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # The description (files, warnings) can be longer than a low dock is tall: it scrolls
        # in an area as tall as it needs, at most half the tab, instead of being cut.
        self.label_area = QScrollArea(self)
        self.label_area.setWidgetResizable(True)
        self.label_area.setFrameShape(QFrame.Shape.NoFrame)
        self.label_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.label_area.setWidget(self.label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label_area)
        layout.addWidget(self.tree, 1)
        self._fit_label_area()
        self._run_items: list[QTreeWidgetItem] = []

    def _fit_label_area(self) -> None:
        """Give the description the height it needs, up to half the tab (then it scrolls)."""
        width = max(self.label_area.viewport().width(), 50)
        needed = self.label.heightForWidth(width)
        needed = self.label.sizeHint().height() if needed < 0 else needed
        cap = max(self.height() // 2, self.fontMetrics().lineSpacing() * 2 + 4)
        self.label_area.setFixedHeight(min(needed + 2, cap))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit_label_area()

    def _set_label(self, text: str) -> None:
        self.label.setText(text)
        self._fit_label_area()

    def _fit_columns(self) -> None:
        """Columns as wide as their cells and header, at most MAX_COLUMN_WIDTH (cells carry the full text)."""
        header = self.tree.header()
        metrics = header.fontMetrics()
        for col, name in enumerate(COLUMNS):
            self.tree.resizeColumnToContents(col)
            # the header's own text counts too, with room for the sort indicator and padding
            wanted = max(self.tree.columnWidth(col), metrics.horizontalAdvance(name) + 24)
            self.tree.setColumnWidth(col, min(wanted, max(MAX_COLUMN_WIDTH, metrics.horizontalAdvance(name) + 24)))

    # -- filling -----------------------------------------------------------------
    def show_discovery(self, discovery) -> None:
        """List ``discovery``'s runs and skipped runs, then ask for their headers."""
        self.discovery = discovery
        self.recording_info = None
        self.infos = []
        self.tree.setUpdatesEnabled(False)
        try:
            self.tree.clear()
            self._run_items = []
            subjects: dict = {}
            sessions: dict = {}
            top: list[QTreeWidgetItem] = []
            for index, entry in enumerate(discovery.runs):
                subj = subjects.get(entry.subject)
                if subj is None:
                    subj = subjects[entry.subject] = QTreeWidgetItem([f"sub-{entry.subject}"])
                    top.append(subj)
                parent = subj
                if entry.session:
                    key = (entry.subject, entry.session)
                    parent = sessions.get(key)
                    if parent is None:
                        parent = sessions[key] = QTreeWidgetItem(subj, [f"ses-{entry.session}"])
                item = QTreeWidgetItem(parent, [entry.label, "", "", "", _fmt(entry.tr, 3), "", ""])
                item.setData(0, _ENTRY_ROLE, index)
                self._run_items.append(item)
            if discovery.skipped:
                skipped = QTreeWidgetItem([f"Skipped ({len(discovery.skipped)})"])
                for s in discovery.skipped:
                    child = QTreeWidgetItem(skipped, [s.label, "", "", "", "", "", s.reason])
                    child.setToolTip(0, s.reason)
                    child.setToolTip(6, s.reason)
                    child.setFlags(child.flags() & ~Qt.ItemFlag.ItemIsSelectable)
                top.append(skipped)
            self.tree.addTopLevelItems(top)
            self.tree.expandAll()
        finally:
            self.tree.setUpdatesEnabled(True)
        self._set_label(f"{discovery.root}: {len(discovery.runs)} runs, {len(discovery.skipped)} skipped")
        if discovery.runs:
            self.headersRequested.emit(list(discovery.runs))

    def show_recording(self, info: dict) -> None:
        """List one recording opened from files (not a BIDS folder).

        Parameters
        ----------
        info : dict
            Its :func:`~eegfmri_viewer.io.info.recording_info`.
        """
        self.discovery = None
        self.recording_info = info
        self.tree.clear()
        item = QTreeWidgetItem([info.get("label") or "recording"])
        self._run_items = [item]
        self.tree.addTopLevelItem(item)
        self.set_infos([info])
        self._set_label(single_recording_text(info))
        self.label.setToolTip("\n".join(info.get("warnings") or []))

    @Slot(object)
    def set_infos(self, infos: list) -> None:
        """Fill the run columns from :func:`run_infos` output (same order as the runs)."""
        self.infos = list(infos)
        for item, info in zip(self._run_items, infos):
            if isinstance(info, str):
                item.setText(6, f"unreadable: {info}")
                item.setToolTip(6, info)
                continue
            events = ", ".join(f"{k}: {v}" for k, v in sorted(info.get("events_per_class", {}).items()))
            # an fMRI-only run has no EEG: its EEG columns say so rather than count 0 channels
            has_eeg = bool(info.get("n_channels")) or bool(info.get("eeg_path"))
            item.setText(1, _fmt(info.get("n_channels")) if has_eeg else NO_EEG)
            item.setText(2, _fmt(info.get("sfreq"), 0) if has_eeg else NO_EEG)
            item.setText(3, _fmt(info.get("duration_s"), 1) if has_eeg else NO_EEG)
            if not has_eeg:
                for col in (1, 2, 3):
                    item.setToolTip(col, "No EEG: an fMRI-only run")
            item.setText(4, _fmt(info.get("tr"), 3))
            item.setText(5, _fmt(info.get("n_volumes")))
            item.setText(6, events)
            item.setToolTip(6, events.replace(", ", "\n"))
            bads = list(info.get("bad_channels") or [])
            item.setText(7, str(len(bads)) if has_eeg else NO_EEG)
            item.setToolTip(7, ("Marked bad in channels.tsv: " + ", ".join(bads)) if bads else "")
            motion = info.get("motion")
            if motion:
                item.setText(8, f"{motion['mean_fd_mm']:.2f}")
                item.setToolTip(8, f"Framewise displacement: mean {motion['mean_fd_mm']:.2f} mm, largest "
                                   f"{motion['max_fd_mm']:.2f} mm; {motion['n_volumes_above']} of "
                                   f"{motion['n_volumes']} volumes above {motion['threshold_mm']:g} mm")
            else:
                item.setText(8, "")
                item.setToolTip(8, "No motion parameters (fMRIPrep confounds) for this run")
            status = str(info.get("alignment_status") or "")
            item.setText(9, status)
            messages = (info.get("alignment") or {}).get("messages") or []
            item.setToolTip(9, "\n".join([status, *messages]))
        self._fit_columns()
        self.infosLoaded.emit(self.infos)

    # -- loading -----------------------------------------------------------------
    def run_item(self, index: int) -> QTreeWidgetItem:
        """The tree item of ``discovery.runs[index]``."""
        return self._run_items[index]

    def select_run(self, index: int) -> None:
        """Select run ``index`` (loads it, as a click does)."""
        self.tree.setCurrentItem(self._run_items[index])

    @Slot()
    def _on_selection(self) -> None:
        items = self.tree.selectedItems()
        if not items or self.discovery is None:
            return
        index = items[0].data(0, _ENTRY_ROLE)
        if index is None:
            return
        self.load_run(int(index))

    def load_run(self, index: int) -> None:
        """Ask for ``discovery.runs[index]`` to be loaded (emits ``runRequested``)."""
        self.runRequested.emit(self.discovery.runs[index])
