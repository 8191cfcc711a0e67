"""Marking EEG channels bad in the Signals view, keeping the marks, and handing them to the analysis.

GUI tests: run under ``xvfb-run -a``.
"""

from __future__ import annotations

import csv
import json

import pytest
from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtWidgets import QWidget

from eegfmri_viewer.io.bids import discover, load_run
from eegfmri_viewer.pipeline.config import AnalysisConfig
from eegfmri_viewer.state import AppState
from eegfmri_viewer.state.bad_channels import SETTINGS_KEY, BadChannelStore, dataset_key
from eegfmri_viewer.views.signals_view import BAD_PEN, BAD_SUFFIX, FILE_BAD_TIP, GOOD_PEN, SignalsView
from eegfmri_viewer.views.training_view import TrainingView
from io_testdata import make_bids_run
from plot_view_testing import show

FILE_BAD = "C4"  # "bad" in the first run's channels.tsv


def _mark_bad_in_channels_tsv(root, name):
    """Give channel ``name`` the status "bad" in every channels.tsv of the (test-made) dataset."""
    for path in root.rglob("*_channels.tsv"):
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        for row in rows:
            if row["name"] == name:
                row["status"] = "bad"
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A BIDS root with two runs of one subject; ``FILE_BAD`` is bad in channels.tsv."""
    root = make_bids_run(tmp_path_factory.mktemp("bad") / "bids", run="1", n_vol=10)
    make_bids_run(root, run="2", n_vol=10)
    _mark_bad_in_channels_tsv(root, FILE_BAD)
    discovery = discover(root)
    return root, [load_run(entry) for entry in discovery.runs]


def _signals(qtbot, state, recording):
    view = show(qtbot, SignalsView, state, size=(1100, 700))
    state.set_dataset(recording)
    return view


def _pen(view, name):
    pen = view.trace_curves[view.shown_channels().index(name)].opts["pen"]
    return pen.color().getRgb()[:3], pen.widthF()


def _ticks(view):
    return [text for _pos, text in view.eeg_plot.getAxis("left")._tickLevels[0]]


def _name_point(view, name):
    """Widget point on channel ``name``'s label beside the traces."""
    row = view.shown_channels().index(name)
    vb, axis = view.eeg_plot.getPlotItem().vb, view.eeg_plot.getAxis("left")
    y = vb.mapViewToScene(QPointF(0.0, float(view._offsets(row + 1)[-1]))).y()
    return view.eeg_plot.mapFromScene(QPointF(axis.sceneBoundingRect().center().x(), y))


def _trace_point(view, name):
    row = view.shown_channels().index(name)
    vb = view.eeg_plot.getPlotItem().vb
    return view.eeg_plot.mapFromScene(vb.mapViewToScene(QPointF(5.0, float(view._offsets(row + 1)[-1]))))


# ---------------------------------------------------------------- state
def test_state_toggles_sets_and_lists_marks_per_recording():
    state = AppState()
    seen = []
    state.badChannelsChanged.connect(seen.append)
    assert state.toggle_bad("sub-01 task-rest run-1", "T7") is True
    state.set_marked_bad("sub-01 task-rest run-2", ["P8", "C3"])
    assert state.marked_bad() == {"sub-01 task-rest run-1": ["T7"], "sub-01 task-rest run-2": ["C3", "P8"]}
    assert state.is_marked_bad("sub-01 task-rest run-1", "T7")
    assert not state.is_marked_bad("sub-01 task-rest run-2", "T7")
    assert state.toggle_bad("sub-01 task-rest run-1", "T7") is False
    # a recording without marks is left out: the dict is the config's marked_bad as is
    assert state.marked_bad() == {"sub-01 task-rest run-2": ["C3", "P8"]}
    state.set_marked_bad("sub-01 task-rest run-2", ["C3", "P8"])  # no change, no signal
    assert seen == ["sub-01 task-rest run-1", "sub-01 task-rest run-2", "sub-01 task-rest run-1"]
    with pytest.raises(ValueError, match="label"):
        state.set_marked_bad("", ["T7"])
    state.load_marked_bad("/data/other", {"sub-02": ["O1"], "sub-01 task-rest run-2": ["C3", "P8"]})
    assert state.bad_channels_dataset == "/data/other"
    assert state.marked_bad() == {"sub-01 task-rest run-2": ["C3", "P8"], "sub-02": ["O1"]}
    assert seen[3:] == ["sub-02"]  # only the label whose marks changed


def test_dataset_key_is_the_bids_root_of_every_run(dataset):
    root, recordings = dataset
    assert {dataset_key(rec) for rec in recordings} == {str(root.resolve())}
    assert dataset_key(None) == ""
    # an fMRI-only run read from fMRIPrep's output belongs to the dataset above derivatives/
    from types import SimpleNamespace

    bold = root / "derivatives" / "fmriprep" / "sub-01" / "func" / "sub-01_task-rest_space-MNI_bold.nii.gz"
    assert dataset_key(SimpleNamespace(eeg_path=None, bold_path=bold, subject="01")) == str(root.resolve())
    # but an EEG dataset kept under derivatives/ is a dataset of its own
    eeg = root / "derivatives" / "eegprep" / "sub-01" / "eeg" / "sub-01_task-rest_eeg.vhdr"
    assert dataset_key(SimpleNamespace(eeg_path=eeg, bold_path=bold, subject="01")) == \
        str((root / "derivatives" / "eegprep").resolve())


# ---------------------------------------------------------------- Signals view
def test_clicking_a_channel_name_marks_it_bad_in_the_state_and_greys_its_trace(qtbot, dataset):
    _root, recordings = dataset
    state = AppState()
    view = _signals(qtbot, state, recordings[0])
    label = recordings[0].label
    name = view.shown_channels()[2]
    assert name != FILE_BAD and _pen(view, name) == GOOD_PEN
    assert "Click a channel's name" in view.eeg_plot.getAxis("left").toolTip()

    with qtbot.waitSignal(state.badChannelsChanged, timeout=3000) as blocker:
        qtbot.mouseClick(view.eeg_plot.viewport(), Qt.MouseButton.LeftButton, pos=_name_point(view, name))
    assert blocker.args == [label]
    assert state.marked_bad() == {label: [name]}
    color, width = _pen(view, name)
    assert (color, width) == BAD_PEN and width < GOOD_PEN[1]
    assert name + BAD_SUFFIX in _ticks(view)
    assert f"{name} (marked here)" in view.bad_label.text()
    # the recording itself is not touched: the file's bads stay the file's
    assert recordings[0].eeg.info["bads"] == [FILE_BAD]
    # the band overlay of the channel is dimmed with it
    band = view.band_curves[view.shown_channels().index(name)].opts["pen"].color()
    assert band.alpha() < 255

    # a click on the name again makes it good again, and the time cursor never moved
    time_before = state.selection.time_s
    qtbot.mouseClick(view.eeg_plot.viewport(), Qt.MouseButton.LeftButton, pos=_name_point(view, name))
    assert state.marked_bad() == {} and _pen(view, name) == GOOD_PEN and name in _ticks(view)
    assert state.selection.time_s == time_before


def test_right_click_on_a_trace_offers_mark_bad_and_mark_good(qtbot, dataset):
    _root, recordings = dataset
    state = AppState()
    view = _signals(qtbot, state, recordings[0])
    name = next(n for n in view.shown_channels()[4:] if n != FILE_BAD)
    qtbot.mouseClick(view.eeg_plot.viewport(), Qt.MouseButton.RightButton, pos=_trace_point(view, name))
    menu = view.channel_menu
    assert menu is not None and [a.text() for a in menu.actions()] == [f"Mark {name} bad"]
    menu.actions()[0].trigger()
    menu.close()
    assert state.marked_bad() == {recordings[0].label: [name]} and _pen(view, name) == BAD_PEN
    assert [a.text() for a in view.make_channel_menu(name).actions()] == [f"Mark {name} good"]
    # a right-click is not a click in time
    assert state.selection.time_s == 0.0


def test_channels_bad_in_channels_tsv_are_drawn_bad_and_stay_bad(qtbot, dataset):
    _root, recordings = dataset
    state = AppState()
    view = _signals(qtbot, state, recordings[0])
    assert FILE_BAD in view.shown_channels()
    assert _pen(view, FILE_BAD) == BAD_PEN and FILE_BAD + BAD_SUFFIX in _ticks(view)
    assert FILE_BAD_TIP in view.bad_label.text() and FILE_BAD_TIP in view.channel_tip(FILE_BAD)
    # neither the name nor the menu un-marks it: the analysis could not be told "good despite channels.tsv"
    qtbot.mouseClick(view.eeg_plot.viewport(), Qt.MouseButton.LeftButton, pos=_name_point(view, FILE_BAD))
    assert view.toggle_bad(FILE_BAD) is False
    assert state.marked_bad() == {} and _pen(view, FILE_BAD) == BAD_PEN
    action, = view.make_channel_menu(FILE_BAD).actions()
    assert not action.isEnabled() and FILE_BAD_TIP in action.text()


def test_marks_belong_to_their_recording(qtbot, dataset):
    _root, recordings = dataset
    state = AppState()
    view = _signals(qtbot, state, recordings[0])
    name = view.shown_channels()[1]
    view.toggle_bad(name)
    state.set_dataset(recordings[1])
    assert _pen(view, name) == GOOD_PEN
    state.set_dataset(recordings[0])
    assert _pen(view, name) == BAD_PEN


def test_many_bad_channels_are_counted_and_listed_in_the_tooltip(qtbot, dataset):
    _root, recordings = dataset
    state = AppState()
    view = _signals(qtbot, state, recordings[0])
    marked = [n for n in view.shown_channels() if n != FILE_BAD][:4]
    state.set_marked_bad(recordings[0].label, marked)
    assert view.bad_label.text() == "5 bad channels (1 in channels.tsv)"
    assert all(n in view.bad_label.toolTip() for n in marked + [FILE_BAD])
    assert [_pen(view, n) for n in marked] == [BAD_PEN] * 4


# ---------------------------------------------------------------- persistence
def test_marks_survive_a_restart_in_the_settings_file(qtbot, dataset, tmp_path):
    from eegfmri_viewer.app import MainWindow

    root, recordings = dataset
    ini = tmp_path / "settings.ini"
    first = MainWindow(settings=QSettings(str(ini), QSettings.Format.IniFormat), install_hooks=False)
    qtbot.addWidget(first)
    first.state.set_dataset(recordings[1])
    signals = first.docks["Signals"].ensure_built()
    name = signals.shown_channels()[3]
    signals.toggle_bad(name)
    assert first.state.bad_channels_dataset == str(root.resolve())
    first.close()

    stored = json.loads(QSettings(str(ini), QSettings.Format.IniFormat).value(SETTINGS_KEY))
    assert stored == {str(root.resolve()): {recordings[1].label: [name]}}

    second = MainWindow(settings=QSettings(str(ini), QSettings.Format.IniFormat), install_hooks=False)
    qtbot.addWidget(second)
    assert second.state.marked_bad() == {}  # nothing loaded yet
    second.state.set_dataset(recordings[0])  # another run of the same dataset brings its marks
    assert second.state.marked_bad() == {recordings[1].label: [name]}
    second.state.set_dataset(recordings[1])
    signals = second.docks["Signals"].ensure_built()
    assert _pen(signals, name) == BAD_PEN
    signals.toggle_bad(name)  # good again: the dataset's entry goes
    assert json.loads(second.settings.value(SETTINGS_KEY)) == {}
    second.close()


def test_a_recording_of_another_dataset_brings_that_datasets_marks(dataset, tmp_path):
    root, recordings = dataset
    other_root = make_bids_run(tmp_path / "other", n_vol=10)
    other = load_run(discover(other_root).runs[0])
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    state = AppState()
    BadChannelStore(state, settings)
    state.set_dataset(recordings[0])
    state.toggle_bad(recordings[0].label, "Cz")
    state.set_dataset(other)
    assert state.marked_bad() == {} and state.bad_channels_dataset == str(other_root.resolve())
    state.toggle_bad(other.label, "O1")
    state.set_dataset(recordings[0])
    assert state.marked_bad() == {recordings[0].label: ["Cz"]}
    assert set(json.loads(settings.value(SETTINGS_KEY))) == {str(root.resolve()), str(other_root.resolve())}


def test_unreadable_stored_marks_are_ignored(dataset, tmp_path):
    _root, recordings = dataset
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.setValue(SETTINGS_KEY, "{not json")
    state = AppState()
    BadChannelStore(state, settings)
    state.set_dataset(recordings[0])
    assert state.marked_bad() == {}
    state.toggle_bad(recordings[0].label, "Cz")
    assert json.loads(settings.value(SETTINGS_KEY)) == {dataset_key(recordings[0]): {recordings[0].label: ["Cz"]}}


# ---------------------------------------------------------------- Training dock
def _training_view(qtbot, tmp_path):
    state = AppState()
    BadChannelStore(state, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    view = TrainingView(state)
    qtbot.addWidget(view)
    return state, view


def test_training_dock_sends_the_marks_of_the_dataset_it_analyses(qtbot, dataset, tmp_path):
    root, recordings = dataset
    state, view = _training_view(qtbot, tmp_path)
    # table settings get no field
    assert ("preprocessing", "marked_bad") not in view.widgets
    assert view.findChild(QWidget, "preprocessing.marked_bad") is None
    assert ("preprocessing", "bad_channels") in view.widgets

    state.set_dataset(recordings[0])
    state.set_marked_bad(recordings[0].label, ["T7", "C3"])
    view.source_edit.setText(str(root))
    view.out_edit.setText(str(tmp_path / "results"))
    assert view.bad_summary.text() == "2 channels marked bad in 1 recording (Signals view)"
    view.widgets[("preprocessing", "bad_channels")].setText("drop")

    with qtbot.waitSignal(view.start_requested, timeout=3000) as blocker:
        assert view.request_start() is True
    source, _out, config = blocker.args
    assert source == str(root)
    assert config["preprocessing"]["marked_bad"] == {recordings[0].label: ["C3", "T7"]}
    assert config["preprocessing"]["bad_channels"] == "drop"
    parsed = AnalysisConfig.from_dict(config)
    assert parsed.preprocessing.marked_bad == {recordings[0].label: ["C3", "T7"]}
    view.on_failed("Stopped.")

    # another BIDS root: its recordings are not the ones marked, so nothing is sent
    view.source_edit.setText(str(tmp_path / "elsewhere"))
    assert view.config().preprocessing.marked_bad == {}
    assert view.bad_summary.text() == "No channels of this BIDS root marked bad in the Signals view"

    # a run of another dataset in view: the first dataset's marks, kept in the settings, still go with it
    other = make_bids_run(tmp_path / "other", n_vol=10)
    state.set_dataset(load_run(discover(other).runs[0]))
    assert state.marked_bad() == {}
    view.source_edit.setText(str(root))
    assert view.config().preprocessing.marked_bad == {recordings[0].label: ["C3", "T7"]}
    assert view.bad_summary.text() == "2 channels marked bad in 1 recording (Signals view)"
    state.set_dataset(recordings[0])
    state.set_marked_bad(recordings[0].label, [])
    assert view.bad_summary.text() == "No channels of this BIDS root marked bad in the Signals view"


def test_set_config_with_marked_bad_leaves_the_users_marks(qtbot, dataset, tmp_path):
    root, recordings = dataset
    state, view = _training_view(qtbot, tmp_path)
    state.set_dataset(recordings[0])
    state.set_marked_bad(recordings[0].label, ["O1"])
    view.source_edit.setText(str(root))
    other = AnalysisConfig().with_overrides(preprocessing={"marked_bad": {"sub-09": ["T8"]}, "bad_channels": "drop"})
    view.set_config(other.to_dict())
    assert view.widgets[("preprocessing", "bad_channels")].text() == "drop"
    assert view.config().preprocessing.marked_bad == {recordings[0].label: ["O1"]}


def _blue_pixels(view):
    from plot_view_testing import settle

    settle()
    img = view.eeg_plot.grab().toImage()
    import numpy as np

    ptr = img.constBits()
    arr = np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine())[:, :img.width() * 4]
    bgr = arr.reshape(img.height(), img.width(), 4)[..., :3].astype(int)
    r, g, b = bgr[..., 2], bgr[..., 1], bgr[..., 0]
    return int(((b > 200) & (r < 140) & (g > 150)).sum())


def test_interpolated_preview_draws_what_the_analysis_puts_in_place_of_a_bad_channel(qtbot, tmp_path):
    import numpy as np

    from eegfmri_viewer.preprocessing.eeg import bad_channel_interpolator
    from eegfmri_viewer.views.signals_view import PREVIEW_PEN
    from io_testdata import NAMES

    root = make_bids_run(tmp_path / "bids", ch_names=NAMES, electrodes=True, n_vol=10)
    recording = load_run(discover(root).runs[0])
    state = AppState()
    view = _signals(qtbot, state, recording)
    assert "C3" in view.shown_channels()
    view.toggle_bad("C3")
    assert view.preview_curves == [] and _blue_pixels(view) < 20  # off by default
    view.preview_check.setChecked(True)
    assert len(view.preview_curves) == 1
    curve = view.preview_curves[0]
    start, stop = view.window_bounds()
    expected = bad_channel_interpolator(recording.eeg, ["C3"]).apply(recording.eeg, start, stop)["C3"]
    np.testing.assert_allclose(curve.yData, expected)
    # drawn on C3's row, over its grey trace, in the preview's colour
    row = view.shown_channels().index("C3")
    assert curve.pos().y() == view.trace_curves[row].pos().y()
    assert curve.opts["pen"].color().getRgb()[:3] == PREVIEW_PEN[0]
    assert _blue_pixels(view) > 50
    # the recorded trace stays as it is: the preview is drawn beside it
    np.testing.assert_allclose(view.trace_curves[row].yData, recording.eeg.get_data(picks=["C3"], start=start,
                                                                                     stop=stop)[0])
    # a second bad channel changes both rebuilt signals; a good one again has none
    view.toggle_bad("Cz")
    assert len(view.preview_curves) == 2
    both = bad_channel_interpolator(recording.eeg, ["C3", "Cz"]).apply(recording.eeg, start, stop)
    c3 = next(c for c in view.preview_curves if c.pos().y() == view.trace_curves[row].pos().y())
    np.testing.assert_allclose(c3.yData, both["C3"])
    assert not np.allclose(both["C3"], expected)  # C3 is no longer rebuilt with Cz's help
    view.toggle_bad("C3")
    view.toggle_bad("Cz")
    assert view.preview_curves == [] and "no bad channel on this page" in view.preview_check.toolTip()
    view.preview_check.setChecked(False)
    assert _blue_pixels(view) < 20


def test_interpolated_preview_says_why_a_channel_without_a_position_has_none(qtbot, tmp_path):
    from io_testdata import NAMES

    root = make_bids_run(tmp_path / "bids", ch_names=NAMES, electrodes=True, n_vol=10)
    recording = load_run(discover(root).runs[0])
    # as from an EEG file that carries positions for all channels but T8 (a BIDS electrodes.tsv
    # "n/a" is filled from the template montage instead)
    recording.eeg.info["chs"][recording.eeg.ch_names.index("T8")]["loc"][:3] = 0.0
    state = AppState()
    view = _signals(qtbot, state, recording)
    view.toggle_bad("T8")
    view.preview_check.setChecked(True)
    assert view.preview_curves == []
    assert "no position, dropped by the analysis: T8" in view.preview_check.toolTip()
    view.toggle_bad("C3")  # a placed channel is rebuilt beside it
    assert len(view.preview_curves) == 1
