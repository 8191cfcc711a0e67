"""File ▸ Export tables… / figure… / report…: files that parse back with the right content.

The CSV writer (:mod:`eegfmri_viewer.report.tables`) is tested without Qt; the
GUI actions run under ``xvfb-run -a`` on a main window showing only the
Coupling, Attention & fusion and Cortex 3-D docks.
"""

from __future__ import annotations

import base64
import csv
import io
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bundle_factory import CHANNELS, CLASSES, PLANTED, VIEWS, make_bundle  # noqa: E402

from eegfmri_viewer.io.errors import InputError  # noqa: E402
from eegfmri_viewer.report.tables import TABLE_FILES, write_tables  # noqa: E402
from eegfmri_viewer.results import load_bundle, save_bundle  # noqa: E402

SHOWN_DOCKS = ("Coupling", "Attention & fusion", "Cortex 3-D")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    make_bundle(root / "full")
    make_bundle(root / "fmri_only", phase2=False, eeg=False, seed=3)
    after = load_bundle(root / "full")
    cam = after.arrays["windows"]["fmri_cam"]
    cam[after.arrays["windows"]["labels"] == 2, PLANTED[2][0]] += 3.0
    after.dataset["label"] = "after"
    save_bundle(root / "after", after)
    return {name: root / name for name in ("full", "fmri_only", "after")}


def _read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- tables (no Qt)
def test_tables_hold_the_bundle_values(bundles, tmp_path):
    bundle = load_bundle(bundles["full"])
    result = write_tables(bundle, tmp_path / "tables")
    assert [p.name for p in result.written] == [n for n in TABLE_FILES
                                                if n not in ("changes.csv", "recording_coupling.csv")]
    # this bundle (like those written before it was saved) has no per-recording correlation
    assert list(result.skipped) == ["recording_coupling.csv"]

    recordings = _read(tmp_path / "tables" / "recordings.csv")
    assert [r["recording"] for r in recordings] == ["sub-01 ses-1 task-states", "sub-02 ses-1 task-states"]
    first, second = recordings
    assert (first["interpolated"], first["dropped"], first["mean_fd_mm"], first["n_volumes_above_fd"]) == \
        ("T7", "", "0.12", "2")
    assert first["eeg_file"] == "sub-01_ses-1_task-states_eeg.vhdr" and first["tr_s"] == "2.0"
    assert second["interpolated"] == "" and second["mean_fd_mm"] == ""  # none rebuilt; no motion parameters

    rows = _read(tmp_path / "tables" / "saliency_fmri.csv")
    n_rois = len(bundle.get("saliency", "roi_coords"))
    assert len(rows) == len(CLASSES) * n_rois
    roi = PLANTED[1][0]
    row = next(r for r in rows if r["class"] == "visual" and int(r["roi"]) == roi)
    assert float(row["cam"]) == pytest.approx(bundle.get("saliency", "fmri_cam")[1, roi])
    assert row["roi_name"] == str(bundle.get("saliency", "roi_names")[roi])
    xyz = [float(row[k]) for k in ("x_mm", "y_mm", "z_mm")]
    np.testing.assert_allclose(xyz, bundle.get("saliency", "roi_coords")[roi])
    assert row["salient"] == "1"
    assert float(row["bold_vs_mean"]) == pytest.approx(bundle.get("saliency", "fmri_class_activity")[1, roi])

    rows = _read(tmp_path / "tables" / "saliency_eeg.csv")
    assert len(rows) == 5 * len(CLASSES) * len(CHANNELS)
    row = next(r for r in rows if (r["band"], r["class"], r["electrode"]) == ("alpha", "visual", "Oz"))
    assert float(row["cam"]) == pytest.approx(bundle.get("saliency", "eeg_cam")[2, 1, CHANNELS.index("Oz")])

    rows = _read(tmp_path / "tables" / "connections.csv")
    conn = bundle.get("saliency", "fmri_connections")
    assert len(rows) == len(CLASSES) * conn.shape[1] and {r["graph"] for r in rows} == {"fmri"}
    salient = [(int(r["node_a"]), int(r["node_b"])) for r in rows if r["class"] == "visual" and r["salient"] == "1"]
    assert sorted(salient) == [(0, 1), (0, 142), (1, 142)]
    row = next(r for r in rows if r["class"] == "visual" and (r["node_a"], r["node_b"]) == ("0", "1"))
    cam = bundle.get("saliency", "fmri_cam")[1]
    assert float(row["saliency"]) == pytest.approx(float(row["weight"]) * (cam[0] + cam[1]) / 2)
    assert row["name_b"] == str(bundle.get("saliency", "roi_names")[1])

    rows = _read(tmp_path / "tables" / "coupling.csv")
    cp = bundle.arrays["coupling"]
    assert len(rows) == cp["coupling"].size
    node = int(cp["node_index"][0])
    row = next(r for r in rows if r["band"] == "alpha" and int(r["roi"]) == node)
    assert float(row["coupling"]) == pytest.approx(cp["coupling"][2, 0])
    assert float(row["peak_lag_s"]) == pytest.approx(cp["peak_lag_s"][2, 0])
    assert float(row["p_value"]) == pytest.approx(cp["p_value"][2, 0])

    rows = _read(tmp_path / "tables" / "fusion_global.csv")
    assert [r["view"] for r in rows] == VIEWS
    assert sum(float(r["weight"]) for r in rows) == pytest.approx(1.0)
    rows = _read(tmp_path / "tables" / "fusion_nodes.csv")
    fu = bundle.arrays["fusion"]
    assert len(rows) == len(fu["node_index"])
    np.testing.assert_allclose([float(rows[0][f"w_{v}"]) for v in VIEWS], fu["fusion_weights"][0])


def test_coupling_table_uses_the_all_roi_lagged_measures_the_viewer_shows(tmp_path):
    make_bundle(tmp_path / "all", all_roi_lags=True)
    bundle = load_bundle(tmp_path / "all")
    write_tables(bundle, tmp_path / "tables")
    cp = bundle.arrays["coupling"]
    rows = _read(tmp_path / "tables" / "coupling.csv")
    node = int(cp["node_index"][1])
    row = next(r for r in rows if r["band"] == "beta" and int(r["roi"]) == node)
    assert float(row["coupling"]) == pytest.approx(cp["coupling"][3, 1])
    assert float(row["p_value"]) == pytest.approx(cp["roi_p_value"][3, node])
    # corrected for every ROI tested, not only the phase-2 nodes
    assert float(row["p_value_fwer"]) == pytest.approx(cp["roi_p_value_fwer"][3, node])
    assert float(row["p_value_fwer"]) != pytest.approx(cp["p_value_fwer"][3, 1])
    # a bundle written before the corrected p-value existed: empty cells, nothing invented
    del cp["p_value_fwer"], cp["roi_p_value_fwer"]
    write_tables(bundle, tmp_path / "old")
    rows = _read(tmp_path / "old" / "coupling.csv")
    assert rows and all(r["p_value_fwer"] == "" for r in rows) and all(r["p_value"] != "" for r in rows)


def test_recording_coupling_table_lists_each_recordings_correlation_by_subject_and_session(bundles, tmp_path):
    from bundle_factory import TIME_COUPLED, add_paired_recordings, add_time_courses

    bundle = load_bundle(bundles["full"])
    add_paired_recordings(bundle, 3, {TIME_COUPLED: -0.3})
    r = bundle.arrays["coupling"]["recording_lagged_r"]
    write_tables(bundle, tmp_path / "t")
    rows = _read(tmp_path / "t" / "recording_coupling.csv")
    n_rec, n_bands, n_rois = r.shape
    assert len(rows) == n_rec * n_bands * n_rois == 6 * 5 * n_rois
    band, roi = TIME_COUPLED
    row = next(x for x in rows if x["recording"] == "4" and x["band"] == "alpha" and x["roi"] == str(roi))
    assert (row["subject"], row["session"]) == ("01", "2")
    assert float(row["r"]) == pytest.approx(float(r[4, band, roi]), abs=1e-6)
    assert row["roi_name"] == str(bundle.get("saliency", "roi_names")[roi])
    # with time courses the recordings are named as in the viewer
    add_time_courses(bundle, n_volumes=(20,) * 6)
    bundle.arrays["coupling"]["recording_lagged_r"] = r
    write_tables(bundle, tmp_path / "named")
    labels = {x["recording"] for x in _read(tmp_path / "named" / "recording_coupling.csv")}
    assert labels == {f"sub-0{i + 1} ses-1" for i in range(6)}


def test_tables_command_writes_the_tables_and_the_paired_changes(tmp_path, capsys):
    from bundle_factory import make_paired_bundle

    from eegfmri_viewer.cli import main

    make_paired_bundle(tmp_path / "paired", 6, {(2, 139): -0.3})
    make_bundle(tmp_path / "base")
    out = tmp_path / "tables"
    assert main(["tables", str(tmp_path / "paired"), "--out", str(out)]) == 0
    assert "8 table(s) written" in capsys.readouterr().out
    assert (out / "recording_coupling.csv").exists() and not (out / "changes.csv").exists()
    # never replaced without --force, and the message says how
    assert main(["tables", str(tmp_path / "paired"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "already holds" in err  # the prefix of every command's errors
    assert main(["tables", str(tmp_path / "paired"), "--out", str(out), "--sessions", "1", "2",
                 "--unit", "subjects", "--permutations", "200", "--force"]) == 0
    rows = _read(out / "changes.csv")
    lagged = next(r for r in rows if r["measure"] == "lagged_r" and r["band"] == "alpha" and r["roi"] == "139")
    assert float(lagged["diff"]) < -0.25 and float(lagged["p"]) == pytest.approx(2 / 64)  # 6 subjects, exact
    assert main(["tables", str(tmp_path / "paired"), "--out", str(out), "--sessions", "1", "2",
                 "--compare", str(tmp_path / "base")]) == 2
    assert capsys.readouterr().err.startswith("error: give either --compare RESULTS_B or --sessions A B, not both")
    assert main(["report", str(tmp_path / "paired"), "--out", str(tmp_path / "r.html"), "--sessions", "1", "2",
                 "--compare", str(tmp_path / "base")]) == 2
    assert capsys.readouterr().err.startswith("error: give either --compare RESULTS_B or --sessions A B, not both")


def test_tables_of_fmri_only_bundle_skip_what_is_missing_and_never_overwrite(bundles, tmp_path):
    bundle = load_bundle(bundles["fmri_only"])
    result = write_tables(bundle, tmp_path)
    assert [p.name for p in result.written] == ["recordings.csv", "saliency_fmri.csv", "connections.csv"]
    assert set(result.skipped) == {"saliency_eeg.csv", "coupling.csv", "recording_coupling.csv", "fusion_global.csv",
                                   "fusion_nodes.csv"}
    assert "fMRI-only" in result.summary() and "phase 2" in result.summary()
    before = (tmp_path / "saliency_fmri.csv").read_bytes()
    with pytest.raises(InputError, match="saliency_fmri.csv"):
        write_tables(load_bundle(bundles["full"]), tmp_path)
    # Refused before anything was written.
    assert (tmp_path / "saliency_fmri.csv").read_bytes() == before
    assert not (tmp_path / "coupling.csv").exists()
    write_tables(load_bundle(bundles["full"]), tmp_path, overwrite=True)
    assert (tmp_path / "coupling.csv").exists()
    assert (tmp_path / "saliency_fmri.csv").read_bytes() != before


def test_changes_table_of_a_comparison(bundles, tmp_path):
    from eegfmri_viewer.comparison.compare import compare_bundles

    before, after = load_bundle(bundles["full"]), load_bundle(bundles["after"])
    cmp = compare_bundles(before, after, n_permutations=500)
    result = write_tables(before, tmp_path, comparison=cmp)
    assert "changes.csv" in [p.name for p in result.written]
    rows = _read(tmp_path / "changes.csv")
    n_rois = len(before.get("saliency", "roi_coords"))
    assert len(rows) == (1 + 5) * len(CLASSES) * n_rois
    fmri = [r for r in rows if r["measure"] == "fmri_cam" and r["class"] == "motor"]
    top = max(fmri, key=lambda r: abs(float(r["diff"])))
    assert int(top["roi"]) == PLANTED[2][0] and float(top["diff"]) > 0
    roi = PLANTED[2][0]
    assert float(top["diff"]) == pytest.approx(cmp.arrays["fmri_cam_diff"][2, roi])
    assert float(top["q"]) == pytest.approx(cmp.arrays["fmri_cam_q"][2, roi])
    alpha = next(r for r in rows if (r["measure"], r["band"], r["class"], r["roi"]) == ("eeg_roi_cam", "alpha", "visual", "5"))
    assert float(alpha["b"]) == pytest.approx(cmp.arrays["eeg_roi_cam_b"][2, 1, 5])


def test_changes_table_lists_the_eeg_bold_correlation_change_per_band_and_roi(bundles, tmp_path):
    from bundle_factory import add_recording_coupling

    from eegfmri_viewer.comparison.compare import compare_bundles

    bundle = load_bundle(bundles["full"])
    add_recording_coupling(bundle, 4, {(2, 139): -0.5})
    cmp = compare_bundles(bundle, session_a="1", session_b="2", n_permutations=500)
    write_tables(bundle, tmp_path, comparison=cmp)
    rows = [r for r in _read(tmp_path / "changes.csv") if r["measure"] == "lagged_r"]
    n_rois = len(bundle.get("saliency", "roi_coords"))
    assert len(rows) == 5 * n_rois and all(r["class"] == "" for r in rows)
    row = next(r for r in rows if r["band"] == "alpha" and r["roi"] == "139")
    for key in ("a", "b", "diff", "p", "q"):
        assert float(row[key]) == pytest.approx(cmp.arrays[f"lagged_r_{key}"][2, 139])
    assert float(row["diff"]) < -0.4


# --------------------------------------------------------------------------- GUI actions
@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory, bundles):
    import pyvista
    from PySide6.QtCore import QCoreApplication, QEvent, QSettings

    from eegfmri_viewer.app import MainWindow

    samples = pyvista.global_theme.multi_samples
    pyvista.global_theme.multi_samples = 1
    ini = tmp_path_factory.mktemp("settings") / "s.ini"
    win = MainWindow(settings=QSettings(str(ini), QSettings.Format.IniFormat), install_hooks=False)
    for title, dock in win.docks.items():
        if title not in SHOWN_DOCKS:
            dock.hide()
    win.resize(1300, 900)
    win.show()
    # A floating cortex dock of a known size (docked, the layout may squeeze it).
    cortex_dock = win.docks["Cortex 3-D"]
    cortex_dock.setFloating(True)
    cortex_dock.resize(700, 560)
    import time

    end = time.monotonic() + 30.0
    while not (win.views_settled() and all(win.docks[t].built for t in SHOWN_DOCKS)) and time.monotonic() < end:
        qapp.processEvents()
        time.sleep(0.02)
    win.state.set_results(load_bundle(bundles["full"]))
    qapp.processEvents()
    yield win
    pyvista.global_theme.multi_samples = samples
    for box in list(win.error_dialogs):
        box.close()
    win.close()
    win.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _wait(worker, qtbot):
    assert worker is not None
    qtbot.waitUntil(lambda: worker.outcome is not None, timeout=60000)
    qtbot.wait(10)
    return worker.outcome


def _qimage_pixels(path):
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    assert not image.isNull(), f"{path} does not decode"
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    arr = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return arr[:, : 3 * image.width()].reshape(image.height(), image.width(), 3).astype(int)


def test_export_tables_action_writes_and_refuses_to_overwrite(window, qtbot, tmp_path):
    actions = window.export_actions
    assert _wait(actions.export_tables(tmp_path), qtbot) == "finished"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n in TABLE_FILES
                                                                 if n not in ("changes.csv", "recording_coupling.csv"))
    assert "7 table(s) written" in window.statusBar().currentMessage()
    with qtbot.waitSignal(window.errorShown, timeout=30000) as blocker:
        actions.export_tables(tmp_path)
    assert isinstance(blocker.args[0], InputError) and "already holds" in str(blocker.args[0])
    assert _wait(actions.export_tables(tmp_path, overwrite=True), qtbot) == "finished"
    for box in list(window.error_dialogs):
        box.close()


def test_export_actions_never_write_into_the_results_bundle(window, bundles, qtbot, tmp_path):
    # the guard of the core writers, seen from the GUI: the error dialog names the bundle, nothing is written
    bundle_dir = Path(window.state.results.path)
    before = sorted(p.name for p in bundle_dir.rglob("*"))
    actions = window.export_actions
    for start in (lambda: actions.export_tables(bundle_dir, overwrite=True),
                  lambda: actions.export_report(bundle_dir / "report.html", render_cortex=False)):
        with qtbot.waitSignal(window.errorShown, timeout=30000) as blocker:
            assert start() is None  # refused before a worker starts
        assert isinstance(blocker.args[0], InputError) and "results bundle" in str(blocker.args[0])
    with pytest.raises(InputError, match="lies inside the results bundle"):
        actions.export_figure("Coupling", bundle_dir / "coupling.png")
    assert sorted(p.name for p in bundle_dir.rglob("*")) == before
    # a report file the save dialog agreed to replace is replaced
    out = tmp_path / "report.html"
    out.write_text("old")
    assert _wait(actions.export_report(out, render_cortex=False), qtbot) == "finished"
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    for box in list(window.error_dialogs):
        box.close()


def test_export_figure_png_and_svg_of_a_2d_view(window, qtbot, tmp_path):
    actions = window.export_actions
    assert "Coupling" in actions.figure_titles() and "Log" not in actions.figure_titles()
    # The dock that last had focus is the default.
    coupling = window.docks["Coupling"].view
    coupling.heatmap_widget.setFocus()
    actions._on_focus(None, coupling.heatmap_widget)
    assert actions.default_figure() == "Coupling"

    png = actions.export_figure("Coupling", tmp_path / "coupling.png")
    img = _qimage_pixels(png)
    assert img.shape[0] > 100 and img.shape[1] > 100
    # The heatmap's diverging colours are there, not only white background and grey text.
    assert (np.ptp(img, axis=-1) > 60).sum() > 500

    svg = actions.export_figure("Coupling", tmp_path / "coupling.svg")
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    view = window.docks["Coupling"].view
    assert root.get("viewBox").split() == ["0", "0", str(view.width()), str(view.height())]
    # The heatmap is embedded as an image; axes, ticks and lag curves are vector paths;
    # band names and the title are text.
    assert root.findall(f".//{ns}image")
    assert len(root.findall(f".//{ns}path")) + len(root.findall(f".//{ns}polyline")) > 10
    text = " ".join("".join(t.itertext()) for t in root.iter(f"{ns}text"))
    for band in ("delta", "alpha", "gamma"):
        assert band in text

    with pytest.raises(InputError, match="PNG"):
        actions.export_figure("Cortex 3-D", tmp_path / "cortex.svg")
    with pytest.raises(InputError, match=".png or .svg"):
        actions.export_figure("Coupling", tmp_path / "coupling.jpg")


def test_export_figure_png_of_the_cortex(window, tmp_path):
    window.state.set_class(1)
    png = window.export_actions.export_figure("Cortex 3-D", tmp_path / "cortex.png")
    img = _qimage_pixels(png)
    view = window.docks["Cortex 3-D"].view
    assert img.shape[:2] == tuple(np.asarray(view.plotter.screenshot(return_img=True)).shape[:2])
    background = (img == 255).all(-1)
    assert 0.05 < (~background).mean() < 0.95  # the brain is drawn on the white background


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])


def test_export_report_with_comparison(window, bundles, qtbot, tmp_path):
    from PIL import Image

    _wait(window.compare_actions.compare_with(bundles["after"], n_permutations=2000), qtbot)
    assert window.state.compare is not None
    out = tmp_path / "report.html"
    assert _wait(window.export_actions.export_report(out), qtbot) == "finished"
    assert f"Report written to {out}" in window.statusBar().currentMessage()
    text = out.read_text(encoding="utf-8")
    parser = _Images()
    parser.feed(text)
    assert "What changed" in text
    # training curves + 3 class images + 3 electrode graphs + fusion + coupling + 3 B - A images
    assert len(parser.images) >= 12
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        img = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        img.load()
        assert img.width > 50 and img.height > 50
    window.compare_actions.leave()


def test_exports_stay_out_of_the_data_the_results_were_computed_from(tmp_path):
    import json

    from bundle_factory import make_bundle

    from eegfmri_viewer.app_export import export_inputs
    from eegfmri_viewer.atomic_write import check_files_folder
    from eegfmri_viewer.report.html import check_report_path
    from eegfmri_viewer.results import load_bundle

    data = tmp_path / "data"
    data.mkdir()
    bold = data / "run_bold.nii.gz"
    bold.write_bytes(b"not touched")
    make_bundle(tmp_path / "res")
    manifest = tmp_path / "res" / "manifest.json"
    content = json.loads(manifest.read_text())
    content["input_files"] = {str(bold): "0" * 64}
    manifest.write_text(json.dumps(content))
    bundle = load_bundle(tmp_path / "res", verify=False)
    inputs = export_inputs(bundle)
    assert [Path(p).resolve() for p in inputs] == [bold.resolve()]
    # the save dialog's "replace" never reaches an input file, nor the folder that holds it
    with pytest.raises(InputError, match="run_bold.nii.gz"):
        check_report_path(bold, force=True, inputs=inputs)
    with pytest.raises(InputError, match="run_bold.nii.gz"):
        check_files_folder(data, "tables", inputs=inputs)
    assert bold.read_bytes() == b"not touched"
    assert check_report_path(tmp_path / "report.html", force=True, inputs=inputs) == (tmp_path / "report.html").resolve()
