"""Volume-marker alignment: real ds002336 markers, missing / extra / jittered markers, start fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from io_testdata import NAMES, write_brainvision

from eegfmri_viewer.io.alignment import align_markers, align_recording, align_start, find_volume_markers, marker_matches
from eegfmri_viewer.io.eeg import read_eeg
from eegfmri_viewer.io.events import read_events_table, table_to_events, eeg_clock_to_bold

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
DS002336 = REAL / "eegfmri_markers" / "ds002336_xp101_from_FACETpy" / "sub-xp101_task-eegfmriNF_events.tsv"


@pytest.fixture(scope="module")
def ds002336():
    if not DS002336.exists():
        pytest.skip("real ds002336 markers not available")
    return read_events_table(DS002336)


def test_real_ds002336_r128_markers_align_at_tr_2s(ds002336):
    name, times = find_volume_markers(ds002336["trial_type"], ds002336["onset"])
    assert name == "R128" and len(times) == 210
    al = align_markers(times, 2.0, 210, name)
    assert (al.n_markers, al.n_missing, al.n_extra) == (210, 0, 0)
    assert al.max_jitter_s < 1e-3
    assert al.offset_s == pytest.approx(29.9608)
    assert al.volume_onsets_eeg_s[-1] == pytest.approx(447.9608)
    # EEG-clock time <-> volume index, both ways.
    assert al.eeg_time_to_volume(29.9608 + 2.0 * 100 + 1.0) == pytest.approx(100.5)
    idx = np.array([-2.0, 0.0, 37.25, 209.0, 215.0])
    np.testing.assert_allclose(al.eeg_time_to_volume(al.volume_to_eeg_time(idx)), idx, atol=1e-9)


def test_real_ds002336_block_events_move_to_bold_clock(ds002336):
    name, times = find_volume_markers(ds002336["trial_type"], ds002336["onset"])
    al = align_markers(times, 2.0, 210, name)
    ev = table_to_events(ds002336, str(DS002336), (name,))
    # Slice triggers, 'New Segment' and R128 rows are not conditions.
    assert ev.counts() == {"Stimulus/S  2": 10, "Stimulus/S 99": 10}
    bold = eeg_clock_to_bold(ev, al)
    np.testing.assert_allclose(bold.onset, ev.onset - 29.9608, atol=1e-6)


def test_real_ds002336_with_fewer_volumes_reports_extra_markers(ds002336):
    name, times = find_volume_markers(ds002336["trial_type"], ds002336["onset"])
    al = align_markers(times, 2.0, 200, name)
    assert (al.n_missing, al.n_extra) == (0, 10)
    assert any("10 marker(s) match no volume" in m for m in al.messages)


def test_missing_extra_and_jittered_markers_are_counted():
    rng = np.random.default_rng(3)
    tr, n = 1.5, 60
    true = 5.0 + tr * np.arange(n)
    times = true + rng.uniform(-0.004, 0.004, n)
    times = np.delete(times, [7, 30, 31])                     # 3 missing
    times = np.concatenate([times, [true[12] + 0.6, true[40] + 0.002]])  # off-grid + duplicate
    al = align_markers(times, tr, n, "R128")
    assert (al.n_missing, al.n_extra) == (3, 2)
    assert 0.002 < al.max_jitter_s <= 0.0045
    np.testing.assert_allclose(al.volume_onsets_eeg_s, true, atol=0.005)
    assert any("3 volume(s) have no marker" in m for m in al.messages)


def test_marker_names():
    assert marker_matches("Response/R128", "R128")
    assert marker_matches("Scan Start", "scan start")
    assert not marker_matches("Stimulus/S128", "R128")
    assert find_volume_markers(["Volume", "x", "Volume"], [1.0, 2.0, 3.0]) == ("Volume", pytest.approx([1.0, 3.0]))


def test_markers_in_brainvision_file_and_user_marker(tmp_path):
    vols = 3.0 + 2.0 * np.arange(8)
    path = write_brainvision(tmp_path, "rec", NAMES[:3], 200.0, 22.0, vols, marker_type="Stimulus", marker_code=7)
    raw = read_eeg(path)
    start = align_recording(raw, 2.0, 8)
    assert start.method == "start" and "no scanner volume markers" in start.messages[0]
    al = align_recording(raw, 2.0, 8, marker="S  7")
    assert al.method == "markers" and al.n_missing == 0 and al.offset_s == pytest.approx(3.0)


def test_start_alignment_has_offset_and_warning():
    al = align_start(2.0, 5, offset_s=1.5)
    np.testing.assert_allclose(al.volume_onsets_eeg_s, [1.5, 3.5, 5.5, 7.5, 9.5])
    assert al.eeg_time_to_volume(4.5) == pytest.approx(1.5)
    assert "assumed to start together" in al.messages[0]
