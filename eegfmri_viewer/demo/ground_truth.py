"""``ground_truth.json``: what the demo plants, in terms a result can be checked against.

The electrodes expected to be salient are not hand-picked: they follow from the
forward model. For each class and band the expected band power at every
electrode is computed from the planted rhythms (their gains, baselines and
envelopes), the 1/f background and the sensor noise; the electrodes where the
class differs most from the mean of the other classes are listed.
"""

from __future__ import annotations

import numpy as np

from . import spec
from .sources import HeadModel

FORMAT = "eegfmri_viewer-demo-ground-truth"
FORMAT_VERSION = 1
# An electrode counts as carrying an effect when the class changes its expected
# band power by at least this fraction relative to the other classes.
MIN_RELATIVE_CHANGE = 0.2
N_SALIENT = 5


def band_fraction_pink(lo: float, hi: float, sfreq: float, exponent: float, f_min: float = 0.5) -> float:
    """Fraction of a unit-RMS 1/f**exponent series' power that lies in ``[lo, hi]`` Hz."""
    f = np.linspace(f_min, sfreq / 2, 200000)
    p = f ** (-exponent)
    return float(p[(f >= lo) & (f < hi)].sum() / p.sum())


def expected_band_power_at(osc_head: HeadModel, mixing: np.ndarray, sfreq: float, activity: np.ndarray) -> np.ndarray:
    """Expected power of each band at each electrode for one activity state (µV²).

    Parameters
    ----------
    osc_head : HeadModel
    mixing : ndarray, shape (n_channels, n_channels)
        Background mixing (:func:`eeg_sim.background_mixing`).
    sfreq : float
    activity : ndarray, shape (n_planted,)
        Class-locked neural activity of each planted region (``PLANTED_ROIS`` order).

    Returns
    -------
    power : ndarray, shape (n_bands, n_channels)
    """
    from . import eeg_sim

    rois = [r.index for r in spec.PLANTED_ROIS]
    n_ch = osc_head.gain.shape[0]
    bg = (mixing**2).sum(axis=1)
    power = np.zeros((len(spec.BANDS), n_ch))
    for b, (name, lo, hi) in enumerate(spec.BANDS):
        power[b] = bg * band_fraction_pink(lo, hi, sfreq, eeg_sim.BACKGROUND_EXPONENT)
        power[b] += eeg_sim.SENSOR_NOISE_UV**2 * (hi - lo) / (sfreq / 2) * (1 - 1 / n_ch)
        for osc in spec.OSCILLATORS:
            if osc.band != name:
                continue
            # E[exp(2 g f)] of the Gaussian spontaneous fluctuation f.
            spont = np.exp(2 * osc.log_gain**2 * spec.SPONTANEOUS_SD**2)
            n = activity[rois.index(osc.roi)]
            power[b] += osc_head.column(osc.roi) ** 2 * osc.baseline_uv**2 * np.exp(2 * osc.log_gain * n) * spont
    return power


def expected_band_power(osc_head: HeadModel, mixing: np.ndarray, sfreq: float, session: int = 1) -> np.ndarray:
    """Expected band power during each class (session-1 activations, µV²).

    Returns
    -------
    power : ndarray, shape (n_classes, n_bands, n_channels)
    """
    _, amp = spec.activation_matrix(session)
    return np.stack([expected_band_power_at(osc_head, mixing, sfreq, amp[c]) for c in range(len(spec.CLASSES))])


def _band_entry(rel: np.ndarray, names: list) -> dict | None:
    """Describe one band's relative-change map (n_channels,), or None if below threshold."""
    order = np.argsort(-np.abs(rel), kind="stable")
    if abs(rel[order[0]]) < MIN_RELATIVE_CHANGE:
        return None
    top = [int(i) for i in order[:N_SALIENT] if abs(rel[i]) >= MIN_RELATIVE_CHANGE]
    up = [int(i) for i in np.argsort(-rel, kind="stable")[:N_SALIENT] if rel[i] >= MIN_RELATIVE_CHANGE]
    down = [int(i) for i in np.argsort(rel, kind="stable")[:N_SALIENT] if rel[i] <= -MIN_RELATIVE_CHANGE]
    return {
        "direction": "increase" if rel[order[0]] > 0 else "decrease",
        "max_relative_change": round(float(rel[order[0]]), 4),
        "electrodes": [names[i] for i in top],
        "relative_change": [round(float(rel[i]), 4) for i in top],
        "increase": [names[i] for i in up],
        "decrease": [names[i] for i in down],
    }


def eeg_effects(osc_head: HeadModel, mixing: np.ndarray, sfreq: float) -> tuple:
    """Expected EEG band-power effects of each class.

    Returns
    -------
    discriminative : dict
        ``{class: {band: entry}}``, the class against the mean of the other
        classes: what tells the class apart (what a classifier's saliency
        should find). ``entry`` has ``direction`` and ``max_relative_change``
        of the strongest electrode, ``electrodes`` (most affected first) with
        their ``relative_change``, and the ``increase`` / ``decrease`` lists.
    planted : dict
        ``{class: {band: entry}}``, the class against the resting level of the
        rhythms (no class-locked activity; this is the state during 'rest',
        whose planted regions carry no rhythm): the physiological change.
    """
    power = expected_band_power(osc_head, mixing, sfreq)
    rois, amp = spec.activation_matrix(1)
    names = list(osc_head.info["ch_names"])
    baseline = expected_band_power_at(osc_head, mixing, sfreq, np.zeros(len(rois)))
    disc: dict = {}
    planted: dict = {}
    for c, cls in enumerate(spec.CLASSES):
        others = np.delete(power, c, axis=0).mean(axis=0)
        disc[cls], planted[cls] = {}, {}
        for b, (band, _, _) in enumerate(spec.BANDS):
            e = _band_entry((power[c, b] - others[b]) / others[b], names)
            if e is not None:
                disc[cls][band] = e
            e = _band_entry((power[c, b] - baseline[b]) / baseline[b], names)
            if e is not None:
                e["rois"] = sorted({o.roi for o in spec.OSCILLATORS if o.band == band
                                    and amp[c, rois.index(o.roi)] != 0})
                planted[cls][band] = e
    return disc, planted


def control_electrodes(osc_head: HeadModel, mixing: np.ndarray, sfreq: float, n: int = 3) -> dict:
    """Per band, the ``n`` electrodes whose expected power changes least across classes.

    Returns
    -------
    controls : dict
        ``{band: {"electrodes": [...], "max_relative_change": x}}``, ``x`` the
        largest expected relative change between any two classes among them.
    """
    power = expected_band_power(osc_head, mixing, sfreq)            # (n_classes, n_bands, n_channels)
    spread = (power.max(axis=0) - power.min(axis=0)) / power.min(axis=0)
    names = list(osc_head.info["ch_names"])
    out = {}
    for b, (band, _, _) in enumerate(spec.BANDS):
        order = np.argsort(spread[b], kind="stable")[:n]
        out[band] = {"electrodes": [names[i] for i in order],
                     "max_relative_change": round(float(spread[b, order].max()), 4)}
    return out


def roi_entry(index: int, coords: np.ndarray, names: list, **extra) -> dict:
    """Atlas description of one ROI."""
    return {"index": int(index), "name": names[index], "mni": [float(v) for v in coords[index]], **extra}


def build(config: dict, coords: np.ndarray, names: list, osc_head: HeadModel, mixing: np.ndarray,
          runs: list) -> dict:
    """The ground-truth document.

    Parameters
    ----------
    config : dict
        Generator settings (seed, subjects, sessions, duration, preset, artifacts, version).
    coords : ndarray, shape (n_atlas_rois, 3)
    names : list of str
    osc_head : HeadModel
    mixing : ndarray, shape (n_channels, n_channels)
    runs : list of dict
        Per-run facts (files, EEG offset, motion-spike volumes, ...).

    Returns
    -------
    doc : dict
    """
    planted = {cls: [] for cls in spec.CLASSES}
    for r in spec.PLANTED_ROIS:
        for cls in r.classes:
            planted[cls].append(roi_entry(r.index, coords, names, label=r.label, bold_percent_signal_change=r.bold_pct,
                                          shared_with=[c for c in r.classes if c != cls]))
    shared = [roi_entry(r.index, coords, names, label=r.label, classes=list(r.classes))
              for r in spec.PLANTED_ROIS if len(r.classes) > 1]
    by_index = spec.planted_by_index()
    effects, planted_eeg = eeg_effects(osc_head, mixing, config["sfreq"])
    coupling = []
    ch_names = list(osc_head.info["ch_names"])
    for osc in spec.OSCILLATORS:
        # Where this region's dipole is seen best (largest forward gain).
        nearest = np.argsort(-np.abs(osc_head.column(osc.roi)), kind="stable")[:3]
        coupling.append(roi_entry(osc.roi, coords, names, label=by_index[osc.roi].label, band=osc.band,
                                  rhythm_hz=list(osc.freq_hz),
                                  sign="negative" if osc.log_gain < 0 else "positive",
                                  log_amplitude_gain=osc.log_gain,
                                  electrodes=[ch_names[i] for i in nearest]))
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generator": config,
        "task": spec.TASK,
        "tr": spec.TR,
        "sfreq": config["sfreq"],
        "block_s": spec.BLOCK_S,
        "classes": list(spec.CLASSES),
        "class_codes": dict(spec.CLASS_CODES),
        "volume_marker": f"Response/{spec.VOLUME_MARKER}",
        "atlas": spec.ATLAS,
        "atlas_note": "index = 0-based row of nilearn.datasets.fetch_coords_power_2011(); name = 'ROI <number>'",
        "bands": {name: [lo, hi] for name, lo, hi in spec.BANDS},
        "planted_rois": planted,
        "shared_rois": shared,
        "control_rois": [roi_entry(i, coords, names) for i in spec.CONTROL_ROIS],
        "eeg_effects": effects,
        "planted_eeg_changes": planted_eeg,
        "control_electrodes": control_electrodes(osc_head, mixing, config["sfreq"]),
        "effect_bands": {cls: sorted(effects[cls], key=lambda b: [n for n, _, _ in spec.BANDS].index(b))
                         for cls in spec.CLASSES},
        "salient_electrodes": {cls: {band: e["electrodes"] for band, e in effects[cls].items()}
                               for cls in spec.CLASSES},
        "coupled_pairs": coupling,
        "session2_change": [
            roi_entry(ch.roi, coords, names, label=by_index[ch.roi].label, cls=ch.cls, factor=ch.factor,
                      description=ch.description)
            for ch in spec.SESSION2_CHANGES
        ],
        "session2_in_dataset": config["n_sessions"] > 1,
        "hrf": {"model": "SPM canonical double gamma", "peak_s": 5.0, "undershoot_s": 15.0},
        "neural_activity": {"spontaneous_sd": spec.SPONTANEOUS_SD, "spontaneous_tau_s": spec.SPONTANEOUS_TAU_S},
        "runs": runs,
    }
