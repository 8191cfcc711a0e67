"""Run the benchmarks and print one JSON document.

Usage::

    python benchmarks/run_benchmarks.py            # every benchmarks/bench_*.py
    python benchmarks/run_benchmarks.py startup    # only bench_startup.py
    python benchmarks/run_benchmarks.py --list

Each ``bench_<name>.py`` runs as its own process and ends its standard output
with a JSON object (on one line or indented); the runner collects them under ``"benchmarks"``.
Exit status 1 if a benchmark fails to run or reports ``"passed": false``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> dict[str, Path]:
    """``{name: path}`` of every ``bench_<name>.py`` next to this file."""
    return {p.stem[len("bench_"):]: p for p in sorted(HERE.glob("bench_*.py"))}


def last_json_object(text: str):
    """The JSON object that ends ``text`` (one line or indented over several), or None."""
    lines = text.rstrip().splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("{"):
            try:
                value = json.loads("\n".join(lines[i:]))
            except json.JSONDecodeError:
                continue
            return value if isinstance(value, dict) else None
    return None


def run_one(path: Path, timeout_s: float = 1800) -> dict:
    """Run one benchmark script; its result, or an ``"error"`` entry."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                              timeout=timeout_s, cwd=HERE.parent)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s", "passed": False}
    wall = time.perf_counter() - t0
    result = last_json_object(proc.stdout)
    if result is None:
        return {"error": f"no JSON result (exit status {proc.returncode})",
                "stderr_tail": proc.stderr[-2000:], "passed": False}
    result.setdefault("passed", proc.returncode == 0)
    if proc.returncode != 0:
        result["passed"] = False
        result["stderr_tail"] = proc.stderr[-2000:]
    result["benchmark_wall_s"] = round(wall, 3)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="benchmark names (bench_<name>.py); all by default")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    available = discover()
    if args.list:
        print(json.dumps(sorted(available)))
        return 0
    unknown = [n for n in args.names if n not in available]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {sorted(available)}")
    names = args.names or sorted(available)
    results = {name: run_one(available[name]) for name in names}
    doc = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "benchmarks": results,
    }
    print(json.dumps(doc, indent=2))
    return 0 if all(r.get("passed", False) for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
