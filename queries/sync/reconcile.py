"""Reconciliation: per-day counts and cent totals of the store against a GROUP BY pushed to the source."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from queries.source import contract as S
from queries.source.reader import Reader, cents, day_of
from queries.store.versions import table_files

CHECKS = {  # table, day column, money column, id column, store table, count column, cents column
    "payments": (S.payments, "paid_at", "amount", "payment_id", "payments_agent", "n", "cents"),
    "contacts": (S.contacts, "contacted_at", None, "contact_id", "contacts_agent", "n", None),
    "promises": (S.promises, "due_on", "amount", None, "promises_daily", "n", "cents"),
    "complaints": (S.complaints, "received_at", None, None, "complaints", None, None),
}


def source_day_totals(reader: Reader, name: str, since: dt.date | None = None,
                      id_limit: int | None = None) -> pl.DataFrame:
    """Per-day count (and cents) of one table, GROUP BY pushed down; append-only tables up to an id."""
    table, ts_name, amount_name, id_name, *_ = CHECKS[name]
    ts = table.c[ts_name]
    day = ts if isinstance(ts.type, sa.Date) else day_of(ts)
    cols = [day.label("day"), sa.func.count().label("n")]
    if amount_name:
        cols.append(sa.cast(sa.func.sum(cents(table.c[amount_name])), sa.BigInteger).label("cents"))  # PG: numeric
    stmt = sa.select(*cols).group_by(day)
    if since is not None:
        stmt = stmt.where(ts >= (since if isinstance(ts.type, sa.Date) else dt.datetime.combine(since, dt.time())))
    if id_limit is not None and id_name:
        # rows arriving while the sync runs are beyond the watermark on both sides: no false alarms
        stmt = stmt.where(table.c[id_name] <= id_limit)
    return reader.read(stmt, {"day": pl.Date, "n": pl.Int64, **({"cents": pl.Int64} if amount_name else {})})


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

