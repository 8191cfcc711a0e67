"""AppState: holds the linked-view state and signals only real changes."""

import dataclasses

import pytest

from eegfmri_viewer.state import AppState, Selection


@pytest.fixture
def state(qapp):
    return AppState()


def _recorder(signal):
    calls = []
    signal.connect(lambda *a: calls.append(a))
    return calls


def test_selection_is_frozen_with_contract_defaults():
    sel = Selection()
    assert (sel.node_kind, sel.node_index, sel.class_index, sel.band, sel.session, sel.time_s) == (
        None, None, 0, "alpha", None, 0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sel.band = "beta"
    with pytest.raises(ValueError):
        Selection(node_kind="voxel", node_index=1)
    with pytest.raises(ValueError):
        Selection(node_kind="roi", node_index=None)


def test_select_node_emits_once_per_real_change(state):
    nodes, sels = _recorder(state.nodeChanged), _recorder(state.selectionChanged)
    state.select_node("roi", 12)
    state.select_node("roi", 12)
    assert nodes == [("roi", 12)]
    assert len(sels) == 1 and sels[0][0] == Selection(node_kind="roi", node_index=12)
    state.select_node("electrode", 12)
    state.select_node(None, None)
    state.select_node("roi", -1)  # -1 also means "none": no change now
    assert nodes == [("roi", 12), ("electrode", 12), ("", -1)]
    assert state.selection.node_kind is None and state.selection.node_index is None


@pytest.mark.parametrize(
    "setter, signal, first, second, field",
    [
        ("set_class", "classChanged", 2, 3, "class_index"),
        ("set_band", "bandChanged", "beta", "gamma", "band"),
        ("set_session", "sessionChanged", "ses-post", "ses-pre", "session"),
        ("set_time", "timeChanged", 12.5, 30.0, "time_s"),
    ],
)
def test_selection_field_setters(state, setter, signal, first, second, field):
    calls, sels = _recorder(getattr(state, signal)), _recorder(state.selectionChanged)
    getattr(state, setter)(first)
    getattr(state, setter)(first)
    getattr(state, setter)(second)
    assert calls == [(first,), (second,)]
    assert [getattr(s[0], field) for s in sels] == [first, second]
    assert getattr(state.selection, field) == second
    # other fields untouched
    others = {f.name for f in dataclasses.fields(Selection)} - {field}
    for name in others:
        assert getattr(state.selection, name) == getattr(Selection(), name)


def test_setting_default_value_emits_nothing(state):
    calls = _recorder(state.selectionChanged)
    state.set_band("alpha")
    state.set_class(0)
    state.set_time(0.0)
    state.set_session(None)
    state.set_session("")
    assert calls == []


def test_invalid_values_rejected_without_change(state):
    calls = _recorder(state.selectionChanged)
    with pytest.raises(ValueError):
        state.set_class(-1)
    with pytest.raises(ValueError):
        state.set_time(float("nan"))
    assert calls == [] and state.selection == Selection()


def test_dataset_results_compare_emit_on_identity_change(state):
    for setter, signal, prop in [
        ("set_dataset", "datasetChanged", "dataset"),
        ("set_results", "resultsChanged", "results"),
        ("set_compare", "compareChanged", "compare"),
    ]:
        calls = _recorder(getattr(state, signal))
        a, b = object(), object()
        getattr(state, setter)(a)
        getattr(state, setter)(a)
        getattr(state, setter)(b)
        getattr(state, setter)(None)
        getattr(state, setter)(None)
        assert [c[0] for c in calls] == [a, b, None]
        assert getattr(state, prop) is None


def test_run_status(state):
    calls = _recorder(state.runStatusChanged)
    assert state.run_status == "idle"
    state.set_run_status("running: phase 1")
    state.set_run_status("running: phase 1")
    state.set_run_status("idle")
    assert calls == [("running: phase 1",), ("idle",)]


def test_overlay_emits_on_change_and_new_results_clear_it(state):
    import numpy as np

    from eegfmri_viewer.state import CortexOverlay

    seen = []
    state.overlayChanged.connect(seen.append)
    overlay = CortexOverlay("Laplacian mode 1", np.arange(4.0), owner="Teaching")
    state.set_overlay(overlay)
    state.set_overlay(overlay)
    assert seen == [overlay] and state.overlay is overlay
    order = []
    state.overlayChanged.connect(lambda o: order.append(("overlay", o)))
    state.resultsChanged.connect(lambda r: order.append(("results", r)))
    state.set_results("bundle")
    # Cleared before the views hear of the new results, so none draws a stale map.
    assert order == [("overlay", None), ("results", "bundle")] and state.overlay is None
    with pytest.raises(ValueError, match="one per ROI"):
        CortexOverlay("bad", np.zeros((2, 2)))
