"""``--demo``: dataset, analysis (once) and results in every view; ``--demo --screenshot``."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage

from eegfmri_viewer import app as app_module
from shown_window import shown_window

REPO = Path(__file__).resolve().parents[1]
RESULT_DOCKS = ("Cortex 3-D", "Electrode graph", "Embeddings", "Attention & fusion", "Coupling")

# Two epochs everywhere and a tiny phase 2: the whole pipeline in seconds.
FAST_TOML = """\
[training]
epochs = 2
patience = 0
[preprocessing]
bands = [["alpha", 8.0, 13.0], ["beta", 13.0, 30.0]]
[phase1]
hidden = [8]
n_filters = 4
[graph]
transfer = "distance"
[phase2]
epochs = 2
n_salient = 8
[coupling]
n_permutations = 0
"""

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def _run_demo(data_dir: Path, config: Path, png: Path, extra=()) -> subprocess.CompletedProcess:
    env = dict(os.environ, EEGFMRI_VIEWER_DATA_DIR=str(data_dir), EEGFMRI_VIEWER_CONFIG_DIR=str(data_dir / "config"))
    cmd = [sys.executable, "-m", "eegfmri_viewer", "--demo-small", "--demo-config", str(config),
           "--screenshot", str(png), *extra]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=400)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """``--demo-small --screenshot`` in a fresh user data folder: generates, analyses, shoots."""
    data_dir = tmp_path_factory.mktemp("userdata")
    config = data_dir / "fast.toml"
    config.write_text(FAST_TOML)
    png = data_dir / "first.png"
    result = _run_demo(data_dir, config, png)
    return data_dir, config, png, result


def _as_array(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    data = np.frombuffer(bytes(image.constBits()), dtype=np.uint8)
    return data.reshape(height, image.bytesPerLine())[:, : 3 * width].reshape(height, width, 3).astype(int)


def _saturated(part: np.ndarray) -> int:
    """Strongly coloured pixels: CAM colours, heatmaps, scatter points (message text is grey)."""
    return int(((part.max(-1) - part.min(-1)) > 80).sum())


def _view_parts(window) -> dict:
    """Each result view's area of the window's screenshot image, by dock title."""
    image = window.grab_image()
    pixels = _as_array(image)
    ratio = image.devicePixelRatio()
    parts = {}
    for title in RESULT_DOCKS:
        view = window.docks[title].ensure_built()
        assert view.isVisible(), title
        origin = view.mapTo(window, QPoint(0, 0))
        x0, y0 = int(origin.x() * ratio), int(origin.y() * ratio)
        parts[title] = pixels[y0: y0 + int(view.height() * ratio), x0: x0 + int(view.width() * ratio)]
    return parts


@pytest.mark.timeout(420)
def test_demo_screenshot_waits_for_the_analysis_and_shows_results(first_run):
    data_dir, _config, png, result = first_run
    assert result.returncode == 0, result.stderr[-3000:]
    assert "demo: analysed" in result.stderr
    assert (data_dir / "demo-small" / "ground_truth.json").is_file()
    assert (data_dir / "demo-small-results" / "manifest.json").is_file()
    image = QImage(str(png))
    assert not image.isNull() and image.width() >= 800 and image.height() >= 600
    # the picture was taken once the analysis had finished and its results were shown
    log = result.stderr
    assert log.index("demo: analysed") < log.index("screenshot written")
    # CAM colours, heatmaps and scatter points; which view shows what is checked
    # in-process below (test_demo_menu_reuses_results_and_every_result_view_draws)
    assert _saturated(_as_array(image)) > 2000, "the screenshot shows no coloured results"


@pytest.mark.timeout(420)
def test_second_demo_run_reuses_the_results(first_run):
    data_dir, config, _png, first = first_run
    assert first.returncode == 0, first.stderr[-3000:]
    manifest = data_dir / "demo-small-results" / "manifest.json"
    before = manifest.stat().st_mtime_ns
    png = data_dir / "second.png"
    result = _run_demo(data_dir, config, png)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "demo: reused" in result.stderr
    assert "analysing" not in result.stderr
    assert manifest.stat().st_mtime_ns == before
    assert not QImage(str(png)).isNull()


def test_bad_demo_config_is_refused_before_the_window_opens(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[training]\nepoch = 2\n")
    env = dict(os.environ, EEGFMRI_VIEWER_DATA_DIR=str(tmp_path / "data"))
    result = subprocess.run([sys.executable, "-m", "eegfmri_viewer", "--demo", "--demo-config", str(bad)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "bad.toml" in result.stderr and "epoch" in result.stderr
    assert not (tmp_path / "data" / "demo").exists()


@pytest.fixture
def window(qtbot, tmp_path):
    with shown_window(qtbot, tmp_path, size=(1500, 950)) as win:
        yield win


@pytest.mark.timeout(300)
def test_demo_menu_reuses_results_and_every_result_view_draws(first_run, window, qtbot):
    from eegfmri_viewer.pipeline.config import AnalysisConfig

    data_dir, config, _png, first = first_run
    assert first.returncode == 0, first.stderr[-3000:]
    window.open_demo(root=data_dir / "demo-small", small=True, analyse=True, config=AnalysisConfig.from_toml(config))
    qtbot.waitUntil(lambda: not window.demo_pending(), timeout=60000)
    assert window.demo_outcome == "reused"
    assert not window._analysis_workers  # nothing was trained
    assert window.state.results is not None and window.state.results.has_phase2
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=60000)  # the dataset opened too
    qtbot.waitUntil(lambda: not window.pool.running(), timeout=60000)
    for title in RESULT_DOCKS[1:]:
        view = window.docks[title].ensure_built()
        assert view.message is None, f"{title}: {view.message}"
    cortex = window.docks["Cortex 3-D"].view
    assert cortex.last_values is not None and not cortex.message.isVisible()

    # give the result views the room (the bottom row is short with every dock open)
    for title in ("Dataset", "Signals", "Log", "Training"):
        window.docks[title].close()
    qtbot.wait(500)
    parts = _view_parts(window)
    for title, part in parts.items():
        assert _saturated(part) > 60, f"{title} looks empty"
        if title == "Cortex 3-D":
            red = (part[..., 0] > part[..., 2] + 60) & (part[..., 0] > part[..., 1] + 60)
            assert red.sum() > 50, "no CAM colour on the cortex"
    assert not window.error_dialogs


@pytest.mark.timeout(120)
def test_help_open_demo_without_results_opens_only_the_dataset(window, qtbot, tmp_path):
    root = tmp_path / "demo-small"
    worker = window.open_demo(root=root, small=True)
    assert window.demo_pending()
    assert window.open_demo(root=root, small=True, analyse=True) is worker  # one at a time
    qtbot.waitUntil(lambda: not window.demo_pending(), timeout=60000)
    assert window.demo_outcome == "opened"
    assert not window._analysis_workers
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=60000)
    assert window.state.results is None
    assert not (tmp_path / "demo-small-results").exists()
    # without results every result view shows a grey sentence or a grey cortex
    for title, part in _view_parts(window).items():
        assert _saturated(part) < 20, f"{title} is coloured without results"
    assert worker.outcome == "finished" and not window.error_dialogs


def _reused_after_editing_manifest(first_run, tmp_path, edit):
    """Whether a copy of the first run's demo results is reused before and after ``edit(manifest)``."""
    import json
    import shutil

    from eegfmri_viewer.pipeline.config import AnalysisConfig

    data_dir, config, _png, first = first_run
    assert first.returncode == 0, first.stderr[-3000:]
    root = data_dir / "demo-small"
    fast = AnalysisConfig.from_toml(config)
    copy = tmp_path / "edited-results"
    shutil.copytree(data_dir / "demo-small-results", copy)
    before = app_module.find_demo_results(copy, root, fast) is not None
    manifest = json.loads((copy / "manifest.json").read_text())
    edit(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return before, app_module.find_demo_results(copy, root, fast) is not None


@pytest.mark.timeout(120)
def test_results_of_a_version_without_a_setting_are_not_reused(first_run, tmp_path):
    """A bundle whose manifest lacks a setting was computed without it: analyse again."""
    from eegfmri_viewer.pipeline.config import AnalysisConfig

    def drop_setting(manifest):
        del manifest["config"]["phase1"]["cam_reference"]
        # from_dict alone would fill the gap with today's default and call the settings equal
        assert AnalysisConfig.from_dict(manifest["config"]) == AnalysisConfig.from_toml(first_run[1])

    assert _reused_after_editing_manifest(first_run, tmp_path, drop_setting) == (True, False)


@pytest.mark.timeout(120)
def test_results_of_an_older_bundle_format_are_not_reused(first_run, tmp_path):
    """Same settings, but written before the bundle held what the views now show: analyse again."""
    from eegfmri_viewer.results import FORMAT_VERSION

    def older_format(manifest):
        manifest["format_version"] = FORMAT_VERSION - 1

    assert _reused_after_editing_manifest(first_run, tmp_path, older_format) == (True, False)


@pytest.mark.timeout(120)
def test_results_of_other_settings_are_not_reused_and_are_cleared_for_a_new_run(first_run, tmp_path):
    from eegfmri_viewer.io.errors import InputError
    from eegfmri_viewer.pipeline.config import AnalysisConfig

    data_dir, config, _png, first = first_run
    assert first.returncode == 0, first.stderr[-3000:]
    root = data_dir / "demo-small"
    results_dir = data_dir / "demo-small-results"
    fast = AnalysisConfig.from_toml(config)
    other = fast.with_overrides(phase2={"n_salient": 6})
    # the bundle matches its own settings and dataset, not other settings or another dataset
    assert app_module.find_demo_results(results_dir, root, fast) is not None
    assert app_module.find_demo_results(results_dir, root, other) is None
    assert app_module.find_demo_results(results_dir, tmp_path, fast) is None
    # a folder that is not a bundle is never removed
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("mine")
    with pytest.raises(InputError, match="not a results bundle"):
        app_module._prepare_demo(root, True, foreign, other, True)
    assert (foreign / "thesis.txt").read_text() == "mine"
    # nor is a bundle that holds a file of the user's besides
    from bundle_factory import make_bundle

    make_bundle(tmp_path / "mixed")
    (tmp_path / "mixed" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="holds other files too"):
        app_module._prepare_demo(root, True, tmp_path / "mixed", other, True)
    assert (tmp_path / "mixed" / "notes.txt").read_text() == "mine"
    # without clearing (Help > Open Demo Dataset) the outdated bundle stays
    assert app_module._prepare_demo(root, True, results_dir, other, False) == (root, None)
    assert (results_dir / "manifest.json").is_file()
    # before a new analysis, the outdated bundle is removed so that analyze can write there
    assert app_module._prepare_demo(root, True, results_dir, other, True) == (root, None)
    assert not results_dir.exists()
