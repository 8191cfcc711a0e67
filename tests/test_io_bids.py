"""BIDS discovery, inheritance, fMRIPrep derivatives, loading, and read-only inputs."""

from __future__ import annotations

import numpy as np
import pytest

from io_testdata import make_bids_run, tree_digest, write_bold, write_json, write_tsv

from eegfmri_viewer.io.bids import discover, inherited, load_run
from eegfmri_viewer.io.montage import channel_positions
from eegfmri_viewer.io.single import open_files


def test_discover_lists_runs_with_both_modalities_and_skips_the_rest(tmp_path):
    make_bids_run(tmp_path, sub="01", ses="1", run="1")
    make_bids_run(tmp_path, sub="01", ses="2", run="1")
    make_bids_run(tmp_path, sub="02", run="1", bold=False)
    make_bids_run(tmp_path, sub="03", run="1", eeg=False)
    (tmp_path / "sub-04" / "eeg").mkdir(parents=True)
    (tmp_path / "sub-04" / "eeg" / "sub-04_task-rest_eeg.mef").write_text("x")
    disc = discover(tmp_path)
    assert [r.label for r in disc.runs] == ["sub-01 ses-1 task-rest run-1", "sub-01 ses-2 task-rest run-1"]
    reasons = {s.label: s.reason for s in disc.skipped}
    assert reasons["sub-02 task-rest run-1"].startswith("EEG without a BOLD run")
    assert reasons["sub-03 task-rest run-1"].startswith("BOLD without an EEG recording")
    assert "unsupported EEG format .mef" in reasons["sub-04 task-rest"]
    only = discover(tmp_path, include_bold_only=True)
    assert any(r.subject == "03" and r.eeg_path is None for r in only.runs)


def test_sidecar_inheritance(tmp_path):
    make_bids_run(tmp_path, sub="01", run="1", bold_json=False)
    make_bids_run(tmp_path, sub="01", run="2", bold_json=False)
    write_json(tmp_path / "task-rest_bold.json", {"RepetitionTime": 2.0, "EchoTime": 0.03})
    bold2 = tmp_path / "sub-01" / "func" / "sub-01_task-rest_run-2_bold.nii.gz"
    write_json(tmp_path / "sub-01" / "func" / "sub-01_task-rest_run-2_bold.json", {"EchoTime": 0.025})
    chain = inherited(tmp_path, bold2, "_bold.json")
    assert [p.name for p in chain] == ["task-rest_bold.json", "sub-01_task-rest_run-2_bold.json"]
    disc = discover(tmp_path)
    rec = load_run(disc.runs[1], correct_artifacts=False)
    assert rec.tr == 2.0
    assert [p.name for p in disc.runs[0].bold_json] == ["task-rest_bold.json"]


def test_load_run_aligns_reads_events_and_positions(tmp_path):
    make_bids_run(tmp_path, sub="01", run="1", n_vol=12, tr=2.0, lead_s=3.0, ecg=True, electrodes=True,
                  gradient_artifact=True)
    before = tree_digest(tmp_path)
    disc = discover(tmp_path)
    rec = load_run(disc.runs[0])
    assert rec.eeg is not None and rec.bold.shape[3] == 12 and rec.tr == 2.0
    assert rec.space == "MNI"
    assert rec.alignment.method == "markers" and rec.alignment.n_markers == 12
    assert rec.alignment.offset_s == pytest.approx(3.0)
    assert rec.events.counts() == {"closed": 1, "open": 2}
    assert rec.events.source.endswith("func/sub-01_task-rest_run-1_events.tsv")
    assert rec.eeg.get_channel_types()[-1] == "ecg"
    names, pos = channel_positions(rec.eeg)
    assert len(names) == 8 and np.isfinite(pos).all()
    assert any(c.startswith("gradient artifact removed") for c in rec.corrections)
    assert rec.eeg.get_data(picks="eeg").std() < 20e-6  # the 500 uV gradient wave is gone
    # Loading never writes to the inputs (content and modification time).
    assert tree_digest(tmp_path) == before


def test_eeg_events_are_moved_to_the_bold_clock_without_func_events(tmp_path):
    make_bids_run(tmp_path, sub="01", run="1", lead_s=3.0, func_events=False)
    rec = load_run(discover(tmp_path).runs[0], correct_artifacts=False)
    # Stimulus S 1 at EEG 7 s and S 2 at EEG 13 s; volume 0 at EEG 3 s.
    np.testing.assert_allclose(rec.events.onset, [4.0, 10.0], atol=1e-3)
    assert list(rec.events.trial_type) == ["Stimulus/S  1", "Stimulus/S  2"]


def test_fmriprep_mni_derivative_and_confounds_are_preferred(tmp_path):
    make_bids_run(tmp_path, sub="01", run="1", n_vol=10)
    d = tmp_path / "derivatives" / "fmriprep" / "sub-01" / "func"
    base = "sub-01_task-rest_run-1"
    write_bold(d / f"{base}_space-T1w_desc-preproc_bold.nii.gz", 10, mni=False)
    write_bold(d / f"{base}_space-MNI152NLin6Asym_desc-preproc_bold.nii.gz", 10)
    write_bold(d / f"{base}_space-MNI152NLin2009cAsym_res-2_desc-preproc_bold.nii.gz", 10)
    write_tsv(d / f"{base}_desc-confounds_timeseries.tsv", ["global_signal", "framewise_displacement"],
              [(1.0 + i, "n/a" if i == 0 else 0.1) for i in range(10)])
    entry = discover(tmp_path).runs[0]
    assert entry.bold_path.name == f"{base}_space-MNI152NLin2009cAsym_res-2_desc-preproc_bold.nii.gz"
    rec = load_run(entry, correct_artifacts=False)
    assert rec.space == "MNI152NLin2009cAsym"
    assert list(rec.confounds.columns) == ["global_signal", "framewise_displacement"]
    assert np.isnan(rec.confounds["framewise_displacement"][0])
    assert rec.tr == 2.0


def test_single_files_open_and_input_untouched(tmp_path):
    make_bids_run(tmp_path, sub="07", run="2", n_vol=8, gradient_artifact=True)
    before = tree_digest(tmp_path)
    eeg = tmp_path / "sub-07" / "eeg" / "sub-07_task-rest_run-2_eeg.vhdr"
    bold = tmp_path / "sub-07" / "func" / "sub-07_task-rest_run-2_bold.nii.gz"
    rec = open_files(eeg, bold, tr=2.0)
    assert (rec.subject, rec.task, rec.run) == ("07", "rest", "2")
    assert rec.alignment.n_markers == 8 and rec.events.counts() == {"closed": 1, "open": 2}
    assert rec.corrections[0].startswith("gradient artifact removed") and rec.eeg.preload
    lazy = open_files(eeg, bold, correct_artifacts=False)
    assert not lazy.eeg.preload and lazy.corrections == []
    assert tree_digest(tmp_path) == before


def test_load_run_reports_progress_and_can_be_cancelled(tmp_path):
    from eegfmri_viewer.progress import Cancelled

    make_bids_run(tmp_path, sub="01", run="1")
    entry = discover(tmp_path).runs[0]
    seen = []
    load_run(entry, progress=lambda f, m: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(Cancelled):
        load_run(entry, cancel=lambda: True)


def test_clean_eeg_is_not_gradient_corrected_and_stays_lazy(tmp_path):
    make_bids_run(tmp_path, sub="01", run="1", n_vol=10)
    rec = load_run(discover(tmp_path).runs[0])
    assert rec.corrections == [] and not rec.eeg.preload
    assert any("gradient artifact correction skipped: no gradient artifact found" in w for w in rec.warnings)


def test_events_from_eeg_annotations_when_no_events_tsv(tmp_path):
    from io_testdata import write_brainvision

    vols = 2.0 + 2.0 * np.arange(10)
    eeg = write_brainvision(tmp_path, "rec", None, 200.0, 24.0, vols, stim=[(6.0, 3), (12.5, 4), (14.0, 3)])
    bold = write_bold(tmp_path / "rec_bold.nii.gz", 10, 2.0)
    rec = open_files(eeg, bold)
    assert rec.events.source == "EEG annotations"
    np.testing.assert_allclose(rec.events.onset, [4.0, 10.5, 12.0], atol=1e-6)
    assert rec.events.counts() == {"Stimulus/S  3": 2, "Stimulus/S  4": 1}
