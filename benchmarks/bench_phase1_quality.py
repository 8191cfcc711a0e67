"""Phase-1 quality bar on the default demo dataset (issue P4, item 7).

For each seed (default 0, 1, 2) runs ``analyze`` at group level with that
training seed and checks against ``ground_truth.json``:

- fMRI test balanced accuracy >= 0.9;
- best EEG band test balanced accuracy >= 0.8;
- per class, >= 80 % of the planted ROIs among the top-k ROIs of ``fmri_cam``
  (k = number planted for the class);
- per class and effect band, the planted electrodes among the top-k of that
  band's ``eeg_cam`` (k = number of planted electrodes); reported as the hit
  fraction, the bar being all of them (fraction 1.0) for the band's effect class
  (the class with the largest planted power change in that band).

Prints one JSON object (per seed and a summary) on stdout. Phase 2 is off
(it does not change phase 1). Usage::

    python benchmarks/bench_phase1_quality.py [--data DIR] [--seeds 0 1 2] [--epochs N] [--vary-data]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def evaluate(bundle, truth) -> dict:
    s = bundle.arrays["saliency"]
    classes = [str(c) for c in s["classes"]]
    m = bundle.metrics["phase1"]
    out = {"fmri_test_balanced_acc": m["fmri"]["test_balanced_acc"], "fmri_test_acc": m["fmri"]["test_acc"],
           "eeg_test_balanced_acc": {b: v["test_balanced_acc"] for b, v in m.get("eeg", {}).items()}}
    out["eeg_best_band"] = max(out["eeg_test_balanced_acc"], key=out["eeg_test_balanced_acc"].get) \
        if out["eeg_test_balanced_acc"] else None
    out["eeg_best_balanced_acc"] = out["eeg_test_balanced_acc"].get(out["eeg_best_band"], float("nan"))
    def roi_fractions(cam):
        hits = {}
        for c in truth["classes"]:
            planted = [r["index"] for r in truth["planted_rois"][c]]
            top = np.argsort(-cam[classes.index(c)])[:len(planted)]
            hits[c] = len(set(planted) & set(top.tolist())) / len(planted)
        return hits

    roi_hits = roi_fractions(s["fmri_cam"])
    out["planted_roi_fraction_in_topk"] = roi_hits
    out["planted_roi_ranks"] = {
        c: sorted(int(np.flatnonzero(np.argsort(-s["fmri_cam"][classes.index(c)]) == r["index"])[0])
                  for r in truth["planted_rois"][c]) for c in truth["classes"]}
    if "fmri_cam_plain" in s:
        # the paper's plain CAM, for comparison with the referenced one
        out["plain_cam_planted_roi_fraction_in_topk"] = roi_fractions(s["fmri_cam_plain"])
    electrodes = [str(e) for e in s.get("electrodes", [])]
    bands = [str(b) for b in s["bands"]]
    el_hits = {}
    for c in truth["classes"]:
        for band, planted in truth["salient_electrodes"][c].items():
            if band not in bands or not electrodes:
                continue
            cam = s["eeg_cam"][bands.index(band), classes.index(c)]
            top = [electrodes[i] for i in np.argsort(-cam)[:len(planted)]]
            el_hits[f"{c}/{band}"] = len(set(planted) & set(top)) / len(planted)
    out["planted_electrode_fraction_in_topk"] = el_hits
    # The effect class of a band: the class whose planted change is largest there.
    best = {}
    for c, per_band in truth["eeg_effects"].items():
        for band, eff in per_band.items():
            if abs(eff["max_relative_change"]) > best.get(band, ("", 0.0))[1]:
                best[band] = (c, abs(eff["max_relative_change"]))
    out["effect_class_per_band"] = {b: c for b, (c, _) in best.items()}
    out["effect_band_electrode_fraction"] = {b: el_hits.get(f"{c}/{b}") for b, (c, _) in best.items()}
    if "eeg_cam_plain" in s:
        plain = {}
        for b, (c, _) in best.items():
            planted = truth["salient_electrodes"][c][b]
            cam = s["eeg_cam_plain"][bands.index(b), classes.index(c)]
            top = [electrodes[i] for i in np.argsort(-cam)[:len(planted)]]
            plain[b] = len(set(planted) & set(top)) / len(planted)
        out["plain_cam_effect_band_electrode_fraction"] = plain
    out["pass"] = {
        "fmri_balanced_acc>=0.9": out["fmri_test_balanced_acc"] >= 0.9,
        "eeg_best_band>=0.8": out["eeg_best_balanced_acc"] >= 0.8,
        "planted_rois>=80%": all(v >= 0.8 for v in roi_hits.values()),
        # The issue asks for *the* planted electrodes in the top k: all of them, not 80 %.
        "planted_electrodes_effect_band": all((v or 0) >= 1.0 for v in out["effect_band_electrode_fraction"].values()),
    }
    return out


def _progress_printer(every_s: float = 10.0):
    state = {"t": 0.0, "t0": time.perf_counter()}

    def progress(fraction, message):
        now = time.perf_counter()
        if now - state["t"] >= every_s:
            state["t"] = now
            print(f"  {now - state['t0']:6.0f} s {100 * fraction:5.1f}% {message}", file=sys.stderr, flush=True)

    return progress


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "eegfmri_viewer_demo_default")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="override training.epochs")
    parser.add_argument("--out", type=Path, default=None, help="keep the bundles under this folder")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--vary-data", action="store_true",
                        help="each seed also generates its own demo dataset (DATA_seedS), so the numbers "
                             "cover the simulated data's variability, not only the training's")
    args = parser.parse_args(argv)

    import torch

    from eegfmri_viewer.demo.generate import ensure_demo_dataset
    from eegfmri_viewer.pipeline.analyze import analyze
    from eegfmri_viewer.pipeline.config import AnalysisConfig
    from eegfmri_viewer.results import load_bundle

    if args.threads:
        torch.set_num_threads(args.threads)
    results = {}
    work = Path(tempfile.mkdtemp(prefix="bench_phase1_")) if args.out is None else args.out
    for seed in args.seeds:
        if args.vary_data:
            from eegfmri_viewer.demo.generate import DEFAULT, generate_demo_dataset

            root = Path(f"{args.data}_seed{seed}")
            if not (root / "ground_truth.json").exists():
                generate_demo_dataset(root, preset="default", **{**DEFAULT, "seed": seed})
        else:
            root = ensure_demo_dataset(args.data)
        truth = json.loads((Path(root) / "ground_truth.json").read_text())
        training = {"seed": seed, "level": "group"}
        if args.epochs:
            training["epochs"] = args.epochs
        cfg = AnalysisConfig().with_overrides(training=training, phase2={"enabled": False})
        t0 = time.perf_counter()
        out = analyze(root, work / f"seed{seed}", config=cfg, force=True, progress=_progress_printer())
        b = load_bundle(out)
        res = evaluate(b, truth)
        res["seconds"] = round(time.perf_counter() - t0, 1)
        res["timings_s"] = b.manifest["timings_s"]
        results[str(seed)] = res
        print(f"seed {seed}: {json.dumps(res['pass'])} ({res['seconds']} s)", file=sys.stderr)
    summary = {k: all(r["pass"][k] for r in results.values()) for k in next(iter(results.values()))["pass"]}
    print(json.dumps({"seeds": results, "all_pass": summary}, indent=2, default=float))
    return 0 if all(summary.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
