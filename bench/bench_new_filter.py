"""Distinct cases over a year with a new filter each call (a script, not a test): worked and paying cases by team,
by channel and by agency, the period's end a day earlier each call, as a viewer changing the date meets them.

    python bench/bench_new_filter.py /work/bench-data/s2/store [--baseline /work/wt/base] [--calls 6] [--rounds 2]

Each tree runs in a fresh process of its own (`PYTHONPATH=<tree>`), alternately, so a noisy shared machine
affects both alike. Prints the first call (nothing kept yet) and the median of the later calls, in ms, the
process's memory growth, and the machine's load; the answers of both trees are checked equal.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import load, machine, rss_mb  # noqa: E402

VIEWS = {"worked by team": ("worked", ("team_id",)), "worked by channel": ("worked", ("channel",)),
         "paying by team": ("paying", ("team_id",)), "worked by agency": ("worked", ("holder",))}


def child(store_dir: str, calls: int) -> dict:
    """Time every view `calls` times in this process, each with an end one day earlier than the last."""
    from queries.filters import Filters
    from queries.metrics.agency import agency_names
    from queries.metrics.distinct import distinct_cases
    from queries.store import Store

    store = Store.open(store_dir)
    as_of = store.as_of
    start = (as_of.replace(day=1) - dt.timedelta(days=365)).replace(day=1)
    teams = agency_names(store).rename({"agency": "holder"})  # as the agency scorecard groups agents
    holders = {a: (h,) for a, h in store.frame("agents").join(teams, on="team_id").select("agent_id", "holder")
               .iter_rows()}
    before = rss_mb(os.getpid())[0]
    out: dict = {}
    for name, (family, by) in VIEWS.items():
        times, answers = [], []
        for back in range(calls):
            f = Filters(start, as_of - dt.timedelta(days=back))
            org = holders if by == ("holder",) else None
            t = time.perf_counter()
            got = distinct_cases(store, family, f, by, "n", org)
            times.append((time.perf_counter() - t) * 1000)
            answers.append(got.rows())
        out[name] = {"first_ms": times[0], "next_ms": statistics.median(times[1:]), "answers": answers}
    return {"views": out, "grew_mb": rss_mb(os.getpid())[0] - before}


def main() -> None:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", help="a synced store directory")
    ap.add_argument("--baseline", type=Path, help="another checkout, timed on the same store side by side")
    ap.add_argument("--calls", type=int, default=6, help="calls per view, each with a new end day")
    ap.add_argument("--rounds", type=int, default=2, help="fresh processes per tree")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.store, args.calls), default=str))
        return
    trees = {"this": Path(__file__).resolve().parent.parent}
    if args.baseline:
        trees = {"baseline": args.baseline.resolve(), **trees}
    print(f"machine: {machine()}")
    results: dict[str, list[dict]] = {k: [] for k in trees}
    for r in range(args.rounds):
        for name, tree in trees.items():
            before = load()
            env = {**os.environ, "PYTHONPATH": str(tree)}
            run = subprocess.run([sys.executable, __file__, args.store, "--child", "--calls", str(args.calls)],
                                 env=env, cwd=tree, capture_output=True, text=True, check=True)
            res = json.loads(run.stdout.strip().splitlines()[-1])
            results[name].append(res)
            print(f"round {r + 1} {name:<8} " + " · ".join(
                f"{v}: first {x['first_ms']:.0f}, then {x['next_ms']:.0f} ms" for v, x in res["views"].items())
                + f"; grew {res['grew_mb']:.0f} MB; {before} before, {load()} after", flush=True)
    if args.baseline:
        same = all(a["views"][v]["answers"] == b["views"][v]["answers"]
                   for a, b in zip(results["baseline"], results["this"], strict=True) for v in VIEWS)
        print(f"answers equal across trees: {same}")


if __name__ == "__main__":
    main()
