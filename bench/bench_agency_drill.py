"""The agency drill-down on a case database: a vintage point (August, 3 months) and a scorecard row (the year's
placements to the last ended month), three runs each.

    python bench/bench_agency_drill.py URL STORE|- [AS_OF] [HOLDER]
"""
import datetime as dt, sys, time, statistics, os
import sqlalchemy as sa
from queries.filters import Filters
from queries.store import Store
from queries.metrics.registry import compute
from queries.views.drilldown import list_cases
url, store = sys.argv[1], sys.argv[2]
print("load", os.getloadavg())
st = Store.open(store) if store != "-" else None
eng = sa.create_engine(url)
as_of = st.as_of if st else dt.date.fromisoformat(sys.argv[3])
f = Filters(dt.date(as_of.year, 1, 1), as_of)
holder = sys.argv[4] if len(sys.argv) > 4 else compute("agency_score", st, f).get_column("holder")[0]
m = dt.date(as_of.year, 8, 1)
for label, kw in (("vintage point (Aug, 3 months)", dict(month=m, months_since=3)),
                  ("scorecard row (Jan-Oct)", dict(end=None))):
    ff = f.with_dates(f.start, as_of.replace(day=1) - dt.timedelta(days=1)) if "end" in kw else f
    kw.pop("end", None)
    ts = []
    for _ in range(3):
        t0 = time.perf_counter(); r = list_cases(eng, ff, event="agency_placements", holder=holder, **kw); ts.append(time.perf_counter() - t0)
    print(label, "cases", r.total, "amount", r.amount, "median s", round(statistics.median(ts), 2), [round(x, 2) for x in ts])
