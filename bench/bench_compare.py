"""This tree against another checkout, side by side in one run: full syncs and each page's metric calls.

    git worktree add /tmp/before <commit>
    python bench/bench_compare.py --baseline /tmp/before --source sqlite:////data/bank.sqlite \\
        --stores /tmp/cmp --sync-runs 2 --page-runs 15

Each step runs in its own process from its own tree (bench/bench_store.py's child steps), alternating which
tree goes first, so a noisy shared machine disturbs both alike. Prints the machine's load with every step,
then medians and the ratio this ÷ baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _step(tree: Path, args: list[str]) -> dict:
    out = subprocess.run([sys.executable, str(tree / "bench" / "bench_store.py"), *args], capture_output=True,
                         text=True, check=False, cwd=tree)
    if out.returncode != 0:
        raise SystemExit(f"{tree}: step {args[0]} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> int:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, required=True, help="another checkout of this repository")
    ap.add_argument("--this", type=Path, default=ROOT, help="the checkout to compare (default: this one)")
    ap.add_argument("--source", required=True, help="SQLAlchemy URL of the case database (read only)")
    ap.add_argument("--stores", required=True, help="prefix of the two store directories")
    ap.add_argument("--sync-runs", type=int, default=2)
    ap.add_argument("--page-runs", type=int, default=15)
    args = ap.parse_args()
    trees = {"baseline": args.baseline.resolve(), "this": args.this.resolve()}
    syncs: dict[str, list[dict]] = {k: [] for k in trees}
    pages: dict[str, list[dict]] = {k: [] for k in trees}
    for i in range(max(args.sync_runs, 1)):
        order = list(trees) if i % 2 == 0 else list(reversed(trees))
        for label in order:
            store = f"{args.stores}-{label}"
            if args.sync_runs:
                r = _step(trees[label], ["_sync", args.source, store, "full"])
                syncs[label].append(r)
                print(f"[{label}] full sync {r['seconds']:.1f} s, CPU {r['cpu_s']:.0f} s, peak {r['peak_mb']:.0f} MB "
                      f"({_load()})", flush=True)
            p = _step(trees[label], ["_pages", store, str(args.page_runs)])
            pages[label].append(p)
            print(f"[{label}] pages: " + ", ".join(f"{k} {v['median_ms']:.1f} ms" for k, v in p["pages"].items())
                  + f" ({_load()})", flush=True)

    def med(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")

    print("\n| step | baseline | this tree | this ÷ baseline |\n|---|---:|---:|---:|")
    if args.sync_runs:
        for key, unit, fmt in (("seconds", "s", "{:.1f}"), ("cpu_s", "s CPU", "{:.0f}"), ("peak_mb", "MB", "{:.0f}")):
            a, b = med([r[key] for r in syncs["baseline"]]), med([r[key] for r in syncs["this"]])
            print(f"| full sync, {key} | {fmt.format(a)} {unit} | {fmt.format(b)} {unit} | {b / a:.2f} |")
    for page in pages["this"][0]["pages"]:
        if page not in pages["baseline"][0]["pages"]:  # a page the baseline does not have yet
            print(f"| {page} metric calls | — | {med([p['pages'][page]['median_ms'] for p in pages['this']]):.1f} ms | — |")
            continue
        a = med([p["pages"][page]["median_ms"] for p in pages["baseline"]])
        b = med([p["pages"][page]["median_ms"] for p in pages["this"]])
        print(f"| {page} metric calls (median of medians) | {a:.1f} ms | {b:.1f} ms | {b / a:.2f} |")
    a, b = med([p["load_s"] for p in pages["baseline"]]), med([p["load_s"] for p in pages["this"]])
    print(f"| store load | {a * 1000:.0f} ms | {b * 1000:.0f} ms | {b / a:.2f} |")
    print(f"\nmachine: {_load()}, {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
