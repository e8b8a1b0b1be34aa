"""The month-end landing forecast on the daily page and its backtest on the glossary, in AppTest (both languages)."""

from __future__ import annotations

import json

from fixtures_demo import AS_OF

from dashboard.format import cny, pct
from queries.dates import month_end, month_start
from queries.filters import Filters
from queries.metrics.registry import compute
from queries.views.pages import landing_backtest_total

MTD = Filters(AS_OF.replace(day=1), AS_OF)


def last_month_bounds(day):  # noqa: ANN001, ANN201
    """The first and last day of the month before `day`'s."""
    first = month_start(day, -1)
    return first, month_end(first)


def test_daily_page_shows_the_registry_landing_and_follows_a_team(run_app, app_store) -> None:  # noqa: ANN001
    land = compute("landing", app_store, MTD).row(0, named=True)
    at = run_app()
    assert not at.exception, at.exception
    line = next(c.value for c in at.caption if "月末落地预测" in c.value)
    assert cny(land["value"], "zh") in line and cny(land["low"], "zh") in line and cny(land["high"], "zh") in line
    assert f"达成目标概率 {pct(land['p_target'], 0)}" in line
    at.sidebar.multiselect(key="f_team").set_value(["T02"]).run()
    team = compute("landing", app_store, Filters(MTD.start, MTD.end, teams=("T02",))).row(0, named=True)
    line = next(c.value for c in at.caption if "月末落地预测" in c.value)
    assert cny(team["value"], "zh") in line
    at.session_state["f_lang"] = "en"
    at.run()
    line = next(c.value for c in at.caption if "Month-end landing" in c.value)
    assert cny(team["value"], "en") in line and "P(target) = " in line


def test_a_finished_month_reads_where_it_closed_not_a_forecast(run_app, app_store) -> None:  # noqa: ANN001
    """Last month on the daily page: one line with the month's collected figure, no interval, no P(target)."""
    last = Filters(*last_month_bounds(AS_OF))
    land = compute("landing", app_store, last).row(0, named=True)
    assert land["low"] is None and land["value"] == land["numerator"]
    at = run_app(period="last_month")
    assert not at.exception, at.exception
    line = next(c.value for c in at.caption if "本月已结束" in c.value)
    assert cny(land["value"], "zh") in line and "80%" not in line and "达成目标概率" not in line
    assert not any("月末落地预测" in c.value for c in at.caption)
    at.session_state["f_lang"] = "en"
    at.run()
    assert any(f"closed at {cny(land['value'], 'en')}" in c.value for c in at.caption)
    assert not any("P(target)" in c.value for c in at.caption)


def test_team_chart_hover_carries_each_team_landing(run_app, app_store) -> None:  # noqa: ANN001
    teams = {r["team_id"]: r for r in compute("landing", app_store, MTD, ("team_id",)).iter_rows(named=True)}
    at = run_app(lang="en")
    figs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    bars = next(tr for fig in figs for tr in fig["data"] if tr.get("orientation") == "h" and tr.get("customdata"))
    for tid, hover in zip(bars["customdata"], bars["hovertext"], strict=True):
        assert f"Month-end landing {cny(teams[tid]['value'], 'en')}" in hover


def test_glossary_shows_the_backtest_against_naive(run_app, app_store) -> None:  # noqa: ANN001
    total = landing_backtest_total(app_store, MTD).row(0, named=True)
    at = run_app("glossary", lang="en")
    assert not at.exception, at.exception
    note = next(c.value for c in at.caption if "mean absolute percentage error" in c.value)
    assert pct(total["mape"]) in note and pct(total["mape_naive"]) in note and pct(total["coverage"], 0) in note
    at.session_state["f_lang"] = "zh"
    at.run()
    assert any("平均绝对百分比误差" in c.value for c in at.caption)
