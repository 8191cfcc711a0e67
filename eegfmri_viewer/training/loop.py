"""Epoch loop for the phase-1 classifiers, written as a generator.

:meth:`ClassifierTraining.epochs` yields one metrics dict per epoch, so the
command line can print a progress bar, the GUI can draw live curves and a
test can stop after two epochs, all from the same code. Early stopping
watches the class-weighted validation loss and restores the weights of the
best epoch. Class weights (inverse class frequency in the training split)
keep a majority class from dominating. Runs are reproducible under
:func:`seeded`.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np
from numpy import ndarray

from eegfmri_viewer.progress import CancelFlag, check_cancel


@dataclass
class TrainSettings:
    """Optimisation settings of one training run.

    Attributes
    ----------
    epochs : int
        Maximum number of epochs.
    batch_size : int
        Windows per gradient step.
    lr : float
        Adam learning rate.
    weight_decay : float
        L2 penalty (Adam ``weight_decay``).
    patience : int
        Epochs without a lower validation loss before stopping (0 disables
        early stopping).
    class_weights : bool
        Weight the loss by inverse class frequency of the training split.
    seed : int
        Seed of the batch order (the model initialisation is seeded by the
        caller, see :func:`seeded`).
    """

    epochs: int = 60
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 15
    class_weights: bool = True
    seed: int = 0


@contextlib.contextmanager
def seeded(seed: int):
    """Seed torch and ask for deterministic kernels while the block runs.

    Sets ``torch.manual_seed(seed)`` and
    ``torch.use_deterministic_algorithms(True, warn_only=True)`` (ops without a
    deterministic implementation warn instead of failing); the previous
    deterministic setting is restored on exit.

    Yields
    ------
    rng : numpy.random.Generator
        A numpy generator seeded with ``seed``.
    """
    import torch

    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.manual_seed(int(seed))
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield np.random.default_rng(int(seed))
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn)


def balanced_accuracy(y_true: ndarray, y_pred: ndarray) -> float:
    """Mean recall over the classes present in ``y_true`` (NaN when empty).

    Parameters
    ----------
    y_true, y_pred : ndarray, shape (n,)
        Integer class labels.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.size == 0:
        return float("nan")
    recalls = [np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]
    return float(np.mean(recalls))


def accuracy(y_true: ndarray, y_pred: ndarray) -> float:
    """Fraction of correct predictions (NaN when empty)."""
    y_true = np.asarray(y_true)
    return float(np.mean(np.asarray(y_pred) == y_true)) if y_true.size else float("nan")


def class_weights(labels: ndarray, n_classes: int) -> ndarray:
    """Inverse-frequency weights ``n / (n_classes * n_c)``; 0 for absent classes.

    Returns
    -------
    w : ndarray, shape (n_classes,)
    """
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=n_classes).astype(float)
    w = np.zeros(n_classes)
    present = counts > 0
    w[present] = counts.sum() / (present.sum() * counts[present])
    return w


class ClassifierTraining:
    """Train a window classifier epoch by epoch.

    Parameters
    ----------
    model : torch.nn.Module
        ``model(x) -> logits (B, n_classes)``.
    x : ndarray, shape (n_windows, ...)
        Inputs of all windows (e.g. ``(n_windows, n_nodes, n_times)``).
    labels : ndarray, shape (n_windows,)
        Class index of each window.
    split : ndarray, shape (n_windows,)
        ``"train"``, ``"val"`` or ``"test"`` per window (see
        :func:`eegfmri_viewer.training.splits.block_split`).
    n_classes : int
        Number of classes.
    settings : TrainSettings

    Attributes
    ----------
    history : list of dict
        One entry per finished epoch (what :meth:`epochs` yielded).
    best_epoch : int
        Epoch whose weights the model holds after training (1-based; 0 before).
    best_monitor : float
        What early stopping watched at that epoch: the class-weighted
        validation loss (the training loss when there is no validation
        split); ``inf`` before training. Restarts compare models by it.
    """

    def __init__(self, model, x: ndarray, labels: ndarray, split: ndarray, n_classes: int,
                 settings: Optional[TrainSettings] = None):
        import torch

        self.model = model
        self.settings = settings or TrainSettings()
        dtype = torch.get_default_dtype()
        self.x = torch.as_tensor(np.asarray(x), dtype=dtype)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.split = np.asarray(split)
        self.n_classes = int(n_classes)
        self.index = {name: np.flatnonzero(self.split == name) for name in ("train", "val", "test")}
        if self.index["train"].size == 0:
            raise ValueError("the training split is empty; there are too few blocks to train on")
        weights = (class_weights(self.labels[self.index["train"]], self.n_classes)
                   if self.settings.class_weights else np.ones(self.n_classes))
        self.loss_fn = torch.nn.CrossEntropyLoss(weight=torch.as_tensor(weights, dtype=dtype))
        self.history: list = []
        self.best_epoch = 0
        self.best_monitor = float("inf")

    def _logits(self, idx: ndarray):
        import torch

        self.model.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(idx), max(1, self.settings.batch_size * 4)):
                out.append(self.model(self.x[idx[start:start + self.settings.batch_size * 4]]))
        if not out:
            return torch.zeros((0, self.n_classes))
        return torch.cat(out)

    def predict(self, subset: str = "test") -> ndarray:
        """Predicted class of every window of ``subset``, shape (n_subset,)."""
        return self._logits(self.index[subset]).argmax(-1).numpy()

    def evaluate(self, subset: str = "test") -> dict:
        """Loss, accuracy and balanced accuracy on ``"train"``, ``"val"`` or ``"test"``.

        Returns
        -------
        metrics : dict
            ``loss``, ``acc``, ``balanced_acc`` (NaN when the subset is empty)
            and ``n`` (windows).
        """
        import torch

        idx = self.index[subset]
        if idx.size == 0:
            return {"loss": float("nan"), "acc": float("nan"), "balanced_acc": float("nan"), "n": 0}
        logits = self._logits(idx)
        y = self.labels[idx]
        loss = float(self.loss_fn(logits, torch.as_tensor(y)).item())
        pred = logits.argmax(-1).numpy()
        return {"loss": loss, "acc": accuracy(y, pred), "balanced_acc": balanced_accuracy(y, pred), "n": int(idx.size)}

    def epochs(self, cancel: Optional[CancelFlag] = None) -> Iterator[dict]:
        """Train, yielding the metrics of every epoch.

        Each yielded dict holds ``epoch`` (1-based), ``loss`` (mean training
        loss), ``train_acc``, ``val_acc``, ``val_loss``, ``val_balanced_acc``,
        ``best_epoch`` and ``stop`` (True on the last epoch). When the loop
        ends (all epochs, or early stopping after ``patience`` epochs without
        a lower validation loss) the model holds the weights of the best
        epoch and is in eval mode.

        Raises
        ------
        eegfmri_viewer.progress.Cancelled
            When ``cancel()`` becomes true (checked before every batch); the
            model then keeps its current weights.
        """
        import torch

        s = self.settings
        optimiser = torch.optim.Adam(self.model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
        generator = torch.Generator().manual_seed(int(s.seed))
        train_idx = torch.as_tensor(self.index["train"])
        y_all = torch.as_tensor(self.labels)
        has_val = self.index["val"].size > 0
        best_loss = float("inf")
        best_state = None
        waited = 0
        for epoch in range(1, int(s.epochs) + 1):
            self.model.train()
            order = train_idx[torch.randperm(len(train_idx), generator=generator)]
            total, seen, correct = 0.0, 0, 0
            for start in range(0, len(order), s.batch_size):
                check_cancel(cancel)
                batch = order[start:start + s.batch_size]
                logits = self.model(self.x[batch])
                loss = self.loss_fn(logits, y_all[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += float(loss.item()) * len(batch)
                seen += len(batch)
                correct += int((logits.argmax(-1) == y_all[batch]).sum())
            val = self.evaluate("val")
            monitor = val["loss"] if has_val else total / max(seen, 1)
            # a NaN first epoch must not become a best that no later epoch can beat
            if best_state is None or not np.isfinite(best_loss) or monitor < best_loss - 1e-6:
                best_loss = monitor
                best_state = copy.deepcopy(self.model.state_dict())
                self.best_epoch = epoch
                self.best_monitor = float(monitor)
                waited = 0
            else:
                waited += 1
            stop = epoch == int(s.epochs) or (s.patience > 0 and has_val and waited >= s.patience)
            record = {
                "epoch": epoch,
                "loss": total / max(seen, 1),
                "train_acc": correct / max(seen, 1),
                "val_acc": val["acc"],
                "val_loss": val["loss"],
                "val_balanced_acc": val["balanced_acc"],
                "best_epoch": self.best_epoch,
                "stop": bool(stop),
            }
            self.history.append(record)
            if stop:
                self.model.load_state_dict(best_state)
                self.model.eval()
            yield record
            if stop:
                return

    def run(self, cancel: Optional[CancelFlag] = None, on_epoch=None) -> list:
        """Exhaust :meth:`epochs`, calling ``on_epoch(record)`` after each; returns :attr:`history`."""
        for record in self.epochs(cancel=cancel):
            if on_epoch is not None:
                on_epoch(record)
        return self.history
