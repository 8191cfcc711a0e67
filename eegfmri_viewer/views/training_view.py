"""Training dock: analysis settings, Start / Cancel, progress and live curves.

The view owns no worker: Start emits :attr:`TrainingView.start_requested`
and the main window runs the pipeline, feeding progress, epochs and the
outcome back through :meth:`on_progress`, :meth:`on_epoch`,
:meth:`on_finished` and :meth:`on_failed`.
"""

from __future__ import annotations

import dataclasses
import html
import json
import typing
from pathlib import Path
from typing import Any, Optional

import pyqtgraph as pg
from PySide6.QtCore import QLocale, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

#: Opacity (0-255) of the curves of initialisations a model did not keep, once the run is done.
DISCARDED_ALPHA = 70
#: One colour per curve set (matplotlib's tab10): a default run draws 9 (3 fMRI
#: initialisations, 5 bands, phase 2), so no two share a colour.
STAGE_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf"]


def _default_source(state) -> str:
    """The BIDS root of the recording in view, or ``""`` (none, or files outside a BIDS tree)."""
    from eegfmri_viewer.state.bad_channels import dataset_key

    root = dataset_key(state.dataset)
    return root if root and Path(root).is_dir() else ""


def _files_out_dir(files, base=None) -> str:
    """An output folder for the results of ``files`` (RecordingFiles) that the analysis accepts, or ``""``.

    ``<bold name>-results`` in the user's results area ``base`` (the app's
    data folder, :func:`eegfmri_viewer.user_folders.data_dir`, where the demo keeps its
    results too), never beside or above the files: the folders around input
    data are often a shared, read-only data collection. A folder of that name
    that holds anything but the results of these same files is passed over
    for ``<bold name>-results-2``, ``-3``, ...

    Parameters
    ----------
    files : RecordingFiles
    base : path-like, optional
        The results area; the app's data folder by default.
    """
    import json

    from eegfmri_viewer.io.errors import InputError
    from eegfmri_viewer.results import check_bundle_destination

    if base is None:
        from eegfmri_viewer.user_folders import data_dir

        base = data_dir()
    bold = Path(files.bold)
    name = bold.name[: -len(".nii.gz")] if bold.name.lower().endswith(".nii.gz") else bold.stem
    for n in range(1, 100):
        candidate = Path(base) / (f"{name}-results" if n == 1 else f"{name}-results-{n}")
        if candidate.exists():
            # an earlier bundle of the same files is a fine proposal ("Replace earlier results"), another is not
            try:
                source = json.loads((candidate / "dataset.json").read_text(encoding="utf-8")).get("source")
            except (OSError, ValueError, AttributeError):
                continue
            if not isinstance(source, list) or str(Path(files.bold).resolve()) not in [str(x) for x in source]:
                continue
        try:
            check_bundle_destination(candidate, force=True, inputs=files.paths())
        except InputError:
            continue
        return str(candidate)
    return ""


def source_note_text(recording, source: str, files=None, out: str = "") -> str:
    """What Start analyses when it is not simply the BIDS folder of the recording in view, or ``""``.

    Parameters
    ----------
    recording : Recording or None
        The recording in view.
    source : str
        The BIDS root in the form (folder mode).
    files : RecordingFiles or None
        The open recording's files when Start analyses them (file mode).
    out : str
        The output folder in the form (unused: kept for callers that pass it).

    Returns
    -------
    text : str
        For files: that Start analyses them (:func:`command_text` is the
        equivalent command line); for a
        recording of another BIDS folder than ``source``: that Start analyses
        ``source``.
    """
    from eegfmri_viewer.state.bad_channels import dataset_key

    if files is not None:
        # one short line: the paths are in the fields above, the command line in the tooltip and on the clipboard
        return "Start analyses the open recording's files, not a BIDS folder."
    if recording is None:
        return ""
    key = dataset_key(recording)
    root = key if key and Path(key).is_dir() else ""
    if root and source and Path(source).expanduser().resolve() != Path(root):
        return f"Start analyses the BIDS root {source}, not the folder of the recording in view ({root})."
    return ""


def command_text(files, out: str = "") -> str:
    """The command line that analyses ``files`` (RecordingFiles) into ``out`` as Start does, for batch runs."""
    import shlex

    return files.command(shlex.quote(out) if out else "FOLDER")


class TrainingView(QWidget):
    """Settings form generated from :class:`AnalysisConfig`, with live training curves.

    A setting with declared choices (``choice_field``) is a :class:`ChoiceBox`
    listing them; every row's tooltip is the setting's entry in its dataclass's
    ``Attributes`` docstring, with the default.

    Table-valued settings (``[preprocessing] marked_bad``) have no field: the
    channels marked bad in the Signals view in the dataset at the BIDS root
    (``state.marks_for_dataset``) go into the config, and a line under the
    paths says how many.

    Parameters
    ----------
    state : AppState
    parent : QWidget, optional

    Signals
    -------
    start_requested(object, str, object)
        What to analyse (the BIDS root as str, or the open recording's
        :class:`~eegfmri_viewer.io.single.RecordingFiles`), the output folder
        and the config as ``{table: {key: value}}``.
    cancel_requested()
    """

    start_requested = Signal(object, str, object)
    cancel_requested = Signal()

    def __init__(self, state, parent: Optional[QWidget] = None):
        super().__init__(parent)
        # lazily: the config module pulls in the pipeline package
        from eegfmri_viewer.pipeline.config import AnalysisConfig
        from eegfmri_viewer.pipeline.config_fields import attribute_docs, field_choices

        self.state = state
        self._config_class = AnalysisConfig
        self._defaults = AnalysisConfig().to_dict()
        self.widgets: dict[tuple[str, str], QWidget] = {}
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        # per (curve set, subject or None): the epochs drawn; at individual level each subject's
        # model is its own curve, in its curve set's colour
        self._history: dict[tuple, dict[str, list]] = {}
        self._stages: list = []

        # everything scrolls, so the dock never forces the main window taller
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        content = QWidget()
        layout = QVBoxLayout(content)
        page = QScrollArea()
        page.setWidgetResizable(True)
        page.setWidget(content)
        page.setMinimumHeight(40)
        outer.addWidget(page)
        form_host = QWidget()
        form_layout = QVBoxLayout(form_host)
        for table, klass in AnalysisConfig.tables().items():
            box = QGroupBox(f"[{table}]")
            form = QFormLayout(box)
            hints = typing.get_type_hints(klass)
            choices = field_choices(klass)
            docs = attribute_docs(klass)
            for f in dataclasses.fields(klass):
                if _is_table(hints[f.name]):
                    continue  # filled from the state (see config), not typed in
                default = self._defaults[table][f.name]
                if f.name in choices:
                    widget = ChoiceBox(choices[f.name], default)
                else:
                    widget = self._make_widget(hints[f.name], default)
                widget.setObjectName(f"{table}.{f.name}")
                form.addRow(f.name, widget)
                # keys without a docstring entry get no tooltip rather than a made-up one
                if f.name in docs:
                    tip = _tooltip(docs[f.name], default)
                    widget.setToolTip(tip)
                    form.labelForField(widget).setToolTip(tip)
                self.widgets[(table, f.name)] = widget
            form_layout.addWidget(box)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(form_host)
        scroll.setMinimumHeight(200)

        # What to analyse and the run controls come first: in the short tab row they
        # stay in sight, the form and the curves scroll below them.
        paths = QHBoxLayout()
        # long paths elide in the middle (the file name stays in sight), the full path is the tooltip
        self.source_edit = ElidedPathEdit()
        self.out_edit = ElidedPathEdit()
        # what set_default_source last filled in: a path the user typed is never replaced
        self._auto_source = self._auto_out = ""
        # file mode: the files of the open recording (no BIDS folder), which Start then analyses
        self._files = None
        # (weak reference to a recording, its RecordingFiles) as the window opened it (with the TR given)
        self._given_files = None
        self.source_label = QLabel("BIDS root")
        # one row: the low tab row leaves room for two lines before the form
        paths.addWidget(self.source_label)
        paths.addWidget(self.source_edit, 1)
        paths.addWidget(QLabel("Output folder"))
        paths.addWidget(self.out_edit, 1)
        self.replace_check = QCheckBox("Replace earlier results")
        self.replace_check.setToolTip("Replace the results of an earlier analysis in the output folder (as "
                                      "'analyze --force'). A folder that holds anything else, or the input "
                                      "data, is never replaced.")
        paths.addWidget(self.replace_check)
        layout.addLayout(paths)
        # what Start analyses when it is not the recording in view (a single-file recording, another folder)
        self.source_note = QLabel("")
        self.source_note.setWordWrap(True)
        self.source_note.setStyleSheet("color: #9a6700;")
        self.source_note.setVisible(False)
        note_row = QHBoxLayout()
        note_row.addWidget(self.source_note, 1)
        # file mode: the equivalent command line (for batch runs) is the tooltip, and this copies it
        self.copy_command_button = QPushButton("Copy command")
        self.copy_command_button.setVisible(False)
        self.copy_command_button.clicked.connect(self.copy_command)
        note_row.addWidget(self.copy_command_button)
        layout.addLayout(note_row)
        self.source_edit.textChanged.connect(lambda _t: self._update_source_note())
        self.out_edit.textChanged.connect(lambda _t: self._update_source_note())
        self.bad_summary = QLabel("")
        self.bad_summary.setWordWrap(True)
        self.bad_summary.setToolTip("Channels marked bad in the Signals view (click a channel's name there) are "
                                    "interpolated or dropped by the analysis, as [preprocessing] bad_channels says, "
                                    "together with those marked bad in the recordings' channels.tsv.")
        self.source_edit.textChanged.connect(lambda _t: self._update_bad_summary())
        state.badChannelsChanged.connect(lambda _label: self._update_bad_summary())
        self.set_default_source(_default_source(state))
        state.datasetChanged.connect(self._on_dataset)
        self._on_dataset(state.dataset)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.start_button.clicked.connect(self.request_start)
        self.cancel_button.clicked.connect(self.request_cancel)
        self.use_results_button = QPushButton("Settings of open results")
        self.use_results_button.setToolTip("Fill the form with the settings the open results were made with "
                                           "(their config.toml), e.g. to run them again on other data")
        self.use_results_button.setEnabled(False)
        self.use_results_button.clicked.connect(self.use_results_settings)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.use_results_button)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        buttons.addWidget(self.progress_bar, 1)
        layout.addLayout(buttons)
        # the outcome ("Done: results in ...") right under the progress bar, in sight in a low dock
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message)
        layout.addWidget(self.bad_summary)
        layout.addWidget(scroll, 2)

        self.loss_plot = pg.PlotWidget(title="phase-1 loss (cross-entropy)")
        self.acc_plot = pg.PlotWidget(title="phase-1 accuracy (solid: train, dashed: validation)")
        # Phase 2's reconstruction loss (eq. 23) is in other units, thousands against about 1: on the
        # phase-1 axis it would flatten every classifier's curve.
        self.phase2_plot = pg.PlotWidget(title="phase-2 reconstruction loss (eq. 23; dashed: validation)")
        for plot in (self.loss_plot, self.acc_plot, self.phase2_plot):
            plot.addLegend()
            plot.setLabel("bottom", "epoch")
            plot.setMinimumHeight(160)
            layout.addWidget(plot, 1)
        state.resultsChanged.connect(self._on_results)
        self._on_results(state.results)

    def set_default_source(self, root: str) -> None:
        """Fill the BIDS root (and an output folder beside it) unless the user typed one.

        The BIDS root follows the dataset in view (a recording loaded from another
        BIDS folder brings that folder) for as long as the field holds what was
        filled in, not what the user typed; the output folder likewise.
        """
        if not root or self._files is not None:
            # in file mode Start analyses the open recording; a BIDS folder opened later ends it
            return
        root = str(root)
        if self.source_edit.text().strip() in ("", self._auto_source):
            self.source_edit.setText(root)
            self._auto_source = root
        if self.out_edit.text().strip() in ("", self._auto_out):
            self._auto_out = str(Path(self.source_edit.text().strip()).parent / "results")
            self.out_edit.setText(self._auto_out)

    def set_fallback_source(self, root: str) -> None:
        """The BIDS root to offer while no dataset is in view (the demo's); a dataset loaded later replaces it."""
        if not self.source_edit.text().strip() and self.state.dataset is None:
            self.set_default_source(root)

    def set_recording_files(self, recording, files) -> None:
        """The files ``recording`` was opened from, as the user gave them (``files``: RecordingFiles).

        Without this, the files of a recording opened from files are read off
        the recording itself (:meth:`RecordingFiles.from_recording`), which
        cannot tell a TR the user gave from one the files state.
        """
        import weakref

        self._given_files = (weakref.ref(recording), files)
        if self.state.dataset is recording:
            self._on_dataset(recording)

    def recording_files(self):
        """The RecordingFiles Start analyses (file mode), or None (folder mode)."""
        return self._files

    def _files_of(self, recording):
        """The files of ``recording`` when it was opened from files outside a BIDS folder, else None."""
        from eegfmri_viewer.io.errors import InputError
        from eegfmri_viewer.io.single import RecordingFiles

        if recording is None or _default_source(self.state) or getattr(recording, "bold_path", None) is None:
            return None
        if self._given_files is not None and self._given_files[0]() is recording:
            return self._given_files[1]
        try:
            return RecordingFiles.from_recording(recording)
        except InputError:
            return None

    def _on_dataset(self, recording) -> None:
        """Follow the recording in view: its BIDS folder, or its files.

        A recording opened from single files (no BIDS folder) puts the dock in
        file mode: Start analyses those files, the source field names them
        (read-only) and an output folder outside their folder is proposed. A
        recording of a BIDS folder (or none) brings the folder mode back.
        """
        root = _default_source(self.state)
        files = self._files_of(recording)
        if files is not None:
            self._enter_file_mode(files)
        else:
            self._leave_file_mode()
            if root:
                self.set_default_source(root)
            elif recording is not None and self.source_edit.text().strip() == self._auto_source:
                # a folder filled in earlier (the demo's) is not what is in view: not left for Start
                if self.out_edit.text().strip() == self._auto_out:
                    self.out_edit.setText("")
                self.source_edit.setText("")
                self._auto_source = self._auto_out = ""
        self._update_source_note()
        self._update_bad_summary()

    def _enter_file_mode(self, files) -> None:
        # the folder mode's texts are not kept: leaving file mode follows the dataset then in view
        self._files = files
        text = f"open recording: {files.describe()}"
        self.source_label.setText("Analyse")
        self.source_edit.setReadOnly(True)
        self.source_edit.setToolTip("Start analyses the recording opened from files (as "
                                    "'eegfmri-viewer analyze --bold'):\n" + "\n".join(files.paths()))
        self._auto_source = text
        self.source_edit.setText(text)
        if self.out_edit.text().strip() in ("", self._auto_out):
            self._auto_out = _files_out_dir(files)
            self.out_edit.setText(self._auto_out)

    def _leave_file_mode(self) -> None:
        if self._files is None:
            return
        self._files = None
        self.source_label.setText("BIDS root")
        self.source_edit.setReadOnly(False)
        self.source_edit.setToolTip("")
        self.source_edit.setText("")
        if self.out_edit.text().strip() == self._auto_out:
            self.out_edit.setText("")
        self._auto_source = self._auto_out = ""

    def _update_source_note(self) -> None:
        """Say what Start analyses when it is not simply the BIDS folder of the recording in view."""
        text = source_note_text(self.state.dataset, self.source_edit.text().strip(), self._files,
                                self.out_edit.text().strip())
        self.source_note.setText(text)
        self.source_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # the command line of file mode is a hint, not a warning
        self.source_note.setStyleSheet("color: #57606a;" if self._files is not None
                                       else "color: #9a6700;")
        self.source_note.setVisible(bool(text))
        command = self.command_line()
        self.source_note.setToolTip("The same from the command line (e.g. for batch runs):\n" + command
                                    if command else "")
        self.copy_command_button.setToolTip(command)
        self.copy_command_button.setVisible(bool(command))
        if self._files is None:
            self.source_edit.setToolTip(self.source_edit.text().strip())
        self.out_edit.setToolTip(self.out_edit.text().strip())

    def command_line(self) -> str:
        """The command line equivalent to Start in file mode (:func:`command_text`), else ``""``."""
        return command_text(self._files, self.out_edit.text().strip()) if self._files is not None else ""

    def copy_command(self) -> None:
        """Put :meth:`command_line` on the clipboard."""
        from PySide6.QtGui import QGuiApplication

        command = self.command_line()
        if command:
            QGuiApplication.clipboard().setText(command)
            self.message.setText("Command line copied to the clipboard.")

    def _marks_key(self) -> str:
        """The dataset whose marked-bad channels go into the config: the open files' or the BIDS root."""
        from eegfmri_viewer.state.bad_channels import dataset_key

        if self._files is not None:
            return dataset_key(self.state.dataset)
        return self.source_edit.text().strip()

    # -- form ------------------------------------------------------------------
    @staticmethod
    def _make_widget(hint: Any, value: Any) -> QWidget:
        if hint is bool:
            widget = QCheckBox()
            widget.setChecked(bool(value))
        elif hint is int:
            widget = FormSpinBox()
            widget.setRange(-10**9, 10**9)
            widget.setValue(int(value))
        elif hint is float:
            widget = FormDoubleSpinBox()
            widget.setDecimals(6)
            widget.setRange(-1e12, 1e12)
            widget.setValue(float(value))
        else:
            widget = QLineEdit(_format_value(value))
        return widget

    def config_dict(self) -> dict:
        """The form's values as ``{table: {key: value}}``.

        Raises
        ------
        ValueError
            A text field that cannot be parsed; the message names ``[table] key``.
        """
        result: dict = {}
        for (table, key), widget in self.widgets.items():
            if isinstance(widget, QCheckBox):
                value = widget.isChecked()
            elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
                value = widget.value()
            elif isinstance(widget, ChoiceBox):
                value = widget.text()
            else:
                value = _parse_value(widget.text(), self._defaults[table][key], f"[{table}] {key}")
            result.setdefault(table, {})[key] = value
        return result

    def set_config(self, values: dict) -> None:
        """Show ``{table: {key: value}}`` in the form (keys the form lacks are ignored).

        Used when a run starts from elsewhere (``--demo-config``) so that the
        form shows the settings the run uses.

        Raises
        ------
        ValueError
            A value that is not one of the choices of its setting.
        """
        for (table, key), widget in self.widgets.items():
            if key not in values.get(table, {}):
                continue
            value = values[table][key]
            if isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, QSpinBox):
                widget.setValue(int(value))
            elif isinstance(widget, QDoubleSpinBox):
                widget.setValue(float(value))
            elif isinstance(widget, ChoiceBox):
                widget.setText(str(value))
            else:
                widget.setText(_format_value(value))

    def config(self):
        """The validated :class:`AnalysisConfig` of the form and the marks (raises ``ValueError`` or ``InputError``).

        ``[preprocessing] marked_bad`` is ``state.marks_for_dataset`` of the BIDS root: the marks in view
        when it is the dataset in view, else those kept for it (never another dataset's).
        """
        values = self.config_dict()
        values.setdefault("preprocessing", {})["marked_bad"] = self.state.marks_for_dataset(self._marks_key())
        return self._config_class.from_dict(values, source="Training settings")

    def _update_bad_summary(self) -> None:
        marks = self.state.marks_for_dataset(self._marks_key())
        n_channels = sum(len(names) for names in marks.values())
        if n_channels:
            self.bad_summary.setText(f"{_count(n_channels, 'channel')} marked bad in {_count(len(marks), 'recording')} "
                                     "(Signals view)")
        else:
            self.bad_summary.setText("No channels of the open recording marked bad in the Signals view"
                                     if self._files is not None else
                                     "No channels of this BIDS root marked bad in the Signals view")

    # -- run control -------------------------------------------------------------
    def request_start(self) -> bool:
        """Validate the form and emit :attr:`start_requested`; False (with a message) if refused."""
        try:
            config = self.config()
        except Exception as exc:  # noqa: BLE001 - any bad value is shown, not raised
            self.message.setText(f"Invalid settings: {exc}")
            return False
        source, out_dir = self.source_edit.text().strip(), self.out_edit.text().strip()
        if self._files is not None:
            source = self._files
        if not source or not out_dir:
            self.message.setText("Invalid settings: the BIDS root and the output folder are required."
                                 if not source else "Invalid settings: the output folder is required.")
            return False
        self._clear_curves()
        self.progress_bar.setValue(0)
        self.message.setText("Starting...")
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.start_requested.emit(source, out_dir, config.to_dict())
        return True

    def request_cancel(self) -> None:
        """Ask the running analysis to stop."""
        self.message.setText("Cancelling...")
        self.cancel_requested.emit()

    def on_progress(self, fraction: float, message: str) -> None:
        """Show progress ``fraction`` in [0, 1] and its message."""
        self.progress_bar.setValue(int(round(1000 * max(0.0, min(1.0, fraction)))))
        self.message.setText(message)

    def on_epoch(self, record: dict) -> None:
        """Append one epoch (keys stage, epoch, loss, train_acc, val_acc; init, subject) to the curves.

        One curve set (loss, train and validation accuracy) per stage and
        initialisation (``"fmri #2"``); at individual level one curve per
        subject in its set's colour (``curves[(set, key, subject)]``),
        the legend naming the set once.
        """
        stage = str(record.get("stage", "training"))
        if record.get("init") is not None:
            # each initialisation of a model is its own curve
            stage = f"{stage} #{record['init']}"
        subject = record.get("subject")
        if stage not in self._stages:
            self._stages.append(stage)
        history = self._history.setdefault((stage, subject), {"epoch": [], "loss": [], "train_acc": [],
                                                              "val_acc": [], "val_loss": []})
        for key in history:
            value = record.get(key)
            history[key].append(float("nan") if value is None else float(value))
        color = STAGE_COLORS[self._stages.index(stage) % len(STAGE_COLORS)]
        dashed = pg.mkPen(color, width=2, style=pg.QtCore.Qt.PenStyle.DashLine)
        if stage.startswith("phase2"):
            specs = [("loss", self.phase2_plot, pg.mkPen(color, width=2), "train"),
                     ("val_loss", self.phase2_plot, dashed, "validation")]
        else:
            # one legend entry per model: the plot's title says which line is train and which validation
            specs = [("loss", self.loss_plot, pg.mkPen(color, width=2), stage),
                     ("train_acc", self.acc_plot, pg.mkPen(color, width=2), stage),
                     ("val_acc", self.acc_plot, dashed, None)]
        for key, plot, pen, name in specs:
            curve_key = (stage, key) if subject is None else (stage, key, str(subject))
            curve = self.curves.get(curve_key)
            if curve is None:
                named = name is not None and not any(k[:2] == (stage, key) for k in self.curves)
                curve = plot.plot(pen=pen, name=name if named else None)
                self.curves[curve_key] = curve
            curve.setData(history["epoch"], history[key], connect="finite")

    def on_finished(self, path) -> None:
        """The analysis wrote its bundle at ``path``.

        When the results in the shared state are that bundle's, the curves of
        the initialisations a model did not keep are faded, and the message
        says which one each model kept.
        """
        self.progress_bar.setValue(1000)
        results = self.state.results
        same = results is not None and getattr(results, "path", None) is not None and \
            str(results.path) == str(path)
        kept = self._show_kept_initialisations(results.metrics) if same else []
        self.message.setText(f"Done: results in {path}" + (f" ({'; '.join(kept)})" if kept else ""))
        self._set_idle()

    def _show_kept_initialisations(self, metrics: dict) -> list:
        """Fade the curves of discarded initialisations; returns "fmri: kept #2 of 3"-style notes."""
        from eegfmri_viewer.pipeline.phase1_stage import kept_initialisations

        phase1 = metrics.get("phase1", {})
        models = [("fmri", phase1.get("fmri", {}))] + [(f"eeg_{b}", m) for b, m in phase1.get("eeg", {}).items()]
        notes = []
        for stage, entry in models:
            kept_by_model = kept_initialisations(entry)
            for subject, tried, kept in kept_by_model:
                self._fade(stage, tried, kept, subject)
            if kept_by_model and kept_by_model[0][0] is None:
                notes.append(f"{stage}: kept #{kept_by_model[0][2]} of {len(kept_by_model[0][1])}")
            elif kept_by_model:
                notes.append(f"{stage}: kept " + ", ".join(f"#{kept} ({subject})"
                                                           for subject, _, kept in kept_by_model))
        return notes

    def _fade(self, stage: str, tried: list, kept, subject) -> None:
        for t in tried:
            if t.get("init") == kept:
                continue
            for key in ("loss", "train_acc", "val_acc"):
                curve_set = f"{stage} #{t.get('init')}"
                curve = self.curves.get((curve_set, key) if subject is None else (curve_set, key, subject))
                if curve is not None:
                    pen = pg.mkPen(curve.opts["pen"])
                    color = pen.color()
                    color.setAlpha(DISCARDED_ALPHA)
                    pen.setColor(color)
                    pen.setWidthF(1.0)
                    curve.setPen(pen)

    @property
    def running(self) -> bool:
        """Whether a run started here is in progress."""
        return self.cancel_button.isEnabled()

    def _on_results(self, results) -> None:
        """Show the training curves of results opened from elsewhere (File ▸ Open results…, the demo).

        A run of this view keeps its live curves: its own results arrive before
        :meth:`on_finished`, which fades the initialisations not kept.
        """
        self.use_results_button.setEnabled(results is not None and bool(getattr(results, "config", None)))
        if self.running or results is None:
            return
        metrics = getattr(results, "metrics", None) or {}
        self._clear_curves()
        phase1 = metrics.get("phase1", {})
        models = [("fmri", phase1.get("fmri", {}))] + [(f"eeg_{b}", m) for b, m in phase1.get("eeg", {}).items()]
        for stage, entry in models:
            for record in entry.get("history", []) or []:
                self.on_epoch({**record, "stage": stage})
        phase2 = metrics.get("phase2", {})
        val = list(phase2.get("val_loss", []) or [])
        for epoch, loss in enumerate(phase2.get("loss", []) or [], start=1):
            self.on_epoch({"stage": "phase2", "epoch": epoch, "loss": loss,
                           "val_loss": val[epoch - 1] if epoch <= len(val) else None})
        self._show_kept_initialisations(metrics)
        source = (getattr(results, "dataset", None) or {}).get("source")
        if source and Path(str(source)).is_dir():
            # what these results were computed from, unless the user typed a root or a dataset is in view
            self.set_default_source(str(source))
        where = getattr(results, "path", None)
        self.message.setText(("Training curves of the open results" + (f" ({where})" if where else "")
                              + ": below the settings") if self._stages else "The open results hold no training curves.")

    def use_results_settings(self) -> None:
        """Fill the form with the open results' settings (their ``config.toml``)."""
        results = self.state.results
        if results is None:
            return
        try:
            self.set_config(results.config)
        except ValueError as exc:
            self.message.setText(f"The open results' settings do not fit this version's form: {exc}")
            return
        self.message.setText("The form holds the settings of the open results.")

    def on_failed(self, message: str = "") -> None:
        """The analysis failed or was cancelled."""
        self.message.setText(message or "Stopped.")
        self._set_idle()

    def _set_idle(self) -> None:
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _clear_curves(self) -> None:
        # Each curve removed from its plot (and so from its legend), not PlotItem.clear(): clearing plots with
        # legends over and over, as each opened result now does, is a known way to crash pyqtgraph on PySide6.
        for curve in self.curves.values():
            for plot in (self.loss_plot, self.acc_plot, self.phase2_plot):
                if curve in plot.getPlotItem().items:
                    plot.removeItem(curve)
        self.curves.clear()
        self._history.clear()
        self._stages.clear()


class ElidedPathEdit(QLineEdit):
    """Path field that, while not being edited, shows a long path elided in the middle.

    The end (the file or folder name) and the start stay in sight; ``text()``
    is always the full path, shown whole while the field has the focus.
    """

    def display_text(self) -> str:
        """What the field shows now: the text, elided in the middle where it does not fit."""
        text = self.text()
        if self.hasFocus() or not text:
            return text
        return self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, self._text_rect().width())

    def _text_rect(self):
        from PySide6.QtWidgets import QStyle, QStyleOptionFrame

        option = QStyleOptionFrame()
        self.initStyleOption(option)
        rect = self.style().subElementRect(QStyle.SubElement.SE_LineEditContents, option, self)
        margins = self.textMargins()
        # QLineEdit keeps 2 px free on either side of its text
        return rect.adjusted(margins.left() + 2, margins.top(), -margins.right() - 2, -margins.bottom())

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        shown = self.display_text()
        if shown == self.text():
            super().paintEvent(event)
            return
        from PySide6.QtGui import QPainter, QPalette
        from PySide6.QtWidgets import QStyle, QStyleOptionFrame

        painter = QPainter(self)
        option = QStyleOptionFrame()
        self.initStyleOption(option)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelLineEdit, option, painter, self)
        painter.setPen(self.palette().color(QPalette.ColorRole.Text))
        painter.drawText(self._text_rect(), int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), shown)
        painter.end()


class _WheelWhenFocused:
    """Mixin: the mouse wheel changes the value only once the field has the focus.

    The settings form scrolls; a wheel turn that passes over a spin or combo box
    on its way down the form would otherwise change a setting unnoticed. An
    unfocused field ignores the wheel, so it reaches the scroll area.
    """

    def _take_focus_by_click(self) -> None:
        self.setFocusPolicy(Qt.StrongFocus)

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class FormSpinBox(_WheelWhenFocused, QSpinBox):
    """Integer setting of the form (see :class:`_WheelWhenFocused`)."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self._take_focus_by_click()


class FormDoubleSpinBox(_WheelWhenFocused, QDoubleSpinBox):
    """Real-valued setting of the form (see :class:`_WheelWhenFocused`).

    Six decimals are kept (a learning rate of 0.0003 needs them) but shown only
    where they are not trailing zeros: "250", not "250.000000".
    """

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self._take_focus_by_click()
        # Settings are written with a decimal point, as in config.toml, whatever the system's language:
        # shown and read back the same way (a German locale would read "0.00125" as 125).
        self.setLocale(QLocale.c())

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        text = f"{value:.{self.decimals()}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text


class ChoiceBox(_WheelWhenFocused, QComboBox):
    """Combo box of the allowed values of one setting.

    ``text()`` / ``setText()`` read and select the value, as on the line edits
    of the free-form settings.

    Parameters
    ----------
    choices : sequence of str
        The allowed values, in the order listed.
    value : str
        The value selected at first.
    """

    def __init__(self, choices, value: str, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self._take_focus_by_click()
        self.addItems([str(c) for c in choices])
        self.setText(value)

    def choices(self) -> list:
        """The listed values."""
        return [self.itemText(i) for i in range(self.count())]

    def text(self) -> str:
        """The selected value."""
        return self.currentText()

    def setText(self, value: str) -> None:  # noqa: N802 - Qt naming, like QLineEdit.setText
        """Select ``value``.

        Raises
        ------
        ValueError
            ``value`` is not one of the choices.
        """
        index = self.findText(str(value))
        if index < 0:
            raise ValueError(f"{self.objectName() or 'setting'}: {value!r} is not one of "
                             f"{', '.join(repr(c) for c in self.choices())}")
        self.setCurrentIndex(index)


def _is_table(hint: Any) -> bool:
    return hint is dict or typing.get_origin(hint) is dict


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _toml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, list, tuple)):
        return json.dumps(value)
    return repr(value)


def _tooltip(description: str, default: Any) -> str:
    # rich text, so that Qt wraps a long description instead of one wide line
    return (f"<p>{html.escape(description, quote=False)}</p>"
            f"<p>Default: <code>{html.escape(_toml_text(default), quote=False)}</code></p>")


def _format_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        # comma-separated, nested rows (e.g. bands) as JSON lists
        return ", ".join(json.dumps(list(v)) if isinstance(v, (list, tuple)) else
                         (v if isinstance(v, str) else json.dumps(v)) for v in value)
    return "" if value is None else str(value)


def _parse_value(text: str, default: Any, where: str) -> Any:
    if isinstance(default, (list, tuple)):
        items = []
        text = text.strip()
        if text:
            try:
                items = json.loads("[" + text + "]")
            except json.JSONDecodeError:
                # bare words (e.g. channel names) need no quotes
                items = [part.strip() for part in text.split(",")]
        return tuple(items) if isinstance(default, tuple) else items
    if default is None:
        text = text.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text
