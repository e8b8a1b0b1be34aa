"""Reading append-only event tables (payments, contacts) by id: chunks on two connections, the days a new
row touches, the per-day id index, and the attached rows kept per month until they are aggregated."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from queries.source.reader import Reader, require
from queries.store import Watermarks
from queries.sync.context import SyncContext, concat

CHUNK_ROWS = 1_000_000
#: id ranges of CHUNK_ROWS ids above which a read takes its chunks' bounds from the id index (id_bounds)
MAX_RANGES = 10_000
#: events in one month above which a sync aggregates its months one at a time: a month of contacts in flight
#: holds a few hundred bytes per row at its peak, so two months of 5× bank scale (~9M rows each) held 8.6 GB; a
#: bank's months (~2M rows) still go two at a time (CASES_SYNC_MONTH_WORKERS), which is quicker
ONE_AT_A_TIME_ROWS = 4_000_000


class Events:
    """Attached event rows of a sync, grouped by month: on disk (Arrow IPC) for a full sync, else in memory."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.mem: dict[dt.date, list[pl.DataFrame]] = {}
        self.files: dict[dt.date, list[Path]] = {}
        self.index: list[pl.DataFrame] = []
        self.count = 0
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def add(self, month: dt.date, df: pl.DataFrame) -> None:
        """Keep one month's attached rows."""
        if df.height == 0:
            return
        self.count += 1
        if self.folder is None:
            self.mem.setdefault(month, []).append(df)
        else:
            f = self.folder / f"{month:%Y-%m}-{self.count:05d}.arrow"
            df.write_ipc(f, compression="lz4")
            self.files.setdefault(month, []).append(f)

    def months(self) -> list[dt.date]:
        """The months held, ascending."""
        return sorted({*self.mem, *self.files})

    def take(self, month: dt.date) -> pl.DataFrame:
        """All rows of the month (and forget them)."""
        if self.folder is None:
            return pl.concat(self.mem.pop(month), how="vertical_relaxed")
        files = self.files.pop(month)
        out = pl.concat([pl.read_ipc(f) for f in files], how="vertical_relaxed")
        for f in files:
            f.unlink()
        return out


def read_events(ctx: SyncContext, table: sa.Table, id_col: str, select: sa.Select, schema: dict,
                lo_exclusive: int, hi: int, required: dict[str, str] | None = None) -> Iterator[pl.DataFrame]:
    """Rows with lo < id <= hi, one id chunk at a time, in id order. Two connections read the next
    chunks while the current one is used (drivers and Polars release the GIL; SQLite is single-threaded
    per connection, so a second connection doubles the read rate on a multi-core machine)."""
    col = table.c[id_col]
    bounds = id_bounds(ctx.reader, col, lo_exclusive, hi)
    if not bounds:
        return
    readers = [ctx.reader]
    if len(bounds) > 2:
        readers.append(ctx.second_reader())
    with ThreadPoolExecutor(max_workers=len(readers)) as pool:
        ahead = []
        for i, (lo, hi_) in enumerate(bounds):
            if len(ahead) == len(readers):
                yield require(ahead.pop(0).result(), table.name, id_col, required or {})
            # chunk i runs on reader i mod k; the chunk k before it on that reader has been taken
            ahead.append(pool.submit(readers[i % len(readers)].read, select.where(id_range(col, lo, hi_)), schema))
        for fut in ahead:
            yield require(fut.result(), table.name, id_col, required or {})


def id_range(col: sa.ColumnElement, lo: int, hi: int) -> sa.ColumnElement:
    """lo < col <= hi, asked as col >= lo + 1: lo may be −2^63 − 1 (the bound before the smallest BIGINT), which
    no database takes as a parameter."""
    return sa.and_(col >= lo + 1, col <= hi)


def id_bounds(reader: Reader, col: sa.ColumnElement, lo_exclusive: int, hi: int) -> list[tuple[int, int]]:
    """(lo, hi] id ranges covering (lo_exclusive, hi], about CHUNK_ROWS rows each: CHUNK_ROWS ids apart, or for
    sparse ids (more than MAX_RANGES such ranges: snowflake-style ids, ~10^18 from the first) read off the id index,
    the CHUNK_ROWS-th id after each bound."""
    if (hi - lo_exclusive) // CHUNK_ROWS <= MAX_RANGES:
        return [(start, min(start + CHUNK_ROWS, hi)) for start in range(lo_exclusive, hi, CHUNK_ROWS)]
    bounds, start = [], lo_exclusive
    while start < hi:
        stop = reader.scalar(sa.select(col).where(id_range(col, start, hi)).order_by(col).offset(CHUNK_ROWS - 1)
                             .limit(1))
        bounds.append((start, hi if stop is None else int(stop)))
        start = bounds[-1][1]
    return bounds


def read_all(ctx: SyncContext, table: sa.Table, id_col: str, select: sa.Select, schema: dict, hi: int | None = None,
             required: dict[str, str] | None = None) -> Iterator[pl.DataFrame]:
    """Every row with id <= hi (the table's largest id now when None), one id chunk at a time (read_events)."""
    col = table.c[id_col]
    if hi is None:
        hi = ctx.reader.scalar(sa.select(sa.func.max(col))) or 0
    first = ctx.reader.scalar(sa.select(sa.func.min(col)))
    lo = (first if first is not None else 1) - 1  # an id 0 is read too
    return read_events(ctx, table, id_col, select, schema, lo, hi, required)


def affected(ctx: SyncContext, kind: str, table: sa.Table, id_col: str, ts: str, select: sa.Select,
             schema: dict, wm: Watermarks, unit: str,
             required: dict[str, str] | None = None) -> tuple[Iterator[pl.DataFrame], set[dt.date] | None]:
    """Chunks of rows to (re)aggregate, and the days/months they replace (None = everything); rows missing a
    `required` value (result column → contract column) stop the sync with SourceDataError naming them."""
    col = table.c[id_col]
    hi = ctx.id_limits.get(kind)
    if hi is None:
        hi = ctx.id_limits[kind] = ctx.reader.scalar(sa.select(sa.func.max(col))) or 0
    last = wm.last_id(kind)
    index = ctx.prev_frame(f"base/{kind}_days")
    if ctx.prev is None or last is None or index is None:
        # an empty table records no id read: a first id of 0 (or below) arriving later is then read whole, where a
        # recorded 0 would have skipped it
        empty = ctx.reader.scalar(sa.select(sa.func.min(col))) is None
        wm.set_last_id(kind, None if empty else hi)
        return read_all(ctx, table, id_col, select, schema, hi, required), None
    new = list(read_events(ctx, table, id_col, select, schema, last, hi, required))
    ctx.rows[kind] = sum(c.height for c in new)
    wm.set_last_id(kind, max(hi, last))
    if not ctx.rows[kind]:
        return iter(()), set()
    new_df = pl.concat(new)
    days = new_df.get_column(ts).cast(pl.Date)
    units = set((days.dt.month_start() if unit == "month" else days).unique().to_list())
    known = index.filter(pl.col("day") >= min(units)).get_column("min_id").min()
    lo = min(int(known) if known is not None else last + 1, last + 1) - 1
    older = list(read_events(ctx, table, id_col, select, schema, lo, last, required)) if lo < last else []
    key = pl.col(ts).cast(pl.Date)
    if unit == "month":
        key = key.dt.month_start()
    return iter([r.filter(key.is_in(list(units))) for r in [*older, new_df]]), units


def index_part(c: pl.DataFrame, id_col: str) -> pl.DataFrame:
    """Per day of a chunk: the smallest and largest id and the row count."""
    return c.group_by("day").agg(
        pl.col(id_col).min().alias("min_id"), pl.col(id_col).max().alias("max_id"), pl.len().alias("n"))


INDEX_SCHEMA = {"day": pl.Date, "min_id": pl.Int64, "max_id": pl.Int64, "n": pl.UInt32}


def finish_index(ctx: SyncContext, kind: str, ev: Events, units: set | None, unit: str) -> pl.DataFrame:
    """The per-day id index of the table: the previous one with the recomputed days replaced; written out."""
    idx = concat(ev.index, INDEX_SCHEMA).group_by("day").agg(
        pl.col("min_id").min(), pl.col("max_id").max(), pl.col("n").sum())
    prev = ctx.prev_frame(f"base/{kind}_days")
    if units is not None and prev is not None:
        key = pl.col("day").dt.month_start() if unit == "month" else pl.col("day")
        idx = pl.concat([prev.filter(~key.is_in(list(units))), idx.select(prev.columns)], how="vertical_relaxed")
    idx = idx.sort("day")
    ctx.writer.put(f"base/{kind}_days", idx)
    return idx


def collect_events(ctx: SyncContext, kind: str, chunks: Iterator[pl.DataFrame], ts: str, id_col: str,
                   prepare: Callable[[pl.DataFrame], pl.DataFrame], cols: tuple[str, ...], full: bool) -> Events:
    """Attach each chunk's rows (per month: opening bucket, product, region …) and keep them by month."""
    ev = Events(ctx.writer.path / "_spill" / kind if full else None)
    n = 0
    for ch in chunks:
        if ch.height == 0:
            continue
        n += ch.height
        ch = prepare(ch.with_columns(pl.col(ts).cast(pl.Date).alias("day")))
        ev.index.append(index_part(ch, id_col))
        ch = ch.with_columns(pl.col("day").dt.month_start().alias("month"))
        for (m,), part in ch.group_by("month"):
            ev.add(m, ctx.lk.attach(part.drop("month", id_col, ts), m, cols))
    if full:
        ctx.rows[kind] = n
    return ev


def month_rows(index: pl.DataFrame) -> dict[dt.date, int]:
    """Rows per month of a per-day id index (finish_index)."""
    by = index.group_by(pl.col("day").dt.month_start().alias("m")).agg(pl.col("n").sum())
    return dict(zip(by.get_column("m").to_list(), by.get_column("n").to_list(), strict=True))


def map_months(ctx: SyncContext, fn: Callable[[dt.date], object], months: list[dt.date],
               rows: dict[dt.date, int] | None = None) -> list:
    """fn over the months, `ctx.month_workers` at a time when there are several (Polars releases the GIL) — one at
    a time when a month holds more than ONE_AT_A_TIME_ROWS of the `rows` (events per month)."""
    workers = ctx.month_workers
    if rows and months and max(rows.get(m, 0) for m in months) > ONE_AT_A_TIME_ROWS:
        workers = 1
    if len(months) < 2 or workers < 2:
        return [fn(m) for m in months]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, months))

