"""Money metrics: collected, recovery rate, target achievement with pace, liquidation (vintage)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from queries.dates import (
    CHINA_CALENDAR,
    WorkCalendar,
    month_end,
    month_index,
    month_index_expr,
    month_starts,
)
from queries.filters import Filters
from queries.metrics.base import (
    CASE_DIMS,
    EVENT_DIMS,
    ORG_DIMS,
    MetricError,
    MetricUnavailable,
    check_dims,
    empty,
    finish,
    group,
    money,
    ratio,
    rows,
)
from queries.metrics.declare import metric
from queries.metrics.distinct import distinct_cases
from queries.store import Store

RECOVERY_DIMS = ("month", *ORG_DIMS, *CASE_DIMS)
TARGET_DIMS = ("month", "team_id", "channel")
LIQ_DIMS = ("placed_month", "months_since", *ORG_DIMS, *CASE_DIMS)


@metric("collected", name=("回收金额", "Collected"),
        definition=("期间内还款金额合计", "Sum of payments received in the period"),
        numerator=("期间内还款金额合计", "sum of payments.amount in the period"), denominator=None,
        dims=EVENT_DIMS, unit="money", money_numerator=True)
def collected(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Sum of payments in the period (yuan); extra column `payments` = number of payments."""
    by = check_dims("collected", by, EVENT_DIMS)
    if filters.nothing:
        return empty(by, ["payments"])
    df = rows(store, "payments", filters, by)
    out = group(df, by, [money(pl.col("cents").sum()).alias("numerator"),
                         pl.col("n").sum().cast(pl.Float64).alias("payments")])
    return finish(out.with_columns(pl.col("numerator").alias("value")), by, ["payments"])


@metric("paying_accounts", name=("还款户数", "Paying accounts"),
        definition=("期间内至少有一笔还款的不重复案件数（按日、团队等拆分时各行分别去重，不可相加）",
                    "Distinct cases with at least one payment in the period (each row of a breakdown counts its own "
                    "distinct cases, so rows do not add up to the total)"),
        numerator=("期间内至少有一笔还款的不重复案件数", "distinct cases with at least one payment in the period"),
        denominator=None, dims=EVENT_DIMS, unit="count")
def paying_accounts(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Distinct cases with at least one payment in the period (per row of `by`); extra `payments`.

    Counted from the store's case sets (queries.metrics.distinct): exact for any period and filter, since
    distinct counts do not add up across days, teams or agents.
    """
    by = check_dims("paying_accounts", by, EVENT_DIMS)
    if filters.nothing:
        return empty(by, ["payments"])
    cases = distinct_cases(store, "paying", filters, by, "numerator")
    pays = group(rows(store, "payments", filters, by), by, [pl.col("n").sum().cast(pl.Float64).alias("payments")])
    out = (cases.join(pays, on=list(by), how="left", nulls_equal=True) if by
           else pl.concat([cases, pays], how="horizontal"))
    out = out.with_columns(pl.col("payments").fill_null(0.0))
    return finish(out.with_columns(pl.col("numerator").alias("value")), by, ["payments"])


@metric("recovery_rate", name=("回收率", "Recovery rate"),
        definition=("期间内月初在催案件的还款 ÷ 月初余额（上月末快照余额 + 当月新入催案件委案金额，多月相加）",
                    "Payments in the period on the month's opening cases ÷ opening balance (previous month-end "
                    "snapshot balance of active cases + placed balance of cases placed in the month; months summed)"),
        numerator=("月初在催案件的还款", "payments on opening cases"),
        denominator=("月初余额", "opening balance"), dims=RECOVERY_DIMS, unit="rate", money_numerator=True)
def recovery_rate(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Payments on the month's opening cases ÷ opening balance of the months the period touches."""
    by = check_dims("recovery_rate", by, RECOVERY_DIMS)
    if filters.nothing:
        return empty(by)
    pays = rows(store, "payments", filters, by)
    months = month_starts(filters.start, filters.end)
    opening = rows(store, "opening", filters, by, date_col="month", date_range=(months[0], months[-1]))
    num = group(pays, by, [pl.col("opening_cents").sum().alias("num")])
    den = group(opening, by, [pl.col("cents").sum().alias("den")])
    if by:
        out = num.join(den, on=list(by), how="full", coalesce=True, nulls_equal=True)
    else:
        out = pl.concat([num, den], how="horizontal")
    out = out.with_columns(pl.col("num").fill_null(0), pl.col("den").fill_null(0))
    out = out.select(*by, money(pl.col("num")).alias("numerator"), money(pl.col("den")).alias("denominator"),
                     ratio(pl.col("num"), pl.col("den")).alias("value"))
    return finish(out.sort(list(by), nulls_last=True) if by else out, by)


@metric("target_achievement", name=("达成率", "Target achievement"),
        definition=("当月回收金额 ÷ 团队月度目标；进度 = 达成率 ÷ (已过工作日 ÷ 当月工作日)",
                    "Collected in the month ÷ the team's monthly target; pace = achievement ÷ (elapsed working days "
                    "÷ working days in the month; Mon–Fri minus Chinese public holidays, plus make-up days)"),
        numerator=("当月回收金额", "collected in the month"), denominator=("团队月度目标", "targets.target_amount"),
        dims=TARGET_DIMS, unit="rate", money_numerator=True)
def target_achievement(store: Store, filters: Filters, by: tuple[str, ...] = (),
                       calendar: WorkCalendar = CHINA_CALENDAR) -> pl.DataFrame:
    """Collected ÷ team target per month; `pace` = achievement ÷ share of working days elapsed; `expected` = the
    target × that share (what the team should have collected by the period's end to be on pace)."""
    by = check_dims("target_achievement", by, TARGET_DIMS)
    if not store.manifest.get("has_targets") or not store.has("targets") or store.frame("targets").height == 0:
        raise MetricUnavailable("target achievement needs the optional 'targets' table, which the "
                                "case database does not have (or it is empty)")
    if filters.nothing:
        return empty(by, ["pace", "expected"])
    months = month_starts(filters.start, filters.end)
    pays = rows(store, "payments", filters, ("month", "team_id", "channel"))
    teams = store.frame("teams").select("team_id", "channel")
    targets = store.frame("targets").filter(pl.col("month").is_in(months)).join(teams, on="team_id", how="left")
    if filters.teams:
        targets = targets.filter(pl.col("team_id").is_in(list(filters.teams)))
    if filters.channel:
        targets = targets.filter(pl.col("channel") == filters.channel)
    pays = pays.filter(pl.col("team_id").is_in(targets.get_column("team_id").unique().to_list()))
    if isinstance(pays, pl.LazyFrame):
        pays = pays.collect()
    num = group(pays, by, [pl.col("cents").sum().alias("num")])
    den = group(targets, by, [pl.col("target_cents").sum().alias("den")])
    out = (num.join(den, on=list(by), how="full", coalesce=True) if by
           else pl.concat([num, den], how="horizontal"))
    out = out.with_columns(pl.col("num").fill_null(0), pl.col("den").fill_null(0))

    def elapsed_share(month: dt.date | None) -> float | None:
        span = [month] if month is not None else months
        total = sum(calendar.working_days(m, month_end(m)) for m in span)
        done = sum(calendar.working_days(m, min(month_end(m), filters.end)) for m in span)
        return done / total if total else None

    if "month" in by:  # a native lookup, not a Python UDF (tests/architecture/test_no_python_udfs.py says why)
        shares = {m: elapsed_share(m) for m in out.get_column("month").drop_nulls().unique().to_list()}
        share = pl.col("month").replace_strict(shares, default=None, return_dtype=pl.Float64)
    else:
        share = pl.lit(elapsed_share(None), dtype=pl.Float64)
    out = out.with_columns(ratio(pl.col("num"), pl.col("den")).alias("value"), share.alias("_share"))
    out = out.select(*by, money(pl.col("num")).alias("numerator"), money(pl.col("den")).alias("denominator"),
                     "value", ratio(pl.col("value"), pl.col("_share")).alias("pace"),
                     money((pl.col("den") * pl.col("_share")).round(0)).alias("expected"))
    return finish(out.sort(list(by)) if by else out, by, ["pace", "expected"])


@metric("liquidation", name=("清收率", "Liquidation"),
        definition=("委案后 n 个月内累计还款 ÷ 当月委案金额，按委案月份；未满月的单元格标记为未成熟",
                    "Payments within n months after placement ÷ placed balance of the cases placed that month; "
                    "cells whose month is not complete are flagged immature"),
        numerator=("委案后 n 个月内累计还款", "cumulative payments by months since placement"),
        denominator=("当月委案金额", "placed balance"), dims=LIQ_DIMS, unit="rate", money_numerator=True)
def liquidation(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Cumulative payments n months after placement ÷ placed balance, per placement month."""
    by = check_dims("liquidation", by, LIQ_DIMS)
    by = tuple(dict.fromkeys(("placed_month", "months_since", *by)))
    if filters.nothing:
        return empty(by, ["immature"])
    months = month_starts(filters.start, filters.end)
    rng = (months[0], months[-1])
    place = rows(store, "placements", filters, by, date_col="placed_month", date_range=rng)
    pays = rows(store, "liquidation", filters, by, date_col="placed_month", date_range=rng)
    if isinstance(place, pl.LazyFrame):
        place, pays = place.collect(), pays.collect()
    keys = [d for d in by if d != "months_since"]
    den = place.group_by(keys).agg(pl.col("cents").sum().alias("den"))
    if den.height == 0:
        return empty(by, ["immature"])
    as_of = store.as_of or dt.date.today()
    grid = den.with_columns((pl.lit(month_index(as_of)) - month_index_expr(pl.col("placed_month"))).alias("_max")) \
        .filter(pl.col("_max") >= 0)
    grid = grid.with_columns(pl.int_ranges(0, pl.col("_max") + 1, dtype=pl.Int32).alias("months_since")) \
        .explode("months_since")
    paid = pays.group_by([*keys, "months_since"]).agg(pl.col("cents").sum().alias("paid"))
    out = grid.join(paid.with_columns(pl.col("months_since").cast(pl.Int32)), on=[*keys, "months_since"],
                    how="left", nulls_equal=True).with_columns(pl.col("paid").fill_null(0))
    out = out.sort([*keys, "months_since"], nulls_last=True).with_columns(
        pl.col("paid").cum_sum().over(keys).alias("num"))
    # a cell is immature until the calendar month it measures has fully passed
    cell_month_end = pl.col("placed_month").dt.offset_by(
        pl.format("{}mo", pl.col("months_since") + 1)) - pl.duration(days=1)
    out = out.with_columns((cell_month_end > pl.lit(as_of)).alias("immature"))
    out = out.select(*by, money(pl.col("num")).alias("numerator"), money(pl.col("den")).alias("denominator"),
                     ratio(pl.col("num"), pl.col("den")).alias("value"), "immature")
    return _finish_liq(out, by)


def _finish_liq(out: pl.DataFrame, by: tuple[str, ...]) -> pl.DataFrame:
    return out.select(*by, pl.col("numerator").cast(pl.Float64), pl.col("denominator").cast(pl.Float64),
                      pl.col("value").cast(pl.Float64), "immature").sort(list(by), nulls_last=True)


__all__ = ["MetricError", "collected", "liquidation", "paying_accounts", "recovery_rate", "target_achievement"]
