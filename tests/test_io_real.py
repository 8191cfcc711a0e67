"""Real files: EEGLAB sample recording and the studyforrest localizer BOLD run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from io_testdata import tree_digest

from eegfmri_viewer.io.eeg import channels_by_type, read_eeg
from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.io.montage import apply_positions, channel_positions
from eegfmri_viewer.io.single import open_files

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
EEGLAB = REAL / "eeg_eeglab_sample" / "eeglab_data.set"
FORREST = REAL / "fmri_studyforrest_localizer" / "sub-01_task-oneback_run-1_bold.nii.gz"


@pytest.fixture(scope="module")
def eeglab():
    if not EEGLAB.exists():
        pytest.skip("real EEGLAB sample not available")
    return EEGLAB


@pytest.fixture(scope="module")
def forrest():
    if not FORREST.exists():
        pytest.skip("real studyforrest run not available")
    return FORREST


def test_eeglab_sample_header(eeglab):
    before = tree_digest(eeglab.parent)
    raw = read_eeg(eeglab)
    assert not raw.preload
    assert len(raw.ch_names) == 32 and raw.info["sfreq"] == 128.0
    assert raw.n_times / raw.info["sfreq"] == pytest.approx(238.3, abs=0.1)
    assert channels_by_type(raw) == {"eeg": 30, "eog": 2}
    assert [n for n, t in zip(raw.ch_names, raw.get_channel_types()) if t == "eog"] == ["EOG1", "EOG2"]
    assert apply_positions(raw, eeglab) == "EEG file"
    names, pos = channel_positions(raw)
    assert len(names) == 30 and np.isfinite(pos).all()
    desc, counts = np.unique([str(d) for d in raw.annotations.description], return_counts=True)
    assert dict(zip(desc, counts)) == {"rt": 74, "square": 80}
    assert tree_digest(eeglab.parent) == before


def test_studyforrest_bold_events_and_native_space(forrest):
    before = tree_digest(forrest.parent)
    rec = open_files(None, forrest)
    assert rec.bold.shape == (80, 80, 35, 156)
    assert rec.tr == 2.0
    assert rec.events.counts() == {t: 32 for t in ("body", "face", "house", "object", "scene", "scramble")}
    assert rec.space == "native"
    assert any("native (scanner) space" in w and "MNI atlas coordinates do not fit" in w for w in rec.warnings)
    assert tree_digest(forrest.parent) == before


def test_real_eeg_shorter_than_real_bold_is_refused(eeglab, forrest):
    # 238 s of EEG cannot cover 156 volumes x 2 s.
    with pytest.raises(InputError, match=r"eeglab_data\.set: EEG \(238\.3 s\) is shorter than the BOLD run: 156 volumes"):
        open_files(eeglab, forrest, check_data=False)
