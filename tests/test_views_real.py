"""The views on a results bundle made from real data: the studyforrest localizer (fMRI only)."""

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage

from shown_window import shown_window

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "fmri_studyforrest_localizer"
EEG_VIEWS = ("Electrode graph",)
PHASE2_VIEWS = ("Embeddings", "Attention & fusion", "Coupling")

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def real_bundle(tmp_path_factory):
    """One real run, analysed with the smallest settings that still run every fMRI stage."""
    if not REAL.is_dir():
        pytest.skip("real data not available")
    import torch

    from eegfmri_viewer.io.single import open_files
    from eegfmri_viewer.pipeline.analyze import analyze
    from eegfmri_viewer.pipeline.config import AnalysisConfig

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    rec = open_files(None, REAL / "sub-01_task-oneback_run-1_bold.nii.gz",
                     REAL / "sub-01_task-oneback_run-1_events.tsv", check_data=False)
    config = AnalysisConfig().with_overrides(training={"epochs": 2, "patience": 0}, phase1={"hidden": [8]},
                                             preprocessing={"atlas": "dosenbach2010"})
    out = analyze([rec], tmp_path_factory.mktemp("real") / "studyforrest", config=config)
    print(f"real bundle built in {time.perf_counter() - t0:.1f} s")
    return out


@pytest.fixture
def window(qtbot, tmp_path):
    with shown_window(qtbot, tmp_path, size=(1500, 950)) as win:
        yield win


def _region(window, image: QImage, view) -> np.ndarray:
    """``view``'s area of the window image, shape (height, width, 3) int."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    pixels = np.frombuffer(bytes(image.constBits()), dtype=np.uint8).reshape(h, image.bytesPerLine())
    pixels = pixels[:, : 3 * w].reshape(h, w, 3).astype(int)
    ratio = image.devicePixelRatio()
    origin = view.mapTo(window, QPoint(0, 0))
    x0, y0 = int(origin.x() * ratio), int(origin.y() * ratio)
    return pixels[y0: y0 + int(view.height() * ratio), x0: x0 + int(view.width() * ratio)]


@pytest.mark.timeout(300)
def test_views_on_a_real_fmri_only_bundle(real_bundle, window, qtbot):
    from eegfmri_viewer.views.cortex_view import FMRI_ONLY_MESSAGE

    with qtbot.waitSignal(window.state.resultsChanged, timeout=30000):
        assert window.open_path(real_bundle)
    results = window.state.results
    assert results.dataset["modalities"] == ["fmri"] and not results.has_eeg and not results.has_phase2
    qtbot.waitUntil(lambda: not window.pool.running(), timeout=30000)

    # the cortex shows the six real classes and colours the surface with the fMRI CAM
    cortex = window.docks["Cortex 3-D"].ensure_built()
    classes = [cortex.class_combo.itemText(i) for i in range(cortex.class_combo.count())]
    assert sorted(classes) == ["body", "face", "house", "object", "scene", "scramble"]
    assert cortex.last_values is not None and np.isfinite(cortex.last_values).any()
    assert cortex.message.isVisible() and cortex.message.text() == FMRI_ONLY_MESSAGE
    qtbot.wait(300)
    image = window.grab_image()
    part = _region(window, image, cortex)
    coloured = (np.abs(part[..., 0] - part[..., 2]) > 60) & (part.max(-1) - part.min(-1) > 60)
    assert coloured.sum() > 50, "no CAM colour on the cortex"

    # the EEG and phase-2 views say plainly what these results lack
    for title in EEG_VIEWS + PHASE2_VIEWS:
        view = window.docks[title].ensure_built()
        assert view.message is not None, f"{title} draws although the bundle has no EEG"
        assert "fMRI-only" in view.message and "EEG" in view.message, f"{title}: {view.message}"
        if title in PHASE2_VIEWS:
            assert "phase-2" in view.message, f"{title}: {view.message}"
    qtbot.wait(200)
    assert not window.error_dialogs, [b.text() for b in window.error_dialogs]
