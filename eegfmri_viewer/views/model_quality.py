"""A line beside a saliency map that says how well its model classifies.

A CAM shows what a model uses to tell the classes apart; when the model does no
better than chance, the map is noise. The Cortex 3-D view and the Electrode
graph show this line for the model their map comes from, highlighted when the
test accuracy is not shown to beat chance (:mod:`eegfmri_viewer.training.chance_level`).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QLabel, QWidget

from eegfmri_viewer.training.chance_level import (chance_sentence, chance_test, class_recall_text,
                                                  test_class_counts)

WARNING_STYLE = "padding: 2px 6px; background: #fff4c2;"
PLAIN_STYLE = "padding: 0px 6px; color: #505050;"


def model_entry(results, modality: str, band: str = "") -> Optional[dict]:
    """The ``metrics.json`` entry of the fMRI model (``modality="fmri"``) or of one EEG band's model."""
    phase1 = (getattr(results, "metrics", None) or {}).get("phase1", {})
    if modality == "fmri":
        return phase1.get("fmri")
    return phase1.get("eeg", {}).get(band)


def bundle_test_counts(results) -> Optional[list]:
    """Test windows per class from the bundle's ``windows.npz`` (for metrics written before they were kept)."""
    get = getattr(results, "get", None)
    if get is None:
        return None
    return test_class_counts(get("windows", "labels"), get("windows", "split"), len(getattr(results, "classes", [])))


class ModelQualityLabel(QLabel):
    """``"fMRI model: test accuracy 0.99 on 96 windows, chance 0.33 (binomial p < 0.001)"``.

    Parameters
    ----------
    parent : QWidget, optional
    compact : bool
        A short line (verdict, accuracy, chance, windows) for narrow views, the
        whole sentence in its tooltip.
    """

    def __init__(self, parent: Optional[QWidget] = None, compact: bool = False):
        super().__init__(parent)
        self.setWordWrap(True)
        self.compact = compact
        self._tip = ("Accuracy of the model on the windows held out for testing, against chance: the share "
                     "of the largest class among the test windows (what always answering that class scores). "
                     "The block permutation test exchanges the classes of whole test blocks within each "
                     "recording, so it holds although the windows of a block are correlated; the binomial "
                     "test counts windows as independent and is a best case (results of earlier versions "
                     "have only that one). A map whose model is not shown to beat chance shows no reliable "
                     "saliency.")
        self.setToolTip(self._tip)
        self.warning = False
        self._counts_for, self._counts = None, None
        self.setVisible(False)

    def show_for(self, results, modality: str, band: str = "", who: str = "") -> None:
        """Describe the model behind the map shown: ``"fmri"``, or ``"eeg"`` and its ``band``.

        ``who`` starts the line (e.g. ``"B's "`` for session B's model in compare mode).
        """
        entry = model_entry(results, modality, band) if results is not None else None
        if results is not self._counts_for:
            # the views refresh this line on every class or band change: the counts once per results
            self._counts_for, self._counts = results, bundle_test_counts(results) if results is not None else None
        test = chance_test(entry, self._counts) if entry else None
        if test is None:
            self.warning = False
            self.setVisible(False)
            self.setText("")
            return
        name = who + ("fMRI model" if modality == "fmri" else f"EEG {band} model")
        self.warning = not test.above_chance
        self.setStyleSheet(WARNING_STYLE if self.warning else PLAIN_STYLE)
        self.setText(f"{name}: {chance_sentence(test, compact=self.compact)}")
        recall = class_recall_text(entry, getattr(results, "classes", ()))
        recall = f"<p>Test windows right per class: {recall}.</p>" if recall else ""
        # in a narrow view the line is short; the whole sentence is in the tooltip
        self.setToolTip((f"<p>{name}: {chance_sentence(test)}.</p>" if self.compact else "")
                        + f"{recall}<p>{self._tip}</p>")
        self.setVisible(True)

    def show_pair(self, sides, modality: str, band: str = "") -> None:
        """One line for a map made from two models (compare mode's B − A): each model's verdict.

        Parameters
        ----------
        sides : sequence of (str, results or None)
            A label (``"A"``, ``"B"``) and the bundle of each side; None when that
            side's bundle is not at hand (its accuracy is then unknown).
        modality, band : str
            As for :meth:`show_for`.

        Highlighted when any side's model is not shown to beat chance (or its
        accuracy is unknown while the other's is known); hidden when no side
        records an accuracy.
        """
        name = "fMRI model" if modality == "fmri" else f"EEG {band} model"
        parts, tips, known, warning = [], [], 0, False
        for label, results in sides:
            entry = model_entry(results, modality, band) if results is not None else None
            test = chance_test(entry, bundle_test_counts(results)) if entry else None
            if test is None:
                parts.append(f"{label}'s {name}: accuracy not known")
                warning = True
                continue
            known += 1
            warning = warning or not test.above_chance
            parts.append(f"{label}'s {name}: {chance_sentence(test, compact=True)}")
            tips.append(f"<p>{label}'s {name}: {chance_sentence(test)}.</p>")
        if not known:
            self.warning = False
            self.setVisible(False)
            self.setText("")
            return
        self.warning = warning
        self.setStyleSheet(WARNING_STYLE if warning else PLAIN_STYLE)
        self.setText("; ".join(parts) + ("; read the change with caution" if warning else ""))
        self.setToolTip("".join(tips) + f"<p>{self._tip}</p>")
        self.setVisible(True)
