"""Portfolio metrics from month-end snapshots: bucket balance (aging), roll rate, cure rate."""

from __future__ import annotations

import datetime as dt

import polars as pl

from queries.buckets import CLOSED
from queries.filters import Filters
from queries.metrics.base import (
    CASE_DIMS,
    ORG_DIMS,
    MetricError,
    check_dims,
    empty,
    finish,
    group,
    money,
    ratio,
    rows,
)
from queries.metrics.declare import metric
from queries.store import Store

SNAP_DIMS = ("month", *ORG_DIMS, *CASE_DIMS)
ROLL_DIMS = ("month", *ORG_DIMS, "product", "region", "from_bucket", "to_bucket")
BASES = ("balance", "count")


def _basis(basis: str) -> tuple[str, bool]:
    if basis not in BASES:
        raise MetricError(f"unknown basis {basis!r}; use balance or count")
    return ("cents", True) if basis == "balance" else ("n", False)


def _snapshots(store: Store, filters: Filters, snapshot: dt.date | None, all_in_range: bool) -> list[dt.date]:
    snaps = store.snapshots
    if snapshot is not None:
        if snapshot not in snaps:
            raise MetricError(f"{snapshot} is not a snapshot date; snapshots: "
                              f"{', '.join(d.isoformat() for d in snaps[-6:]) or 'none'}")
        return [snapshot]
    inside = [d for d in snaps if filters.start <= d <= filters.end]
    return inside if all_in_range else inside[-1:]


@metric("bucket_balance", name=("账龄分布", "Balance by bucket"),
        definition=("快照中各账龄段的余额合计（或案件数）", "Sum of balance (or count of cases) per bucket in a snapshot"),
        numerator=("各账龄段余额（或户数）", "balance or count per bucket"), denominator=None, dims=SNAP_DIMS,
        unit="money", money_numerator=True)
def bucket_balance(store: Store, filters: Filters, by: tuple[str, ...] = (), *,
                   snapshot: dt.date | None = None, basis: str = "balance") -> pl.DataFrame:
    """Balance (or count) of cases per bucket in a snapshot: the latest in the period unless by month."""
    by = check_dims("bucket_balance", by, SNAP_DIMS)
    col, is_money = _basis(basis)
    if filters.nothing:
        return empty(by)
    snaps = _snapshots(store, filters, snapshot, "month" in by)
    df = rows(store, "balance", filters, by, date_col="snapshot_on", date_range=(min(snaps, default=filters.start),
                                                                                 max(snaps, default=filters.start)))
    df = df.filter(pl.col("snapshot_on").is_in(snaps))
    total = pl.col(col).sum()
    out = group(df, by, [(money(total) if is_money else total).alias("numerator")])
    return finish(out.with_columns(pl.col("numerator").alias("value")), by)


def _roll(metric: str, store: Store, filters: Filters, by: tuple[str, ...], snapshot: dt.date | None,
          basis: str, cure: bool) -> pl.DataFrame:
    allowed = [d for d in ROLL_DIMS if not (cure and d == "to_bucket")]
    by = check_dims(metric, by, allowed)
    col, is_money = _basis(basis)
    by = tuple(dict.fromkeys(("from_bucket", *by) if cure else ("from_bucket", "to_bucket", *by)))
    if filters.nothing:
        return empty(by)
    snaps = _snapshots(store, filters, snapshot, True)
    df = rows(store, "roll", filters, by, date_col="snapshot_on", bucket_col="from_bucket",
              date_range=(min(snaps, default=filters.start), max(snaps, default=filters.start)))
    df = df.filter(pl.col("snapshot_on").is_in(snaps))
    if isinstance(df, pl.LazyFrame):
        df = df.collect()
    denom_keys = [d for d in by if d != "to_bucket"]
    if cure:
        cured = pl.col("to_bucket").is_in([store.bounds.labels[0], CLOSED])
        out = group(df, by, [pl.col(col).filter(cured).sum().alias("num"), pl.col(col).sum().alias("den")])
    else:
        out = group(df, by, [pl.col(col).sum().alias("num")]).with_columns(
            pl.col("num").sum().over(denom_keys).alias("den"))
    scale = money if is_money else (lambda e: e)
    out = out.select(*by, scale(pl.col("num")).alias("numerator"), scale(pl.col("den")).alias("denominator"),
                     ratio(pl.col("num"), pl.col("den")).alias("value"))
    return finish(out, by)


@metric("roll_rate", name=("迁徙率", "Roll rate"),
        definition=("上期末 k 段余额（或户数）中本期末处于 j 段（或结清）的部分 ÷ 上期末 k 段余额",
                    "Balance (or count) in bucket k at snapshot t−1 found in bucket j at t (absent or zero = closed) "
                    "÷ balance (or count) in bucket k at t−1"),
        numerator=("k 段迁入 j 段的余额", "balance k→j"), denominator=("上期末 k 段余额", "balance in k at t−1"),
        dims=ROLL_DIMS, unit="rate", money_numerator=True)
def roll_rate(store: Store, filters: Filters, by: tuple[str, ...] = (), *,
              snapshot: dt.date | None = None, basis: str = "balance") -> pl.DataFrame:
    """Share of bucket k at snapshot t−1 found in bucket j (or closed) at t; always by from/to bucket."""
    return _roll("roll_rate", store, filters, by, snapshot, basis, cure=False)


@metric("cure_rate", name=("回滚率", "Cure rate"),
        definition=("上期末 k 段余额中本期末为 M0 或结清的部分 ÷ 上期末 k 段余额",
                    "Part of bucket k at t−1 that is M0 or closed at t ÷ balance (or count) in bucket k at t−1"),
        numerator=("k 段回到 M0 或结清的余额", "balance k→M0 or closed"),
        denominator=("上期末 k 段余额", "balance in k at t−1"),
        dims=tuple(d for d in ROLL_DIMS if d != "to_bucket"), unit="rate", money_numerator=True)
def cure_rate(store: Store, filters: Filters, by: tuple[str, ...] = (), *,
              snapshot: dt.date | None = None, basis: str = "balance") -> pl.DataFrame:
    """Share of bucket k at t−1 that is M0 or closed at t; always by from_bucket."""
    return _roll("cure_rate", store, filters, by, snapshot, basis, cure=True)
