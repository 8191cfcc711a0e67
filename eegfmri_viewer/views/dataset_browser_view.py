"""Dataset browser: the runs of a BIDS folder as subjects ▸ sessions ▸ runs.

The tree is filled in one go from a :class:`~eegfmri_viewer.io.bids.Discovery`;
the per-run columns (channels, sampling rate, duration, TR, volumes, events
per class) come from reading every run's headers in one background worker, so
a large dataset never blocks the window. Selecting a run loads it in a worker
and makes it the application's dataset.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from eegfmri_viewer.state import AppState
from eegfmri_viewer.workers import FunctionWorker, WorkerPool

log = logging.getLogger(__name__)

COLUMNS = ["Run", "Channels", "Sfreq (Hz)", "Duration (s)", "TR (s)", "Volumes", "Events per class"]
# the RunEntry index is kept on run items; skipped items hold their reason instead
_ENTRY_ROLE = Qt.ItemDataRole.UserRole


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
        Selecting a run calls ``state.set_dataset(recording)``.
    parent : QWidget, optional

    Attributes
    ----------
    run_worker : callable
        ``run_worker(worker, status)`` starts a worker; the main window sets
        its own so loading shows progress and errors show as dialogs.
    """

    infosLoaded = Signal(list)
    runLoaded = Signal(object)

    def __init__(self, state: AppState, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.state = state
        self.discovery = None
        self.infos: list = []
        self._pool = WorkerPool(self)
        self.run_worker: Callable[[FunctionWorker, Optional[str]], FunctionWorker] = (
            lambda worker, status=None: self._pool.start(worker))
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setUniformRowHeights(True)
        self.tree.itemSelectionChanged.connect(self._on_selection)
        self.label = QLabel("Open a BIDS folder (File menu) to list its runs.", self)
        self.label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.tree)
        self._run_items: list[QTreeWidgetItem] = []

    # -- filling -----------------------------------------------------------------
    def show_discovery(self, discovery) -> None:
        """List ``discovery``'s runs and skipped runs, then read headers in a worker."""
        self.discovery = discovery
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
        self.label.setText(f"{discovery.root}: {len(discovery.runs)} runs, {len(discovery.skipped)} skipped")
        if discovery.runs:
            worker = FunctionWorker(run_infos, list(discovery.runs), name="read run headers")
            worker.finished.connect(self._fill_infos)
            self.run_worker(worker, "reading run headers")

    @Slot(object)
    def _fill_infos(self, infos: list) -> None:
        self.infos = list(infos)
        for item, info in zip(self._run_items, infos):
            if isinstance(info, str):
                item.setText(6, f"unreadable: {info}")
                item.setToolTip(6, info)
                continue
            events = ", ".join(f"{k}: {v}" for k, v in sorted(info.get("events_per_class", {}).items()))
            item.setText(1, _fmt(info.get("n_channels")))
            item.setText(2, _fmt(info.get("sfreq"), 0))
            item.setText(3, _fmt(info.get("duration_s"), 1))
            item.setText(4, _fmt(info.get("tr"), 3))
            item.setText(5, _fmt(info.get("n_volumes")))
            item.setText(6, events)
        for col in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(col)
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

    def load_run(self, index: int) -> FunctionWorker:
        """Load ``discovery.runs[index]`` in a worker, then ``state.set_dataset``."""
        from eegfmri_viewer.io.bids import load_run

        entry = self.discovery.runs[index]
        worker = FunctionWorker(load_run, entry, correct_artifacts=False, check_data=False,
                                name=f"load {entry.label}")
        worker.finished.connect(self.state.set_dataset)
        worker.finished.connect(self.runLoaded.emit)
        return self.run_worker(worker, f"loading {entry.label}")
