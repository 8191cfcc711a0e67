"""Training dock: generated settings form, validation, and a run through the main window."""

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from eegfmri_viewer.pipeline.config import AnalysisConfig
from eegfmri_viewer.state import AppState
from eegfmri_viewer.views.training_view import TrainingView


@pytest.fixture
def view(qtbot):
    state = AppState()
    widget = TrainingView(state)
    qtbot.addWidget(widget)
    return widget


def test_form_has_a_widget_with_the_default_for_every_config_key(view):
    defaults = AnalysisConfig().to_dict()
    # but the Signals view's marks, which have no field (tests/test_bad_channel_marking.py)
    expected = {(table, key) for table, values in defaults.items() for key in values} - {("preprocessing", "marked_bad")}
    assert set(view.widgets) == expected
    for (table, key), widget in view.widgets.items():
        value = defaults[table][key]
        if isinstance(value, bool):
            assert isinstance(widget, QCheckBox) and widget.isChecked() == value
        elif isinstance(value, int):
            assert isinstance(widget, QSpinBox) and widget.value() == value
        elif isinstance(value, float):
            assert isinstance(widget, QDoubleSpinBox) and widget.value() == pytest.approx(value)
        elif isinstance(widget, QComboBox):  # settings with fixed choices
            assert widget.currentText() == value
        else:
            assert isinstance(widget, QLineEdit)
    # unedited, the form reproduces the default config exactly
    assert view.config() == AnalysisConfig()


def test_editing_widgets_changes_the_config(view):
    view.widgets[("training", "epochs")].setValue(3)
    view.widgets[("preprocessing", "bands")].setText('["alpha", 8, 13], ["beta", 13, 30]')
    config = view.config()
    assert config.training.epochs == 3
    assert [list(b) for b in config.preprocessing.bands] == [["alpha", 8, 13], ["beta", 13, 30]]


def test_invalid_value_is_refused_with_a_message(view, qtbot):
    view.widgets[("training", "epochs")].setValue(-5)
    with qtbot.assertNotEmitted(view.start_requested):
        assert view.request_start() is False
    assert "Invalid settings" in view.message.text() and "epochs" in view.message.text()
    assert view.start_button.isEnabled()


def test_epoch_records_draw_one_curve_set_per_stage(view):
    for epoch in range(3):
        view.on_epoch({"stage": "phase1 eeg", "epoch": epoch, "loss": 1.0 - 0.1 * epoch, "train_acc": 0.5, "val_acc": 0.4})
    view.on_epoch({"stage": "phase2 gat", "epoch": 0, "loss": 2900.0, "val_loss": 2500.0})
    x, y = view.curves[("phase1 eeg", "loss")].getData()
    assert list(x) == [0, 1, 2] and y[2] == pytest.approx(0.8)
    # phase 2's reconstruction loss has its own plot: on the cross-entropy axis it would flatten the others
    phase2 = [view.curves[("phase2 gat", key)] for key in ("loss", "val_loss")]
    assert all(c in view.phase2_plot.getPlotItem().items for c in phase2)
    assert view.curves[("phase1 eeg", "loss")] in view.loss_plot.getPlotItem().items
    assert not any(c in view.loss_plot.getPlotItem().items for c in phase2)
    assert list(phase2[1].getData()[1]) == [2500.0]


def test_each_initialisation_of_a_model_is_its_own_curve(view):
    for init in (1, 2):
        for epoch in (1, 2):
            view.on_epoch({"stage": "fmri", "init": init, "epoch": epoch, "loss": init + 0.1 * epoch,
                           "train_acc": 0.5, "val_acc": 0.4})
    x, y = view.curves[("fmri #2", "loss")].getData()
    assert list(x) == [1, 2] and list(y) == pytest.approx([2.1, 2.2])
    assert list(view.curves[("fmri #1", "loss")].getData()[1]) == pytest.approx([1.1, 1.2])
    assert ("fmri", "loss") not in view.curves
    # a default run's 9 curve sets (3 initialisations, 5 bands, phase 2) all differ in colour
    for stage in ("eeg_delta", "eeg_theta", "eeg_alpha", "eeg_beta", "eeg_gamma", "phase2", "fmri #3"):
        view.on_epoch({"stage": stage, "epoch": 1, "loss": 1.0, "train_acc": 0.5, "val_acc": 0.4})
    sets = {key[0] for key in view.curves}
    colours = {view.curves[(stage, "loss")].opts["pen"].color().name() for stage in sets}
    assert len(sets) == 9 and len(colours) == 9


def _start(view, tmp_path):
    """Start a run as the Start button does (the main window would run it): the curves are then the run's."""
    view.source_edit.setText(str(tmp_path / "bids"))
    view.out_edit.setText(str(tmp_path / "out"))
    assert view.request_start() and view.running


def test_when_done_the_initialisations_not_kept_are_faded_and_named(view, tmp_path):
    from bundle_factory import make_bundle
    from eegfmri_viewer.results import load_bundle
    from eegfmri_viewer.views.training_view import DISCARDED_ALPHA

    make_bundle(tmp_path / "b")
    bundle = load_bundle(tmp_path / "b")
    bundle.metrics["phase1"]["fmri"].update(
        initialisations=[{"init": i, "best_monitor": v} for i, v in ((1, 0.5), (2, 0.05), (3, 0.2))], chosen_init=2)
    _start(view, tmp_path)
    for init in (1, 2, 3):
        view.on_epoch({"stage": "fmri", "init": init, "epoch": 1, "loss": 1.0, "train_acc": 0.5, "val_acc": 0.4})
    view.on_epoch({"stage": "phase2", "epoch": 1, "loss": 1.0, "train_acc": None, "val_acc": None})

    def alpha(stage):
        return view.curves[(stage, "loss")].opts["pen"].color().alpha()

    # another bundle in the state (e.g. opened meanwhile): nothing is claimed about this run
    view.state.set_results(bundle)
    view.on_finished(tmp_path / "elsewhere")
    assert {alpha(f"fmri #{i}") for i in (1, 2, 3)} == {255} and "kept" not in view.message.text()
    view.on_finished(bundle.path)
    assert [alpha(f"fmri #{i}") for i in (1, 2, 3)] == [DISCARDED_ALPHA, 255, DISCARDED_ALPHA]
    assert alpha("phase2") == 255
    assert view.curves[("fmri #1", "val_acc")].opts["pen"].color().alpha() == DISCARDED_ALPHA
    assert "fmri: kept #2 of 3" in view.message.text()


def test_at_individual_level_each_subjects_model_is_its_own_curve_and_keeps_its_own_initialisation(view,
                                                                                                    tmp_path):
    from bundle_factory import make_bundle
    from eegfmri_viewer.results import load_bundle
    from eegfmri_viewer.views.training_view import DISCARDED_ALPHA

    _start(view, tmp_path)
    for subject in ("01", "02"):
        for init in (1, 2):
            for epoch in (1, 2):
                view.on_epoch({"stage": "fmri", "subject": subject, "init": init, "epoch": epoch,
                               "loss": init + 0.1 * epoch, "train_acc": 0.5, "val_acc": 0.4})
    x, y = view.curves[("fmri #1", "loss", "02")].getData()
    assert list(x) == [1, 2] and list(y) == pytest.approx([1.1, 1.2])  # not appended to subject 01's
    pen_01 = view.curves[("fmri #1", "loss", "01")].opts["pen"].color().name()
    assert view.curves[("fmri #1", "loss", "02")].opts["pen"].color().name() == pen_01
    make_bundle(tmp_path / "b")
    bundle = load_bundle(tmp_path / "b")
    tried = [{"init": 1, "best_monitor": 0.5}, {"init": 2, "best_monitor": 0.1}]
    bundle.metrics["phase1"]["fmri"]["subjects"] = {"01": {"initialisations": tried, "chosen_init": 2},
                                                    "02": {"initialisations": tried, "chosen_init": 1}}
    view.state.set_results(bundle)
    view.on_finished(bundle.path)

    def alpha(curve_set, subject):
        return view.curves[(curve_set, "loss", subject)].opts["pen"].color().alpha()

    assert [alpha("fmri #1", "01"), alpha("fmri #2", "01")] == [DISCARDED_ALPHA, 255]
    assert [alpha("fmri #1", "02"), alpha("fmri #2", "02")] == [255, DISCARDED_ALPHA]
    assert "fmri: kept #2 (01), #1 (02)" in view.message.text()


def test_set_config_shows_the_settings_of_a_run_started_elsewhere(view):
    from eegfmri_viewer.pipeline.config import AnalysisConfig

    wanted = AnalysisConfig().with_overrides(training={"epochs": 7, "lr": 0.003, "class_weights": False},
                                             phase1={"hidden": [8, 4]}, preprocessing={"atlas": "dosenbach2010"})
    view.set_config(wanted.to_dict())
    assert view.config() == wanted


def test_bids_root_follows_the_dataset_in_view_until_the_user_types_one(qtbot, tmp_path):
    from io_testdata import make_bids_run

    from eegfmri_viewer.io.bids import discover, load_run

    first = make_bids_run(tmp_path / "study_a", n_vol=10)
    second = make_bids_run(tmp_path / "study_b", n_vol=10)
    state = AppState()
    view = TrainingView(state)
    qtbot.addWidget(view)
    # the demo is offered while no dataset is in view
    view.set_fallback_source(str(tmp_path / "demo"))
    assert view.source_edit.text() == str(tmp_path / "demo")
    state.set_dataset(load_run(discover(first).runs[0], check_data=False))
    assert view.source_edit.text() == str(first.resolve())
    assert view.out_edit.text() == str(first.resolve().parent / "results")
    state.set_dataset(load_run(discover(second).runs[0], check_data=False))
    assert view.source_edit.text() == str(second.resolve())
    # what the user types stays
    view.source_edit.setText(str(tmp_path / "mine"))
    view.out_edit.setText(str(tmp_path / "my_results"))
    state.set_dataset(load_run(discover(first).runs[0], check_data=False))
    assert view.source_edit.text() == str(tmp_path / "mine")
    assert view.out_edit.text() == str(tmp_path / "my_results")


def test_opened_results_show_their_training_curves_and_offer_their_settings(view, tmp_path):
    from bundle_factory import make_bundle
    from eegfmri_viewer.results import load_bundle
    from eegfmri_viewer.views.training_view import DISCARDED_ALPHA

    make_bundle(tmp_path / "b")
    bundle = load_bundle(tmp_path / "b")
    history = [{"epoch": e, "loss": 1.0 / e, "train_acc": 0.5, "val_acc": 0.4, "init": i}
               for i in (1, 2) for e in (1, 2, 3)]
    bundle.metrics["phase1"]["fmri"].update(history=history, chosen_init=2,
                                            initialisations=[{"init": 1, "best_monitor": 0.4},
                                                             {"init": 2, "best_monitor": 0.1}])
    bundle.metrics["phase1"]["eeg"] = {"alpha": {"history": history[:3]}}
    bundle.config = {"training": {"epochs": 7}, "preprocessing": {"atlas": "dosenbach2010"}}
    assert not view.use_results_button.isEnabled()
    view.state.set_results(bundle)
    x, y = view.curves[("fmri #2", "loss")].getData()
    assert list(x) == [1, 2, 3] and list(y) == pytest.approx([1.0, 0.5, 1 / 3])
    assert ("eeg_alpha #1", "val_acc") in view.curves and ("phase2", "loss") in view.curves
    assert list(view.curves[("phase2", "loss")].getData()[1]) == [10.0, 5.0, 2.0]
    assert view.curves[("phase2", "loss")] in view.phase2_plot.getPlotItem().items
    # the initialisation not kept is faded, as at the end of a run here
    assert view.curves[("fmri #1", "loss")].opts["pen"].color().alpha() == DISCARDED_ALPHA
    assert view.message.text() == f"Training curves of the open results ({bundle.path}): below the settings"
    # the form keeps what the user has until asked
    assert view.config().training.epochs == AnalysisConfig().training.epochs
    view.use_results_button.click()
    assert view.config().training.epochs == 7 and view.config().preprocessing.atlas == "dosenbach2010"
    # a run in progress keeps its live curves when results open meanwhile
    _start(view, tmp_path)
    view.on_epoch({"stage": "fmri", "epoch": 1, "loss": 0.9, "train_acc": 0.5, "val_acc": 0.4})
    view.state.set_results(load_bundle(tmp_path / "b"))
    assert set(view.curves) == {("fmri", "loss"), ("fmri", "train_acc"), ("fmri", "val_acc")}


def test_real_settings_are_shown_without_trailing_zeros_and_keep_six_decimals(view):
    sfreq = view.widgets[("preprocessing", "eeg_sfreq")]
    assert sfreq.text() == "250"
    lr = view.widgets[("training", "lr")]
    lr.setValue(0.0003)
    assert lr.text() == "0.0003" and view.config().training.lr == pytest.approx(0.0003)
    lr.lineEdit().setText("0.00125")
    lr.interpretText()
    assert lr.value() == pytest.approx(0.00125)


def test_real_settings_read_a_decimal_point_whatever_the_system_language(qtbot):
    from PySide6.QtCore import QLocale

    default = QLocale()
    QLocale.setDefault(QLocale(QLocale.Language.German, QLocale.Country.Germany))
    try:
        view = TrainingView(AppState())
        qtbot.addWidget(view)
        lr = view.widgets[("training", "lr")]
        lr.lineEdit().setText("0.00125")
        lr.interpretText()
        assert lr.value() == pytest.approx(0.00125) and lr.text() == "0.00125"
    finally:
        QLocale.setDefault(default)


def test_curves_of_one_run_are_gone_when_another_starts(view, tmp_path):
    for stage in ("fmri", "eeg_alpha"):
        view.on_epoch({"stage": stage, "epoch": 1, "loss": 1.0, "train_acc": 0.5, "val_acc": 0.4})
    old = list(view.curves.values())
    _start(view, tmp_path)
    for plot in (view.loss_plot, view.acc_plot, view.phase2_plot):
        assert not any(c in plot.getPlotItem().items for c in old)
        assert len(plot.getPlotItem().legend.items) == 0
    view.on_epoch({"stage": "fmri", "epoch": 1, "loss": 0.9, "train_acc": 0.5, "val_acc": 0.4})
    # one legend entry per model in the accuracy plot (its title says which line is which)
    assert [label.text for _s, label in view.acc_plot.getPlotItem().legend.items] == ["fmri"]


def test_no_two_settings_share_a_tooltip(view):
    tips = {}
    for (table, key), widget in view.widgets.items():
        tip = widget.toolTip()
        assert tip, f"[{table}] {key} has no tooltip"
        tips.setdefault(tip, []).append(f"[{table}] {key}")
    shared = [names for names in tips.values() if len(names) > 1]
    assert not shared, f"settings sharing one tooltip: {shared}"
    # each says what it is about: validation and test are told apart, the fMRI and EEG initialisations too
    assert "validation" in view.widgets[("training", "val_fraction")].toolTip()
    assert "test" in view.widgets[("training", "test_fraction")].toolTip()
    assert "fMRI model" in view.widgets[("training", "n_init_fmri")].toolTip()
    assert "EEG band model" in view.widgets[("training", "n_init_eeg")].toolTip()


def test_output_folder_for_files_lies_in_the_results_area_never_beside_the_data(tmp_path):
    from eegfmri_viewer.io.single import RecordingFiles
    from eegfmri_viewer.results import check_bundle_destination
    from eegfmri_viewer.views.training_view import _files_out_dir

    data = tmp_path / "collection" / "study"
    data.mkdir(parents=True)
    bold = data / "sub-01_task-x_bold.nii.gz"
    events = data / "sub-01_task-x_events.tsv"
    bold.write_bytes(b"")
    events.write_text("onset\tduration\ttrial_type\n")
    files = RecordingFiles(bold=str(bold), events=str(events))
    area = tmp_path / "user" / "eegfmri-viewer"
    out = _files_out_dir(files, base=area)
    assert out == str(area / "sub-01_task-x_bold-results")
    assert not out.startswith(str(tmp_path / "collection"))
    check_bundle_destination(out, inputs=files.paths())
    # a folder of that name holding something else is passed over, not proposed
    (area / "sub-01_task-x_bold-results").mkdir(parents=True)
    (area / "sub-01_task-x_bold-results" / "notes.txt").write_text("mine")
    assert _files_out_dir(files, base=area) == str(area / "sub-01_task-x_bold-results-2")
    # a results area inside the data is refused (never next to or inside input data)
    assert _files_out_dir(files, base=data) == ""
