"""Tiny EEG / BOLD / BIDS files for the io tests, written with pybv, nibabel and
MNE (FIF), plus a minimal EDF / BDF writer (no EDF writer is installed)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

NAMES = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "Fz", "Cz", "Pz", "T7", "T8", "Oz"]

# 16 mm voxels from (-80, -115, -72): the box covers the MNI152 brain.
MNI_AFFINE = np.array([[16.0, 0, 0, -80], [0, 16.0, 0, -115], [0, 0, 16.0, -72], [0, 0, 0, 1]])


def eeg_signal(n_ch: int, n_times: int, seed: int = 0) -> np.ndarray:
    """White noise, 10 uV, shape (n_ch, n_times), volts."""
    return np.random.default_rng(seed).normal(0, 10e-6, (n_ch, n_times))


def write_brainvision(folder, base, ch_names=None, sfreq=250.0, dur_s=30.0, volume_s=None, stim=(), data=None,
                      marker_type="Response", marker_code=128):
    """Write ``base.vhdr/.vmrk/.eeg``; volume markers R128 at ``volume_s`` (seconds), stim = [(s, code)]."""
    import pybv

    ch_names = list(ch_names or NAMES[:8])
    n = int(round(dur_s * sfreq))
    if data is None:
        data = eeg_signal(len(ch_names), n)
    events = []
    for t in volume_s if volume_s is not None else []:
        events.append({"onset": int(round(t * sfreq)), "duration": 1, "description": marker_code, "type": marker_type})
    for t, code in stim:
        events.append({"onset": int(round(t * sfreq)), "duration": 1, "description": code, "type": "Stimulus"})
    pybv.write_brainvision(data=data, sfreq=sfreq, ch_names=ch_names, fname_base=base, folder_out=str(folder),
                           events=events or None, overwrite=True)
    return Path(folder) / f"{base}.vhdr"


def write_bold(path, n_vol=10, tr=2.0, mni=True, header_tr=None, shape=(11, 13, 11), data=None, ndim=4):
    """Write a small BOLD NIfTI; ``header_tr`` defaults to ``tr``."""
    import nibabel as nib

    rng = np.random.default_rng(1)
    if data is None:
        full = shape + (n_vol,) if ndim == 4 else shape
        data = (100 + rng.normal(0, 1, full)).astype(np.float32)
    affine = MNI_AFFINE if mni else np.diag([3.0, 3.0, 3.3, 1.0])
    img = nib.Nifti1Image(data, affine)
    if mni:
        img.set_sform(affine, code=4)
        img.set_qform(affine, code=4)
    else:
        img.set_sform(affine, code=1)
        img.set_qform(affine, code=1)
    if ndim == 4:
        img.header.set_xyzt_units("mm", "sec")
        zooms = img.header.get_zooms()
        img.header.set_zooms(zooms[:3] + ((tr if header_tr is None else header_tr),))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, str(path))
    return Path(path)


def write_tsv(path, header, rows):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join(str(x) for x in r) + "\n")
    return Path(path)


def write_json(path, obj):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(obj))
    return Path(path)


def make_bids_run(root, sub="01", ses=None, task="rest", run="1", n_vol=10, tr=2.0, sfreq=250.0, lead_s=2.0,
                  ch_names=None, ecg=False, eeg=True, bold=True, func_events=True, electrodes=False,
                  bold_json=True, markers=True, gradient_artifact=False, bad_channels=()):
    """One BIDS run: eeg/ (BrainVision with R128 markers, channels, eeg.json, events) and func/ (bold, json, events).

    ``bad_channels`` get ``status`` "bad" in channels.tsv.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "dataset_description.json").exists():
        write_json(root / "dataset_description.json", {"Name": "tiny", "BIDSVersion": "1.8.0"})
    base = f"sub-{sub}" + (f"_ses-{ses}" if ses else "") + f"_task-{task}" + (f"_run-{run}" if run else "")
    folder = root / f"sub-{sub}" / (f"ses-{ses}" if ses else "")
    names = list(ch_names or NAMES[:8]) + (["ECG"] if ecg else [])
    vols = lead_s + tr * np.arange(n_vol)
    stim = [(lead_s + 4.0, 1), (lead_s + 10.0, 2)]
    if eeg:
        d = folder / "eeg"
        d.mkdir(parents=True, exist_ok=True)
        n_times = int(round((lead_s + n_vol * tr + 2.0) * sfreq))
        data = eeg_signal(len(names), n_times)
        if gradient_artifact:
            per = int(round(tr * sfreq))
            t = np.arange(per) / sfreq
            wave = 500e-6 * np.sign(np.sin(2 * np.pi * 10 * t))
            for v in vols:
                s0 = int(round(v * sfreq))
                data[:, s0:s0 + per] += wave
        write_brainvision(d, base + "_eeg", names, sfreq, n_times / sfreq, vols if markers else None, stim, data=data)
        write_tsv(d / f"{base}_channels.tsv", ["name", "type", "units", "status"],
                  [(n, "ECG" if n == "ECG" else "EEG", "uV", "bad" if n in bad_channels else "good")
                   for n in names])
        write_json(d / f"{base}_eeg.json", {"SamplingFrequency": sfreq, "TaskName": task, "PowerLineFrequency": 50})
        rows = [(f"{t:.4f}", 0, "Response/R128") for t in (vols if markers else [])]
        rows += [(f"{t:.4f}", 0, f"Stimulus/S  {c}") for t, c in stim]
        write_tsv(d / f"{base}_events.tsv", ["onset", "duration", "trial_type"], sorted(rows, key=lambda r: float(r[0])))
        if electrodes:
            import mne

            kind = "colin27_1020" if "colin27_1020" in mne.channels.get_builtin_montages() else "standard_1020"
            pos = mne.channels.make_standard_montage(kind).get_positions()["ch_pos"]
            lower = {k.lower(): v for k, v in pos.items()}
            write_tsv(d / f"{base}_electrodes.tsv", ["name", "x", "y", "z"],
                      [(n, *(f"{c * 1000:.2f}" for c in lower[n.lower()])) for n in names if n != "ECG"])
            write_json(d / f"{base}_coordsystem.json", {"EEGCoordinateUnits": "mm", "EEGCoordinateSystem": "CapTrak"})
    if bold:
        f = folder / "func"
        write_bold(f / f"{base}_bold.nii.gz", n_vol, tr)
        if bold_json:
            write_json(f / f"{base}_bold.json", {"RepetitionTime": tr, "TaskName": task})
        if func_events:
            write_tsv(f / f"{base}_events.tsv", ["onset", "duration", "trial_type"],
                      [(4.0, 2.0, "open"), (10.0, 2.0, "closed"), (14.0, 2.0, "open")])
    return root


def write_edf(path, data, sfreq, ch_names, bdf=False):
    """Minimal EDF (int16) / BDF (int24) writer, 1-second records, physical range +-3.2 mV."""
    n_ch, n_times = data.shape
    spr = int(sfreq)
    n_rec = n_times // spr
    dig_max = 8388607 if bdf else 32767
    phys = 3200.0
    def field(s, n):
        return str(s)[:n].ljust(n).encode("ascii")
    hdr = (b"\xffBIOSEMI" if bdf else field("0", 8)) + field("X X X X", 80) + field("Startdate X X X X", 80)
    hdr += field("01.01.20", 8) + field("00.00.00", 8) + field(256 * (n_ch + 1), 8)
    hdr += field("24BIT" if bdf else "", 44) + field(n_rec, 8) + field(1, 8) + field(n_ch, 4)
    parts = [(ch_names, 16), (["AgAgCl"] * n_ch, 80), (["uV"] * n_ch, 8), ([-phys] * n_ch, 8), ([phys] * n_ch, 8),
             ([-dig_max - 1] * n_ch, 8), ([dig_max] * n_ch, 8), ([""] * n_ch, 80), ([spr] * n_ch, 8), ([""] * n_ch, 32)]
    for vals, width in parts:
        hdr += b"".join(field(v, width) for v in vals)
    digital = np.clip(np.round(data * 1e6 / phys * dig_max), -dig_max - 1, dig_max).astype(np.int32)
    body = bytearray()
    for r in range(n_rec):
        for c in range(n_ch):
            seg = digital[c, r * spr:(r + 1) * spr]
            if bdf:
                b = seg.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
                body += b.tobytes()
            else:
                body += seg.astype("<i2").tobytes()
    Path(path).write_bytes(hdr + bytes(body))
    return Path(path)


def tree_digest(root) -> dict:
    """``{relative path: (sha256, mtime_ns)}`` of every file under ``root``."""
    out = {}
    for p in sorted(Path(root).rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return out
