"""Demo generator: reproducibility, the command line, the session-2 change, and
scanner artifacts that the loader's correction removes.

Uses a tiny configuration (1 subject, 60 s runs) to stay fast.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from eegfmri_viewer.demo import generate_demo_dataset
from eegfmri_viewer.io.errors import InputError

pytestmark = pytest.mark.timeout(300)

TINY = dict(n_subjects=1, n_sessions=2, duration_s=60.0, seed=7)


def _digests(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _run_command(argv) -> int:
    from eegfmri_viewer.demo import command

    parser = argparse.ArgumentParser(prog="eegfmri-viewer demo-data", description=command.HELP)
    command.add_arguments(parser)
    return command.run(parser.parse_args(argv))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """1 subject, 2 sessions, 60 s, written through the command line."""
    root = tmp_path_factory.mktemp("tiny") / "a"
    assert _run_command([str(root), "--subjects", "1", "--sessions", "2", "--duration", "60", "--seed", "7"]) == 0
    return root


def test_same_seed_gives_byte_identical_files(tiny, tmp_path):
    again = generate_demo_dataset(tmp_path / "b", preset="custom", **TINY)
    first, second = _digests(tiny), _digests(again)
    assert first == second
    assert any(k.endswith("_eeg.eeg") for k in first) and any(k.endswith("_bold.nii.gz") for k in first)
    other = generate_demo_dataset(tmp_path / "c", preset="custom", **dict(TINY, seed=8, n_sessions=1))
    eeg = "sub-01/ses-1/eeg/sub-01_ses-1_task-states_eeg.eeg"
    assert _digests(other)[eeg] != first[eeg]


def test_command_refuses_to_overwrite_without_force(tiny, tmp_path, capsys):
    assert _run_command([str(tiny), "--subjects", "1", "--duration", "60"]) == 2
    assert "already exists" in capsys.readouterr().err
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "data.txt").write_text("x")
    assert _run_command([str(foreign), "--force", "--subjects", "1", "--duration", "60"]) == 2
    assert "not a demo dataset" in capsys.readouterr().err
    assert (foreign / "data.txt").read_text() == "x"
    assert _run_command([str(tmp_path / "short"), "--duration", "30"]) == 2
    assert "--duration" in capsys.readouterr().err


def test_replacing_a_demo_keeps_its_derivatives_and_refuses_other_files(tmp_path):
    small = dict(TINY, n_sessions=1)
    root = generate_demo_dataset(tmp_path / "demo", preset="custom", **small)
    # results kept where BIDS suggests, as the README allows
    kept = root / "derivatives" / "eegfmri_viewer" / "run1"
    kept.mkdir(parents=True)
    (kept / "manifest.json").write_text("{}")
    generate_demo_dataset(root, preset="custom", force=True, **dict(small, seed=8))
    assert (kept / "manifest.json").read_text() == "{}"
    (root / "my_notes.txt").write_text("mine")
    with pytest.raises(InputError, match="holds files the demo generator did not write \\(my_notes.txt\\)"):
        generate_demo_dataset(root, preset="custom", force=True, **small)
    assert (root / "my_notes.txt").read_text() == "mine" and (kept / "manifest.json").is_file()


def _beta(root: Path, run: dict, centre, cls: str) -> float:
    """GLM percent signal change of ``cls`` blocks at a sphere around ``centre``."""
    import nibabel as nib
    import pandas as pd

    from eegfmri_viewer.demo.design import canonical_hrf

    img = nib.load(root / run["bold"])
    data = np.asarray(img.dataobj, np.float32)
    ijk = np.argwhere(np.ones(img.shape[:3], bool))
    xyz = ijk @ img.affine[:3, :3].T + img.affine[:3, 3]
    m = np.linalg.norm(xyz - np.asarray(centre), axis=1) <= 6.0
    y = data[ijk[m, 0], ijk[m, 1], ijk[m, 2]].mean(0)
    y = 100 * (y / y.mean() - 1)
    n = len(y)
    ev = pd.read_csv(root / run["bold"].replace("_bold.nii.gz", "_events.tsv"), sep="\t")
    dt = 0.05
    t = np.arange(0, n * 2.0, dt)
    box = np.zeros_like(t)
    for _, row in ev[ev["trial_type"] == cls].iterrows():
        box[(t >= row["onset"]) & (t < row["onset"] + row["duration"])] = 1
    reg = (np.convolve(box, canonical_hrf(dt))[: len(t)] * dt)[np.round((np.arange(n) * 2 + 1) / dt).astype(int)]
    X = np.column_stack([reg, np.polynomial.legendre.legvander(np.linspace(-1, 1, n), 1)])
    return float(np.linalg.lstsq(X, y, rcond=None)[0][0])


def _log_band_power(root: Path, run: dict, cls_a: str, cls_b: str, band, picks) -> float:
    """log(power during cls_a blocks / power during cls_b blocks) at ``picks``."""
    import mne
    import pandas as pd

    raw = mne.io.read_raw_brainvision(root / run["eeg"], preload=True, verbose="error").pick(picks)
    x = raw.filter(*band, l_trans_bandwidth=1.0, h_trans_bandwidth=1.0, verbose="error").get_data()
    ev = pd.read_csv(root / run["eeg"].replace("_eeg.vhdr", "_events.tsv"), sep="\t")
    sf = raw.info["sfreq"]

    def power(cls):
        segs = [x[:, int(s + 2 * sf): int(s + d * sf)] for s, d in
                zip(ev.loc[ev.trial_type == cls, "sample"], ev.loc[ev.trial_type == cls, "duration"])]
        return np.mean([np.mean(s**2) for s in segs])

    return float(np.log(power(cls_a) / power(cls_b)))


def test_session_two_carries_the_documented_change(tiny):
    truth = json.loads((tiny / "ground_truth.json").read_text())
    assert truth["session2_in_dataset"]
    change = next(c for c in truth["session2_change"] if c["cls"] == "motor")
    assert change["factor"] > 1
    runs = {r["session"]: r for r in truth["runs"]}
    changed = [_beta(tiny, runs[s], change["mni"], "motor") for s in ("1", "2")]
    assert changed[1] > 1.8 * changed[0] > 0, changed
    # A motor region that does not change keeps its amplitude.
    same = next(r for r in truth["planted_rois"]["motor"] if r["index"] not in
                {c["index"] for c in truth["session2_change"]} and not r["shared_with"])
    unchanged = [_beta(tiny, runs[s], same["mni"], "motor") for s in ("1", "2")]
    assert 0.6 < unchanged[1] / unchanged[0] < 1.6, unchanged
    # The EEG follows: deeper beta desynchronisation over the changed hand area.
    electrodes = truth["planted_eeg_changes"]["motor"]["beta"]["electrodes"][:1]
    erd = [_log_band_power(tiny, runs[s], "motor", "rest", truth["bands"]["beta"], electrodes) for s in ("1", "2")]
    assert erd[1] < erd[0] - 0.5, erd


def test_scanner_artifacts_are_removed_by_the_loader(tiny, tmp_path):
    """With ``artifacts=True`` the EEG is the same recording plus gradient and
    pulse artifacts (same seed); after the BIDS reader's correction it is close
    to the clean recording again."""
    import mne

    bids = pytest.importorskip("eegfmri_viewer.io.bids")
    dirty = generate_demo_dataset(tmp_path / "art", preset="custom", artifacts=True, **dict(TINY, n_sessions=1))
    truth = json.loads((tiny / "ground_truth.json").read_text())
    clean = mne.io.read_raw_brainvision(tiny / truth["runs"][0]["eeg"], preload=True, verbose="error")
    found = bids.discover(dirty)
    rec = bids.load_run(found.runs[0])
    assert any("gradient" in c for c in rec.corrections) and any("pulse" in c for c in rec.corrections)
    assert "ecg" in rec.eeg.get_channel_types()
    corrected = rec.eeg.copy().pick("eeg").get_data()
    raw_dirty = mne.io.read_raw_brainvision(found.runs[0].eeg_path, preload=True, verbose="error")
    before = raw_dirty.copy().pick(clean.ch_names).get_data()
    reference = clean.get_data()
    scan = rec.alignment.volume_onsets_eeg_s
    sl = slice(int(scan[0] * 500) + 1000, int(scan[-1] * 500))   # skip the first TRs (template warm-up)
    artifact = np.sqrt(np.mean((before[:, sl] - reference[:, sl]) ** 2))
    residual = np.sqrt(np.mean((corrected[:, sl] - reference[:, sl]) ** 2))
    signal = np.sqrt(np.mean(reference[:, sl] ** 2))
    assert artifact > 10 * signal
    # What remains is mostly EEG averaged into the templates (AAS averages 8 neighbouring TRs).
    assert residual < 0.05 * artifact and residual < 0.6 * signal, (artifact, residual, signal)
