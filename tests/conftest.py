"""Session-wide test setup.

* Settings and user data go to a temporary folder (never the user's real ones):
  the app honours ``EEGFMRI_VIEWER_CONFIG_DIR`` and ``EEGFMRI_VIEWER_DATA_DIR``.
* GUI tests need a real X display (``xvfb-run -a``): the 3-D views need an
  OpenGL context that Qt's ``offscreen`` platform does not give, so that platform
  is refused. Without a display, tests that need a QApplication are skipped
  instead of aborting the whole session inside Qt.
* Torch runs on one thread: the test machine has two cores shared with others.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_TMP_ROOT = tempfile.mkdtemp(prefix="eegfmri_viewer_tests_")
os.environ["EEGFMRI_VIEWER_CONFIG_DIR"] = os.path.join(_TMP_ROOT, "config")
os.environ["EEGFMRI_VIEWER_DATA_DIR"] = os.path.join(_TMP_ROOT, "data")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
if os.environ.get("QT_QPA_PLATFORM", "").lower() == "offscreen":
    del os.environ["QT_QPA_PLATFORM"]

HAS_DISPLAY = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
_QT_FIXTURES = {"qtbot", "qapp", "qtlog", "qtmodeltester"}


def pytest_configure(config):
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    if HAS_DISPLAY:
        return
    skip = pytest.mark.skip(reason="needs a display: run the tests under `xvfb-run -a`")
    for item in items:
        if _QT_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("gui"):
            item.add_marker(skip)


def pytest_unconfigure(config):
    shutil.rmtree(_TMP_ROOT, ignore_errors=True)


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory):
    """The demo's ``--small`` preset (2 subjects, 1 session, 2 minutes), generated once per run.

    Tests only read it (input data are read-only to the app).
    """
    from eegfmri_viewer.demo.generate import ensure_demo_dataset

    return ensure_demo_dataset(tmp_path_factory.mktemp("demo") / "small", small=True)
