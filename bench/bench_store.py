"""Benchmark of the analytics store (a script, not a test): page metric sets, syncs, peak memory.

    python bench/bench_store.py --source sqlite:///data/bank.sqlite --store /tmp/bench-store
    python bench/bench_store.py --source postgresql+psycopg://postgres@127.0.0.1:5432/bank ...

Prints the machine, then medians: each page's metric calls from the store (default filters, month to
date), the same aggregations pushed down as SQL to the source, a full sync, incremental syncs of one
new day (rows copied from the last day, inserted into the source and removed afterwards; needs a
writable source), and the peak RSS of each step (each runs in its own process).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from queries.source import contract as S  # noqa: E402

PAGES: dict[str, list[tuple[str, tuple[str, ...], dict]]] = {
    "daily_recovery": [
        ("collected", (), {}), ("collected", ("day",), {}), ("collected", ("team_id",), {}),
        ("collected", ("bucket",), {}), ("recovery_rate", (), {}), ("target_achievement", ("team_id",), {}),
        ("ptp_kept_rate", ("day",), {}), ("paying_accounts", (), {}), ("paying_accounts", ("day",), {}),
        ("landing", (), {}),
    ],
    "agent_performance": [
        ("collected", ("agent_id",), {}), ("contact_rate", ("agent_id",), {}), ("rpc_rate", ("agent_id",), {}),
        ("ptp_rate", ("agent_id",), {}), ("ptp_kept_rate", ("agent_id",), {}),
        ("rpc_rate", ("hour",), {}), ("collected", ("agent_id", "day"), {}),
    ],
    "complaints": [
        ("complaint_rate", (), {}), ("complaint_rate", ("category",), {}), ("complaint_rate", ("source",), {}),
        ("complaint_rate", ("team_id",), {}), ("after_hours_rate", ("team_id",), {}),
        ("over_frequency", ("team_id",), {}),
    ],
    "aging_roll": [
        ("bucket_balance", ("bucket",), {}), ("bucket_balance", ("month", "bucket"), {"year": True}),
        ("roll_rate", (), {"last_snapshot": True}), ("roll_rate", ("month",), {"year": True}),
        ("cure_rate", ("month",), {"year": True}),
    ],
    "monthly_trends": [
        ("collected", ("month",), {"year": True}), ("recovery_rate", ("month",), {"year": True}),
        ("collected", ("month", "channel"), {"year": True}), ("liquidation", (), {"year": True}),
        ("complaint_rate", ("month",), {"year": True}),
    ],
    "compliance": [
        ("breaches", ("check",), {}), ("breaches", ("day", "check"), {}), ("breaches", ("team_id",), {}),
        ("breaches", ("agent_id",), {}), ("third_party_unjustified", (), {}), ("recording_coverage", (), {}),
        ("plan_contacts", (), {}), ("complaints_late", (), {}), ("complaints_after_breach", (), {}),
        ("rpc_by_attempt", ("ordinal",), {}),
    ],
    "agencies": [
        ("agency_score", (), {"year": True}), ("agency_liquidation", (), {"year": True}),
        ("landing", ("team_id",), {}),
    ],
}


def machine() -> dict:
    """CPU, memory and library versions."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem = "?"
    import pyarrow

    return {"python": platform.python_version(), "platform": platform.platform(), "cpu": cpu,
            "cores": os.cpu_count(), "mem": mem.split(":", 1)[-1].strip(), "polars": pl.__version__,
            "sqlalchemy": sa.__version__, "pyarrow": pyarrow.__version__}


def _child(args: list[str]) -> dict:
    """Run this script in a subprocess; return its JSON answer plus its peak RSS in MB."""
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- child steps


def step_sync(source: str, store: str, full: bool, compliance: bool = True) -> dict:
    """One sync, timed (`compliance` False: with the compliance stage left out, to measure what it costs)."""
    from queries.sync import run_sync

    if not compliance:
        from queries.sync import mutable, run

        run.prepare_compliance = lambda ctx: None
        run.compliance_summary = lambda comp: {}
        mutable.complaint_columns = lambda ctx, complaints: complaints

    t = time.perf_counter()
    res = run_sync(source, store, full=full)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    manifest = json.loads((res.store_path / "manifest.json").read_text())
    return {"seconds": time.perf_counter() - t, "ok": res.ok, "rows": res.rows_read,
            "reader": manifest["reader"], "timings": manifest["timings_s"],
            "cpu_s": ru.ru_utime + ru.ru_stime, "peak_mb": _peak_mb()}


def _page_filters(store, opts: dict, back: int = 0):  # noqa: ANN001, ANN202
    """The page's default period (month to date, or the year to date with `year`), its end `back` days earlier."""
    from queries.filters import Filters

    as_of = store.as_of
    start = (as_of.replace(day=1) - dt.timedelta(days=365)).replace(day=1) if opts.get("year") else as_of.replace(day=1)
    # early in a month, the ends cycle through the days so far (never before the start)
    return Filters(start, max(as_of - dt.timedelta(days=back % max(as_of.day, 1)), start))


def step_pages(store_dir: str, runs: int) -> dict:
    """Load the store once, then time each page's metric calls together: `runs` times on the default view (a
    repeat: what a metric memoises per store version is there after the first) and `runs` times with a filter no
    call has seen (the period's end moved back a day each time), what a viewer changing a filter meets."""
    from queries.metrics import MetricUnavailable
    from queries.metrics.registry import compute
    from queries.settings import load_settings
    from queries.store import Store

    t = time.perf_counter()
    store = Store.open(store_dir, cache_mb=load_settings().store_cache_mb)  # the month cache a server has
    load_s = time.perf_counter() - t

    def page_once(calls: list, back: int) -> float:
        t = time.perf_counter()
        for key, by, opts in calls:
            f = _page_filters(store, opts, back)
            extra = {"snapshot": store.snapshots[-1]} if opts.get("last_snapshot") else {}
            try:
                compute(key, store, f, by, **extra)
            except MetricUnavailable:
                pass
        return time.perf_counter() - t

    out = {}
    for page, calls in PAGES.items():
        times = [page_once(calls, 0) for _ in range(runs)]
        fresh = [page_once(calls, i) for i in range(1, runs + 1)]
        out[page] = {"calls": len(calls), "median_ms": statistics.median(times) * 1000,
                     "first_ms": times[0] * 1000, "fresh_ms": statistics.median(fresh) * 1000}
    return {"load_s": load_s, "pages": out, "peak_mb": _peak_mb()}


def pushdown_queries(as_of: dt.date) -> dict[str, list[sa.Select]]:
    """The pages' main aggregations as SQL against the case database (the reference)."""
    from queries.source.reader import day_of

    p, c, a, t = S.payments.c, S.contacts.c, S.agents.c, S.teams.c
    start = dt.datetime.combine(as_of.replace(day=1), dt.time())
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    year = dt.datetime.combine((as_of.replace(day=1) - dt.timedelta(days=365)).replace(day=1), dt.time())
    pay_team = S.payments.join(S.agents, p.agent_id == a.agent_id)
    attempt = c.channel.in_(("call", "visit"))
    connected = sa.func.sum(sa.case((sa.and_(attempt, c.outcome.not_in(("no_answer", "busy", "wrong_number"))), 1), else_=0))
    last_snap = sa.select(sa.func.max(S.balance_snapshots.c.snapshot_on)).scalar_subquery()
    return {
        "daily_recovery": [
            sa.select(day_of(p.paid_at), sa.func.sum(p.amount)).where(p.paid_at >= start, p.paid_at < end)
            .group_by(day_of(p.paid_at)),
            sa.select(a.team_id, sa.func.sum(p.amount)).select_from(pay_team)
            .where(p.paid_at >= start, p.paid_at < end).group_by(a.team_id),
        ],
        "agent_performance": [
            sa.select(c.agent_id, sa.func.sum(sa.case((attempt, 1), else_=0)), connected)
            .where(c.contacted_at >= start, c.contacted_at < end).group_by(c.agent_id),
        ],
        "complaints": [
            sa.select(sa.func.count(sa.distinct(c.case_id))).where(attempt, c.contacted_at >= start,
                                                                   c.contacted_at < end),
            sa.select(S.complaints.c.category, sa.func.count()).where(S.complaints.c.received_at >= start)
            .group_by(S.complaints.c.category),
        ],
        "aging_roll": [
            sa.select(S.balance_snapshots.c.dpd, sa.func.sum(S.balance_snapshots.c.balance))
            .where(S.balance_snapshots.c.snapshot_on == last_snap).group_by(S.balance_snapshots.c.dpd),
        ],
        "monthly_trends": [
            sa.select(sa.func.count(), sa.func.sum(p.amount)).where(p.paid_at >= year),
            sa.select(t.channel, sa.func.sum(p.amount)).select_from(pay_team.join(S.teams, a.team_id == t.team_id))
            .where(p.paid_at >= year).group_by(t.channel),
        ],
    }


def step_pushdown(source: str, as_of: str, runs: int) -> dict:
    """Time the pushed-down SQL per page (all of a page's queries together)."""
    from queries.source.engines import read_only_engine

    eng = read_only_engine(source)
    out = {}
    with eng.connect() as conn:
        for page, stmts in pushdown_queries(dt.date.fromisoformat(as_of)).items():
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                for s in stmts:
                    conn.execute(s).all()
                times.append(time.perf_counter() - t)
            out[page] = {"queries": len(stmts), "median_ms": statistics.median(times) * 1000}
    return {"pages": out, "peak_mb": _peak_mb()}


# ---------------------------------------------------------------- one new day in the source


def add_day(source: str, shift: int) -> dict:
    """Copy the source's last day of payments/contacts to last day + shift, with new ids."""
    from queries.source.engines import writable_engine

    eng = writable_engine(source)
    added = {}
    with eng.begin() as conn:
        for table, id_col, ts in ((S.payments, "payment_id", "paid_at"), (S.contacts, "contact_id", "contacted_at")):
            top = conn.execute(sa.select(sa.func.max(table.c[id_col]))).scalar()
            last = conn.execute(sa.select(sa.func.max(table.c[ts]))).scalar()
            last = dt.datetime.fromisoformat(last) if isinstance(last, str) else last
            day0 = dt.datetime.combine(last.date(), dt.time())
            rows = [dict(r._mapping) for r in conn.execute(sa.select(table).where(table.c[ts] >= day0))]
            for i, r in enumerate(rows):
                r[id_col] = top + 1 + i
                r[ts] = (dt.datetime.fromisoformat(r[ts]) if isinstance(r[ts], str) else r[ts]) + dt.timedelta(days=shift)
            conn.execute(table.insert(), rows)
            added[table.name] = (top, len(rows))
    eng.dispose()
    return added


def remove_added(source: str, added: dict) -> None:
    """Delete the rows add_day inserted."""
    from queries.source.engines import writable_engine

    eng = writable_engine(source)
    with eng.begin() as conn:
        for name, (top, _n) in added.items():
            table = S.payments if name == "payments" else S.contacts
            id_col = "payment_id" if name == "payments" else "contact_id"
            conn.execute(table.delete().where(table.c[id_col] > top))
    eng.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--sql-runs", type=int, default=3)
    ap.add_argument("--incremental-runs", type=int, default=3)
    ap.add_argument("--skip-full", action="store_true")
    ap.add_argument("--no-incremental", action="store_true", help="do not write to the source")
    args = ap.parse_args()
    print("machine:", json.dumps(machine(), ensure_ascii=False))
    print("source:", sa.make_url(args.source).render_as_string(hide_password=True))
    if not args.skip_full:
        full = _child(["_sync", args.source, args.store, "full"])
        print(f"full sync: {full['seconds']:.1f} s (process CPU {full['cpu_s']:.0f} s), peak {full['peak_mb']:.0f} MB, "
              f"reader {full['reader']}, reconciled {full['ok']}, rows {full['rows']}")
        print(f"  phases (s): {full['timings']}")
    pages = _child(["_pages", args.store, str(args.runs)])
    print(f"store load: {pages['load_s'] * 1000:.0f} ms; dashboard-process peak {pages['peak_mb']:.0f} MB")
    from queries.store import read_manifest

    as_of = read_manifest(Path(args.store)).data_as_of
    sql = _child(["_sql", args.source, as_of, str(args.sql_runs)])
    print(f"{'page':<20}{'calls':>6}{'store median ms':>17}{'first ms':>10}{'new filter ms':>15}{'SQL queries':>13}"
          f"{'SQL median ms':>15}")
    for page, r in pages["pages"].items():
        s = sql["pages"][page]
        print(f"{page:<20}{r['calls']:>6}{r['median_ms']:>17.1f}{r['first_ms']:>10.1f}{r['fresh_ms']:>15.1f}"
              f"{s['queries']:>13}{s['median_ms']:>15.1f}")
    if not args.no_incremental:
        times, added_all = [], []
        try:
            for k in range(1, args.incremental_runs + 1):
                added = add_day(args.source, k)
                added_all.append(added)
                inc = _child(["_sync", args.source, args.store, "inc"])
                times.append(inc["seconds"])
                print(f"incremental sync of one day ({sum(n for _, n in added.values()):,} rows): "
                      f"{inc['seconds']:.2f} s (process CPU {inc['cpu_s']:.2f} s incl. imports), "
                      f"peak {inc['peak_mb']:.0f} MB, reconciled {inc['ok']}")
                print(f"  phases (s): {inc['timings']}")
        finally:
            for added in reversed(added_all):
                remove_added(args.source, added)
        print(f"incremental sync median: {statistics.median(times):.2f} s "
              "(the added rows were removed again: run `sync --full` before reusing this store)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        cmd, rest = sys.argv[1], sys.argv[2:]
        if cmd == "_sync":
            res = step_sync(rest[0], rest[1], rest[2] == "full", "no-compliance" not in rest[3:])
        elif cmd == "_pages":
            res = step_pages(rest[0], int(rest[1]))
        else:
            res = step_pushdown(rest[0], rest[1], int(rest[2]))
        print(json.dumps(res, default=str))
    else:
        main()
