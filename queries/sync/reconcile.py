"""Reconciliation: per-day counts and cent totals of the store against a GROUP BY pushed to the source."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from queries.source import contract as S
from queries.source.reader import Reader, cents, epoch_day_of
from queries.store.versions import table_files

CHECKS = {  # table, day column, money column, id column, store table, count column, cents column
    "payments": (S.payments, "paid_at", "amount", "payment_id", "payments_agent", "n", "cents"),
    "contacts": (S.contacts, "contacted_at", None, "contact_id", "contacts_agent", "n", None),
    "promises": (S.promises, "due_on", "amount", None, "promises_daily", "n", "cents"),
    "complaints": (S.complaints, "received_at", None, None, "complaints", None, None),
}


#: rows per statement when SQLite's day totals are summed in Polars (a few tens of MB per statement in flight)
SQLITE_CHUNK_IDS = 2_000_000


def source_day_totals(reader: Reader, name: str, since: dt.date | None = None,
                      id_limit: int | None = None) -> pl.DataFrame:
    """Per-day count (and cents) of one table, GROUP BY pushed down; append-only tables up to an id. SQLite
    sorts every row for a GROUP BY (it has no hash aggregation): a whole append-only table's days are read in id
    ranges there and counted in Polars, half the source's CPU (bank scale: 28 → 13 s for 24M contacts)."""
    table, ts_name, amount_name, id_name, *_ = CHECKS[name]
    ts = table.c[ts_name]
    # a timestamp's day by the rule the sync's reads apply
    day = ts if isinstance(ts.type, sa.Date) else epoch_day_of(ts)
    cols = [day.label("day"), sa.func.count().label("n")]
    if amount_name:
        cols.append(sa.cast(sa.func.sum(cents(table.c[amount_name])), sa.BigInteger).label("cents"))  # PG: numeric
    schema = {"day": pl.Date, "n": pl.Int64, **({"cents": pl.Int64} if amount_name else {})}
    if reader.kind == "sqlite" and since is None and id_name:
        return _summed_in_id_ranges(reader, table.c[id_name], day, cents(table.c[amount_name]) if amount_name else None,
                                    id_limit, schema)
    stmt = sa.select(*cols).group_by(day)
    if since is not None:
        stmt = stmt.where(ts >= (since if isinstance(ts.type, sa.Date) else dt.datetime.combine(since, dt.time())))
    if id_limit is not None and id_name:
        # rows arriving while the sync runs are beyond the watermark on both sides: no false alarms
        stmt = stmt.where(table.c[id_name] <= id_limit)
    return reader.read(stmt, schema)


def _summed_in_id_ranges(reader: Reader, id_col: sa.ColumnElement, day: sa.ColumnElement,
                         amount: sa.ColumnElement | None, id_limit: int | None, schema: dict) -> pl.DataFrame:
    """source_day_totals of a whole table as rows read by id range and summed per day in Polars."""
    lo, hi = reader.scalar(sa.select(sa.func.min(id_col))), reader.scalar(sa.select(sa.func.max(id_col)))
    if id_limit is not None and hi is not None:
        hi = min(hi, id_limit)
    cols = [day.label("day"), *([amount.label("cents")] if amount is not None else [])]
    aggs = [pl.len().cast(pl.Int64).alias("n"), *([pl.col("cents").sum()] if amount is not None else [])]
    parts = []
    start = (lo if lo is not None else 1) - 1
    while hi is not None and start < hi:
        stop = min(start + SQLITE_CHUNK_IDS, hi)
        rows = reader.read(sa.select(*cols).where(id_col > start, id_col <= stop),
                           {k: v for k, v in schema.items() if k != "n"})
        parts.append(rows.group_by("day").agg(aggs))
        start = stop
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).group_by("day").agg(pl.col(c).sum() for c in schema if c != "day").select(
        list(schema)).cast(schema)  # type: ignore[arg-type]


def reconcile(reader: Reader, version: Path, since: dt.date | None = None,
              id_limits: dict[str, int] | None = None, source: dict[str, pl.DataFrame] | None = None) -> dict:
    """Per-day counts and cent totals, source (GROUP BY pushed down) vs store; list mismatches."""
    mismatches: list[dict] = []
    checked = {}
    for name, (_t, _ts, _a, _id, store_name, n_col, cents_col) in CHECKS.items():
        src = (source or {}).get(name)
        if src is None:
            src = source_day_totals(reader, name, since, (id_limits or {}).get(name))
        keys = [k for k in src.columns if k != "day"]
        aggs = [(pl.col(n_col).sum() if n_col else pl.len()).cast(pl.Int64).alias("n")]
        if cents_col:
            aggs.append(pl.col(cents_col).sum().cast(pl.Int64).alias("cents"))
        st = pl.scan_parquet(table_files(version, store_name, since))
        if since is not None:
            st = st.filter(pl.col("day") >= since)
        st = st.group_by("day").agg(aggs).collect()
        j = src.join(st, on="day", how="full", coalesce=True, suffix="_store").fill_null(0)
        bad = j.filter(pl.any_horizontal([pl.col(k) != pl.col(f"{k}_store") for k in keys]))
        for row in bad.sort("day").iter_rows(named=True):
            mismatches.append({"table": name, "day": row["day"].isoformat(),
                               "source": {k: row[k] for k in keys},
                               "store": {k: row[f"{k}_store"] for k in keys}})
        checked[name] = j.height
    return {"ok": not mismatches, "since": since.isoformat() if since else None,
            "days_checked": checked, "mismatches": mismatches[:200],
            "mismatch_count": len(mismatches)}


def early_totals(url: str, reader_method: str, since: dt.date | None,
                 id_limits: dict[str, int]) -> dict[str, pl.DataFrame]:
    """The append-only tables' source totals, on a second connection while the sync works."""
    with Reader(url, prefer=reader_method) as r:
        return {name: source_day_totals(r, name, since, id_limits[name]) for name in ("payments", "contacts")}

