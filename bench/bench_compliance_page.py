"""The compliance page's data calls on a store, timed one by one (a script, not a test).

    python bench/bench_compliance_page.py --source sqlite:////work/bench-data/bank.sqlite --store STORE --runs 7

Each call of the page's default view (year to date or `--period`) is run `--runs` times after one warm-up run,
as the page makes it (through queries.views.scoped, full scope); medians in milliseconds, and their sum. The breach
list is timed for one rule's tallest day and for a whole team, its first page read from the case database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine import machine  # noqa: E402


def load() -> str:
    """The load averages now."""
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def _median_ms(fn, runs: int) -> float:  # noqa: ANN001
    fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return statistics.median(out)


def main() -> int:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--period", default="ytd")
    args = ap.parse_args()

    from queries.compliance.rules import load_pack
    from queries.dates import preset_range
    from queries.filters import Filters, Scope
    from queries.source.engines import read_only_engine
    from queries.store import Store
    from queries.views import scoped

    print(machine(), "·", load(), flush=True)
    t0 = time.perf_counter()
    store = Store.open(args.store)
    print(f"store opened in {time.perf_counter() - t0:.1f} s", flush=True)
    scope = Scope(teams=None, role="manager")
    f = Filters(*preset_range(args.period, store.as_of))
    pack = load_pack()
    weights = tuple(pack.scorecard_weights(f.end).items())
    calls = {
        "breach_kpis (this and the previous period)": lambda: scoped.compliance(store, scope, "breach_kpis", f),
        "breaches by check and day": lambda: scoped.metric(store, scope, "breaches", f, ("check", "day")),
        **{f"breach_ranking {lv}": (lambda lv=lv: scoped.compliance(store, scope, "breach_ranking", f, level=lv))
           for lv in ("team", "agency", "agent")},
        "complaints_deadline": lambda: scoped.compliance(store, scope, "complaints_deadline", f),
        "complaints_after_breach": lambda: scoped.metric(store, scope, "complaints_after_breach", f),
        "complaints_late": lambda: scoped.metric(store, scope, "complaints_late", f),
        "rpc_by_attempt": lambda: scoped.metric(store, scope, "rpc_by_attempt", f, ("ordinal",)),
        "agencies": lambda: scoped.agencies(store, scope, f, pack),
        "scorecard agency": lambda: scoped.compliance(store, scope, "scorecard", f, level="agency", weights=weights),
        "scorecard agent (agent page)": lambda: scoped.compliance(store, scope, "scorecard", f, level="agent",
                                                                   weights=weights),
    }
    rows = [(name, _median_ms(fn, args.runs)) for name, fn in calls.items()]
    engine = read_only_engine(args.source)
    by_day = scoped.metric(store, scope, "breaches", f, ("check", "day")).sort("numerator", descending=True)
    check, day, n = by_day.row(0)[0], by_day.row(0)[1], int(by_day.row(0)[2])
    team = scoped.metric(store, scope, "breaches", f, ("team_id",)).sort("numerator", descending=True).row(0)
    drills = {
        f"breach list: {check} on {day} ({n:,} contacts), page 1": lambda: scoped.breach_contacts(
            store, engine, scope, f.with_dates(day, day), (check,)),
        f"breach list: team {team[0]}, any rule, {args.period} ({int(team[1]):,} contacts), page 1": lambda: (
            scoped.breach_contacts(store, engine, scope, Filters(f.start, f.end, teams=(team[0],)))),
    }
    drill_rows = [(name, _median_ms(fn, args.runs)) for name, fn in drills.items()]
    engine.dispose()
    print(f"\nperiod {f.start} → {f.end}; medians of {args.runs} runs after a warm-up · {load()}\n")
    print("| call | median |\n|---|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.1f} ms |")
    page_calls = sum(ms for name, ms in rows if "agent page" not in name)
    print(f"| **the compliance page's calls together** | **{page_calls:.1f} ms** |")
    for name, ms in drill_rows:
        print(f"| {name} | {ms:.1f} ms |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
