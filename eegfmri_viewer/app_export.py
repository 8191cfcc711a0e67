"""File ▸ Export report… / Export figure… / Export tables….

* Report: the self-contained HTML report of the open results
  (:mod:`eegfmri_viewer.report.html`), with the "What changed" section when
  compare mode is on, as ``eegfmri-viewer report --compare`` writes it. The
  cortex images are rendered off-screen on the GUI thread (VTK must not
  render from two threads); the rest of the report is built and written in a
  worker.
* Figure: one view as PNG, or as SVG for the 2-D (pyqtgraph) views, both as
  the user sees the view (plots with their titles and legends); the SVG is
  painted by Qt's ``QSvgGenerator`` (see :func:`view_svg`). The 3-D cortex is
  exported as PNG from the plotter's screenshot (vector output of a shaded
  surface is not meaningful).
* Tables: CSV files (:mod:`eegfmri_viewer.report.tables`) in a folder, in a
  worker; existing tables are replaced only after the user confirmed.

:class:`ExportActions` holds the logic with plain arguments
(:meth:`~ExportActions.export_report`, :meth:`~ExportActions.export_figure`,
:meth:`~ExportActions.export_tables`); only its ``ask_*`` methods open dialogs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from eegfmri_viewer.workers import FunctionWorker

log = logging.getLogger(__name__)

# Docks that hold no figure worth exporting.
NOT_FIGURES = ("Log", "Dataset")


def _input_error(path, text: str):
    from eegfmri_viewer.io.errors import InputError

    return InputError(path, text)


def view_svg(view: QWidget, title: str = "") -> bytes:
    """SVG of a 2-D view as the user sees it: plots, titles and legends.

    The widget is painted into a ``QSvgGenerator``, so axes, curves, bars and
    text stay vectors (heatmaps are embedded images). pyqtgraph's own
    ``SVGExporter`` fails on the path data that Qt >= 6.9 writes
    (pyqtgraph issue #3485), hence Qt's generator.
    """
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPoint, QRect
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    generator = QSvgGenerator()
    generator.setOutputDevice(buf)
    generator.setSize(view.size())
    generator.setViewBox(QRect(0, 0, view.width(), view.height()))
    generator.setTitle(title)
    generator.setDescription("exported by eegfmri_viewer")
    painter = QPainter(generator)
    try:
        view.render(painter, QPoint(0, 0))
    finally:
        painter.end()
    buf.close()
    return bytes(data.data())


def view_png(view: QWidget) -> QImage:
    """The view as an image; 3-D views (``grab_image``) include their rendered frame."""
    if callable(getattr(view, "grab_image", None)):
        return view.grab_image()
    return view.grab().toImage()


def cortex_png(view: QWidget) -> QImage:
    """The 3-D frame of a view with a pyvista ``plotter`` (GUI thread)."""
    import numpy as np

    view.plotter.render()
    frame = np.ascontiguousarray(np.asarray(view.plotter.screenshot(return_img=True))[..., :3], dtype=np.uint8)
    h, w, _ = frame.shape
    return QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def _load_bundle_b(comparison, bundle):
    """Bundle B of a comparison of two bundles (for its fusion weights), else None."""
    from eegfmri_viewer.results import load_bundle

    path_b = comparison.meta.get("bundle_b") if comparison is not None else None
    if not path_b or (bundle.path is not None and Path(path_b).resolve() == Path(bundle.path).resolve()):
        return None
    return load_bundle(path_b)


def export_inputs(bundle, comparison=None) -> list:
    """The data the bundles shown were computed from, which an export must stay out of.

    (The bundles themselves are refused by the writers, with their own message.)
    """
    from eegfmri_viewer.results import read_bundle_inputs

    folders = [bundle.path] + ([comparison.meta.get("bundle_b")] if comparison is not None else [])
    return [p for f in folders if f for p in read_bundle_inputs(f)]


def build_and_write_report(path, bundle, comparison=None, cortex_images=None, q_threshold: float = 0.05,
                           progress=None, cancel=None) -> Path:
    """Build the HTML report and write it atomically (worker thread).

    Parameters
    ----------
    path : str or Path
        HTML file to write.
    bundle : ResultsBundle
    comparison : CompareResult or None
    cortex_images : dict of str to bytes or None
        PNG images rendered beforehand on the GUI thread.
    q_threshold : float

    An existing file at ``path`` is replaced (the save dialog asked first);
    a path inside a results bundle or onto a folder raises ``InputError``.
    """
    from eegfmri_viewer.progress import report, sub_progress
    from eegfmri_viewer.report.html import build_report, write_report

    from eegfmri_viewer.report.html import check_report_path

    # the save dialog has asked before replacing a file; a bundle or its data are never written into
    check_report_path(path, force=True, inputs=export_inputs(bundle, comparison))
    report(progress, 0.0, "report")
    bundle_b = _load_bundle_b(comparison, bundle)
    text = build_report(bundle, comparison=comparison, bundle_b=bundle_b, cortex_images=cortex_images,
                        render_cortex=cortex_images is None, q_threshold=q_threshold,
                        progress=sub_progress(progress, 0.0, 0.95), cancel=cancel)
    out = write_report(path, text, force=True)
    report(progress, 1.0, "report written")
    return out


class FigureDialog(QDialog):
    """Pick the view to export (the last active one preselected)."""

    def __init__(self, titles: list, current: Optional[str], parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setWindowTitle("Export figure")
        self.combo = QComboBox()
        self.combo.addItems(titles)
        if current in titles:
            self.combo.setCurrentText(current)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("View to export (PNG, or SVG for 2-D views):"))
        layout.addWidget(self.combo)
        layout.addWidget(buttons)


class ExportActions(QObject):
    """File ▸ Export report… / Export figure… / Export tables… for a main window.

    Parameters
    ----------
    window : MainWindow
    """

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.last_active: Optional[str] = None
        self.report_action = window.add_file_action(
            "Export &report\u2026", self.ask_report, tip="Write a self-contained HTML report of the open results")
        self.figure_action = window.add_file_action(
            "Export &figure\u2026", self.ask_figure, tip="Save one view as PNG (or SVG for 2-D views)")
        self.tables_action = window.add_file_action(
            "Export &tables\u2026", self.ask_tables, tip="Write saliency, coupling and fusion weights as CSV files")
        app = QApplication.instance()
        if app is not None:
            app.focusChanged.connect(self._on_focus)

    # -- which view is active ------------------------------------------------------
    def _on_focus(self, _old, new) -> None:
        title = self.dock_title_of(new)
        if title is not None:
            self.last_active = title

    def dock_title_of(self, widget) -> Optional[str]:
        """Title of the dock that contains ``widget``, or None."""
        while widget is not None:
            for title, dock in self.window.docks.items():
                if widget is dock:
                    return title
            widget = widget.parentWidget()
        return None

    def figure_titles(self) -> list:
        """Docks that can be exported: open (visible) views, without the log and the dataset list."""
        return [t for t, d in self.window.docks.items() if d.isVisible() and t not in NOT_FIGURES]

    def default_figure(self) -> Optional[str]:
        """The dock with focus or last active, else the first exportable one."""
        titles = self.figure_titles()
        if self.last_active in titles:
            return self.last_active
        return titles[0] if titles else None

    def _problem(self, exc) -> None:
        self.window.show_exception(exc, "", "export")

    def _need_results(self):
        if self.state.results is None:
            self._problem(_input_error(None, "Open results first (File \u25b8 Open results\u2026) to export them."))
            return None
        return self.state.results

    # -- report --------------------------------------------------------------------------
    def ask_report(self) -> Optional[FunctionWorker]:
        """Ask for an HTML file, then :meth:`export_report`."""
        if self._need_results() is None:
            return None
        path, _ = QFileDialog.getSaveFileName(self.window, "Export report", "report.html", "HTML (*.html)")
        if not path:
            return None
        if not path.lower().endswith((".html", ".htm")):
            path += ".html"
        return self.export_report(path)

    def export_report(self, path, q_threshold: float = 0.05, render_cortex: bool = True) -> Optional[FunctionWorker]:
        """Write the report of the open results (and comparison) to ``path``.

        The cortex images are rendered here, on the GUI thread; the report is
        built and written in a worker. Returns the worker (None without results).
        """
        bundle = self._need_results()
        if bundle is None:
            return None
        from eegfmri_viewer.io.errors import InputError
        from eegfmri_viewer.report.html import check_report_path

        try:
            # before the cortex images are rendered: a bundle or its data are never written into
            check_report_path(path, force=True, inputs=export_inputs(bundle, self.state.compare))
        except InputError as exc:
            self._problem(exc)
            return None
        comparison = self.state.compare
        images = None
        if render_cortex:
            from eegfmri_viewer.report.cortex_images import render_class_images

            self.window.statusBar().showMessage("Rendering the cortex images of the report\u2026")
            QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                images = render_class_images(bundle, comparison=comparison, q_threshold=q_threshold)
            except Exception as exc:  # noqa: BLE001 - shown to the user, the app keeps running
                import traceback

                self.window.show_exception(exc, traceback.format_exc(), "export report")
                return None
            finally:
                QGuiApplication.restoreOverrideCursor()
                self.window.statusBar().clearMessage()
        worker = FunctionWorker(build_and_write_report, Path(path), bundle, comparison, images or {},
                                q_threshold, name="export report")
        worker.finished.connect(lambda out: self._done(f"Report written to {out}"))
        return self.window.run_worker(worker, "writing the report")

    # -- figure --------------------------------------------------------------------------
    def ask_figure(self) -> Optional[Path]:
        """Ask which view and which file, then :meth:`export_figure`."""
        titles = self.figure_titles()
        if not titles:
            self._problem(_input_error(None, "No view is open; open one from the View menu."))
            return None
        dialog = FigureDialog(titles, self.default_figure(), self.window)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        title = dialog.combo.currentText()
        is_3d = getattr(self.window.docks[title].ensure_built(), "plotter", None) is not None
        filters = "PNG image (*.png)" if is_3d else "PNG image (*.png);;SVG vector image (*.svg)"
        stem = title.lower().replace(" & ", "_").replace(" ", "_").replace("-", "")
        path, chosen = QFileDialog.getSaveFileName(self.window, f"Export {title}", f"{stem}.png", filters)
        if not path:
            return None
        if Path(path).suffix.lower() not in (".png", ".svg"):
            path += ".svg" if "svg" in chosen.lower() else ".png"
        try:
            return self.export_figure(title, path)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app keeps running
            import traceback

            self.window.show_exception(exc, traceback.format_exc(), "export figure")
            return None

    def export_figure(self, title: str, path) -> Path:
        """Save the view of dock ``title`` to ``path`` (``.png`` or ``.svg``; GUI thread).

        Raises
        ------
        InputError
            Unknown dock, a view that failed to load, an unsupported suffix,
            SVG of the 3-D view, or a file that cannot be written.
        """
        from eegfmri_viewer.atomic_write import atomic_write_bytes, check_output_file

        # the save dialog asked before replacing a file; never into a results bundle or onto a folder
        path = check_output_file(Path(path), force=True, what="figure")
        dock = self.window.docks.get(title)
        if dock is None:
            raise _input_error(None, f"there is no view {title!r}")
        view = dock.ensure_built()
        if view is None:
            raise _input_error(None, f"the {title} view could not be loaded: {dock.error}")
        suffix = path.suffix.lower()
        is_3d = getattr(view, "plotter", None) is not None
        if suffix == ".svg":
            if is_3d:
                raise _input_error(path, f"the {title} view is 3-D and can only be exported as PNG")
            atomic_write_bytes(path, view_svg(view, title))
        elif suffix == ".png":
            image = cortex_png(view) if is_3d else view_png(view)
            if image.isNull():
                raise _input_error(path, f"the {title} view has nothing drawn yet")
            from PySide6.QtCore import QBuffer, QByteArray, QIODevice

            data = QByteArray()
            buf = QBuffer(data)
            buf.open(QIODevice.OpenModeFlag.WriteOnly)
            if not image.save(buf, "PNG"):
                raise _input_error(path, "the image could not be encoded as PNG")
            buf.close()
            atomic_write_bytes(path, bytes(data.data()))
        else:
            raise _input_error(path, "unsupported figure format; use .png or .svg")
        self._done(f"{title} saved to {path}")
        return path

    # -- tables ----------------------------------------------------------------------------
    def ask_tables(self) -> Optional[FunctionWorker]:
        """Ask for a folder (and to confirm replacing tables), then :meth:`export_tables`."""
        if self._need_results() is None:
            return None
        folder = QFileDialog.getExistingDirectory(self.window, "Export tables to folder")
        if not folder:
            return None
        from eegfmri_viewer.atomic_write import check_files_folder
        from eegfmri_viewer.io.errors import InputError
        from eegfmri_viewer.report.tables import existing_tables

        try:
            check_files_folder(folder, "tables", inputs=export_inputs(self.state.results, self.state.compare))
        except InputError as exc:
            self._problem(exc)
            return None
        present = existing_tables(folder)
        overwrite = False
        if present:
            answer = QMessageBox.question(
                self.window, "Replace tables?",
                f"{folder} already holds {', '.join(p.name for p in present)}. Replace them?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return None
            overwrite = True
        return self.export_tables(folder, overwrite=overwrite)

    def export_tables(self, folder, overwrite: bool = False) -> Optional[FunctionWorker]:
        """Write the CSV tables of the open results to ``folder`` in a worker.

        In compare mode ``changes.csv`` (A, B, B − A, p, q per ROI) is added.

        Without ``overwrite`` existing table files make the worker fail with an
        input error (shown in the window's dialog) before anything is written.
        """
        from eegfmri_viewer.report.tables import write_tables

        from eegfmri_viewer.atomic_write import check_files_folder
        from eegfmri_viewer.io.errors import InputError

        bundle = self._need_results()
        if bundle is None:
            return None
        try:
            # before the worker starts: never the bundle itself, a folder inside one, or its data
            check_files_folder(folder, "tables", inputs=export_inputs(bundle, self.state.compare))
        except InputError as exc:
            self._problem(exc)
            return None
        worker = FunctionWorker(write_tables, bundle, Path(folder), comparison=self.state.compare,
                                overwrite=overwrite, name="export tables")
        worker.finished.connect(lambda result: self._done(result.summary()))
        return self.window.run_worker(worker, "writing tables")

    def _done(self, text: str) -> None:
        log.info("%s", text)
        self.window.statusBar().showMessage(text, 10000)
