"""The agency drill-down: a vintage point (August, 3 months) and a scorecard row (the year's placements to the last
ended month), three runs each — from the store's placements (the dashboard's way) and, with --source, from the case
database's month-end snapshots (the list without a store).

    python bench/bench_agency_drill.py URL STORE [--holder NAME] [--source]
    python bench/bench_agency_drill.py URL - --as-of 2026-11-22 --holder NAME     # source only
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
import sqlalchemy as sa
from machine import machine

from queries.filters import Filters
from queries.metrics.registry import compute
from queries.store import Store
from queries.views.drilldown import list_cases


def main() -> None:
    """Time list_cases(event='agency_placements') for a vintage point and a scorecard row."""
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("store", help="a synced store, or - for the source-based lists only")
    ap.add_argument("--as-of", type=dt.date.fromisoformat)
    ap.add_argument("--holder")
    ap.add_argument("--source", action="store_true", help="also time the lists from the source's snapshots")
    a = ap.parse_args()
    print(machine(), "· load", " ".join(f"{x:.1f}" for x in os.getloadavg()))
    st = Store.open(a.store) if a.store != "-" else None
    eng = sa.create_engine(a.url)
    as_of = a.as_of or st.as_of
    f = Filters(dt.date(as_of.year, 1, 1), as_of)
    holder = a.holder or compute("agency_score", st, f).get_column("holder")[0]
    row = f.with_dates(f.start, as_of.replace(day=1) - dt.timedelta(days=1))
    ways = ([("store", st)] if st is not None else []) + ([("source", None)] if a.source or st is None else [])
    for way, store in ways:
        for label, filters, kw in (("vintage point (Aug, 3 months)", f, {"month": dt.date(as_of.year, 8, 1),
                                                                         "months_since": 3}),
                                   ("scorecard row", row, {})):
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                r = list_cases(eng, filters, event="agency_placements", holder=holder, store=store, **kw)
                times.append(time.perf_counter() - t0)
            print(f"{way} · {holder} · {label}: {r.total:,} cases, {r.events:,} payments, {r.amount:,.2f} paid; "
                  f"median {statistics.median(times):.2f} s (runs: {', '.join(f'{x:.2f}' for x in times)})")


if __name__ == "__main__":
    main()
