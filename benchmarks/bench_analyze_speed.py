"""Wall time of ``analyze`` on the default demo dataset (issue P4 item 8, P5 item 10).

Runs the full pipeline with the default settings (phase 2 included unless
``--no-phase2``) and prints JSON: total seconds, per-stage timings from
``manifest.json``, the share of phase 2, whether the total is under the
5-minute target, and the size of each file of the bundle (MB). Pin it to two cores to match the target machine, e.g.
``taskset -c 0,1 python benchmarks/bench_analyze_speed.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 300.0


# Benchmarks run as scripts, so their folder is on sys.path.
from bench_phase1_quality import _progress_printer  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "eegfmri_viewer_demo_default")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-phase2", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from eegfmri_viewer.demo.generate import ensure_demo_dataset
    from eegfmri_viewer.pipeline.analyze import analyze
    from eegfmri_viewer.pipeline.config import AnalysisConfig
    from eegfmri_viewer.results import load_bundle

    root = ensure_demo_dataset(args.data)
    cfg = AnalysisConfig().with_overrides(training={"threads": args.threads})
    if args.no_phase2:
        cfg = cfg.with_overrides(phase2={"enabled": False})
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_speed_")) / "bundle"
    t0 = time.perf_counter()
    analyze(root, out, config=cfg, force=True, progress=_progress_printer())
    total = time.perf_counter() - t0
    b = load_bundle(out)
    timings = b.manifest["timings_s"]
    phase2 = timings.get("phase2", 0.0)
    result = {
        "total_s": round(total, 1),
        "target_s": TARGET_S,
        "under_target": total < TARGET_S,
        "timings_s": timings,
        "phase2_s": phase2,
        "phase2_share_of_rest": round(phase2 / max(total - phase2, 1e-9), 3),
        "threads": args.threads,
        "n_windows": int(len(b.arrays["windows"]["labels"])),
        "bundle_mb": {f.relative_to(out).as_posix(): round(f.stat().st_size / 1e6, 2)
                      for f in sorted(out.rglob("*")) if f.is_file()},
        "epochs": {"fmri": b.metrics["phase1"]["fmri"]["epochs"],
                   **{k: v["epochs"] for k, v in b.metrics["phase1"].get("eeg", {}).items()}},
    }
    print(json.dumps(result, indent=2))
    return 0 if result["under_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
