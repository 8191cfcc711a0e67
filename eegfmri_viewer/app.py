"""Main window: docks of views around one shared :class:`AppState`.

View modules are imported only after the window is shown (one per event-loop
turn, or when a closed dock is first opened), so the window appears before
heavy libraries such as pyvista load.
"""

from __future__ import annotations

import gc
import importlib
import logging
import logging.handlers
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from PySide6.QtCore import QByteArray, QCoreApplication, QEvent, QObject, QPoint, QSettings, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QGuiApplication, QImage, QKeySequence, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QWidget,
)

from eegfmri_viewer import __version__
from eegfmri_viewer.state import AppState
from eegfmri_viewer.state.bad_channels import BadChannelStore
from eegfmri_viewer.user_folders import APPLICATION, data_dir, log_dir
from eegfmri_viewer.views.error_dialog import error_dialog, short_message
from eegfmri_viewer.workers import FunctionWorker, WorkerFailure, WorkerPool, analysis_worker

if TYPE_CHECKING:
    from eegfmri_viewer.results import ResultsBundle

log = logging.getLogger(__name__)

ORGANIZATION = "eegfmri_viewer"
DESCRIPTION = (
    "Explore simultaneous EEG-fMRI with graph neural networks: class activation maps "
    "on fMRI ROIs and EEG electrodes, graph attention, cross-view fusion and "
    "EEG-fMRI coupling, shown in linked views."
)
LICENSE = "BSD-3-Clause"
# Bump when docks are renamed or removed, so an old saved layout is ignored.
LAYOUT_VERSION = 4

# (dock title, "module:ClassName", dock area). View helpers append their views.
VIEW_DOCKS: list[tuple[str, str, Qt.DockWidgetArea]] = [
    ("Log", "eegfmri_viewer.views.log_view:LogView", Qt.DockWidgetArea.LeftDockWidgetArea),
    ("Cortex 3-D", "eegfmri_viewer.views.cortex_view:CortexView", Qt.DockWidgetArea.LeftDockWidgetArea),
    ("Electrode graph", "eegfmri_viewer.views.electrode_graph_view:ElectrodeGraphView", Qt.DockWidgetArea.RightDockWidgetArea),
    ("Embeddings", "eegfmri_viewer.views.embeddings_view:EmbeddingsView", Qt.DockWidgetArea.RightDockWidgetArea),
    ("Attention & fusion", "eegfmri_viewer.views.attention_view:AttentionView", Qt.DockWidgetArea.BottomDockWidgetArea),
    ("Coupling", "eegfmri_viewer.views.coupling_view:CouplingView", Qt.DockWidgetArea.BottomDockWidgetArea),
    ("Training", "eegfmri_viewer.views.training_view:TrainingView", Qt.DockWidgetArea.LeftDockWidgetArea),
    ("Dataset", "eegfmri_viewer.views.dataset_browser_view:DatasetBrowserView", Qt.DockWidgetArea.LeftDockWidgetArea),
    ("Signals", "eegfmri_viewer.views.signals_view:SignalsView", Qt.DockWidgetArea.LeftDockWidgetArea),
    ("Coupling over time", "eegfmri_viewer.views.coupling_time_view:CouplingTimeView",
     Qt.DockWidgetArea.LeftDockWidgetArea),
    ("Teaching", "eegfmri_viewer.views.teaching_view:TeachingView", Qt.DockWidgetArea.BottomDockWidgetArea),
]
#: Docks that share one tabbed place under the 3-D view (the first is raised), so
#: that the result views keep their room.
TABBED_DOCKS = ("Training", "Dataset", "Signals", "Coupling over time", "Log")
#: Tool tabs that get a larger share of the column they share with the 3-D view when
#: brought up: the settings form, the list of runs, the EEG traces over the BOLD slices,
#: and two plots over one time axis.
ROOMY_TAB_SHARES = {"Training": 0.5, "Dataset": 0.45, "Signals": 0.62, "Coupling over time": 0.62}
#: Of those, the tabs where the work before any results happens: they get their room only
#: while no results are open, and give it back when results arrive.
SETUP_TABS = ("Training", "Dataset")
#: Share of the tool tabs in the column under the 3-D view at first start.
DEFAULT_TAB_SHARE = 0.12 / (0.41 + 0.12)
#: Docks hidden at first start (the View and Help menus bring them back): the Teaching
#: view then takes half of the bottom row, with the 3-D view it draws on in sight.
HIDDEN_AT_START = ("Teaching",)


# --------------------------------------------------------------------------- paths
def config_dir() -> Optional[Path]:
    """Settings folder from ``EEGFMRI_VIEWER_CONFIG_DIR`` (tests), else None (Qt's default)."""
    value = os.environ.get("EEGFMRI_VIEWER_CONFIG_DIR")
    return Path(value) if value else None


def demo_dir(small: bool = False) -> Path:
    """Where the GUI keeps the generated demo dataset (``small``: the small preset's)."""
    # Side by side, never nested: regenerating one dataset replaces its whole folder.
    return data_dir() / ("demo-small" if small else "demo")


def demo_results_dir(small: bool = False, root: Optional[Path] = None) -> Path:
    """Where ``--demo`` keeps the results bundle of a demo dataset: ``<dataset folder>-results`` beside it.

    ``root`` is the dataset folder, :func:`demo_dir` by default.
    """
    root = Path(root) if root is not None else demo_dir(small)
    return root.parent / f"{root.name}-results"


def log_file_path() -> Path:
    """The log file uncaught exceptions are written to."""
    return log_dir() / "eegfmri_viewer.log"


def _ensure_demo(root: Path, small: bool = False, progress=None, cancel=None) -> Path:
    # imported here, in the worker thread: the simulator pulls in MNE and nibabel
    from eegfmri_viewer.demo import ensure_demo_dataset

    return ensure_demo_dataset(root, small=small, progress=progress, cancel=cancel)


def _setting_keys(settings: dict) -> set:
    """Every ``table.key`` of an analysis configuration dictionary."""
    return {f"{table}.{key}" for table, values in settings.items() if isinstance(values, dict) for key in values}


def find_demo_results(results_dir: Path, dataset_root: Path, config) -> Optional["ResultsBundle"]:
    """The results bundle in ``results_dir`` if it was computed from this dataset with ``config``.

    A bundle matches when it loads with valid checksums, was written in the
    current bundle format (an older one lacks arrays the views show), its
    ``dataset.json`` names ``dataset_root`` as its source, its ``manifest.json`` holds the same
    settings, and every input file it lists still has the SHA-256 it was
    analysed with (a regenerated dataset is analysed again).

    Parameters
    ----------
    results_dir : Path
        Bundle folder (need not exist).
    dataset_root : Path
        The demo dataset's BIDS root.
    config : AnalysisConfig
        The settings the results must have been computed with.

    Returns
    -------
    bundle : ResultsBundle or None
        None when there is no bundle or it does not match (the reason is logged).
    """
    from eegfmri_viewer.io.errors import InputError
    from eegfmri_viewer.pipeline.config import AnalysisConfig
    from eegfmri_viewer.results import FORMAT_VERSION, file_sha256, load_bundle

    results_dir = Path(results_dir)
    if not (results_dir / "manifest.json").is_file():
        return None
    try:
        bundle = load_bundle(results_dir)
    except (InputError, OSError, ValueError) as exc:
        log.info("demo results in %s are not usable: %s", results_dir, exc)
        return None
    if int(bundle.manifest.get("format_version", 0)) < FORMAT_VERSION:
        log.info("demo results in %s were written by an older version (bundle format %s): analysing again",
                 results_dir, bundle.manifest.get("format_version"))
        return None
    source = bundle.dataset.get("source")
    if not isinstance(source, str) or Path(source).resolve() != Path(dataset_root).resolve():
        log.info("demo results in %s were computed from %s, not %s", results_dir, source, dataset_root)
        return None
    stored = bundle.manifest.get("config") or {}
    try:
        # Same keys too: a bundle from a version that lacked a setting was
        # computed without it, whatever that setting's default is today.
        same_config = (_setting_keys(stored) == _setting_keys(config.to_dict())
                       and AnalysisConfig.from_dict(stored) == config)
    except (InputError, TypeError, ValueError):
        same_config = False
    if not same_config:
        log.info("demo results in %s were computed with other settings", results_dir)
        return None
    inputs = bundle.manifest.get("input_files") or {}
    for name, digest in inputs.items():
        if not Path(name).is_file() or file_sha256(name) != digest:
            log.info("demo results in %s: input %s changed since the analysis", results_dir, name)
            return None
    return bundle if inputs else None


def _prepare_demo(root: Path, small: bool, results_dir: Path, config, clear_stale: bool,
                  progress=None, cancel=None) -> tuple:
    """Worker body of :meth:`MainWindow.open_demo`: the dataset, and its results if they match.

    With ``clear_stale``, a results bundle in ``results_dir`` that does not
    match is removed so that a new analysis can write there; a folder there
    that is not a results bundle is refused.

    Returns
    -------
    root : Path
        The demo dataset's BIDS root.
    bundle : ResultsBundle or None
        Matching results (see :func:`find_demo_results`).
    """
    import shutil

    from eegfmri_viewer.io.errors import InputError
    from eegfmri_viewer.progress import check_cancel, report, sub_progress

    root = _ensure_demo(root, small=small, progress=sub_progress(progress, 0.0, 0.8), cancel=cancel)
    check_cancel(cancel)
    report(progress, 0.8, "looking for earlier demo results")
    results_dir = Path(results_dir)
    bundle = find_demo_results(results_dir, root, config)
    if bundle is None and clear_stale and results_dir.exists():
        from eegfmri_viewer.atomic_write import replaceable_bundle

        if results_dir.is_dir() and replaceable_bundle(results_dir) is None:
            # an earlier bundle and nothing else: a file the user put there is never deleted with it
            log.info("removing outdated demo results in %s", results_dir)
            shutil.rmtree(results_dir)
        elif results_dir.is_dir() and not any(results_dir.iterdir()):
            results_dir.rmdir()
        else:
            raise InputError(results_dir, "exists and is not a results bundle of the demo (or holds other files "
                                          "too); move it away")
    report(progress, 1.0, "demo dataset ready")
    return root, bundle


def make_settings() -> QSettings:
    """The application's QSettings (an INI file under ``config_dir()`` if set)."""
    folder = config_dir()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        return QSettings(str(folder / "eegfmri_viewer.ini"), QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)


def setup_logging(level: int = logging.INFO) -> Path:
    """Send log records of level ``level`` and above to the log file (once per process).

    Returns
    -------
    path : Path
        The log file.
    """
    from eegfmri_viewer.views.log_view import install_recent_records

    path = log_file_path()
    root = logging.getLogger()
    if root.getEffectiveLevel() > level:
        root.setLevel(level)
    install_recent_records(root)
    for handler in root.handlers:
        if getattr(handler, "_eegfmri_viewer_file", None) == str(path):
            return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError as exc:
        log.warning("cannot write the log file %s: %s", path, exc)
        return path
    handler._eegfmri_viewer_file = str(path)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    root.addHandler(handler)
    return path


# --------------------------------------------------------------------------- screenshots
def unopenable_problem(path: Path) -> str:
    """Why ``path`` cannot be opened on its own, in one sentence that says what to do instead."""
    from eegfmri_viewer.io.eeg import EEG_EXTENSIONS

    name = path.name.lower()
    if path.is_file() and any(name.endswith(ext) for ext in EEG_EXTENSIONS):
        return ("an EEG recording is opened together with its BOLD run: choose both with "
                "File \u25b8 Open EEG + BOLD files\u2026")
    return ("not a BIDS folder, BOLD NIfTI (.nii, .nii.gz) or results folder this application can open "
            "(an EEG file is opened together with its BOLD run: File \u25b8 Open EEG + BOLD files\u2026)")


def grab_from_screen(widget: QWidget) -> QImage:
    """Grab ``widget``'s area from the screen (captures OpenGL/VTK output under X11).

    ``QWidget.grab`` renders widgets through Qt's painter, which leaves native
    OpenGL windows (VTK render windows) black; the X server's copy has them.
    """
    screen = widget.screen() or QGuiApplication.primaryScreen()
    top_left = widget.mapToGlobal(QPoint(0, 0)) - screen.geometry().topLeft()
    return screen.grabWindow(0, top_left.x(), top_left.y(), widget.width(), widget.height()).toImage()


def _log_dataset(dataset) -> None:
    if dataset is not None:
        where = getattr(dataset, "eeg_path", None) or getattr(dataset, "bold_path", None)
        log.info("opened recording %s%s", getattr(dataset, "label", "") or "(no label)", f" ({where})" if where else "")


def _log_results(results) -> None:
    if results is not None:
        log.info("opened results %s (%s)", getattr(results, "path", None) or "(not saved)",
                 getattr(results, "label", "") or "no label")


# --------------------------------------------------------------------------- docks
class ViewDock(QDockWidget):
    """A dock whose view is imported and built on demand.

    Parameters
    ----------
    title : str
    spec : str
        ``"package.module:ClassName"``; the class is built as ``Class(state, parent)``.
    state : AppState
    """

    viewBuilt = Signal(object)

    def __init__(self, title: str, spec: str, state: AppState, parent: Optional[QWidget] = None):
        # a single "&" would be taken as a mnemonic marker in the title bar and the View menu
        super().__init__(title.replace("&", "&&"), parent)
        self.title = title
        self.spec = spec
        self.state = state
        self.view: Optional[QWidget] = None
        self.error: Optional[str] = None
        # False until the main window's first frame is on screen (see MainWindow.showEvent)
        self.build_when_shown = False
        self.setObjectName("dock:" + spec)
        self.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        pending = QLabel(f"Loading {title}...", self)
        pending.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWidget(pending)
        self.visibilityChanged.connect(self._on_visibility)

    @property
    def built(self) -> bool:
        """True once the view (or its error message) replaced the loading label."""
        return self.view is not None or self.error is not None

    def ensure_built(self) -> Optional[QWidget]:
        """Import and build the view if not done yet; returns it (None if it failed)."""
        if self.built:
            return self.view
        module_name, _, class_name = self.spec.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
            view = cls(self.state, self)
        except Exception as exc:  # noqa: BLE001 - a broken view must not stop the app
            self.error = short_message(exc)
            log.exception("the %s view (%s) could not be loaded", self.title, self.spec)
            label = QLabel(f"The {self.title} view could not be loaded:\n{self.error}\nSee the Log for details.")
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.setWidget(label)
            return None
        self.view = view
        self.setWidget(view)
        self.viewBuilt.emit(view)
        return view

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        # A map this view put on the cortex would stay there with nothing left to turn it off.
        overlay = self.state.overlay
        if overlay is not None and overlay.owner == self.title:
            self.state.dismiss_overlay()
        super().closeEvent(event)

    @Slot(bool)
    def _on_visibility(self, visible: bool) -> None:
        if visible and self.build_when_shown and not self.built:
            # after the current event, so the dock shows before a slow import
            QTimer.singleShot(0, self.ensure_built)


# Platforms that never send an expose event (offscreen) still get their views.
FIRST_EXPOSE_FALLBACK_MS = 1000


class _FirstExpose(QObject):
    """Calls ``callback`` (on the next event-loop turn) when ``window`` is first exposed."""

    def __init__(self, window, callback: Callable[[], None]):
        super().__init__(window)
        self._callback = callback
        self._window = window
        self.exposed = False
        window.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.Expose and self._window.isExposed() and not self.exposed:
            self.exposed = True
            self._window.removeEventFilter(self)
            QTimer.singleShot(0, self._callback)
        return False


# --------------------------------------------------------------------------- garbage collection
# How often the GUI thread collects garbage while automatic collection is off.
GC_INTERVAL_MS = 1000


class _GuiThreadGarbageCollector(QObject):
    """Runs Python's cycle collector in the GUI thread only, while a main window lives.

    Automatic collection runs in whichever thread happens to allocate. In a
    worker thread it can destroy Qt objects kept alive only by reference
    cycles (a closed window's menus, dialogs, views), while the GUI thread
    destroys others: the worker then holds a Qt lock and waits for the GIL,
    the GUI thread holds the GIL and waits for that lock, and both hang
    (seen: a training thread collecting inside an import, the GUI thread in
    ``~QAction``). So automatic collection is switched off and a GUI-thread
    timer collects with the interpreter's own thresholds, as pyqtgraph's
    ``GarbageCollector`` does. The last window to close turns it back on.
    """

    _users = 0
    _was_enabled = True

    def __init__(self, parent: QObject):
        super().__init__(parent)
        cls = _GuiThreadGarbageCollector
        if cls._users == 0:
            cls._was_enabled = gc.isenabled()
            gc.disable()
        cls._users += 1
        self._active = True
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect)
        self._timer.start(GC_INTERVAL_MS)

    @Slot()
    def collect(self) -> None:
        """Collect the generations whose allocation counts passed their thresholds."""
        (t0, t1, t2), (c0, c1, c2) = gc.get_threshold(), gc.get_count()
        if c0 > t0:
            gc.collect(2 if c2 > t2 else 1 if c1 > t1 else 0)

    def release(self) -> None:
        """Stop collecting for this window; the last one collects once more and re-enables gc."""
        if not self._active:
            return
        self._active = False
        self._timer.stop()
        cls = _GuiThreadGarbageCollector
        cls._users -= 1
        gc.collect()
        if cls._users == 0 and cls._was_enabled:
            gc.enable()


# --------------------------------------------------------------------------- error routing
class _ExceptionRelay(QObject):
    """Carries exceptions from any thread to the GUI thread."""

    raised = Signal(object, str, str)  # exception, traceback, context


# --------------------------------------------------------------------------- main window
class MainWindow(QMainWindow):
    """The application window.

    Parameters
    ----------
    state : AppState, optional
        Shared state; a new one by default.
    settings : QSettings, optional
        Where layout, geometry and the channels marked bad persist; :func:`make_settings` by default.
    install_hooks : bool
        Route uncaught exceptions (``sys.excepthook``, ``threading.excepthook``)
        to error dialogs while the window lives.

    Attributes
    ----------
    state : AppState
    pool : WorkerPool
        Every background worker; stopped when the window closes.
    bad_channel_store : BadChannelStore
        Keeps the channels marked bad in the Signals view in :attr:`settings`.
    docks : dict[str, ViewDock]
        By title.
    recent : RecentPaths
        File ▸ Open Recent.
    """

    #: Emitted with (exception, traceback) whenever an error dialog is shown.
    errorShown = Signal(object, str)

    def __init__(
        self,
        state: Optional[AppState] = None,
        settings: Optional[QSettings] = None,
        install_hooks: bool = True,
        parent: Optional[QWidget] = None,
    ):
        super().__init__(parent)
        self.state = state if state is not None else AppState(self)
        self.settings = settings if settings is not None else make_settings()
        # before any view connects to the state: a loaded recording brings its dataset's marks first
        self.bad_channel_store = BadChannelStore(self.state, self.settings, self)
        self.pool = WorkerPool(self)
        self._garbage_collector = _GuiThreadGarbageCollector(self)
        self.docks: dict[str, ViewDock] = {}
        self.error_dialogs: list[QMessageBox] = []
        self.openers: list[Callable[[Path], bool]] = []
        self._about_box: Optional[QMessageBox] = None
        self._previous_hooks: Optional[tuple] = None
        self._first_expose: Optional[_FirstExpose] = None
        self._analysis_workers: dict[int, FunctionWorker] = {}
        # (weak reference to the recording last opened from files, its RecordingFiles): what the Training dock
        # analyses while that recording is in view, with the TR as the user gave it
        self._opened_files: Optional[tuple] = None
        # None, or while open_demo works: "pending"; then "reused", "opened", "analysed", "failed", "cancelled"
        self.demo_outcome: Optional[str] = None
        self._demo_worker: Optional[FunctionWorker] = None
        self.log_path = setup_logging()

        self.setWindowTitle(f"EEG-fMRI Viewer {__version__}")
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowNestedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
        )
        self._relay = _ExceptionRelay(self)
        self._relay.raised.connect(self.show_exception)
        self.pool.failed.connect(self._on_worker_failed)

        self.add_opener(self._open_results_bundle)
        self._build_menus()
        self._build_status_bar()
        self._build_docks()
        self.discovery = None  # the last BIDS Discovery opened (see open_bids)
        self.add_opener(self._open_bids_folder)
        self.add_file_action("Open &BIDS folder...", self._ask_bids_folder, tip="List the runs of a BIDS dataset")
        self.add_opener(self._open_bold_file)
        self.add_file_action("Open &EEG + BOLD files...", self._ask_eeg_bold_files,
                             tip="Open an EEG recording together with its BOLD run (and events)")
        self.add_file_action("Open BOLD r&un (fMRI only)...", self._ask_bold_file,
                             tip="Open a BOLD run alone, with its events, as 'analyze --bold --events' analyses it")
        self.add_file_action("Open &results...", self._ask_results_folder, tip="Open a results bundle written by 'eegfmri-viewer analyze'")
        from eegfmri_viewer.app_recent import RecentPaths

        self.recent = RecentPaths(self)
        from eegfmri_viewer.app_compare import CompareActions
        from eegfmri_viewer.app_export import ExportActions

        self.compare_actions = CompareActions(self)
        self.export_actions = ExportActions(self)
        self._default_layout = self.saveState(LAYOUT_VERSION)
        self.restore_layout()
        if install_hooks:
            self.install_exception_hooks()
        self.state.runStatusChanged.connect(self._status_label_text)
        self.state.resultsChanged.connect(self._results_take_room)
        # what is open, in the Log and the log file: a record of what the views showed
        self.state.datasetChanged.connect(_log_dataset)
        self.state.resultsChanged.connect(_log_results)
        log.info("%s %s started; log file %s", APPLICATION, __version__, self.log_path)

    # -- construction ------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        self._file_menu = bar.addMenu("&File")
        self._file_separator = self._file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        quit_action.triggered.connect(self.close)
        self._file_menu.addAction(quit_action)
        self.quit_action = quit_action

        self._view_menu = bar.addMenu("&View")
        self._view_docks_anchor = self._view_menu.addSeparator()
        reset = QAction("&Reset Layout", self)
        reset.triggered.connect(self.reset_layout)
        self._view_menu.addAction(reset)
        self.reset_layout_action = reset

        help_menu = bar.addMenu("&Help")
        demo = QAction("Open &Demo Dataset", self)
        demo.setStatusTip("Simulated EEG-fMRI with a known ground truth (generated on first use)")
        demo.triggered.connect(lambda checked=False: self.open_demo())
        help_menu.addAction(demo)
        self.demo_action = demo
        demo_analysis = QAction("&Analyse Demo Dataset", self)
        demo_analysis.setStatusTip("Open the demo dataset with its results, training the models first if "
                                   "they have not been trained yet (a few minutes; progress in the Training dock)")
        demo_analysis.triggered.connect(lambda checked=False: self.open_demo(analyse=True))
        help_menu.addAction(demo_analysis)
        self.demo_analysis_action = demo_analysis
        teaching = QAction("&Teaching View", self)
        teaching.setStatusTip("Laplacian eigenmodes of the graphs and the trained Chebyshev filters, "
                              "for teaching the method")
        teaching.triggered.connect(lambda checked=False: self.show_dock("Teaching"))
        help_menu.addAction(teaching)
        self.teaching_action = teaching
        about = QAction(f"&About {APPLICATION}", self)
        about.setMenuRole(QAction.MenuRole.AboutRole)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)
        self._help_menu = help_menu

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self._run_label = QLabel("idle", self)
        self._progress = QProgressBar(self)
        self._progress.setRange(0, 1000)
        self._progress.setMaximumWidth(220)
        self._progress.setVisible(False)
        self._cancel_button = QPushButton("Cancel", self)
        self._cancel_button.setVisible(False)
        self._cancel_button.clicked.connect(self.cancel_workers)
        status.addPermanentWidget(self._run_label)
        status.addPermanentWidget(self._progress)
        status.addPermanentWidget(self._cancel_button)
        status.showMessage("Ready", 3000)

    def _build_docks(self) -> None:
        for title, spec, area in VIEW_DOCKS:
            dock = ViewDock(title, spec, self.state, self)
            dock.viewBuilt.connect(self._connect_view_requests)
            self.addDockWidget(area, dock)
            action = dock.toggleViewAction()
            self._view_menu.insertAction(self._view_docks_anchor, action)
            self.docks[title] = dock
        tabbed = [self.docks[t] for t in TABBED_DOCKS if t in self.docks]
        for dock in tabbed[1:]:
            self.tabifyDockWidget(tabbed[0], dock)
        for title in ROOMY_TAB_SHARES:
            if title in self.docks:
                self.docks[title].visibilityChanged.connect(
                    lambda visible, d=self.docks[title]: self._room_for_tab(d) if visible else None)
        if tabbed:
            tabbed[0].raise_()
        # Not a second tab group: Qt 6.11 leaves a stray tab bar drawn over the
        # docks when two groups are tabified before the window is laid out.
        for title in HIDDEN_AT_START:
            if title in self.docks:
                dock = self.docks[title]
                dock.hide()
                # The View menu's entry shows it too: give it room then as well.
                dock.toggleViewAction().triggered.connect(
                    lambda checked, d=dock: self._give_room(d) if checked else None)

    # -- menus for other parts ----------------------------------------------------
    @property
    def file_menu(self) -> QMenu:
        """The File menu (Quit stays last)."""
        return self._file_menu

    @property
    def view_menu(self) -> QMenu:
        """The View menu (one entry per dock, then Reset Layout)."""
        return self._view_menu

    @property
    def help_menu(self) -> QMenu:
        """The Help menu."""
        return self._help_menu

    def add_file_action(
        self, text: str, slot: Callable[[], object], shortcut: Optional[QKeySequence | str] = None, tip: str = ""
    ) -> QAction:
        """Add an entry to the File menu above Quit; returns the QAction."""
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda checked=False: slot())
        self._file_menu.insertAction(self._file_separator, action)
        return action

    def add_file_menu(self, menu: QMenu) -> QAction:
        """Add a submenu to the File menu above Quit; returns its QAction."""
        return self._file_menu.insertMenu(self._file_separator, menu)

    def add_opener(self, opener: Callable[[Path], bool]) -> None:
        """Register ``opener(path) -> bool`` for :meth:`open_path` (True: handled)."""
        self.openers.append(opener)

    def open_path(self, path: str | Path) -> bool:
        """Open ``path`` with the first registered opener that accepts it.

        Shows a dialog (InputError style) when the path does not exist or no
        opener accepts it; returns whether it was handled.
        """
        path = Path(path)
        if not path.exists():
            self._show_input_problem(path, "no such file or folder")
            return False
        for opener in self.openers:
            if opener(path):
                return True
        self._show_input_problem(path, unopenable_problem(path))
        return False

    def open_demo(self, root: Optional[Path] = None, small: bool = False, analyse: bool = False,
                  config=None, results_dir: Optional[Path] = None) -> FunctionWorker:
        """Generate the demo dataset (first time only) in a worker, open it and its results.

        Results computed earlier from this dataset with the same settings
        (:func:`find_demo_results`) are opened with it. Without them and with
        ``analyse``, the analysis runs as if started from the Training dock
        (its progress and live curves show there) and its results open when
        it ends. :attr:`demo_outcome` says how it went.

        Parameters
        ----------
        root : Path, optional
            Dataset folder; :func:`demo_dir` by default.
        small : bool
            The small preset (2 subjects, 1 session, 2 minutes).
        analyse : bool
            Run the analysis when no matching results exist.
        config : AnalysisConfig, optional
            Settings of the analysis; the defaults when None.
        results_dir : Path, optional
            Results bundle folder; :func:`demo_results_dir` by default.

        Returns
        -------
        worker : FunctionWorker
            The worker preparing the dataset (the analysis, if any, follows it).
        """
        from eegfmri_viewer.pipeline.config import AnalysisConfig

        if self.demo_pending() and self._demo_worker is not None:
            # a second request while the first runs would analyse into the same folder
            self.statusBar().showMessage("The demo is already being prepared.", 5000)
            return self._demo_worker
        root = Path(root) if root is not None else demo_dir(small)
        results_dir = Path(results_dir) if results_dir is not None else demo_results_dir(small, root)
        config = config if config is not None else AnalysisConfig()
        self.demo_outcome = "pending"
        worker = FunctionWorker(_prepare_demo, root, small, results_dir, config, analyse, name="demo dataset")
        self._demo_worker = worker
        worker.finished.connect(lambda result: self._on_demo_prepared(result, results_dir, config, analyse))
        worker.failed.connect(lambda _failure: self._demo_finished("failed"))
        worker.cancelled.connect(lambda: self._demo_finished("cancelled"))
        return self.run_worker(worker, "preparing the demo dataset")

    def _on_demo_prepared(self, result: tuple, results_dir: Path, config, analyse: bool) -> None:
        root, bundle = result
        self.open_path(root)
        if bundle is not None:
            log.info("demo: opening the results computed earlier in %s", results_dir)
            self.state.set_results(bundle)
            self._demo_finished("reused")
            return
        view = self.docks["Training"].ensure_built() if "Training" in self.docks else None
        if not analyse or view is None or not hasattr(view, "on_epoch"):
            if analyse:
                log.error("demo: the Training dock is not available, so the demo cannot be analysed")
            self._demo_finished("opened")
            return
        if id(view) in self._analysis_workers:
            # one run per Training dock: its curves and Cancel button belong to the run it started
            log.warning("demo: a training run is in progress; the demo is opened without results")
            self.statusBar().showMessage("A training run is in progress; analyse the demo when it ends.", 8000)
            self._demo_finished("opened")
            return
        log.info("demo: no results for these settings yet; analysing %s into %s", root, results_dir)
        for widget, text in ((getattr(view, "source_edit", None), str(root)),
                             (getattr(view, "out_edit", None), str(results_dir))):
            if widget is not None:
                widget.setText(text)
        if callable(getattr(view, "set_config", None)):
            view.set_config(config.to_dict())
        if hasattr(view, "start_button") and hasattr(view, "cancel_button"):
            # the dock shows the run as if its Start had been pressed: Cancel stops it
            view.start_button.setEnabled(False)
            view.cancel_button.setEnabled(True)
        self.docks["Training"].show()
        self.docks["Training"].raise_()
        worker = self.start_analysis(view, str(root), str(results_dir), config.to_dict())
        worker.done.connect(lambda w=worker: self._demo_finished(
            {"finished": "analysed", "cancelled": "cancelled"}.get(w.outcome, "failed")))

    def _demo_finished(self, outcome: str) -> None:
        self.demo_outcome = outcome
        log.info("demo: %s", outcome)

    def demo_pending(self) -> bool:
        """True while :meth:`open_demo` prepares the dataset or its analysis runs."""
        return self.demo_outcome == "pending"

    def _open_results_bundle(self, path: Path) -> bool:
        """Opener for a results folder (it holds ``manifest.json``): loaded in a worker."""
        if not (path.is_dir() and (path / "manifest.json").is_file()):
            return False
        from eegfmri_viewer.results import load_bundle

        worker = FunctionWorker(load_bundle, path, name="load results", progress_kwarg=None, cancel_kwarg=None)
        worker.finished.connect(self.state.set_results)
        worker.finished.connect(lambda bundle: self.statusBar().showMessage(f"Opened results {path}", 5000))
        worker.finished.connect(lambda _bundle: self.recent.add(path))
        self.run_worker(worker, f"opening {path.name}")
        return True

    def _open_bids_folder(self, path: Path) -> bool:
        """Opener for a BIDS root (it holds dataset_description.json or sub-* folders)."""
        if not path.is_dir() or not ((path / "dataset_description.json").is_file() or any(path.glob("sub-*"))):
            return False
        self.open_bids(path)
        return True

    def open_bids(self, path: str | Path) -> FunctionWorker:
        """Discover the runs of the BIDS folder ``path`` in a worker, list them, load the first."""
        from eegfmri_viewer.io.bids import discover

        worker = FunctionWorker(discover, Path(path), name="discover BIDS", progress_kwarg=None, cancel_kwarg=None)
        worker.finished.connect(self._show_discovery)
        worker.finished.connect(lambda _discovery: self.recent.add(path))
        return self.run_worker(worker, f"reading {Path(path).name}")

    def _show_discovery(self, discovery) -> None:
        self.discovery = discovery
        dock = self.docks.get("Dataset")
        browser = dock.ensure_built() if dock is not None else None
        if browser is None:
            return
        if not getattr(browser, "_window_connected", False):
            browser.headersRequested.connect(lambda runs, b=browser: self._read_run_headers(b, runs))
            browser.runRequested.connect(self._load_bids_run)
            browser._window_connected = True
        dock.show()
        dock.raise_()
        browser.show_discovery(discovery)
        if discovery.runs:
            browser.select_run(0)

    def _read_run_headers(self, browser: QWidget, runs: list) -> FunctionWorker:
        from eegfmri_viewer.views.dataset_browser_view import run_infos

        worker = FunctionWorker(run_infos, runs, name="read run headers")
        worker.finished.connect(browser.set_infos)
        return self.run_worker(worker, "reading run headers")

    def _load_bids_run(self, entry) -> FunctionWorker:
        from eegfmri_viewer.io.bids import load_run

        worker = FunctionWorker(load_run, entry, correct_artifacts=False, check_data=False, name=f"load {entry.label}")
        worker.finished.connect(self.state.set_dataset)
        return self.run_worker(worker, f"loading {entry.label}")

    def open_eeg_bold(self, eeg_path, bold_path, events_path=None, tr: Optional[float] = None) -> FunctionWorker:
        """Open one EEG file and its BOLD run in a worker, then make it the dataset.

        ``eeg_path`` None opens the BOLD run alone (fMRI only, as ``analyze --bold
        --events``). The Dataset tab then lists this recording (see
        :meth:`DatasetBrowserView.show_recording`).
        """
        from eegfmri_viewer.io.single import open_files

        name = "open EEG + BOLD" if eeg_path is not None else "open BOLD run"
        shown = Path(eeg_path if eeg_path is not None else bold_path).name if bold_path is not None else "files"
        worker = FunctionWorker(open_files, eeg_path, bold_path, events_path, tr, name=name)
        worker.finished.connect(self._show_single_recording)
        # before the dataset changes, so that the Training dock knows the files (and the TR given) as it follows
        worker.finished.connect(lambda recording, tr=tr: self._remember_files(recording, tr))
        worker.finished.connect(self.state.set_dataset)
        return self.run_worker(worker, f"opening {shown}")

    def _remember_files(self, recording, tr: Optional[float]) -> None:
        """Keep the files ``recording`` was opened from, and tell the built views that analyse them."""
        import weakref

        from eegfmri_viewer.io.errors import InputError
        from eegfmri_viewer.io.single import RecordingFiles

        try:
            files = RecordingFiles.from_recording(recording, tr=tr)
        except InputError:
            self._opened_files = None
            return
        self._opened_files = (weakref.ref(recording), files)
        for dock in self.docks.values():
            if dock.view is not None and hasattr(dock.view, "set_recording_files"):
                dock.view.set_recording_files(recording, files)

    def open_bold(self, bold_path, events_path=None, tr: Optional[float] = None) -> FunctionWorker:
        """Open a BOLD run alone (fMRI only) with its events; see :meth:`open_eeg_bold`."""
        return self.open_eeg_bold(None, bold_path, events_path, tr)

    def _open_bold_file(self, path: Path) -> bool:
        """Opener for a BOLD NIfTI file: the run alone, with its BIDS-named ``_events.tsv`` if present."""
        if not (path.is_file() and path.name.lower().endswith((".nii", ".nii.gz"))):
            return False
        self.open_bold(path)
        return True

    def _show_single_recording(self, recording) -> None:
        """List a recording opened from files in the Dataset tab (its TR, volumes, space, events, warnings)."""
        from eegfmri_viewer.io.info import recording_info

        self.discovery = None
        dock = self.docks.get("Dataset")
        browser = dock.ensure_built() if dock is not None else None
        if browser is None or not hasattr(browser, "show_recording"):
            return
        browser.show_recording(recording_info(recording))
        dock.show()
        dock.raise_()

    def _ask_bids_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open BIDS folder")
        if path:
            self.open_bids(path)

    def _ask_results_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open results bundle")
        if path:
            self.open_path(path)

    def _ask_eeg_bold_files(self) -> None:
        # an EEG recording is read together with the BOLD run recorded with it: both are asked for
        eeg, _ = QFileDialog.getOpenFileName(self, "EEG file (then its BOLD run)", "",
                                             "EEG (*.vhdr *.edf *.bdf *.set *.fif *.fif.gz);;All files (*)")
        if not eeg:
            return
        bold, _ = QFileDialog.getOpenFileName(self, f"BOLD run recorded with {Path(eeg).name}", "",
                                              "NIfTI (*.nii *.nii.gz);;All files (*)")
        if not bold:
            self.statusBar().showMessage("Not opened: an EEG recording is opened together with its BOLD run.", 8000)
            return
        events, _ = QFileDialog.getOpenFileName(self, "Events file (optional; Cancel for none)", "", "TSV (*.tsv);;All files (*)")
        self.open_eeg_bold(eeg, bold, events or None)

    def _ask_bold_file(self) -> None:
        bold, _ = QFileDialog.getOpenFileName(self, "BOLD run (fMRI only)", "", "NIfTI (*.nii *.nii.gz);;All files (*)")
        if not bold:
            return
        events, _ = QFileDialog.getOpenFileName(
            self, "Events file (optional; Cancel for the BIDS-named _events.tsv next to the BOLD, if any)", "",
            "TSV (*.tsv);;All files (*)")
        self.open_bold(bold, events or None)

    def _show_input_problem(self, path: Path, problem: str) -> None:
        from eegfmri_viewer.io.errors import InputError

        exc = InputError(path, problem)
        log.warning("%s", exc)
        self.show_exception(exc, "", "open")

    # -- docks and layout --------------------------------------------------------
    def build_pending_views(self) -> None:
        """Build the views of visible docks that are not built yet, one per event-loop turn."""
        for dock in self.docks.values():
            dock.build_when_shown = True
        pending = [d for d in self.docks.values() if not d.built and d.isVisible()]
        if pending:
            pending[0].ensure_built()
            if len(pending) > 1:
                QTimer.singleShot(0, self.build_pending_views)
                return
        if getattr(self, "_default_sizes_pending", False):
            # first start: size the docks once their views hold their real size hints
            self._default_sizes_pending = False
            QTimer.singleShot(0, self.set_default_dock_sizes)

    def views_settled(self) -> bool:
        """True when every visible dock holds its built view (or its error)."""
        return all(d.built for d in self.docks.values() if d.isVisible())

    def restore_layout(self) -> bool:
        """Restore geometry and dock layout from the settings; True if a layout was found."""
        geometry = self.settings.value("window/geometry")
        layout = self.settings.value("window/state")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        if isinstance(layout, QByteArray) and not layout.isEmpty() and self.restoreState(layout, LAYOUT_VERSION):
            return True
        self._default_sizes_pending = True
        return False

    def set_default_dock_sizes(self) -> None:
        """Give the result views their room: a large 3-D view, low tool tabs, tall bottom plots."""
        docks, h = self.docks, self.height()
        bottom = [docks[t] for t in ("Attention & fusion", "Coupling") if t in docks and docks[t].isVisible()]
        if bottom:
            self.resizeDocks(bottom, [int(0.37 * h)] * len(bottom), Qt.Orientation.Vertical)
        tabbed = next((docks[t] for t in TABBED_DOCKS if t in docks and docks[t].isVisible()), None)
        if "Cortex 3-D" in docks and tabbed is not None:
            self.resizeDocks([docks["Cortex 3-D"], tabbed], [int(0.41 * h), int(0.12 * h)], Qt.Orientation.Vertical)
        right = [docks[t] for t in ("Electrode graph", "Embeddings") if t in docks and docks[t].isVisible()]
        if len(right) == 2:
            self.resizeDocks(right, [int(0.28 * h)] * 2, Qt.Orientation.Vertical)

    def save_layout(self) -> None:
        """Write geometry and dock layout to the settings."""
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.settings.sync()

    @Slot()
    def reset_layout(self) -> None:
        """Put every dock back where it was at first start, visible (but those of :data:`HIDDEN_AT_START`)."""
        self.restoreState(self._default_layout, LAYOUT_VERSION)
        for title, dock in self.docks.items():
            dock.setFloating(False)
            dock.setVisible(title not in HIDDEN_AT_START)
        tabbed = next((self.docks[t] for t in TABBED_DOCKS if t in self.docks), None)
        if tabbed is not None:
            tabbed.raise_()
        self.set_default_dock_sizes()

    def show_dock(self, title: str) -> None:
        """Show the dock ``title`` and raise it; a dock that was hidden gets room in its row."""
        dock = self.docks[title]
        was_hidden = not dock.isVisible()
        dock.show()
        dock.raise_()
        if was_hidden:
            self._give_room(dock)

    def _room_for_tab(self, dock: QDockWidget) -> None:
        # The shared tool tabs sit in a short row under the 3-D view; a tab that needs
        # height (EEG traces and BOLD slices) gets a larger share when it is brought up.
        if not self.isVisible() or dock.isFloating():
            return
        if dock.title in SETUP_TABS and self.state.results is not None:
            return
        above = self.docks.get("Cortex 3-D")
        if above is None or not above.isVisible() or above.isFloating():
            return
        # The tab and the 3-D view above it share their column: what the tab gains, the
        # 3-D view gives.
        total = above.height() + dock.height()
        target = int(ROOMY_TAB_SHARES[dock.title] * total)
        if dock.height() < target:
            QTimer.singleShot(0, lambda: self.resizeDocks([above, dock], [total - target, target],
                                                          Qt.Orientation.Vertical))

    def _results_take_room(self, results) -> None:
        # results arrived: a setup tab that was given room hands it back to the result views
        if results is None or not self.isVisible():
            return
        above = self.docks.get("Cortex 3-D")
        tab = next((self.docks[t] for t in SETUP_TABS if t in self.docks and not self.docks[t].isFloating()
                    and not self.docks[t].visibleRegion().isEmpty()), None)
        if above is None or tab is None or not above.isVisible() or above.isFloating():
            return
        total = above.height() + tab.height()
        target = int(DEFAULT_TAB_SHARE * total)
        if tab.height() > target + 4:
            QTimer.singleShot(0, lambda: self.resizeDocks([above, tab], [total - target, target],
                                                          Qt.Orientation.Vertical))

    def _give_room(self, dock: QDockWidget) -> None:
        # Qt brings a dock hidden since start back at a sliver of its row: it gets half
        # the bottom row, the others share the rest.
        area = self.dockWidgetArea(dock)
        if dock.isFloating() or area != Qt.DockWidgetArea.BottomDockWidgetArea:
            return
        others = [d for d in self.docks.values() if d is not dock and d.isVisible()
                  and not d.isFloating() and self.dockWidgetArea(d) == area]
        if others:
            half = self.width() // 2
            self.resizeDocks([dock, *others], [half] + [half // len(others)] * len(others),
                             Qt.Orientation.Horizontal)

    # -- background work ----------------------------------------------------------
    @Slot(object)
    def _connect_view_requests(self, view: QWidget) -> None:
        # views import no other view: one that links to another asks the window to bring it up
        if hasattr(view, "view_requested"):
            view.view_requested.connect(lambda title: self.show_dock(title) if title in self.docks else None)
        # views own no workers: a view that asks for an analysis run gets it here
        if hasattr(view, "start_requested") and hasattr(view, "cancel_requested"):
            if hasattr(view, "set_fallback_source"):
                # the dataset the view knows of wins; else the demo that File > Open demo writes
                view.set_fallback_source(str(demo_dir()))
            if hasattr(view, "set_recording_files") and self._opened_files is not None:
                recording = self._opened_files[0]()
                if recording is not None:
                    view.set_recording_files(recording, self._opened_files[1])
            view.start_requested.connect(lambda source, out_dir, config, v=view: self._start_requested(v, source, out_dir,
                                                                                                      config))
            view.cancel_requested.connect(lambda v=view: self._cancel_analysis(v))

    def _start_requested(self, view: QWidget, source, out_dir: str, config: dict) -> Optional[FunctionWorker]:
        """A Start of the Training view: refuse an output folder that may not be written before training.

        ``source`` is a BIDS root, or the open recording's ``RecordingFiles``
        (whose folders the output may not lie in).
        """
        from eegfmri_viewer.io.errors import InputError
        from eegfmri_viewer.io.single import RecordingFiles
        from eegfmri_viewer.results import check_bundle_destination

        replace = getattr(view, "replace_check", None)
        force = bool(replace is not None and replace.isChecked())
        inputs = source.paths() if isinstance(source, RecordingFiles) else [source]
        try:
            check_bundle_destination(out_dir, force=force, inputs=inputs,
                                     force_name="\u201cReplace earlier results\u201d",
                                     out_name="\u201cOutput folder\u201d")
        except InputError as exc:
            view.on_failed(f"Not started: {exc}")
            return None
        return self.start_analysis(view, source, out_dir, config, force=force)

    def start_analysis(self, view: QWidget, source, out_dir: str, config: dict,
                       force: bool = False) -> FunctionWorker:
        """Run ``analyze`` for ``view`` (a Training view), then load its bundle into the state.

        ``source`` is a BIDS root (str) or a recording's ``RecordingFiles``
        (analysed as ``analyze --bold`` does).

        The pipeline runs in a child process (see :func:`eegfmri_viewer.workers.analysis_worker`):
        training holds the GIL for long stretches, and in a thread of this
        process it would freeze the window.
        """
        worker = analysis_worker(source, out_dir, config, name="training", force=force)
        worker.progress.connect(view.on_progress)
        worker.event.connect(view.on_epoch)
        worker.finished.connect(lambda result: (self.state.set_results(result[1]), view.on_finished(result[0])))
        worker.failed.connect(lambda failure: view.on_failed(f"Failed: {short_message(failure.exception)}"))
        worker.cancelled.connect(lambda: view.on_failed("Cancelled."))
        worker.done.connect(lambda v=view: self._analysis_workers.pop(id(v), None))
        self._analysis_workers[id(view)] = worker
        return self.run_worker(worker, "training")

    def _cancel_analysis(self, view: QWidget) -> None:
        worker = self._analysis_workers.get(id(view))
        if worker is not None:
            worker.cancel()

    def run_worker(self, worker: FunctionWorker, status: Optional[str] = None) -> FunctionWorker:
        """Start ``worker`` in :attr:`pool`, with progress and Cancel in the status bar.

        The state's run status follows it: ``"running: <status>"``, then
        ``"idle"``, ``"failed: ..."`` or ``"cancelled"``.
        """
        label = status or worker.name
        worker.started.connect(lambda: self.state.set_run_status(f"running: {label}"))
        worker.progress.connect(self._on_worker_progress)
        worker.finished.connect(lambda _result: self.state.set_run_status("idle"))
        worker.failed.connect(lambda failure: self.state.set_run_status(f"failed: {short_message(failure.exception)}"))
        worker.cancelled.connect(lambda: self.state.set_run_status("cancelled"))
        self.pool.start(worker)
        # after the pool's own slot, so that a finished worker is no longer counted as busy
        worker.done.connect(self._update_busy)
        self._update_busy()
        return worker

    @Slot()
    def cancel_workers(self) -> None:
        """Ask every running worker to stop."""
        for worker in self.pool.running():
            worker.cancel()
        self.statusBar().showMessage("Cancelling...", 3000)

    @Slot(float, str)
    def _on_worker_progress(self, fraction: float, message: str) -> None:
        self._progress.setValue(int(round(fraction * 1000)))
        self._progress.setFormat(f"{message} %p%" if message else "%p%")

    @Slot()
    def _update_busy(self) -> None:
        busy = bool(self.pool.running())
        self._progress.setVisible(busy)
        self._cancel_button.setVisible(busy)
        if not busy:
            self._progress.reset()

    @Slot(str)
    def _status_label_text(self, status: str) -> None:
        self._run_label.setText(status)

    # -- errors ------------------------------------------------------------------
    def install_exception_hooks(self) -> None:
        """Show uncaught exceptions of any thread in a dialog instead of dying."""
        if self._previous_hooks is None:
            self._previous_hooks = (sys.excepthook, threading.excepthook)
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook

    def uninstall_exception_hooks(self) -> None:
        """Give back the hooks that were there before :meth:`install_exception_hooks`."""
        if self._previous_hooks is not None:
            sys.excepthook, threading.excepthook = self._previous_hooks
            self._previous_hooks = None

    def _excepthook(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("uncaught exception:\n%s", text)
        self._relay.raised.emit(exc, text, "")

    def _thread_excepthook(self, args) -> None:
        if args.exc_type is SystemExit:
            return
        text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        name = args.thread.name if args.thread is not None else "thread"
        log.error("uncaught exception in %s:\n%s", name, text)
        self._relay.raised.emit(args.exc_value, text, name)

    @Slot(object)
    def _on_worker_failed(self, failure: WorkerFailure) -> None:
        self.show_exception(failure.exception, failure.traceback, failure.worker_name)

    @Slot(object, str, str)
    def show_exception(self, exc: BaseException, traceback_text: str = "", context: str = "") -> Optional[QMessageBox]:
        """Show the error dialog for ``exc`` (non-modal); an identical open one is reused."""
        if QThread.currentThread() is not self.thread():
            self._relay.raised.emit(exc, traceback_text, context)
            return None
        box = error_dialog(exc, traceback_text, self, context, str(self.log_path))
        for other in self.error_dialogs:
            # a paint handler that raises on every repaint must not stack dialogs
            if other.text() == box.text() and other.windowTitle() == box.windowTitle():
                box.deleteLater()
                return other
        self.error_dialogs.append(box)
        box.finished.connect(lambda _r, b=box: self.error_dialogs.remove(b) if b in self.error_dialogs else None)
        box.open()
        self.errorShown.emit(exc, traceback_text)
        return box

    # -- help --------------------------------------------------------------------
    @Slot()
    def show_about(self) -> QMessageBox:
        """Show Help > About (non-modal)."""
        from PySide6 import __version__ as pyside_version

        if self._about_box is None:
            box = QMessageBox(self)
            box.setWindowTitle(f"About {APPLICATION}")
            box.setIcon(QMessageBox.Icon.Information)
            box.setTextFormat(Qt.TextFormat.RichText)
            box.setText(
                f"<b>EEG-fMRI Viewer</b> ({APPLICATION}) version {__version__}<br><br>{DESCRIPTION}<br><br>"
                f"Licence: {LICENSE}<br>Python {sys.version.split()[0]}, PySide6 {pyside_version}<br>"
                f"Log file: {self.log_path}"
            )
            self._about_box = box
        self._about_box.open()
        return self._about_box

    # -- Qt events ------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self._first_expose is None and self.windowHandle() is not None:
            # Views are built once the first frame is on screen: the window then
            # paints before slow view imports, and the user sees it at once.
            self._first_expose = _FirstExpose(self.windowHandle(), self.build_pending_views)
            QTimer.singleShot(FIRST_EXPOSE_FALLBACK_MS, self.build_pending_views)
        else:
            QTimer.singleShot(0, self.build_pending_views)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.pool.running():
            self.statusBar().showMessage("Stopping background work...")
            QCoreApplication.processEvents()
            if not self.pool.stop_all(timeout_s=5.0):
                log.warning("some background work did not stop; it ends with the application")
        self.save_layout()
        self.uninstall_exception_hooks()
        # A closed window's 3-D views must not paint again: a finalised VTK
        # render window that gets a paint event draws black or crashes.
        for dock in self.docks.values():
            view = dock.view
            if view is not None and callable(getattr(view, "close_plotter", None)):
                view.close_plotter()
        self._garbage_collector.release()
        super().closeEvent(event)

    # -- screenshots ------------------------------------------------------------------
    def grab_image(self) -> QImage:
        """The window as an image, with GL views composited in.

        A view overrides how it is captured with ``grab_image() -> QImage``, or
        sets ``grab_from_screen = True`` to be copied from the screen
        (:func:`grab_from_screen`; needed for VTK render windows).
        """
        image = self.grab().toImage()
        painter = QPainter(image)
        try:
            scale = image.devicePixelRatio()
            for dock in self.docks.values():
                view = dock.view
                if view is None or not view.isVisible():
                    continue
                if callable(getattr(view, "grab_image", None)):
                    part = view.grab_image()
                elif getattr(view, "grab_from_screen", False):
                    part = grab_from_screen(view)
                else:
                    continue
                if part is None or part.isNull():
                    continue
                origin = view.mapTo(self, QPoint(0, 0))
                target = part.scaled(int(view.width() * scale), int(view.height() * scale))
                target.setDevicePixelRatio(scale)
                painter.drawImage(origin, target)
        finally:
            painter.end()
        return image


def save_screenshot_when_settled(
    window: MainWindow,
    path: str | Path,
    on_done: Callable[[bool], None],
    timeout_s: float = 120.0,
    poll_ms: int = 100,
    render_delay_ms: int = 400,
) -> None:
    """Save ``window`` as a PNG once its views are built, no worker runs and the demo is ready.

    "Settled" must hold on two consecutive polls (a finished worker often
    triggers more view updates); then the event loop gets ``render_delay_ms``
    for GL views to draw. After ``timeout_s`` the window is saved as it is.

    Parameters
    ----------
    window : MainWindow
    path : str or Path
        PNG file to write (parent folders are created).
    on_done : callable
        Called with True when the file was written, False otherwise.
    """
    import time

    path = Path(path)
    deadline = time.monotonic() + timeout_s
    streak = {"n": 0}

    def save() -> None:
        QApplication.processEvents()
        image = window.grab_image()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            ok = bool(image.save(str(path), "PNG"))
        except OSError as exc:
            log.error("cannot write the screenshot %s: %s", path, exc)
            ok = False
        if ok:
            log.info("screenshot written to %s (%dx%d)", path, image.width(), image.height())
        else:
            log.error("could not write the screenshot %s", path)
        on_done(ok)

    def poll() -> None:
        settled = (window.isVisible() and window.views_settled() and not window.pool.running()
                   and not window.demo_pending())
        streak["n"] = streak["n"] + 1 if settled else 0
        if streak["n"] >= 2:
            QTimer.singleShot(render_delay_ms, save)
        elif time.monotonic() > deadline:
            log.warning("the window did not settle within %.0f s; saving it as it is", timeout_s)
            save()
        else:
            QTimer.singleShot(poll_ms, poll)

    QTimer.singleShot(poll_ms, poll)
