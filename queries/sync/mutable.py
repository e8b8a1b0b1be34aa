"""Promises (by updated_at) and complaints (read whole, attached only when new or changed)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa

from queries.source import contract as S
from queries.source.reader import cents, require
from queries.store import Watermarks
from queries.sync.compliance import complaint_columns
from queries.sync.context import COMPLAINT_SCHEMA, DIMS, PROMISE_SCHEMA, US, SyncContext
from queries.sync.tables import coarse

PROMISE_BASE = {**PROMISE_SCHEMA, "bucket": pl.String, "product": pl.String, "region": pl.String}


def sync_promises(ctx: SyncContext, wm: Watermarks) -> None:
    """Promises changed since the watermark replace their previous rows; the due days they touch are recomputed."""
    p = S.promises.c
    select = sa.select(p.promise_id, p.case_id, p.agent_id, p.promised_at, p.due_on,
                       cents(p.amount).label("cents"), p.status, p.updated_at)
    prev_file = ctx.prev / "base" / "promises.parquet" if ctx.prev is not None else None
    since = wm.promises_updated_at
    incremental = prev_file is not None and prev_file.is_file() and since is not None
    if incremental:
        select = select.where(p.updated_at >= dt.datetime.fromisoformat(since))
    changed = require(ctx.reader.read(select, PROMISE_SCHEMA), "promises", "promise_id",
                      {"promised_at": "promised_at", "due_on": "due_on", "cents": "amount", "updated_at": "updated_at"})
    if incremental:  # updated_at >= watermark re-reads the last rows: drop those unchanged
        ids = changed.get_column("promise_id").unique()
        same = pl.scan_parquet(prev_file).filter(pl.col("promise_id").is_in(ids.implode())).select(
            *PROMISE_SCHEMA).collect()
        changed = changed.join(same, on=list(PROMISE_SCHEMA), how="anti", nulls_equal=True)
    ctx.rows["promises"] = changed.height
    if incremental and changed.height == 0:
        for name in ("base/promises", "promises_daily", "promises_agent", "promise_pipeline"):
            ctx.writer.keep(name)
        return
    prev = pl.read_parquet(prev_file) if incremental else None
    changed = ctx.attach(changed, "promised_at").select(*PROMISE_BASE) if changed.height else \
        pl.DataFrame(schema=PROMISE_BASE)
    days = None
    if incremental:
        old = prev.join(changed.select("promise_id"), on="promise_id", how="semi")
        days = set(pl.concat([old.get_column("due_on"), changed.get_column("due_on")]).unique().to_list())
        base = pl.concat([prev.join(changed.select("promise_id"), on="promise_id", how="anti"),
                          changed.select(prev.columns)], how="vertical_relaxed")
    else:
        base = changed
    ctx.writer.put("base/promises", base)
    if base.height:
        wm.promises_updated_at = base.get_column("updated_at").max().isoformat()
    ctx.writer.put("promise_pipeline", promise_pipeline(base))
    src = base if days is None else base.filter(pl.col("due_on").is_in(list(days)))
    daily = src.group_by(pl.col("due_on").alias("day"), "status", *DIMS).agg(
        pl.len().alias("n"), pl.col("cents").sum())
    for name, df in (("promises_daily", daily), ("promises_agent", coarse(daily, ("product", "region"),
                                                                           ["n", "cents"]))):
        prev_df = ctx.prev_frame(name) if days is not None else None
        if prev_df is not None:
            df = pl.concat([prev_df.filter(~pl.col("day").is_in(list(days))), df.select(prev_df.columns)],
                           how="vertical_relaxed")
        ctx.writer.put(name, df.sort("day"))


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

