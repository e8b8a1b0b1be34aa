"""Effort and compliance metrics: contact, RPC, PTP, PTP kept, after-hours and over-frequency rates."""

from __future__ import annotations

import polars as pl

from queries.filters import Filters
from queries.metrics._base import (
    CASE_DIMS, EVENT_DIMS, MetricError, add_dims, check_dims, empty, filter_frame, finish, group, money,
    needs_full_grain, ratio, rows,
)
from queries.rules import DEFAULT_RULES, RuleSet
from queries.store import Store

CONTACT_DIMS = (*EVENT_DIMS, "hour")


def _contacts(store: Store, filters: Filters, by: tuple[str, ...], hourly: bool = False) -> pl.DataFrame:
    if not (hourly or "hour" in by):
        return rows(store, "contacts", filters, by)
    # the hourly rollup is per agent only, to stay small: no bucket/product/region there
    if filters.buckets or filters.products or filters.regions or set(by) & set(CASE_DIMS):
        raise MetricError("the hour-of-day breakdown is by day, hour and agent only; clear the bucket, "
                          "product and region selections")
    hourly_rows = store.scan("contacts_hourly", filters.start, filters.end)
    return add_dims(store, filter_frame(store, hourly_rows, filters, case_dims=False), by)


def _rate(metric: str, store: Store, filters: Filters, by: tuple[str, ...], num: pl.Expr,
          den: pl.Expr, hourly: bool = False) -> pl.DataFrame:
    by = check_dims(metric, by, CONTACT_DIMS)
    if filters.nothing:
        return empty(by)
    out = group(_contacts(store, filters, by, hourly), by, [num.alias("numerator"), den.alias("denominator")])
    return finish(out.with_columns(ratio(pl.col("numerator"), pl.col("denominator")).alias("value")), by)


def contact_rate(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Attempts whose outcome is not no_answer, busy or wrong_number ÷ attempts."""
    return _rate("contact_rate", store, filters, by, pl.col("connected").sum(), pl.col("attempts").sum())


def rpc_rate(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Right-party attempts (debtor reached: rpc, ptp, refused, dispute, hardship, callback) ÷ attempts."""
    return _rate("rpc_rate", store, filters, by, pl.col("rpc").sum(), pl.col("attempts").sum())


def ptp_rate(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Attempts with outcome ptp ÷ right-party attempts."""
    return _rate("ptp_rate", store, filters, by, pl.col("ptp").sum(), pl.col("rpc").sum())


def after_hours_rate(store: Store, filters: Filters, by: tuple[str, ...] = (),
                     rules: RuleSet = DEFAULT_RULES) -> pl.DataFrame:
    """Attempts in the after-hours window without the debtor's consent ÷ attempts."""
    hours = list(rules.after_hours())
    if hours == list(store.manifest.get("after_hours", [])) and "hour" not in by:
        num = pl.col("after_hours").sum()  # counted at sync time with this same window
        return _rate("after_hours_rate", store, filters, by, num, pl.col("attempts").sum())
    num = pl.col("attempts_no_consent").filter(pl.col("hour").is_in(hours)).sum()
    return _rate("after_hours_rate", store, filters, by, num, pl.col("attempts").sum(), hourly=True)


def ptp_kept_rate(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Promises due in the period that were kept ÷ those kept, partial or broken; `pending` apart."""
    by = check_dims("ptp_kept_rate", by, EVENT_DIMS)
    if filters.nothing:
        return empty(by, ["pending", "due_amount"])
    df = rows(store, "promises", filters, by, future_rows=True)
    st = pl.col("status")
    out = group(df, by, [
        pl.col("n").filter(st == "kept").sum().alias("numerator"),
        pl.col("n").filter(st.is_in(["kept", "partial", "broken"])).sum().alias("denominator"),
        pl.col("n").filter(st == "pending").sum().cast(pl.Float64).alias("pending"),
        money(pl.col("cents").sum()).alias("due_amount"),
    ])
    out = out.with_columns(ratio(pl.col("numerator"), pl.col("denominator")).alias("value"))
    return finish(out, by, ["pending", "due_amount"])


def over_frequency(store: Store, filters: Filters, by: tuple[str, ...] = (),
                   rules: RuleSet = DEFAULT_RULES) -> pl.DataFrame:
    """Case-days breaching the call limits ÷ case-days with any call (case-day → agent with most calls)."""
    by = check_dims("over_frequency", by, EVENT_DIMS)
    if filters.nothing:
        return empty(by)
    limits = [rules.max_unanswered_per_phone_day, rules.max_connected_per_case_day]
    if limits == store.manifest.get("limits") and not needs_full_grain(filters, by):
        df = rows(store, "calls", filters, by)  # breaches counted at sync time with these limits
        aggs = [pl.col("breaches").sum().alias("numerator"), pl.col("case_days").sum().alias("denominator")]
    else:
        df = rows(store, "calls", filters, by, force_full=True)
        breach = ((pl.col("max_unanswered_phone") > limits[0]) | (pl.col("connected_calls") > limits[1]))
        aggs = [breach.sum().alias("numerator"), pl.len().alias("denominator")]
    out = group(df, by, aggs)
    return finish(out.with_columns(ratio(pl.col("numerator"), pl.col("denominator")).alias("value")), by)
