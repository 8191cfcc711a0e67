"""Phase 1 of ``analyze`` for one modality: graph, Chebyshev GCNN, training, CAM.

One call handles fMRI (nodes = ROIs) or one EEG band (nodes = electrodes). At
group level one model is trained on the windows of all subjects; at
individual level one model per subject, each on that subject's windows and
its own graph, and every window's CAM and features come from its subject's
model. The graph is built from the training windows only, so the test
windows never shape it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Optional

import numpy as np
from numpy import ndarray

from eegfmri_viewer.progress import check_cancel, report


#: Seed distance between the initialisations of one model (see ``n_init``).
INIT_SEED_STEP = 1000


@dataclass
class Phase1Result:
    """What one modality's phase 1 produced.

    Attributes
    ----------
    cam : ndarray, shape (n_windows, n_classes, n_nodes)
        CAM of every window for every class.
    cam_reference : ndarray, shape (n_windows, n_classes, n_nodes) or None
        CAM of each window's average-state reference
        (:mod:`eegfmri_viewer.training.cam_reference`); ``cam - cam_reference``
        is the referenced CAM. None when no reference was asked for.
    features : ndarray, shape (n_windows, n_nodes, F)
        Last graph layer of every window (input of phase 2).
    metrics : dict
        ``test_acc``, ``test_balanced_acc``, ``train_acc``, ``val_acc``,
        ``chance``, ``epochs``, ``best_epoch``, ``history``, ``n_test``,
        ``n_test_per_class``, ``confusion`` (true class by predicted class,
        test windows), ``block_test`` (when blocks were given) and, per
        subject, ``subjects``.
    state_dicts : dict of str to dict
        Trained weights (one entry at group level, one per subject at individual level).
    graph : Graph
        Graph of all training windows (what the bundle's ``graphs.npz`` shows).
    pred : ndarray, shape (n_windows,) int
        Predicted class of every test window, -1 for the other windows.
    """

    cam: ndarray
    features: ndarray
    metrics: dict
    state_dicts: dict = field(default_factory=dict)
    graph: object = None
    cam_reference: Optional[ndarray] = None
    pred: Optional[ndarray] = None


def kept_initialisations(entry: dict) -> list:
    """The models of a phase-1 metrics entry that were trained from several initialisations.

    Parameters
    ----------
    entry : dict
        ``metrics["phase1"]["fmri"]`` or ``metrics["phase1"]["eeg"][band]``.

    Returns
    -------
    models : list of (subject or None, initialisations, chosen_init)
        One item for a group model, one per subject at individual level
        (sorted), none when every model was trained once.
    """
    if not isinstance(entry, dict):
        return []
    if entry.get("initialisations"):
        return [(None, entry["initialisations"], entry.get("chosen_init"))]
    return [(str(s), m["initialisations"], m.get("chosen_init")) for s, m in sorted(entry.get("subjects", {}).items())
            if isinstance(m, dict) and m.get("initialisations")]


def build_graph(x_train: ndarray, kind: str, k: int, coords: Optional[ndarray] = None):
    """k-NN graph over nodes from training windows (functional) or positions (spatial).

    Parameters
    ----------
    x_train : ndarray, shape (n_train, n_nodes, n_times)
    kind : "functional" | "spatial"
    k : int
        Clipped to ``n_nodes - 1``.
    coords : ndarray, shape (n_nodes, 3), optional
        Needed for ``"spatial"``.

    Returns
    -------
    graph : Graph
    """
    from eegfmri_viewer.graphs import functional_knn_graph, spatial_knn_graph

    n_nodes = x_train.shape[1]
    k = int(max(1, min(k, n_nodes - 1)))
    if kind == "spatial":
        return spatial_knn_graph(coords, k=k)
    series = np.transpose(x_train, (1, 0, 2)).reshape(n_nodes, -1)
    return functional_knn_graph(series, k=k)


def _make_model(x: ndarray, n_classes: int, sfreq: float, kernel_s: float, graph, phase1, train_idx):
    from eegfmri_viewer.models.cheb_gcnn import SpectralGCNN

    model = SpectralGCNN(x.shape[2], n_classes, sfreq, graph.edge_index, graph.edge_weight, graph.lambda_max,
                         kernel_s=kernel_s, n_filters=phase1.n_filters, n_segments=phase1.n_segments,
                         hidden=tuple(phase1.hidden), K=phase1.K, dropout=phase1.dropout,
                         node_embedding=phase1.node_embedding, n_nodes=x.shape[1])
    scale = float(np.std(x[train_idx])) if len(train_idx) else 1.0
    model.temporal.input_scale.fill_(scale if scale > 0 and np.isfinite(scale) else 1.0)
    return model


def _outputs(model, x: ndarray, batch: int = 64):
    import torch

    feats, cams = [], []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(x), batch):
            f = model.node_features(torch.as_tensor(x[start:start + batch], dtype=torch.get_default_dtype()))
            feats.append(f.numpy())
            cams.append(model.cam_from_features(f).numpy())
    return np.concatenate(cams).astype(np.float32), np.concatenate(feats).astype(np.float32)


def _reference_cam(model, x: ndarray, kind: str, train_idx: ndarray) -> ndarray:
    """CAM of the average-state reference of every window, shape (n_windows, C, N)."""
    from eegfmri_viewer.training.cam_reference import reference_inputs

    x_ref = reference_inputs(x, kind, train_idx)
    cam_ref, _ = _outputs(model, x_ref)
    return np.broadcast_to(cam_ref, (len(x),) + cam_ref.shape[1:]).copy() if len(x_ref) == 1 else cam_ref


def train_phase1(x: ndarray, labels: ndarray, split: ndarray, subjects: ndarray, n_classes: int, sfreq: float,
                 kernel_s: float, config, stage: str, level: str = "group", coords: Optional[ndarray] = None,
                 progress=None, cancel=None, on_epoch: Optional[Callable[[dict], None]] = None,
                 reference: Optional[str] = None, n_init: int = 1, blocks: Optional[ndarray] = None,
                 strata: Optional[ndarray] = None) -> Phase1Result:
    """Train the phase-1 model(s) of one modality and read out CAM and features.

    Parameters
    ----------
    x : ndarray, shape (n_windows, n_nodes, n_times)
        Node time series of every window.
    labels : ndarray, shape (n_windows,)
    split : ndarray, shape (n_windows,)
        ``"train"`` / ``"val"`` / ``"test"``.
    subjects : ndarray, shape (n_windows,) str
    n_classes : int
    sfreq : float
        Sampling rate of the series (``1 / TR`` for fMRI).
    kernel_s : float
        Temporal kernel in seconds.
    config : AnalysisConfig
        Uses ``phase1``, ``graph`` and ``training``.
    stage : str
        Name in progress messages and ``on_epoch`` records (``"fmri"``, ``"eeg_alpha"``).
    level : "group" | "individual"
    coords : ndarray, shape (n_nodes, 3), optional
        Node positions for spatial graphs.
    progress, cancel, on_epoch
        ``on_epoch(dict(stage, epoch, loss, train_acc, val_acc, ...))`` after
        every epoch (``subject`` added at individual level).
    reference : {"level", "power"} or None
        Also compute the CAM of each window's average-state reference
        (``Phase1Result.cam_reference``), from each model's own training windows.
    n_init : int
        Initialisations trained per model; the one with the lowest
        validation loss at its best epoch is kept (the test windows play no
        part in the choice; a model without validation windows is trained
        from the first initialisation only). Initialisation ``j`` (0-based) is seeded with
        ``training.seed + INIT_SEED_STEP * j``, so ``n_init = 1`` is the
        plain seeded run. With more than one, the ``on_epoch`` records and
        the saved history carry ``init`` (``j + 1``), and the metrics gain
        ``initialisations`` (seed, best validation loss and epochs of each)
        and ``chosen_init``.
    blocks, strata : ndarray, shape (n_windows,), optional
        Block and recording of each window. With both, the metrics gain
        ``block_test``: the block permutation test of the test accuracy
        against chance (:func:`~eegfmri_viewer.training.chance_level.block_permutation_test`,
        seeded with ``training.seed``).

    Returns
    -------
    result : Phase1Result
    """
    from eegfmri_viewer.training.chance_level import block_permutation_test, confusion_matrix
    from eegfmri_viewer.training.loop import (ClassifierTraining, TrainSettings, accuracy,
                                              balanced_accuracy, seeded)

    t = config.training
    settings = TrainSettings(epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, weight_decay=t.weight_decay,
                             patience=t.patience, class_weights=t.class_weights, seed=t.seed)
    subjects = np.asarray(subjects).astype(str)
    split = np.asarray(split)
    labels = np.asarray(labels, dtype=int)
    groups = [("group", np.arange(len(labels)))] if level == "group" else \
        [(s, np.flatnonzero(subjects == s)) for s in sorted(set(subjects.tolist()))]
    n_init = max(1, int(n_init))
    all_train = np.flatnonzero(split == "train")
    with seeded(t.seed):
        group_graph = build_graph(x[all_train], config.graph.kind, config.graph.k, coords)
    n_win, n_nodes = x.shape[0], x.shape[1]
    cam = np.zeros((n_win, n_classes, n_nodes), dtype=np.float32)
    cam_reference = np.zeros_like(cam) if reference else None
    features = None
    pred = np.full(n_win, -1)
    state_dicts, histories, per_model = {}, [], {}
    for gi, (name, idx) in enumerate(groups):
        check_cancel(cancel)
        sub_split = split[idx]
        train_local = np.flatnonzero(sub_split == "train")
        if train_local.size == 0:
            continue
        graph = group_graph
        chosen, tried = None, []
        # without validation windows there is nothing honest to choose on: one initialisation
        n_here = n_init if np.any(sub_split == "val") else 1
        for ii in range(n_here):
            init_seed = int(t.seed) + INIT_SEED_STEP * ii
            with seeded(init_seed):
                if level != "group" and graph is group_graph:
                    graph = build_graph(x[idx][train_local], config.graph.kind, config.graph.k, coords)
                model = _make_model(x[idx], n_classes, sfreq, kernel_s, graph, config.phase1, train_local)
                run = ClassifierTraining(model, x[idx], labels[idx], sub_split, n_classes,
                                         replace(settings, seed=init_seed))
                entries = []
                for record in run.epochs(cancel=cancel):
                    frac = (gi + (ii + record["epoch"] / max(1, settings.epochs)) / n_here) / len(groups)
                    what = stage if n_here == 1 else f"{stage} (initialisation {ii + 1}/{n_here})"
                    report(progress, frac, f"{what}: epoch {record['epoch']} loss {record['loss']:.3f}")
                    entry = {"stage": stage,
                             **{k: record[k] for k in ("epoch", "loss", "train_acc", "val_acc", "val_loss")}}
                    if level != "group":
                        entry["subject"] = name
                    if n_here > 1:
                        entry["init"] = ii + 1
                    entries.append(entry)
                    if on_epoch is not None:
                        on_epoch(dict(entry))
            tried.append({"init": ii + 1, "seed": init_seed, "best_monitor": run.best_monitor,
                          "best_epoch": run.best_epoch, "epochs": len(run.history)})
            # strictly lower, so that ties keep the first (the plain seed); a diverged run (NaN) never wins
            score = run.best_monitor if np.isfinite(run.best_monitor) else float("inf")
            if chosen is None or score < chosen[4]:
                chosen = (model, run, entries, ii + 1, score)
        model, run, entries, chosen_init, _ = chosen
        histories.extend(entries)
        c, f = _outputs(model, x[idx])
        cam[idx] = c
        if reference:
            cam_reference[idx] = _reference_cam(model, x[idx], reference, train_local)
        if features is None:
            features = np.zeros((n_win, n_nodes, f.shape[2]), dtype=np.float32)
        features[idx] = f
        test_local = np.flatnonzero(sub_split == "test")
        if test_local.size:
            pred[idx[test_local]] = run.predict("test")
        evaluation = {s: run.evaluate(s) for s in ("train", "val", "test")}
        per_model[name] = {"test_acc": evaluation["test"]["acc"],
                           "test_balanced_acc": evaluation["test"]["balanced_acc"],
                           "train_acc": evaluation["train"]["acc"], "val_acc": evaluation["val"]["acc"],
                           "epochs": len(run.history), "best_epoch": run.best_epoch}
        if n_here > 1:
            per_model[name]["initialisations"] = tried
            per_model[name]["chosen_init"] = chosen_init
        state_dicts[f"{stage}" if level == "group" else f"{stage}_sub-{name}"] = {
            k: v.detach().clone() for k, v in model.state_dict().items()}
    if features is None:
        raise ValueError(f"{stage}: no training windows")
    test = np.flatnonzero((split == "test") & (pred >= 0))
    train_acc = [m["train_acc"] for m in per_model.values()]
    val_acc = [m["val_acc"] for m in per_model.values() if np.isfinite(m["val_acc"])]
    metrics = {
        "test_acc": accuracy(labels[test], pred[test]),
        "test_balanced_acc": balanced_accuracy(labels[test], pred[test]),
        "train_acc": float(np.mean(train_acc)),
        "val_acc": float(np.mean(val_acc)) if val_acc else float("nan"),
        "chance": 1.0 / n_classes,
        "n_test": int(test.size),
        # the chance level of the test accuracy is the largest class's share of these (training/chance_level.py)
        "n_test_per_class": [int((labels[test] == c).sum()) for c in range(n_classes)],
        "confusion": confusion_matrix(labels[test], pred[test], n_classes),
        "level": level,
        "epochs": int(max(m["epochs"] for m in per_model.values())),
        "best_epoch": int(max(m["best_epoch"] for m in per_model.values())),
        "history": [{k: v for k, v in h.items() if k != "stage"} for h in histories],
    }
    if blocks is not None and strata is not None and test.size:
        metrics["block_test"] = block_permutation_test(labels[test], pred[test], np.asarray(blocks)[test],
                                                       np.asarray(strata)[test], seed=int(t.seed))
    if level == "group":
        for s in sorted(set(subjects.tolist())):
            sel = test[subjects[test] == s]
            per_model.setdefault("by_subject", {})[s] = {
                "test_acc": accuracy(labels[sel], pred[sel]),
                "test_balanced_acc": balanced_accuracy(labels[sel], pred[sel]), "n_test": int(sel.size)}
        metrics["subjects"] = per_model.pop("by_subject")
        if "initialisations" in per_model.get("group", {}):
            metrics["initialisations"] = per_model["group"]["initialisations"]
            metrics["chosen_init"] = per_model["group"]["chosen_init"]
    else:
        metrics["subjects"] = per_model
    return Phase1Result(cam=cam, features=features, metrics=metrics, state_dicts=state_dicts, graph=group_graph,
                        cam_reference=cam_reference, pred=pred)
