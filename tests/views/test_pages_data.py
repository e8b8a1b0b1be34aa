"""Page compositions that hold logic of their own, checked against direct registry calls."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from fixtures_demo import AS_OF

from queries.filters import Filters
from queries.metrics.registry import compute
from queries.views.pages import FUNNEL, funnel, leaderboard, leaderboard_rows, monthly


def _value(store, key: str, start: dt.date, end: dt.date) -> float:  # noqa: ANN001
    return compute(key, store, Filters(start=start, end=end))["value"][0]


def test_running_month_compares_the_same_days(app_store) -> None:  # noqa: ANN001
    f = Filters(start=dt.date(2026, 11, 1), end=AS_OF)  # the 22nd: November is still running
    last = monthly(app_store, f).row(-1, named=True)
    assert last["month"] == dt.date(2026, 11, 1) and last["through"] == AS_OF
    now = _value(app_store, "collected", dt.date(2026, 11, 1), AS_OF)
    then = _value(app_store, "collected", dt.date(2026, 10, 1), dt.date(2026, 10, 22))
    year = _value(app_store, "collected", dt.date(2025, 11, 1), dt.date(2025, 11, 22))
    assert last["mom"] == pytest.approx(now / then - 1)
    assert last["yoy"] == pytest.approx(now / year - 1)
    rr_now = _value(app_store, "recovery_rate", dt.date(2026, 11, 1), AS_OF)
    rr_then = _value(app_store, "recovery_rate", dt.date(2026, 10, 1), dt.date(2026, 10, 22))
    assert last["mom_rr_pp"] == pytest.approx(rr_now - rr_then)
    whole_october = _value(app_store, "collected", dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert last["mom"] != pytest.approx(now / whole_october - 1)


def test_complete_months_compare_whole_months(app_store) -> None:  # noqa: ANN001
    f = Filters(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
    last = monthly(app_store, f).row(-1, named=True)
    assert last["through"] is None
    oct_, sep = (_value(app_store, "collected", a, b) for a, b in
                 ((dt.date(2026, 10, 1), dt.date(2026, 10, 31)), (dt.date(2026, 9, 1), dt.date(2026, 9, 30))))
    assert last["mom"] == pytest.approx(oct_ / sep - 1)


def _board() -> pl.DataFrame:
    """Six agents ranked 1..6 by collected, as leaderboard() returns them."""
    return pl.DataFrame({
        "agent_id": ["A06", "A02", "A05", "A01", "A04", "A03"],
        "agent_name": ["王芳", "李强", "王伟", None, "Zhang Wei", "刘洋"],
        "collected": [600.0, 500.0, 400.0, 300.0, 200.0, 100.0],
        "rank": [1, 2, 3, 4, 5, 6],
    })


def test_leaderboard_rows_top_bottom_all() -> None:
    board = _board()
    assert leaderboard_rows(board, "top", n=2)["agent_id"].to_list() == ["A06", "A02"]
    # the bottom N, worst first: what a team lead coaching the weakest agents reads
    assert leaderboard_rows(board, "bottom", n=2)["rank"].to_list() == [6, 5]
    assert leaderboard_rows(board, "all", n=2)["rank"].to_list() == [1, 2, 3, 4, 5, 6]
    assert leaderboard_rows(board, "top", n=50).height == 6  # fewer agents than N: all of them
    with pytest.raises(ValueError, match="show must be one of"):
        leaderboard_rows(board, "middle")


def test_leaderboard_search_matches_id_or_name_literally_before_the_cut() -> None:
    board = _board()
    # "王" matches ranks 1 and 3; top 1 of the matches is rank 1, bottom 1 is rank 3
    assert leaderboard_rows(board, "top", "王", n=1)["agent_id"].to_list() == ["A06"]
    assert leaderboard_rows(board, "bottom", "王", n=1)["agent_id"].to_list() == ["A05"]
    assert leaderboard_rows(board, "all", " a01 ")["agent_id"].to_list() == ["A01"]  # trimmed, any case
    assert leaderboard_rows(board, "all", "zhang")["agent_id"].to_list() == ["A04"]
    # a name that is missing matches nothing but its id; regex characters are plain text
    assert leaderboard_rows(board, "all", "A0.").height == 0
    assert leaderboard_rows(board, "all", "(").height == 0
    assert leaderboard_rows(board, "all", "").height == 6


@pytest.mark.parametrize("f", [
    Filters(start=dt.date(2026, 11, 1), end=AS_OF),
    Filters(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31), buckets=("M1", "M2")),
    Filters(start=dt.date(2026, 9, 1), end=AS_OF, teams=("T01", "T03"), channel="in_house"),
])
def test_funnel_is_the_agent_against_the_median_of_their_team_on_the_whole_board(app_store, f: Filters) -> None:
    board = leaderboard(app_store, f)  # the straightforward way: every agent's row, then the team's
    agents = app_store.frame("agents")["agent_id"].to_list()
    assert len(agents) == 12
    checked = 0
    for agent in agents:
        got = funnel(app_store, f, agent)
        me = board.filter(pl.col("agent_id") == agent)
        if me.height == 0:  # no activity in the period, or outside the chosen teams / channel
            assert got.height == 0, agent
            continue
        mates = board.filter(pl.col("team_id") == me["team_id"][0])
        assert got["stage"].to_list() == list(FUNNEL)
        assert got["agent"].to_list() == [float(me[s][0]) for s in FUNNEL], agent
        assert got["team_median"].to_list() == pytest.approx([float(mates[s].median()) for s in FUNNEL]), agent
        checked += 1
    assert checked >= 4  # agents of at least two teams compared


def test_funnel_of_an_agent_outside_the_chosen_teams_is_empty(app_store) -> None:
    agents = app_store.frame("agents")
    t02 = agents.filter(pl.col("team_id") == "T02")["agent_id"][0]
    f = Filters(start=dt.date(2026, 11, 1), end=AS_OF, teams=("T01",))
    assert funnel(app_store, f, t02).height == 0
    assert funnel(app_store, f, "A9999").height == 0
