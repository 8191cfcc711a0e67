"""File ▸ Compare… and File ▸ Leave compare mode: before / after in the GUI.

Session A is always the open results bundle. Session B is either another
session of the same bundle (when its ``windows.npz`` records sessions, the
two sessions were analysed with one model, so their CAMs are directly
comparable) or a second results bundle folder. The comparison
(:func:`eegfmri_viewer.comparison.compare.compare_bundles`: differences,
permutation tests, FDR) runs in a worker; its result goes to
``state.set_compare`` and every view shows A, B and B − A. Two bundles that
cannot be compared (other classes, atlas, ROI set or bands) give the
window's input-problem dialog naming the part that differs; the open results
stay as they were. Opening other results leaves compare mode, since A would
no longer be the bundle shown. The state's comparison is a
:class:`LoadedComparison`: it keeps session B's bundle, so that the views can
say how well B's model classifies and in which space B's data lie.

:class:`CompareActions` holds the logic with plain arguments (tests call
:meth:`CompareActions.compare_sessions` and :meth:`CompareActions.compare_with`
directly); only :meth:`CompareActions.ask` opens a dialog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

from PySide6.QtCore import QObject
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from eegfmri_viewer.comparison.compare import CompareResult
from eegfmri_viewer.workers import FunctionWorker

log = logging.getLogger(__name__)

# Permutations per test in the GUI: p down to 1/5001, plenty for FDR over a
# few hundred ROIs, and a comparison takes about a second.
DEFAULT_PERMUTATIONS = 5000
#: The unit choice that lets the comparison pick blocks when both sides record them, else windows.
AUTO_UNIT = "blocks if recorded, else windows"


def bundle_sessions(bundle) -> List[str]:
    """Sessions recorded per window in ``bundle`` (``windows.npz`` key ``session``).

    Returns
    -------
    sessions : list of str
        The labels that name a session, sorted, as the comparison knows them
        (:func:`eegfmri_viewer.comparison.compare.recorded_sessions`: ``""``,
        ``"None"`` and ``"n/a"`` are no session); empty when the bundle
        records none.
    """
    from eegfmri_viewer.comparison.compare import recorded_sessions

    if bundle is None:
        return []
    sessions = bundle.get("windows", "session")
    if sessions is None:
        return []
    return recorded_sessions(sessions)


@dataclass
class LoadedComparison(CompareResult):
    """A comparison together with session B's results bundle.

    ``bundle_b`` is the second bundle, or bundle A itself when two sessions of
    one bundle were compared (one model for both).
    """

    bundle_b: Any = field(default=None, repr=False, compare=False)


def run_comparison(bundle_a, path_b=None, session_a=None, session_b=None,
                   n_permutations: int = DEFAULT_PERMUTATIONS, unit: Optional[str] = None, progress=None,
                   cancel=None):
    """Compare the open bundle with another bundle folder or two of its sessions (worker thread).

    Parameters
    ----------
    bundle_a : ResultsBundle
        Session A (the open results).
    path_b : str or Path, optional
        Results folder of session B; None to compare ``session_a`` with
        ``session_b`` inside ``bundle_a``.
    session_a, session_b : str, optional
    n_permutations : int
    unit : {"windows", "blocks", "subjects"} or None
        What the permutation test exchanges (see ``compare_sessions``); None:
        blocks when both sides record them, else windows.

    Returns
    -------
    result : LoadedComparison
    """
    from eegfmri_viewer.comparison.compare import compare_bundles
    from eegfmri_viewer.progress import report
    from eegfmri_viewer.results import load_bundle

    bundle_b = None
    if path_b is not None:
        report(progress, 0.0, f"loading {Path(path_b).name}")
        bundle_b = load_bundle(path_b)
    result = compare_bundles(bundle_a, bundle_b, session_a, session_b, n_permutations=n_permutations, unit=unit,
                             progress=progress, cancel=cancel)
    return LoadedComparison(arrays=result.arrays, meta=result.meta,
                            bundle_b=bundle_b if bundle_b is not None else bundle_a)


class CompareDialog(QDialog):
    """Choose session B: another session of the open bundle, or another bundle folder.

    Parameters
    ----------
    sessions : list of str
        Sessions of the open bundle (two or more enable the first choice).
    parent : QWidget, optional
    """

    def __init__(self, sessions: List[str], parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setWindowTitle("Compare sessions")
        self.sessions_radio = QRadioButton("Two sessions of the open results")
        self.bundle_radio = QRadioButton("The open results (A) with another results folder (B)")
        group = QButtonGroup(self)
        group.addButton(self.sessions_radio)
        group.addButton(self.bundle_radio)
        self.session_a = QComboBox()
        self.session_b = QComboBox()
        self.session_a.addItems(sessions)
        self.session_b.addItems(sessions)
        if len(sessions) >= 2:
            self.session_b.setCurrentIndex(1)
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("results folder of session B")
        browse = QPushButton("Browse\u2026")
        browse.clicked.connect(self._browse)
        self.permutations = QSpinBox()
        self.permutations.setRange(100, 100000)
        self.permutations.setSingleStep(1000)
        self.permutations.setValue(DEFAULT_PERMUTATIONS)
        self.permutations.setToolTip("Permutations per test (p-values down to 1 / (n + 1))")
        self.unit = QComboBox()
        # The default: windows of one block are correlated, so block means when both sides record blocks.
        self.unit.addItem(AUTO_UNIT, None)
        for name in ("windows", "blocks", "subjects"):
            self.unit.addItem(name, name)
        self.unit.setToolTip("What the test exchanges: blocks when both sides record them, else windows "
                             "(the default); windows; block means (stricter: windows of one "
                             "block are correlated; needs enough blocks); or subjects, paired (the same "
                             "subjects before and after: sign flips of each subject's change; n subjects "
                             "give p-values down to 2 / 2^n)")

        has_sessions = len(sessions) >= 2
        self.sessions_radio.setEnabled(has_sessions)
        if not has_sessions:
            self.sessions_radio.setToolTip("The open results record fewer than two sessions per window")
        (self.sessions_radio if has_sessions else self.bundle_radio).setChecked(True)

        grid = QGridLayout()
        grid.addWidget(self.sessions_radio, 0, 0, 1, 3)
        grid.addWidget(QLabel("A (before)"), 1, 0)
        grid.addWidget(self.session_a, 1, 1, 1, 2)
        grid.addWidget(QLabel("B (after)"), 2, 0)
        grid.addWidget(self.session_b, 2, 1, 1, 2)
        grid.addWidget(self.bundle_radio, 3, 0, 1, 3)
        grid.addWidget(QLabel("B folder"), 4, 0)
        grid.addWidget(self.path_edit, 4, 1)
        grid.addWidget(browse, 4, 2)
        perm_row = QHBoxLayout()
        perm_row.addWidget(QLabel("Permutations"))
        perm_row.addWidget(self.permutations)
        perm_row.addWidget(QLabel("over"))
        perm_row.addWidget(self.unit)
        perm_row.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addLayout(perm_row)
        layout.addWidget(buttons)
        self.sessions_radio.toggled.connect(self._update_enabled)
        self._update_enabled()

    def _update_enabled(self) -> None:
        by_session = self.sessions_radio.isChecked()
        self.session_a.setEnabled(by_session)
        self.session_b.setEnabled(by_session)
        self.path_edit.setEnabled(not by_session)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Results folder of session B")
        if path:
            self.path_edit.setText(path)
            self.bundle_radio.setChecked(True)

    def choice(self) -> dict:
        """``{"sessions": (a, b)}`` or ``{"path": str}``, plus ``"n_permutations"`` and ``"unit"``."""
        out = {"n_permutations": self.permutations.value(), "unit": self.unit.currentData()}
        if self.sessions_radio.isChecked():
            out["sessions"] = (self.session_a.currentText(), self.session_b.currentText())
        else:
            out["path"] = self.path_edit.text().strip()
        return out


class CompareActions(QObject):
    """Compare mode for a :class:`~eegfmri_viewer.app.MainWindow`.

    Adds File ▸ Compare… and File ▸ Leave compare mode.

    Parameters
    ----------
    window : MainWindow
    """

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.compare_action = window.add_file_action(
            "&Compare\u2026", self.ask, tip="Compare two sessions, or the open results with another results folder")
        self.leave_action = window.add_file_action(
            "&Leave compare mode", self.leave, tip="Show the open results alone again")
        self.leave_action.setEnabled(False)
        self.state.compareChanged.connect(lambda c: self.leave_action.setEnabled(c is not None))
        # A is the open bundle: other results end the comparison.
        self.state.resultsChanged.connect(lambda _r: self.leave())

    def _problem(self, path, text: str) -> None:
        from eegfmri_viewer.io.errors import InputError

        self.window.show_exception(InputError(path, text), "", "compare")

    def ask(self) -> Optional[FunctionWorker]:
        """Ask what to compare (dialog), then start the comparison."""
        bundle = self.state.results
        if bundle is None:
            self._problem(None, "Open results first (File \u25b8 Open results\u2026): they are session A.")
            return None
        dialog = CompareDialog(bundle_sessions(bundle), self.window)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        choice = dialog.choice()
        if "sessions" in choice:
            return self.compare_sessions(*choice["sessions"], n_permutations=choice["n_permutations"],
                                         unit=choice["unit"])
        if not choice["path"]:
            self._problem(None, "No results folder chosen for session B.")
            return None
        return self.compare_with(choice["path"], n_permutations=choice["n_permutations"], unit=choice["unit"])

    def compare_sessions(self, session_a: str, session_b: str, n_permutations: int = DEFAULT_PERMUTATIONS,
                         unit: Optional[str] = None) -> Optional[FunctionWorker]:
        """Compare two sessions of the open bundle in a worker."""
        bundle = self.state.results
        if bundle is None:
            self._problem(None, "Open results first (File \u25b8 Open results\u2026): they are session A.")
            return None
        if session_a == session_b:
            self._problem(bundle.path, f"session A and session B are both {session_a!r}; choose two different sessions")
            return None
        return self._start(bundle, None, session_a, session_b, n_permutations, unit,
                           f"comparing ses-{session_a} with ses-{session_b}")

    def compare_with(self, path_b, n_permutations: int = DEFAULT_PERMUTATIONS,
                     unit: Optional[str] = None) -> Optional[FunctionWorker]:
        """Compare the open bundle (A) with the results folder ``path_b`` (B) in a worker."""
        bundle = self.state.results
        if bundle is None:
            self._problem(None, "Open results first (File \u25b8 Open results\u2026): they are session A.")
            return None
        return self._start(bundle, Path(path_b), None, None, n_permutations, unit,
                           f"comparing with {Path(path_b).name}")

    def _start(self, bundle, path_b, session_a, session_b, n_permutations, unit, status) -> FunctionWorker:
        worker = FunctionWorker(run_comparison, bundle, path_b, session_a, session_b,
                                n_permutations=n_permutations, unit=unit, name="compare")

        def finished(result, bundle=bundle) -> None:
            if self.state.results is not bundle:
                log.info("comparison discarded: other results were opened meanwhile")
                return
            self.state.set_compare(result)
            meta = result.meta
            text = f"Compare mode: {meta.get('a', 'A')} \u2192 {meta.get('b', 'B')}"
            log.info("%s (%d permutations over %s)", text, n_permutations, meta.get("unit", unit))
            warnings = meta.get("warnings") or []
            for warning in warnings:
                log.warning("compare: %s", warning)
            for note in (meta.get("unit_note"), meta.get("lagged_r_missing")):
                if note:
                    log.info("compare: %s", note)
            if warnings:
                # the status bar forgets; the Cortex 3-D view keeps them above its map
                text += f" \u2014 {len(warnings)} warning{'s' if len(warnings) > 1 else ''}: see the Cortex 3-D view"
            self.window.statusBar().showMessage(text, 8000)

        worker.finished.connect(finished)
        return self.window.run_worker(worker, status)

    def leave(self) -> None:
        """Leave compare mode (``state.compare`` back to None)."""
        if self.state.compare is not None:
            self.state.set_compare(None)
            self.window.statusBar().showMessage("Left compare mode", 4000)
