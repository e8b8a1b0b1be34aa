"""What the compliance stage costs a full sync: this tree's real full sync with the stage and without it, side by side.

    python bench/bench_compliance_cost.py --source sqlite:////data/bank.sqlite --stores /tmp/cost --runs 3

Each sync runs in its own process (bench/bench_store.py's `_sync` step; without the stage: its rule checks, the
SQL that classifies contacts for them, the month sort they need and the complaint deadlines are left out),
alternating which goes first, so a noisy shared machine disturbs both alike. Prints the machine's load with every
run, then medians and the ratio with ÷ without (DESIGN §4b's target: at most 1.20 in time and peak memory).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from machine import load  # noqa: E402


def _sync(source: str, store: str, with_stage: bool) -> dict:
    shutil.rmtree(store, ignore_errors=True)
    args = [sys.executable, str(ROOT / "bench" / "bench_store.py"), "_sync", source, store, "full"]
    out = subprocess.run([*args, *([] if with_stage else ["no-compliance"])], capture_output=True, text=True,
                         check=False, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"sync failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="SQLAlchemy URL of the case database (read only)")
    ap.add_argument("--stores", required=True, help="prefix of the two store directories (removed and rebuilt)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    runs: dict[str, list[dict]] = {"without": [], "with": []}
    for i in range(args.runs):
        for label in (("without", "with") if i % 2 == 0 else ("with", "without")):
            r = _sync(args.source, f"{args.stores}-{label}", label == "with")
            runs[label].append(r)
            stage = {k: v for k, v in r["timings"].items() if k in ("contacts", "complaints", "compliance_prepare")}
            print(f"[{label} compliance] full sync {r['seconds']:.1f} s, CPU {r['cpu_s']:.0f} s, "
                  f"peak {r['peak_mb']:.0f} MB, {stage} ({load()})", flush=True)
    print("\n| full sync | without the compliance stage | with it | with ÷ without |\n|---|---:|---:|---:|")
    for key, unit, fmt in (("seconds", "s", "{:.1f}"), ("cpu_s", "s CPU", "{:.0f}"), ("peak_mb", "MB", "{:.0f}")):
        a = statistics.median(r[key] for r in runs["without"])
        b = statistics.median(r[key] for r in runs["with"])
        print(f"| {key} (median of {args.runs}) | {fmt.format(a)} {unit} | {fmt.format(b)} {unit} | {b / a:.2f} |")
    ratios = [w["cpu_s"] / o["cpu_s"] for w, o in zip(runs["with"], runs["without"], strict=True)]
    print(f"\nCPU ratio per pair: {', '.join(f'{x:.2f}' for x in ratios)}; machine: {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
