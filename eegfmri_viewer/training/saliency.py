"""Salient nodes and connections from Class Activation Maps.

The CAM of a window for class ``c`` is ``CAM_c(i) = sum_k w[c, k] F[i, k]``
(see :mod:`eegfmri_viewer.models.cheb_gcnn`). Here CAMs are summarised:

- mean CAM per class: the average, over the windows *of that class*, of the
  CAM for that class (the map that explains correct decisions);
- per subject, the same average over that subject's windows;
- salient nodes per class across subjects by argmax, as the paper: every
  subject votes for the nodes at the top of its class map (the argmax,
  generalised to the top ``top_n`` nodes; ``top_n = 1`` is the plain
  argmax); the ``top_n`` nodes with the most votes (ties broken by the group
  mean CAM) are the salient nodes of the class. With one subject this is
  simply the top of its map.
- salient connections per class: the graph edges whose two ends are both
  salient for that class, scored by ``W[i, j] * (CAM_c(i) + CAM_c(j)) / 2``
  (a connection matters when it is strong and joins salient nodes);
  :func:`connection_summary` gives the undirected edge list, the scores and
  the mask that the results bundle stores.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy import ndarray


def class_mean_cam(cam: ndarray, labels: ndarray, n_classes: int | None = None) -> ndarray:
    """Mean CAM of each class over the windows of that class.

    Parameters
    ----------
    cam : ndarray, shape (n_windows, n_classes, n_nodes)
    labels : ndarray, shape (n_windows,)
    n_classes : int, optional
        Defaults to ``cam.shape[1]``.

    Returns
    -------
    mean : ndarray, shape (n_classes, n_nodes)
        NaN rows for classes without windows.
    """
    cam = np.asarray(cam)
    labels = np.asarray(labels)
    n_classes = cam.shape[1] if n_classes is None else n_classes
    out = np.full((n_classes, cam.shape[2]), np.nan, dtype=float)
    for c in range(n_classes):
        sel = labels == c
        if sel.any():
            out[c] = cam[sel, c].mean(axis=0)
    return out


def subject_mean_cam(cam: ndarray, labels: ndarray, subjects: ndarray, subject_order: Sequence[str]) -> ndarray:
    """:func:`class_mean_cam` for each subject.

    Parameters
    ----------
    cam : ndarray, shape (n_windows, n_classes, n_nodes)
    labels : ndarray, shape (n_windows,)
    subjects : ndarray, shape (n_windows,) str
    subject_order : sequence of str, length n_subj

    Returns
    -------
    per_subject : ndarray, shape (n_subj, n_classes, n_nodes)
    """
    subjects = np.asarray(subjects).astype(str)
    return np.stack([class_mean_cam(cam[subjects == s], np.asarray(labels)[subjects == s], cam.shape[1])
                     for s in subject_order])


def own_class_cam(cam: ndarray, labels: ndarray) -> ndarray:
    """CAM of each window for its own class.

    Parameters
    ----------
    cam : ndarray, shape (n_windows, n_classes, n_nodes)
    labels : ndarray, shape (n_windows,)

    Returns
    -------
    own : ndarray, shape (n_windows, n_nodes)
    """
    cam = np.asarray(cam)
    return cam[np.arange(cam.shape[0]), np.asarray(labels, dtype=int)]


def salient_nodes(cam_subjects: ndarray, top_n: int = 10) -> ndarray:
    """Salient nodes per class across subjects (argmax votes, see module doc).

    Parameters
    ----------
    cam_subjects : ndarray, shape (n_subj, n_classes, n_nodes)
        Per-subject class-mean CAM (NaN where a subject lacks a class).
    top_n : int
        Nodes each subject votes for and nodes kept per class.

    Returns
    -------
    salient : ndarray, shape (n_classes, n_nodes), bool
        At most ``top_n`` True per class; only nodes with at least one vote.
    """
    cam_subjects = np.asarray(cam_subjects, dtype=float)
    n_subj, n_classes, n_nodes = cam_subjects.shape
    top_n = int(max(1, min(top_n, n_nodes)))
    votes = np.zeros((n_classes, n_nodes))
    for s in range(n_subj):
        for c in range(n_classes):
            row = cam_subjects[s, c]
            if np.all(np.isnan(row)):
                continue
            order = np.argsort(-np.nan_to_num(row, nan=-np.inf), kind="stable")
            votes[c, order[:top_n]] += 1
    group = np.nan_to_num(np.nanmean(np.where(np.isnan(cam_subjects), np.nan, cam_subjects), axis=0)
                          if n_subj else np.zeros((n_classes, n_nodes)), nan=-np.inf)
    salient = np.zeros((n_classes, n_nodes), dtype=bool)
    for c in range(n_classes):
        order = np.lexsort((-group[c], -votes[c]))
        keep = order[:top_n]
        salient[c, keep[votes[c, keep] > 0]] = True
    return salient


def top_nodes_union(cam_classes: ndarray, top_n: int) -> ndarray:
    """Union over classes of the ``top_n`` nodes of each class map.

    Parameters
    ----------
    cam_classes : ndarray, shape (n_classes, n_nodes)

    Returns
    -------
    nodes : ndarray, shape (n_selected,), int64, sorted
    """
    cam_classes = np.nan_to_num(np.asarray(cam_classes, dtype=float), nan=-np.inf)
    top_n = int(max(1, min(top_n, cam_classes.shape[1])))
    picks = [np.argsort(-row, kind="stable")[:top_n] for row in cam_classes]
    return np.unique(np.concatenate(picks)).astype(np.int64)


def connection_saliency(cam_classes: ndarray, W: ndarray) -> ndarray:
    """Saliency of every connection: ``W[i, j] * (CAM_c(i) + CAM_c(j)) / 2``.

    Parameters
    ----------
    cam_classes : ndarray, shape (n_classes, n_nodes)
    W : ndarray, shape (n_nodes, n_nodes)
        Graph weights (0 where there is no edge).

    Returns
    -------
    score : ndarray, shape (n_classes, n_nodes, n_nodes)
    """
    cam_classes = np.asarray(cam_classes, dtype=float)
    return np.asarray(W, dtype=float)[None] * (cam_classes[:, :, None] + cam_classes[:, None, :]) / 2.0


def salient_connections(salient: ndarray, edge_index: ndarray) -> ndarray:
    """Edges whose two ends are salient for the class.

    Parameters
    ----------
    salient : ndarray, shape (n_classes, n_nodes), bool
    edge_index : ndarray, shape (2, n_edges)

    Returns
    -------
    mask : ndarray, shape (n_classes, n_edges), bool
    """
    salient = np.asarray(salient, dtype=bool)
    src, dst = np.asarray(edge_index, dtype=int)
    return salient[:, src] & salient[:, dst]


def undirected_edges(edge_index: ndarray, edge_weight: ndarray) -> tuple:
    """Each undirected edge once, as ``i < j``.

    Parameters
    ----------
    edge_index : ndarray, shape (2, n_edges)
        Both directions of every edge (as :class:`~eegfmri_viewer.graphs.graph.Graph`
        stores them); self loops are dropped.
    edge_weight : ndarray, shape (n_edges,)

    Returns
    -------
    edges : ndarray, shape (2, n_connections), int64
        Sorted by (i, j).
    weight : ndarray, shape (n_connections,)
    """
    src, dst = np.asarray(edge_index, dtype=np.int64)
    weight = np.asarray(edge_weight, dtype=float)
    keep = src < dst
    order = np.lexsort((dst[keep], src[keep]))
    return np.stack([src[keep][order], dst[keep][order]]), weight[keep][order]


def connection_summary(cam_classes: ndarray, salient: ndarray, edge_index: ndarray,
                       edge_weight: ndarray) -> dict:
    """Connection saliency and salient connections of every class on one graph.

    Parameters
    ----------
    cam_classes : ndarray, shape (n_classes, n_nodes)
        Class-mean CAM.
    salient : ndarray, shape (n_classes, n_nodes), bool
        Salient nodes (:func:`salient_nodes`).
    edge_index : ndarray, shape (2, n_edges)
        The graph the CAM was computed on (both directions listed).
    edge_weight : ndarray, shape (n_edges,)

    Returns
    -------
    dict
        ``connections`` (2, n_conn) int64, each undirected edge once (i < j);
        ``weight`` (n_conn,); ``saliency`` (n_classes, n_conn),
        ``W[i, j] * (CAM_c(i) + CAM_c(j)) / 2``; ``salient`` (n_classes, n_conn)
        bool, both ends salient for the class.
    """
    edges, weight = undirected_edges(edge_index, edge_weight)
    cam = np.asarray(cam_classes, dtype=float)
    score = weight[None] * (cam[:, edges[0]] + cam[:, edges[1]]) / 2.0
    return {"connections": edges, "weight": weight, "saliency": score,
            "salient": salient_connections(salient, edges)}
