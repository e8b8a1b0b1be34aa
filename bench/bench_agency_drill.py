"""The agency drill-down on a case database: a vintage point (August, 3 months) and a scorecard row (the year's
placements to the last ended month), three runs each.

    python bench/bench_agency_drill.py URL STORE|- [AS_OF] [HOLDER]
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time

import sqlalchemy as sa

from queries.filters import Filters
from queries.metrics.registry import compute
from queries.store import Store
from queries.views.drilldown import list_cases


def main() -> None:
    """Time list_cases(event='agency_placements') for a vintage point and a scorecard row."""
    url, store = sys.argv[1], sys.argv[2]
    print("load", " ".join(f"{x:.1f}" for x in os.getloadavg()))
    st = Store.open(store) if store != "-" else None
    eng = sa.create_engine(url)
    as_of = st.as_of if st is not None else dt.date.fromisoformat(sys.argv[3])
    f = Filters(dt.date(as_of.year, 1, 1), as_of)
    holder = sys.argv[4] if len(sys.argv) > 4 else compute("agency_score", st, f).get_column("holder")[0]
    row = f.with_dates(f.start, as_of.replace(day=1) - dt.timedelta(days=1))
    for label, filters, kw in (("vintage point (Aug, 3 months)", f, {"month": dt.date(as_of.year, 8, 1),
                                                                     "months_since": 3}),
                               ("scorecard row", row, {})):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            r = list_cases(eng, filters, event="agency_placements", holder=holder, **kw)
            times.append(time.perf_counter() - t0)
        print(f"{label}: {r.total:,} cases, {r.amount:,.2f} paid; median {statistics.median(times):.2f} s "
              f"(runs: {', '.join(f'{x:.2f}' for x in times)})")


if __name__ == "__main__":
    main()
