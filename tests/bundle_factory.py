"""Small results bundles with every documented file, for view and report tests.

The arrays are synthetic but structured: for class ``c`` the fMRI CAM peaks at
``PLANTED[c]`` (Power 2011 ROI indices, real coordinates), the EEG CAM of the
alpha band peaks at the occipital electrodes for class 1, and attention and
fusion weights are proper distributions (they sum to one). Tests can thus check
that a view shows the planted structure. Real end-to-end bundles come from
``analyze`` on the demo dataset (see ``tests/test_analyze.py``).
"""

from __future__ import annotations

import numpy as np

from eegfmri_viewer.results import ResultsBundle, save_bundle

CLASSES = ["rest", "visual", "motor"]
BANDS = [("delta", 1, 4), ("theta", 4, 8), ("alpha", 8, 13), ("beta", 13, 30), ("gamma", 30, 45)]
VIEWS = ["beta", "delta", "gamma", "theta", "alpha", "fmri"]
# Power 2011 indices: 0-based rows of nilearn's power_2011.csv.
PLANTED = {0: [73, 84], 1: [0, 1, 142], 2: [12, 13]}
OCCIPITAL = ["O1", "Oz", "O2"]
#: dataset.json's recordings of the synthetic bundle: one with a channel rebuilt and its head motion.
RECORDINGS = [
    {"subject": "01", "session": "1", "task": "states", "run": None, "label": "sub-01 ses-1 task-states",
     "eeg_path": "/data/sub-01_ses-1_task-states_eeg.vhdr", "bold_path": "/data/sub-01_ses-1_task-states_bold.nii.gz",
     "tr": 2.0, "space": "MNI", "warnings": [], "corrections": [],
     "eeg_bad_channels": {"interpolated": ["T7"], "dropped": []},
     "motion": {"mean_fd_mm": 0.12, "max_fd_mm": 0.61, "threshold_mm": 0.5, "n_volumes_above": 2, "n_volumes": 60}},
    {"subject": "02", "session": "1", "task": "states", "run": None, "label": "sub-02 ses-1 task-states",
     "eeg_path": "/data/sub-02_ses-1_task-states_eeg.vhdr", "bold_path": "/data/sub-02_ses-1_task-states_bold.nii.gz",
     "tr": 2.0, "space": "MNI", "warnings": [], "corrections": [],
     "eeg_bad_channels": {"interpolated": [], "dropped": []}, "motion": None},
]
CHANNELS = ["Fp1", "Fp2", "F3", "Fz", "F4", "C3", "Cz", "C4", "P3", "Pz", "P4", "O1", "Oz", "O2", "T7", "T8"]


def _power_atlas():
    from nilearn import datasets

    rois = datasets.fetch_coords_power_2011().rois
    coords = rois[["x", "y", "z"]].to_numpy(dtype=float)
    names = np.array([f"Power {int(r)}" for r in rois["roi"]])
    return coords, names


def _channel_positions(names):
    import mne

    # MNE 1.13 renamed standard_1005 to colin27_1005 (same positions).
    name = "colin27_1005" if "colin27_1005" in mne.channels.get_builtin_montages() else "standard_1005"
    montage = mne.channels.make_standard_montage(name)
    # Positions in the MNE head frame (as the pipeline stores them), not the
    # montage's own MRI frame.
    info = mne.create_info(list(names), 250.0, "eeg")
    info.set_montage(montage)
    xyz = np.array([ch["loc"][:3] for ch in info["chs"]])
    # Azimuthal equidistant projection, as MNE's topomap layout does.
    r = np.linalg.norm(xyz, axis=1, keepdims=True)
    unit = xyz / r
    theta = np.arccos(np.clip(unit[:, 2], -1, 1))
    phi = np.arctan2(unit[:, 1], unit[:, 0])
    xy = np.column_stack([theta * np.cos(phi), theta * np.sin(phi)])
    return xyz, xy


def _class_activity(n_cls, n_rois):
    """Planted ROIs 1 SD up in their class; in class 0 ("rest") the task ROIs are 0.5 SD down."""
    act = np.zeros((n_cls, n_rois))
    for c, rois in PLANTED.items():
        act[c, rois] = 1.0
        if c != 0:
            act[0, rois] = -0.5
    return act


def _fmri_connections(rng, fmri_cam, salient):
    """Salient-connection arrays (the real core summary) on a graph joining each class's planted ROIs."""
    from eegfmri_viewer.training.saliency import connection_summary

    pairs = {(int(a), int(b)) for a, b in rng.integers(0, fmri_cam.shape[1], (60, 2)) if a != b}
    for rois in PLANTED.values():
        pairs |= {(a, b) for a in rois for b in rois if a != b}
    edges = np.array(sorted(pairs | {(b, a) for a, b in pairs})).T
    weight = np.ones(edges.shape[1])
    out = connection_summary(fmri_cam, salient, edges, weight)
    return {"fmri_connections": out["connections"], "fmri_connection_weight": out["weight"],
            "fmri_connection_saliency": out["saliency"], "salient_fmri_connections": out["salient"]}


def make_bundle(path, phase2: bool = True, eeg: bool = True, seed: int = 0, n_nodes: int = 12,
                all_roi_lags: bool = False):
    """Write a small bundle to ``path`` and return it loaded-equivalent.

    Parameters
    ----------
    path : Path
        Destination folder (must not exist).
    phase2 : bool
        Include gat_attention, fusion, embeddings and coupling.
    eeg : bool
        Include the EEG keys (False gives an fMRI-only bundle).
    seed : int
        Random seed of the background noise.
    n_nodes : int
        Number of phase-2 nodes (salient ROIs).
    """
    rng = np.random.default_rng(seed)
    coords, roi_names = _power_atlas()
    n_rois, n_cls = len(coords), len(CLASSES)
    fmri_cam = rng.normal(0, 0.1, (n_cls, n_rois))
    for c, rois in PLANTED.items():
        fmri_cam[c, rois] += 3.0
    salient_rois = np.unique(np.concatenate([np.argsort(-fmri_cam[c])[: n_nodes // n_cls + 1] for c in range(n_cls)]))[:n_nodes]
    n_nodes = len(salient_rois)
    saliency = {
        "classes": np.array(CLASSES),
        "roi_names": roi_names,
        "roi_coords": coords,
        "roi_networks": np.array([""] * n_rois),
        "atlas": np.array("power2011"),
        "bands": np.array([b[0] for b in BANDS]),
        "band_limits": np.array([[lo, hi] for _, lo, hi in BANDS], dtype=float),
        "subjects": np.array(["01", "02"]),
        "fmri_cam": fmri_cam,
        "fmri_cam_subjects": np.stack([fmri_cam + rng.normal(0, 0.05, fmri_cam.shape) for _ in range(2)]),
        "salient_fmri": fmri_cam > 1.0,
        "fmri_class_activity": _class_activity(n_cls, n_rois),
        "salient_rois": salient_rois,
    }
    n_win = 24
    labels = np.arange(n_win) % n_cls
    windows = {
        "labels": labels,
        "subject": np.array(["01", "02"] * (n_win // 2)),
        "blocks": np.arange(n_win) // 2,
        "onsets_s": np.arange(n_win) * 10.0,
        "fmri_cam": fmri_cam[labels] + rng.normal(0, 0.2, (n_win, n_rois)),
    }
    arrays = {"saliency": saliency, "windows": windows}
    rng_edges = rng.integers(0, n_rois, (2, 4 * n_rois))
    arrays["graphs"] = {"fmri_edge_index": rng_edges, "fmri_edge_weight": rng.uniform(0.1, 1, rng_edges.shape[1])}
    saliency.update(_fmri_connections(rng, fmri_cam, saliency["salient_fmri"]))
    if eeg:
        n_ch, n_b = len(CHANNELS), len(BANDS)
        ch_pos, ch_pos_2d = _channel_positions(CHANNELS)
        eeg_cam = rng.normal(0, 0.1, (n_b, n_cls, n_ch))
        alpha = 2
        for name in OCCIPITAL:
            eeg_cam[alpha, 1, CHANNELS.index(name)] += 2.0
        transfer = np.abs(rng.normal(0, 1, (n_rois, n_ch)))
        transfer /= transfer.sum(axis=1, keepdims=True)
        saliency.update(
            electrodes=np.array(CHANNELS),
            ch_pos=ch_pos,
            ch_pos_2d=ch_pos_2d,
            eeg_cam=eeg_cam,
            eeg_cam_subjects=np.stack([eeg_cam, eeg_cam]),
            eeg_roi_cam=np.einsum("rc,bkc->bkr", transfer, eeg_cam),
            salient_eeg=eeg_cam > 1.0,
        )
        windows["eeg_roi_cam"] = saliency["eeg_roi_cam"][:, labels].transpose(1, 0, 2)
        ii, jj = np.triu_indices(n_ch, 1)
        keep = np.linalg.norm(ch_pos[ii] - ch_pos[jj], axis=1) < 0.07
        ei = np.concatenate([np.stack([ii[keep], jj[keep]]), np.stack([jj[keep], ii[keep]])], axis=1)
        arrays["graphs"].update(eeg_edge_index=ei, eeg_edge_weight=np.ones(ei.shape[1]))
        arrays["transfer"] = {"matrix": transfer, "method": np.array("distance")}
    if phase2 and eeg:
        arrays.update(_phase2_arrays(rng, salient_rois, arrays["graphs"]["eeg_edge_index"]))
        if all_roi_lags:
            arrays["coupling"].update(_all_roi_lags(rng, arrays["coupling"], n_rois))
    modalities = ["eeg", "fmri"] if eeg else ["fmri"]
    bundle = ResultsBundle(
        config={"preprocessing": {"atlas": "power2011"}, "phase1": {"epochs": 2}},
        metrics={
            "phase1": {
                "fmri": {"test_acc": 0.9, "test_balanced_acc": 0.9, "chance": 1 / 3,
                         "history": [{"epoch": e, "loss": 1.0 / (e + 1), "train_acc": 0.5, "val_acc": 0.5} for e in range(3)]},
            },
            **({"phase2": {"loss": [10.0, 5.0, 2.0]}} if phase2 and eeg else {}),
        },
        dataset={"label": "synthetic test bundle", "modalities": modalities, "recordings": RECORDINGS if eeg else [
            {**r, "eeg_path": None, "eeg_bad_channels": {"interpolated": [], "dropped": []}} for r in RECORDINGS]},
        arrays=arrays,
    )
    save_bundle(path, bundle)
    return bundle


def _all_roi_lags(rng, coupling, n_rois):
    """Lag arrays for every ROI, equal to the node arrays on the phase-2 nodes; ROI 200 peaks at -2 s in beta."""
    n_b, n_lags = coupling["lagged_corr"].shape[0], len(coupling["lags_s"])
    lagged = rng.normal(0, 0.1, (n_b, n_rois, n_lags))
    lagged[3, 200] -= np.exp(-((coupling["lags_s"] + 2.0) ** 2) / 8.0)
    lagged[:, coupling["node_index"]] = coupling["lagged_corr"]
    p = rng.uniform(0, 1, (n_b, n_rois))
    p[:, coupling["node_index"]] = coupling["p_value"]
    # corrected over more tests than the nodes' family: larger than the nodes' corrected p
    fwer = np.minimum(1.0, 3.0 * p)
    return {"roi_lagged_corr": lagged, "roi_peak_lag_s": coupling["lags_s"][np.abs(lagged).argmax(-1)],
            "roi_p_value": p, "roi_p_value_fwer": fwer}


def _phase2_arrays(rng, salient_rois, eeg_edge_index):
    n_nodes, n_views, heads, d = len(salient_rois), len(VIEWS), 2, 8
    logits = rng.normal(0, 1, (n_nodes, heads, n_views, n_views))
    att = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    scores = rng.normal(0, 1, (n_nodes, n_views))
    scores[:, VIEWS.index("fmri")] += 1.5
    w = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    gat = {"node_index": salient_rois}
    src = np.repeat(np.arange(n_nodes), 3)
    dst = (src + np.tile([1, 2, 3], n_nodes)) % n_nodes
    ei = np.stack([src, dst])
    for v in VIEWS:
        a = rng.uniform(0.05, 1, (2, heads, ei.shape[1]))
        gat[f"{v}_edge_index"] = ei
        gat[f"{v}_attention"] = a
    for b in ["delta", "theta", "alpha", "beta", "gamma"]:
        gat[f"eeg_{b}_edge_index"] = eeg_edge_index
        gat[f"eeg_{b}_attention"] = rng.uniform(0.05, 1, (2, heads, eeg_edge_index.shape[1]))
    emb = {v: rng.normal(i, 1, (n_nodes, d)) for i, v in enumerate(VIEWS)}
    emb["fused"] = np.einsum("nv,vnd->nd", w, np.stack([emb[v] for v in VIEWS]))
    emb["node_index"] = salient_rois
    n_b, lags = 5, np.arange(-10, 10.1, 2.0)
    lagged = rng.normal(0, 0.1, (n_b, n_nodes, len(lags)))
    lagged[2, 0] += np.exp(-((lags - 4.0) ** 2) / 8.0)
    coupling = {
        "bands": np.array(["delta", "theta", "alpha", "beta", "gamma"]),
        "node_index": salient_rois,
        "coupling": rng.uniform(-1, 1, (n_b, n_nodes)),
        "coupling_global": rng.uniform(-1, 1, n_b),
        "lags_s": lags,
        "lagged_corr": lagged,
        "peak_lag_s": lags[np.abs(lagged).argmax(-1)],
        "p_value": rng.uniform(0, 1, (n_b, n_nodes)),
        "n_permutations": np.array(200),
    }
    coupling["p_value_fwer"] = np.minimum(1.0, coupling["p_value"] + rng.uniform(0, 0.3, (n_b, n_nodes)))
    return {
        "gat_attention": gat,
        "fusion": {
            "views": np.array(VIEWS),
            "cross_view_attention": att,
            "fusion_weights": w,
            "fusion_weights_global": w.mean(0),
            "rho": np.array(0.8),
            "node_index": salient_rois,
        },
        "embeddings": emb,
        "coupling": coupling,
    }


def add_recording_coupling(bundle, n_per_session: int, change: dict, seed: int = 0) -> np.ndarray:
    """Give ``bundle`` two sessions and each recording's EEG power-BOLD r (``coupling.npz``).

    Windows alternate between sessions "1" and "2"; ``n_per_session`` recordings
    each; ``change`` ({(band index, roi): delta}) is added to every session-2
    recording. Returns the r array, shape (2 n_per_session, n_bands, n_rois).
    """
    rng = np.random.default_rng(seed)
    n_win = len(bundle.arrays["windows"]["labels"])
    bundle.arrays["windows"]["session"] = np.where(np.arange(n_win) % 2, "2", "1")
    n_bands, n_rois = len(bundle.bands), len(bundle.get("saliency", "roi_coords"))
    r = np.clip(rng.normal(0.1, 0.08, (2 * n_per_session, n_bands, n_rois)), -0.9, 0.9)
    for (b, roi), delta in change.items():
        r[n_per_session:, b, roi] += delta
    bundle.arrays["coupling"]["recording_lagged_r"] = r.astype(np.float32)
    bundle.arrays["coupling"]["recording_session"] = np.repeat(["1", "2"], n_per_session)
    return r


def add_paired_recordings(bundle, n_subjects: int, change: dict, seed: int = 0, with_subjects: bool = True) -> None:
    """Give ``bundle`` the same ``n_subjects`` subjects in sessions "1" and "2".

    Windows: six per subject, one of every class in each session. Each subject
    has one recording per session whose EEG power-BOLD r (``coupling.npz``) is
    that subject's own level (sd 0.25 across subjects) plus a little noise;
    ``change`` ({(band index, roi): delta}) is added to every session-2
    recording. ``recording_subject`` is left out when ``with_subjects`` is False.
    """
    rng = np.random.default_rng(seed)
    n_bands, n_rois = len(bundle.bands), len(bundle.get("saliency", "roi_coords"))
    windows = bundle.arrays["windows"]
    n_old, n_win = len(windows["labels"]), 6 * n_subjects
    idx = np.arange(n_win) % n_old  # the labels cycle through the 3 classes, and n_old is a multiple of 3
    windows = {k: v[idx] if np.ndim(v) and len(v) == n_old else v for k, v in windows.items()}
    subjects = [f"{i:02d}" for i in range(n_subjects)]
    windows["session"] = np.where(np.arange(n_win) % 2, "2", "1")
    windows["subject"] = np.array(subjects)[np.arange(n_win) // 6]
    windows["blocks"] = np.arange(n_win)
    bundle.arrays["windows"] = windows
    level = rng.normal(0.2, 0.25, (n_subjects, n_bands, n_rois))
    r = np.concatenate([level + rng.normal(0, 0.02, level.shape), level + rng.normal(0, 0.02, level.shape)])
    for (b, roi), delta in change.items():
        r[n_subjects:, b, roi] += delta
    coupling = bundle.arrays["coupling"]
    coupling["recording_lagged_r"] = np.clip(r, -0.95, 0.95).astype(np.float32)
    coupling["recording_session"] = np.repeat(["1", "2"], n_subjects)
    if with_subjects:
        coupling["recording_subject"] = np.array(subjects * 2)


#: (band index, atlas ROI) whose power and BOLD ``add_time_courses`` couples during "visual" blocks only.
TIME_COUPLED = (2, 139)


def add_time_courses(bundle, n_volumes=(90, 60), tr: float = 2.0, seed: int = 0) -> None:
    """Give ``bundle`` the coupling time courses of ``analyze`` (``timecourses.npz``).

    One recording per entry of ``n_volumes``; classes in 10-volume blocks
    (rest, visual, motor, rest, ...). Band power and BOLD are independent noise
    everywhere except at :data:`TIME_COUPLED`, where during "visual" blocks the
    power is minus the BOLD (r about −0.9 there, about 0 in other blocks).
    Each series is z-scored over its recording, as ``analyze`` stores them,
    and ``coupling.npz`` ``recording_lagged_r`` is set to each recording's r.
    With lag arrays for every ROI (``make_bundle(all_roi_lags=True)``) the pair
    is made the strongest lagged coupling of its band, as ``analyze`` finds it.
    """
    rng = np.random.default_rng(seed)
    n_bands, n_rois = len(bundle.bands), len(bundle.get("saliency", "roi_coords"))
    n_max, n_rec = max(n_volumes), len(n_volumes)
    power = np.full((n_rec, n_bands, n_rois, n_max), np.nan)
    bold = np.full((n_rec, n_rois, n_max), np.nan)
    blocks = np.full((n_rec, len(CLASSES), n_max), np.nan)
    r = np.zeros((n_rec, n_bands, n_rois), dtype=np.float32)
    b, roi = TIME_COUPLED
    for i, n in enumerate(n_volumes):
        label = (np.arange(n) // 10) % len(CLASSES)
        blocks[i, :, :n] = (label[None] == np.arange(len(CLASSES))[:, None]).astype(float)
        x = rng.normal(0, 1, (n_bands, n_rois, n))
        y = rng.normal(0, 1, (n_rois, n))
        visual = label == CLASSES.index("visual")
        x[b, roi, visual] = -y[roi, visual] + rng.normal(0, 0.3, visual.sum())
        x = (x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True)
        y = (y - y.mean(-1, keepdims=True)) / y.std(-1, keepdims=True)
        power[i, ..., :n], bold[i, :, :n] = x, y
        r[i] = (x * y[None]).mean(-1)
    bundle.arrays["timecourses"] = {
        "power": power.astype(np.float16), "bold": bold.astype(np.float16), "n_volumes": np.array(n_volumes),
        "blocks": blocks.astype(np.float16), "classes": np.array(CLASSES), "bands": np.array([x[0] for x in BANDS]),
        "tr": np.array(float(tr)), "recording_label": np.array([f"sub-0{i + 1} ses-1" for i in range(n_rec)]),
        "task_removed": np.array(False),
    }
    bundle.arrays["coupling"]["recording_lagged_r"] = r
    bundle.arrays["coupling"]["recording_session"] = np.array(["1"] * n_rec)
    if "roi_lagged_corr" in bundle.arrays["coupling"]:
        bundle.arrays["coupling"]["roi_lagged_corr"] *= 0.1
        bundle.arrays["coupling"]["roi_lagged_corr"][b, roi] = -0.9


def make_paired_bundle(path, n_subjects: int, change: dict, seed: int = 0, with_subjects: bool = True):
    """Write to ``path`` a bundle of the same ``n_subjects`` subjects in two sessions (:func:`add_paired_recordings`)."""
    bundle = make_bundle(path)
    add_paired_recordings(bundle, n_subjects, change, seed, with_subjects)
    save_bundle(path, bundle, force=True)
    return bundle
