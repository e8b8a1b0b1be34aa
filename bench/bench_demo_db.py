"""Time `collections-dashboard demo-db` as users run it (process start to exit), side by side with a baseline tree.

    git worktree add /tmp/before <commit>
    python bench/bench_demo_db.py --baseline /tmp/before --runs 3 --scale demo --as-of 2026-11-29 \
        --url 'sqlite:////tmp/bench-demo-{label}.sqlite'

Each run is its own process (`python -c` on the tree's `queries.cli`), alternating which tree goes first; prints
wall seconds, CPU seconds and peak RSS of each run with the machine's load, then medians and the ratio this ÷
baseline. `{label}` in the URL is `this` or `baseline`; each URL's case tables are replaced.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import load, machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def run(tree: Path, url: str, extra: list[str]) -> dict[str, float]:
    """One demo-db process from `tree`: wall and CPU seconds, peak RSS in GiB."""
    cmd = [sys.executable, "-c", "import sys; from queries.cli import main; sys.exit(main())", "demo-db", "--url", url,
           "--replace", *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{tree}: demo-db failed:\n{err[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 2**20}


def main() -> None:
    """Run the benchmark and print one line per run, then the medians."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", type=Path, help="another checkout to compare with (optional)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--url", default="sqlite:////tmp/bench-demo-{label}.sqlite")
    p.add_argument("--scale", default=None)
    p.add_argument("--cases", default=None)
    p.add_argument("--as-of", default="2026-11-22")
    args = p.parse_args()
    extra = ["--as-of", args.as_of, *(["--scale", args.scale] if args.scale else []),
             *(["--cases", args.cases] if args.cases else [])]
    trees = {"this": ROOT, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    print(f"machine: {machine()}")
    print(f"demo-db {' '.join(extra)}, {args.runs} runs per tree, alternating")
    got: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    for i in range(args.runs):
        for label in list(trees) if i % 2 == 0 else list(reversed(trees)):
            r = run(trees[label], args.url.format(label=label), extra)
            got[label].append(r)
            print(f"[{label}] wall {r['wall']:.1f} s, CPU {r['cpu']:.1f} s, peak {r['rss']:.2f} GiB ({load()})",
                  flush=True)
    med = {k: {m: statistics.median(r[m] for r in rs) for m in ("wall", "cpu", "rss")} for k, rs in got.items()}
    for label, m in med.items():
        print(f"{label}: median wall {m['wall']:.1f} s, CPU {m['cpu']:.1f} s, peak {m['rss']:.2f} GiB")
    if "baseline" in med:
        print("this ÷ baseline: " + ", ".join(f"{m} {med['this'][m] / med['baseline'][m]:.2f}"
                                             for m in ("wall", "cpu", "rss")))


if __name__ == "__main__":
    main()
