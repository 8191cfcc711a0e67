"""Reference inputs for the referenced Class Activation Map.

The CAM of a window, ``CAM_c(x)[i] = sum_k w[c, k] F(x)[i, k]``, holds a part
that does not depend on the data at all: the features that the biases and the
learned node embedding produce at every node whatever the signal. That part
acts as a per-node bias of the class score, and it can dominate the class
mean of the CAM. Worse, a model often tells a state by the *absence* of
another state's activity (z-scored BOLD is as informative below its mean as
above it); the CAM of the windows of a class then shows large values where
nothing happens in that class.

The referenced CAM compares every window with the *average state* of the
brain, as reference-based attributions (DeepLIFT, integrated gradients) do::

    rCAM_c(x)[i] = CAM_c(x)[i] - CAM_c(x_ref)[i]

and, since the pooling is a mean, ``mean_i rCAM_c(x)[i] = logit_c(x) -
logit_c(x_ref)`` (the CAM identity without the bias). Here the average
state is:

- ``"level"`` (fMRI): every node at its mean value over the training windows,
  sample by sample (zero for z-scored BOLD);
- ``"power"`` (EEG bands): the window itself, each node's signal rescaled to
  the node's mean power over the training windows. The waveform is kept and
  only the deviation of the band power from its average is taken away, so a
  class that *lowers* a band's power (alpha blocking, mu and beta
  desynchronisation) shows where it does so.
"""

from __future__ import annotations

import numpy as np
from numpy import ndarray

REFERENCE_KINDS = ("level", "power")


def reference_inputs(x: ndarray, kind: str, train_idx: ndarray) -> ndarray:
    """The average-state reference of every window.

    Parameters
    ----------
    x : ndarray, shape (n_windows, n_nodes, n_times)
        Node series of every window.
    kind : {"level", "power"}
        See the module docstring.
    train_idx : ndarray of int, shape (n_train,)
        Windows whose statistics define the average state (the training
        windows, so that held-out windows never shape it).

    Returns
    -------
    x_ref : ndarray, shape (1, n_nodes, n_times) or (n_windows, n_nodes, n_times)
        One shared reference for ``"level"``, one per window for ``"power"``.
    """
    x = np.asarray(x)
    train_idx = np.asarray(train_idx, dtype=int)
    if kind not in REFERENCE_KINDS:
        raise ValueError(f"reference kind must be one of {REFERENCE_KINDS}, got {kind!r}")
    if train_idx.size == 0:
        raise ValueError("the average state needs at least one training window")
    if kind == "level":
        return x[train_idx].mean(axis=0, keepdims=True).astype(x.dtype)
    power = np.mean(np.square(x, dtype=np.float64), axis=2)           # (n_windows, n_nodes)
    mean_power = power[train_idx].mean(axis=0)                         # (n_nodes,)
    # A silent node stays silent: there is no waveform to rescale.
    gain = np.where(power > 0, np.sqrt(mean_power[None] / np.where(power > 0, power, 1.0)), 0.0)
    return (x * gain[:, :, None]).astype(x.dtype)
