"""A period that is not whole months but holds some: whole months from the month views, the partial first and last
months from their days — the same sums as the days, reading only the edge months' day files."""

import datetime as dt

import polars as pl
import pytest

from queries.dates import month_end, month_start
from queries.filters import Filters
from queries.metrics.base import rows, whole_months
from queries.store import Store, versions
from queries.store.catalogue import FAMILIES, SUMMABLE

DAY_FAMILIES = [fam for fam, (_, _, monthly) in FAMILIES.items() if monthly]


@pytest.fixture(scope="module")
def store(shared_small_store) -> Store:  # noqa: ANN001
    """The small centre's store, on each backend."""
    return Store.open(shared_small_store)


def _periods(store: Store) -> list[tuple[dt.date, dt.date]]:
    """Periods off the month boundaries that hold whole months: mid → mid, mid → month end, 1st → mid, to as-of."""
    first = store.month_starts("payments_agent")[1]
    as_of = store.as_of
    return [(first + dt.timedelta(days=9), month_start(first, 3) + dt.timedelta(days=13)),
            (first + dt.timedelta(days=9), month_end(month_start(first, 2))),
            (first, month_start(first, 2) + dt.timedelta(days=13)),
            (first + dt.timedelta(days=20), as_of),
            (first + dt.timedelta(days=20), as_of + dt.timedelta(days=40))]


def _day_sums(store: Store, family: str, lo: dt.date, hi: dt.date, by: tuple[str, ...]) -> pl.DataFrame:
    """The straightforward answer: the day-level rollup's rows in the period, summed by `by` (month from the day)."""
    _, coarse, _ = FAMILIES[family]
    df = store.frame(coarse, lo, hi).filter(pl.col("day").is_between(lo, hi))
    if "month" in by:
        df = df.with_columns(pl.col("day").dt.month_start().alias("month"))
    sums = [c for c in df.columns if c in SUMMABLE]
    return df.group_by(list(by) or pl.lit(0).alias("_"), maintain_order=False).agg(pl.col(sums).sum())


@pytest.mark.parametrize("family", DAY_FAMILIES)
def test_a_period_off_month_edges_sums_like_its_days(store, family) -> None:  # noqa: ANN001
    for lo, hi in _periods(store):
        f = Filters(lo, hi)
        for by in ((), ("month",), ("agent_id", "bucket")):
            got = rows(store, family, f, by, future_rows=family == "promises")
            got = got.collect() if isinstance(got, pl.LazyFrame) else got
            sums = [c for c in got.columns if c in SUMMABLE]
            got = got.group_by(list(by) or pl.lit(0).alias("_")).agg(pl.col(sums).sum())
            want = _day_sums(store, family, lo, hi, by)
            key = list(by) or ["_"]
            assert got.select(want.columns).sort(key).equals(want.sort(key)), (family, lo, hi, by)


def test_the_whole_months_of_a_period() -> None:
    class AsOf:  # what whole_months reads of a store
        as_of = dt.date(2026, 6, 20)

    s = AsOf()
    cases = {
        (dt.date(2026, 1, 10), dt.date(2026, 4, 14)): (dt.date(2026, 2, 1), dt.date(2026, 3, 1)),
        (dt.date(2026, 1, 1), dt.date(2026, 3, 31)): (dt.date(2026, 1, 1), dt.date(2026, 3, 1)),
        (dt.date(2026, 1, 10), dt.date(2026, 2, 28)): (dt.date(2026, 2, 1), dt.date(2026, 2, 1)),
        (dt.date(2026, 4, 2), dt.date(2026, 6, 20)): (dt.date(2026, 5, 1), dt.date(2026, 6, 1)),  # to the as-of day
        (dt.date(2026, 1, 10), dt.date(2026, 2, 20)): None,  # two partial months
        (dt.date(2026, 3, 5), dt.date(2026, 3, 25)): None,
    }
    for (lo, hi), want in cases.items():
        assert whole_months(s, Filters(lo, hi)) == want, (lo, hi)
    # promises have rows after the as-of day: June up to the 20th is not the whole of June's rows
    assert whole_months(s, Filters(dt.date(2026, 4, 2), dt.date(2026, 6, 20)), future_rows=True) == \
        (dt.date(2026, 5, 1), dt.date(2026, 5, 1))


def test_a_long_period_off_month_edges_reads_only_its_edge_months(store, monkeypatch) -> None:  # noqa: ANN001
    """A 13-month view ending mid-month read every month's day rows into one frame (+130 MB at bank scale on the
    trends page); now the month view answers the whole months and only the two edge months' files are read."""
    read = []
    real = versions._read_month
    monkeypatch.setattr(versions, "_read_month", lambda file: read.append(file.stem) or real(file))
    cold = Store.open(store.path.parent, cache_mb=0)
    read.clear()
    months = cold.month_starts("payments_agent")
    lo, hi = months[0] + dt.timedelta(days=9), months[-2] + dt.timedelta(days=13)
    assert len(months) >= 4
    rows(cold, "payments", Filters(lo, hi), ("team_id",))
    assert sorted(read) == [f"{lo:%Y-%m}", f"{hi:%Y-%m}"]


@pytest.mark.parametrize("name", ["compliance_agent", "attempt_ordinal_agent"])
def test_compliance_rollups_off_month_edges_sum_like_their_days(store, name) -> None:  # noqa: ANN001
    from queries.metrics.compliance import _rollup, breach_contact_keys

    for lo, hi in _periods(store):
        f = Filters(lo, hi)
        days = store.frame(name, lo, hi).filter(pl.col("day").is_between(lo, hi))
        sums = [c for c in days.columns if c in SUMMABLE or c.startswith("b_")]
        for by in ((), ("team_id",)):
            got = _rollup(store, name, f, by)
            want = days.join(store.frame("agents").select("agent_id", "team_id"), on="agent_id", how="left") \
                if by else days
            key = list(by) or [pl.lit(0).alias("_")]
            got, want = (x.group_by(key).agg(pl.col(sums).sum()) for x in (got, want))
            assert got.sort(got.columns[0]).equals(want.sort(want.columns[0])), (name, lo, hi, by)
        if name == "compliance_agent":
            _, total = breach_contact_keys(store, f, ("quiet_hours", "third_party"), limit=1)
            assert total == days.get_column("b_quiet_hours").sum() + days.get_column("b_third_party").sum()
