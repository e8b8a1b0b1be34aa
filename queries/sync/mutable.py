"""Promises (by updated_at) and complaints (read whole, attached only when new or changed)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa

from queries.dates import month_start
from queries.source import contract as S
from queries.source.reader import cents, require
from queries.store import Watermarks
from queries.sync.compliance import complaint_columns
from queries.sync.context import (
    COMPLAINT_SCHEMA,
    DIMS,
    PROMISE_SCHEMA,
    US,
    SyncContext,
    capped,
    latest_stamp,
    stamp_now,
)
from queries.sync.events import Events, read_all
from queries.sync.tables import coarse, replace_days

PROMISE_BASE = {**PROMISE_SCHEMA, "bucket": pl.String, "product": pl.String, "region": pl.String}
PROMISE_REQUIRED = {"promised_at": "promised_at", "due_on": "due_on", "cents": "amount", "updated_at": "updated_at"}
#: the promise tables, each one file per due month: a day's changes rewrite the months they touch
PROMISE_TABLES = ("base/promises", "promises_daily", "promises_agent", "promise_pipeline")


def sync_promises(ctx: SyncContext, wm: Watermarks) -> None:
    """Promises changed since the watermark replace their previous rows; the due months they touch are rewritten
    (base rows, pipeline), and in them the due days they touch recomputed (daily status rollups)."""
    p = S.promises.c
    select = sa.select(p.promise_id, p.case_id, p.agent_id, p.promised_at, p.due_on,
                       cents(p.amount).label("cents"), p.status, p.updated_at)
    since = wm.promises_updated_at
    # an older store's single files: read every promise again (once)
    incremental = ctx.prev is not None and since is not None and all((ctx.prev / n).is_dir() for n in PROMISE_TABLES)
    if not incremental:
        _all_promises(ctx, select, wm)
        return
    select = select.where(p.updated_at >= dt.datetime.fromisoformat(since))
    changed = require(ctx.reader.read(select, PROMISE_SCHEMA), "promises", "promise_id", PROMISE_REQUIRED)
    old = pl.DataFrame(schema=PROMISE_BASE)
    if incremental:  # updated_at >= watermark re-reads the last rows: drop those unchanged
        ids = changed.get_column("promise_id").unique()
        old = pl.scan_parquet(ctx.prev / "base" / "promises" / "*.parquet").filter(
            pl.col("promise_id").is_in(ids.implode())).collect()
        changed = changed.join(old.select(*PROMISE_SCHEMA), on=list(PROMISE_SCHEMA), how="anti", nulls_equal=True)
        old = old.join(changed.select("promise_id"), on="promise_id", how="semi")  # the rows being replaced
    ctx.rows["promises"] = changed.height
    if incremental and changed.height == 0:
        for name in PROMISE_TABLES:
            ctx.writer.keep_parts(name, set())
        return
    changed = ctx.attach(changed, "promised_at").select(*PROMISE_BASE) if changed.height else \
        pl.DataFrame(schema=PROMISE_BASE)
    wm.promises_updated_at = latest_stamp(changed, since)
    days = set(pl.concat([old.get_column("due_on"), changed.get_column("due_on")]).unique().to_list())
    months = {month_start(d) for d in days}
    ctx.writer.keep_parts("base/promises", {f"{m:%Y-%m}" for m in months})
    parts = []
    for m in sorted(months):
        file = ctx.prev / "base" / "promises" / f"{m:%Y-%m}.parquet"
        prev = pl.read_parquet(file).join(changed.select("promise_id"), on="promise_id", how="anti") \
            if file.is_file() else pl.DataFrame(schema=PROMISE_BASE)
        parts.append(pl.concat([prev, changed.filter(pl.col("due_on").dt.month_start() == m).select(prev.columns)],
                               how="vertical_relaxed"))
    touched = pl.concat(parts, how="vertical_relaxed")
    ctx.writer.put_parts("base/promises", touched, date_col="due_on")
    _promise_rollups(ctx, touched, days)


def _all_promises(ctx: SyncContext, select: sa.Select, wm: Watermarks) -> None:
    """A full sync's promises: read in id chunks, attached, kept on disk by due month, and each due month's tables
    made from its own rows — memory bounded by a chunk and a due month, not by every promise (8M at 5× bank
    scale, ~4 GB attached and partitioned at once)."""
    # the chunks are several statements, not one snapshot: the watermark is the latest stamp when the read began,
    # so a promise written meanwhile (a new id past `hi`, or a stamp older than one read in a later chunk) is read
    # again by the next sync instead of being passed over
    until = stamp_now(ctx.reader, S.promises.c.updated_at)
    held = Events(ctx.writer.path / "_spill" / "promises")
    rows, stamp = 0, None
    for chunk in read_all(ctx, S.promises, "promise_id", select, PROMISE_SCHEMA, required=PROMISE_REQUIRED):
        rows += chunk.height
        stamp = latest_stamp(chunk, stamp)
        chunk = ctx.attach(chunk, "promised_at").select(*PROMISE_BASE)
        chunk = chunk.with_columns(pl.col("due_on").dt.month_start().alias("_m"))
        for (m,), part in chunk.partition_by("_m", as_dict=True, include_key=False).items():
            held.add(m, part)
    ctx.rows["promises"] = rows
    wm.promises_updated_at = capped(stamp, until)
    empty = pl.DataFrame(schema=PROMISE_BASE)
    ctx.writer.put_parts("base/promises", empty, date_col="due_on")
    _promise_rollups(ctx, empty, None)  # every table's folder and schema, with or without promises
    for m in held.months():
        due = held.take(m)
        ctx.writer.put_parts("base/promises", due, date_col="due_on", schema_file=False)
        _promise_rollups(ctx, due, None)


def _promise_rollups(ctx: SyncContext, base: pl.DataFrame, days: set[dt.date] | None) -> None:
    """promise_pipeline and the daily status rollups from the base rows of the due months recomputed (all when
    `days` is None; else the months of `days`, whose other months are the previous version's)."""
    pipeline = promise_pipeline(base)
    if days is not None:  # the other due months' files are the previous version's
        ctx.writer.keep_parts("promise_pipeline", {f"{month_start(d):%Y-%m}" for d in days})
        base = base.filter(pl.col("due_on").is_in(list(days)))
    ctx.writer.put_parts("promise_pipeline", pipeline)
    daily = base.group_by(pl.col("due_on").alias("day"), "status", *DIMS).agg(
        pl.len().alias("n"), pl.col("cents").sum())
    replace_days(ctx, "promises_daily", daily, days)
    replace_days(ctx, "promises_agent", coarse(daily, ("product", "region"), ["n", "cents"]), days)


def promise_pipeline(base: pl.DataFrame) -> pl.DataFrame:
    """Promises by due day and the day they were made (one made before the due month counts from its eve), so the
    landing forecast can tell, for any day, which promises were made by then and fall due later in the month
    (whatever became of them: their status is in promises_agent)."""
    due = pl.col("due_on")
    eve = due.dt.month_start() - pl.duration(days=1)
    made = pl.max_horizontal(pl.col("promised_at").dt.date(), eve).alias("made")
    return (base.group_by(due.alias("day"), made, "agent_id", "bucket")
            .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("cents").sum()).sort("day", "made"))


COMPLAINT_STORE = {"complaint_id": pl.Int64, "case_id": pl.Int64, "day": pl.Date, **{k: pl.String for k in DIMS},
                   "received_at": US, "source": pl.String, "category": pl.String, "severity": pl.String,
                   "status": pl.String, "resolved_at": US, "substantiated": pl.Boolean, "updated_at": US}


def sync_complaints(ctx: SyncContext) -> None:
    """Complaints are few: read them all, but work out the bucket only for new or changed ones."""
    rows = require(ctx.reader.read(sa.select(*S.complaints.c), COMPLAINT_SCHEMA), "complaints", "complaint_id",
                   {"received_at": "received_at", "updated_at": "updated_at"})
    prev = ctx.prev_frame("complaints")
    same = pl.DataFrame(schema=COMPLAINT_STORE)
    if prev is not None and "updated_at" in prev.columns:
        same = prev.join(rows.select("complaint_id", "updated_at"), on=["complaint_id", "updated_at"], how="semi")
        rows = rows.join(same.select("complaint_id"), on="complaint_id", how="anti")
    ctx.rows["complaints"] = rows.height
    if rows.height:
        rows = ctx.attach(rows, "received_at").with_columns(pl.col("received_at").cast(pl.Date).alias("day"))
        rows = rows.select(*COMPLAINT_STORE)
    else:
        rows = pl.DataFrame(schema=COMPLAINT_STORE)
    out = pl.concat([same.select(*COMPLAINT_STORE), rows], how="vertical_relaxed").sort("day")
    ctx.writer.put("complaints", complaint_columns(ctx, out))

