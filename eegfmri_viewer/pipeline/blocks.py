"""Events to blocks: merge runs of short same-class events into one block.

Many block-design datasets list every stimulus as its own event (e.g. 16
one-second pictures of faces in a 16 s face block). A window belongs to a
class only when one event covers it (see ``preprocessing.windows``), so such
events would yield no window at all. Consecutive events of the same trial type
separated by at most ``max_gap_s`` are therefore merged into one event that
spans them; the block then drives the split, so its windows stay together.
"""

from __future__ import annotations

import numpy as np

from eegfmri_viewer.io.recording import Events


def merge_event_blocks(events: Events, max_gap_s: float) -> Events:
    """Merge consecutive same-type events whose gap is at most ``max_gap_s``.

    Parameters
    ----------
    events : Events
        Not modified.
    max_gap_s : float
        Largest gap in seconds between the end of one event and the onset of
        the next one of the same type for them to join; a negative value
        disables merging.

    Returns
    -------
    merged : Events
        Sorted by onset; ``source`` unchanged.
    """
    onset = np.asarray(events.onset, dtype=float)
    duration = np.asarray(events.duration, dtype=float)
    types = np.asarray(events.trial_type, dtype=str)
    order = np.argsort(onset, kind="stable")
    onset, duration, types = onset[order], duration[order], types[order]
    out_on, out_end, out_type = [], [], []
    for o, d, t in zip(onset, duration, types):
        if (max_gap_s >= 0 and out_type and out_type[-1] == t and o - out_end[-1] <= max_gap_s):
            out_end[-1] = max(out_end[-1], o + d)
        else:
            out_on.append(o)
            out_end.append(o + d)
            out_type.append(t)
    out_on = np.array(out_on, dtype=float)
    return Events(onset=out_on, duration=np.array(out_end, dtype=float) - out_on,
                  trial_type=np.array(out_type, dtype=str), source=events.source)
