"""How well a bad EEG channel is rebuilt by spherical-spline interpolation, on real EEG.

Leave-one-out on EEGLAB's sample recording (real scalp EEG, 32 channels, 128 Hz,
positions from the file; ``../shared/data/real/eeg_eeglab_sample``): each EEG
channel in turn is marked bad and rebuilt from the others by
:func:`eegfmri_viewer.preprocessing.preprocess_eeg` (``bad_channels="interpolate"``,
the analysis default), and its band signal and band power are compared with the
channel as recorded (Pearson r over the recording, both average-referenced). A
channel far from its neighbours (the montage's edge) is rebuilt worse than one
in the middle; the per-channel numbers say where.

Prints JSON: per band, the median, 10th percentile and minimum r over channels,
the worst channels, and the seconds per preprocessing run.

Usage: ``python benchmarks/bench_bad_channels.py [--eeg PATH] [--bands alpha beta]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_EEG = REPO.parent / "shared" / "data" / "real" / "eeg_eeglab_sample" / "eeglab_data.set"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eeg", type=Path, default=DEFAULT_EEG, help="an EEG file with electrode positions")
    parser.add_argument("--bands", nargs="+", default=["theta", "alpha", "beta"])
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from eegfmri_viewer.io.eeg import read_eeg
    from eegfmri_viewer.io.montage import apply_positions
    from eegfmri_viewer.preprocessing import DEFAULT_BANDS, preprocess_eeg
    from eegfmri_viewer.preprocessing.eeg import channel_positions

    raw = read_eeg(args.eeg)
    apply_positions(raw, args.eeg)
    raw.load_data(verbose="error")
    bands = [b for b in DEFAULT_BANDS if b[0] in args.bands]
    # 128 Hz: decimation keeps the rate; bands above 0.8 x Nyquist are not asked for
    t0 = time.perf_counter()
    recorded = preprocess_eeg(raw, bands=bands, sfreq=float(raw.info["sfreq"]))
    positioned = np.all(np.isfinite(channel_positions(recorded.info)), axis=1)
    names = [c for c, ok in zip(recorded.ch_names, positioned) if ok]
    edge = int(2 * recorded.sfreq)  # filter edges
    r_signal = {b[0]: {} for b in bands}
    r_power = {b[0]: {} for b in bands}
    runs = 0
    for name in names:
        rebuilt = preprocess_eeg(raw, bands=bands, sfreq=float(raw.info["sfreq"]), extra_bads=[name])
        assert rebuilt.interpolated == [name]
        i = rebuilt.ch_names.index(name)
        j = recorded.ch_names.index(name)
        for bi, (band, _, _) in enumerate(bands):
            a = rebuilt.band_signal[bi, i, edge:-edge]
            b = recorded.band_signal[bi, j, edge:-edge]
            r_signal[band][name] = float(np.corrcoef(a, b)[0, 1])
            a = rebuilt.band_power[bi, i, edge:-edge]
            b = recorded.band_power[bi, j, edge:-edge]
            r_power[band][name] = float(np.corrcoef(a, b)[0, 1])
        runs += 1
    seconds = (time.perf_counter() - t0) / (runs + 1)

    def summary(per_channel: dict) -> dict:
        values = np.array(list(per_channel.values()))
        worst = sorted(per_channel, key=per_channel.get)[:3]
        return {"median": round(float(np.median(values)), 3),
                "p10": round(float(np.percentile(values, 10)), 3),
                "min": round(float(values.min()), 3),
                "worst": {c: round(per_channel[c], 3) for c in worst}}

    out = {
        "recording": str(args.eeg),
        "n_channels": len(recorded.ch_names),
        "n_rebuilt": runs,
        "sfreq": recorded.sfreq,
        "band_signal_r": {band: summary(v) for band, v in r_signal.items()},
        "band_power_r": {band: summary(v) for band, v in r_power.items()},
        "seconds_per_run": round(seconds, 3),
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
