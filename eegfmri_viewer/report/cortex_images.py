"""Off-screen pyvista renderings of CAM on the fsaverage5 cortex, for reports.

The same ROI -> vertex mapping as the 3-D view (:mod:`eegfmri_viewer.graphs.surface_mapping`)
is used. Vertex colours are computed here (sulcal grey below the threshold,
a colour map above it) and handed to VTK as RGB, so that every image of a
report uses one explicit colour scale. These renderers are separate,
off-screen plotters: they never touch the GUI's 3-D view.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from eegfmri_viewer.graphs.surface_mapping import DEFAULT_RADIUS_MM
from eegfmri_viewer.progress import CancelFlag, ProgressCallback, check_cancel, report

WINDOW = (900, 640)
#: What a class image shows and what its colours mean (the report prints it under the images; each image's bar
#: gives its values).
CLASS_SCALE_TEXT = ("Each cortex image shows the CAM interpolated onto the cortex surface from the ROIs within reach "
                    f"({DEFAULT_RADIUS_MM:g} mm of a surface point, Gaussian-weighted), so its colour bar gives values on the surface, "
                    "which are lower than a ROI's own CAM in the tables; a ROI deeper than that (e.g. subcortical) "
                    "is not drawn. Colours: the 'hot' colour map (black through red and yellow to white) from each "
                    "image's threshold, half-way between its lowest positive and its highest value on the surface, "
                    "to its highest; grey (light and dark: gyri and sulci) below the threshold, where the CAM is not "
                    "positive, for ROIs without BOLD signal, or where no ROI reaches. Each class has its own scale: "
                    "the bar under each image gives its values; an image with nothing coloured says so instead.")


def rois_on_cortex(roi_coords: np.ndarray) -> np.ndarray:
    """Which ROIs reach the cortex surface of the images (some pial vertex within the mapping radius).

    Parameters
    ----------
    roi_coords : ndarray, shape (n_rois, 3)
        ROI centres, MNI mm.

    Returns
    -------
    drawn : ndarray of bool, shape (n_rois,)
        False for a ROI deeper than the radius (e.g. subcortical): the images never show it.
    """
    from eegfmri_viewer.graphs.surface_mapping import load_fsaverage5, roi_vertex_weights

    weights = roi_vertex_weights(load_fsaverage5().pial, np.asarray(roi_coords, dtype=float))
    return np.diff(weights.raw.tocsc().indptr) > 0


# (row, col, hemisphere, view name, camera position): lateral views on top, medial below.
_VIEWS = (
    (0, 0, "left", "lateral", (-400, 0, 0)),
    (0, 1, "right", "lateral", (400, 0, 0)),
    (1, 0, "left", "medial", (400, 0, 0)),
    (1, 1, "right", "medial", (-400, 0, 0)),
)


def vertex_colours(values: np.ndarray, sulc: np.ndarray, vmin: float, vmax: float, threshold: float,
                   cmap: str = "hot", symmetric: bool = False) -> np.ndarray:
    """RGB colours (uint8) of surface vertices.

    Parameters
    ----------
    values : ndarray, shape (n_vertices,)
        Mapped values (NaN where no ROI reaches).
    sulc : ndarray, shape (n_vertices,)
        Sulcal depth, drawn as light / dark grey where a value is not shown.
    vmin, vmax : float
        Colour-map limits.
    threshold : float
        Values with ``|value| < threshold`` (or ``value < threshold`` when not
        ``symmetric``) are not coloured.
    symmetric : bool
        Diverging data centred on 0.

    Returns
    -------
    rgb : ndarray, shape (n_vertices, 3), uint8
    """
    from matplotlib import colormaps

    grey = np.where(sulc > 0, 0.55, 0.8)
    rgb = np.repeat(grey[:, None], 3, axis=1)
    v = np.nan_to_num(values, nan=0.0)
    shown = np.isfinite(values) & ((np.abs(v) >= threshold) if symmetric else (v >= threshold))
    span = (vmax - vmin) or 1.0
    rgb[shown] = colormaps[cmap](np.clip((v[shown] - vmin) / span, 0, 1))[:, :3]
    return (rgb * 255).astype(np.uint8)


def colour_bar_strip(vmin: float, vmax: float, cmap: str, label: str, width: int) -> np.ndarray:
    """A horizontal colour bar with its end values and a label, as an image strip.

    Parameters
    ----------
    vmin, vmax : float
        Values at the two ends of the colour map.
    cmap : str
        Matplotlib colour map name.
    label : str
    width : int
        Width in pixels (that of the image it goes under).

    Returns
    -------
    rgb : ndarray, shape (height, width, 3), uint8
    """
    from matplotlib import colormaps
    from matplotlib.colorbar import ColorbarBase
    from matplotlib.colors import Normalize

    fig = _strip_figure(width)
    ax = fig.add_axes((0.2, 0.55, 0.6, 0.3))
    hi = vmax if vmax > vmin else vmin + 1e-12
    bar = ColorbarBase(ax, cmap=colormaps[cmap], norm=Normalize(vmin, hi), orientation="horizontal")
    bar.set_ticks([vmin, (vmin + hi) / 2, hi])
    bar.set_ticklabels([f"{vmin:.2g}", f"{(vmin + hi) / 2:.2g}", f"{hi:.2g}"])
    bar.ax.tick_params(labelsize=8)
    fig.text(0.5, 0.02, label, ha="center", va="bottom", fontsize=8)
    return _strip_pixels(fig)


def text_strip(text: str, width: int) -> np.ndarray:
    """A white strip with one line of text, as tall as a colour bar strip (for an image with nothing coloured).

    Returns
    -------
    rgb : ndarray, shape (height, width, 3), uint8
    """
    fig = _strip_figure(width)
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=9)
    return _strip_pixels(fig)


def _strip_figure(width: int):
    """A white matplotlib figure ``width`` pixels wide and 75 tall, for a strip under a cortex image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / 100, 0.75), dpi=100, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def _strip_pixels(fig) -> np.ndarray:
    """The figure drawn, shape (height, width, 3) uint8."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def _fit_width(strip: np.ndarray, width: int) -> np.ndarray:
    if strip.shape[1] == width:
        return strip
    if strip.shape[1] > width:  # rounding of the figure size
        return strip[:, :width]
    return np.pad(strip, ((0, 0), (0, width - strip.shape[1]), (0, 0)), constant_values=255)


def with_colour_bar(image: np.ndarray, vmin: float, vmax: float, cmap: str, label: str) -> np.ndarray:
    """``image`` with :func:`colour_bar_strip` below it.

    Parameters
    ----------
    image : ndarray, shape (height, width, 3), uint8

    Returns
    -------
    rgb : ndarray, shape (height + strip height, width, 3), uint8
    """
    strip = _fit_width(colour_bar_strip(vmin, vmax, cmap, label, image.shape[1]), image.shape[1])
    return np.concatenate([np.asarray(image)[..., :3].astype(np.uint8), strip], axis=0)


class CortexRenderer:
    """Renders ROI values on both hemispheres (lateral and medial views) to PNG bytes.

    Parameters
    ----------
    roi_coords : ndarray, shape (n_rois, 3)
        ROI centres, MNI mm.
    """

    def __init__(self, roi_coords: np.ndarray):
        import pyvista as pv

        from eegfmri_viewer.graphs.surface_mapping import load_fsaverage5, roi_vertex_weights

        self.surfaces = load_fsaverage5()
        self.weights = roi_vertex_weights(self.surfaces.pial, roi_coords)
        faces = np.hstack([np.full((len(self.surfaces.faces), 1), 3), self.surfaces.faces]).ravel()
        self.mesh = pv.PolyData(self.surfaces.pial, faces)
        self._pv = pv

    def render(self, roi_values: np.ndarray, title: str, symmetric: bool = False,
               threshold_fraction: float = 0.5, mask: Optional[np.ndarray] = None,
               nothing_text: Optional[str] = None) -> bytes:
        """PNG image of ``roi_values`` on both hemispheres, lateral and medial views.

        Parameters
        ----------
        roi_values : ndarray, shape (n_rois,)
        title : str
        symmetric : bool
            Diverging map centred on 0 (for differences).
        threshold_fraction : float
            Symmetric: values with magnitude below this fraction of the largest
            are not coloured. Otherwise only positive values are, from this
            fraction of the way between the lowest positive and the highest.
        mask : ndarray of bool, shape (n_rois,) or None
            Only these ROIs are coloured (e.g. q < 0.05); others count as NaN.
        nothing_text : str or None
            Why nothing is coloured, said under an image with no coloured
            vertex instead of a colour bar that would match no data.

        Returns
        -------
        png : bytes
            The four views with a colour bar (its limits and what grey means)
            below, or, when no vertex is coloured, a line saying so.
        """
        import io

        from PIL import Image

        values = np.asarray(roi_values, dtype=float).copy()
        if mask is not None:
            values[~mask] = np.nan
        vertex = self.weights.map(values)
        finite = vertex[np.isfinite(vertex)]
        peak = float(np.abs(finite).max()) if finite.size else 1.0
        peak = peak or 1.0
        if symmetric:
            thr = threshold_fraction * peak * (mask is None)
            rgb = vertex_colours(vertex, self.surfaces.sulc, -peak, peak, thr, "RdBu_r", True)
            coloured = np.isfinite(vertex) & (np.abs(np.nan_to_num(vertex)) >= thr) & (np.abs(np.nan_to_num(vertex)) > 0)
            scale = (-peak, peak, "RdBu_r", f"{title} on the cortex surface (interpolated from ROIs within reach); "
                     "grey: " + (f"|value| below {thr:.2g}" if mask is None else "not significant") + " or no ROI")
        else:
            # Only what supports the class is coloured: a CAM <= 0 never is, and the class's own highest value
            # (not the largest magnitude, which may be a strongly negative ROI) tops the scale.
            low = max(float(np.nanmin(finite)), 0.0) if finite.size else 0.0
            high = float(np.nanmax(finite)) if finite.size else 0.0
            if high > 0:
                thr = low + threshold_fraction * (high - low) if high > low else high
                label = (f"{title} on the cortex surface (interpolated from ROIs within reach); "
                         f"grey: below {thr:.2g} or no ROI")
            else:
                thr, high = 1.0, 1.0 + 1e-9  # nothing reaches it
                label = ""
            rgb = vertex_colours(vertex, self.surfaces.sulc, thr, high, thr, "hot")
            coloured = np.isfinite(vertex) & (np.nan_to_num(vertex) >= thr) & (high > 0) & bool(label)
            scale = (thr, high, "hot", label)
        mesh = self.mesh.copy()
        mesh.point_data["rgb"] = rgb
        plotter = self._pv.Plotter(off_screen=True, shape=(2, 2), window_size=WINDOW, border=False)
        try:
            for row, col, side, view, position in _VIEWS:
                plotter.subplot(row, col)
                plotter.set_background("white")
                hemi = mesh.extract_points(
                    np.arange(self.surfaces.n_left) if side == "left" else np.arange(self.surfaces.n_left, self.surfaces.n_vertices),
                    adjacent_cells=False,
                )
                plotter.add_mesh(hemi, scalars="rgb", rgb=True, smooth_shading=True)
                plotter.camera_position = [position, (0, -18, 15), (0, 0, 1)]
                plotter.reset_camera()
                plotter.camera.zoom(1.35)
                plotter.add_text(f"{title} ({side} {view})", font_size=8, color="black")
            png = plotter.screenshot(return_img=True)
        finally:
            plotter.close()
        buf = io.BytesIO()
        if coloured.any():
            out = with_colour_bar(png, *scale)
        else:
            text = f"{title}: nothing to show on the cortex surface" + (f" ({nothing_text})" if nothing_text else "")
            out = np.concatenate([np.asarray(png)[..., :3].astype(np.uint8),
                                  _fit_width(text_strip(text, png.shape[1]), png.shape[1])], axis=0)
        Image.fromarray(out).save(buf, format="PNG", optimize=True)
        return buf.getvalue()


def render_class_images(bundle, comparison=None, q_threshold: float = 0.05,
                        progress: Optional[ProgressCallback] = None,
                        cancel: Optional[CancelFlag] = None) -> Dict[str, bytes]:
    """Cortex images of each class's fMRI CAM (and B − A when comparing).

    Returns
    -------
    images : dict of str to bytes
        ``"class:<name>"`` and, with a comparison, ``"diff:<name>"`` PNGs, each
        with its colour bar below. ROIs without BOLD signal in every recording
        (``dataset.json`` ``empty_rois``) are left uncoloured in the class images,
        those without it on either side of the comparison in the B − A images.
    """
    renderer = CortexRenderer(bundle.get("saliency", "roi_coords"))
    from eegfmri_viewer.comparison.compare import rois_left_out
    from eegfmri_viewer.report.roi_context import rois_without_bold

    cam = bundle.get("saliency", "fmri_cam")
    empty = rois_without_bold(bundle.dataset)
    classes = bundle.classes
    jobs = [("class", c) for c in range(len(classes))]
    if comparison is not None:
        jobs += [("diff", c) for c in range(len(classes))]
    images = {}
    for k, (kind, c) in enumerate(jobs):
        check_cancel(cancel)
        report(progress, k / len(jobs), f"rendering {kind} {classes[c]}")
        if kind == "class":
            values = np.array(cam[c], dtype=float)
            values[empty] = np.nan  # flat-zero series: their CAM says nothing about the brain
            images[f"class:{classes[c]}"] = renderer.render(
                values, f"{classes[c]} CAM", nothing_text="no positive CAM of a ROI with BOLD signal within reach")
        else:
            diff = np.array(comparison.arrays["fmri_cam_diff"][c], dtype=float)
            mask = comparison.significant("fmri_cam", q_threshold)[c].copy()
            # flat zeros on one side: their change says nothing about the brain
            mask[rois_left_out(comparison)] = False
            images[f"diff:{classes[c]}"] = renderer.render(
                diff, f"{classes[c]} B - A", symmetric=True, mask=mask,
                nothing_text=f"no ROI within reach changed with q < {q_threshold:g}")
    report(progress, 1.0, "cortex images done")
    return images
