"""The agency page's metric calls on a synced store: first call (builds the placement cells kept in store.memo)
and the median of later calls of each composition.

    python bench/bench_agencies.py /work/bench-data/<you>/bank-store [--repeat 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import polars as pl
from machine import machine

from queries.filters import Filters
from queries.store import Store
from queries.views import pages as P

CALLS = ("agency_scorecard", "agency_vintages", "agency_mature_month")


def main() -> None:
    """Time the agency page's compositions."""
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--fees", action="store_true", help="a store synced without agency_fees: give every agency team "
                    "a rate of 0.18, 0.22 from the middle of its snapshots (in memory only), to time the commission")
    a = ap.parse_args()
    print(machine(), "· load", " ".join(f"{x:.1f}" for x in os.getloadavg()))
    store = Store.open(a.store)
    if a.fees and not store.has("agency_fees"):
        teams = store.frame("teams").filter(pl.col("channel") == "agency").get_column("team_id").to_list()
        snaps = sorted(store.snapshots)
        rows = [(t, d, r) for t in teams for d, r in ((snaps[0], 0.18), (snaps[len(snaps) // 2], 0.22))]
        store.frames["agency_fees"] = pl.DataFrame(rows, schema={"team_id": pl.String, "effective_from": pl.Date,
                                                                 "rate": pl.Float64}, orient="row")
    f = Filters(dt.date(store.as_of.year, 1, 1), store.as_of)  # year to date, as the screenshots
    t0 = time.perf_counter()
    P.agency_scorecard(store, f)
    print(f"first call (placements from the month-end snapshots, payments by case and month"
          f"{', commission by payment day' if store.has('agency_fees') else ''}): "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms")
    for name in CALLS:
        times = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            getattr(P, name)(store, f)
            times.append((time.perf_counter() - t0) * 1000)
        print(f"{name}: median {statistics.median(times):.0f} ms (runs: {', '.join(f'{x:.0f}' for x in times)})")


if __name__ == "__main__":
    main()
