"""Sync on SQLite, PostgreSQL and MariaDB sources: full, incremental = full, reconciliation, atomic swap.

PostgreSQL / MariaDB run when CASES_TEST_PG_URL / CASES_TEST_MYSQL_URL are set (each test gets its own
freshly created database, dropped afterwards); otherwise they are skipped with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import polars as pl
import pytest
import sqlalchemy as sa
from fixtures_store import (
    AGENTS,
    CASES,
    COMPLAINTS,
    CONTACTS,
    PAYMENTS,
    PROMISES,
    SNAPSHOTS,
    ROWS,
    TARGETS,
    TEAMS,
    build_handmade,
    build_rows,
    damage,
    insert_rows,
)

from queries.filters import Filters
from queries.metrics.registry import compute
from queries.source import contract as S
from queries.source.reader import Reader
from queries.store import CURRENT, ROLLUPS, SCANNED, Store, current_version
from queries.sync import mutable, reconcile, run_sync
from queries.sync import run as sync_run

Q1 = Filters(dt.date(2026, 1, 1), dt.date(2026, 3, 31))


def frames_equal(a: Store, b: Store) -> None:
    for name in (*ROLLUPS, *SCANNED):
        if name in ROLLUPS and not a.has(name) and not b.has(name):
            continue
        x, y = (a.frame(name), b.frame(name)) if name in ROLLUPS else (a.scan(name).collect(), b.scan(name).collect())
        assert x.columns == y.columns, name
        x, y = x.sort(x.columns, nulls_last=True), y.sort(y.columns, nulls_last=True)
        assert x.cast(y.schema).equals(y), f"{name} differs:\n{x}\n{y}"


def test_full_sync_every_backend(handmade_source, tmp_path):
    res = run_sync(handmade_source, tmp_path / "store", full=True)
    assert res.ok, res.reconciliation
    st = Store.open(tmp_path / "store")
    assert st.manifest.watermarks.payments_id == 5
    assert compute("collected", st, Q1).row(0, named=True)["numerator"] == 850.34
    assert compute("recovery_rate", st, Q1).row(0, named=True)["denominator"] == 9400.0
    c = compute("contact_rate", st, Q1).row(0, named=True)
    assert (c["numerator"], c["denominator"]) == (7, 15)
    assert compute("over_frequency", st, Q1).row(0, named=True)["numerator"] == 2
    assert compute("complaint_rate", st, Q1).row(0, named=True)["denominator"] == 3
    assert compute("target_achievement", st, Q1).height == 1


def _split_source(url: str) -> None:
    """The hand-made set as it stood on 2026-02-05: later rows are added by _add_later."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    S.metadata.create_all(engine)
    early_promise2 = {**PROMISES[1], "status": "pending", "updated_at": dt.datetime(2026, 2, 4)}
    rows = {
        S.teams: TEAMS, S.agents: AGENTS, S.targets: TARGETS,
        S.cases: [c for c in CASES if c["case_id"] != 3],
        S.balance_snapshots: [s for s in SNAPSHOTS if s["snapshot_on"] < dt.date(2026, 2, 1)],
        S.payments: PAYMENTS[:3], S.contacts: [c for c in CONTACTS if c["contact_id"] <= 20],
        S.promises: [PROMISES[0], early_promise2], S.complaints: COMPLAINTS,
    }
    with engine.begin() as conn:
        for table, data in rows.items():
            conn.execute(table.insert(), data)
    engine.dispose()


def _add_later(url: str) -> None:
    import sqlalchemy as sa

    insert_rows(url, S.cases, [c for c in CASES if c["case_id"] == 3])
    insert_rows(url, S.balance_snapshots, [s for s in SNAPSHOTS if s["snapshot_on"] == dt.date(2026, 2, 28)])
    insert_rows(url, S.payments, PAYMENTS[3:])
    insert_rows(url, S.contacts, [c for c in CONTACTS if c["contact_id"] > 20])
    insert_rows(url, S.promises, PROMISES[2:])
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # a mutable row changes: promise 2 is broken
        conn.execute(S.promises.update().where(S.promises.c.promise_id == 2)
                     .values(status="broken", updated_at=dt.datetime(2026, 2, 11)))
    engine.dispose()


def test_incremental_equals_full(fresh_source, tmp_path):
    _split_source(fresh_source)
    first = run_sync(fresh_source, tmp_path / "inc", full=True)
    assert first.ok
    _add_later(fresh_source)
    inc = run_sync(fresh_source, tmp_path / "inc")
    assert not inc.full and inc.ok, inc.reconciliation
    assert inc.rows_read["payments"] == 2 and inc.rows_read["contacts"] == 5
    full = run_sync(fresh_source, tmp_path / "full", full=True)
    frames_equal(Store.open(tmp_path / "inc"), Store.open(tmp_path / "full"))
    # nothing new: the next incremental sync reads no events and changes nothing
    again = run_sync(fresh_source, tmp_path / "inc")
    assert again.rows_read.get("payments") == 0 and again.rows_read.get("contacts") == 0
    frames_equal(Store.open(tmp_path / "inc"), Store.open(tmp_path / "full"))
    assert full.ok


def test_reconciliation_flags_row_behind_watermark(handmade_source, tmp_path):
    run_sync(handmade_source, tmp_path / "store", full=True)
    # id below the watermark: the incremental path cannot see it, reconciliation must
    insert_rows(handmade_source, S.payments, [{
        "payment_id": -1, "case_id": 1, "agent_id": "A1", "paid_at": dt.datetime(2026, 2, 10, 9),
        "amount": Decimal("12.34"), "method": "app"}])
    res = run_sync(handmade_source, tmp_path / "store", reconcile_days=60)
    assert not res.ok
    bad = res.reconciliation["mismatches"]
    assert bad == [{"table": "payments", "day": "2026-02-10", "source": {"n": 1, "cents": 1234},
                    "store": {"n": 0, "cents": 0}}]
    manifest = json.loads((current_version(tmp_path / "store") / "manifest.json").read_text())
    assert manifest["reconciliation"]["ok"] is False
    assert run_sync(handmade_source, tmp_path / "store", full=True).ok  # --full repairs it


def test_reconciliation_flags_tampered_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    build_handmade(url)
    run_sync(url, tmp_path / "store", full=True)
    version = current_version(tmp_path / "store")
    f = sorted((version / "contacts_agent").glob("????-??.parquet"))[0]
    df = pl.read_parquet(f)
    df.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.col("n") + 1).otherwise(pl.col("n"))
                    .alias("n")).write_parquet(f)
    with Reader(url) as r:
        rec = reconcile(r, version)
    assert not rec["ok"] and rec["mismatches"][0]["table"] == "contacts"


def test_the_reconciliations_day_is_the_syncs_day_for_any_text_sqlite_holds(handmade_source):
    """The source side of the reconciliation counts each row on the day the sync's own read puts it (the naive epoch
    of epoch_of, floored to a day): SQLite text with a 'T', seconds' fractions or a UTC offset, a Julian day number,
    and an instant before 1970 (whose day a truncating division would move); on each backend."""
    from queries.source.reader import epoch_of
    from queries.sync.reconcile import source_day_totals

    if handmade_source.startswith("sqlite"):
        engine = sa.create_engine(handmade_source)
        with engine.begin() as conn:
            ids = [r[0] for r in conn.execute(sa.text("SELECT contact_id FROM contacts ORDER BY contact_id"))]
            texts = ["2026-02-10T03:30:00", "2026-02-10 03:30:00+08:00", "2026-02-09 23:59:59.999",
                     "2026-02-10T00:00:00-01:00", 2461081.75, "1969-12-31 23:00:00"]
            for cid, text in zip(ids, texts, strict=False):
                conn.execute(sa.text("UPDATE contacts SET contacted_at = :t WHERE contact_id = :i"),
                             {"t": text, "i": cid})
        engine.dispose()
    with Reader(handmade_source) as r:
        got = source_day_totals(r, "contacts").sort("day")
        ts = r.read(sa.select(epoch_of(S.contacts.c.contacted_at).label("ts")), {"ts": pl.Int64})
    # the sync's rule, by hand: seconds since 1970 floored to whole days
    want = ts.select((pl.col("ts") // 86_400).cast(pl.Int32).cast(pl.Date).alias("day")).group_by("day").agg(
        pl.len().cast(pl.Int64).alias("n")).sort("day")
    assert got.equals(want), (got, want)
    if handmade_source.startswith("sqlite"):
        days = set(got.get_column("day").to_list())
        assert {dt.date(1969, 12, 31), dt.date(2026, 2, 9), dt.date(2026, 2, 10)} <= days, days


@pytest.mark.parametrize("chunk", [1, 3, 1_000_000])
def test_whole_table_day_totals_equal_a_row_by_row_count_up_to_the_id_limit(tmp_path, monkeypatch, chunk):
    """SQLite's whole-table day totals (read in the sync's id chunks, summed in Polars) equal counts and cents made
    row by row in Python: the id limit inside the ids, below them, none; ids with gaps, id 0, a negative id and one
    near 2^62 (statements follow the rows, not the span of the ids)."""
    import importlib

    rec = importlib.import_module("queries.sync.reconcile")  # the package's `reconcile` is the function
    events = importlib.import_module("queries.sync.events")
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    build_handmade(url)
    insert_rows(url, S.payments, [{"payment_id": i, "case_id": 1, "agent_id": "A1", "amount": Decimal("12.34"),
                                   "paid_at": dt.datetime(2026, 2, 10, 9), "method": "app"} for i in (-5, 0, 2**62)])
    monkeypatch.setattr(events, "CHUNK_ROWS", chunk)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = {"payments": conn.execute(sa.select(S.payments.c.payment_id, S.payments.c.paid_at,
                                                   S.payments.c.amount)).all(),
                "contacts": conn.execute(sa.select(S.contacts.c.contact_id, S.contacts.c.contacted_at)).all()}
    engine.dispose()
    with Reader(url) as r:
        for name, got_rows in rows.items():
            ids = sorted(row[0] for row in got_rows)
            for limit in (None, ids[len(ids) // 2], ids[0] - 1):
                want: dict[dt.date, list[int]] = {}
                for row in got_rows:
                    if limit is None or row[0] <= limit:
                        w = want.setdefault(row[1].date(), [0, 0])
                        w[0] += 1
                        w[1] += round(row[2] * 100) if name == "payments" else 0
                days = sorted(want)
                expected = pl.DataFrame({"day": days, "n": [want[d][0] for d in days],
                                         **({"cents": [want[d][1] for d in days]} if name == "payments" else {})},
                                        schema={"day": pl.Date, "n": pl.Int64,
                                                **({"cents": pl.Int64} if name == "payments" else {})})
                got = rec.source_day_totals(r, name, id_limit=limit).sort("day")
                assert got.equals(expected), (name, limit, got, expected)


NULLS_FIRST = """
import resource, sys
import polars as pl, sqlalchemy as sa
from queries.source.reader import Reader
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
t = sa.table("t", sa.column("id"), sa.column("agent_id"), sa.column("minutes"))
reader = Reader("sqlite:///" + sys.argv[1])
df = reader.read(sa.select(t.c.id, t.c.agent_id, t.c.minutes).order_by(t.c.id),
                 {"id": pl.Int64, "agent_id": pl.String, "minutes": pl.Int64})
reader.close()
print(df.height, df["agent_id"].null_count(), df["minutes"].null_count(), *df.row(-1))
"""


def test_columns_null_in_the_first_rows_read_are_read_on_sqlite(tmp_path):
    """A text column NULL in the first 70,000 rows of a read and set after them is read whole. SQLite's driver
    inferred each column's type from its first 1,024 rows and failed the read, so a source whose oldest 1,100 cases
    were unassigned failed every sync. The read again as one batch stays within 2 GiB of address space (a job's
    limit): the driver reserves a batch's rows for each column before reading, 16 GiB a column at its largest."""
    import sqlite3
    import subprocess
    import sys

    db = tmp_path / "n.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, agent_id TEXT, minutes INTEGER)")
        con.executemany("INSERT INTO t VALUES (?, NULL, NULL)", ((i,) for i in range(70_000)))
        con.execute("INSERT INTO t VALUES (70000, 'A1', 5)")
    run = subprocess.run([sys.executable, "-c", NULLS_FIRST, str(db)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["70001", "70000", "70000", "70000", "A1", "5"]

    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    old = dict(CASES[0], status="recalled", agent_id=None, updated_at=dt.datetime(2025, 12, 31))
    unassigned = [dict(old, case_id=-i, account_no=f"6222{i:012d}") for i in range(1, 1_101)]
    build_rows(url, {**ROWS, "cases": unassigned + CASES})  # the oldest first: the first 1,024 rows a scan reads
    res = run_sync(url, tmp_path / "store", full=True)
    assert res.ok, res.reconciliation
    assert res.rows_read["cases"] == len(CASES) + 1_100
    cases = pl.read_parquet(current_version(tmp_path / "store") / "base" / "cases.parquet")
    assert cases.filter(pl.col("case_id") < 0)["agent_id"].null_count() == 1_100


def test_a_source_whose_ids_start_at_0_syncs_every_row(tmp_path):
    """An id 0 is read by a full sync (the lower bound was `min or 1`, which skipped it) and reconciles."""
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    build_handmade(url)
    insert_rows(url, S.payments, [{"payment_id": 0, "case_id": 1, "agent_id": "A1",
                                   "paid_at": dt.datetime(2026, 2, 10, 9), "amount": Decimal("12.34"),
                                   "method": "app"}])
    res = run_sync(url, tmp_path / "store", full=True)
    assert res.ok, res.reconciliation
    assert res.rows_read["payments"] == len(PAYMENTS) + 1


def test_the_lowest_possible_id_is_read_and_reconciled(fresh_source, tmp_path):  # noqa: ANN001
    """An id of −2^63 (the smallest BIGINT) is read by a full sync on every backend: the bound before it,
    −2^63 − 1, fits no BIGINT, so a read `id > −2^63 − 1` could not be asked; ids are read as `id >= lo + 1`."""
    url = fresh_source
    build_handmade(url)
    insert_rows(url, S.payments, [{"payment_id": -(2 ** 63), "case_id": 1, "agent_id": "A1",
                                   "paid_at": dt.datetime(2026, 2, 10, 9), "amount": Decimal("12.34"),
                                   "method": "app"}])
    res = run_sync(url, tmp_path / "store", full=True)
    assert res.ok, res.reconciliation
    assert res.rows_read["payments"] == len(PAYMENTS) + 1
    # a new payment on the same day: the incremental sync reads that day again from its first id, −2^63
    insert_rows(url, S.payments, [{"payment_id": 10 ** 9, "case_id": 1, "agent_id": "A1", "method": "app",
                                   "paid_at": dt.datetime(2026, 2, 10, 11), "amount": Decimal("0.66")}])
    inc = run_sync(url, tmp_path / "store")
    assert not inc.full and inc.ok and inc.rows_read["payments"] == 1, inc.reconciliation
    day = Filters(dt.date(2026, 2, 10), dt.date(2026, 2, 10))
    want = sum(p["amount"] for p in PAYMENTS if p["paid_at"].date() == day.start) + Decimal("13.00")
    got = compute("collected", Store.open(tmp_path / "store"), day).row(0, named=True)["numerator"]
    assert Decimal(str(got)) == want


def test_an_id_0_arriving_after_a_sync_of_an_empty_table_is_read(tmp_path):
    """A table synced while empty records no id read; its first rows, ids 0 and up, are read by the next sync (a
    recorded 0 made every later read start after it)."""
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    build_handmade(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM payments"))
    engine.dispose()
    assert run_sync(url, tmp_path / "store", full=True).ok
    rows = [{"payment_id": i, "case_id": 1, "agent_id": "A1", "paid_at": dt.datetime(2026, 2, 10, 9),
             "amount": Decimal(amount), "method": "app"} for i, amount in ((0, "12.34"), (5, "0.66"))]
    insert_rows(url, S.payments, rows)
    res = run_sync(url, tmp_path / "store")
    assert res.ok, res.reconciliation
    assert res.rows_read["payments"] == 2
    day = Filters(dt.date(2026, 2, 10), dt.date(2026, 2, 10))
    assert compute("collected", Store.open(tmp_path / "store"), day).row(0, named=True)["numerator"] == 13.00


def test_snowflake_ids_are_read_in_chunks_of_rows_not_of_ids(tmp_path, monkeypatch):
    """Ids ~10^18 from the first (snowflake-style, rising with time) are read in chunks whose bounds come off the id
    index, CHUNK_ROWS rows each: fixed ranges of CHUNK_ROWS ids between them would never end. The full and the
    incremental sync read every row and reconcile."""
    import importlib

    events = importlib.import_module("queries.sync.events")
    monkeypatch.setattr(events, "CHUNK_ROWS", 3)
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    build_handmade(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for table, key in (("payments", "payment_id"), ("contacts", "contact_id")):
            conn.execute(sa.text(f"UPDATE {table} SET {key} = {key} * 10000000000000000 + 1000000000000000000"))
    with Reader(url) as r:
        col = S.payments.c.payment_id
        ids = sorted(row[0] for row in engine.connect().execute(sa.select(col)))
        bounds = events.id_bounds(r, col, ids[0] - 1, ids[-1])
    engine.dispose()
    # every third id closes a chunk; the last chunk ends at the highest id
    want = [ids[i] for i in range(2, len(ids), 3)]
    want = want if want and want[-1] == ids[-1] else [*want, ids[-1]]
    assert [b[1] for b in bounds] == want and bounds[0][0] == ids[0] - 1
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    full = run_sync(url, tmp_path / "store", full=True)
    assert full.ok and full.rows_read["payments"] == len(PAYMENTS), full.reconciliation
    assert full.rows_read["contacts"] == len(CONTACTS)
    insert_rows(url, S.payments, [{"payment_id": 3 * 10**18, "case_id": 1, "agent_id": "A1", "method": "app",
                                   "paid_at": dt.datetime(2026, 3, 30, 9), "amount": Decimal("12.34")}])
    inc = run_sync(url, tmp_path / "store")
    assert not inc.full and inc.ok and inc.rows_read["payments"] == 1, inc.reconciliation


def test_an_incremental_reconciliation_puts_sqlite_text_on_the_syncs_day(tmp_path):
    """From a day on, SQLite text with a UTC offset across the day's edge and a Julian day number are counted on
    the day the sync puts them (the text filter has a day's margin and takes every number)."""
    from queries.source.reader import epoch_of
    from queries.sync.reconcile import source_day_totals

    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    build_handmade(url)
    since = dt.date(2026, 2, 10)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT contact_id FROM contacts ORDER BY contact_id"))]
        # 09 Feb 23:30 at -01:00 is 10 Feb 00:30 (in); 10 Feb 03:00 at +08:00 is 09 Feb 19:00 (out); Julian
        # 2461082.25 is 10 Feb 18:00 (in); 10 Feb 00:00:00.5 with a 'T' (in); 09 Feb 10:00 at -14:00, the largest
        # offset, without seconds, is 10 Feb 00:00 (in)
        texts = ["2026-02-09T23:30:00-01:00", "2026-02-10 03:00:00+08:00", 2461082.25, "2026-02-10T00:00:00.5",
                 "2026-02-09 10:00-14:00"]
        for cid, text in zip(ids, texts, strict=False):
            conn.execute(sa.text("UPDATE contacts SET contacted_at = :t WHERE contact_id = :i"), {"t": text, "i": cid})
    engine.dispose()
    with Reader(url) as r:
        got = source_day_totals(r, "contacts", since=since).sort("day")
        ts = r.read(sa.select(epoch_of(S.contacts.c.contacted_at).label("ts")), {"ts": pl.Int64})
    want = ts.select((pl.col("ts") // 86_400).cast(pl.Int32).cast(pl.Date).alias("day")).filter(
        pl.col("day") >= since).group_by("day").agg(pl.len().cast(pl.Int64).alias("n")).sort("day")
    assert got.equals(want), (got, want)
    assert got.row(0) == (since, 4), got


def test_an_incremental_reconciliation_on_sqlite_sums_its_rows_a_window_at_a_time(tmp_path, monkeypatch):
    """From a day on, SQLite's text rows are summed in Polars (no GROUP BY: SQLite sorts for one), WINDOW_DAYS of
    the time index at a time: rows on a window's edge (one as text without seconds), a minute before it, on the
    first edge with a UTC offset that puts it on `since`, a month of rows and one dated after the machine's clock
    are each counted once, on their day, with their cents, up to the id limit."""
    import importlib
    import re

    rec = importlib.import_module("queries.sync.reconcile")
    monkeypatch.setattr(rec, "WINDOW_DAYS", 3)
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    build_handmade(url)
    since = dt.date(2026, 2, 10)
    # the windows' edges: since − 14 h, then every 3 days
    edge = dt.datetime(2026, 2, 9, 10) + dt.timedelta(days=3)
    later = dt.datetime.combine(dt.date.today() + dt.timedelta(days=40), dt.time(8))
    stamps = [edge, edge - dt.timedelta(minutes=1), edge, dt.datetime(2026, 2, 9, 10), later,
              *(dt.datetime(2026, 2, 10, 9) + dt.timedelta(days=d, hours=d % 5) for d in range(31))]
    rows = [{"payment_id": 1000 + i, "case_id": 1, "agent_id": "A1", "paid_at": ts, "method": "app",
             "amount": Decimal(f"{i + 1}.25")} for i, ts in enumerate(stamps)]
    insert_rows(url, S.payments, rows)
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # as SQLite text without seconds: on the second edge; on the first, at -14:00
        conn.execute(sa.text("UPDATE payments SET paid_at = '2026-02-12 10:00' WHERE payment_id = 1002"))
        conn.execute(sa.text("UPDATE payments SET paid_at = '2026-02-09 10:00-14:00' WHERE payment_id = 1003"))
    engine.dispose()
    limit = 1000 + len(stamps) - 2  # the last row arrived after the sync's id limit
    statements: list[str] = []
    with Reader(url) as r:
        real = r.read

        def read(stmt, schema=None):  # noqa: ANN001, ANN202
            statements.append(r.sql(stmt))
            return real(stmt, schema)

        r.read = read
        got = rec.source_day_totals(r, "payments", since=since, id_limit=limit).sort("day")
    # by hand: each row's UTC day (the -14:00 one is 10 Feb 00:00), with the handmade source's own payments
    days_of = [s.date() for s in stamps]
    days_of[3] = since
    mine = [(day, (i + 1) * 100 + 25) for i, day in enumerate(days_of) if 1000 + i <= limit]
    want: dict[dt.date, list] = {}
    for day, cents in [*mine, *((p["paid_at"].date(), round(p["amount"] * 100)) for p in PAYMENTS)]:
        if day >= since:
            w = want.setdefault(day, [0, 0])
            w[0] += 1
            w[1] += cents
    days = sorted(want)
    expected = pl.DataFrame({"day": days, "n": [want[d][0] for d in days], "cents": [want[d][1] for d in days]},
                            schema={"day": pl.Date, "n": pl.Int64, "cents": pl.Int64})
    assert got.equals(expected), (got, expected)
    assert sum(1 for day, _ in mine if day == dt.date(2026, 2, 12)) == 4 and later.date() in want
    assert sum(1 for day, _ in mine if day == since) == 2
    # every text statement holds at most WINDOW_DAYS of the index, but the last, open one; the numbers' one groups
    *text, numbers = statements
    assert not any("GROUP BY" in s.upper() for s in text) and "< ''" in numbers and "GROUP BY" in numbers.upper()
    for s in text[:-1]:
        lo, hi = re.findall(r"paid_at >= '([^']*)' AND payments\.paid_at < '([^']*)'", s)[0]
        assert dt.datetime.fromisoformat(hi) - dt.datetime.fromisoformat(lo) == dt.timedelta(days=3), s
    assert len(text) > 2 and "paid_at <" not in text[-1]


def test_an_incremental_reconciliation_reads_only_the_files_of_its_days(tmp_path):
    """The store side of a reconciliation from `since` reads the month files from since's month on: an older
    month's file is not opened (a new day's sync read and summed every month of three tables)."""
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    build_handmade(url)
    run_sync(url, tmp_path / "store", full=True)
    version = current_version(tmp_path / "store")
    months = sorted((version / "contacts_agent").glob("????-??.parquet"))
    assert len(months) >= 2
    last = dt.date.fromisoformat(months[-1].stem + "-01")
    damage(months[0], b"not parquet")
    with Reader(url) as r:
        rec = reconcile(r, version, since=last)
        assert rec["ok"], rec
        with pytest.raises(Exception):  # noqa: B017, PT011 - the whole history does read it
            reconcile(r, version)


def test_table_files_from_a_day_keep_the_partitions_that_can_hold_it(tmp_path):
    from queries.store.catalogue import PARTITIONED
    from queries.store.versions import table_files

    day_table = next(n for n, p in PARTITIONED.items() if p == "day")
    for name, stems in (("contacts_agent", ("2026-10", "2026-11", "2026-12")),
                        (day_table, ("2026-11-16", "2026-11-17", "2026-12-01"))):
        folder = tmp_path / name
        folder.mkdir()
        for stem in ("_schema", *stems):
            (folder / f"{stem}.parquet").touch()
        assert {f.stem for f in table_files(tmp_path, name, dt.date(2026, 11, 17))} == set(stems[1:]), name
        assert len(table_files(tmp_path, name)) == 3, name
        assert [f.stem for f in table_files(tmp_path, name, dt.date(2027, 1, 1))] == ["_schema"], name
    assert table_files(tmp_path, "complaints", dt.date(2026, 11, 17)) == [tmp_path / "complaints.parquet"]


def test_sync_dying_half_way_keeps_previous_store(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    build_handmade(url)
    run_sync(url, tmp_path / "store", full=True)
    before = (tmp_path / "store" / CURRENT).read_text()

    def boom(*_a, **_k):
        raise RuntimeError("killed half-way")

    monkeypatch.setattr(sync_run, "sync_contacts", boom)
    with pytest.raises(RuntimeError):
        run_sync(url, tmp_path / "store", full=True)
    assert (tmp_path / "store" / CURRENT).read_text() == before
    assert [p.name for p in (tmp_path / "store").iterdir() if p.name.startswith("v-")] == [before]
    assert Store.open(tmp_path / "store").scan("payments_daily").collect().height == 5


def test_source_without_targets(tmp_path):
    url = f"sqlite:///{tmp_path / 'nt.sqlite'}"
    build_handmade(url, targets=False)
    res = run_sync(url, tmp_path / "store", full=True)
    assert res.ok and Store.open(tmp_path / "store").manifest.has_targets is False


def test_day_level_rollups_are_read_a_month_at_a_time(handmade_source, tmp_path):
    """A server does not hold the day-level rollups whole: a period reads the month files it overlaps, the months
    read stay in a cache bounded by cache_mb, and the month views are those of the whole rollup."""
    from queries.store.versions import PAGED, month_view

    run_sync(handmade_source, tmp_path / "store", full=True)
    store = Store.open(tmp_path / "store", cache_mb=0)
    assert store.has("payments_agent") and not set(PAGED) & set(store.frames)
    folder = store.path / "payments_agent"
    whole = pl.read_parquet(sorted(f for f in folder.glob("2*.parquet")))
    months = store.month_starts("payments_agent")
    assert months == sorted(set(whole.get_column("day").dt.month_start())) and len(months) >= 2
    for lo, hi in ((months[1].replace(day=10), months[1].replace(day=20)), (months[0], months[-1]), (None, None)):
        got = store.frame("payments_agent", lo, hi)
        want = whole.filter(pl.col("day").dt.month_start().is_between(lo.replace(day=1) if lo else months[0],
                                                                       hi or months[-1]))
        assert got.sort(got.columns).equals(want.sort(want.columns)), (lo, hi)
        assert len(store._cache) == 1  # cache_mb=0: the month read last, no more
    view, want = store.frame("payments_agent_m"), month_view(whole)
    assert view.sort(view.columns, nulls_last=True).equals(want.sort(want.columns, nulls_last=True))
    later = store.frame("payments_agent", months[-1] + dt.timedelta(days=40), months[-1] + dt.timedelta(days=50))
    assert later.height == 0 and later.schema == whole.schema
    roomy = Store.open(tmp_path / "store")
    roomy.frame("payments_agent", months[0], months[-1])
    assert len(roomy._cache) >= len(months)  # within the default budget every month read stays


def test_opening_a_version_and_reducing_many_months_leave_the_cache_to_the_periods_viewed(handmade_source, tmp_path):
    """Opening a version makes the month views from every month file, and the landing forecast reduces 13 months:
    both read months once and keep none (at 5× they filled the cache with the months read last and made the
    server's peak); `per_month` hands its function one month at a time, and the results equal it on the whole."""
    run_sync(handmade_source, tmp_path / "store", full=True)
    store = Store.open(tmp_path / "store")
    assert store.frames["payments_agent_m"].height and not store._cache
    store.warm()  # the deferred compliance views too
    assert not store._cache
    months = store.month_starts("payments_agent")
    seen = []

    def by_agent(df: pl.DataFrame) -> pl.DataFrame:
        seen.append(sorted(set(df.get_column("day").dt.month_start())))
        return df.group_by("agent_id").agg(pl.col("cents").sum())

    got = store.per_month("payments_agent", months[0], months[-1], by_agent)
    assert seen == [[m] for m in months] and not store._cache
    whole = by_agent(store.frame("payments_agent", months[0], months[-1]))
    got = got.group_by("agent_id").agg(pl.col("cents").sum())
    assert got.sort("agent_id").equals(whole.sort("agent_id"))
    assert store.per_month("payments_agent", dt.date(2099, 1, 1), dt.date(2099, 2, 1), by_agent).height == 0
    agents = store.per_month("agents", months[0], months[-1], lambda df: df)  # not paged: the frame, once
    assert agents.equals(store.frame("agents"))


def test_months_of_many_events_are_aggregated_one_at_a_time(monkeypatch) -> None:
    """Two months at a time (CASES_SYNC_MONTH_WORKERS=2) while every month is small; one at a time as soon as one
    of them holds more than ONE_AT_A_TIME_ROWS events (two 5× bank-scale months in flight hold ~6 GB)."""
    import threading
    import time
    from types import SimpleNamespace

    from queries.sync import events

    months = [dt.date(2026, m, 1) for m in range(1, 7)]
    rows = {m: 1_000 for m in months}
    lock, state = threading.Lock(), {"now": 0, "most": 0}

    def aggregate(m: dt.date) -> dt.date:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return m

    def most_at_once(limit: int) -> int:
        monkeypatch.setattr(events, "ONE_AT_A_TIME_ROWS", limit)
        state["most"] = 0
        assert events.map_months(SimpleNamespace(month_workers=2), aggregate, months, rows) == months
        return state["most"]

    assert most_at_once(1_000) == 2
    rows[months[3]] = 1_001
    assert most_at_once(1_000) == 1
    assert events.month_rows(pl.DataFrame({"day": [dt.date(2026, 1, 3), dt.date(2026, 1, 9), dt.date(2026, 2, 1)],
                                           "n": [5, 7, 2]})) == {dt.date(2026, 1, 1): 12, dt.date(2026, 2, 1): 2}


def test_a_full_sync_reads_promises_in_chunks_and_makes_each_due_month_alone(handmade_source, tmp_path, monkeypatch):
    """Every promise is not held at once (8M at 5× bank scale): a full sync reads them in id chunks and makes each
    due month's tables from that month's rows alone — the same store as one chunk of all of them."""
    from queries.sync import events

    run_sync(handmade_source, tmp_path / "whole", full=True)
    made, real = [], mutable._promise_rollups

    def spy(ctx, base, days):  # noqa: ANN001, ANN202
        made.append(set(base.get_column("due_on").dt.month_start()))
        return real(ctx, base, days)

    monkeypatch.setattr(events, "CHUNK_ROWS", 1)
    monkeypatch.setattr(mutable, "_promise_rollups", spy)
    res = run_sync(handmade_source, tmp_path / "chunked", full=True)
    assert res.ok and res.rows_read["promises"] == len(PROMISES)
    due = [m for m in made if m]
    assert len(due) >= 2 and all(len(m) == 1 for m in due), made
    assert set().union(*due) == {p["due_on"].replace(day=1) for p in PROMISES}
    frames_equal(Store.open(tmp_path / "chunked"), Store.open(tmp_path / "whole"))


def test_promises_written_while_a_full_sync_reads_them_are_read_by_the_next_sync(fresh_source, tmp_path,
                                                                               monkeypatch):
    """The chunks are several statements: a promise added while they are read (an id past the last one read) and
    one changed in a chunk not yet read (a later stamp) must not move the watermark past the added one."""
    from queries.sync import events

    build_handmade(fresh_source)
    eng = sa.create_engine(fresh_source)
    later = max(p["updated_at"] for p in PROMISES) + dt.timedelta(days=1)
    real, done = events.read_events, []

    def meanwhile(ctx, table, *args, **kwargs):  # noqa: ANN001, ANN202
        for i, chunk in enumerate(real(ctx, table, *args, **kwargs)):
            yield chunk
            if table is S.promises and i == 0 and not done:
                done.append(True)
                with eng.begin() as conn:
                    conn.execute(S.promises.insert(), [{**PROMISES[0], "promise_id": 999, "updated_at": later}])
                    conn.execute(S.promises.update().where(S.promises.c.promise_id == PROMISES[-1]["promise_id"])
                                 .values(status="broken", updated_at=later + dt.timedelta(hours=1)))

    monkeypatch.setattr(events, "CHUNK_ROWS", 1)
    monkeypatch.setattr(events, "read_events", meanwhile)
    run_sync(fresh_source, tmp_path / "inc", full=True)
    monkeypatch.undo()
    assert done
    run_sync(fresh_source, tmp_path / "inc")
    run_sync(fresh_source, tmp_path / "full", full=True)
    frames_equal(Store.open(tmp_path / "inc"), Store.open(tmp_path / "full"))
    assert 999 in Store.open(tmp_path / "inc").scan("base/promises").collect().get_column("promise_id").to_list()
    eng.dispose()


def test_cases_stamped_between_the_two_halves_of_a_new_days_read_are_read_by_the_next_sync(fresh_source, tmp_path,
                                                                                            monkeypatch):
    """A new day reads the stamped cases in two statements (two halves of the case ids): a case of the first half
    stamped after that half was read, then one of the second half stamped later still and read, must not move the
    watermark past the first — the next sync reads its change."""
    from queries.sync import cases as sync_cases_module
    from queries.sync.context import SyncContext

    build_handmade(fresh_source)
    run_sync(fresh_source, tmp_path / "inc", full=True)
    eng = sa.create_engine(fresh_source)
    low, high = min(c["case_id"] for c in CASES), max(c["case_id"] for c in CASES)
    later = max(c["updated_at"] for c in CASES) + dt.timedelta(days=1)
    raced = []

    def racing(self, stmt, col, cut, schema):  # noqa: ANN001, ANN202
        assert cut is not None and low < cut <= high
        lower = self.reader.read(stmt.where(col < cut), schema)
        with eng.begin() as conn:  # the batch goes on between the two statements
            conn.execute(S.cases.update().where(S.cases.c.case_id == low).values(status="closed", updated_at=later))
            conn.execute(S.cases.update().where(S.cases.c.case_id == high)
                         .values(updated_at=later + dt.timedelta(hours=1)))
        raced.append(cut)
        return pl.concat([lower, self.second_reader().read(stmt.where(col >= cut), schema)], how="vertical_relaxed")

    monkeypatch.setattr(sync_cases_module, "SPLIT_READ_CASES", 1)
    monkeypatch.setattr(SyncContext, "read_halves", racing)
    run_sync(fresh_source, tmp_path / "inc")
    monkeypatch.undo()
    assert raced
    run_sync(fresh_source, tmp_path / "inc")
    run_sync(fresh_source, tmp_path / "full", full=True)
    frames_equal(Store.open(tmp_path / "inc"), Store.open(tmp_path / "full"))
    status = Store.open(tmp_path / "inc").scan("base/cases").filter(pl.col("case_id") == low).collect()["status"]
    assert status.to_list() == ["closed"]
    eng.dispose()


def _as_rowid_keys(path, keys: dict[str, str]) -> None:  # noqa: ANN001
    """Declare each table's key INTEGER, SQLite's rowid, as a user's own SQLite source may; rows and indexes kept."""
    import sqlite3

    con = sqlite3.connect(path)
    for table, key in keys.items():
        ddl = con.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]
        indexes = [r[0] for r in con.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                                             "AND sql IS NOT NULL", (table,))]
        new = ddl.replace(f"{key} BIGINT NOT NULL", f"{key} INTEGER NOT NULL", 1).replace(
            f"CREATE TABLE {table} ", f"CREATE TABLE {table}_r ", 1)
        assert f"{key} INTEGER NOT NULL" in new and f"{table}_r" in new, ddl
        con.executescript(f"{new}; INSERT INTO {table}_r SELECT * FROM {table}; DROP TABLE {table}; "
                          f"ALTER TABLE {table}_r RENAME TO {table}; {'; '.join(indexes)};")
    con.close()


def test_rowid_keys_on_sqlite_leave_the_time_indexes_in_use(tmp_path, monkeypatch):  # noqa: ANN001
    """A user's SQLite source may declare its ids INTEGER PRIMARY KEY (the rowid). SQLite keeps no statistics, and
    given a bound on that key and one on a time column it walked the rowid range (half the cases per statement, every
    payment up to the sync's limit) instead of the time index. Every statement of an incremental sync that bounds
    both (a key, and a time from below) must use the time index."""
    import sqlite3

    from queries.sync import cases as sync_cases_module

    path = tmp_path / "h.sqlite"
    url = f"sqlite:///{path}"
    build_handmade(url)
    _as_rowid_keys(path, {"cases": "case_id", "payments": "payment_id", "contacts": "contact_id"})
    assert run_sync(url, tmp_path / "store", full=True).ok
    later = max(c["updated_at"] for c in CASES) + dt.timedelta(days=1)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(S.cases.update().values(updated_at=later))
    engine.dispose()
    insert_rows(url, S.payments, [{"payment_id": 10 ** 6, "case_id": 1, "agent_id": "A1", "method": "app",
                                   "paid_at": later, "amount": Decimal("1.00")}])
    seen: list[str] = []
    sql = Reader.sql

    def spy(self: Reader, stmt: sa.Select) -> str:  # SQLite reads go through ADBC, as literal SQL from Reader.sql
        text = sql(self, stmt)
        seen.append(text)  # from several threads: the halves and the early reconciliation
        return text

    monkeypatch.setattr(Reader, "sql", spy)
    monkeypatch.setattr(sync_cases_module, "SPLIT_READ_CASES", 1)
    res = run_sync(url, tmp_path / "store")
    assert res.ok and not res.full, res.reconciliation
    con = sqlite3.connect(path)
    plans = {}
    for text in seen:
        key = next((k for k in ("case_id", "payment_id", "contact_id") if f"{k} <" in text or f"{k} >=" in text),
                   None)
        if key and any(f"{t} >=" in text for t in ("updated_at", "paid_at", "contacted_at")):
            plans[text] = " ".join(r[3] for r in con.execute(f"EXPLAIN QUERY PLAN {text}"))
    con.close()
    # the updated cases in two halves, the recent payments' and contacts' days
    assert sum("FROM cases" in t for t in plans) == 2 and sum("FROM payments" in t for t in plans) >= 1, list(plans)
    for text, plan in plans.items():
        assert "PRIMARY KEY" not in plan and "USING" in plan and "INDEX" in plan, (text, plan)
