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

from eegfmri_viewer.progress import CancelFlag, ProgressCallback, check_cancel, report

WINDOW = (900, 640)
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
               threshold_fraction: float = 0.5, mask: Optional[np.ndarray] = None) -> bytes:
        """PNG image of ``roi_values`` on both hemispheres, lateral and medial views.

        Parameters
        ----------
        roi_values : ndarray, shape (n_rois,)
        title : str
        symmetric : bool
            Diverging map centred on 0 (for differences).
        threshold_fraction : float
            Values below this fraction of the maximum magnitude are not coloured.
        mask : ndarray of bool, shape (n_rois,) or None
            Only these ROIs are coloured (e.g. q < 0.05); others count as NaN.
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
            rgb = vertex_colours(vertex, self.surfaces.sulc, -peak, peak, threshold_fraction * peak * (mask is None), "RdBu_r", True)
        else:
            low = float(np.nanmin(finite)) if finite.size else 0.0
            thr = low + threshold_fraction * (peak - low) if peak > low else peak
            rgb = vertex_colours(vertex, self.surfaces.sulc, thr, peak, thr, "hot")
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
        Image.fromarray(png).save(buf, format="PNG", optimize=True)
        return buf.getvalue()


def render_class_images(bundle, comparison=None, q_threshold: float = 0.05,
                        progress: Optional[ProgressCallback] = None,
                        cancel: Optional[CancelFlag] = None) -> Dict[str, bytes]:
    """Cortex images of each class's fMRI CAM (and B − A when comparing).

    Returns
    -------
    images : dict of str to bytes
        ``"class:<name>"`` and, with a comparison, ``"diff:<name>"`` PNGs.
    """
    renderer = CortexRenderer(bundle.get("saliency", "roi_coords"))
    cam = bundle.get("saliency", "fmri_cam")
    classes = bundle.classes
    jobs = [("class", c) for c in range(len(classes))]
    if comparison is not None:
        jobs += [("diff", c) for c in range(len(classes))]
    images = {}
    for k, (kind, c) in enumerate(jobs):
        check_cancel(cancel)
        report(progress, k / len(jobs), f"rendering {kind} {classes[c]}")
        if kind == "class":
            images[f"class:{classes[c]}"] = renderer.render(cam[c], f"{classes[c]} CAM")
        else:
            diff = comparison.arrays["fmri_cam_diff"][c]
            mask = comparison.significant("fmri_cam", q_threshold)[c]
            images[f"diff:{classes[c]}"] = renderer.render(diff, f"{classes[c]} B - A", symmetric=True, mask=mask)
    report(progress, 1.0, "cortex images done")
    return images
