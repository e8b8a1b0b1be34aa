"""Figures a supervisor found wrong (issue 10), each against a straightforward computation of its own."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest
from fixtures_demo import AS_OF

from queries.dates import CHINA_CALENDAR
from queries.filters import Filters
from queries.metrics.registry import compute
from queries.views.pages import (
    by_team,
    daily_kpis,
    funnel,
    hourly_rpc,
    leaderboard,
    monthly,
    trend_window,
)

MTD = Filters(start=AS_OF.replace(day=1), end=AS_OF)


def test_mom_and_yoy_are_empty_where_there_is_nothing_to_compare_with(app_store) -> None:  # noqa: ANN001
    # The demo's payments start 13 months back (Nov 2025); its cases' opening balances start earlier. The first
    # month has no previous month and no month of the window has a year before it but the running one: their
    # changes are empty, not the month's own rate (today: MoM pp of Nov 2025 = its recovery rate).
    out = monthly(app_store, trend_window(MTD))
    first = out.row(0, named=True)
    assert first["month"] == dt.date(2025, 11, 1)
    assert first["mom"] is None and first["mom_rr_pp"] is None and first["yoy_rr_pp"] is None
    without_year = out.filter(pl.col("month") < dt.date(2026, 11, 1))
    assert without_year["yoy_rr_pp"].null_count() == without_year.height
    assert without_year["yoy"].null_count() == without_year.height
    # the second month's change is worked out by hand from two registry values
    dec = compute("recovery_rate", app_store, Filters(dt.date(2025, 12, 1), dt.date(2025, 12, 31)))["value"][0]
    nov = compute("recovery_rate", app_store, Filters(dt.date(2025, 11, 1), dt.date(2025, 11, 30)))["value"][0]
    assert out.row(1, named=True)["mom_rr_pp"] == pytest.approx(dec - nov)
    assert out.row(-1, named=True)["yoy_rr_pp"] is not None  # Nov 2026 has Nov 2025


def test_the_team_chart_has_what_each_team_should_have_collected_by_today(app_store) -> None:  # noqa: ANN001
    teams = by_team(app_store, MTD)
    targets = app_store.frame("targets").filter(pl.col("month") == MTD.start)
    # the working-day calendar's share of November elapsed by the 22nd, counted day by day
    days = [MTD.start + dt.timedelta(days=i) for i in range(30)]
    share = sum(CHINA_CALENDAR.is_working(d) for d in days if d <= AS_OF) / sum(CHINA_CALENDAR.is_working(d)
                                                                                   for d in days)
    for row in teams.iter_rows(named=True):
        target = targets.filter(pl.col("team_id") == row["team_id"])["target_cents"].sum() / 100
        assert row["target"] == pytest.approx(target)
        assert row["expected"] == pytest.approx(target * share, abs=0.01)
        assert row["pace"] == pytest.approx(row["collected"] / row["expected"], rel=1e-6)
    assert set(teams["team_name"].drop_nulls()) and {"expected", "pace"} <= set(teams.columns)


def test_today_is_compared_with_the_same_weekday_of_last_month(app_store) -> None:  # noqa: ANN001
    from queries.dates import same_weekday_last_month

    # 22 Nov 2026 is a Sunday; 22 Oct a Thursday. The nearest Sunday of October to the 22nd is the 25th.
    assert same_weekday_last_month(AS_OF) == dt.date(2026, 10, 25)
    assert same_weekday_last_month(dt.date(2026, 12, 31)) == dt.date(2026, 11, 26)  # stays in last month
    k = daily_kpis(app_store, MTD)
    wd = k["same_weekday"]
    assert wd["day"] == dt.date(2026, 10, 25)
    assert wd["collected_today"] == compute("collected", app_store, MTD.with_dates(wd["day"], wd["day"]))["value"][0]


def test_the_team_median_is_the_agents_own_team_whatever_agents_are_picked(app_store) -> None:  # noqa: ANN001
    whole = leaderboard(app_store, MTD)
    agent = whole.filter(pl.col("team_id") == "T01")["agent_id"][0]
    mates = whole.filter(pl.col("team_id") == "T01")
    picked = dataclasses.replace(MTD, agents=(agent,))  # the sidebar narrowed to this one agent
    out = funnel(app_store, picked, agent)
    assert out["team_median"].to_list() == [float(mates[s].median()) for s in out["stage"]]
    assert out["team_median"].to_list() != out["agent"].to_list()  # today: the agent's own figures


def test_leaderboard_flags_cells_below_the_agents_team_median(app_store) -> None:  # noqa: ANN001
    from queries.views.pages import COACHING

    board = leaderboard(app_store, MTD)
    for row in board.iter_rows(named=True):
        mates = board.filter(pl.col("team_id") == row["team_id"])
        want = [c for c in COACHING if row[c] is not None and mates[c].median() is not None
                and row[c] < mates[c].median()]
        assert row["below_median"] == want
    assert board["below_median"].list.len().sum() > 0
    # picking agents in the sidebar does not change the median they are flagged against
    one = board["agent_id"][0]
    assert leaderboard(app_store, dataclasses.replace(MTD, agents=(one,)))["below_median"].to_list() == \
        board.filter(pl.col("agent_id") == one)["below_median"].to_list()


def test_thin_hours_are_kept_and_marked(app_store) -> None:  # noqa: ANN001
    out = hourly_rpc(app_store, MTD)
    raw = compute("rpc_rate", app_store, MTD, ("team_id", "hour"))
    assert out.height == raw.height  # nothing dropped
    assert out.filter(pl.col("thin"))["denominator"].max() < 20 <= out.filter(~pl.col("thin"))["denominator"].min()
    assert out["thin"].any()
