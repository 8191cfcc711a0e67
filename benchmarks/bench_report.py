"""Size and build time of the HTML report of the default demo (issue P7 item 5).

Targets: under 10 MB and under 60 s. Uses the bundle given with ``--results``
(and ``--compare``), otherwise analyses the default demo dataset first (both
sessions in one bundle, phase 2 included; a few minutes) and reports the
session-2 comparison as well. Prints JSON: seconds and bytes of the report
without and with the comparison, and the number of embedded images::

    python benchmarks/bench_report.py [--results BUNDLE [--compare BUNDLE_B]] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

TARGET_MB = 10.0
TARGET_S = 60.0

from bench_phase1_quality import _progress_printer  # noqa: E402


def _time_report(bundle_path: Path, out: Path, compare_b=None, sessions=None) -> dict:
    from eegfmri_viewer.comparison.compare import compare_bundles
    from eegfmri_viewer.report.html import build_report, write_report
    from eegfmri_viewer.results import load_bundle

    t0 = time.perf_counter()
    bundle = load_bundle(bundle_path)
    comparison = bundle_b = None
    if compare_b is not None:
        bundle_b = load_bundle(compare_b)
        comparison = compare_bundles(bundle, bundle_b)
    elif sessions is not None:
        comparison = compare_bundles(bundle, session_a=sessions[0], session_b=sessions[1])
    write_report(out, build_report(bundle, comparison=comparison, bundle_b=bundle_b))
    seconds = time.perf_counter() - t0
    text = out.read_text(encoding="utf-8")
    return {"seconds": round(seconds, 2), "bytes": out.stat().st_size,
            "megabytes": round(out.stat().st_size / 1e6, 2),
            "images": len(re.findall(r"<img [^>]*src=\"data:image/", text)),
            "under_target": out.stat().st_size < TARGET_MB * 1e6 and seconds < TARGET_S}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=None, help="results bundle to report")
    parser.add_argument("--compare", type=Path, default=None, help="second bundle (session B)")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "eegfmri_viewer_demo_default")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench_report_"))
    sessions = None
    results = args.results
    if results is None:
        from eegfmri_viewer.demo.generate import ensure_demo_dataset
        from eegfmri_viewer.pipeline.analyze import analyze

        root = ensure_demo_dataset(args.data)
        results = analyze(root, work / "bundle", progress=_progress_printer())
        sessions = ("1", "2")
    out = {"bundle": str(results), "target_mb": TARGET_MB, "target_s": TARGET_S,
           "report": _time_report(results, work / "report.html")}
    if args.compare is not None or sessions is not None:
        out["report_with_comparison"] = _time_report(results, work / "report_compare.html", args.compare, sessions)
    print(json.dumps(out, indent=2))
    return 0 if all(v["under_target"] for k, v in out.items() if k.startswith("report")) else 1


if __name__ == "__main__":
    sys.exit(main())
