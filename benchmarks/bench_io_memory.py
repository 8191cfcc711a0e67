"""Peak memory of opening and aligning a long in-scanner EEG recording.

Generates a BrainVision recording (default 60 min, 64 channels incl. ECG, 5 kHz,
int16, R128 volume markers at TR 2 s) and a matching BOLD run in a temporary
folder, then opens them with :func:`eegfmri_viewer.io.single.open_files` in a
fresh process (EEG not preloaded, every sample scanned for NaN / Inf, alignment
on the markers; the artifact corrections find no gradient artifact or ECG beats
in this noise and would not load 9 GB anyway) and prints JSON with the peak
resident memory (VmHWM) of that process.

pybv writes the header, the marker file and the first minute; the remaining
samples and markers are appended in chunks, so generating the file does not
need the whole recording in memory either.

Usage: ``python benchmarks/bench_io_memory.py [--minutes 60] [--channels 64] [--sfreq 5000]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TR = 2.0


def generate(folder: Path, minutes: float, n_ch: int, sfreq: float) -> tuple:
    import nibabel as nib
    import pybv

    names = [f"E{i:02d}" for i in range(n_ch - 1)] + ["ECG"]
    n_total = int(minutes * 60 * sfreq)
    lead = int(5 * sfreq)
    step = int(TR * sfreq)
    n_vol = (n_total - lead - step) // step
    markers = lead + step * np.arange(n_vol)
    first = int(60 * sfreq)
    rng = np.random.default_rng(0)
    block = rng.normal(0, 100, (first, n_ch)).astype(np.int16)  # 10 uV at 0.1 uV resolution
    events = [{"onset": int(m), "duration": 1, "description": 128, "type": "Response"} for m in markers if m < first]
    pybv.write_brainvision(data=block.T.astype(float) * 1e-7, sfreq=sfreq, ch_names=names, fname_base="long_eeg",
                           folder_out=str(folder), events=events, fmt="binary_int16", resolution=0.1, overwrite=True)
    with open(folder / "long_eeg.eeg", "ab") as f:
        done = first
        while done < n_total:
            n = min(first, n_total - done)
            f.write(np.roll(block, done // first, axis=0)[:n].tobytes())
            done += n
    with open(folder / "long_eeg.vmrk", "a", encoding="utf-8") as f:
        k = len(events)
        for m in markers[markers >= first]:
            k += 1
            f.write(f"Mk{k}=Response,R128,{int(m) + 1},1,0\n")
    # Names in the 10-05 system so that positions resolve: relabel the header.
    from mne.channels import get_builtin_montages, make_standard_montage

    kind = "colin27_1005" if "colin27_1005" in get_builtin_montages() else "standard_1005"
    std = [n for n in make_standard_montage(kind).ch_names if not n.startswith(("T3", "T4", "T5", "T6"))]
    vhdr = folder / "long_eeg.vhdr"
    text = vhdr.read_text(encoding="utf-8")
    for i, name in enumerate(names[:-1]):
        text = text.replace(f"Ch{i + 1}={name},", f"Ch{i + 1}={std[i]},", 1)
    vhdr.write_text(text, encoding="utf-8")
    img = nib.Nifti1Image(np.zeros((11, 13, 11, n_vol), np.int16),
                          np.array([[16.0, 0, 0, -80], [0, 16, 0, -115], [0, 0, 16, -72], [0, 0, 0, 1]]))
    img.set_sform(img.affine, code=4)
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_zooms((16.0, 16.0, 16.0, TR))
    nib.save(img, str(folder / "long_bold.nii.gz"))
    return vhdr, folder / "long_bold.nii.gz", n_vol


_CHILD = r"""
import json, sys, time

def hwm_mb():
    # VmHWM starts afresh at exec (ru_maxrss would carry the generator's peak over).
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

from eegfmri_viewer.io.single import open_files
rss0 = hwm_mb()
t = time.time()
rec = open_files(sys.argv[1], sys.argv[2])
al = rec.alignment
print(json.dumps({"seconds": time.time() - t, "baseline_rss_mb": rss0, "peak_rss_mb": hwm_mb(),
                  "preloaded": bool(rec.eeg.preload), "alignment": al.method, "n_markers": al.n_markers,
                  "n_missing": al.n_missing, "n_extra": al.n_extra, "warnings": rec.warnings}))
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--sfreq", type=float, default=5000.0)
    p.add_argument("--limit-mb", type=float, default=1536.0)
    args = p.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench_io_memory_"))
    try:
        t = time.time()
        vhdr, bold, n_vol = generate(folder, args.minutes, args.channels, args.sfreq)
        gen_s = time.time() - t
        size = sum(f.stat().st_size for f in folder.iterdir())
        out = subprocess.run([sys.executable, "-c", _CHILD, str(vhdr), str(bold)], capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            return 1
        res = json.loads(out.stdout.strip().splitlines()[-1])
        res.update(minutes=args.minutes, channels=args.channels, sfreq=args.sfreq, n_volumes=n_vol,
                   files_gb=round(size / 1024**3, 2), generate_seconds=round(gen_s, 1),
                   limit_mb=args.limit_mb, within_limit=res["peak_rss_mb"] < args.limit_mb)
        print(json.dumps(res, indent=2))
        return 0 if res["within_limit"] else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
