"""The demo dataset: BIDS files, planted effects measurable in the written files,
reuse by ``ensure_demo_dataset``, and loading through the BIDS reader.

The data are read back with MNE and nibabel, never from the generator's memory,
so the tests check what a user's analysis would see.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eegfmri_viewer.demo import ensure_demo_dataset, is_complete
from eegfmri_viewer.demo import spec

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def truth(small_demo) -> dict:
    return json.loads((small_demo / "ground_truth.json").read_text(encoding="utf-8"))


def _read_tsv(path: Path):
    import pandas as pd

    return pd.read_csv(path, sep="\t")


# --------------------------------------------------------------------- BIDS files


def test_bids_layout_sidecars_and_headers(small_demo, truth):
    import mne
    import nibabel as nib

    desc = json.loads((small_demo / "dataset_description.json").read_text())
    assert desc["BIDSVersion"].startswith("1.") and desc["DatasetType"] == "raw"
    participants = _read_tsv(small_demo / "participants.tsv")
    assert list(participants["participant_id"]) == ["sub-01", "sub-02"]
    assert len(truth["runs"]) == 2
    for run in truth["runs"]:
        base = small_demo / f"sub-{run['subject']}" / f"ses-{run['session']}"
        stem = f"sub-{run['subject']}_ses-{run['session']}_task-{spec.TASK}"
        for rel in (f"eeg/{stem}_eeg.vhdr", f"eeg/{stem}_eeg.vmrk", f"eeg/{stem}_eeg.eeg", f"eeg/{stem}_eeg.json",
                    f"eeg/{stem}_channels.tsv", f"eeg/{stem}_electrodes.tsv", f"eeg/{stem}_coordsystem.json",
                    f"eeg/{stem}_events.tsv", f"func/{stem}_bold.nii.gz", f"func/{stem}_bold.json",
                    f"func/{stem}_events.tsv"):
            assert (base / rel).is_file(), rel
        bold_json = json.loads((base / f"func/{stem}_bold.json").read_text())
        assert bold_json["RepetitionTime"] == 2.0 and bold_json["TaskName"] == spec.TASK
        eeg_json = json.loads((base / f"eeg/{stem}_eeg.json").read_text())
        assert eeg_json["SamplingFrequency"] >= 500 and eeg_json["EEGChannelCount"] == 64
        coordsys = json.loads((base / f"eeg/{stem}_coordsystem.json").read_text())
        assert coordsys["EEGCoordinateUnits"] == "m"

        img = nib.load(base / f"func/{stem}_bold.nii.gz")
        assert img.ndim == 4 and img.shape[3] == run["n_volumes"] == 60
        assert img.header.get_zooms()[3] == pytest.approx(2.0)
        assert int(img.header["sform_code"]) == 4 and int(img.header["qform_code"]) == 4
        assert np.allclose(np.abs(np.diag(img.affine)[:3]), 4.0)

        raw = mne.io.read_raw_brainvision(base / f"eeg/{stem}_eeg.vhdr", verbose="error")
        assert len(raw.ch_names) == 64 and raw.info["sfreq"] == 500.0
        from eegfmri_viewer.demo.sources import template_montage

        assert set(raw.ch_names) <= set(template_montage().ch_names)
        onsets = raw.annotations.onset[raw.annotations.description == "Response/R128"]
        assert len(onsets) == 60
        assert np.allclose(np.diff(onsets), 2.0)
        assert onsets[0] == pytest.approx(run["eeg_offset_s"])
        channels = _read_tsv(base / f"eeg/{stem}_channels.tsv")
        assert list(channels["name"]) == raw.ch_names
        electrodes = _read_tsv(base / f"eeg/{stem}_electrodes.tsv")
        assert len(electrodes) == 64
        # Template head: electrodes 7-11 cm from the centre of the head.
        r = np.linalg.norm(electrodes[["x", "y", "z"]].to_numpy(float) - [0, 0, 0.04], axis=1)
        assert 0.06 < r.min() and r.max() < 0.13

        func_ev = _read_tsv(base / f"func/{stem}_events.tsv")
        eeg_ev = _read_tsv(base / f"eeg/{stem}_events.tsv")
        assert set(func_ev["trial_type"]) == set(spec.CLASSES)
        assert list(func_ev["trial_type"]) == list(eeg_ev["trial_type"]) == run["blocks"]
        # The two clocks differ by the EEG lead-in, and the sample column agrees.
        assert np.allclose(eeg_ev["onset"] - func_ev["onset"], run["eeg_offset_s"], atol=2e-3)
        assert np.allclose(eeg_ev["sample"] / 500.0, eeg_ev["onset"], atol=2e-3)
        assert func_ev["onset"].iloc[-1] + func_ev["duration"].iloc[-1] <= 60 * 2.0


def test_ground_truth_is_consistent_with_the_atlas(truth):
    from nilearn import datasets

    rois = datasets.fetch_coords_power_2011().rois
    xyz = rois[["x", "y", "z"]].to_numpy(float)
    assert len(truth["classes"]) >= 3
    planted = set()
    for cls in truth["classes"]:
        entries = truth["planted_rois"][cls]
        assert len(entries) >= 3
        for e in entries:
            assert e["name"] == f"ROI {int(rois['roi'][e['index']])}"
            assert np.allclose(e["mni"], xyz[e["index"]])
            planted.add(e["index"])
    assert truth["shared_rois"] and all(len(e["classes"]) >= 2 for e in truth["shared_rois"])
    for c in truth["control_rois"]:
        d = np.linalg.norm(xyz[sorted(planted)] - xyz[c["index"]], axis=1)
        assert d.min() >= 30.0, c
    for pair in truth["coupled_pairs"]:
        assert pair["index"] in planted and pair["band"] in truth["bands"]
    for change in truth["session2_change"]:
        assert change["index"] in {e["index"] for e in truth["planted_rois"][change["cls"]]}
    assert truth["planted_eeg_changes"]["visual"]["alpha"]["direction"] == "decrease"
    assert truth["planted_eeg_changes"]["motor"]["beta"]["direction"] == "decrease"
    assert {"O1", "Oz", "O2"} & set(truth["salient_electrodes"]["visual"]["alpha"])
    assert {"C3", "C4"} & set(truth["planted_eeg_changes"]["motor"]["beta"]["electrodes"])
    for cls in truth["classes"]:
        assert truth["effect_bands"][cls], cls


# ------------------------------------------------------------- planted effects


def _epoch_log_power(raw, events, band, picks, epoch_s=2.0, skip_s=2.0) -> dict:
    """Log band power (mean over ``picks``) in epochs inside the blocks, per class."""
    # 1 Hz transition bands, so that a neighbouring band's rhythm does not leak in.
    data = (raw.copy().pick(picks).load_data(verbose="error")
            .filter(band[0], band[1], l_trans_bandwidth=1.0, h_trans_bandwidth=1.0, verbose="error").get_data())
    sf = raw.info["sfreq"]
    out: dict = {}
    for _, row in events.iterrows():
        start = int(row["sample"]) + int(skip_s * sf)
        for k in range(int((row["duration"] - skip_s) // epoch_s)):
            seg = data[:, start + int(k * epoch_s * sf): start + int((k + 1) * epoch_s * sf)]
            out.setdefault(row["trial_type"], []).append(np.log(np.mean(seg**2)))
    return {k: np.asarray(v) for k, v in out.items()}


def _cohen_d(a, b) -> float:
    return float((a.mean() - b.mean()) / np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2))


def test_eeg_band_power_differs_between_classes_at_named_electrodes(small_demo, truth):
    import mne

    bands = truth["bands"]
    checked = 0
    for run in truth["runs"]:
        vhdr = small_demo / run["eeg"]
        raw = mne.io.read_raw_brainvision(vhdr, verbose="error")
        events = _read_tsv(Path(str(vhdr).replace("_eeg.vhdr", "_events.tsv")))
        for cls, per_band in truth["planted_eeg_changes"].items():
            for band, effect in per_band.items():
                picks = effect["electrodes"][:3]
                power = _epoch_log_power(raw, events, bands[band], picks)
                d = _cohen_d(power[cls], power["rest"])
                log_ratio = power[cls].mean() - power["rest"].mean()
                sign = -1 if effect["direction"] == "decrease" else 1
                assert sign * d > 1.5 and sign * log_ratio > 0.5, (run["subject"], cls, band, picks, d, log_ratio)
                checked += 1
        # No effect where none is planted: beta at the ground truth's control
        # electrodes, and delta (no planted rhythm) where visual alpha changes most.
        controls = truth["control_electrodes"]["beta"]
        assert controls["max_relative_change"] < 0.05
        absent = [("beta", controls["electrodes"]),
                  ("delta", truth["planted_eeg_changes"]["visual"]["alpha"]["electrodes"][:3])]
        for band, picks in absent:
            power = _epoch_log_power(raw, events, bands[band], picks)
            for cls in ("visual", "motor"):
                log_ratio = power[cls].mean() - power["rest"].mean()
                assert abs(log_ratio) < 0.4, (run["subject"], band, cls, log_ratio)
    assert checked >= 2 * 4


def _roi_series(img, data, centre_mm, radius_mm=6.0) -> np.ndarray:
    """Mean BOLD in a sphere, in percent of its mean."""
    ijk = np.argwhere(np.ones(img.shape[:3], bool))
    xyz = ijk @ img.affine[:3, :3].T + img.affine[:3, 3]
    m = np.linalg.norm(xyz - np.asarray(centre_mm), axis=1) <= radius_mm
    y = data[ijk[m, 0], ijk[m, 1], ijk[m, 2]].mean(axis=0)
    return 100.0 * (y / y.mean() - 1.0)


def _class_regressor(events, classes, n_volumes, tr=2.0) -> np.ndarray:
    """Blocks of ``classes`` convolved with the canonical HRF, at each volume (plateau 1)."""
    from eegfmri_viewer.demo.design import canonical_hrf

    dt = 0.05
    t = np.arange(0, n_volumes * tr, dt)
    box = np.zeros_like(t)
    for _, row in events[events["trial_type"].isin(classes)].iterrows():
        box[(t >= row["onset"]) & (t < row["onset"] + row["duration"])] = 1.0
    reg = np.convolve(box, canonical_hrf(dt))[: len(t)] * dt
    return reg[np.round((np.arange(n_volumes) * tr + tr / 2) / dt).astype(int)]


def _glm(y, regressor) -> tuple:
    """Ordinary least squares with a quadratic drift model.

    Returns
    -------
    beta : float
        Percent signal change per unit of ``regressor``.
    r : float
        Correlation of ``regressor`` and ``y`` after removing the drift.
    """
    n = len(y)
    drift = np.polynomial.legendre.legvander(np.linspace(-1, 1, n), 2)
    X = np.column_stack([regressor, drift])
    beta = np.linalg.lstsq(X, y, rcond=None)[0][0]
    resid = lambda v: v - drift @ np.linalg.lstsq(drift, v, rcond=None)[0]  # noqa: E731
    return float(beta), float(np.corrcoef(resid(y), resid(regressor))[0, 1])


def test_bold_at_planted_rois_follows_the_classes_and_control_rois_do_not(small_demo, truth):
    import nibabel as nib

    planted_r = []
    for run in truth["runs"]:
        img = nib.load(small_demo / run["bold"])
        data = np.asarray(img.dataobj, dtype=np.float32)
        events = _read_tsv(small_demo / run["bold"].replace("_bold.nii.gz", "_events.tsv"))
        n = img.shape[3]
        planted_beta, control_beta = [], []
        for cls in truth["classes"]:
            for roi in truth["planted_rois"][cls]:
                own = [cls] + roi["shared_with"]
                beta, r = _glm(_roi_series(img, data, roi["mni"]), _class_regressor(events, own, n))
                assert beta > 1.2 and r > 0.3, (run["subject"], cls, roi["index"], beta, r)
                planted_beta.append(beta)
                planted_r.append(r)
        for roi in truth["control_rois"]:
            y = _roi_series(img, data, roi["mni"])
            for cls in truth["classes"]:
                beta, r = _glm(y, _class_regressor(events, [cls], n))
                assert abs(beta) < 0.6, (run["subject"], roi["index"], cls, beta, r)
                control_beta.append(abs(beta))
        # Every planted response stands well clear of anything at the control regions.
        assert min(planted_beta) > 2 * max(control_beta)
    assert np.mean(planted_r) > 0.6


# ------------------------------------------------------------------ reuse


def test_ensure_demo_dataset_reuses_a_complete_dataset(small_demo):
    marker = small_demo / "ground_truth.json"
    before = marker.stat().st_mtime_ns
    messages = []
    root = ensure_demo_dataset(small_demo, small=True, progress=lambda f, m: messages.append(m))
    assert root == small_demo and marker.stat().st_mtime_ns == before
    assert any("using the demo dataset" in m for m in messages)
    assert is_complete(small_demo)


def test_ensure_demo_dataset_refuses_a_foreign_folder_and_honours_cancel(tmp_path):
    from eegfmri_viewer.io.errors import InputError
    from eegfmri_viewer.progress import Cancelled

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a demo dataset"):
        ensure_demo_dataset(foreign, small=True)
    assert (foreign / "notes.txt").read_text() == "keep me"

    target = tmp_path / "demo"
    with pytest.raises(Cancelled):
        ensure_demo_dataset(target, small=True, cancel=lambda: True)
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".demo")]


# -------------------------------------------------------------- BIDS reader


def test_loads_through_the_bids_reader(small_demo, truth):
    bids = pytest.importorskip("eegfmri_viewer.io.bids")
    found = bids.discover(small_demo)
    assert not found.skipped
    assert [(r.subject, r.session, r.task) for r in found.runs] == [("01", "1", spec.TASK), ("02", "1", spec.TASK)]
    rec = bids.load_run(found.runs[0])
    assert rec.tr == 2.0 and rec.space == "MNI"
    assert rec.alignment.method == "markers" and rec.alignment.n_markers == 60
    assert rec.alignment.n_missing == 0 and rec.alignment.n_extra == 0
    assert rec.alignment.offset_s == pytest.approx(truth["runs"][0]["eeg_offset_s"], abs=1e-3)
    assert list(rec.events.trial_type) == truth["runs"][0]["blocks"]
    # The only documented warning (docs/demo.md): the artifact-free default EEG
    # has no gradient artifact for the loader's correction to remove.
    unexpected = [w for w in rec.warnings if "no gradient artifact found" not in w]
    assert unexpected == []
    assert len([c for c in rec.eeg.get_channel_types() if c == "eeg"]) == 64


def test_eeg_power_and_bold_are_coupled_at_the_named_pairs(small_demo, truth):
    """HRF-convolved log band power over a coupled region and the region's BOLD
    move together, with the sign the ground truth gives."""
    import mne
    import nibabel as nib

    from eegfmri_viewer.demo.design import canonical_hrf

    dt = 0.05
    for run in truth["runs"]:
        img = nib.load(small_demo / run["bold"])
        data = np.asarray(img.dataobj, np.float32)
        n = img.shape[3]
        raw = mne.io.read_raw_brainvision(small_demo / run["eeg"], preload=True, verbose="error")
        step = int(round(dt * raw.info["sfreq"]))
        at_volumes = np.round((run["eeg_offset_s"] + np.arange(n) * 2.0 + 1.0) / dt).astype(int)
        for pair in truth["coupled_pairs"]:
            picks = pair["electrodes"][:2]
            x = raw.copy().pick(picks).filter(*truth["bands"][pair["band"]], l_trans_bandwidth=1.0,
                                              h_trans_bandwidth=1.0, verbose="error").get_data()
            power = (x**2).mean(axis=0)
            logp = np.log(power[: len(power) // step * step].reshape(-1, step).mean(axis=1))
            predicted = (np.convolve(logp - logp.mean(), canonical_hrf(dt))[: len(logp)] * dt)[at_volumes]
            r = np.corrcoef(predicted, _roi_series(img, data, pair["mni"]))[0, 1]
            sign = -1 if pair["sign"] == "negative" else 1
            assert sign * r > 0.4, (run["subject"], pair["index"], pair["band"], r)
