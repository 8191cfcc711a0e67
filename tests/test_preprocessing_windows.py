"""Event-labelled windows: labels, blocks, HRF shift and EEG alignment."""

import numpy as np
import pytest

from eegfmri_viewer.io.errors import InputError
from eegfmri_viewer.io.recording import Alignment, Events, Recording
from eegfmri_viewer.preprocessing import Atlas, EEGBands, ROISeries, concatenate_windows, make_windows

TR = 2.0
N_VOL = 60
SFREQ = 250.0
EEG_OFFSET = 3.0  # EEG clock time of volume 0


def _recording(events, offset=EEG_OFFSET, subject="01"):
    align = Alignment(method="start", tr=TR, volume_onsets_eeg_s=offset + TR * np.arange(N_VOL),
                      offset_s=offset, n_markers=0, n_missing=0, n_extra=0, max_jitter_s=0.0,
                      marker=None, messages=[])
    return Recording(subject=subject, session=None, task="t", run=None, eeg=None, eeg_path=None,
                     bold=None, bold_path=None, tr=TR, events=events, alignment=align,
                     confounds=None, space="MNI")


def _events():
    # rest 0-20 s, task 20-32 s, rest 40-52 s, task 60-66 s (too short for a 8 s window)
    return Events(onset=np.array([0.0, 20.0, 40.0, 60.0]), duration=np.array([20.0, 12.0, 12.0, 6.0]),
                  trial_type=np.array(["rest", "task", "rest", "task"]), source="toy")


def _roi_series():
    # value = volume index, so a window's first fMRI sample tells which volume it starts at
    data = np.repeat(np.arange(N_VOL, dtype=np.float32)[:, None], 3, axis=1)
    atlas = Atlas(name="toy", coords=np.zeros((3, 3)), names=["a", "b", "c"], networks=["", "", ""],
                  radius_mm=5.0)
    return ROISeries(data=data, atlas=atlas, tr=TR)


def _eeg_bands():
    times = np.arange(int(140 * SFREQ)) / SFREQ
    sig = np.broadcast_to(times.astype(np.float32), (2, 4, len(times))).copy()  # value = EEG time
    return EEGBands(sfreq=SFREQ, times=times, ch_names=["C3", "C4", "O1", "O2"], ch_pos=np.zeros((4, 3)),
                    bands=(("alpha", 8, 13), ("beta", 13, 30)), band_signal=sig, band_power=sig ** 2,
                    info=None)


def test_labels_blocks_and_hrf_shift():
    w = make_windows(_recording(_events()), _eeg_bands(), _roi_series(), window_s=4.0, hrf_delay_s=5.0)
    assert w.class_names == ["rest", "task"]
    # rest 0-20: 5 windows; task 20-32: 3; rest 40-52: 3; task 60-66: 1
    assert w.onsets_s.tolist() == [0, 4, 8, 12, 16, 20, 24, 28, 40, 44, 48, 60]
    assert w.labels.tolist() == [0] * 5 + [1] * 3 + [0] * 3 + [1]
    assert w.blocks.tolist() == [0] * 5 + [1] * 3 + [2] * 3 + [3]
    assert w.fmri.shape == (12, 3, 2)  # 4 s window = 2 volumes
    # BOLD shifted by 5 s: first volume nearest to (t + 5) / TR, halves up
    assert w.fmri[:, 0, 0].tolist() == [np.floor((t + 5.0) / TR + 0.5) for t in w.onsets_s]
    assert np.all(np.diff(w.fmri[:, 0, :], axis=1) == 1)
    # EEG not shifted, but on the EEG clock: starts at t + 3 s
    assert w.eeg.shape == (12, 2, 4, int(4.0 * SFREQ))
    assert np.allclose(w.eeg[:, 0, 0, 0], w.onsets_s + EEG_OFFSET, atol=0.5 / SFREQ)
    assert w.subject.tolist() == ["01"] * 12
    assert w.counts() == {"rest": 8, "task": 4}


def test_window_must_be_covered_by_the_event():
    w = make_windows(_recording(_events()), None, _roi_series(), window_s=8.0, hrf_delay_s=0.0)
    # task 60-66 cannot hold an 8 s window; rest 0-20 holds 2 (0-8, 8-16)
    assert w.onsets_s.tolist() == [0, 8, 20, 40]
    assert w.labels.tolist() == [0, 0, 1, 0]
    assert w.eeg.shape == (4, 0, 0, 0)


def test_windows_outside_the_data_are_dropped_and_classes_fixed():
    ev = Events(onset=np.array([10.0, 114.0]), duration=np.array([10.0, 6.0]),
                trial_type=np.array(["b", "a"]), source="toy")
    # BOLD ends at 120 s: the block at 114 s shifted by 5 s does not fit
    w = make_windows(_recording(ev), None, _roi_series(), window_s=4.0, class_names=["a", "b", "c"])
    assert w.class_names == ["a", "b", "c"]
    assert set(w.labels.tolist()) == {1}
    with pytest.raises(InputError, match="no 4 s window"):
        make_windows(_recording(ev), None, _roi_series(), window_s=4.0, class_names=["a"])


def test_default_window_three_trs_and_concatenation():
    w1 = make_windows(_recording(_events(), subject="01"), None, _roi_series())
    w2 = make_windows(_recording(_events(), subject="02"), None, _roi_series())
    assert w1.fmri.shape[2] == 3
    both = concatenate_windows([w1, w2])
    assert len(both) == len(w1) + len(w2)
    assert len(set(both.blocks[: len(w1)]) & set(both.blocks[len(w1):])) == 0
    assert set(both.subject.tolist()) == {"01", "02"}


def test_no_events():
    rec = _recording(None)
    with pytest.raises(InputError, match="no events"):
        make_windows(rec, None, _roi_series())


def test_censored_volumes_leave_their_windows_out_and_are_counted():
    censor = np.zeros(N_VOL, dtype=bool)
    censor[5] = True  # inside the BOLD span of the rest window starting at 0 s (volumes 2..3 + ...)
    plain = make_windows(_recording(_events()), None, _roi_series(), window_s=4.0, hrf_delay_s=5.0)
    w = make_windows(_recording(_events()), None, _roi_series(), window_s=4.0, hrf_delay_s=5.0, censor=censor)
    starts = plain.fmri[:, 0, 0].astype(int)
    touched = [(s <= 5 < s + plain.fmri.shape[2]) for s in starts]
    assert w.n_censored == sum(touched) > 0 and len(w) == len(plain) - w.n_censored
    assert 5 not in {v for s in w.fmri[:, 0, 0].astype(int) for v in range(s, s + w.fmri.shape[2])}
    both = concatenate_windows([w, w])
    assert both.n_censored == 2 * w.n_censored
    with pytest.raises(InputError, match="all .* windows meet a censored"):
        make_windows(_recording(_events()), None, _roi_series(), window_s=4.0, censor=np.ones(N_VOL, bool))


def test_a_movement_during_a_windows_eeg_leaves_it_out_too():
    # FD of volume 11 compares the head positions of volumes 10 and 11, acquired over BOLD-clock (20, 24) s
    censor = np.zeros(N_VOL, dtype=bool)
    censor[11] = True
    kwargs = dict(window_s=4.0, hrf_delay_s=5.0, censor=censor)
    bold_only = make_windows(_recording(_events()), None, _roi_series(), **kwargs)
    both = make_windows(_recording(_events()), _eeg_bands(), _roi_series(), **kwargs)
    eeg_only = make_windows(_recording(_events()), _eeg_bands(), None, **kwargs)
    onsets = [0, 4, 8, 12, 16, 20, 24, 28, 40, 44, 48, 60]
    # the window at 16 s holds volumes 11-12 (16 + 5 s); the one at 20 s recorded its EEG over 20-24 s
    assert sorted(set(onsets) - set(bold_only.onsets_s.tolist())) == [16]
    assert sorted(set(onsets) - set(eeg_only.onsets_s.tolist())) == [20]
    assert sorted(set(onsets) - set(both.onsets_s.tolist())) == [16, 20] and both.n_censored == 2
    # FD of volume 10 spans (18, 22) s: the EEG of the windows at 16 s and at 20 s
    censor[:] = False
    censor[10] = True
    eeg_only = make_windows(_recording(_events()), _eeg_bands(), None, **kwargs)
    assert sorted(set(onsets) - set(eeg_only.onsets_s.tolist())) == [16, 20]
    # a censor that does not fit the run, or a run without a TR, is a caller's mistake, not data to trim
    with pytest.raises(ValueError, match="censor has 10 entries for 60 volumes"):
        make_windows(_recording(_events()), None, _roi_series(), window_s=4.0, censor=censor[:10])
    no_tr = _recording(_events())
    no_tr.tr = None
    with pytest.raises(ValueError, match="censor needs the TR"):
        make_windows(no_tr, _eeg_bands(), None, window_s=4.0, censor=censor)


def test_events_shorter_than_the_window_are_named_as_such():
    short = Events(onset=np.array([2.0, 10.0, 18.0]), duration=np.array([1.0, 1.5, 1.0]),
                   trial_type=np.array(["a", "b", "a"]), source="toy")
    with pytest.raises(InputError, match=r"no 6 s window fits inside an event: the longest lasts 1.5 s.*window_s"):
        make_windows(_recording(short), None, _roi_series(), window_s=6.0)


def test_event_locked_windows_for_event_related_designs():
    # a 0.5-s event each: a, a (3 s apart: one block), b and a 4 s apart (mixed: left out), b alone
    ev = Events(onset=np.array([0.0, 3.0, 20.0, 24.0, 40.0]), duration=np.full(5, 0.5),
                trial_type=np.array(["a", "a", "b", "a", "b"]), source="toy")
    w = make_windows(_recording(ev), None, _roi_series(), window_s=6.0, hrf_delay_s=5.0, mode="events")
    np.testing.assert_allclose(w.onsets_s, [0.0, 3.0, 40.0])
    assert [w.class_names[k] for k in w.labels] == ["a", "a", "b"]
    assert w.blocks[0] == w.blocks[1] != w.blocks[2]   # the split keeps overlapping windows together
    assert w.n_overlapping == 2
    # BOLD starts hrf_delay_s after the onset: volume round((3 + 5) / 2) = 4 for the second event
    assert w.fmri[1, 0, 0] == 4 and w.fmri.shape[2] == 3
    # the block rule finds no window in 0.5-s events
    with pytest.raises(InputError, match="the longest lasts 0.5 s"):
        make_windows(_recording(ev), None, _roi_series(), window_s=6.0)
    mixed = Events(onset=np.array([0.0, 2.0]), duration=np.zeros(2), trial_type=np.array(["a", "b"]), source="toy")
    with pytest.raises(InputError, match="all 2 events lie closer than 6 s to an event of another condition"):
        make_windows(_recording(mixed), None, _roi_series(), window_s=6.0, mode="events")


def test_neighbouring_windows_never_share_a_volume():
    # TR 2 s, delay 5 s = 2.5 TR: rounding halves to even made 6-s windows start 2 or 4 volumes apart
    ev = Events(onset=np.array([0.0, 24.0]), duration=np.array([24.0, 24.0]), trial_type=np.array(["a", "b"]),
                source="toy")
    w = make_windows(_recording(ev), None, _roi_series(), window_s=6.0, hrf_delay_s=5.0)
    starts = w.fmri[:, 0, 0].astype(int)
    assert np.all(np.diff(starts) == 3)  # every window 3 volumes after the one before, across the blocks too
    # a window that the TR does not divide holds the whole volumes inside it: none shared either
    tr22 = ROISeries(data=_roi_series().data, atlas=_roi_series().atlas, tr=2.2)
    w = make_windows(_recording(ev), None, tr22, window_s=6.0, hrf_delay_s=5.0)
    spans = [set(range(int(v), int(v) + w.fmri.shape[2])) for v in w.fmri[:, 0, 0]]
    assert w.fmri.shape[2] == 2 and all(not (a & b) for a, b in zip(spans, spans[1:]))
