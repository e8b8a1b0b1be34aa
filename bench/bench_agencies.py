"""The agency page's metric calls on a synced store: the store's load, the first call of the version (the page's
cells are the sync's agency_cells, loaded with the store) and the median of later calls of each composition.

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
    a = ap.parse_args()
    print(machine(), "· load", " ".join(f"{x:.1f}" for x in os.getloadavg()))
    t0 = time.perf_counter()
    store = Store.open(a.store)
    print(f"store load (all in-memory rollups, agency_cells {store.frame('agency_cells').height:,} rows): "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms")
    f = Filters(dt.date(store.as_of.year, 1, 1), store.as_of)  # year to date, as the screenshots
    t0 = time.perf_counter()
    P.agency_scorecard(store, f)
    print(f"first call of the version (agency_scorecard{', with commission' if store.has('agency_fees') else ''}): "
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
