"""Signals view: EEG traces, events, band overlay, time cursor, BOLD slices (run under xvfb-run)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from eegfmri_viewer.io.bids import discover, load_run
from eegfmri_viewer.state import AppState
from eegfmri_viewer.views.signals_view import NO_DATASET_MESSAGE, FMRI_ONLY_NOTE, SCALES, SignalsView
from io_testdata import make_bids_run
from plot_view_testing import show


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    root = make_bids_run(tmp_path_factory.mktemp("sig") / "bids", n_vol=10, tr=2.0, sfreq=250.0)
    return load_run(discover(root).runs[0])


def _shown(qtbot, recording):
    state = AppState()
    view = show(qtbot, SignalsView, state, size=(1200, 800))
    state.set_dataset(recording)
    return view


@pytest.fixture
def view(qtbot, recording):
    return _shown(qtbot, recording)


def test_no_dataset_message(qtbot):
    v = SignalsView(AppState())
    qtbot.addWidget(v)
    assert v.stack.currentWidget() is v.message
    assert v.message.text() == NO_DATASET_MESSAGE


def test_traces_hold_the_file_values(view, recording):
    raw = recording.eeg
    assert len(view.trace_curves) == len(view._picks) == 8
    sfreq = raw.info["sfreq"]
    expected = raw.get_data(picks=view._picks, start=0, stop=int(10 * sfreq))
    x, y = view.trace_curves[3].getData()
    np.testing.assert_allclose(y, expected[3])
    assert x[0] == 0.0 and x[-1] == pytest.approx(10.0 - 1 / sfreq)
    # scrolling reads another window from the file
    view.start_spin.setValue(5.0)
    x, y = view.trace_curves[0].getData()
    np.testing.assert_allclose(y, raw.get_data(picks=[view._picks[0]], start=1250, stop=3750)[0])
    assert view.scroll.value() == 50


def test_events_drawn_as_regions_on_eeg_clock(view, recording):
    # BOLD events open@4 s, closed@10 s, open@14 s; volume 0 at EEG 2 s -> EEG 6, 12 (16 is outside 0-10 s)
    regions = view.event_regions
    assert [r.trial_type for r in regions] == ["open"]
    assert regions[0].getRegion() == pytest.approx((6.0, 8.0), abs=0.01)
    view.start_spin.setValue(8.0)
    got = {(r.trial_type, round(r.getRegion()[0], 2)) for r in view.event_regions}
    assert got == {("open", 6.0), ("closed", 12.0), ("open", 16.0)}
    colors = {r.trial_type: r.brush.color().getRgb() for r in view.event_regions}
    assert colors["open"] != colors["closed"]


def test_event_colours_follow_the_class_order_of_open_results(view, tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bundle_factory import make_bundle

    from eegfmri_viewer.results import load_bundle
    from eegfmri_viewer.views.class_colors import class_color

    view.start_spin.setValue(8.0)
    colour = {r.trial_type: r.brush.color().getRgb()[:3] for r in view.event_regions}
    assert colour["closed"] == class_color(0) and colour["open"] == class_color(1)  # the recording's own order
    # results whose classes hold one more (first in order): each class takes its colour from the results,
    # as the Coupling over time view shades it
    make_bundle(tmp_path / "b")
    bundle = load_bundle(tmp_path / "b", verify=False)
    bundle.arrays["saliency"]["classes"] = np.array(["blink", "closed", "open"])
    view.state.set_results(bundle)
    colour = {r.trial_type: r.brush.color().getRgb()[:3] for r in view.event_regions}
    assert colour["closed"] == class_color(1) and colour["open"] == class_color(2)


def test_click_sets_time_and_set_time_moves_cursor(qtbot, view):
    state = view.state
    vb = view.eeg_plot.getPlotItem().vb
    scene_pt = vb.mapViewToScene(QPointF(7.0, vb.viewRange()[1][0] * 0.5))
    widget_pt = view.eeg_plot.mapFromScene(scene_pt)
    qtbot.mouseClick(view.eeg_plot.viewport(), Qt.MouseButton.LeftButton, pos=widget_pt)
    # EEG 7 s is BOLD 5 s (volume 0 at EEG 2 s)
    qtbot.waitUntil(lambda: abs(state.selection.time_s - 5.0) < 0.1, timeout=3000)
    state.set_time(3.0)
    assert view.cursor.value() == pytest.approx(5.0, abs=1e-6)


def test_band_overlay_follows_state_band(view):
    state = view.state
    assert state.selection.band == "alpha"
    alpha = view.band_curves[0].getData()[1].copy()
    raw_y = view.trace_curves[0].getData()[1]
    assert len(view.band_curves) == len(view.trace_curves)
    assert not np.allclose(alpha, raw_y)
    state.set_band("delta")
    assert "delta" in view.band_label.text()
    delta = view.band_curves[0].getData()[1]
    assert not np.allclose(alpha, delta)


def test_bold_slices_and_volume_at_time(view, recording):
    shapes = [item.image.shape for item in view.slice_items]
    nx, ny, nz = recording.bold.shape[:3]
    assert shapes == [(ny, nz), (nx, nz), (nx, ny)]
    view.state.set_time(6.0)
    vol = np.asarray(recording.bold.dataobj[..., 3], dtype=float)
    np.testing.assert_allclose(view.slice_items[2].image, vol[:, :, nz // 2])


def test_fmri_only_recording_shows_bold_with_note(qtbot, recording):
    from dataclasses import replace

    state = AppState()
    v = SignalsView(state)
    qtbot.addWidget(v)
    state.set_dataset(replace(recording, eeg=None))
    assert v.stack.currentIndex() == 1
    assert not v.eeg_panel.isVisibleTo(v) and v.note.isVisibleTo(v)
    assert v.note.text() == FMRI_ONLY_NOTE
    assert v.slice_items[0].image is not None


def test_selected_roi_marker_and_time_series(tmp_path, view, recording):
    from bundle_factory import make_bundle

    bundle = make_bundle(tmp_path / "bundle", phase2=False)
    voxel = np.array([5, 6, 4])
    world = (recording.bold.affine @ np.append(voxel, 1.0))[:3]
    coords = np.array(bundle.get("saliency", "roi_coords"), dtype=float)
    coords[2] = world
    bundle.arrays["saliency"]["roi_coords"] = coords
    view.state.set_results(bundle)
    assert view.roi_curve.getData()[0] is None or len(view.roi_curve.getData()[0]) == 0
    # no curve yet: the plot says how to get one, on the run's own time axis in seconds
    assert "Select a ROI" in view.roi_plot.getPlotItem().titleLabel.text
    n_vol = recording.bold.shape[3]
    x0, x1 = view.roi_plot.getViewBox().viewRange()[0]
    assert x0 <= 0.0 and x1 >= n_vol * 2.0 * 0.99
    assert view.roi_plot.getAxis("bottom").labelUnitPrefix == ""
    view.state.select_node("roi", 2)
    assert "BOLD at " in view.roi_plot.getPlotItem().titleLabel.text
    assert view.roi_markers[2].getData()[0].tolist() == [5] and view.roi_markers[2].getData()[1].tolist() == [6]
    x, y = view.roi_curve.getData()
    data = np.asarray(recording.bold.dataobj, dtype=float)
    expected = data[4:7, 5:8, 3:6, :].reshape(-1, data.shape[-1]).mean(axis=0)
    np.testing.assert_allclose(y, 100 * (expected / expected.mean() - 1))  # percent signal change
    assert (view.roi_plot.getAxis("left").labelText, view.roi_plot.getAxis("left").labelUnits) == ("BOLD", "%")
    np.testing.assert_allclose(x, np.arange(data.shape[-1]) * 2.0)
    # slices pass through the ROI voxel
    assert view.slice_center() == (5, 6, 4)
    # and say which way they face, from the image's affine
    assert view.orientation_text(2) == {"left": "L", "right": "R", "bottom": "P", "top": "A"}  # axial
    assert view.orientation_text(0) == {"left": "P", "right": "A", "bottom": "I", "top": "S"}  # sagittal
    import nibabel as nib

    flip = np.diag([-1.0, 1.0, 1.0, 1.0])  # stored right to left (LAS), as many scanners write it
    recording.bold = nib.Nifti1Image(np.asarray(recording.bold.dataobj), flip @ recording.bold.affine)
    view._draw_slices()
    assert view.orientation_text(2) == {"left": "R", "right": "L", "bottom": "P", "top": "A"}
    # demeaned data have no baseline to take a percentage of: shown in their own units
    centred = np.asarray(recording.bold.dataobj, dtype=float)
    centred -= centred.mean(axis=-1, keepdims=True)
    recording.bold = nib.Nifti1Image(centred, recording.bold.affine)
    view.state.select_node(None, None)
    view.state.select_node("roi", 2)
    x, y = view.roi_curve.getData()
    np.testing.assert_allclose(y, centred[4:7, 5:8, 3:6, :].reshape(-1, centred.shape[-1]).mean(axis=0), atol=1e-9)
    assert view.roi_plot.getAxis("left").labelUnits == "image units"


def test_every_eeg_channel_is_reachable_and_a_selected_electrode_comes_into_view(qtbot, tmp_path):
    from bundle_factory import make_bundle

    from eegfmri_viewer.results import load_bundle

    names = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz", "P4",
             "P8", "O1", "Oz", "O2"]
    root = make_bids_run(tmp_path / "bids", n_vol=10, tr=2.0, sfreq=250.0, ch_names=names)
    recording = load_run(discover(root).runs[0])
    v = _shown(qtbot, recording)
    state = v.state
    # by default ("fit") as many channels as the traces' height has room for, each readable
    from eegfmri_viewer.views.signals_view import FIT_TRACE_PX

    assert v.channels_spin.text() == "fit"
    tall = len(v.shown_channels())
    assert 8 <= tall <= len(names) and tall * FIT_TRACE_PX <= v.eeg_plot.height()
    v.resize(1200, 420)
    qtbot.waitUntil(lambda: len(v.shown_channels()) < tall)
    assert len(v.shown_channels()) * FIT_TRACE_PX <= v.eeg_plot.height()
    assert v.shown_channels() == names[:len(v.shown_channels())] and v.channel_scroll.isVisible()
    # a page of 16 channels, and the bar beside the traces reaches the other 4
    v.channels_spin.setValue(16)
    assert v.shown_channels() == names[:16] and v.channel_scroll.isVisible()
    v.channel_scroll.setValue(v.channel_scroll.maximum())
    assert v.shown_channels() == names[4:]
    assert len(v.trace_curves) == 16
    v.channels_spin.setValue(20)
    assert v.shown_channels() == names and not v.channel_scroll.isVisible()
    # an electrode selected elsewhere is brought into the page and drawn thicker
    v.channels_spin.setValue(8)
    v.channel_scroll.setValue(0)
    make_bundle(tmp_path / "bundle", phase2=False)
    bundle = load_bundle(tmp_path / "bundle")
    electrodes = [str(e) for e in bundle.get("saliency", "electrodes")]
    target = next(e for e in electrodes if e in names[10:])
    state.set_results(bundle)
    state.select_node("electrode", electrodes.index(target))
    assert target in v.shown_channels()
    widths = {name: c.opts["pen"].widthF() for name, c in zip(v.shown_channels(), v.trace_curves)}
    assert widths[target] > max(w for n, w in widths.items() if n != target)


def test_keys_page_through_time_and_channels_and_scale_the_traces(qtbot, tmp_path):
    from PySide6.QtCore import Qt

    names = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz", "P4",
             "P8", "O1", "Oz", "O2"]
    root = make_bids_run(tmp_path / "bids", n_vol=30, tr=2.0, sfreq=250.0, ch_names=names)
    v = _shown(qtbot, load_run(discover(root).runs[0]))
    v.channels_spin.setValue(8)
    v.activateWindow()
    qtbot.waitActive(v)
    # a click on the traces gives them the keys, as in MNE's browser
    qtbot.mouseClick(v.eeg_plot.viewport(), Qt.MouseButton.LeftButton, pos=v.eeg_plot.viewport().rect().center())
    qtbot.waitUntil(v.eeg_plot.hasFocus, timeout=2000)
    target = v.eeg_plot
    assert v.start_spin.value() == 0.0
    qtbot.keyClick(target, Qt.Key.Key_Right)
    assert v.start_spin.value() == pytest.approx(2.5)
    qtbot.keyClick(target, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert v.start_spin.value() == pytest.approx(12.5)
    assert v.window_bounds()[0] == int(12.5 * 250)
    qtbot.keyClick(target, Qt.Key.Key_Left)
    assert v.start_spin.value() == pytest.approx(10.0)
    qtbot.keyClick(target, Qt.Key.Key_Down)
    assert v.shown_channels() == names[1:9]
    qtbot.keyClick(target, Qt.Key.Key_PageDown)
    assert v.shown_channels() == names[9:17]
    qtbot.keyClick(target, Qt.Key.Key_Up)
    assert v.shown_channels() == names[8:16]
    before = v.scale_combo.currentText()
    qtbot.keyClick(target, Qt.Key.Key_Plus)
    assert SCALES[v.scale_combo.currentText()] < SCALES[before]
    qtbot.keyClick(target, Qt.Key.Key_Minus)
    qtbot.keyClick(target, Qt.Key.Key_Minus)
    assert SCALES[v.scale_combo.currentText()] > SCALES[before]
