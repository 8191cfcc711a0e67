"""Self-contained HTML report of an analysis (and optionally a comparison).

One file, images embedded as base64 PNG data URIs and the style inline, so it
opens anywhere without a network and can be filed as it is. The report says
what was analysed, with which settings, how well the models classified
(against chance), where the saliency is (cortex images, electrode graph, a
table of the top ROIs with MNI coordinates), how the views were fused, how
EEG and fMRI couple, and, with a comparison, what changed significantly.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from eegfmri_viewer import __version__
from eegfmri_viewer.atomic_write import atomic_write_bytes, check_output_file
from eegfmri_viewer.io.space import is_mni_space
from eegfmri_viewer.progress import CancelFlag, ProgressCallback, check_cancel, report, sub_progress
from eegfmri_viewer.report import figures
from eegfmri_viewer.report.cortex_images import CLASS_SCALE_TEXT
from eegfmri_viewer.report.roi_context import coordinates_caveat, coordinates_header, rois_without_bold
from eegfmri_viewer.report.tables import lagged_arrays

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222;line-height:1.4}
h1{border-bottom:2px solid #446;padding-bottom:.2em}h2{color:#335;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#eef}img{max-width:100%;border:1px solid #ddd;margin:.3em 0}.warn{background:#fff4d6;border-left:4px solid #e0a000;padding:.4em .8em}
.grid{display:flex;flex-wrap:wrap;gap:.8em}.grid figure{margin:0;flex:1 1 300px}figcaption{font-size:.85em;color:#555}
pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:.8em}.sig{font-weight:bold;color:#a00}
"""


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(header, rows) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    if isinstance(x, (float, np.floating)):
        return f"{x:.{digits}g}"
    return html.escape(str(x))


def top_salient_rois(bundle, class_index: int, n: int = 10) -> list:
    """The ``n`` ROIs with the highest positive group fMRI CAM for a class.

    A ROI with CAM <= 0 does not support the class, and a ROI without BOLD
    signal in every recording (``dataset.json`` ``empty_rois``; flat zeros)
    says nothing about the brain: neither is listed, so fewer than ``n`` rows
    may come back.

    Returns
    -------
    rows : list of dict
        ``roi``, ``name``, ``network``, ``cam``, ``coords`` (atlas MNI mm).
    """
    cam = np.asarray(bundle.get("saliency", "fmri_cam")[class_index], dtype=float)
    names = bundle.get("saliency", "roi_names")
    networks = bundle.get("saliency", "roi_networks")
    coords = bundle.get("saliency", "roi_coords")
    activity = bundle.get("saliency", "fmri_class_activity")
    eligible = np.isfinite(cam) & (cam > 0)
    eligible[rois_without_bold(bundle.dataset)] = False
    order = [i for i in np.argsort(-np.nan_to_num(cam, nan=-np.inf), kind="stable") if eligible[i]][:n]
    return [
        {
            "roi": int(i),
            "name": str(names[i]),
            "network": str(networks[i]) if networks is not None else "",
            "cam": float(cam[i]),
            "coords": [float(v) for v in coords[i]],
            "bold_vs_mean": float(activity[class_index, i]) if activity is not None else None,
        }
        for i in order
    ]


def _salient_rois_note(bundle, class_index: int, n_listed: int, n: int) -> str:
    """Why a class's table lists fewer than ``n`` ROIs ("" when it lists ``n``)."""
    if n_listed >= n:
        return ""
    cam = np.asarray(bundle.get("saliency", "fmri_cam")[class_index], dtype=float)
    empty = rois_without_bold(bundle.dataset)
    positive = np.isfinite(cam) & (cam > 0)
    positive[empty] = False
    return (f"<p>Only {n_listed} of the {n} asked for: {int(positive.sum())} ROI(s) with BOLD signal have a "
            "positive CAM for this class; a ROI with CAM ≤ 0 does not support it.</p>")


#: Rows of each class's "Most salient regions" table; "both salient" in the connections table means both ends are among them.
TOP_ROIS = 10


def top_salient_connections(bundle, class_index: int, n: int = 10) -> list:
    """The ``n`` connections of the fMRI graph with the highest positive saliency for a class.

    Saliency of the edge (a, b): ``W[a, b] (CAM_c(a) + CAM_c(b)) / 2``
    (``fmri_connection_saliency``); empty for bundles written without it. The
    rule of :func:`top_salient_rois` holds here too: an edge with saliency
    <= 0 does not support the class, and an edge with an end without BOLD
    signal in every recording says nothing about the brain, so neither is
    listed (fewer than ``n`` rows may come back).

    Returns
    -------
    rows : list of dict
        ``a``, ``b`` (ROI indices), ``name_a``, ``name_b``, ``weight``, ``saliency``,
        ``salient`` (both ends among the class's :data:`TOP_ROIS` most salient
        regions, :func:`top_salient_rois`).
    """
    if not bundle.has("saliency", "fmri_connection_saliency"):
        return []
    conn = np.asarray(bundle.get("saliency", "fmri_connections"), dtype=int)
    score = np.asarray(bundle.get("saliency", "fmri_connection_saliency"), dtype=float)[class_index]
    weight = bundle.get("saliency", "fmri_connection_weight")
    names = bundle.get("saliency", "roi_names")
    empty = rois_without_bold(bundle.dataset)
    eligible = np.isfinite(score) & (score > 0) & ~np.isin(conn[0], empty) & ~np.isin(conn[1], empty)
    listed = {r["roi"] for r in top_salient_rois(bundle, class_index, n=TOP_ROIS)}
    order = [e for e in np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable") if eligible[e]][:n]
    return [{"a": int(conn[0, e]), "b": int(conn[1, e]), "name_a": str(names[conn[0, e]]),
             "name_b": str(names[conn[1, e]]), "weight": float(weight[e]), "saliency": float(score[e]),
             "salient": int(conn[0, e]) in listed and int(conn[1, e]) in listed}
            for e in order]


def _accuracy_rows(metrics: dict, test_counts=None, classes=(), prefix: str = "") -> list:
    """One row per phase-1 model; ``test_counts``: test windows per class from ``windows.npz`` (older metrics).

    ``prefix`` names the bundle in a comparison (``"A: "``, ``"B: "``).
    """
    from eegfmri_viewer.training.chance_level import chance_test, class_recall_text

    rows = []
    phase1 = metrics.get("phase1", {})
    entries = []
    if "fmri" in phase1:
        entries.append(("fMRI (ROIs)", phase1["fmri"]))
    for band, entry in phase1.get("eeg", {}).items():
        entries.append((f"EEG {band} (electrodes)", entry))
    for name, e in entries:
        test = chance_test(e, test_counts)
        chance = test.chance if test is not None else e.get("chance")
        rows.append([html.escape(prefix + name), _fmt(e.get("test_acc")), _fmt(e.get("test_balanced_acc")),
                     _fmt(chance), _chance_cell(test), html.escape(class_recall_text(e, classes)),
                     _fmt(e.get("epochs")), _initialisations_cell(e)])
    return rows


def _chance_cell(test) -> str:
    """Test windows right and the tests against chance; flagged when chance is not beaten."""
    from eegfmri_viewer.training.chance_level import p_text

    if test is None:
        return ""
    text = f"{test.n_correct} of {test.n_test}, binomial p {html.escape(p_text(test.p_value))}"
    if test.p_block is not None:
        text += f"; {test.n_blocks} blocks, block permutation p {html.escape(p_text(test.p_block))}"
    if not test.above_chance:
        return f"<b>{text}: not shown to beat chance</b>"
    return text + (" (few windows)" if test.few_windows else "")


def model_beats_chance(bundle, model: str = "fmri") -> Optional[bool]:
    """Whether a phase-1 model of ``bundle`` is shown to beat chance.

    Parameters
    ----------
    model : str
        ``"fmri"`` or an EEG band name.

    Returns
    -------
    verdict : bool or None
        ``chance_test(entry).above_chance``; None when the model or its test
        windows are not recorded (nothing to say).
    """
    from eegfmri_viewer.training.chance_level import chance_test, test_class_counts

    phase1 = bundle.metrics.get("phase1", {})
    entry = phase1.get("fmri") if model == "fmri" else phase1.get("eeg", {}).get(model)
    if not entry:
        return None
    counts = test_class_counts(bundle.get("windows", "labels"), bundle.get("windows", "split"), len(bundle.classes))
    test = chance_test(entry, counts)
    return None if test is None else bool(test.above_chance)


def _caution(model: str, what: str) -> str:
    """The one-line caution at the head of a section whose model is not shown to beat chance."""
    verb = "is shown" if model.startswith("Neither") else "is not shown"
    return (f'<p class="warn"><b>Caution:</b> {html.escape(model)} {verb} to beat chance (see Classification): '
            f"{html.escape(what)} may not be reliable.</p>")


def _is_other_bundle(bundle, bundle_b) -> bool:
    """``bundle_b`` is a second bundle, not ``bundle`` itself (two sessions of one bundle)."""
    if bundle_b is None or bundle_b is bundle:
        return False
    if bundle.path is not None and bundle_b.path is not None:
        return Path(bundle.path).resolve() != Path(bundle_b.path).resolve()
    return True


def _initialisations_cell(entry: dict) -> str:
    """Best validation loss of each initialisation, the kept one in bold ("one (no choice)" for a single one)."""
    from eegfmri_viewer.pipeline.phase1_stage import kept_initialisations

    models = kept_initialisations(entry)
    if not models:
        return "one (no choice)"
    subject, tried, kept = models[0]
    if subject is not None:
        return f"{max(len(t) for _, t, _ in models)} per subject"
    return ", ".join(f"<b>{_fmt(t.get('best_monitor'))}</b>" if t.get("init") == kept
                     else _fmt(t.get("best_monitor")) for t in tried)


def build_report(
    bundle,
    comparison=None,
    bundle_b=None,
    cortex_images: Optional[Dict[str, bytes]] = None,
    render_cortex: bool = True,
    q_threshold: float = 0.05,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelFlag] = None,
) -> str:
    """Build the report's HTML text.

    Parameters
    ----------
    bundle : ResultsBundle
        The analysis to report.
    comparison : CompareResult or None
        Adds a "What changed" section.
    bundle_b : ResultsBundle or None
        Session B of the comparison (for its fusion weights).
    cortex_images : dict of str to bytes or None
        Pre-rendered PNG images keyed ``"class:<name>"`` and ``"diff:<name>"``
        (the GUI renders them on its own thread). When None and
        ``render_cortex`` is True they are rendered off-screen here.
    q_threshold : float
        FDR threshold for "significant" in the comparison.

    Returns
    -------
    text : str
        A complete HTML document.
    """
    parts = []
    add = parts.append
    classes, bands = bundle.classes, bundle.bands
    dataset, metrics = bundle.dataset, bundle.metrics
    report(progress, 0.0, "report: summary")
    add(f"<h1>eegfmri_viewer report: {html.escape(bundle.label)}</h1>")
    add(f"<p>Generated {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')} by eegfmri_viewer {__version__} from "
        f"<code>{html.escape(str(bundle.path or ''))}</code>.</p>")

    add("<h2>Dataset</h2>")
    recs = dataset.get("recordings", [])
    if recs:
        add(_table(["subject", "session", "task", "run", "TR (s)", "space", "EEG", "BOLD", "bad EEG channels",
                    "mean FD (mm)"],
                   [[_fmt(r.get("subject")), _fmt(r.get("session")), _fmt(r.get("task")), _fmt(r.get("run")),
                     _fmt(r.get("tr")), _fmt(r.get("space")), _fmt(Path(r["eeg_path"]).name if r.get("eeg_path") else "–"),
                     _fmt(Path(r["bold_path"]).name if r.get("bold_path") else "–"), _bad_channels_cell(r),
                     _motion_cell(r)] for r in recs]))
    counts = dataset.get("n_windows_per_class", {})
    if counts:
        add("<p>Windows per class: " + ", ".join(f"{html.escape(str(k))}: {v}" for k, v in counts.items()) + "</p>")
    for w in _dataset_warnings(dataset):
        add(f'<p class="warn">{html.escape(str(w))}</p>')
    modalities = dataset.get("modalities", ["eeg", "fmri"] if bundle.has_eeg else ["fmri"])
    add(f"<p>Modalities: {html.escape(', '.join(modalities))}. Classes: {html.escape(', '.join(classes))}."
        + (f" EEG bands: {html.escape(', '.join(bands))}." if bundle.has_eeg else "") + "</p>")

    add("<h2>Settings</h2>")
    add(settings_table(bundle.config))

    add("<h2>Classification (phase 1, held-out test windows)</h2>")
    from eegfmri_viewer.training.chance_level import test_class_counts

    other_b = comparison is not None and _is_other_bundle(bundle, bundle_b)

    def counts_of(b):
        return test_class_counts(b.get("windows", "labels"), b.get("windows", "split"), len(b.classes))

    rows = _accuracy_rows(metrics, counts_of(bundle), classes, prefix="A: " if other_b else "")
    if other_b:
        rows += _accuracy_rows(bundle_b.metrics, counts_of(bundle_b), bundle_b.classes, prefix="B: ")
    if other_b:
        add(f"<p>A: {html.escape(bundle.label)}; B: {html.escape(bundle_b.label)}"
            + (f" (<code>{html.escape(str(bundle_b.path))}</code>)" if bundle_b.path else "") + ".</p>")
    if rows:
        add(_table(["model", "test accuracy", "balanced accuracy", "chance (largest class)",
                    "test windows right, p vs chance", "right per class (test windows)", "epochs",
                    "initialisations: validation loss (kept in bold)"], rows))
        add("<p>The binomial test counts the test windows as independent; windows of one block are not, so "
            "its p-value is a best case. The block permutation test exchanges the classes of whole test blocks "
            "within each recording and is valid however alike the windows of a block are; where it exists, "
            "the verdict is its own. A model not shown to beat chance has no reliable saliency: read its "
            "maps with caution.</p>")
    curves = figures.training_curves(metrics)
    if curves:
        add(_img(curves, "training curves"))
        if not figures.has_validation_accuracy(metrics):
            add("<p>No validation accuracy is drawn: the analysis had no validation windows "
                f"({_fmt(dataset.get('n_windows_per_split', {}).get('val', 0))} in the split), so the models were "
                "not validated during training; only the training loss and the test windows above judge them.</p>")
    check_cancel(cancel)

    fmri_verdict = model_beats_chance(bundle, "fmri")
    fmri_caution = (_caution("The fMRI model" + (" of A" if other_b else ""), "its saliency (CAM)")
                    if fmri_verdict is False else "")
    add("<h2>Saliency on the cortex (fMRI CAM per class)</h2>")
    add(fmri_caution)
    caveat = coordinates_caveat(dataset)
    if caveat:
        add(f'<p class="warn">{html.escape(caveat)}</p>')
    if cortex_images is None and render_cortex:
        from eegfmri_viewer.report.cortex_images import render_class_images

        cortex_images = render_class_images(bundle, comparison=comparison, progress=sub_progress(progress, 0.1, 0.7), cancel=cancel)
    cortex_images = cortex_images or {}
    drawn = None
    if any(cortex_images.get(f"class:{name}") for name in classes):
        from eegfmri_viewer.report.cortex_images import rois_on_cortex

        drawn = rois_on_cortex(bundle.get("saliency", "roi_coords"))
    add('<div class="grid">')
    for c, name in enumerate(classes):
        png = cortex_images.get(f"class:{name}")
        if png:
            add(f"<figure>{_img(png, f'CAM {name}')}<figcaption>{html.escape(name)}: fMRI CAM on the cortex "
                f"surface, lateral (top) and medial (bottom) views{_not_drawn_note(bundle, c, drawn)}"
                "</figcaption></figure>")
    add("</div>")
    if any(cortex_images.get(f"class:{name}") for name in classes):
        add(f"<p>{html.escape(CLASS_SCALE_TEXT)}</p>")
    report(progress, 0.75, "report: tables")

    add("<h2>Most salient regions</h2>")
    add(fmri_caution)
    if bundle.has("saliency", "fmri_class_activity"):
        add("<p>A region supports a class either by its activity or by its silence: a classifier often "
            "tells a state by another state's missing activity, and the CAM is positive in both cases. "
            "“BOLD in class vs mean” says which (positive: up in the class; negative: down).</p>")
    empty = rois_without_bold(dataset)
    if len(empty):
        names = bundle.get("saliency", "roi_names")
        listed = ", ".join(str(names[i]) for i in empty[:8]) + (", …" if len(empty) > 8 else "")
        add(f"<p>{len(empty)} ROI(s) without BOLD signal in every recording ({html.escape(listed)}: outside the "
            "field of view or the brain mask) are left out: their series are flat zeros, so their CAM says "
            "nothing about the brain, and the analysis never makes them phase-2 nodes.</p>")
    for c, name in enumerate(classes):
        top = top_salient_rois(bundle, c, n=TOP_ROIS)
        add(f"<h3>{html.escape(name)}</h3>")
        add(_table(["rank", "ROI", "network", "CAM", "BOLD in class vs mean (SD)", coordinates_header(dataset)],
                   [[i + 1, _fmt(r["name"]), _fmt(r["network"] or "–"), _fmt(r["cam"]), _fmt(r["bold_vs_mean"]),
                     ", ".join(f"{v:.0f}" for v in r["coords"])] for i, r in enumerate(top)]))
        note = _salient_rois_note(bundle, c, len(top), TOP_ROIS)
        if note:
            add(note)

    if bundle.has("saliency", "fmri_connection_saliency"):
        add("<h2>Most salient connections</h2>")
        add(fmri_caution)
        add("<p>Edges of the fMRI graph ranked by W[a, b] · (CAM(a) + CAM(b)) / 2, by the rule of the regions "
            "above: only edges with a positive saliency (they support the class) between ROIs with BOLD signal. "
            f"“both salient”: both ends are among the class's {TOP_ROIS} most salient regions listed above.</p>")
        for c, name in enumerate(classes):
            add(f"<h3>{html.escape(name)}</h3>")
            conns = top_salient_connections(bundle, c)
            add(_table(["rank", "ROI a", "ROI b", "weight", "saliency", "both salient"],
                       [[i + 1, _fmt(r["name_a"]), _fmt(r["name_b"]), _fmt(r["weight"]), _fmt(r["saliency"]),
                         "yes" if r["salient"] else "no"] for i, r in enumerate(conns)]))
            if len(conns) < 10:
                add(f"<p>Only {len(conns)} of the 10 asked for: no other edge between ROIs with BOLD signal has a "
                    "positive saliency for this class.</p>")

    if bundle.has_eeg:
        add("<h2>Electrode graph</h2><p>Electrodes coloured by the CAM of each class in the band where the EEG "
            "model classified best; edges: strongest GAT attention (mean over heads, last layer) when phase 2 ran, "
            "else the functional k-NN graph.</p>")
        best_band = _best_band(metrics, bands)
        b = bands.index(best_band)
        if model_beats_chance(bundle, best_band) is False:
            add(_caution(f"The EEG {best_band} model" + (" of A" if other_b else ""), "its electrode CAM"))
        edge_index = edge_weight = None
        if bundle.has("gat_attention", f"eeg_{best_band}_attention"):
            edge_index = bundle.get("gat_attention", f"eeg_{best_band}_edge_index")
            edge_weight = bundle.get("gat_attention", f"eeg_{best_band}_attention")[-1].mean(0)
        elif bundle.has("graphs", "eeg_edge_index"):
            edge_index, edge_weight = bundle.get("graphs", "eeg_edge_index"), bundle.get("graphs", "eeg_edge_weight")
        add('<div class="grid">')
        for c, name in enumerate(classes):
            png = figures.electrode_graph(bundle.get("saliency", "ch_pos_2d"), bundle.get("saliency", "electrodes"),
                                          bundle.get("saliency", "eeg_cam")[b, c], edge_index, edge_weight,
                                          title=f"{name}: {best_band} band CAM")
            add(f"<figure>{_img(png, f'electrodes {name}')}</figure>")
        add("</div>")
    check_cancel(cancel)

    add("<h2>Multi-view fusion</h2>")
    if bundle.has_phase2:
        fu = bundle.arrays["fusion"]
        wb = bundle_b.get("fusion", "fusion_weights_global") if bundle_b is not None and bundle_b.has_phase2 else None
        add(_img(figures.fusion_weights([str(v) for v in fu["views"]], fu["fusion_weights_global"], wb), "fusion weights"))
        add(_table([str(v) for v in fu["views"]], [[_fmt(float(w)) for w in fu["fusion_weights_global"]]]))
    else:
        add("<p>Phase 2 did not run for this analysis (it needs EEG and fMRI), so there are no fusion weights.</p>")

    add("<h2>EEG-fMRI coupling</h2>")
    if bundle.has("coupling"):
        add(_coupling_section(bundle))
    else:
        add("<p>No coupling results (phase 2 did not run).</p>")

    if comparison is not None:
        report(progress, 0.85, "report: comparison")
        add(_comparison_section(comparison, cortex_images, q_threshold,
                                datasets=(dataset, bundle_b.dataset if bundle_b is not None else None),
                                caution=_comparison_caution(bundle, bundle_b)))
    report(progress, 1.0, "report done")
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>eegfmri_viewer report: {html.escape(bundle.label)}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>\n"
    )


def _dataset_warnings(dataset: dict) -> list:
    """The warnings of ``dataset.json``, each once.

    The analysis copies each recording's warnings into the dataset's, prefixed
    with the recording's label; the recording's own copy is then left out.
    """
    warnings = [str(w) for w in dataset.get("warnings", [])]
    seen = set(warnings)
    for r in dataset.get("recordings") or []:
        for w in r.get("warnings", []):
            w = str(w)
            if w not in seen and f"{r.get('label')}: {w}" not in seen:
                warnings.append(w)
                seen.add(w)
    return list(dict.fromkeys(warnings))


def _bad_channels_cell(recording: dict) -> str:
    """What became of a recording's bad EEG channels (dataset.json), "–" when not recorded."""
    bad = recording.get("eeg_bad_channels")
    if not recording.get("eeg_path") or bad is None:
        return "–"
    parts = [f"{html.escape(', '.join(bad[k]))} {k}" for k in ("interpolated", "dropped") if bad.get(k)]
    return "; ".join(parts) if parts else "none"


def _motion_cell(recording: dict) -> str:
    """Mean framewise displacement and the volumes above the threshold, "–" without motion parameters."""
    m = recording.get("motion")
    if not m:
        return "–"
    return (f"{m['mean_fd_mm']:.2f} (max {m['max_fd_mm']:.2f}; {m['n_volumes_above']} of {m['n_volumes']} "
            f"volumes > {m['threshold_mm']:g})")


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value if v is not None]
    return value


def _best_band(metrics: dict, bands) -> str:
    eeg = metrics.get("phase1", {}).get("eeg", {})
    scored = [(eeg[b].get("test_balanced_acc", eeg[b].get("test_acc", 0)) or 0, b) for b in bands if b in eeg]
    return max(scored)[1] if scored else ("alpha" if "alpha" in bands else bands[0])


def _coupling_section(bundle) -> str:
    cp = bundle.arrays["coupling"]
    names = bundle.get("saliency", "roi_names")
    node_index = cp["node_index"].astype(int)
    bands = [str(b) for b in cp["bands"]]
    out = [_img(figures.coupling_heatmap(bands, [str(names[i]) for i in node_index], cp["coupling"]), "coupling heatmap")]
    out.append("<p>Embedding coupling: the cosine between a ROI's phase-2 embedding in the band's view and in "
               "the fMRI view, i.e. how alike the ROI's place is in the two views' learnt similarity structure. "
               "It compares geometry, not time courses; for EEG power-BOLD coupling read the lagged "
               "correlations below.</p>")
    if "coupling_global" in cp:
        out.append("<p>Global coupling index per band: " + ", ".join(
            f"{html.escape(b)} {_fmt(float(v))}" for b, v in zip(bands, cp["coupling_global"])) + "</p>")
    rows = []
    lagged, lag_roi = lagged_arrays(cp)
    if "lagged_corr" in lagged:
        peak = np.abs(lagged["lagged_corr"]).max(-1)
        order = np.dstack(np.unravel_index(np.argsort(-peak, axis=None), peak.shape))[0][:10]
        for b, n in order:
            p, p_fwe = (float(lagged[k][b, n]) if k in lagged else np.nan for k in ("p_value", "p_value_fwer"))
            rows.append([html.escape(bands[b]), _fmt(str(names[lag_roi[n]])), _fmt(float(peak[b, n])),
                         _fmt(float(lagged["peak_lag_s"][b, n])), _fmt(p), _fmt(p_fwe)])
        where = (f"any of the {len(lag_roi)} atlas ROIs" if len(lag_roi) != len(node_index)
                 else f"the {len(lag_roi)} phase-2 ROIs")
        task = ""
        if bundle.config.get("coupling", {}).get("remove_task", False):
            task = (", after removing from both the expected response to each class's blocks: the coupling "
                    "beyond the task")
        out.append("<p>Strongest lagged correlations between HRF-convolved EEG band power (on the ROI) and BOLD, "
                   f"at {where}{task}. The corrected p-value accounts for every band and ROI tested "
                   f"({len(bands)} \u00d7 {len(lag_roi)}) by the maximum statistic over the same "
                   "surrogates.</p>")
        out.append(_table(["band", "ROI", "|r| at peak", "peak lag (s)", "permutation p", "corrected p (FWE)"],
                          rows))
        if len(order) and "timecourses" in bundle.arrays:
            b, n = order[0]
            out.append(_time_courses_figure(bundle, int(b), int(lag_roi[n])))
    return "\n".join(out)


def _time_courses_figure(bundle, band: int, roi: int, window_s: float = 60.0) -> str:
    """The first recording's band power and BOLD at ``roi`` (``timecourses.npz``), as a figure with its caption."""
    tc = bundle.arrays["timecourses"]
    n, tr = int(tc["n_volumes"][0]), float(tc["tr"])
    power = np.asarray(tc["power"][0, band, roi, :n], dtype=float)
    bold = np.asarray(tc["bold"][0, roi, :n], dtype=float)
    name = str(bundle.get("saliency", "roi_names")[roi])
    band_name, label = str(tc["bands"][band]), str(tc["recording_label"][0])
    blocks = np.asarray(tc["blocks"][0, :, :n], dtype=float) if "blocks" in tc else None
    png = figures.coupling_time_courses(tr, power, bold, blocks, [str(c) for c in tc["classes"]],
                                        f"{band_name} power and BOLD at {name}, {label}", int(round(window_s / tr)))
    return (f"<figure>{_img(png, 'coupling over time')}<figcaption>The strongest of these, over one recording "
            f"({html.escape(label)}): the {html.escape(band_name)} power on {html.escape(name)} convolved with the "
            "HRF, and the ROI's BOLD, both z-scored (what was correlated), over the class blocks; below, their "
            f"Pearson r in a {window_s:g}-s sliding window, against the range such windows give when the BOLD is "
            "shifted in time (grey; descriptive, no p-value). A coupling that rises and falls with the blocks is "
            "driven by the task.</figcaption></figure>")


def _comparison_caution(bundle, bundle_b) -> str:
    """The caution of "What changed" when the fMRI model of A or B is not shown to beat chance ("" otherwise)."""
    if not _is_other_bundle(bundle, bundle_b):
        return _caution("The fMRI model", "the changes of its saliency") \
            if model_beats_chance(bundle, "fmri") is False else ""
    failing = [side for side, b in (("A", bundle), ("B", bundle_b)) if model_beats_chance(b, "fmri") is False]
    if not failing:
        return ""
    model = "The fMRI model of " + failing[0] if len(failing) == 1 else "Neither fMRI model (A, B)"
    return _caution(model, "the changes of the saliency between them")


def _not_drawn_note(bundle, class_index: int, drawn, n: int = 5) -> str:
    """Figure-caption sentence naming the class's top-``n`` ROIs the cortex image cannot show ("" when all are drawn)."""
    if drawn is None:
        return ""
    missing = [(k + 1, r) for k, r in enumerate(top_salient_rois(bundle, class_index, n=n)) if not drawn[r["roi"]]]
    if not missing:
        return ""
    listed = ", ".join(f"{html.escape(r['name'])} (rank {k}, CAM {_fmt(r['cam'])})" for k, r in missing)
    return (f". Not drawn, deeper than the cortex surface reaches (e.g. subcortical), of the class's top {n} "
            f"ROIs: {listed}; the table below gives their CAM")


def settings_table(config: dict) -> str:
    """The analysis settings as an HTML table: one row per setting, each EEG band on one line.

    Parameters
    ----------
    config : dict
        ``config.toml`` of the bundle (sections of settings; sub-tables as dotted sections).

    Returns
    -------
    html_text : str
        The table, and a line naming the file that holds the same settings to re-run with.
    """
    rows = []

    def walk(section: str, table: dict):
        for key, value in table.items():
            if value is None:
                continue
            if isinstance(value, dict):
                if value:
                    walk(f"{section}.{key}" if section else str(key), value)
                else:
                    rows.append([html.escape(section), html.escape(str(key)), "none"])
                continue
            rows.append([html.escape(section), html.escape(str(key)), _setting_text(key, value)])

    walk("", _plain(config or {}))
    return (_table(["section", "setting", "value"], rows)
            + "<p>The same settings, as a file to re-run the analysis with, are the bundle's "
              "<code>config.toml</code>.</p>")


def _setting_text(key, value) -> str:
    """A setting's value for the settings table: bands as "name low–high Hz", one per line; lists inline."""
    def scalar(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            short = f"{v:g}"
            return short if float(short) == v else repr(v)
        return str(v)

    if isinstance(value, (list, tuple)):
        if str(key) == "bands" and all(isinstance(b, (list, tuple)) and len(b) == 3 for b in value):
            return "<br>".join(f"{html.escape(str(b[0]))} {scalar(b[1])}–{scalar(b[2])} Hz" for b in value) or "none"
        if all(isinstance(v, (list, tuple)) for v in value):
            return "<br>".join(html.escape("[" + ", ".join(scalar(x) for x in v) + "]") for v in value) or "none"
        return html.escape(", ".join(scalar(v) for v in value)) or "none"
    return html.escape(scalar(value))


def _comparison_section(result, cortex_images, q_threshold, datasets=(), caution: str = "") -> str:
    """The "What changed" section; ``datasets``: ``dataset.json`` of bundle A (and B), for the coordinates' space;
    ``caution``: the line that its models are not shown to beat chance ("" when they are)."""
    from eegfmri_viewer.comparison.compare import rois_left_out, top_changes
    from eegfmri_viewer.comparison.resolution import class_resolution_text, unreachable_classes
    from eegfmri_viewer.comparison.stats import smallest_p

    a = result.arrays
    meta = result.meta
    out = [f"<h2>What changed: {html.escape(str(meta.get('a')))} → {html.escape(str(meta.get('b')))}</h2>"]
    if caution:
        out.append(caution)
    # first what decides whether any of it can be read as a change
    out += [f'<p class="warn"><b>Warning:</b> {html.escape(str(w))}</p>' for w in meta.get("warnings", [])]
    classes = [str(c) for c in a["classes"]]
    unreachable = unreachable_classes(result, q_threshold)
    if unreachable:
        which = ("every class" if len(unreachable) == len(classes)
                 else ", ".join(html.escape(classes[i]) for i in unreachable))
        few = ("paired subjects the sign-flip test has too few distinct sign patterns"
               if meta.get("unit") == "subjects" else
               f"{html.escape(str(meta.get('unit', 'windows')))} per side the test has too few distinct relabellings")
        out.append(f'<p class="warn"><b>No ROI can be significant</b> in {which}: with so few {few} ('
                   + "; ".join(f"{html.escape(', '.join(names))}: {html.escape(text)}"
                               for text, names in _group_by_text(
                                   (class_resolution_text(result, i, q_threshold), classes[i]) for i in unreachable))
                   + "). Their changes below are shown, not tested.</p>")
    if meta.get("unit_note"):
        out.append(f"<p>Test unit: {html.escape(str(meta['unit_note']))}</p>")
    caveat = coordinates_caveat(*datasets)
    # compare.json records the space it warned about (coordinate_space): said once, by compare or here
    if caveat and not (meta.get("space") and not is_mni_space(meta["space"])):
        out.append(f'<p class="warn">{html.escape(caveat)}</p>')
    out.append(f"<p>Difference B − A of the fMRI CAM per class (normalisation: "
           f"{html.escape(str(meta.get('cam_normalisation', 'z-score across ROIs per window')))}); two-sided "
           + ("paired sign-flip test over subjects" if meta.get("unit") == "subjects" else
              f"permutation test over {html.escape(str(meta.get('unit', 'windows')))} with "
              f"{int(a['n_permutations'])} permutations")
           + f"; Benjamini-Hochberg FDR per class; significant: q &lt; {q_threshold}.</p>")
    if meta.get("unit") == "subjects":
        paired = meta.get("subjects_paired", [])
        text = (f"<p>Paired test: each of the {len(paired)} subjects recorded in both sessions "
                f"({html.escape(', '.join(map(str, paired)))}) gives its mean per class on each side, and the signs "
                "of the subjects' differences B − A are flipped at random (all 2<sup>n</sup> patterns when there "
                "are no more of them than permutations), so that differences between subjects do not enter the "
                f"test; no p-value can be below {smallest_p(len(paired), n_permutations=int(a['n_permutations'])):.2g} "
                "(higher for a class that fewer of them have on both sides: each class says how many).")
        if meta.get("subjects_left_out"):
            text += f" Left out, recorded in one session only: {html.escape(', '.join(meta['subjects_left_out']))}."
        out.append(text + "</p>")
    if meta.get("unit", "windows") == "windows":
        out.append('<p class="warn">Windows of one block are not independent, so window-level p-values are '
                   "optimistic; confirm with <code>compare --unit blocks</code> when there are enough blocks, and "
                   "across sessions of several subjects.</p>")
    left_out = rois_left_out(result)
    if len(left_out):
        names = a.get("roi_names")
        listed = ", ".join(str(names[i]) if names is not None else str(i) for i in left_out[:8]) + (
            ", …" if len(left_out) > 8 else "")
        out.append(f"<p>{len(left_out)} ROI(s) without BOLD signal in A or B ({html.escape(listed)}) are left out "
                   "of the tables and images below: their series are flat zeros on that side, so their change says "
                   "nothing about the brain.</p>")
    out.append('<div class="grid">')
    for name in a["classes"]:
        png = (cortex_images or {}).get(f"diff:{name}")
        if png:
            out.append(f"<figure>{_img(png, f'change {name}')}<figcaption>{html.escape(str(name))}: B − A "
                       f"(only q &lt; {q_threshold} coloured)</figcaption></figure>")
    out.append("</div>")
    for i, name in enumerate(a["classes"]):
        sig = np.nan_to_num(a["fmri_cam_q"][i], nan=1.0) < q_threshold
        # for the paired test, a class's own pairs: a subject counts only with windows of the class on both sides
        resolution = class_resolution_text(result, i, q_threshold)
        units = f" [{html.escape(resolution)}]" if resolution else ""
        if not resolution and meta.get("unit") == "subjects":
            units = " (no subject paired)"
        out.append(f"<h3>{html.escape(str(name))}: {int(sig.sum())} significant ROI(s){units}</h3>")
        rows = []
        for r in top_changes(result, i, n=10):
            cls = ' class="sig"' if r["q"] < q_threshold else ""
            rows.append([f"<span{cls}>{_fmt(r['name'])}</span>", _fmt(r["diff"]), _fmt(r["p"]), _fmt(r["q"]),
                         ", ".join(f"{v:.0f}" for v in r["coords"]) if r["coords"] else "–"])
        out.append(_table(["ROI", "B − A", "p", "q (FDR)", coordinates_header(*datasets)], rows))
    if "fusion_global_diff" in a:
        out.append(_table(["view"] + [str(v) for v in a["views"]],
                          [["A"] + [_fmt(float(x)) for x in a["fusion_global_a"]],
                           ["B"] + [_fmt(float(x)) for x in a["fusion_global_b"]],
                           ["B − A"] + [_fmt(float(x)) for x in a["fusion_global_diff"]]]))
    if "coupling_diff" in a:
        diff = a["coupling_diff"]
        finite = np.isfinite(diff)
        if finite.any():
            b, r = np.unravel_index(np.nanargmax(np.abs(np.where(finite, diff, 0))), diff.shape)
            out.append(f"<p>Largest coupling change: {html.escape(str(a['bands'][b]))} band at "
                       f"{html.escape(str(a['roi_names'][r]))} ({_fmt(float(diff[b, r]))})"
                       + ("" if "coupling_q" in a else " (not tested: per-recording coupling is not in the bundles)") + ".</p>")
    if "lagged_r_diff" in a:
        out.append(_lagged_change_table(a, q_threshold))
    return "\n".join(out)


def _group_by_text(pairs) -> list:
    """``(text, name)`` pairs as ``(text, [names])`` in first-seen order: one sentence for classes that share it."""
    groups: dict = {}
    for text, name in pairs:
        groups.setdefault(text, []).append(name)
    return list(groups.items())


def _lagged_change_table(a, q_threshold) -> str:
    """The largest changes of EEG power-BOLD correlation (r at the canonical delay), over all bands and ROIs."""
    from eegfmri_viewer.comparison.compare import lagged_smallest_p
    from eegfmri_viewer.comparison.stats import smallest_p

    diff = np.nan_to_num(np.asarray(a["lagged_r_diff"], dtype=float))
    order = np.dstack(np.unravel_index(np.argsort(-np.abs(diff), axis=None), diff.shape))[0][:10]
    rows = []
    for b, r in order:
        cls = ' class="sig"' if float(a["lagged_r_q"][b, r]) < q_threshold else ""
        rows.append([html.escape(str(a["bands"][b])), f"<span{cls}>{_fmt(str(a['roi_names'][r]))}</span>",
                     _fmt(float(a["lagged_r_a"][b, r])), _fmt(float(a["lagged_r_b"][b, r])),
                     _fmt(float(diff[b, r])), _fmt(float(a["lagged_r_p"][b, r])), _fmt(float(a["lagged_r_q"][b, r]))])
    n_a, n_b = int(a["n_recordings_a"]), int(a["n_recordings_b"])
    n_subjects = int(a.get("lagged_r_n_subjects", 0))
    smallest = lagged_smallest_p(a)
    means = (f"A and B are the means over the {n_subjects} paired subjects of each subject's recordings "
             f"({n_a} and {n_b} recordings in all)" if n_subjects
             else f"A and B are the means of their {n_a} and {n_b} recordings")
    note = (f"<p>EEG power-BOLD correlation (HRF-convolved band power against BOLD, at the canonical delay) of "
            f"each recording; {means} (Fisher z)")
    if n_subjects:
        labellings, floor = 2 ** n_subjects, smallest_p(n_subjects)
        note += (f". The test is paired: each of the {n_subjects} subjects recorded in both sessions gives its "
                 "difference B − A, and the signs of these differences are flipped at random (FDR per band over "
                 f"the ROIs). With {n_subjects} subjects there are {labellings} sign patterns")
    else:
        labellings, floor = math.comb(n_a + n_b, n_a), smallest_p(n_a, n_b)
        note += (", and the permutation test exchanges recordings between them (FDR per band over the ROIs). With "
                 f"{n_a} and {n_b} recordings there are {labellings} ways to relabel them")
    if smallest > floor * (1 + 1e-9):
        note += (f"; of these, {int(a['n_permutations'])} were drawn at random, so no p-value can be below "
                 f"{smallest:.2g}")
    else:
        note += f", so no p-value can be below {smallest:.2g}"
    n_rois = diff.shape[-1]
    if smallest >= q_threshold:
        note += ": these changes are shown, not tested"
    elif smallest * n_rois > q_threshold:
        note += (f", and with the FDR correction over the {n_rois} ROIs of a band a change reaches q &lt; "
                 f"{q_threshold:g} only together with many others")
    return note + ". Largest changes:</p>\n" + _table(["band", "ROI", "r in A", "r in B", "B − A", "p", "q (FDR)"],
                                                       rows)


def write_report(path, text: str, force: bool = False) -> Path:
    """Write the HTML text to ``path`` atomically.

    Never inside a results bundle, never onto a folder; an existing file is
    replaced only with ``force`` (see :func:`check_report_path`).
    """
    path = check_report_path(path, force=force)
    return atomic_write_bytes(path, text.encode("utf-8"))


def check_report_path(path, force: bool = False, inputs=()) -> Path:
    """Check, before the report is built, that it may be written to ``path``.

    Parameters
    ----------
    path : str or Path
        The HTML file.
    force : bool
        Replace an existing file.
    inputs : iterable of str or Path
        Bundles the report reads (the file must not lie inside them).

    Raises
    ------
    InputError
        ``path`` lies inside a results bundle or an input, is a folder,
        exists (without ``force``) or cannot be created.
    """
    return check_output_file(path, force=force, inputs=inputs, what="report")
