"""analyze: pipeline helpers and an end-to-end run on the --small demo dataset."""

import json
from pathlib import Path

import numpy as np
import pytest

from fast_analysis import fast_config

from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.io.recording import Events
from eegfmri_viewer.pipeline.analyze import _round_robin_top
from eegfmri_viewer.pipeline.blocks import merge_event_blocks
from eegfmri_viewer.pipeline.eeg_power import roi_power, volume_covariance
from eegfmri_viewer.pipeline.electrode_layout import topomap_layout


def test_merge_event_blocks():
    ev = Events(onset=np.array([0.0, 1.0, 2.0, 10.0, 11.0, 30.0]), duration=np.full(6, 0.9),
                trial_type=np.array(["a", "a", "a", "a", "b", "b"]), source="x.tsv")
    merged = merge_event_blocks(ev, 1.0)
    np.testing.assert_allclose(merged.onset, [0.0, 10.0, 11.0, 30.0])
    np.testing.assert_allclose(merged.duration, [2.9, 0.9, 0.9, 0.9])
    assert list(merged.trial_type) == ["a", "a", "b", "b"]
    assert len(merge_event_blocks(ev, -1)) == 6
    assert len(ev) == 6   # input untouched


def test_roi_power_equals_envelope_of_projected_signal():
    from scipy.signal import hilbert

    rng = np.random.default_rng(0)
    sfreq, tr, n_vol = 100.0, 2.0, 5
    n_times = int(n_vol * tr * sfreq)
    x = rng.normal(size=(2, 4, n_times)) * 1e-6
    T = rng.normal(size=(3, 4))
    cov = volume_covariance(x, np.arange(n_times) / sfreq, sfreq, None, n_vol, tr)
    power = roi_power(cov, T)
    assert power.shape == (2, 3, n_vol)
    direct = np.abs(hilbert(np.einsum("rc,bct->brt", T, x), axis=-1)) ** 2
    expected = direct.reshape(2, 3, n_vol, -1).mean(-1)
    np.testing.assert_allclose(power, expected, rtol=1e-4)


def test_round_robin_top_takes_classes_in_turn():
    cam = np.array([[5.0, 4.0, 3.0, 0.0, 0.0], [0.0, 0.0, 1.0, 9.0, 8.0]])
    assert list(_round_robin_top(cam, 3)) == [0, 1, 3]
    assert list(_round_robin_top(cam, 10)) == [0, 1, 2, 3, 4]


def test_topomap_layout_puts_vertex_at_centre():
    # Cz, Fz, Pz, T7, T8, Oz on a 9 cm sphere centred 4 cm above the head origin
    def on_sphere(theta_deg, phi_deg):
        t, p = np.deg2rad(theta_deg), np.deg2rad(phi_deg)
        return 0.09 * np.array([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)]) + [0, 0, 0.04]

    pos = np.array([on_sphere(0, 0), on_sphere(45, 90), on_sphere(45, -90), on_sphere(90, 180),
                    on_sphere(90, 0), on_sphere(100, -90)])
    xy = topomap_layout(pos)
    assert np.linalg.norm(xy[0]) < 0.2          # Cz near the centre
    assert xy[1, 1] > 0.3 and xy[2, 1] < -0.3   # Fz front (nose up), Pz back
    assert xy[3, 0] < -0.5 and xy[4, 0] > 0.5   # T7 left, T8 right
    assert np.nanmax(np.linalg.norm(xy, axis=1)) == pytest.approx(1.0)


def test_analyze_small_demo_writes_documented_bundle(small_demo, tmp_path):
    import torch

    from eegfmri_viewer.pipeline.analyze import analyze
    from eegfmri_viewer.results import load_bundle

    torch.set_num_threads(1)
    epochs, fractions = [], []
    # a few permutations, so that the p-values are numbers to check
    config = fast_config().with_overrides(coupling={"n_permutations": 20})
    out = analyze(small_demo, tmp_path / "res", config=config, progress=lambda f, m: fractions.append(f),
                  on_epoch=epochs.append)
    b = load_bundle(out, load_weights=True)
    truth = json.loads((Path(small_demo) / "ground_truth.json").read_text())
    classes = truth["classes"]
    n_cls, n_rois, n_bands = len(classes), 264, 2
    s = b.arrays["saliency"]
    assert sorted(s["classes"].tolist()) == sorted(classes)
    n_ch = len(s["electrodes"])
    n_subj = len(s["subjects"])
    assert n_subj == 2 and n_ch > 10
    expected = {
        "roi_names": (n_rois,), "roi_coords": (n_rois, 3), "roi_networks": (n_rois,), "atlas": (),
        "bands": (n_bands,), "band_limits": (n_bands, 2), "fmri_cam": (n_cls, n_rois),
        "fmri_cam_subjects": (n_subj, n_cls, n_rois), "salient_fmri": (n_cls, n_rois),
        "salient_rois": (8,), "ch_pos": (n_ch, 3), "ch_pos_2d": (n_ch, 2), "eeg_cam": (n_bands, n_cls, n_ch),
        "eeg_cam_subjects": (n_subj, n_bands, n_cls, n_ch), "eeg_roi_cam": (n_bands, n_cls, n_rois),
        "salient_eeg": (n_bands, n_cls, n_ch),
    }
    for key, shape in expected.items():
        assert s[key].shape == shape, key
    assert s["salient_fmri"].dtype == bool and s["salient_fmri"].sum(1).max() <= 10
    assert np.all(np.isfinite(s["fmri_cam"])) and np.all(np.isfinite(s["eeg_roi_cam"]))
    T = b.arrays["transfer"]["matrix"]
    assert T.shape == (n_rois, n_ch)
    np.testing.assert_allclose(s["eeg_roi_cam"], np.einsum("rc,bkc->bkr", T, s["eeg_cam"]), rtol=1e-5, atol=1e-12)
    w = b.arrays["windows"]
    n_win = len(w["labels"])
    assert w["fmri_cam"].shape == (n_win, n_rois) and w["eeg_roi_cam"].shape == (n_win, n_bands, n_rois)
    for key in ("subject", "blocks", "onsets_s"):
        assert w[key].shape == (n_win,)
    for blk in np.unique(w["blocks"]):
        assert len(set(w["split"][w["blocks"] == blk])) == 1
    g = b.arrays["graphs"]
    assert g["fmri_edge_index"].shape[0] == 2 and g["fmri_edge_index"].shape[1] == g["fmri_edge_weight"].shape[0]
    assert g["eeg_edge_index"].max() < n_ch
    # class activity beside the CAM: planted ROIs are above their mean in their class
    act = s["fmri_class_activity"]
    assert act.shape == (n_cls, n_rois)
    for cls in classes:
        planted = [r["index"] for r in truth["planted_rois"][cls]]
        assert act[list(s["classes"]).index(cls), planted].mean() > 0.3
    # salient connections: each undirected edge of the graph the CAM was computed on, once
    conn, fw = s["fmri_connections"], g["fmri_edge_weight"]
    assert conn.shape[0] == 2 and np.all(conn[0] < conn[1]) and 2 * conn.shape[1] == len(fw)
    W = np.zeros((n_rois, n_rois))
    W[tuple(g["fmri_edge_index"])] = fw
    np.testing.assert_allclose(s["fmri_connection_weight"], W[conn[0], conn[1]])
    np.testing.assert_allclose(s["fmri_connection_saliency"],
                               W[conn[0], conn[1]] * (s["fmri_cam"][:, conn[0]] + s["fmri_cam"][:, conn[1]]) / 2)
    np.testing.assert_array_equal(s["salient_fmri_connections"],
                                  s["salient_fmri"][:, conn[0]] & s["salient_fmri"][:, conn[1]])
    for bi, band in enumerate(["alpha", "beta"]):
        ei = g[f"eeg_{band}_edge_index"]
        assert ei.max() < n_ch and g[f"eeg_{band}_lambda_max"] > 0
        # the band's graph is the one its phase-1 model was trained on
        np.testing.assert_array_equal(ei, np.asarray(b.weights[f"eeg_{band}"]["edge_index"]))
        conn = s[f"eeg_{band}_connections"]
        assert 2 * conn.shape[1] == ei.shape[1]
        assert s[f"eeg_{band}_connection_saliency"].shape == (n_cls, conn.shape[1])
        np.testing.assert_array_equal(s[f"salient_eeg_{band}_connections"],
                                      s["salient_eeg"][bi][:, conn[0]] & s["salient_eeg"][bi][:, conn[1]])
    # metrics: per modality and band, with epoch curves
    m = b.metrics["phase1"]
    for entry in [m["fmri"], m["eeg"]["alpha"], m["eeg"]["beta"]]:
        for key in ("test_acc", "test_balanced_acc", "train_acc", "val_acc", "chance", "epochs", "history"):
            assert key in entry
        assert 0 <= entry["test_acc"] <= 1 and len(entry["history"]) == 2
        assert {"epoch", "loss", "train_acc", "val_acc"} <= set(entry["history"][0])
    # the stored test predictions are what the accuracy, the confusion matrix and the block test read
    test = w["split"] == "test"
    for entry, pred in [(m["fmri"], w["fmri_pred"]), (m["eeg"]["alpha"], w["eeg_pred"][0]),
                        (m["eeg"]["beta"], w["eeg_pred"][1])]:
        assert pred.shape == (n_win,) and np.all(pred[~test] == -1) and np.all(pred[test] >= 0)
        assert entry["test_acc"] == pytest.approx(np.mean(pred[test] == w["labels"][test]))
        confusion = np.array(entry["confusion"])
        assert confusion.shape == (n_cls, n_cls) and confusion.sum() == test.sum() == entry["n_test"]
        assert np.trace(confusion) == np.sum(pred[test] == w["labels"][test])
        assert entry["block_test"]["n_blocks"] == len(np.unique(w["blocks"][test]))
        # the stored test is the one the stored predictions give, block labels exchanged within each run
        from eegfmri_viewer.training.chance_level import block_permutation_test

        assert entry["block_test"] == block_permutation_test(w["labels"][test], pred[test], w["blocks"][test],
                                                             w["recording"][test], seed=b.config["training"]["seed"])
    assert sorted(set(w["recording"])) == sorted(r["label"] for r in b.dataset["recordings"])
    assert {e["stage"] for e in epochs} >= {"fmri", "eeg_alpha", "eeg_beta"}
    # dataset, manifest, weights
    assert b.dataset["modalities"] == ["eeg", "fmri"] and len(b.dataset["recordings"]) == 2
    man = b.manifest
    assert man["config"]["training"]["epochs"] == 2 and b.config["training"]["epochs"] == 2
    assert any(p.endswith("_bold.nii.gz") for p in man["input_files"])
    assert any(p.endswith(".eeg") for p in man["input_files"])
    assert all(len(h) == 64 for h in man["input_files"].values())
    for stage in ("load", "parcellate", "phase1_fmri", "phase1_eeg", "transfer"):
        assert man["timings_s"][stage] >= 0
    assert {"torch", "numpy"} <= set(man["versions"])
    assert "fmri" in b.weights and "eeg_alpha" in b.weights
    assert fractions[-1] == 1.0 and all(0 <= f <= 1 for f in fractions)
    # weights reproduce the saved CAM through the documented model
    if b.has_phase2:
        assert b.arrays["fusion"]["fusion_weights"].shape[0] == 8
        # lagged coupling at every ROI; on the phase-2 nodes the same numbers as the nodes' own test
        cp = b.arrays["coupling"]
        nodes = cp["node_index"]
        assert cp["roi_lagged_corr"].shape == (n_bands, n_rois, len(cp["lags_s"]))
        np.testing.assert_allclose(cp["roi_lagged_corr"][:, nodes], cp["lagged_corr"], atol=1e-6)
        np.testing.assert_allclose(cp["roi_p_value"][:, nodes], cp["p_value"])
        np.testing.assert_allclose(cp["roi_peak_lag_s"][:, nodes], cp["peak_lag_s"])
        # corrected p-values: never below the uncorrected ones, and the larger family of all
        # atlas ROIs (same permutations, a maximum over more tests) never corrects less
        assert np.isfinite(cp["roi_p_value_fwer"]).all() and (cp["roi_p_value_fwer"] >= cp["roi_p_value"]).all()
        # each recording's own correlation at the canonical delay, labelled by session (before / after tests)
        n_rec = len(b.dataset["recordings"])
        assert cp["recording_lagged_r"].shape == (n_rec, n_bands, n_rois)
        assert np.isfinite(cp["recording_lagged_r"]).all() and np.abs(cp["recording_lagged_r"]).max() <= 1
        assert cp["recording_session"].shape == (n_rec,)
        # and by subject, so that the same subjects before and after can be paired
        assert list(cp["recording_subject"]) == [str(r["subject"]) for r in b.dataset["recordings"]]
        # what was correlated, kept to be looked at (Coupling over time): each recording's z-scored series,
        # whose mean product is its r above, and its class blocks
        tc = b.arrays["timecourses"]
        n_vol = tc["n_volumes"]
        assert tc["power"].shape == (n_rec, n_bands, n_rois, n_vol.max()) and tc["power"].dtype == np.float16
        assert tc["bold"].shape == (n_rec, n_rois, n_vol.max())
        assert tc["blocks"].shape == (n_rec, len(b.classes), n_vol.max())
        assert list(tc["bands"]) == list(b.bands) and list(tc["classes"]) == list(b.classes)
        for i, n in enumerate(n_vol):
            x, y = tc["power"][i, ..., :n].astype(float), tc["bold"][i, :, :n].astype(float)
            np.testing.assert_allclose((x * y[None]).mean(-1), cp["recording_lagged_r"][i], atol=2e-3)
            assert np.isnan(tc["bold"][i, :, n:].astype(float)).all()
            # every volume of the demo's runs is in one class's block
            np.testing.assert_allclose(tc["blocks"][i, :, :n].astype(float).sum(0), 1.0, atol=1e-3)
        assert (cp["roi_p_value_fwer"][:, nodes] >= cp["p_value_fwer"]).all()
        assert man["timings_s"]["coupling_rois"] >= 0
    # an existing bundle is never overwritten without force
    with pytest.raises(InputError, match="--force"):
        analyze(small_demo, out, config=fast_config())
    assert load_bundle(out).manifest["files"] == man["files"]


def test_analyze_fmri_only_native_space_real_run(tmp_path):
    real = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "fmri_studyforrest_localizer"
    if not real.is_dir():
        pytest.skip("real data not available")
    import torch

    from eegfmri_viewer.io.single import open_files
    from eegfmri_viewer.pipeline.analyze import analyze
    from eegfmri_viewer.pipeline.config import AnalysisConfig
    from eegfmri_viewer.results import load_bundle

    torch.set_num_threads(1)
    rec = open_files(None, real / "sub-01_task-oneback_run-1_bold.nii.gz",
                     real / "sub-01_task-oneback_run-1_events.tsv", check_data=False)
    cfg = AnalysisConfig().with_overrides(training={"epochs": 2}, phase1={"hidden": [8]},
                                          preprocessing={"atlas": "dosenbach2010"})
    b = load_bundle(analyze([rec], tmp_path / "sf", config=cfg))
    assert b.dataset["modalities"] == ["fmri"]
    assert any("native" in w for w in b.dataset["warnings"])
    assert b.dataset["recordings"][0]["space"] == "native"
    # no EEG preprocessed: nothing is said about its bad channels, nor about motion without confounds
    assert b.dataset["recordings"][0]["eeg_bad_channels"] is None and b.dataset["recordings"][0]["motion"] is None
    assert not b.has_eeg and not b.has_phase2
    s = b.arrays["saliency"]
    assert s["fmri_cam"].shape == (6, 160)
    assert sorted(s["classes"].tolist()) == ["body", "face", "house", "object", "scene", "scramble"]
    # the per-picture events were merged into 12 blocks of about 16 s
    assert len(np.unique(b.arrays["windows"]["blocks"])) == 12
    assert 0 <= b.metrics["phase1"]["fmri"]["test_acc"] <= 1


def test_command_line_errors_and_fmri_only_run(tmp_path, capsys):
    from eegfmri_viewer.pipeline import command_analyze

    bad = tmp_path / "bad.toml"
    bad.write_text("[training]\nepoch = 3\n")
    real = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "fmri_studyforrest_localizer"
    assert command_analyze.main([str(tmp_path), "--out", str(tmp_path / "o"), "--config", str(bad), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "unknown key 'epoch'" in err
    assert command_analyze.main(["--out", str(tmp_path / "o")]) == 2
    if not real.is_dir():
        pytest.skip("real data not available")
    import torch

    torch.set_num_threads(1)
    cfg = tmp_path / "fast.toml"
    cfg.write_text("[training]\nepochs = 2\n[phase1]\nhidden = [8]\n[preprocessing]\natlas = 'dosenbach2010'\n")
    args = ["--bold", str(real / "sub-01_task-oneback_run-1_bold.nii.gz"), "--events",
            str(real / "sub-01_task-oneback_run-1_events.tsv"), "--out", str(tmp_path / "sf"), "--config", str(cfg)]
    assert command_analyze.main(args) == 0
    captured = capsys.readouterr()
    assert "fMRI test accuracy" in captured.out and "native" in captured.err and "%" in captured.err
    # one run, 2 epochs: the accuracy is said not to beat chance, so nobody reads its maps as findings
    assert "NOT shown to beat chance (block permutation p" in captured.out and "binomial p" in captured.out
    # 4 windows per class leave no validation blocks: nothing to stop early or choose an initialisation on
    assert "no validation windows" in captured.err and "kept initialisation" not in captured.out
    assert command_analyze.main(args) == 2
    assert "--force" in capsys.readouterr().err


def test_phase1_individual_level_trains_one_model_per_subject():
    import torch

    from eegfmri_viewer.pipeline.config import AnalysisConfig
    from eegfmri_viewer.pipeline.phase1_stage import train_phase1
    from phase1_windows import two_class_windows

    torch.set_num_threads(1)
    x, labels, split, subjects = two_class_windows(2.0)
    n_nodes = x.shape[1]
    cfg = AnalysisConfig().with_overrides(training={"epochs": 15, "lr": 0.01}, phase1={"hidden": [8]})
    seen = []
    res = train_phase1(x, labels, split, subjects, 2, 0.5, 6.0, cfg, "fmri", level="individual",
                       on_epoch=seen.append)
    assert sorted(res.state_dicts) == ["fmri_sub-01", "fmri_sub-02"]
    assert set(res.metrics["subjects"]) == {"01", "02"}
    assert {e["subject"] for e in seen} == {"01", "02"}
    assert res.cam.shape == (len(labels), 2, n_nodes) and res.features.shape[:2] == (len(labels), n_nodes)
    assert res.metrics["test_balanced_acc"] >= 0.9
    group = train_phase1(x, labels, split, subjects, 2, 0.5, 6.0, cfg, "fmri", level="group")
    assert list(group.state_dicts) == ["fmri"] and set(group.metrics["subjects"]) == {"01", "02"}


def test_band_sampling_keeps_the_band_below_nyquist():
    from eegfmri_viewer.pipeline.analyze import band_sampling
    from eegfmri_viewer.pipeline.config import AnalysisConfig

    p1 = AnalysisConfig().phase1
    for lo, hi in [(1, 4), (4, 8), (8, 13), (13, 30), (30, 45)]:
        q, kernel_s = band_sampling(250.0, lo, hi, p1)
        assert 250.0 / q / 2 >= 1.25 * hi
        assert kernel_s >= max(0.1, 1.0 / lo)
        assert round(250.0 / q * kernel_s) >= 3
    assert band_sampling(250.0, 1, 4, p1)[0] == 25
    p1.eeg_subsample = False
    assert band_sampling(250.0, 1, 4, p1)[0] == 1


def test_class_activity_is_each_class_mean_against_the_mean_of_all_windows():
    from eegfmri_viewer.pipeline.analyze import class_activity

    x = np.zeros((6, 3, 4))
    labels = np.array([0, 0, 1, 1, 1, 1])
    x[labels == 0, 0] = 2.0      # ROI 0 up in class 0
    x[labels == 1, 1] = -1.0     # ROI 1 down in class 1
    out = class_activity(x, labels, 3)
    np.testing.assert_allclose(out[0], [2.0 - 4 / 6, 4 / 6, 0.0])
    np.testing.assert_allclose(out[1], [-4 / 6, -1.0 + 4 / 6, 0.0])
    assert np.isnan(out[2]).all()  # no window of class 2


def test_analyze_with_the_task_removed_before_the_coupling(small_demo, tmp_path):
    import torch

    from eegfmri_viewer.pipeline.analyze import analyze
    from eegfmri_viewer.results import load_bundle

    torch.set_num_threads(1)
    config = fast_config().with_overrides(coupling={"remove_task": True})
    b = load_bundle(analyze(small_demo, tmp_path / "res", config=config))
    cp = b.arrays["coupling"]
    assert b.config["coupling"]["remove_task"] is True
    assert np.isfinite(cp["roi_lagged_corr"]).all() and np.isfinite(cp["recording_lagged_r"]).all()
    # the task regressors are gone from both sides: what is left is the coupling beyond the task,
    # smaller than the plain correlation at the demo's coupled ROIs
    plain = load_bundle(analyze(small_demo, tmp_path / "plain", config=fast_config()))
    truth = json.loads((Path(small_demo) / "ground_truth.json").read_text())
    bands = [str(x) for x in cp["bands"]]
    pairs = [(bands.index(p["band"]), p["index"]) for p in truth["coupled_pairs"] if p["band"] in bands]
    assert pairs
    beyond = np.mean([abs(cp["recording_lagged_r"][:, bi, roi]).mean() for bi, roi in pairs])
    before = np.mean([abs(plain.arrays["coupling"]["recording_lagged_r"][:, bi, roi]).mean() for bi, roi in pairs])
    assert beyond < before


def test_analyze_says_why_no_window_fits(small_demo, tmp_path):
    from eegfmri_viewer.pipeline.analyze import analyze

    config = fast_config().with_overrides(preprocessing={"window_s": 100.0})
    with pytest.raises(InputError, match=r"no recording produced windows.*skipped \(no 100 s window fits inside "
                                         r"an event: the longest lasts [\d.]+ s"):
        analyze(small_demo, tmp_path / "res", config=config)
    assert not (tmp_path / "res").exists()


def test_analyze_an_event_related_design_with_event_locked_windows(small_demo, tmp_path):
    import dataclasses

    from eegfmri_viewer.io.bids import discover, load_run
    from eegfmri_viewer.pipeline.analyze import analyze
    from eegfmri_viewer.results import load_bundle

    def short_events(rec):
        # a 0.5-s event every 8 s inside each 20-s block, as an event-related paradigm would log them
        ev = rec.events
        onsets = np.concatenate([o + np.array([0.0, 8.0]) for o in ev.onset])
        types = np.repeat(ev.trial_type, 2)
        return dataclasses.replace(rec, events=Events(onset=onsets, duration=np.full(len(onsets), 0.5),
                                                      trial_type=types, source="short events"))

    recordings = [short_events(load_run(e, correct_artifacts=False)) for e in discover(small_demo).runs]
    config = fast_config().with_overrides(preprocessing={"windowing": "events"})
    b = load_bundle(analyze(recordings, tmp_path / "er", config=config))
    dataset = json.loads((b.path / "dataset.json").read_text())
    n_events = sum(len(r.events.onset) for r in recordings)
    counts = dataset["n_windows_per_class"]
    assert sum(counts.values()) <= n_events and set(counts) == {"motor", "rest", "visual"}
    # the last event of a run may leave no room for its BOLD window; no other is lost
    assert sum(counts.values()) >= n_events - len(recordings)
    assert not any("left out" in w for w in dataset["warnings"])
    assert b.manifest["config"]["preprocessing"]["windowing"] == "events"


def test_cli_says_which_initialisation_each_model_kept(capsys):
    from eegfmri_viewer.pipeline.command_analyze import _print_initialisations

    tried = [{"init": 1, "best_monitor": 0.5}, {"init": 2, "best_monitor": 0.04}]
    _print_initialisations("fMRI", {"initialisations": tried, "chosen_init": 2})
    _print_initialisations("fMRI", {"subjects": {"01": {"initialisations": tried, "chosen_init": 2},
                                                 "02": {"test_acc": 0.9}}})
    _print_initialisations("EEG alpha", {"test_acc": 0.9, "subjects": {"01": {"test_acc": 0.9}}})
    assert capsys.readouterr().out.splitlines() == [
        "fMRI model: kept initialisation 2 of 2 (validation losses 0.500, 0.040)",
        "fMRI model, subject 01: kept initialisation 2 of 2 (validation losses 0.500, 0.040)"]
