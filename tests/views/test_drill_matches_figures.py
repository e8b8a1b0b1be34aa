"""Every chart mark that opens a case list lists exactly the cases behind it: the list's totals (events, amount,
cases) equal the figure the mark shows, computed by the registry from the store of the same database."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest
from fixtures_demo import AS_OF

from queries.filters import Filters, Scope
from queries.metrics.registry import compute
from queries.source.engines import read_only_engine
from queries.views.drilldown import list_cases

MTD = Filters(start=AS_OF.replace(day=1), end=AS_OF)


@pytest.fixture(scope="module")
def engine(app_source):  # noqa: ANN001, ANN201
    e = read_only_engine(app_source[0])
    yield e
    e.dispose()


def _one(df: pl.DataFrame, col: str = "value") -> float:
    return float(df.get_column(col)[0]) if df.height else 0.0


def test_a_clicked_day_lists_that_days_payments(engine, app_store) -> None:  # noqa: ANN001
    day = AS_OF - dt.timedelta(days=2)
    fig = compute("collected", app_store, MTD.with_dates(day, day))
    page = list_cases(engine, MTD, event="payments", day=day)
    assert page.events == _one(fig, "payments") > 0
    assert page.amount == pytest.approx(_one(fig), abs=0.005)


def test_a_month_outside_the_period_replaces_it(engine, app_store) -> None:  # noqa: ANN001
    # The trend chart shows 13 months; a click on August with month to date in the sidebar lists August's
    # payments (the old list intersected August with November: nothing).
    aug = dt.date(2026, 8, 1)
    fig = compute("collected", app_store, MTD.with_dates(aug, dt.date(2026, 8, 31)))
    page = list_cases(engine, MTD, event="payments", month=aug)
    assert page.total > 0
    assert page.events == _one(fig, "payments")
    assert page.amount == pytest.approx(_one(fig), abs=0.005)
    # the period's running month ends where the period does, as the chart's last bar does
    from queries.views.drilldown import drill_period

    assert drill_period(MTD, month=AS_OF.replace(day=1)) == (MTD.start, AS_OF)
    assert drill_period(MTD, month=aug) == (aug, dt.date(2026, 8, 31))
    assert drill_period(MTD, day=dt.date(2026, 1, 5)) == (dt.date(2026, 1, 5), dt.date(2026, 1, 5))


@pytest.mark.parametrize(("by", "key", "drill"), [
    ("team_id", "T02", {"teams": ("T02",)}),
    ("bucket", "M1", {"buckets": ("M1",)}),
    ("channel", "agency", {"channel": "agency"}),
])
def test_a_team_bucket_or_channel_bar_lists_its_payments(engine, app_store, by: str, key: str, drill: dict) -> None:  # noqa: ANN001
    fig = compute("collected", app_store, MTD, (by,)).filter(pl.col(by) == key)
    page = list_cases(engine, dataclasses.replace(MTD, **drill), event="payments")
    assert page.events == _one(fig, "payments") > 0
    assert page.amount == pytest.approx(_one(fig), abs=0.005)


def test_a_channel_bar_of_a_month_lists_that_months_payments(engine, app_store) -> None:  # noqa: ANN001
    sep = dt.date(2026, 9, 1)
    fig = compute("collected", app_store, MTD.with_dates(sep, dt.date(2026, 9, 30)), ("channel",)).filter(
        pl.col("channel") == "in_house")
    page = list_cases(engine, dataclasses.replace(MTD, channel="in_house"), event="payments", month=sep)
    assert page.events == _one(fig, "payments") > 0
    assert page.amount == pytest.approx(_one(fig), abs=0.005)


@pytest.mark.parametrize("months_since", [0, 2, 5])
def test_a_liquidation_point_lists_the_cases_placed_that_month(engine, app_store, months_since: int) -> None:  # noqa: ANN001
    placed = dt.date(2026, 5, 1)
    window = Filters(start=dt.date(2025, 12, 1), end=AS_OF)
    fig = compute("liquidation", app_store, window, ("placed_month", "months_since")).filter(
        (pl.col("placed_month") == placed) & (pl.col("months_since") == months_since))
    page = list_cases(engine, MTD, event="placements", month=placed, months_since=months_since)
    placements = app_store.scan("placements").filter(pl.col("placed_month") == placed).collect()
    assert page.total == placements.get_column("n").sum() > 0  # every case placed that month: the denominator's
    assert page.amount == pytest.approx(_one(fig, "numerator"), abs=0.005)  # their payments so far: the numerator
    if months_since == 0:
        assert page.amount < _one(compute("liquidation", app_store, window, ("placed_month", "months_since")).filter(
            (pl.col("placed_month") == placed) & (pl.col("months_since") == 5)), "numerator")


@pytest.mark.parametrize(("basis", "col"), [("balance", "amount"), ("count", "total")])
def test_a_roll_matrix_cell_lists_the_cases_that_rolled(engine, app_store, basis: str, col: str) -> None:  # noqa: ANN001
    snap = max(d for d in app_store.snapshots if d <= AS_OF)
    fig = compute("roll_rate", app_store, MTD, snapshot=snap, basis=basis).filter(
        (pl.col("from_bucket") == "M1") & (pl.col("to_bucket") == "M2"))
    page = list_cases(engine, MTD, event="snapshot", snapshot_on=snap, from_bucket="M1", to_bucket="M2")
    assert getattr(page, col) == pytest.approx(_one(fig, "numerator"), abs=0.005)
    assert page.total > 0


def test_a_bucket_bar_of_a_snapshot_lists_its_cases(engine, app_store) -> None:  # noqa: ANN001
    snap = max(d for d in app_store.snapshots if d <= AS_OF)
    bal = compute("bucket_balance", app_store, MTD, ("bucket",), snapshot=snap).filter(pl.col("bucket") == "M2")
    cnt = compute("bucket_balance", app_store, MTD, ("bucket",), snapshot=snap, basis="count").filter(
        pl.col("bucket") == "M2")
    page = list_cases(engine, dataclasses.replace(MTD, buckets=("M2",)), event="snapshot", snapshot_on=snap)
    assert page.total == _one(cnt) > 0
    assert page.amount == pytest.approx(_one(bal), abs=0.005)


@pytest.mark.parametrize(("by", "drill"), [("category", "category"), ("source", "source"), ("team_id", "teams"),
                                           ("agent_id", "agents")])
def test_a_complaints_bar_lists_its_complaints(engine, app_store, by: str, drill: str) -> None:  # noqa: ANN001
    ytd = Filters(start=AS_OF.replace(month=1, day=1), end=AS_OF)
    fig = compute("complaint_rate", app_store, ytd, (by,)).filter(pl.col("numerator") > 0)
    key = fig.get_column(by)[0]
    f, kw = (dataclasses.replace(ytd, **{drill: (key,)}), {}) if drill in ("teams", "agents") else (ytd, {drill: key})
    page = list_cases(engine, f, event="complaints", **kw)
    assert page.events == _one(fig, "numerator") > 0


def test_the_whole_selection_streams_in_the_pages_order_masked_and_scoped(engine, app_source) -> None:  # noqa: ANN001
    from queries.views import scoped
    from queries.views.drilldown import iter_cases

    f = Filters(start=dt.date(2026, 6, 1), end=AS_OF)
    first = list_cases(engine, f, event="payments", page_size=500)
    pages = [first.rows] + [list_cases(engine, f, event="payments", page=p, page_size=500).rows
                            for p in range(2, first.pages + 1)]
    batches = list(iter_cases(engine, f, event="payments", batch=700))
    assert len(batches) == -(-first.total // 700) > 1
    streamed = pl.concat(batches)
    assert streamed.height == first.total > 50  # every row, not the first page
    assert streamed.equals(pl.concat(pages))  # same order, same values, masked the same way
    assert streamed["customer_name"].str.contains(r"\*").all()
    assert pl.concat(iter_cases(engine, f, event="payments", limit=123)).height == 123
    lead = Scope(teams=frozenset({"T01"}), role="team_lead")
    assert not list(scoped.export_cases(engine, lead, dataclasses.replace(f, teams=("T02",)), {"event": "payments"}))
    mine = pl.concat(scoped.export_cases(engine, lead, f, {"event": "payments"}))
    assert mine.height == scoped.cases(engine, lead, f, {"event": "payments"}).total > 0  # the lead's own team
