"""Complaint rate per 10,000 worked cases (and per 10,000 attempts), regulator 12378 shown apart."""

from __future__ import annotations

import polars as pl

from queries.filters import Filters
from queries.metrics.base import (
    EVENT_DIMS,
    add_dims,
    check_dims,
    empty,
    filter_frame,
    finish,
    group,
    memoised,
    ratio,
    require,
    rows,
)
from queries.metrics.declare import metric
from queries.metrics.distinct import distinct_cases
from queries.store import Store

COMPLAINT_ONLY = ("category", "source", "severity", "status")
COMPLAINT_DIMS = (*EVENT_DIMS, *COMPLAINT_ONLY)
EXTRA = ("attempts", "per_10k_attempts", "regulator_12378")
#: Complaint sources that are a regulator's (counted apart as `regulator_12378`).
REGULATOR_SOURCES = ("regulator_12378",)


def worked_cases(store: Store, f: Filters, by: tuple[str, ...]) -> pl.DataFrame:
    """Distinct cases with at least one attempt, column `denominator` (memoised per store version, filters and
    dims, the last 32)."""
    return memoised(store, ("worked_cases", f, by), lambda: distinct_cases(store, "worked", f, by, "denominator"))


def complaint_counts(store: Store, f: Filters, by: tuple[str, ...]) -> pl.DataFrame:
    """Complaints received in the period per row of `by`: `numerator`, and `regulator_12378` of them."""
    comp = add_dims(store, filter_frame(store, store.frame("complaints"), f), by)
    return group(comp, by, [pl.len().alias("numerator"),
                            pl.col("source").is_in(list(REGULATOR_SOURCES)).sum().alias("regulator_12378")])


@metric("complaint_rate", name=("投诉率", "Complaint rate"),
        definition=("期间内收到的投诉 ÷ 期间内至少有一次外呼/外访的不重复案件数 × 10,000（另列每万次外呼、12378 监管投诉）",
                    "Complaints received ÷ distinct cases with at least one attempt in the period × 10,000 "
                    "(also per 10,000 attempts; regulator 12378 complaints shown apart)"),
        numerator=("期间内收到的投诉", "complaints received"),
        denominator=("有外呼/外访的不重复案件数", "distinct worked cases"), dims=COMPLAINT_DIMS, unit="per_10k",
        sets={"regulator sources": REGULATOR_SOURCES})
def complaint_rate(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Complaints received ÷ distinct cases with ≥1 attempt in the period, × 10,000."""
    by = check_dims("complaint_rate", by, COMPLAINT_DIMS)
    if filters.nothing:
        return empty(by, EXTRA)
    require(store, "complaints")
    base_by = tuple(d for d in by if d not in COMPLAINT_ONLY)
    num = complaint_counts(store, filters, by)
    den = worked_cases(store, filters, base_by)
    att = group(rows(store, "contacts", filters, base_by), base_by, [pl.col("attempts").sum().alias("attempts")])
    if base_by:
        den = den.join(att, on=list(base_by), how="full", coalesce=True, nulls_equal=True)
        if by == base_by:
            out = den.join(num, on=list(by), how="full", coalesce=True, nulls_equal=True)
        else:  # complaint-only dims: each row's denominator is that of its period/org slice
            out = num.join(den, on=list(base_by), how="left", nulls_equal=True)
    else:
        den = pl.concat([den, att], how="horizontal")
        out = num.join(den, how="cross") if by else pl.concat([num, den], how="horizontal")
    out = out.with_columns(pl.col("numerator", "regulator_12378", "denominator", "attempts").fill_null(0))
    out = out.with_columns(ratio(pl.col("numerator"), pl.col("denominator"), 10_000).alias("value"),
                           ratio(pl.col("numerator"), pl.col("attempts"), 10_000).alias("per_10k_attempts"))
    out = out.with_columns(pl.col(list(EXTRA)).cast(pl.Float64))
    return finish(out.sort(list(by), nulls_last=True) if by else out, by, EXTRA)
