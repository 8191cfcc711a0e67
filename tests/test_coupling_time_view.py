"""Coupling over time: a ROI's band power and BOLD, class blocks behind them, and the sliding-window r.

The bundle's time courses (tests/bundle_factory.py ``add_time_courses``) couple
alpha power and BOLD at one ROI during "visual" blocks only, so the sliding r
must dip in those blocks and stay near 0 elsewhere. Run under Xvfb.
"""

from __future__ import annotations

import numpy as np
import pytest
from bundle_factory import BANDS, CLASSES, TIME_COUPLED, add_time_courses, make_bundle
from eegfmri_viewer.pipeline.coupling import sliding_correlation, sliding_null_band
from eegfmri_viewer.results import load_bundle, save_bundle
from eegfmri_viewer.state import AppState
from eegfmri_viewer.views.bundle_needs import NO_RESULTS
from eegfmri_viewer.views.class_colors import class_color
from eegfmri_viewer.views.coupling_time_view import NO_TIME_COURSES, NULL_OFF_ZERO, CouplingTimeView
from eegfmri_viewer.views.view_colors import VIEW_COLORS
from plot_view_testing import render, settle, show, to_pixel

pytestmark = pytest.mark.gui

BAND, ROI = TIME_COUPLED


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("coupling_time")
    make_bundle(root / "plain", all_roi_lags=True)
    bundle = load_bundle(root / "plain")
    add_time_courses(bundle)
    save_bundle(root / "courses", bundle)
    make_bundle(root / "fmri_only", eeg=False)
    return root


@pytest.fixture
def state(qapp):
    return AppState()


def test_sliding_correlation_equals_pearson_in_every_window():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=50), rng.normal(size=50)
    y[10:30] += 2 * x[10:30]
    centres, r = sliding_correlation(x, y, 12, step=3)
    starts = np.arange(0, 50 - 12 + 1, 3)
    np.testing.assert_allclose(centres, starts + 5.5)
    np.testing.assert_allclose(r, [np.corrcoef(x[s:s + 12], y[s:s + 12])[0, 1] for s in starts], atol=1e-12)
    assert sliding_correlation(np.ones(10), y[:10], 5)[1].tolist() == [0.0] * 6  # constant: 0, not NaN
    with pytest.raises(ValueError, match="window"):
        sliding_correlation(x, y, 51)


def test_null_band_holds_95_percent_of_windowed_r_between_unrelated_smooth_series():
    rng = np.random.default_rng(2)

    def smooth(n):  # AR(1), like HRF-convolved series: chance r in short windows is large
        e = rng.normal(size=n + 50)
        out = np.zeros_like(e)
        for t in range(1, len(e)):
            out[t] = 0.9 * out[t - 1] + e[t]
        return out[50:]

    outside, width = [], []
    for _ in range(60):
        x, y = smooth(180), smooth(180)
        lo, hi = sliding_null_band(x, y, 30, n_shifts=100, seed=1)
        _, r = sliding_correlation(x, y, 30)
        outside.append(np.mean((r < lo) | (r > hi)))
        width.append(hi - lo)
    assert 0.02 < np.mean(outside) < 0.10
    # far wider than the white-noise rule of thumb (+-2 / sqrt(30) = +-0.37)
    assert np.mean(width) > 1.0
    assert np.isnan(sliding_null_band(np.ones(40), np.ones(40), 30)[0])  # too short to shift by a window


def test_view_says_what_is_missing(qtbot, state, paths):
    view = show(qtbot, CouplingTimeView, state, size=(600, 400))
    assert view.message == NO_RESULTS
    state.set_results(load_bundle(paths / "fmri_only", verify=False))
    assert "fMRI-only" in view.message
    state.set_results(load_bundle(paths / "plain", verify=False))  # written before the time courses were saved
    assert view.message == NO_TIME_COURSES
    state.select_node("roi", 3)
    state.set_band("beta")
    state.set_results(load_bundle(paths / "courses", verify=False))
    assert view.message is None and view.shown == (3, 3, True)


def test_time_courses_of_the_selected_roi_and_band(qtbot, state, paths):
    view = show(qtbot, CouplingTimeView, state, size=(900, 600))
    bundle = load_bundle(paths / "courses", verify=False)
    state.set_results(bundle)
    tc = bundle.arrays["timecourses"]
    # nothing selected: the strongest coupling of the band, said to be
    state.set_band("alpha")
    assert view.shown == (ROI, BAND, False) and "the strongest lagged coupling in the band" in view.title
    state.select_node("roi", ROI)
    assert view.shown == (ROI, BAND, True) and "strongest" not in view.title
    t, eeg, bold = view.series()
    np.testing.assert_allclose(t, np.arange(90) * 2.0)
    np.testing.assert_array_equal(eeg, tc["power"][0, BAND, ROI, :90].astype(float))
    np.testing.assert_array_equal(bold, tc["bold"][0, ROI, :90].astype(float))
    # the whole-run r is the recording's r at the canonical delay (coupling.npz), to float16 precision
    r_rec = float(bundle.get("coupling", "recording_lagged_r")[0, BAND, ROI])
    assert view.whole_run_r == pytest.approx(r_rec, abs=2e-3)
    assert f"r = {r_rec:+.2f} over the run" in view.title
    # the sliding r: 30-volume window (60 s at TR 2 s), low in the visual blocks, near 0 in the others
    centres, r = view.sliding_r()
    assert len(r) == 90 - 30 + 1
    np.testing.assert_allclose(r, sliding_correlation(eeg, bold, 30)[1])
    # the grey band: windowed r of the same series shifted in time (no coupling), around 0
    lo, hi = view.null_band
    assert (lo, hi) == sliding_null_band(eeg, bold, 30, n_shifts=200, seed=0)
    assert -0.8 < lo < -0.2 and 0.2 < hi < 0.8
    window = 10  # one block: the shortest window that can hold a visual block alone
    view.window_box.setValue(window * 2.0)
    centres, r = view.sliding_r()
    visual_centre = [(s + 4.5) * 2.0 for s in (10, 40, 70)]  # blocks of 10 volumes: rest, visual, motor, ...
    other_centre = [(s + 4.5) * 2.0 for s in (0, 20, 30, 50)]
    assert all(r[np.argmin(np.abs(centres - c))] < -0.8 for c in visual_centre)
    assert all(abs(r[np.argmin(np.abs(centres - c))]) < 0.8 for c in other_centre)
    # the class blocks are shaded in their class colours
    regions = view.block_regions
    assert sorted({reg.class_name for reg in regions}) == sorted(CLASSES)
    visual = [reg.getRegion() for reg in regions if reg.class_name == "visual"]
    assert visual == [(20.0, 40.0), (80.0, 100.0), (140.0, 160.0)]
    # another recording (60 volumes) and another band
    view.recording_combo.setCurrentIndex(1)
    assert len(view.series()[0]) == 60
    state.set_band("beta")
    assert view.shown == (ROI, 3, True)
    np.testing.assert_array_equal(view.series()[1], tc["power"][1, 3, ROI, :60].astype(float))
    # a window longer than the recording: said, no curve
    view.window_box.setValue(200.0)
    assert len(view.sliding_r()[1]) == 0
    assert "r: the recording (120 s) is shorter than the window" in view.key_text


def test_view_follows_the_recording_open_in_the_other_views(qtbot, state, paths):
    from types import SimpleNamespace

    view = show(qtbot, CouplingTimeView, state, size=(900, 600))
    state.set_dataset(SimpleNamespace(label="sub-02 ses-1"))  # opened before the results
    state.set_results(load_bundle(paths / "courses", verify=False))
    assert view.recording_combo.currentText() == "sub-02 ses-1" and len(view.series()[0]) == 60
    state.set_dataset(SimpleNamespace(label="sub-01 ses-1"))  # another recording opened in the Dataset browser
    assert view.recording_combo.currentText() == "sub-01 ses-1" and len(view.series()[0]) == 90
    state.set_dataset(SimpleNamespace(label="sub-09 ses-1"))  # not in these results: the view stays
    assert view.recording_combo.currentText() == "sub-01 ses-1"
    assert "not the recording open in Signals (sub-09 ses-1)" in view.title
    view.recording_combo.setCurrentIndex(1)  # the user's own choice holds until another recording opens
    assert len(view.series()[0]) == 60
    state.set_dataset(SimpleNamespace(label="sub-02 ses-1"))
    assert "not the recording open" not in view.title
    view.recording_combo.setCurrentIndex(0)  # the shared time cursor now points into two recordings: said
    assert "not the recording open in Signals (sub-02 ses-1)" in view.title


def test_a_grey_band_that_misses_zero_is_explained(qtbot, state, paths, tmp_path):
    view = show(qtbot, CouplingTimeView, state, size=(900, 600))
    bundle = load_bundle(paths / "courses", verify=False)
    state.set_band("alpha")
    state.select_node("roi", ROI)
    state.set_results(bundle)
    assert view.null_band[0] < 0 < view.null_band[1] and NULL_OFF_ZERO not in view.key_text
    # both series follow the visual blocks in a 2-minute run: the only shift of a 60-s window is one
    # task cycle, which lines the blocks up again (what a 2-minute demo run gives)
    tc = bundle.arrays["timecourses"]
    rng = np.random.default_rng(3)
    visual = ((np.arange(60) // 10) % len(CLASSES) == CLASSES.index("visual")).astype(float)
    tc["power"][1, BAND, ROI, :60] = -visual + rng.normal(0, 0.3, 60)
    tc["bold"][1, ROI, :60] = visual + rng.normal(0, 0.3, 60)
    save_bundle(tmp_path / "task", bundle)
    state.set_results(load_bundle(tmp_path / "task", verify=False))
    view.recording_combo.setCurrentIndex(1)
    assert view.null_band[1] < 0 and NULL_OFF_ZERO in view.key_text


def test_time_courses_are_drawn_in_band_and_class_colours(qtbot, state, paths):
    view = show(qtbot, CouplingTimeView, state, size=(900, 600))
    state.set_results(load_bundle(paths / "courses", verify=False))
    state.set_band("alpha")
    state.select_node("roi", ROI)
    settle()
    image = render(view.series_widget)
    arr = np.frombuffer(image.convertToFormat(image.Format.Format_RGB888).constBits(), dtype=np.uint8)
    arr = arr.reshape(image.height(), -1)[:, : image.width() * 3].reshape(image.height(), image.width(), 3).astype(int)

    def near(colour, tol=40):
        return (np.abs(arr - np.asarray(colour)).max(axis=2) <= tol)

    assert near(VIEW_COLORS["alpha"]).sum() > 200 and near(VIEW_COLORS["fmri"]).sum() > 200
    # behind the curves, each block is tinted with its class colour (45/255 over white): the median of a
    # pixel column in the middle of a block, which the curves cross only here and there
    (y0, y1) = view.series_widget.getPlotItem().getViewBox().viewRange()[1]
    for t_s, name in ((30.0, "visual"), (50.0, "motor"), (70.0, "rest")):
        top, bottom = to_pixel(view.series_widget, t_s, y1), to_pixel(view.series_widget, t_s, y0)
        column = arr[top.y() + 3: bottom.y() - 3, top.x()]
        tint = 255 + (np.asarray(class_color(CLASSES.index(name))) - 255) * 45 / 255
        assert np.abs(np.median(column, axis=0) - tint).max() <= 12, name
    assert BANDS[BAND][0] == "alpha"


def test_view_fits_its_room_and_scrolls_only_when_short(qtbot, state, paths):
    from PySide6.QtWidgets import QScrollArea

    view = show(qtbot, CouplingTimeView, state, size=(800, 520))
    state.set_results(load_bundle(paths / "courses", verify=False))
    settle()
    scroll = view.findChild(QScrollArea)
    assert scroll.widget().height() <= scroll.viewport().height()
    assert not scroll.verticalScrollBar().isVisible()
    assert view.series_widget.height() > view.sliding_widget.height() > 100
    view.resize(800, 200)  # the height of the tool tabs' row
    settle()
    assert scroll.verticalScrollBar().isVisible() and view.series_widget.height() >= 100


def test_the_coupling_views_link_brings_up_coupling_over_time(qtbot, paths, tmp_path):
    from PySide6.QtCore import QSettings

    from eegfmri_viewer.app import MainWindow

    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), install_hooks=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(window.views_settled, timeout=30000)
    docks = window.docks
    coupling = docks["Coupling"].ensure_built()
    window.state.set_results(load_bundle(paths / "courses", verify=False))
    window.state.set_band("alpha")
    window.state.select_node("roi", ROI)
    assert 'href="over-time"' in coupling.lag_title
    # with nothing selected, both views show the same ROI: the strongest lagged coupling of the band
    over_time = docks["Coupling over time"].ensure_built()
    window.state.select_node(None, None)
    for band in [b[0] for b in BANDS]:
        window.state.set_band(band)
        b = [x[0] for x in BANDS].index(band)
        assert over_time.shown[0] == int(coupling._lag_index[coupling.strongest_lag_node(b)]), band
    window.state.set_band("alpha")
    window.state.select_node("roi", ROI)
    docks["Training"].raise_()
    settle()
    assert docks["Coupling over time"].visibleRegion().isEmpty()
    coupling._lag_title.linkActivated.emit("over-time")  # what a click on the link sends
    qtbot.waitUntil(lambda: not docks["Coupling over time"].visibleRegion().isEmpty(), timeout=5000)
    assert docks["Coupling over time"].widget().shown == (ROI, BAND, True)
    # results without time courses: no link to a view that could only say so
    window.state.set_results(load_bundle(paths / "plain", verify=False))
    window.state.select_node("roi", int(window.state.results.get("coupling", "node_index")[0]))
    assert "over-time" not in coupling.lag_title
    window.close()


def test_key_sits_beside_the_controls_only_when_wide_and_never_widens_the_view(qtbot, state, paths):
    from PySide6.QtWidgets import QScrollArea

    view = show(qtbot, CouplingTimeView, state, size=(900, 500))
    state.set_results(load_bundle(paths / "courses", verify=False))
    state.set_band("alpha")
    settle()
    assert view.key_beside_controls
    assert "r&nbsp;in&nbsp;60\u2011s&nbsp;windows" in view.key_text  # one entry, one line
    view.resize(380, 500)
    settle()
    assert not view.key_beside_controls
    scroll = view.findChild(QScrollArea)
    assert scroll.widget().minimumSizeHint().width() <= scroll.viewport().width()
