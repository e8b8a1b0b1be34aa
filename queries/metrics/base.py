"""Shared plumbing of the metric functions: filtering rollups, adding dimensions, ratios."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import polars as pl

from queries.dates import month_end, month_start
from queries.errors import DataUnavailable, UserError
from queries.filters import Filters
from queries.store import Store
from queries.store.catalogue import FAMILIES, month_view_name
from queries.store.versions import month_view

TIME_DIMS = ("day", "week", "month")
ORG_DIMS = ("team_id", "agent_id", "channel")
CASE_DIMS = ("bucket", "product", "region")
EVENT_DIMS = TIME_DIMS + ORG_DIMS + CASE_DIMS
RESULT = ("numerator", "denominator", "value")


class MetricError(UserError):
    """The request cannot be answered as asked (unknown dimension, bad option); one line for the user."""


class MetricUnavailable(DataUnavailable):
    """The data the metric needs is not in the source (e.g. the optional targets table)."""


#: Why a metric cannot be shown when its source table holds no rows, in Chinese and English.
NO_RECORDS = {
    "contacts": ("案件库中没有催收行动记录（`contacts` 表为空）", "this database holds no contact records (the `contacts` "
                 "table is empty)"),
    "promises": ("案件库中没有还款承诺记录（`promises` 表为空）", "this database holds no promise-to-pay records (the "
                 "`promises` table is empty)"),
    "complaints": ("案件库中没有投诉记录（`complaints` 表为空）", "this database holds no complaint records (the "
                   "`complaints` table is empty)"),
}
#: Why a compliance figure cannot be shown from a store built before the compliance checks, in Chinese and English.
BEFORE_COMPLIANCE = ("分析库建于合规检查之前，请运行 `collections-dashboard sync --full`。",
                     "this store was built before the compliance checks; run `collections-dashboard sync --full`")


def before_compliance() -> MetricUnavailable:
    """The error for a compliance figure asked of a store built before the compliance checks."""
    return MetricUnavailable(BEFORE_COMPLIANCE[1], zh=BEFORE_COMPLIANCE[0])


def memoised(store: Store, key: tuple, make: Callable[[], Any], keep: int = 32) -> Any:
    """store.memo's value for `key`, made by `make` when missing (once, however many threads ask); of the keys of
    the same kind (key[0]) only the `keep` last used are kept, so that a version served all day does not keep every
    filter a viewer tried."""
    return store.kept(key[0], key, make, keep)


def require(store: Store, source_table: str) -> None:
    """Raise MetricUnavailable when the source table held no rows at all: its metrics would show zeros that look
    real (e.g. a database imported from month-end status files has no contacts, promises or complaints)."""
    if not store.holds(source_table):
        zh, en = NO_RECORDS[source_table]
        raise MetricUnavailable(en, zh=zh)


def check_dims(metric: str, by: Iterable[str], allowed: Iterable[str]) -> tuple[str, ...]:
    """Validate `by` against the dimensions a metric supports."""
    by = tuple(by)
    allowed = tuple(allowed)
    for d in by:
        if d not in allowed:
            raise MetricError(f"{metric} cannot be broken down by {d!r}; use one of {', '.join(allowed)}")
    if len(set(by)) != len(by):
        raise MetricError(f"dimension repeated in {','.join(by)}")
    return by


def agent_dim(store: Store) -> pl.DataFrame:
    """agent_id → team_id, channel (current mapping), cached on the store."""
    cached = store.frames.get("_agent_dim")
    if cached is None:
        teams = store.frame("teams").select("team_id", "channel")
        cached = store.frame("agents").select("agent_id", "team_id").join(teams, on="team_id", how="left")
        store.frames["_agent_dim"] = cached
    return cached


def allowed_agents(store: Store, f: Filters) -> list[str] | None:
    """Agent ids the team/agent/channel filters allow, or None when they do not restrict."""
    if not (f.teams or f.agents or f.channel):
        return None
    a = agent_dim(store)
    if f.teams:
        a = a.filter(pl.col("team_id").is_in(list(f.teams)))
    if f.agents:
        a = a.filter(pl.col("agent_id").is_in(list(f.agents)))
    if f.channel:
        a = a.filter(pl.col("channel") == f.channel)
    return a.get_column("agent_id").to_list()


def filter_frame(store: Store, df: pl.DataFrame, f: Filters, *, date_col: str | None = "day",
                 date_range: tuple[dt.date, dt.date] | None = None, bucket_col: str = "bucket",
                 case_dims: bool = True) -> pl.DataFrame:
    """Rows inside the period and the dimension selections."""
    preds = []
    if date_col is not None:
        lo, hi = date_range or (f.start, f.end)
        preds.append(pl.col(date_col).is_between(lo, hi))
    agents = allowed_agents(store, f)
    if agents is not None:
        preds.append(pl.col("agent_id").is_in(agents))
    if case_dims:
        if f.buckets:
            preds.append(pl.col(bucket_col).is_in(list(f.buckets)))
        if f.products:
            preds.append(pl.col("product").is_in(list(f.products)))
        if f.regions:
            preds.append(pl.col("region").is_in(list(f.regions)))
    return df.filter(*preds) if preds else df


def add_dims(store: Store, df: pl.DataFrame, by: Iterable[str], date_col: str = "day") -> pl.DataFrame:
    """Add the time and organisation dimension columns named in `by`."""
    by = tuple(by)
    exprs = []
    if "day" in by and date_col != "day":
        exprs.append(pl.col(date_col).alias("day"))
    if "week" in by:
        exprs.append(pl.col(date_col).dt.truncate("1w").alias("week"))
    if "month" in by and date_col != "month":
        exprs.append(pl.col(date_col).dt.month_start().alias("month"))
    if exprs:
        df = df.with_columns(exprs)
    cols = df.collect_schema().names() if isinstance(df, pl.LazyFrame) else df.columns
    need = [c for c in ("team_id", "channel") if c in by and c not in cols]
    if need:
        dim = agent_dim(store).select("agent_id", *need)
        df = df.join(dim.lazy() if isinstance(df, pl.LazyFrame) else dim, on="agent_id", how="left")
    return df


def ratio(num: pl.Expr, den: pl.Expr, scale: float = 1.0) -> pl.Expr:
    """num / den × scale, null when the denominator is zero or null."""
    return pl.when(den > 0).then(num.cast(pl.Float64) / den.cast(pl.Float64) * scale).otherwise(None)


def money(cents: pl.Expr) -> pl.Expr:
    """Integer cents as yuan (Float64); exact to the cent once rounded to 2 decimals."""
    return (cents.cast(pl.Float64) / 100.0).round(2)  # round: x/100 may come out as x*0.01


def group(df: pl.DataFrame, by: tuple[str, ...], aggs: list[pl.Expr]) -> pl.DataFrame:
    """group_by that also works for an empty `by` (one total row); collects a LazyFrame."""
    out = df.group_by(list(by)).agg(aggs).sort(list(by), nulls_last=True) if by else df.select(aggs)
    return out.collect() if isinstance(out, pl.LazyFrame) else out


def finish(df: pl.DataFrame, by: tuple[str, ...], extra: Iterable[str] = ()) -> pl.DataFrame:
    """Columns in the contract order: dims, numerator, denominator, value, extras."""
    cols = [*by, *RESULT, *extra]
    for c in RESULT:
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.Float64).alias(c))
    return df.select(cols).with_columns(
        pl.col("numerator").cast(pl.Float64), pl.col("denominator").cast(pl.Float64),
        pl.col("value").cast(pl.Float64))


def empty(by: tuple[str, ...], extra: Iterable[str] = ()) -> pl.DataFrame:
    """A result with no rows (empty period or a scope that selects nothing)."""
    schema = {d: pl.String for d in by} | {c: pl.Float64 for c in (*RESULT, *extra)}
    for d in by:
        if d in ("day", "week", "month", "placed_month"):
            schema[d] = pl.Date
        elif d in ("months_since", "hour"):
            schema[d] = pl.Int32
    return pl.DataFrame(schema=schema)


def needs_full_grain(f: Filters, by: Iterable[str]) -> bool:
    """True when product or region is selected or asked for: only the full-grain tables have them."""
    return bool(f.products or f.regions or {"product", "region"} & set(by))


def _last_month_whole(store: Store, end: dt.date, future_rows: bool) -> bool:
    """True when a period ending on `end` holds all of end's month that has rows (to its end, or to the as-of day
    when no rows lie after it)."""
    return end == month_end(end) or (not future_rows and store.as_of is not None and end >= store.as_of)


def whole_months(store: Store, f: Filters, future_rows: bool = False) -> tuple[dt.date, dt.date] | None:
    """The first and last month wholly inside the period (month starts), None when there is none."""
    first = f.start if f.start.day == 1 else month_start(f.start, 1)
    last = month_start(f.end) if _last_month_whole(store, f.end, future_rows) else month_start(f.end, -1)
    return (first, last) if first <= last else None


def months_and_edges(store: Store, name: str, f: Filters, whole: tuple[dt.date, dt.date]) -> pl.DataFrame:
    """A period's rows of a day-level rollup at month grain: its whole months from the month view, the days of its
    partial first and last months summed by month (a 13-month period ending mid-month reads one month of days, not
    thirteen). A period of whole months is the month view itself: the caller filters it by the period's months."""
    first, last = whole
    view = store.frame(month_view_name(name))
    edges = [month_view(store.frame(name, lo, hi).filter(pl.col("day").is_between(lo, hi)))
             for lo, hi in ((f.start, first - dt.timedelta(days=1)), (month_end(last) + dt.timedelta(days=1), f.end))
             if lo <= hi]
    if not edges:
        return view
    return pl.concat([view.filter(pl.col("month").is_between(first, last)), *edges], how="vertical_relaxed")


def rows(store: Store, family: str, f: Filters, by: tuple[str, ...], *, date_col: str | None = "day",
         date_range: tuple[dt.date, dt.date] | None = None, bucket_col: str = "bucket",
         future_rows: bool = False, force_full: bool = False) -> pl.DataFrame | pl.LazyFrame:
    """The family's rows for the filters, from the smallest table that can answer, with `by` dims added."""
    full, coarse, monthly = FAMILIES[family]
    lo, hi = date_range or (f.start, f.end)
    # the month view can answer: no day or week asked, the period's own dates, and the version has the view
    by_month = (monthly is not None and date_col == "day" and date_range is None and not {"day", "week"} & set(by)
                and store.has(monthly))
    if force_full or needs_full_grain(f, by):
        df = store.scan(full, lo, hi) if date_col == "day" else store.scan(full)
    elif by_month and (whole := whole_months(store, f, future_rows)) is not None:
        df, date_col = months_and_edges(store, coarse, f, whole), "month"
        lo, hi = f.start.replace(day=1), f.end.replace(day=1)
    else:
        df = store.frame(coarse, lo, hi) if date_col == "day" else store.frame(coarse)
    df = filter_frame(store, df, f, date_col=date_col, date_range=(lo, hi), bucket_col=bucket_col)
    return add_dims(store, df, by, date_col or "day")
