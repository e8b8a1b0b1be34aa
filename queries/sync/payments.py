"""Payments: daily rollups, liquidation by placement month, and paying case-days (distinct paying accounts)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa

from queries.dates import month_index, month_index_expr, months_of
from queries.frames import summed
from queries.source import contract as S
from queries.source.reader import cents, epoch_of
from queries.store import Watermarks
from queries.sync.context import DIMS, PAY_SCHEMA, SyncContext, concat
from queries.sync.events import affected, collect_events, finish_index, map_months, month_rows
from queries.sync.tables import (
    coarse,
    day_keys,
    keep_case_sets,
    replace_days,
    replace_months,
    write_case_sets,
)

PAY_SUMS = ["n", "cents", "opening_cents"]
PAY_FINE = {"day": pl.Date, **{k: pl.String for k in DIMS}, "n": pl.UInt32, "cents": pl.Int64,
            "opening_cents": pl.Int64}
LIQ_DAILY = {"day": pl.Date, "placed_month": pl.Date, "months_since": pl.Int32, **{k: pl.String for k in DIMS},
             "cents": pl.Int64}
#: paying accounts: one row per (day, case, agent) with payments — distinct counts over any period
PAY_CASE = {"day": pl.Date, "case_id": pl.Int64, **{k: pl.String for k in DIMS}, "n": pl.UInt32,
            "cents": pl.Int64}
#: what each case paid each day (the agency vintages' payments while a holder has the case)
PAID_CASE = {"day": pl.Date, "case_id": pl.Int64, "n": pl.UInt32, "cents": pl.Int64}


def payment_month(ctx: SyncContext, m: dt.date, a: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """One month's attached payment rows → payments_daily, liquidation_daily, paid_case_days, and the paying
    (day, case, agent) rows the month's case sets are made from."""
    lk = ctx.lk
    daily = summed(a, ["day", *DIMS], pl.len().alias("n"), pl.col("cents").sum(),
                   pl.col("cents").filter(pl.col("on_opening")).sum().alias("opening_cents"))
    pm = pl.col("placed_on").dt.month_start()
    liq = a.filter(pl.col("placed_on").is_not_null()).group_by(
        "day", pm.alias("placed_month"),
        (pl.lit(month_index(m)) - month_index_expr(pm)).cast(pl.Int32).alias("months_since"),
        pl.col("case_agent_id").alias("agent_id"),
        ctx.bounds.expr(pl.col("placed_dpd")).alias("bucket"), "product", "region",
    ).agg(pl.col("cents").sum())
    # bucket, product and region are the case's for the month: first() is exact
    paycase = a.group_by("day", "case_id", "agent_id").agg(
        pl.col("bucket", "product", "region").first(), pl.len().alias("n"), pl.col("cents").sum())
    return {"payments_daily": lk.decode(daily).select(*PAY_FINE),
            "liquidation_daily": lk.decode(liq).select(*LIQ_DAILY),
            "paying_case_days": lk.decode(paycase).select(*PAY_CASE),
            "paid_case_days": paycase.group_by("day", "case_id").agg(pl.col("n", "cents").sum()).select(*PAID_CASE)}


def sync_payments(ctx: SyncContext, wm: Watermarks) -> None:
    """Payment rollups: new rows by id; the days they touch are recomputed."""
    p = S.payments.c
    select = sa.select(p.payment_id, p.case_id, p.agent_id, epoch_of(p.paid_at).label("paid_at"),
                       cents(p.amount).label("cents"))
    chunks, days = affected(ctx, "payments", S.payments, "payment_id", "paid_at", select, PAY_SCHEMA, wm, "day",
                            {"paid_at": "paid_at", "case_id": "case_id", "cents": "amount"})
    parted = {"payments_daily": PAY_FINE, "liquidation_daily": LIQ_DAILY, "paid_case_days": PAID_CASE}
    ctx.changed_days["payments"] = days
    if days is not None and not days:
        for name in ("liquidation_agent", "base/payments_days"):
            ctx.writer.keep(name)
        for name in (*parted, "payments_agent"):
            ctx.writer.keep_parts(name, set())
        keep_case_sets(ctx, "paying", set())
        return
    ev = collect_events(ctx, "payments", chunks, "paid_at", "payment_id", lambda c: c,
                        ("product", "region", "placed_on", "placed_dpd", "case_agent_id"), days is None)
    idx = finish_index(ctx, "payments", ev, days, "day")
    todo = months_of(days if days is not None else idx.get_column("day").to_list())
    for name, schema in parted.items():
        ctx.writer.keep_parts(name, day_keys(days))
        ctx.writer.put_parts(name, pl.DataFrame(schema=schema))
    keep_case_sets(ctx, "paying", {f"{m:%Y-%m}" for m in todo})
    have = set(ev.months())

    def month(m: dt.date) -> pl.DataFrame:
        out = payment_month(ctx, m, ev.take(m))
        write_case_sets(ctx, "paying", m, out.pop("paying_case_days"), days)
        for name, df in out.items():
            ctx.writer.put_parts(name, df, schema_file=False)
        return coarse(out["payments_daily"], ("product", "region"), PAY_SUMS)

    agent_parts = map_months(ctx, month, [m for m in todo if m in have], month_rows(idx))
    liq_parts = []
    for m in todo:
        # the month's liquidation from all its days (the recomputed ones are now on disk)
        month_liq = pl.scan_parquet(sorted((ctx.writer.path / "liquidation_daily").glob(f"{m:%Y-%m}-??.parquet"))
                                    or [ctx.writer.path / "liquidation_daily" / "_schema.parquet"]).collect()
        liq_parts.append(coarse(month_liq.drop("day"), ("product", "region"), ["cents"]))
    replace_days(ctx, "payments_agent", concat(agent_parts, {k: v for k, v in PAY_FINE.items()
                                                             if k not in ("product", "region")}), days)
    lschema = {k: v for k, v in LIQ_DAILY.items() if k not in ("day", "product", "region")}
    paid_month = pl.col("placed_month").dt.offset_by(pl.format("{}mo", pl.col("months_since")))
    replace_months(ctx, "liquidation_agent", concat(liq_parts, lschema), paid_month,
                   set(todo) if days is not None else None, "placed_month")


