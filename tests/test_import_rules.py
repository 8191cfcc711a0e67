"""Layering rules of docs/architecture.md, checked on the source (AST).

* Core packages never import Qt, pyvistaqt, pyqtgraph, or the GUI layers
  (state, views, workers, app); only ``report`` may use pyvista (off-screen).
* ``state`` uses only ``PySide6.QtCore``.
* Views never import other views, workers, the app or the CLI. A view is a
  module ``views/*_view.py``; other modules in ``views/`` are shared helpers
  (colours, dialogs, messages) that any view may use and that import no view.
* Imports inside functions count too: a lazy Qt import in the core still
  breaks the command line on a machine without a display.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "eegfmri_viewer"
PKG = "eegfmri_viewer"

CORE = ["io", "preprocessing", "graphs", "models", "training", "demo", "pipeline", "comparison",
        "report", "results", "progress"]
# The main window's action modules (File menu: compare, export) belong to the app layer.
APP_ACTIONS = [f"{PKG}.app_compare", f"{PKG}.app_export"]
GUI_LAYERS = [f"{PKG}.state", f"{PKG}.views", f"{PKG}.workers", f"{PKG}.app", f"{PKG}.cli"] + APP_ACTIONS
QT_AND_PLOTTING = ["PySide6", "PyQt5", "PyQt6", "shiboken6", "pyvistaqt", "pyqtgraph"]


def is_view_module(module: str) -> bool:
    """Views are ``eegfmri_viewer.views.*_view``; the rest of views/ are helpers."""
    return module.startswith(f"{PKG}.views.") and module.rsplit(".", 1)[-1].endswith("_view")


def _within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def forbidden_for(module: str) -> list[str]:
    """Import prefixes that ``module`` (dotted name) must not use."""
    parts = module.split(".")
    sub = parts[1] if len(parts) > 1 else ""
    if sub in CORE:
        extra = [] if sub == "report" else ["pyvista"]
        return QT_AND_PLOTTING + extra + GUI_LAYERS
    if sub == "state":
        return ["PySide6.QtWidgets", "PySide6.QtGui", "pyvista", "pyvistaqt", "pyqtgraph",
                f"{PKG}.views", f"{PKG}.workers", f"{PKG}.app", f"{PKG}.cli"] + APP_ACTIONS
    if sub == "views":
        return [f"{PKG}.workers", f"{PKG}.app", f"{PKG}.cli"] + APP_ACTIONS
    return []


def imported_names(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """Every module name ``source`` imports (any depth, relative ones resolved).

    ``from a import b`` yields both ``a`` and ``a.b`` (b may be a submodule);
    ``importlib.import_module("x")`` and ``__import__("x")`` with a literal count too.
    """
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*"]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Rule breaks in ``source`` of dotted ``module``, as ``"module:line imports name"``."""
    bad = forbidden_for(module)
    out = []
    in_views = module.startswith(f"{PKG}.views")
    for line, name in imported_names(source, module, is_package):
        if _within(name, bad):
            out.append(f"{module}:{line} imports {name}")
        elif in_views and not _within(name, [module]) and any(
            is_view_module(".".join(name.split(".")[:i])) for i in range(3, len(name.split(".")) + 1)
        ):
            out.append(f"{module}:{line} imports the view {name}")
    return sorted(set(out))


def _package_modules():
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        rel = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        yield path, ".".join(parts), is_package


def test_package_follows_the_import_rules():
    problems = []
    for path, module, is_package in _package_modules():
        problems += violations(path.read_text(encoding="utf-8"), module, is_package)
    assert not problems, "import rule violations:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "module, source",
    [
        ("eegfmri_viewer.io.bids", "import PySide6.QtWidgets"),
        ("eegfmri_viewer.models.cheb", "def f():\n    from pyqtgraph import PlotWidget\n"),
        ("eegfmri_viewer.pipeline.analyze", "from ..workers import FunctionWorker"),
        ("eegfmri_viewer.graphs.knn", "from eegfmri_viewer import app"),
        ("eegfmri_viewer.training.loop", "import importlib\nimportlib.import_module('pyvista')"),
        ("eegfmri_viewer.results", "from eegfmri_viewer.state import AppState"),
        ("eegfmri_viewer.demo.dataset", "import pyvista as pv"),
        ("eegfmri_viewer.state.app_state", "from PySide6.QtWidgets import QWidget"),
        ("eegfmri_viewer.views.brain_view", "from eegfmri_viewer.views.topomap_view import Topomap"),
        ("eegfmri_viewer.views.brain_view", "from .topomap_view import Topomap"),
        ("eegfmri_viewer.views.brain_view", "from eegfmri_viewer.views import topomap_view"),
        ("eegfmri_viewer.views.curves_view", "from eegfmri_viewer.workers import FunctionWorker"),
        ("eegfmri_viewer.views.view_colors", "from eegfmri_viewer.views.cortex_view import CortexView"),
        ("eegfmri_viewer.report.tables", "from eegfmri_viewer.app_export import view_svg"),
        ("eegfmri_viewer.views.coupling_view", "from eegfmri_viewer import app_compare"),
    ],
)
def test_self_test_catches_violations(module, source):
    assert violations(source, module), f"not caught: {source!r} in {module}"


@pytest.mark.parametrize(
    "module, source",
    [
        ("eegfmri_viewer.io.bids", "import numpy as np\nfrom .errors import InputError"),
        ("eegfmri_viewer.report.html", "def render():\n    import pyvista\n"),
        ("eegfmri_viewer.state.app_state", "from PySide6.QtCore import QObject, Signal"),
        ("eegfmri_viewer.views.brain_view", "from eegfmri_viewer.views.error_dialog import error_dialog\n"
                                            "from .view_colors import view_color\n"
                                         "from eegfmri_viewer.state import AppState\nimport pyvistaqt"),
        ("eegfmri_viewer.app", "from eegfmri_viewer.workers import FunctionWorker\nimport PySide6"),
    ],
)
def test_self_test_allows_legal_imports(module, source):
    assert violations(source, module) == []


def test_relative_import_in_package_init_is_resolved():
    names = [n for _, n in imported_names("from .bids import discover", "eegfmri_viewer.io", is_package=True)]
    assert "eegfmri_viewer.io.bids" in names


def test_gui_start_path_loads_no_heavy_library():
    code = (
        "import sys, eegfmri_viewer.cli, eegfmri_viewer.app\n"
        "heavy = [m for m in ('torch', 'torch_geometric', 'mne', 'nilearn', 'pyvista', 'pyvistaqt') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=PACKAGE_DIR.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"imported while starting the GUI: {out.stdout.strip()}"
