"""Training dock form: combo boxes for settings with fixed choices, tooltips from the docstrings."""

import dataclasses
import html

import pytest
from PySide6.QtWidgets import QComboBox, QFormLayout, QLineEdit

from eegfmri_viewer.pipeline.config import AnalysisConfig
from eegfmri_viewer.pipeline.config_fields import attribute_docs, field_choices
from eegfmri_viewer.state import AppState
from eegfmri_viewer.views.training_view import TrainingView


@pytest.fixture
def view(qtbot):
    widget = TrainingView(AppState())
    qtbot.addWidget(widget)
    return widget


def _declared_choices():
    return {(table, key): choices for table, klass in AnalysisConfig.tables().items()
            for key, choices in field_choices(klass).items()}


def test_combo_boxes_for_exactly_the_settings_with_choices(view):
    choices = _declared_choices()
    combos = {k: w for k, w in view.widgets.items() if isinstance(w, QComboBox)}
    assert set(combos) == set(choices) and ("coupling", "null") in combos
    defaults = AnalysisConfig().to_dict()
    for (table, key), combo in combos.items():
        assert [combo.itemText(i) for i in range(combo.count())] == list(choices[(table, key)])
        assert combo.currentText() == defaults[table][key]
    # the free-form strings stay text fields
    assert isinstance(view.widgets[("preprocessing", "atlas")], QLineEdit)
    assert isinstance(view.widgets[("preprocessing", "reference")], QLineEdit)


def test_choosing_a_value_reaches_config_dict_and_the_config(view):
    view.widgets[("coupling", "null")].setCurrentText("blocks")
    view.widgets[("phase2", "centring")].setCurrentIndex(2)
    values = view.config_dict()
    assert values["coupling"]["null"] == "blocks" and values["phase2"]["centring"] == "none"
    config = view.config()
    assert config.coupling.null == "blocks" and config.phase2.centring == "none"


def test_set_config_selects_the_value(view):
    wanted = AnalysisConfig().with_overrides(coupling={"null": "blocks"}, training={"level": "individual"},
                                             graph={"transfer": "distance", "kind": "spatial"})
    view.set_config(wanted.to_dict())
    assert view.widgets[("coupling", "null")].currentText() == "blocks"
    assert view.widgets[("training", "level")].currentText() == "individual"
    assert view.config() == wanted
    with pytest.raises(ValueError, match="coupling.null.*'shift', 'blocks'"):
        view.set_config({"coupling": {"null": "phase"}})


def test_text_of_a_choice_box_selects_like_a_line_edit(view):
    box = view.widgets[("graph", "transfer")]
    box.setText("distance")
    assert box.text() == "distance" and view.config().graph.transfer == "distance"


def _row_label(view, widget):
    form = widget.parentWidget().layout()
    assert isinstance(form, QFormLayout)
    return form.labelForField(widget)


def test_tooltips_hold_the_documented_meaning_and_default(view):
    null = view.widgets[("coupling", "null")]
    assert "Surrogate BOLD under the null" in null.toolTip()
    assert 'Default: <code>"shift"</code>' in null.toolTip()
    centring = view.widgets[("phase2", "centring")]
    assert "remove the mean over nodes in every window" in centring.toolTip()
    assert '"nodes_windows"' in centring.toolTip()
    assert _row_label(view, centring).toolTip() == centring.toolTip()
    assert "Default: <code>true</code>" in view.widgets[("phase2", "enabled")].toolTip()
    assert "Default: <code>60</code>" in view.widgets[("training", "epochs")].toolTip()
    # every row's tooltip is its docstring entry
    for table, klass in AnalysisConfig.tables().items():
        docs = attribute_docs(klass)
        for f in dataclasses.fields(klass):
            if (table, f.name) == ("preprocessing", "marked_bad"):
                continue  # no row: the Signals view's marks fill it (tests/test_bad_channel_marking.py)
            tip = view.widgets[(table, f.name)].toolTip()
            assert html.escape(docs[f.name], quote=False) in tip, (table, f.name)



def _wheel(widget, steps=1):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_changes_a_setting_only_once_its_field_has_the_focus(view, qtbot):
    # scrolling down the form over a field must not change it unnoticed
    view.show()
    qtbot.waitExposed(view)
    view.activateWindow()
    spin, combo = view.widgets[("training", "epochs")], view.widgets[("coupling", "null")]
    epochs, null = spin.value(), combo.text()
    _wheel(spin)
    _wheel(combo, steps=-1)
    assert (spin.value(), combo.text()) == (epochs, null)
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus, timeout=2000)
    _wheel(spin)
    assert spin.value() == epochs + 1
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus, timeout=2000)
    _wheel(combo, steps=-1)
    assert combo.text() != null
