"""Results bundle: round trip, atomic writes, no pickles, corruption detected."""

import json

import numpy as np
import pytest

from eegfmri_viewer.results import BundleError, ResultsBundle, load_bundle, save_bundle


def _bundle():
    return ResultsBundle(
        config={"phase1": {"epochs": 3, "lr": 1e-3}, "preprocessing": {"atlas": "power2011"}},
        metrics={"phase1": {"fmri": {"test_acc": 0.75, "history": [{"epoch": 1, "loss": 1.2}]}}},
        dataset={"label": "sub-01", "modalities": ["fmri"]},
        arrays={
            "saliency": {
                "classes": np.array(["rest", "visual"]),
                "roi_names": np.array(["ROI 1", "ROI 2", "ROI 3"], dtype=object),
                "fmri_cam": np.arange(6, dtype=float).reshape(2, 3),
            }
        },
        manifest={"timings_s": {"phase1": 1.5}},
    )


def test_round_trip(tmp_path):
    out = save_bundle(tmp_path / "res", _bundle())
    loaded = load_bundle(out)
    np.testing.assert_array_equal(loaded.get("saliency", "fmri_cam"), np.arange(6.0).reshape(2, 3))
    assert loaded.classes == ["rest", "visual"]
    assert list(loaded.get("saliency", "roi_names")) == ["ROI 1", "ROI 2", "ROI 3"]
    assert loaded.config["phase1"]["epochs"] == 3
    assert loaded.metrics["phase1"]["fmri"]["test_acc"] == 0.75
    assert loaded.manifest["timings_s"] == {"phase1": 1.5}
    assert set(loaded.manifest["files"]) >= {"saliency.npz", "config.toml", "metrics.json", "dataset.json"}
    assert not loaded.has_eeg and not loaded.has_phase2
    # Only the final folder remains: the temporary one was renamed.
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_json_files_are_standard_json_and_missing_numbers_come_back_as_nan(tmp_path):
    bundle = _bundle()
    # no validation windows: a NaN accuracy, which Python would write as the non-standard token NaN
    bundle.metrics["phase1"]["fmri"].update(val_acc=float("nan"), history=[{"epoch": 1, "val_acc": np.float32("nan")}])
    bundle.dataset["mean_fd_mm"] = float("inf")
    out = save_bundle(tmp_path / "res", bundle)

    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    for name in ("metrics.json", "dataset.json", "manifest.json"):
        json.loads((out / name).read_text(encoding="utf-8"), parse_constant=refuse)
    assert json.loads((out / "metrics.json").read_text())["phase1"]["fmri"]["val_acc"] is None
    loaded = load_bundle(out)
    fmri = loaded.metrics["phase1"]["fmri"]
    assert np.isnan(fmri["val_acc"]) and np.isnan(fmri["history"][0]["val_acc"]) and fmri["test_acc"] == 0.75
    assert loaded.dataset["mean_fd_mm"] is None  # outside metrics.json null stays null
    # in metrics.json only numbers come back as NaN: a field that may be None stays None
    bundle.metrics["phase2"] = {"val_loss": [1.0, None], "chosen": None}
    loaded = load_bundle(save_bundle(tmp_path / "res2", bundle))
    assert np.isnan(loaded.metrics["phase2"]["val_loss"][1]) and loaded.metrics["phase2"]["chosen"] is None


def test_existing_folder_needs_force(tmp_path):
    out = save_bundle(tmp_path / "res", _bundle())
    with pytest.raises(BundleError, match="already exists"):
        save_bundle(out, _bundle())
    b = _bundle()
    b.metrics["phase1"]["fmri"]["test_acc"] = 0.5
    save_bundle(out, b, force=True)
    assert load_bundle(out).metrics["phase1"]["fmri"]["test_acc"] == 0.5
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_corruption_is_reported_with_the_file(tmp_path):
    out = save_bundle(tmp_path / "res", _bundle())
    metrics = out / "metrics.json"
    metrics.write_text(json.dumps({"phase1": {"fmri": {"test_acc": 1.0}}}))
    with pytest.raises(BundleError, match="metrics.json: checksum does not match"):
        load_bundle(out)


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="no manifest.json"):
        load_bundle(tmp_path)
    with pytest.raises(BundleError, match="is not a folder"):
        load_bundle(tmp_path / "missing")


def test_object_arrays_are_not_pickled(tmp_path):
    b = _bundle()
    b.arrays["bad"] = {"x": np.array([{"a": 1}], dtype=object)}
    with pytest.raises(TypeError, match="not strings"):
        save_bundle(tmp_path / "res", b)
    assert not (tmp_path / "res").exists()
    assert list(tmp_path.iterdir()) == []


def test_weights_round_trip(tmp_path):
    torch = pytest.importorskip("torch")
    b = _bundle()
    b.weights = {"phase1_fmri": {"lin.weight": torch.ones(2, 3)}}
    out = save_bundle(tmp_path / "res", b)
    loaded = load_bundle(out, load_weights=True)
    assert torch.equal(loaded.weights["phase1_fmri"]["lin.weight"], torch.ones(2, 3))
