"""Contacts: effort and result sums, the hourly view, worked case-days and months, and call case-days with the
frequency limits applied."""

from __future__ import annotations

import contextlib
import datetime as dt
from concurrent.futures import Future, ThreadPoolExecutor

import polars as pl
import sqlalchemy as sa

from queries.dates import months_of
from queries.frames import summed
from queries.metrics.contact import over_frequency_breach
from queries.source import contract as S
from queries.source.reader import epoch_of
from queries.store import Watermarks
from queries.sync import compliance
from queries.sync.contact_codes import REST_SHIFT, code_column, unpack
from queries.sync.context import (
    B_ATTEMPT,
    B_CALL,
    B_CONNECTED,
    B_NO_CONSENT,
    B_PTP,
    B_RPC,
    B_UNANSWERED,
    CONTACT_SCHEMA,
    DIMS,
    SyncContext,
    concat,
)
from queries.sync.events import affected, collect_events, finish_index, map_months, month_rows
from queries.sync.tables import (
    coarse,
    day_keys,
    keep_case_sets,
    replace_days,
    write_case_sets,
)

SUMS = ["n", "attempts", "connected", "rpc", "ptp", "messages"]
C_FINE = {"day": pl.Date, **{k: pl.String for k in DIMS}, **{k: pl.UInt32 for k in [*SUMS, "after_hours"]}}
C_HOURLY = {"day": pl.Date, "hour": pl.Int8, "agent_id": pl.String,
            **{k: pl.UInt32 for k in [*SUMS, "attempts_no_consent"]}}
C_CALLDAY = {"day": pl.Date, "case_id": pl.Int64, **{k: pl.String for k in DIMS}, "calls": pl.UInt32,
             "connected_calls": pl.UInt32, "max_unanswered_phone": pl.UInt32}


def contact_select(optional: set[str] | None = None, kind: str = "sqlite", channels: set[str] | None = None) -> sa.Select:
    """Contact rows with their classifications as codes packed into `k` (integers travel fast; see contact_codes),
    with the compliance stage's optional-column bits above them (optional contract columns when present, None: no
    compliance stage; `channels` the ones the checks name; see compliance.q_columns)."""
    c = S.contacts.c
    k = code_column(channels)
    rest = compliance.q_columns(optional, kind) if optional is not None else None
    if rest is not None:
        k = k + rest * REST_SHIFT
    return sa.select(c.contact_id, c.case_id, c.agent_id, epoch_of(c.contacted_at).label("contacted_at"),
                     k.label("k"), sa.case((c.channel == "call", c.phone_no), else_=None).label("phone_no"))


def contact_month(ctx: SyncContext, m: dt.date, a: pl.DataFrame, days: set[dt.date] | None,
                  breach: pl.Expr, beside: ThreadPoolExecutor | None = None
                  ) -> tuple[pl.DataFrame, pl.DataFrame, Future | None]:
    """One month's attached contact rows → every contact table of the month, each written as soon as it is
    made (the peak holds one of them, not all); returns the in-memory parts (agents, calls) and, with `beside`, the
    month's case sets being written there."""
    lk = ctx.lk
    k = pl.col("k")
    if ctx.compliance is not None:
        # sorted once, in place of the month's rows: judging needs the order, the rollups below do not mind it,
        # and the unsorted frame is freed before judging (one month frame less at the peak)
        a = compliance.sort_for_judging(a, m)
        ctx.compliance.add(m, compliance.judge(ctx.compliance, a, lk.decode, m, days is not None), days is not None)
        a = a.drop("q", "ch", "sec", "cid")

    def has(bit: int) -> pl.Expr:
        return (k & bit) > 0

    def put(name: str, df: pl.DataFrame, date_col: str = "day") -> None:
        ctx.writer.put_parts(name, df, date_col=date_col, schema_file=False)

    after = pl.col("hour").is_in(list(ctx.rules.after_hours()))
    sums = [pl.len().alias("n"), has(B_ATTEMPT).sum().alias("attempts"), has(B_CONNECTED).sum().alias("connected"),
            has(B_RPC).sum().alias("rpc"), has(B_PTP).sum().alias("ptp"), (~has(B_ATTEMPT)).sum().alias("messages")]
    fine = lk.decode(summed(a, ["day", *DIMS], *sums, (has(B_NO_CONSENT) & after).sum().alias("after_hours")))
    put("contacts_daily", fine.select(*C_FINE))
    agent_part = coarse(fine.drop("product", "region"), (), [*SUMS, "after_hours"])
    del fine
    put("contacts_hourly", summed(a, ["day", "hour", "agent_id"], *sums,
                                  has(B_NO_CONSENT).sum().alias("attempts_no_consent")).select(*C_HOURLY))
    phone = summed(summed(a.filter(has(B_UNANSWERED)), ["day", "case_id", "phone_no"], pl.len().alias("unanswered")),
                   ["day", "case_id"], pl.col("unanswered").max().alias("max_unanswered_phone"))
    # bucket, product and region are the case's for the month: first() is exact; they stay codes (a byte, a
    # category) through the sort and grouping below and are decoded as each table is written
    case_days = a.filter(has(B_ATTEMPT)).group_by("day", "case_id", "agent_id").agg(
        pl.col("bucket", "product", "region").first(), pl.len().alias("attempts"), has(B_CALL).sum().alias("calls"),
        (has(B_CALL) & has(B_CONNECTED)).sum().alias("connected_calls"))
    del a
    # one row per (case, day) with calls; it belongs to the agent who made most of them (ties: lowest id), chosen
    # inside each group (sorting the month's case-days first cost 3× more)
    call_days = case_days.filter(pl.col("calls") > 0).group_by("day", "case_id").agg(
        pl.col("agent_id").sort_by(["calls", "agent_id"], descending=[True, False]).first(),
        pl.col("bucket", "product", "region").first(), pl.col("calls").sum(), pl.col("connected_calls").sum(),
    ).join(phone, on=["day", "case_id"], how="left").with_columns(
        pl.col("max_unanswered_phone").fill_null(0).cast(pl.UInt32)).sort("day", "case_id")
    del phone
    call_days = lk.decode(call_days).select(*C_CALLDAY)
    put("call_case_days", call_days)
    call_part = call_days.group_by("day", "agent_id", "bucket").agg(
        pl.len().alias("case_days"), breach.sum().alias("breaches"))
    del call_days
    # distinct worked cases: the month's case sets (day × agent bitmaps and their unions)
    sets = lk.decode(case_days.select("day", "case_id", *DIMS))
    if beside is not None:
        return agent_part, call_part, beside.submit(write_case_sets, ctx, "worked", m, sets, days)
    write_case_sets(ctx, "worked", m, sets, days)
    return agent_part, call_part, None


def prepare_contacts(c: pl.DataFrame) -> pl.DataFrame:
    """Hour of day and the narrow bit columns, before attaching; the second of the day and the id (as `cid`,
    which attaching keeps) for the compliance checks."""
    # the second of the day from the naive epoch (one integer operation; hour/minute/second extraction cost 2.5×)
    sec = (pl.col("contacted_at").dt.epoch("s") % 86_400).cast(pl.Int32)
    return c.with_columns(sec.alias("sec")).with_columns(
        (pl.col("sec") // 3600).cast(pl.Int8).alias("hour"), *unpack(pl.col("k")),
        pl.col("contact_id").alias("cid"))


def sync_contacts(ctx: SyncContext, wm: Watermarks) -> None:
    """Contact rollups: new rows by id; the days they touch are recomputed."""
    optional = ctx.compliance.optional if ctx.compliance is not None else None
    channels = compliance.exempt_channels(ctx.compliance.pack) if ctx.compliance is not None else None
    select = contact_select(optional, ctx.reader.kind, channels)
    chunks, days = affected(ctx, "contacts", S.contacts, "contact_id", "contacted_at", select,
                            CONTACT_SCHEMA, wm, "day", {"contacted_at": "contacted_at", "case_id": "case_id"})
    parted = {"contacts_daily": C_FINE, "contacts_hourly": C_HOURLY, "call_case_days": C_CALLDAY}
    if days is not None and not days:
        ctx.writer.keep("base/contacts_days")
        for name in (*parted, "contacts_agent", "calls_agent", *compliance.TABLES):
            ctx.writer.keep_parts(name, set())
        keep_case_sets(ctx, "worked", set())
        return
    def prepare(c: pl.DataFrame) -> pl.DataFrame:
        c = prepare_contacts(c)
        if ctx.compliance is not None:
            c = compliance.mark_debtor_calls(ctx, c)
        # the number is kept for the unanswered calls only (their cap counts per number)
        return c.with_columns(pl.when((pl.col("k") & B_UNANSWERED) > 0).then(pl.col("phone_no")).alias("phone_no"))

    ev = collect_events(ctx, "contacts", chunks, "contacted_at", "contact_id", prepare,
                        ("product", "region"), days is None)
    idx = finish_index(ctx, "contacts", ev, days, "day")
    todo = months_of(days if days is not None else idx.get_column("day").to_list())
    for name, schema in parted.items():
        ctx.writer.keep_parts(name, day_keys(days))
        ctx.writer.put_parts(name, pl.DataFrame(schema=schema))
    keep_case_sets(ctx, "worked", {f"{m:%Y-%m}" for m in todo})
    breach = over_frequency_breach(ctx.rules)

    have = set(ev.months())
    months = [m for m in todo if m in have]
    if ctx.compliance is not None:
        ctx.compliance.expected = months
    # a new day's worked case sets (the previous month file decoded, merged and written again: a third of the
    # stage) are written on a thread while the compliance checks read the third-party history on the main one;
    # where there are several months (a full sync, days across a month's end) each keeps its memory to itself
    with ThreadPoolExecutor(max_workers=1) if days is not None and len(months) == 1 else \
            contextlib.nullcontext() as beside:

        def month(m: dt.date) -> tuple[pl.DataFrame, pl.DataFrame, Future | None]:
            return contact_month(ctx, m, ev.take(m), days, breach, beside)

        results = map_months(ctx, month, months, month_rows(idx))
        agent_parts, call_parts, writing = (list(x) for x in zip(*results, strict=True)) if results else ([], [], [])
        aschema = {k: v for k, v in C_FINE.items() if k not in ("product", "region")}
        replace_days(ctx, "contacts_agent", concat(agent_parts, aschema), days)
        replace_days(ctx, "calls_agent", concat(call_parts, {"day": pl.Date, "agent_id": pl.String,
                                                             "bucket": pl.String, "case_days": pl.UInt32,
                                                             "breaches": pl.UInt32}), days)
        if ctx.compliance is not None:
            compliance.finish(ctx, ctx.compliance, days)
        for w in writing:
            if w is not None:
                w.result()

