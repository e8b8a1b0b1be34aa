"""Reconciliation: per-day counts and cent totals of the store against the source's own (pushed down as a GROUP BY,
or on SQLite, which sorts for one, its rows' days read and summed in Polars)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from queries.source import contract as S
from queries.source.reader import Reader, cents, epoch_day_of, unindexed
from queries.store.versions import table_files
from queries.sync.events import id_bounds, id_range

#: an incremental reconciliation on SQLite reads its rows' days this many days at a time (memory: a month's rows)
WINDOW_DAYS = 31
CHECKS = {  # table, day column, money column, id column, store table, count column, cents column
    "payments": (S.payments, "paid_at", "amount", "payment_id", "payments_agent", "n", "cents"),
    "contacts": (S.contacts, "contacted_at", None, "contact_id", "contacts_agent", "n", None),
    "promises": (S.promises, "due_on", "amount", None, "promises_daily", "n", "cents"),
    "complaints": (S.complaints, "received_at", None, None, "complaints", None, None),
}


def source_day_totals(reader: Reader, name: str, since: dt.date | None = None,
                      id_limit: int | None = None) -> pl.DataFrame:
    """Per-day count (and cents) of one table, GROUP BY pushed down; append-only tables up to an id. SQLite
    sorts every row for a GROUP BY (it has no hash aggregation): there a whole append-only table's days are read in
    id order and counted in Polars (bank scale: 27 → 15 s of CPU for payments and contacts), and recent days' rows
    by windows of the time index."""
    table, ts_name, amount_name, id_name, *_ = CHECKS[name]
    ts = table.c[ts_name]
    dated = isinstance(ts.type, sa.Date)
    # a timestamp's day by the rule the sync's reads apply
    day = ts if dated else epoch_day_of(ts)
    amount = cents(table.c[amount_name]) if amount_name else None
    schema = {"day": pl.Date, "n": pl.Int64, **({"cents": pl.Int64} if amount_name else {})}
    if reader.kind == "sqlite" and since is None and id_name:
        return _summed_in_id_order(reader, table.c[id_name], day, amount, id_limit, schema)
    cols = [day.label("day"), sa.func.count().label("n")]
    if amount is not None:
        cols.append(sa.cast(sa.func.sum(amount), sa.BigInteger).label("cents"))  # PG: numeric
    # rows arriving while the sync runs are beyond the watermark on both sides: no false alarms; the time index
    # finds the recent days
    limit = [unindexed(table.c[id_name]) <= id_limit] if id_limit is not None and id_name else []
    stmt = sa.select(*cols).group_by(day).where(*limit)
    if since is None:
        return reader.read(stmt, schema)
    if dated:
        return reader.read(stmt.where(ts >= since), schema)
    if reader.kind != "sqlite":
        return reader.read(stmt.where(ts >= dt.datetime.combine(since, dt.time())), schema)
    # SQLite text may carry a UTC offset (its day is the UTC one, up to 14 h away) and a number is a Julian day,
    # less than any text: both by the time index, then the days before `since` dropped (an OR of the two ranges
    # made SQLite walk the id index instead: 10.7 against 0.5 s for a week of contacts at bank scale). The text
    # rows' days are summed in Polars, as for a whole table (a week of contacts at bank scale: 0.55 → 0.40 s of a
    # core), WINDOW_DAYS at a time up to tomorrow, then the rest (rows dated later than that, which only a wrong
    # clock makes many); the numbers, normally none, by a GROUP BY (all of them are read whatever `since` is)
    text = sa.type_coerce(ts, sa.String)
    edge = dt.datetime.combine(since, dt.time()) - dt.timedelta(hours=14)
    # each bound a prefix (to the minute): a time without seconds ('10:00-14:00') sorts below a full '10:00:00'
    cuts = [f"{edge:%Y-%m-%d %H:%M}"]
    while edge + dt.timedelta(days=WINDOW_DAYS) <= dt.datetime.now() + dt.timedelta(days=1):
        edge += dt.timedelta(days=WINDOW_DAYS)
        cuts.append(f"{edge:%Y-%m-%d %H:%M}")
    conds = [sa.and_(text >= lo, text < hi) for lo, hi in zip(cuts, cuts[1:])] + [text >= cuts[-1]]
    parts = [_rows_summed(reader, day, amount, schema, cond, *limit) for cond in conds]
    parts.append(reader.read(stmt.where(text < ""), schema))
    return _per_day([p.filter(pl.col("day") >= since) for p in parts], schema)


def _rows_summed(reader: Reader, day: sa.ColumnElement, amount: sa.ColumnElement | None, schema: dict,
                 *where: sa.ColumnElement) -> pl.DataFrame:
    """Per-day count (and cents) of the rows `where` selects, each read as its day (and cents), summed in Polars."""
    rows = sa.select(day.label("day"), *([amount.label("cents")] if amount is not None else [])).where(*where)
    aggs = [pl.len().cast(pl.Int64).alias("n"), *([pl.col("cents").sum()] if amount is not None else [])]
    return reader.read(rows, {k: v for k, v in schema.items() if k != "n"}).group_by("day").agg(aggs)


def _per_day(parts: list[pl.DataFrame], schema: dict) -> pl.DataFrame:
    """Per-day totals of several frames of per-day (or per-row) sums, in `schema`'s columns and types."""
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).group_by("day").agg(pl.col(c).sum() for c in schema if c != "day").select(
        list(schema)).cast(schema)  # type: ignore[arg-type]


def _summed_in_id_order(reader: Reader, id_col: sa.ColumnElement, day: sa.ColumnElement,
                        amount: sa.ColumnElement | None, id_limit: int | None, schema: dict) -> pl.DataFrame:
    """source_day_totals of a whole table: rows read in the sync's own id chunks (events.id_bounds: about a
    million rows each, sparse ids included), summed per day in Polars."""
    first, last = (reader.scalar(sa.select(f(id_col))) for f in (sa.func.min, sa.func.max))
    if first is None:
        return pl.DataFrame(schema=schema)
    hi = last if id_limit is None else min(last, id_limit)
    return _per_day([_rows_summed(reader, day, amount, schema, id_range(id_col, lo, up))
                     for lo, up in id_bounds(reader, id_col, first - 1, hi)], schema)


def reconcile(reader: Reader, version: Path, since: dt.date | None = None,
              id_limits: dict[str, int] | None = None, source: dict[str, pl.DataFrame] | None = None) -> dict:
    """Per-day counts and cent totals, source (source_day_totals) vs store; list mismatches."""
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
            # a day the source cannot tell (a timestamp it does not read as one) is listed as None
            mismatches.append({"table": name, "day": row["day"].isoformat() if row["day"] is not None else None,
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

