"""3-D cortex: CAM saliency of the selected class on fsaverage5 (pyvistaqt).

Both fsaverage5 hemispheres that nilearn ships are drawn as one mesh, pial or
inflated, shaded by sulcal depth. The CAM of the selected class (fMRI, or the
EEG CAM carried to the ROIs for the selected band) is mapped from the ROI
centres to the vertices with the Gaussian distance weighting of
:mod:`eegfmri_viewer.graphs.surface_mapping` (radius 12 mm, sigma 6 mm,
computed once on the pial surface and reused for the inflated one). Vertices
whose value is below the threshold (a fraction of the largest absolute CAM of
the shown class and source; each class has its own colour range because CAMs
of different classes are not on a common scale) keep the sulcal grey. ROI centres are spheres coloured the same
way; the selected ROI is a larger yellow sphere. Electrodes can be shown on the
fsaverage scalp that MNE ships. "Connections" draws the salient connections of
the class (fMRI source, outside compare mode): edges of the fMRI graph whose two
ends are salient ROIs (``salient_fmri_connections``), as arcs between the ROI
centres that rise above the surface (:func:`connection_arcs`).

Switching class, band or threshold only rewrites the colour arrays of the
existing actors; switching pial/inflated rewrites their points. Actors are
created only when a results bundle is loaded.

In compare mode (``state.compare`` set by File ▸ Compare…) a row under the
tool bar (hidden otherwise, so the tool bar stays short enough to show whole)
holds the Compare selector, which shows session A, session B (mean relative
CAM of each) or the change B − A, on the same diverging map centred on 0 with
symmetric limits, and "only q <", which colours only ROIs whose change has an
FDR q below the spin box's value (``fmri_cam_q``, or ``eeg_roi_cam_q`` of the
band for the EEG source). A note under that row says how many ROIs of the shown
class reach that q, with the units tested and the smallest p they allow
(:meth:`CortexView.compare_summary`, in the words of
:func:`eegfmri_viewer.comparison.resolution.class_resolution_text`): "0 of 264 ROIs reach q < 0.05 ...: the
colours show no reliable change", and the comparison's warnings (e.g. both
bundles made from the same input files). The model line names the model of
each side when two bundles are compared (B's bundle: ``state.compare.bundle_b``,
kept by File ▸ Compare…).

When the map shown comes from BOLD that is not in MNI space (``dataset.json``
``recordings[].space`` "native" or "unknown" of the shown results, and of B's
bundle in compare mode; of the open recording only when no results are shown),
a note says so above the map, naming each run once: the ROI positions are the
atlas's MNI coordinates and do not match such an image, so the cortex drawn is
not the subject's anatomy (:func:`eegfmri_viewer.io.space.space_caveat`, the
words of compare and the report; "unknown" is not called native). The compare
note then leaves out the comparison's own space warning (its ``space`` is not
MNI). When the open recording is none of the shown results' recordings, a line
says the map is of the results <folder>, not of the open recording.

For A or B the compare note says what that side's map is (its mean, relative
when the comparison z-scored each window, CAM) and that the count of ROIs
reaching q is of the change B − A.

All notes sit in one area above the map whose height is capped
(:data:`NOTES_MAX_SHARE` of the view, never leaving the map less than
:data:`PLOTTER_MIN_HEIGHT`) and which scrolls when they need more; the map has
a minimum height of its own (:data:`PLOTTER_FLOOR_HEIGHT`) while results are
shown, and the colour bar shows fewer labels when it is short.

While another view sets an overlay (``state.overlay``, e.g. the Teaching
view's Laplacian eigenmode "on the cortex"), the surface shows that map instead
of the CAM, on the same diverging scale, and a note says whose map it is.

Clicking (press and release without dragging) on the cortex selects the ROI
nearest to the clicked vertex (on the pial surface); clicking an ROI sphere
selects that ROI.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QFrame,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from eegfmri_viewer.comparison.resolution import class_floor, class_resolution_text, class_units_text
from eegfmri_viewer.comparison.compare import coordinate_space
from eegfmri_viewer.io.space import dataset_spaces, is_mni_space, recording_spaces, space_caveat
from eegfmri_viewer.views.model_quality import ModelQualityLabel

NO_RESULTS_MESSAGE = "Open results (File ▸ Open results…) or run an analysis to see CAM saliency"
FMRI_ONLY_MESSAGE = "fMRI-only results: the EEG source is disabled because this bundle has no EEG CAM."
# Compare mode (state.compare set): which side of the comparison is shown.
COMPARE_SIDES = {"A": "a", "B": "b", "B \u2212 A": "diff"}
DEFAULT_Q = 0.05
#: A class's mean BOLD within this many SD of the mean of all windows is called "about level", not up or down.
LEVEL_SD = 0.1
BACKGROUND = (255, 255, 255)
COLORMAP = "RdBu_r"
ROI_RADIUS_MM = 2.0
#: Spheres of ROIs above the threshold are drawn this much larger, so the salient
#: regions stand out and the rest of the atlas stays discreet.
SALIENT_ROI_SCALE = 1.8
CONNECTION_COLOR = (0.25, 0.1, 0.45)
#: Electrodes in a colour that the diverging CAM colours (blue to red) never take, so that
#: an electrode is not read as a strongly negative region under it.
ELECTRODE_COLOR = (0.1, 0.55, 0.25)
CONNECTION_WIDTH = 4.0
CONNECTIONS_TIP = ("Salient connections of the class: edges of the fMRI graph whose two ends are salient ROIs "
                   "(fMRI CAM, argmax votes across subjects)")
SELECTED_RADIUS_MM = 4.5
#: The notes above the 3-D map never take it below this height (px): they scroll instead.
PLOTTER_MIN_HEIGHT = 240
#: The view's own minimum for its map (px): docks around it (a tool tab given room, e.g. the Signals
#: view's traces) may squeeze the map this far, not further. Below PLOTTER_MIN_HEIGHT a tab gets more
#: room at the map's expense.
PLOTTER_FLOOR_HEIGHT = 240
#: The notes above the map take at most this share of the view's height (then they scroll) ...
NOTES_MAX_SHARE = 0.35
#: ... and at least this much (px, about three lines) when they need it, so that a few lines are always readable.
NOTES_MIN_HEIGHT = 60
#: Device pixels per colour-bar label: fewer labels on a short bar, so they never overlap.
BAR_PX_PER_LABEL = 36
ELECTRODE_RADIUS_MM = 3.5
# Camera presets: direction from the brain's centre to the camera.
CAMERA_VIEWS = {
    "Oblique": (-0.55, -0.65, 0.52),
    "Left": (-1.0, 0.0, 0.0),
    "Right": (1.0, 0.0, 0.0),
    "Top": (0.0, 0.0, 1.0),
    "Bottom": (0.0, 0.0, -1.0),
    "Back": (0.0, -1.0, 0.0),
    "Front": (0.0, 1.0, 0.0),
}
# A press and release closer than this (pixels) is a click, not a rotation.
CLICK_TOLERANCE_PX = 4
# OpenGL renderers that rasterise on the CPU (Mesa under Xvfb or without a GPU
# driver, Windows' GDI fallback, SwiftShader); lower-case substrings of GL_RENDERER.
SOFTWARE_GL = ("llvmpipe", "softpipe", "swrast", "software rasterizer", "swiftshader", "gdi generic", "lavapipe")


def is_software_gl(renderer: str) -> bool:
    """True if the OpenGL renderer string names a CPU rasteriser."""
    name = renderer.lower()
    return any(s in name for s in SOFTWARE_GL)


def diffuse_light_code(n_lights: int) -> str:
    """GLSL for VTK's ``//VTK::Light::Impl`` tag: directional lights, diffuse term only.

    VTK's code for several directional lights (its "light complexity 2")
    also evaluates a specular term, one ``pow`` per light and fragment, and
    then multiplies it by the specular colour. For a material without
    specular reflection (``specular = 0``, as here) that product is zero, so
    this code gives the same colour while a software rasteriser draws a
    frame of this view in about 20 % less time (llvmpipe: 34 -> 27 ms CPU). The light uniforms (``lightColor<i>``,
    ``lightDirectionVC<i>``) and the normal (``normalVCVSOutput``) are the
    ones VTK declares.

    Parameters
    ----------
    n_lights : int
        Number of switched-on, non-positional lights of the renderer (>= 2).

    Returns
    -------
    code : str
    """
    lines = ["  vec3 diffuse = vec3(0.0, 0.0, 0.0);", "  float df;"]
    for i in range(n_lights):
        lines += [f"  df = max(0.0, dot(normalVCVSOutput, -lightDirectionVC{i}));",
                  f"  diffuse += (df * lightColor{i});"]
    lines.append("  gl_FragData[0] = vec4(ambientColor + diffuse * diffuseColor, opacity);")
    return "\n".join(lines) + "\n"


def gl_renderer(render_window) -> str:
    """GL_RENDERER of an initialised VTK render window ("" before its first render)."""
    for line in render_window.ReportCapabilities().splitlines():
        if "renderer string" in line.lower():
            return line.split(":", 1)[1].strip()
    return ""


def colormap_table(name: str = COLORMAP, n: int = 256) -> np.ndarray:
    """RGB table of a matplotlib colour map, shape (n, 3), uint8."""
    import matplotlib

    rgba = matplotlib.colormaps[name](np.linspace(0.0, 1.0, n))
    return np.round(rgba[:, :3] * 255).astype(np.uint8)


def sulcal_grey(sulc) -> np.ndarray:
    """Grey background from sulcal depth: gyri light, sulci dark.

    Parameters
    ----------
    sulc : ndarray, shape (n_vertices,)

    Returns
    -------
    rgb : ndarray, shape (n_vertices, 3), uint8
    """
    sulc = np.asarray(sulc, dtype=float)
    scale = np.nanpercentile(np.abs(sulc), 95) or 1.0
    level = 0.64 - 0.2 * np.tanh(2.0 * np.nan_to_num(sulc) / scale)
    return np.repeat(np.round(level * 255).astype(np.uint8)[:, None], 3, axis=1)


def connection_arcs(centres, pairs, brain_centre, n_points: int = 17, lift_mm: float = 15.0) -> np.ndarray:
    """Arcs between ROI centres that bulge away from the brain's centre.

    A straight segment between two ROIs runs under the cortical surface and is
    hidden; a quadratic Bézier curve whose control point is pushed outwards
    (by half the distance of the two ROIs plus ``lift_mm``) rises above it.

    Parameters
    ----------
    centres : ndarray, shape (n_rois, 3)
    pairs : ndarray, shape (n_pairs, 2)
        ROI indices of each connection.
    brain_centre : ndarray, shape (3,)
    n_points : int
        Points per arc.

    Returns
    -------
    arcs : ndarray, shape (n_pairs, n_points, 3)
        Each arc starts at the first ROI and ends at the second.
    """
    centres = np.asarray(centres, dtype=float)
    pairs = np.asarray(pairs, dtype=int).reshape(-1, 2)
    a, b = centres[pairs[:, 0]], centres[pairs[:, 1]]
    mid = (a + b) / 2
    out = mid - np.asarray(brain_centre, dtype=float)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    out = np.where(norm > 1e-9, out / np.where(norm > 1e-9, norm, 1.0), np.array([0.0, 0.0, 1.0]))
    control = mid + out * (0.5 * np.linalg.norm(b - a, axis=1, keepdims=True) + lift_mm)
    t = np.linspace(0.0, 1.0, n_points)[None, :, None]
    return (1 - t) ** 2 * a[:, None] + 2 * (1 - t) * t * control[:, None] + t ** 2 * b[:, None]


def shade(values, grey, table, vmax: float, threshold: float, out=None) -> np.ndarray:
    """Colour vertices by value over a grey background.

    Parameters
    ----------
    values : ndarray, shape (n,)
        Values (NaN: no value).
    grey : ndarray, shape (n, 3), uint8
        Background colour of each vertex.
    table : ndarray, shape (n_colors, 3), uint8
        Diverging colour map from -vmax to +vmax.
    vmax : float
        Half range of the colour map.
    threshold : float
        Fraction of ``vmax``; values with ``|v| < threshold * vmax`` keep the grey.
    out : ndarray, shape (n, 3), uint8, optional
        Written in place when given.

    Returns
    -------
    rgb : ndarray, shape (n, 3), uint8
    """
    values = np.asarray(values, dtype=float)
    if out is None:
        out = np.empty_like(grey)
    out[...] = grey
    if not vmax > 0:
        return out
    with np.errstate(invalid="ignore"):
        show = np.isfinite(values) & (np.abs(values) >= threshold * vmax)
    v = values[show]
    idx = np.clip(np.round((v / vmax + 1.0) / 2.0 * (len(table) - 1)), 0, len(table) - 1).astype(np.intp)
    out[show] = table[idx]
    return out


NOTE_STYLE = "padding: 2px 6px; background: #fff4c2;"
PLAIN_NOTE_STYLE = "padding: 2px 6px; color: #303030;"


#: Tooltip of the native-space note: why, and what to do.
SPACE_TIP = ("The atlas gives each ROI a position in MNI space; the ROI signals were read at those positions. "
             "In a BOLD image that is not registered to an MNI template they fall on other tissue, so the "
             "values drawn at each region of this MNI cortex do not come from that region of the subject. "
             "Register the BOLD to MNI (e.g. fMRIPrep --output-spaces MNI152NLin2009cAsym) and analyse again.")


def _shape_problem(results) -> Optional[str]:
    """What is inconsistent in the CAM arrays of ``results``, or None."""
    coords = results.get("saliency", "roi_coords")
    cam = results.get("saliency", "fmri_cam")
    if coords.ndim != 2 or coords.shape[1] != 3:
        return f"saliency.npz roi_coords has shape {coords.shape}, expected (n_rois, 3)"
    n_rois, n_classes = coords.shape[0], len(results.classes)
    if cam.shape != (n_classes, n_rois):
        return f"saliency.npz fmri_cam has shape {cam.shape}, expected ({n_classes}, {n_rois}) (classes, ROIs)"
    eeg = results.get("saliency", "eeg_roi_cam")
    if eeg is not None and eeg.shape != (len(results.bands), n_classes, n_rois):
        return (f"saliency.npz eeg_roi_cam has shape {eeg.shape}, expected "
                f"({len(results.bands)}, {n_classes}, {n_rois}) (bands, classes, ROIs)")
    return None


def _resolved(path) -> Optional[Path]:
    try:
        return Path(path).expanduser().resolve()
    except (TypeError, ValueError, OSError):
        return None


def recording_in_dataset(recording, dataset) -> bool:
    """True when an open recording is one of the recordings a results bundle was made from.

    Parameters
    ----------
    recording : Recording
        ``state.dataset`` (its ``bold_path`` and ``eeg_path``).
    dataset : dict or None
        The bundle's ``dataset.json``: a recording matches one of its
        ``recordings[]`` by BOLD or EEG file; for bundles whose recordings do not
        record their files, by its ``source`` (a file among those listed, or a
        folder holding the recording's files).
    """
    paths = {_resolved(getattr(recording, a)) for a in ("bold_path", "eeg_path") if getattr(recording, a, None)}
    paths.discard(None)
    if not paths or not dataset:
        return False
    recorded = set()
    for rec in dataset.get("recordings") or []:
        if isinstance(rec, dict):
            recorded |= {_resolved(rec[k]) for k in ("bold_path", "eeg_path") if rec.get(k)}
    recorded.discard(None)
    if recorded:
        return bool(paths & recorded)
    sources = dataset.get("source")
    sources = [sources] if isinstance(sources, str) else list(sources or [])
    for source in (_resolved(s) for s in sources if s):
        if source is not None and any(p == source or source in p.parents for p in paths):
            return True
    return False


def bundle_name(bundle) -> str:
    """A results bundle's folder name (its ``dataset.json`` label when it has no folder)."""
    path = getattr(bundle, "path", None)
    if path:
        return Path(path).name
    return str((getattr(bundle, "dataset", None) or {}).get("label") or "open results")


def _faces_vtk(faces: np.ndarray) -> np.ndarray:
    return np.hstack([np.full((len(faces), 1), 3, dtype=np.int64), faces]).ravel()


class CortexView(QWidget):
    """fsaverage5 cortex with CAM saliency, ROI spheres and electrodes.

    Parameters
    ----------
    state : AppState
        The shared state; the view follows its results, class, band and node
        selection, and writes the class, band and ROI selection back.
    parent : QWidget, optional
    """

    def __init__(self, state, parent: Optional[QWidget] = None):
        super().__init__(parent)
        import pyvista as pv
        from pyvistaqt import QtInteractor

        from eegfmri_viewer.graphs import surface_mapping

        self._pv = pv
        self._sm = surface_mapping
        self.state = state
        self.surfaces = surface_mapping.load_fsaverage5()
        self._grey = sulcal_grey(self.surfaces.sulc)
        self._table = colormap_table()
        self.surface = "pial"
        self.source = "fmri"
        self._results = None
        self._weights = None
        self._roi_coords = None
        self._roi_anchor = None
        self._roi_names: list = []
        self._roi_actor = None
        self._roi_mesh = None
        self._roi_scale = np.ones(0)
        self._connection_actor = None
        self._connection_key = None
        self._sphere_template = None
        self._head_actor = None
        self._electrode_actor = None
        self._electrode_labels = None
        self._electrode_pos: Optional[np.ndarray] = None
        self._press_pos = None
        self._vmax = 0.0
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(0)
        self._render_timer.timeout.connect(self._render_now)
        self.last_values: Optional[np.ndarray] = None  # (n_vertices,) values shown

        self._build_controls()
        self.plotter = QtInteractor(self, auto_update=False)
        self.plotter.set_background(BACKGROUND)
        self.software_gl: Optional[bool] = None  # known after the first frame
        self._light_code: Optional[str] = None  # diffuse-only lighting, software GL only
        self._renderer_observer = self.plotter.ren_win.AddObserver("EndEvent", self._check_renderer)
        self.plotter.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.compare_row)
        self.overlay_note = QLabel()
        self.overlay_note.setWordWrap(True)
        self.overlay_note.setStyleSheet("padding: 2px 6px; background: #fff4c2;")
        self.overlay_note.setVisible(False)
        self.overlay_note.setTextFormat(Qt.RichText)
        # The view that put its map here may be closed or out of sight: the way back is here too.
        self.overlay_note.linkActivated.connect(lambda _href: self.state.dismiss_overlay())
        self.quality_note = ModelQualityLabel(self)
        # All notes share one area of capped height that scrolls, so that however many there are the
        # map keeps PLOTTER_MIN_HEIGHT and no note is cut (each label is given its whole height).
        self.notes = QWidget()
        notes = QVBoxLayout(self.notes)
        notes.setContentsMargins(0, 0, 0, 0)
        notes.setSpacing(2)
        # what the map shown is (and what it is worth) first; the caveats that stay the same below
        for w in (self.source_note, self.overlay_note, self.compare_note, self.quality_note, self.space_note,
                  self.message):
            notes.addWidget(w)
        notes.addStretch(1)
        self.notes_area = QScrollArea(self)
        self.notes_area.setWidget(self.notes)
        self.notes_area.setWidgetResizable(True)
        self.notes_area.setFrameShape(QFrame.NoFrame)
        self.notes_area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.notes_area.setVerticalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        layout.addWidget(self.notes_area)
        layout.addWidget(self.plotter, 1)

        self._build_cortex()
        self._build_scalar_bar()
        self._build_selection_marker()
        self._setup_picking()

        state.resultsChanged.connect(self._on_results)
        state.overlayChanged.connect(self._on_overlay)
        state.classChanged.connect(self._on_class)
        state.bandChanged.connect(self._on_band)
        state.nodeChanged.connect(self._on_node)
        state.compareChanged.connect(self._on_compare)
        state.datasetChanged.connect(lambda _d: self._update_space_note())
        self._on_results(state.results)
        self._on_compare(state.compare)
        self._reset_camera()
        app = QApplication.instance()
        if app is not None:
            # Docked views are not closed with the main window; release the
            # OpenGL context before Qt tears the window down.
            app.aboutToQuit.connect(self.close_plotter)

    def request_render(self) -> None:
        """Render once when control returns to the event loop.

        Several changes in one user action (results, class, selection) then
        cost one frame; call ``self.plotter.render()`` to draw synchronously.
        """
        # A child timer, not QTimer.singleShot: it dies with the view, so no
        # render can fire on a destroyed view or a closed render window.
        if not self._render_timer.isActive():
            self._render_timer.start()

    def _check_renderer(self, render_window, _event) -> None:
        """After the first frame: make a software rasteriser fast enough.

        With llvmpipe, 4x MSAA quadruples the fragment work (a class switch
        cost 140-400 ms); without it the only visible change is slightly less
        smooth silhouettes. The lighting code without the (zero) specular term
        gives the same colours. GPUs keep the theme's anti-aliasing and VTK's
        shaders.
        """
        renderer = gl_renderer(render_window)
        if not renderer:
            return
        render_window.RemoveObserver(self._renderer_observer)
        self.software_gl = is_software_gl(renderer)
        if not self.software_gl:
            return
        if render_window.GetMultiSamples() > 0:
            render_window.SetMultiSamples(0)
        lights = [light for light in self.plotter.renderer.GetLights() if light.GetSwitch()]
        # Only the case VTK draws with "light complexity 2" (several directional
        # lights, e.g. pyvista's light kit): other cases declare other uniforms.
        if len(lights) >= 2 and not any(light.GetPositional() for light in lights):
            self._light_code = diffuse_light_code(len(lights))
            for actor in (getattr(self, "cortex_actor", None), self._roi_actor):
                self._use_diffuse_lighting(actor)
        self.request_render()

    def _use_diffuse_lighting(self, actor) -> None:
        """Shade ``actor`` with :func:`diffuse_light_code` if that leaves its colours unchanged."""
        if actor is None or self._light_code is None or actor.prop.specular != 0:
            return
        actor.GetShaderProperty().AddFragmentShaderReplacement("//VTK::Light::Impl", True, self._light_code, False)

    def _render_now(self) -> None:
        plotter = getattr(self, "plotter", None)
        if plotter is not None and not getattr(plotter, "_closed", False):
            plotter.render()

    # -- construction -------------------------------------------------------------
    def _build_controls(self) -> None:
        # A tool bar, not a row layout: when the dock is narrow the controls
        # that do not fit move into its overflow menu instead of forcing a
        # minimum width on the whole window.
        bar = QToolBar(self)
        bar.setMovable(False)
        self.surface_combo = QComboBox()
        self.surface_combo.addItems(["Pial", "Inflated"])
        self.surface_combo.setToolTip("Cortical surface of fsaverage5")
        self.source_combo = QComboBox()
        self.source_combo.addItems(["fMRI CAM", "EEG CAM"])
        self.source_combo.setToolTip("Which class activation map to show on the cortex. The EEG CAM is the "
                                     "electrodes' CAM carried to the ROIs by the transfer matrix (EEG onto "
                                     "ROIs), so its scale is not that of the Electrode graph's values")
        self.band_combo = QComboBox()
        self.band_combo.setToolTip("EEG band of the EEG CAM (carried from electrodes to ROIs)")
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("Class (brain state) whose CAM is shown")
        self.threshold_slider = QSlider(Qt.Horizontal)
        self.threshold_slider.setRange(0, 100)
        self.threshold_slider.setValue(30)
        self.threshold_slider.setToolTip("Hide |CAM| below this fraction of the class's largest |CAM|")
        self.threshold_slider.setMinimumWidth(60)
        self.threshold_slider.setMaximumWidth(160)
        self.threshold_label = QLabel()
        self.camera_combo = QComboBox()
        self.camera_combo.addItems(list(CAMERA_VIEWS))
        self.camera_combo.setToolTip("Look at the brain from this side (drag to rotate)")
        self.rois_check = QCheckBox("ROIs")
        self.rois_check.setChecked(True)
        self.electrodes_check = QCheckBox("Electrodes")
        self.connections_check = QCheckBox("Connections")
        self.connections_check.setToolTip(CONNECTIONS_TIP)
        self.compare_combo = QComboBox()
        self.compare_combo.addItems(list(COMPARE_SIDES))
        self.compare_combo.setToolTip("Compare mode (File \u25b8 Compare\u2026): relative CAM of session A, "
                                      "of session B, or the change B \u2212 A")
        self.q_check = QCheckBox("only q <")
        self.q_check.setToolTip("Colour only ROIs whose change is significant (permutation test, FDR q)")
        self.q_spin = QDoubleSpinBox()
        self.q_spin.setDecimals(3)
        self.q_spin.setRange(0.001, 1.0)
        self.q_spin.setSingleStep(0.01)
        self.q_spin.setValue(DEFAULT_Q)
        for w in (self.compare_combo, self.q_check, self.q_spin):
            w.setEnabled(False)
        for label, widget in (("View", self.camera_combo), ("Surface", self.surface_combo),
                              ("Source", self.source_combo), ("Band", self.band_combo),
                              ("Class", self.class_combo), ("Threshold", self.threshold_slider)):
            bar.addWidget(QLabel(f" {label} "))
            bar.addWidget(widget)
        bar.addWidget(self.threshold_label)
        bar.addSeparator()
        bar.addWidget(self.rois_check)
        bar.addWidget(self.connections_check)
        bar.addWidget(self.electrodes_check)
        self.toolbar = bar
        # The compare controls get a row of their own, shown in compare mode only: in
        # the tool bar they fell into its overflow menu at common window widths.
        self.compare_row = QWidget(self)
        row = QHBoxLayout(self.compare_row)
        row.setContentsMargins(6, 0, 6, 0)
        row.addWidget(QLabel("Compare"))
        row.addWidget(self.compare_combo)
        row.addWidget(self.q_check)
        row.addWidget(self.q_spin)
        row.addStretch(1)
        self.compare_row.setVisible(False)
        self.compare_note = QLabel()
        self.compare_note.setWordWrap(True)
        self.compare_note.setTextFormat(Qt.RichText)
        self.compare_note.setVisible(False)
        self.compare_note.linkActivated.connect(lambda _href: self.q_check.setChecked(True))
        self.compare_note_warning = False
        self.space_note = QLabel()
        self.space_note.setWordWrap(True)
        self.space_note.setStyleSheet(NOTE_STYLE)
        self.space_note.setToolTip(SPACE_TIP)
        self.space_note.setVisible(False)
        self.source_note = QLabel()
        self.source_note.setWordWrap(True)
        self.source_note.setTextFormat(Qt.PlainText)  # folder and run names as they are
        self.source_note.setStyleSheet(NOTE_STYLE)
        self.source_note.setVisible(False)
        self.message = QLabel(NO_RESULTS_MESSAGE)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("padding: 2px 6px;")
        self._update_threshold_label()

        self.surface_combo.currentIndexChanged.connect(
            lambda i: self.set_surface("inflated" if i == 1 else "pial"))
        self.source_combo.currentIndexChanged.connect(
            lambda i: self.set_source("eeg" if i == 1 else "fmri"))
        self.band_combo.activated.connect(lambda i: self.state.set_band(self.band_combo.itemText(i)))
        self.class_combo.activated.connect(lambda i: self.state.set_class(i))
        self.camera_combo.activated.connect(lambda i: self.set_camera(self.camera_combo.itemText(i)))
        self.threshold_slider.valueChanged.connect(self._on_threshold)
        self.rois_check.toggled.connect(self._on_rois_toggled)
        self.electrodes_check.toggled.connect(self.set_electrodes_visible)
        self.connections_check.toggled.connect(lambda _on: self._refresh_connections())
        self.compare_combo.currentIndexChanged.connect(lambda _i: self._on_compare_controls())
        self.q_check.toggled.connect(lambda _on: self._on_compare_controls())
        self.q_spin.valueChanged.connect(lambda _v: self._on_compare_controls())

    def _build_cortex(self) -> None:
        pv = self._pv
        s = self.surfaces
        mesh = pv.PolyData(s.pial.copy(), _faces_vtk(s.faces))
        self._normals = {}
        for name in ("pial", "inflated"):
            tmp = pv.PolyData(s.coordinates(name), _faces_vtk(s.faces))
            self._normals[name] = np.asarray(
                tmp.compute_normals(cell_normals=False, split_vertices=False, consistent_normals=False)
                .point_data["Normals"], dtype=np.float32)
        mesh.point_data["Normals"] = self._normals["pial"].copy()
        mesh.GetPointData().SetActiveNormals("Normals")
        mesh.point_data["rgb"] = self._grey.copy()
        self.cortex_actor = self.plotter.add_mesh(
            mesh, scalars="rgb", rgb=True, name="cortex", show_scalar_bar=False, reset_camera=False, render=False)
        self.cortex_actor.prop.interpolation = "gouraud"
        # Each hemisphere is a closed surface: its back faces are never seen,
        # and culling them saves a software rasteriser about a third of a frame.
        self.cortex_actor.prop.culling = "back"
        # The mapper may hold a copy; colour updates must write to its input.
        self.cortex_mesh = self.cortex_actor.mapper.dataset

    def _build_scalar_bar(self) -> None:
        from vtkmodules.vtkRenderingAnnotation import vtkScalarBarActor

        self._lut = self._pv.LookupTable()
        self._lut.values = np.column_stack([self._table, np.full(len(self._table), 255, np.uint8)])
        self._lut.scalar_range = (-1.0, 1.0)
        bar = vtkScalarBarActor()
        bar.SetLookupTable(self._lut)
        bar.SetNumberOfLabels(5)
        bar.SetOrientationToVertical()
        bar.SetPosition(0.88, 0.08)
        bar.SetWidth(0.08)
        bar.SetHeight(0.75)
        bar.SetVerticalTitleSeparation(10)
        # three significant digits: a CAM of 430 reads "430", not "4.3e+02"
        bar.SetLabelFormat("%.3g")
        for prop in (bar.GetTitleTextProperty(), bar.GetLabelTextProperty()):
            prop.SetColor(0.1, 0.1, 0.1)
            prop.ShadowOff()
            prop.ItalicOff()
            prop.SetFontSize(12)
        bar.UnconstrainedFontSizeOn()
        bar.SetVisibility(False)
        self.plotter.renderer.AddViewProp(bar)
        self.scalar_bar = bar

    def _build_selection_marker(self) -> None:
        sphere = self._pv.Sphere(radius=SELECTED_RADIUS_MM, theta_resolution=16, phi_resolution=16)
        self.selection_actor = self.plotter.add_mesh(
            sphere, color=(1.0, 0.85, 0.0), name="selected_roi", reset_camera=False, pickable=False, render=False)
        self.selection_actor.prop.culling = "back"
        self.selection_actor.SetVisibility(False)
        self.selection_text = self.plotter.add_text("", position="lower_left", font_size=10,
                                                    color=(0.1, 0.1, 0.1), name="selected_roi_name",
                                                    render=False)

    def _setup_picking(self) -> None:
        from vtkmodules.vtkRenderingCore import vtkCellPicker

        self._picker = vtkCellPicker()
        self._picker.SetTolerance(0.0005)
        self._picker.PickFromListOn()
        self._picker.AddPickList(self.cortex_actor)
        # A Qt event filter, not VTK observers: VTK's camera style grabs the
        # mouse focus on press, so interactor observers never see the release.
        self.plotter.installEventFilter(self)

    def _reset_camera(self) -> None:
        self.set_camera("Oblique")

    def set_camera(self, view: str) -> None:
        """Look at the whole cortex from one of :data:`CAMERA_VIEWS`."""
        direction = np.asarray(CAMERA_VIEWS[view], dtype=float)
        direction /= np.linalg.norm(direction)
        centre = np.asarray(self.cortex_mesh.center)
        up = (0.0, 1.0, 0.0) if abs(direction[2]) > 0.9 else (0.0, 0.0, 1.0)
        self.plotter.camera_position = [tuple(centre + 420 * direction), tuple(centre), up]
        self.plotter.reset_camera(bounds=self.cortex_mesh.bounds)
        self.plotter.camera.zoom(1.3)
        self.camera_combo.setCurrentText(view)
        self.request_render()

    # -- results ------------------------------------------------------------------
    def _on_results(self, results) -> None:
        self._results = results
        self._weights = None
        self._roi_coords = self._roi_anchor = None
        self._roi_names = []
        self._remove_roi_actor()
        self._remove_connections()
        self._remove_electrodes()
        has = results is not None and results.has("saliency", "fmri_cam") and results.has("saliency", "roi_coords")
        problem = _shape_problem(results) if has else None
        has = has and problem is None
        # a map keeps its minimum height; an empty view asks for none, so the window can be small
        self.plotter.setMinimumHeight(PLOTTER_FLOOR_HEIGHT if has else 0)
        self.updateGeometry()
        self.connections_check.setEnabled(bool(has and results.has("saliency", "salient_fmri_connections")))
        self.connections_check.setToolTip(
            CONNECTIONS_TIP if self.connections_check.isEnabled() or results is None else
            "These results have no salient connections (saliency.npz: salient_fmri_connections); "
            "analyse again to get them")
        for w in (self.source_combo, self.band_combo, self.class_combo, self.threshold_slider, self.rois_check):
            w.setEnabled(has)
        self.class_combo.clear()
        self.band_combo.clear()
        if not has:
            if results is None:
                text = NO_RESULTS_MESSAGE
            elif problem is not None:
                text = f"Cannot show these results on the cortex: {problem}."
            else:
                text = ("These results have no fMRI CAM (saliency.npz: fmri_cam, roi_coords); "
                        "run an analysis to see CAM saliency.")
            self.message.setText(text)
            self.message.setVisible(True)
            self._update_electrodes_check()
            self._update_space_note()
            self.selection_actor.SetVisibility(False)
            self.selection_text.SetText(0, "")
            self._show_values(None)
            return
        self._roi_coords = np.asarray(results.get("saliency", "roi_coords"), dtype=float)
        self._roi_names = [str(n) for n in results.get("saliency", "roi_names", np.array([], dtype=str))]
        self._weights = self._sm.roi_vertex_weights(self.surfaces.pial, self._roi_coords)
        self._roi_anchor = self._sm.roi_anchor_vertices(self.surfaces.pial, self._roi_coords)
        self.class_combo.addItems(results.classes)
        has_eeg = results.has("saliency", "eeg_roi_cam") and len(results.bands) > 0
        self.band_combo.addItems(results.bands if has_eeg else [])
        item = self.source_combo.model().item(1)
        item.setEnabled(has_eeg)
        item.setToolTip("" if has_eeg else "This bundle has no EEG CAM (fMRI-only analysis)")
        if not has_eeg and self.source == "eeg":
            self.source_combo.setCurrentIndex(0)
            self.source = "fmri"
        self.band_combo.setEnabled(has_eeg and self.source == "eeg")
        if not results.has("saliency", "ch_pos") and self.electrodes_check.isChecked():
            self.electrodes_check.setChecked(False)
        self._update_electrodes_check()
        self._update_space_note()
        self.message.setText(FMRI_ONLY_MESSAGE if not has_eeg else "")
        self.message.setVisible(not has_eeg)
        self._build_rois()
        self._sync_combos()
        self._refresh_colors()
        self._on_node(self.state.selection.node_kind or "", self.state.selection.node_index
                      if self.state.selection.node_index is not None else -1)
        if self.electrodes_check.isChecked():
            self.set_electrodes_visible(True)

    def _sync_combos(self) -> None:
        sel = self.state.selection
        self.class_combo.setCurrentIndex(self.class_index())
        bands = [self.band_combo.itemText(i) for i in range(self.band_combo.count())]
        if sel.band in bands:
            self.band_combo.setCurrentIndex(bands.index(sel.band))

    def class_index(self) -> int:
        """Class shown: the state's class, clipped to the bundle's classes."""
        n = len(self._results.classes) if self._results is not None else 0
        return min(self.state.selection.class_index, max(n - 1, 0))

    def band_name(self) -> Optional[str]:
        """Band shown for the EEG source: the state's band, else the bundle's first."""
        bands = self._results.bands if self._results is not None else []
        if not bands:
            return None
        band = self.state.selection.band
        return band if band in bands else bands[0]

    def compare_side(self) -> Optional[str]:
        """``"a"``, ``"b"`` or ``"diff"`` in compare mode, None otherwise."""
        if self.state.compare is None or self._weights is None:
            return None
        return COMPARE_SIDES[self.compare_combo.currentText()]

    def _compare_key(self) -> str:
        """Compare-array stem of the current source: ``fmri_cam`` or ``eeg_roi_cam``."""
        return "eeg_roi_cam" if self.source == "eeg" else "fmri_cam"

    def _compare_array(self, suffix: str) -> Optional[np.ndarray]:
        """compare.npz array ``<source>_<suffix>`` of the shown source and band.

        Returns
        -------
        values : ndarray, shape (n_classes, n_rois), or None
            None when the comparison lacks it (e.g. no EEG, or another band set).
        """
        arrays = self.state.compare.arrays
        key = f"{self._compare_key()}_{suffix}"
        if key not in arrays:
            return None
        values = np.asarray(arrays[key], dtype=float)
        if self.source == "eeg":
            bands = [str(b) for b in arrays.get("bands", [])]
            if self.band_name() not in bands:
                return None
            values = values[bands.index(self.band_name())]
        return values if values.shape == (len(self._results.classes), len(self._roi_coords)) else None

    def _compare_cam(self, side: str) -> np.ndarray:
        """Compared CAM of the current source, shape (n_classes, n_rois); NaN where absent.

        In compare mode A and B are the mean relative (per-window z-scored)
        CAM of each session, so they can differ from the bundle's group CAM.
        """
        values = self._compare_array(side)
        return np.full((len(self._results.classes), len(self._roi_coords)), np.nan) if values is None else values

    def significant_mask(self) -> Optional[np.ndarray]:
        """ROIs coloured under "only q <", shape (n_rois,) bool; None when not masking."""
        if self.compare_side() is None or not self.q_check.isChecked():
            return None
        q = self._compare_array("q")
        if q is None:
            return np.zeros(len(self._roi_coords), dtype=bool)
        return np.nan_to_num(q[self.class_index()], nan=1.0) < self.q_spin.value()

    def _source_cam(self) -> Optional[np.ndarray]:
        """CAM of the current source for all classes, shape (n_classes, n_rois)."""
        r = self._results
        if r is None or self._weights is None:
            return None
        side = self.compare_side()
        if side is not None:
            return self._compare_cam(side)
        if self.source == "eeg" and r.has("saliency", "eeg_roi_cam"):
            band = self.band_name()
            return np.asarray(r.get("saliency", "eeg_roi_cam")[r.bands.index(band)], dtype=float)
        return np.asarray(r.get("saliency", "fmri_cam"), dtype=float)

    def overlay(self):
        """The state's overlay when it fits the open results' ROIs, else None."""
        overlay = self.state.overlay
        if overlay is None or self._roi_coords is None or len(overlay.values) != len(self._roi_coords):
            return None
        return overlay

    def roi_values(self) -> Optional[np.ndarray]:
        """Value shown at each ROI, shape (n_rois,): the overlay's, else the CAM of the shown class and source."""
        overlay = self.overlay()
        if overlay is not None and self._weights is not None:
            return overlay.values.copy()
        cam = self._source_cam()
        if cam is None:
            return None
        values = cam[self.class_index()].copy()
        mask = self.significant_mask()
        if mask is not None:
            values[~mask] = np.nan
        return values

    def _refresh_scale(self) -> None:
        # Each class (and band) is scaled to its own largest |CAM|: CAMs of
        # different classes come from different output weights and are not on
        # a common scale, so a shared range would hide the weaker classes.
        cam = self.roi_values()
        self._vmax = float(np.nanmax(np.abs(cam))) if cam is not None and np.isfinite(cam).any() else 0.0
        vmax = self._vmax if self._vmax > 0 else 1.0
        self._lut.scalar_range = (-vmax, vmax)
        # The bar shows the thresholded band in grey, as on the surface.
        table = self._table.copy()
        centre = (np.arange(len(table)) + 0.5) / len(table) * 2 - 1
        table[np.abs(centre) < self.threshold()] = (150, 150, 150)
        self._lut.values = np.column_stack([table, np.full(len(table), 255, np.uint8)])
        self.scalar_bar.SetTitle(self.value_title())
        self.scalar_bar.SetVisibility(self._results is not None and self._weights is not None)

    def value_title(self) -> str:
        """What the colours show, as the colour bar's title (e.g. ``"fMRI CAM"``)."""
        # The EEG CAM reaches the ROIs through the transfer matrix, which sets its scale: not the electrodes' values.
        title = "fMRI CAM" if self.source == "fmri" else f"EEG {self.band_name()} CAM at ROIs"
        if self.overlay() is not None:
            # The note above the view gives the whole title; the bar keeps it short.
            return self.overlay().title.split(" (")[0]
        if self.compare_side() is not None:
            title = f"{title} {self.compare_combo.currentText()}" + (
                f" (q < {self.q_spin.value():g})" if self.q_check.isChecked() else "")
        return title

    def threshold(self) -> float:
        """Threshold as a fraction of the largest |CAM| of the shown class and source."""
        return self.threshold_slider.value() / 100.0

    def _update_threshold_label(self) -> None:
        self.threshold_label.setText(f"{self.threshold_slider.value():d} %")

    # -- colours (in place) -------------------------------------------------------
    def _refresh_colors(self) -> None:
        self._update_quality_note()
        self._update_compare_note()
        self._refresh_scale()
        self._show_values(self.roi_values())
        self._refresh_connections()
        sel = self.state.selection
        if sel.node_kind == "roi" and self._roi_coords is not None:
            self._on_node("roi", sel.node_index)
        self._fit_notes()

    # -- notes beside the map ------------------------------------------------------------
    def bundle_b(self):
        """Session B's results bundle in compare mode (A's when both sessions come from it); None if unknown."""
        compare = self.state.compare
        if compare is None:
            return None
        bundle = getattr(compare, "bundle_b", None)
        if bundle is not None:
            return bundle
        meta = compare.meta or {}
        if meta.get("bundle_b") is not None and meta.get("bundle_b") == meta.get("bundle_a"):
            return self._results
        return None

    def _one_model(self) -> bool:
        """True when A and B of the comparison come from one bundle, hence one model."""
        compare = self.state.compare
        bundle = getattr(compare, "bundle_b", None)
        if bundle is not None:
            return bundle is self._results
        meta = getattr(compare, "meta", None) or {}
        return meta.get("bundle_b") is not None and meta.get("bundle_b") == meta.get("bundle_a")

    def _update_quality_note(self) -> None:
        band = self.band_name() if self.source == "eeg" else ""
        if self._weights is None or self.overlay() is not None:
            self.quality_note.show_for(None, self.source, band)
            return
        side = self.compare_side()
        if side is None or self._one_model():
            self.quality_note.show_for(self._results, self.source, band)
        elif side == "a":
            self.quality_note.show_for(self._results, self.source, band, who="A's ")
        elif side == "b":
            # B's map, B's model: its verdict, or both sides' when B's bundle is not at hand
            bundle = self.bundle_b()
            if bundle is not None:
                self.quality_note.show_for(bundle, self.source, band, who="B's ")
            else:
                self.quality_note.show_pair([("B", None), ("A", self._results)], self.source, band)
        else:
            # B − A mixes two models: a change is only worth reading if both classify
            self.quality_note.show_pair([("A", self._results), ("B", self.bundle_b())], self.source, band)

    def compare_summary(self) -> Optional[dict]:
        """How many ROIs of the shown class and source reach the q threshold in compare mode.

        Returns
        -------
        summary : dict or None
            None outside compare mode. Keys: ``q`` (threshold), ``n_significant``
            and ``n_tested`` (ROIs with a q-value; both None when the comparison
            has no q-values for this source and band), ``units`` (e.g. "2 vs 2
            blocks"), ``smallest_p`` (the smallest p the test of these units can
            give, or None), ``warnings`` (the comparison's, less the space warning
            while the space note shows it: :meth:`compare_warnings`), ``text``
            (the note, plain text: for A or B what that side's map is, and the
            count of the change B − A), ``reliable`` (False when no ROI reaches
            the threshold or there are no q-values) and ``side`` (``"a"``,
            ``"b"`` or ``"diff"``).
        """
        compare = self.state.compare
        if compare is None or self._weights is None:
            return None
        meta = compare.meta or {}
        cls_i = self.class_index()
        cls = self._results.classes[cls_i] if self._results.classes else ""
        threshold = self.q_spin.value()
        # the CLI's and the report's words for what the test of these units can show
        units, floor = class_units_text(compare, cls_i), class_floor(compare, cls_i)
        source = "fMRI CAM" if self.source == "fmri" else f"EEG {self.band_name()} CAM"
        side = self.compare_side() or "diff"
        q = self._compare_array("q")
        warnings = self.compare_warnings()
        if side == "diff":
            head = f"B \u2212 A ({source}, class {cls})"
        else:
            # A's or B's own map: say what it is, and that the count below is of the change
            label = meta.get(side) or side.upper()
            relative = str(meta.get("cam_normalisation", "")).startswith("z-score")
            what = "mean relative CAM (each window z-scored across ROIs)" if relative else "mean CAM"
            head = f"{side.upper()} ({source}, class {cls}): the {what} of {label}, not a change."
        if q is None:
            text = (f"{head}: this comparison has no q-values here; the colours are differences without a test."
                    if side == "diff" else f"{head} This comparison has no q-values here: the change is not tested.")
            return dict(q=threshold, n_significant=None, n_tested=None, units=units, smallest_p=floor,
                        warnings=warnings, text=text, reliable=False, side=side)
        row = q[cls_i]
        n_tested = int(np.isfinite(row).sum())
        n_sig = int((np.nan_to_num(row, nan=1.0) < threshold).sum())
        detail = class_resolution_text(compare, cls_i, threshold) or units
        detail = f" ({detail})" if detail else ""
        reach = f"{n_sig} of {n_tested} ROIs reach q < {threshold:g}{detail}"
        if side != "diff":
            shown = ("; only these are coloured" if n_sig else ", so no ROI is coloured") \
                if self.q_check.isChecked() else ""
            text = f"{head} For the change B \u2212 A, {reach}{shown}."
        elif n_sig == 0:
            text = f"{head}: {reach}: the colours show no reliable change."
        elif self.q_check.isChecked():
            text = f"{head}: {reach}; only these are coloured."
        else:
            text = f"{head}: {reach}; the other colours are changes that are not significant."
        return dict(q=threshold, n_significant=n_sig, n_tested=n_tested, units=units, smallest_p=floor,
                    warnings=warnings, text=text, reliable=n_sig > 0, side=side)

    def compare_warnings(self) -> list:
        """The comparison's warnings that the compare note repeats.

        The warning about BOLD not in MNI space (the comparison's ``space`` is
        not MNI) is left out while the space note above shows the caveat for
        the recordings of both sides; it is the one
        :func:`eegfmri_viewer.comparison.compare.coordinate_space` gives for
        the sides' recorded spaces.
        """
        compare = self.state.compare
        meta = (compare.meta or {}) if compare is not None else {}
        warnings = [str(w) for w in (meta.get("warnings") or [])]
        space = meta.get("space")
        if not warnings or space is None or is_mni_space(space) or not self.space_note_text():
            return warnings
        bundles = self._shown_bundles()
        if len(bundles) < 2 and not self._one_model():
            return warnings  # B's recordings are not in the space note: keep the comparison's word on them
        b = bundles[-1]
        _space, _note, space_warning = coordinate_space({
            str(meta.get("a") or "A"): dataset_spaces(getattr(self._results, "dataset", None)),
            str(meta.get("b") or "B"): dataset_spaces(getattr(b, "dataset", None))})
        return [w for w in warnings if w != space_warning]

    def _update_compare_note(self) -> None:
        # another view's map (overlay) is on the surface: the note about the change would describe nothing shown
        summary = self.compare_summary() if self.overlay() is None else None
        if summary is None:
            self.compare_note.setVisible(False)
            self.compare_note.setText("")
            self.compare_note_warning = False
            self._fit_notes()
            return
        body = html.escape(summary["text"])
        if summary["n_significant"] and not self.q_check.isChecked():
            body += f' <a href="only-q">Colour only these {summary["n_significant"]}</a>'
        lines = [body] + [f"<b>Warning:</b> {html.escape(w)}" for w in summary["warnings"]]
        # plain only when nothing is to be warned of and, for the change, what is coloured is all significant
        self.compare_note_warning = bool(summary["warnings"]) or (
            summary["side"] == "diff" and not (summary["reliable"] and self.q_check.isChecked()))
        self.compare_note.setStyleSheet(NOTE_STYLE if self.compare_note_warning else PLAIN_NOTE_STYLE)
        self.compare_note.setText("<br>".join(lines))
        self.compare_note.setVisible(True)
        self._fit_notes()

    def _shown_bundles(self) -> list:
        """The bundles whose maps the view shows: the open results and, in compare mode, B's (when another)."""
        if self._results is None:
            return []
        bundles = [self._results]
        if self.state.compare is not None:
            bundle = self.bundle_b()
            if bundle is not None and bundle is not self._results:
                bundles.append(bundle)
        return bundles

    def space_note_text(self) -> str:
        """The native-space caveat shown above the map ("" when every known space is MNI).

        It is about the map shown: the recordings of the shown results (and of
        B's bundle in compare mode), each run named once; the open recording
        only when no results are shown.
        """
        bundles = self._shown_bundles()
        if bundles:
            spaces = [pair for bundle in bundles for pair in recording_spaces(getattr(bundle, "dataset", None))]
        else:
            recording = self.state.dataset
            space = getattr(recording, "space", None)
            spaces = [(f"open recording {getattr(recording, 'label', '')}".strip(), str(space))] if space else []
        return space_caveat(spaces, noun="runs")

    def source_note_text(self) -> str:
        """``"The map is of the results demo-results, not of the open recording sub-01 …"``, or ``""``.

        Said when results are shown and the open recording is none of their
        recordings (nor of B's in compare mode).
        """
        recording = self.state.dataset
        bundles = self._shown_bundles()
        if recording is None or not bundles:
            return ""
        if any(recording_in_dataset(recording, getattr(b, "dataset", None)) for b in bundles):
            return ""
        names = " and ".join(bundle_name(b) for b in bundles)
        label = getattr(recording, "label", "") or ""
        maps = "maps are" if len(bundles) > 1 else "map is"
        return f"The {maps} of the results {names}, not of the open recording {label}".rstrip() + "."

    def _update_space_note(self) -> None:
        text = self.space_note_text()
        self.space_note.setText(text)
        self.space_note.setVisible(bool(text))
        source = self.source_note_text()
        self.source_note.setText(source)
        self.source_note.setVisible(bool(source))
        # the compare note leaves out the space warning only while this note shows it
        if self.state.compare is not None and self._weights is not None:
            self._update_compare_note()
        self._fit_notes()

    def _show_values(self, roi_values) -> None:
        rgb = self.cortex_mesh.point_data["rgb"]
        if roi_values is None:
            rgb[...] = self._grey
            self.last_values = None
            self.scalar_bar.SetVisibility(False)
        else:
            self.last_values = self._weights.map(roi_values)
            shade(self.last_values, self._grey, self._table, self._vmax, self.threshold(), out=rgb)
            if self._roi_mesh is not None:
                n = self._roi_mesh.n_points // len(roi_values)
                roi_grey = np.full((len(roi_values), 3), 200, np.uint8)
                roi_rgb = shade(roi_values, roi_grey, self._table, self._vmax, self.threshold())
                self._roi_mesh.point_data["rgb"][...] = np.repeat(roi_rgb, n, axis=0)
                self._roi_mesh.GetPointData().GetArray("rgb").Modified()
                shown = np.isfinite(roi_values) & (np.abs(roi_values) >= self.threshold() * self._vmax) \
                    & (self._vmax > 0)
                scale = np.where(shown, SALIENT_ROI_SCALE, 1.0)
                if not np.array_equal(scale, self._roi_scale):
                    self._roi_scale = scale
                    self._roi_mesh.points[...] = self._roi_points()
                    self._roi_mesh.GetPoints().Modified()
        self.cortex_mesh.GetPointData().GetArray("rgb").Modified()
        self.request_render()

    # -- ROI spheres ----------------------------------------------------------------
    def _roi_centres(self) -> np.ndarray:
        """Where each ROI sphere is drawn on the current surface, shape (n_rois, 3)."""
        if self.surface == "pial":
            return np.nan_to_num(self._roi_coords)
        # On the inflated surface an ROI sits at its nearest pial vertex's
        # inflated position; deep ROIs (no vertex within the radius) are hidden.
        centres = np.zeros_like(self._roi_coords)
        ok = self._roi_anchor >= 0
        centres[ok] = self.surfaces.inflated[self._roi_anchor[ok]]
        return centres

    def _roi_visible(self) -> np.ndarray:
        ok = np.all(np.isfinite(self._roi_coords), axis=1)
        return ok if self.surface == "pial" else ok & (self._roi_anchor >= 0)

    @property
    def roi_sphere_scale(self) -> np.ndarray:
        """Size of each ROI sphere relative to the default, shape (n_rois,): larger above the threshold."""
        return self._roi_scale.copy()

    def _roi_points(self) -> np.ndarray:
        centres = self._roi_centres()
        scale = (self._roi_visible() * self._roi_scale)[:, None, None]
        pts = self._sphere_template.points[None, :, :] * scale + centres[:, None, :]
        return pts.reshape(-1, 3)

    def _build_rois(self) -> None:
        pv = self._pv
        n = len(self._roi_coords)
        self._sphere_template = pv.Sphere(radius=ROI_RADIUS_MM, theta_resolution=8, phi_resolution=8)
        self._roi_scale = np.ones(n)
        t_faces = np.asarray(self._sphere_template.regular_faces)
        n_pts, n_cells = self._sphere_template.n_points, len(t_faces)
        faces = (t_faces[None, :, :] + (np.arange(n) * n_pts)[:, None, None]).reshape(-1, 3)
        mesh = pv.PolyData(self._roi_points(), _faces_vtk(faces))
        mesh.point_data["rgb"] = np.full((n * n_pts, 3), 200, np.uint8)
        self._roi_cells_per_sphere = n_cells
        self._roi_actor = self.plotter.add_mesh(mesh, scalars="rgb", rgb=True, name="rois",
                                                smooth_shading=False, reset_camera=False, render=False)
        self._roi_mesh = self._roi_actor.mapper.dataset
        self._roi_actor.prop.culling = "back"  # closed spheres, as for the cortex
        self._use_diffuse_lighting(self._roi_actor)
        self._roi_actor.SetVisibility(self.rois_check.isChecked())
        self._picker.AddPickList(self._roi_actor)

    def _remove_roi_actor(self) -> None:
        if self._roi_actor is not None:
            self._picker.DeletePickList(self._roi_actor)
            self.plotter.remove_actor(self._roi_actor, render=False)
        self._roi_actor = None
        self._roi_mesh = None

    # -- salient connections ----------------------------------------------------------
    def salient_connection_pairs(self) -> np.ndarray:
        """Salient connections drawn now, shape (n_drawn, 2) ROI indices (empty when not drawn).

        Drawn when "Connections" is checked, the source is the fMRI CAM and no
        comparison is shown (the connections belong to the bundle's own CAM);
        on the inflated surface, connections to hidden (deep) ROIs are left out.
        """
        r = self._results
        empty = np.zeros((0, 2), dtype=int)
        if (r is None or self._weights is None or not self.connections_check.isChecked()
                or self.source != "fmri" or self.compare_side() is not None or self.overlay() is not None
                or not r.has("saliency", "salient_fmri_connections")):
            return empty
        conn = np.asarray(r.get("saliency", "fmri_connections"), dtype=int)
        mask = np.asarray(r.get("saliency", "salient_fmri_connections"), dtype=bool)[self.class_index()]
        pairs = conn[:, mask].T
        visible = self._roi_visible()
        return pairs[visible[pairs[:, 0]] & visible[pairs[:, 1]]] if len(pairs) else empty

    def _refresh_connections(self) -> None:
        pairs = self.salient_connection_pairs()
        # Colour refreshes (e.g. threshold drags) come often; the arcs change only
        # with the pairs or the surface.
        key = (self.surface, pairs.tobytes())
        if self._connection_actor is not None and key == self._connection_key:
            return
        self._remove_connections()
        if not len(pairs):
            self.request_render()
            return
        self._connection_key = key
        pv = self._pv
        points = connection_arcs(self._roi_centres(), pairs, np.asarray(self.cortex_mesh.center))
        n = points.shape[1]
        ids = np.arange(points.shape[0] * n).reshape(-1, n)
        lines = np.column_stack([np.full(len(ids), n), ids]).ravel()
        mesh = pv.PolyData(points.reshape(-1, 3), lines=lines)
        self._connection_actor = self.plotter.add_mesh(
            mesh, color=CONNECTION_COLOR, line_width=CONNECTION_WIDTH, name="connections", pickable=False,
            reset_camera=False, render=False, lighting=False)
        self.request_render()

    def _remove_connections(self) -> None:
        if self._connection_actor is not None:
            self.plotter.remove_actor(self._connection_actor, render=False)
        self._connection_actor = None

    def _on_rois_toggled(self, on: bool) -> None:
        if self._roi_actor is not None:
            self._roi_actor.SetVisibility(bool(on))
            self.request_render()

    # -- electrodes -----------------------------------------------------------------
    def set_electrodes_visible(self, on: bool) -> None:
        """Show the fsaverage scalp and the bundle's electrodes (pial surface only)."""
        if self.electrodes_check.isChecked() != bool(on):
            self.electrodes_check.setChecked(bool(on))
            return
        show = bool(on) and self.surface == "pial" and self._results is not None \
            and self._results.has("saliency", "ch_pos")
        if show and self._electrode_actor is None:
            self._build_electrodes()
        for actor in (self._head_actor, self._electrode_actor, self._electrode_labels):
            if actor is not None:
                actor.SetVisibility(show)
        self.request_render()

    def _update_electrodes_check(self) -> None:
        has_pos = self._results is not None and self._results.has("saliency", "ch_pos")
        self.electrodes_check.setEnabled(has_pos and self.surface == "pial")
        if self._results is None:
            tip = "Load results with EEG to show the electrodes"
        elif not has_pos:
            tip = "This bundle has no electrode positions (fMRI-only analysis)"
        elif self.surface != "pial":
            tip = "Electrodes are drawn on the scalp, with the pial surface"
        else:
            tip = "Show the fsaverage scalp and the electrodes on it"
        self.electrodes_check.setToolTip(tip)

    def electrode_positions(self) -> Optional[np.ndarray]:
        """Drawn electrode positions (fsaverage MRI mm, on the scalp), shape (n_ch, 3); None until shown."""
        return self._electrode_pos

    def _build_electrodes(self) -> None:
        pv = self._pv
        from scipy.spatial import cKDTree

        head_pts, head_faces = self._sm.fsaverage_head()
        head = pv.PolyData(head_pts, _faces_vtk(head_faces))
        self._head_actor = self.plotter.add_mesh(head, color=(0.93, 0.80, 0.70), opacity=0.18,
                                                 name="head", reset_camera=False, pickable=False, render=False)
        pos = self._sm.head_to_mri_mm(self._results.get("saliency", "ch_pos"))
        ok = np.all(np.isfinite(pos), axis=1)
        # Montage positions can sit a few mm off this scalp; draw them on it.
        _, idx = cKDTree(head_pts).query(pos[ok])
        drawn = np.full_like(pos, np.nan)
        drawn[ok] = head_pts[idx]
        self._electrode_pos = drawn
        names = [str(n) for n in self._results.get("saliency", "electrodes", np.array([], dtype=str))]
        cloud = pv.PolyData(drawn[ok])
        spheres = cloud.glyph(geom=pv.Sphere(radius=ELECTRODE_RADIUS_MM, theta_resolution=10, phi_resolution=10),
                              scale=False, orient=False)
        self._electrode_actor = self.plotter.add_mesh(spheres, color=ELECTRODE_COLOR, name="electrodes",
                                                      reset_camera=False, pickable=False, render=False)
        if len(names) == len(pos):
            self._electrode_labels = self.plotter.add_point_labels(
                drawn[ok] * 1.06, [n for n, k in zip(names, ok) if k], font_size=10, point_size=1,
                shape_opacity=0.0, show_points=False, name="electrode_labels", reset_camera=False,
                text_color=(0.1, 0.1, 0.3), render=False)

    def _remove_electrodes(self) -> None:
        for actor in (self._head_actor, self._electrode_actor, self._electrode_labels):
            if actor is not None:
                self.plotter.remove_actor(actor, render=False)
        self._head_actor = self._electrode_actor = self._electrode_labels = None
        self._electrode_pos = None

    # -- user controls ----------------------------------------------------------------
    def set_surface(self, surface: str) -> None:
        """Show the ``"pial"`` or ``"inflated"`` surface (points rewritten in place)."""
        self.surfaces.coordinates(surface)  # validates the name
        if surface == self.surface:
            return
        self.surface = surface
        self.surface_combo.setCurrentIndex(1 if surface == "inflated" else 0)
        self.cortex_mesh.points[...] = self.surfaces.coordinates(surface)
        self.cortex_mesh.point_data["Normals"][...] = self._normals[surface]
        self.cortex_mesh.GetPoints().Modified()
        self.cortex_mesh.GetPointData().GetArray("Normals").Modified()
        if self._roi_mesh is not None:
            self._roi_mesh.points[...] = self._roi_points()
            self._roi_mesh.GetPoints().Modified()
        self._refresh_connections()
        self._update_electrodes_check()
        self.set_electrodes_visible(self.electrodes_check.isChecked())
        self._on_node(self.state.selection.node_kind or "", self.state.selection.node_index
                      if self.state.selection.node_index is not None else -1)
        self.request_render()

    def set_source(self, source: str) -> None:
        """Show the ``"fmri"`` CAM or the ``"eeg"`` CAM of the selected band."""
        if source not in ("fmri", "eeg"):
            raise ValueError(f"source must be 'fmri' or 'eeg', got {source!r}")
        if source == "eeg" and not (self._results is not None and self._results.has("saliency", "eeg_roi_cam")):
            self.source_combo.setCurrentIndex(0)
            return
        self.source = source
        self.source_combo.setCurrentIndex(1 if source == "eeg" else 0)
        self.band_combo.setEnabled(source == "eeg")
        self._refresh_colors()

    def _on_threshold(self, _value: int) -> None:
        self._update_threshold_label()
        if self._weights is not None:
            self._refresh_colors()

    def set_compare_side(self, side: str) -> None:
        """Show session ``"a"``, ``"b"`` or the change ``"diff"`` (compare mode only)."""
        labels = {v: k for k, v in COMPARE_SIDES.items()}
        self.compare_combo.setCurrentText(labels[side])

    def _on_compare(self, compare) -> None:
        on = compare is not None
        for w in (self.compare_combo, self.q_check, self.q_spin):
            w.setEnabled(on)
        self.compare_row.setVisible(on)
        self._update_space_note()
        if not on:
            self._update_compare_note()
        if on:
            # Entering compare mode: the change is what the user asked to see.
            self.compare_combo.blockSignals(True)
            self.compare_combo.setCurrentText("B \u2212 A")
            self.compare_combo.blockSignals(False)
        if self._weights is not None:
            self._refresh_colors()

    def _on_compare_controls(self) -> None:
        if self._weights is not None and self.state.compare is not None:
            self._refresh_colors()

    # -- state signals ----------------------------------------------------------------
    def _on_overlay(self, _overlay) -> None:
        overlay = self.overlay()
        self.overlay_note.setVisible(overlay is not None)
        if overlay is not None:
            owner = f"the {overlay.owner} view" if overlay.owner else "another view"
            self.overlay_note.setText(f"Showing {html.escape(overlay.title)} from {owner}, not the CAM. "
                                      f'<a href="cam">Show the CAM</a>')
        self._fit_notes()
        if self._weights is not None:
            self._refresh_colors()

    def _on_class(self, index: int) -> None:
        if self._weights is None:
            return
        self.class_combo.setCurrentIndex(self.class_index())
        self._refresh_colors()

    def _on_band(self, band: str) -> None:
        if self._weights is None:
            return
        self._sync_combos()
        if self.source == "eeg":
            self._refresh_colors()

    def _on_node(self, kind: str, index: int) -> None:
        ok = (kind == "roi" and self._roi_coords is not None and 0 <= index < len(self._roi_coords)
              and self._roi_visible()[index])
        self.selection_actor.SetVisibility(bool(ok))
        if ok:
            self.selection_actor.SetPosition(*self._roi_centres()[index])
            name = self._roi_names[index] if index < len(self._roi_names) else f"ROI {index}"
            x, y, z = self._roi_coords[index]
            summary = self.roi_summary(index)
            self.selection_text.SetText(0, f"{name}  ({x:.0f}, {y:.0f}, {z:.0f}) mm" + (f"\n{summary}" if summary else ""))
        else:
            self.selection_text.SetText(0, "")
        self.request_render()

    def roi_summary(self, index: int) -> str:
        """The shown value at ROI ``index`` and, for the fMRI CAM, whether the ROI is up or down in the class.

        A ROI supports a class either by its activity or by its silence (the CAM is
        positive in both cases); the class's mean BOLD against the mean of all
        windows (``fmri_class_activity``) tells which.
        """
        values = self.roi_values()
        if values is None or not 0 <= index < len(values) or not np.isfinite(values[index]):
            return ""
        if self.overlay() is not None:
            return f"{self.value_title()}: {values[index]:+.3g}"
        r = self._results
        cls = r.classes[self.class_index()] if r is not None and r.classes else ""
        text = f"{cls}: {self.value_title()} {values[index]:+.3g}"
        activity = r.get("saliency", "fmri_class_activity") if r is not None else None
        if (activity is not None and self.source == "fmri" and self.compare_side() is None
                and np.shape(activity) == (len(r.classes), len(values))):
            a = float(activity[self.class_index(), index])
            if np.isfinite(a):
                way = "about level" if abs(a) < LEVEL_SD else "up" if a > 0 else "down"
                text += f"; BOLD {a:+.2f} SD vs all windows ({way} in {cls})"
        return text

    # -- picking ----------------------------------------------------------------------
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        """Turn a left click (press and release without dragging) on the 3-D view into a pick."""
        if obj is self.plotter and event.type() == QEvent.Resize:
            self._fit_scalar_bar_labels()
        if obj is self.plotter and event.type() in (QEvent.MouseButtonPress, QEvent.MouseButtonRelease) \
                and event.button() == Qt.LeftButton:
            pos = event.position()
            if event.type() == QEvent.MouseButtonPress:
                self._press_pos = (pos.x(), pos.y())
            else:
                press, self._press_pos = self._press_pos, None
                if press is not None and abs(pos.x() - press[0]) <= CLICK_TOLERANCE_PX \
                        and abs(pos.y() - press[1]) <= CLICK_TOLERANCE_PX:
                    ratio = self.plotter.devicePixelRatioF()
                    self.pick(pos.x() * ratio, (self.plotter.height() - pos.y() - 1) * ratio)
        return False

    def pick(self, x: float, y: float) -> Optional[int]:
        """Select the ROI under display position ``(x, y)`` (VTK pixels, origin bottom left).

        Returns
        -------
        roi : int or None
            The selected atlas ROI index, None when nothing was hit.
        """
        if self._roi_coords is None or self._results is None:
            return None
        if not self._picker.Pick(x, y, 0, self.plotter.renderer):
            return None
        actor = self._picker.GetActor()
        if actor is self.cortex_actor:
            vertex = self._picker.GetPointId()
            if vertex < 0:
                return None
            roi = self._sm.nearest_roi(self.surfaces.pial[vertex], self._roi_coords)
        elif self._roi_actor is not None and actor is self._roi_actor:
            roi = int(self._picker.GetCellId()) // self._roi_cells_per_sphere
        else:
            return None
        self.state.select_node("roi", roi)
        return roi

    def display_position(self, world) -> tuple:
        """Display position (VTK pixels, origin bottom left) of a world point (mm)."""
        ren = self.plotter.renderer
        ren.SetWorldPoint(*np.asarray(world, dtype=float), 1.0)
        ren.WorldToDisplay()
        x, y, _ = ren.GetDisplayPoint()
        return x, y

    def grab_image(self):
        """The view as a ``QImage`` with the 3-D frame composited in.

        ``QWidget.grab`` cannot read an OpenGL render window, so the frame is
        rendered and painted over the plotter's area.
        """
        from PySide6.QtGui import QImage, QPainter

        image = self.grab().toImage()
        if getattr(self.plotter, "_closed", False):
            return image
        self.plotter.render()
        frame = np.ascontiguousarray(np.asarray(self.plotter.screenshot(return_img=True))[..., :3], dtype=np.uint8)
        h, w, _ = frame.shape
        qframe = QImage(frame.data, w, h, 3 * w, QImage.Format_RGB888).copy()
        painter = QPainter(image)
        painter.drawImage(self.plotter.geometry(), qframe)
        painter.end()
        return image

    # -- layout: the notes and the map share the height ------------------------------------
    def _fixed_height(self) -> int:
        """Height of the rows above the notes (tool bar, compare row) and the layout's spacing, px."""
        spacing = self.layout().spacing()
        rows = [w for w in (self.toolbar, self.compare_row) if not w.isHidden()]
        return sum(w.sizeHint().height() for w in rows) + spacing * (len(rows) + 1)

    def minimumSizeHint(self):  # noqa: N802 - Qt API
        """Room for the tool bar, a few lines of notes and the map's :data:`PLOTTER_FLOOR_HEIGHT` (when a map is shown).

        The notes' current height is left out: it follows the view's height
        (:meth:`notes_height_for`), so the dock can always be made smaller.
        """
        hint = super().minimumSizeHint()
        notes = min(self.notes_content_height(), NOTES_MIN_HEIGHT)
        hint.setHeight(self._fixed_height() + notes + self.plotter.minimumHeight())
        return hint

    def notes_height_for(self, height: int, content: int) -> int:
        """Height of the notes area in a view ``height`` px tall whose notes need ``content`` px.

        At most :data:`NOTES_MAX_SHARE` of the view and never so much that a
        map gets less than :data:`PLOTTER_MIN_HEIGHT`; at least
        :data:`NOTES_MIN_HEIGHT` (or ``content`` when less).
        """
        plotter = PLOTTER_MIN_HEIGHT if self.plotter.minimumHeight() else 0
        cap = min(int(NOTES_MAX_SHARE * height), height - self._fixed_height() - plotter)
        return min(content, max(cap, NOTES_MIN_HEIGHT))

    def notes_content_height(self) -> int:
        """Height (px) the shown notes need at the view's width, unscrolled; 0 when none is shown."""
        if not any(not w.isHidden() for w in (self.message, self.source_note, self.space_note, self.compare_note,
                                                 self.overlay_note, self.quality_note)):
            return 0
        width = max(self.width(), 1)
        layout = self.notes.layout()
        return layout.totalHeightForWidth(width) if layout.hasHeightForWidth() \
            else layout.totalSizeHint().height()

    def _fit_notes(self) -> None:
        content = self.notes_content_height()
        if content <= 0:
            self.notes_area.setVisible(False)
            return
        height = self.notes_height_for(self.height(), content)
        self.notes_area.setFixedHeight(height)
        self.notes_area.setVisible(True)
        self.updateGeometry()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._fit_notes()

    def _fit_scalar_bar_labels(self) -> None:
        """As many colour-bar labels as fit the bar's height without overlapping (2 to 5)."""
        bar_px = self.scalar_bar.GetHeight() * self.plotter.height() * self.plotter.devicePixelRatioF()
        self.scalar_bar.SetNumberOfLabels(int(np.clip(bar_px // BAR_PX_PER_LABEL, 2, 5)))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.close_plotter()
        super().closeEvent(event)

    def close_plotter(self) -> None:
        """Release the VTK render window (call before the widget is destroyed)."""
        self._render_timer.stop()
        if getattr(self, "plotter", None) is not None and not getattr(self.plotter, "_closed", False):
            self.plotter.close()
