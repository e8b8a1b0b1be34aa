"""Every page in AppTest on a small demo database: numbers equal the registry's, URL and language handling."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from fixtures_app import shown
from fixtures_demo import AS_OF

from dashboard.format import change, cny, money_scale, num, pct
from dashboard.session import EXPORTS
from queries.filters import Filters
from queries.metrics.registry import compute

MTD = (AS_OF.replace(day=1), AS_OF)
PAGES = {"daily": "每日回收", "agents": "坐席绩效", "complaints": "投诉监控", "compliance": "合规监控", "aging": "账龄与迁徙",
         "trends": "月度趋势", "cases": "案件明细", "glossary": "指标口径", "data": "数据概况"}


def _metric(at, label: str) -> str:  # noqa: ANN001
    return next(m.value for m in at.metric if m.label == label)


def _value(store, key: str, f: Filters, col: str = "value", **opts) -> float | None:  # noqa: ANN001
    df = compute(key, store, f, **opts)
    return df.get_column(col)[0] if df.height else None


def _figures(at) -> list[dict]:  # noqa: ANN001
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_with_its_heading_and_data_as_of(run_app, page: str) -> None:  # noqa: ANN001
    at = run_app(None if page == "daily" else page)
    assert not at.exception, at.exception
    assert at.title[0].value == PAGES[page]
    assert any("数据截至 2026年11月22日" in c.value and "已与案件库核对一致" in c.value for c in at.caption)
    assert not at.error


def test_daily_kpis_are_the_registry_numbers_and_follow_a_team_change(run_app, app_store) -> None:  # noqa: ANN001
    at = run_app()
    f = Filters(*MTD)
    assert _metric(at, "本月回收") == cny(_value(app_store, "collected", f), "zh")
    assert _metric(at, "今日回收") == cny(_value(app_store, "collected", f.with_dates(AS_OF, AS_OF)), "zh")
    assert _metric(at, "回收率") == pct(_value(app_store, "recovery_rate", f), 2)
    assert _metric(at, "目标达成率") == pct(_value(app_store, "target_achievement", f))
    paying = _value(app_store, "paying_accounts", f)
    assert _metric(at, "还款户数") == num(paying)
    lm = Filters(dt.date(2026, 10, 1), dt.date(2026, 10, 22))  # the same days of last month
    card = next(m for m in at.metric if m.label == "还款户数")
    assert card.delta == change(paying / _value(app_store, "paying_accounts", lm) - 1)

    at.sidebar.multiselect(key="f_team").set_value(["T02"]).run()
    f2 = Filters(*MTD, teams=("T02",))
    assert not at.exception
    assert _metric(at, "本月回收") == cny(_value(app_store, "collected", f2), "zh")
    assert _metric(at, "回收率") == pct(_value(app_store, "recovery_rate", f2), 2)
    assert _metric(at, "本月回收") != cny(_value(app_store, "collected", f), "zh")
    assert at.query_params["team"] in ("T02", ["T02"])  # the URL follows, so the view can be shared


def test_daily_chart_bars_are_daily_collected(run_app, app_store) -> None:  # noqa: ANN001
    at = run_app(None, period="last7", bucket="M1")
    f = Filters(AS_OF - dt.timedelta(days=6), AS_OF, buckets=("M1",))
    ref = compute("collected", app_store, f, ("day",))
    bars = _figures(at)[0]["data"][0]
    by_day = dict(zip((d[:10] for d in bars["x"]), bars["y"], strict=True))
    for row in ref.iter_rows(named=True):
        assert by_day[row["day"].isoformat()] == pytest.approx(row["value"] / 1e4)  # 万元 on the zh axis


def test_url_parameters_prefill_the_filters_and_survive_page_switches(run_app, app_store) -> None:  # noqa: ANN001
    at = run_app(None, period="last_month", team=["T01", "T03"], bucket="M2", channel="in_house")
    assert not at.exception
    assert at.sidebar.selectbox(key="f_period").value == "last_month"
    assert at.sidebar.multiselect(key="f_team").value == ["T01", "T03"]
    assert at.sidebar.multiselect(key="f_bucket").value == ["M2"]
    assert any("2026-10-01 → 2026-10-31" in c.value for c in at.sidebar.caption)
    for page in ("agents", "complaints", "aging", "trends", "daily"):
        at.switch_page(f"dashboard/pages/{page}.py").run()
        assert not at.exception
        assert at.sidebar.multiselect(key="f_team").value == ["T01", "T03"]
        assert at.sidebar.selectbox(key="f_period").value == "last_month"
    f = Filters(dt.date(2026, 10, 1), dt.date(2026, 10, 31), teams=("T01", "T03"), buckets=("M2",), channel="in_house")
    # a range ending in the past shows that day's collections, said so (not "today")
    assert _metric(at, "10月31日 回收") == cny(_value(app_store, "collected", f.with_dates(f.end, f.end)), "zh")


def test_custom_dates_from_the_url(run_app) -> None:  # noqa: ANN001
    at = run_app(None, dates=["2026-09-01", "2026-09-15"])
    assert at.sidebar.selectbox(key="f_period").value == "custom"
    assert at.sidebar.date_input(key="f_dates").value == (dt.date(2026, 9, 1), dt.date(2026, 9, 15))
    assert any("2026年9月15日" in c.value for c in at.caption)


def test_bad_url_values_give_a_notice_and_the_default_view(run_app, app_store) -> None:  # noqa: ANN001
    at = run_app(None, team=["T99", "T01"], period="next_century", bucket="M42",
                 dates=["2026-11-20", "2026-11-01"], agent="'; DROP TABLE cases;--")
    assert not at.exception
    notice = at.warning[0].value
    for bad in ("T99", "next_century", "M42", "2026-11-20", "DROP TABLE"):
        assert bad in notice
    assert at.sidebar.multiselect(key="f_team").value == ["T01"]  # the valid part is kept
    assert at.sidebar.selectbox(key="f_period").value == "mtd"
    assert _metric(at, "本月回收") == cny(_value(app_store, "collected", Filters(*MTD, teams=("T01",))), "zh")


def test_agents_outside_the_chosen_teams_are_dropped_with_a_notice(run_app, app_store) -> None:  # noqa: ANN001
    agents = app_store.frame("agents")
    t2 = agents.filter(agents["team_id"] == "T02").get_column("agent_id")[0]
    t1 = agents.filter(agents["team_id"] == "T01").get_column("agent_id")[0]
    at = run_app(None, team="T01", agent=[t1, t2])
    assert not at.exception
    assert t2 in at.warning[0].value
    assert at.sidebar.multiselect(key="f_agent").value == [t1]
    assert set(at.sidebar.multiselect(key="f_agent").options) <= set(
        agents.filter(agents["team_id"] == "T01").get_column("agent_id").to_list()) | {
        o for o in at.sidebar.multiselect(key="f_agent").options if " · " in o}


@pytest.mark.parametrize("page", ["daily", "agents", "complaints", "aging", "trends", "cases"])
def test_filters_matching_nothing_show_the_empty_state(run_app, page: str) -> None:  # noqa: ANN001
    at = run_app(None if page == "daily" else page, team="T01", channel="agency")  # T01 is in-house
    assert not at.exception
    texts = [i.value for i in at.info]
    assert any("没有数据" in x or "没有未结投诉" in x for x in texts), texts


def test_a_period_before_the_data_shows_the_empty_state(run_app) -> None:  # noqa: ANN001
    at = run_app(None, dates=["2019-01-01", "2019-01-31"])
    assert not at.exception
    assert any("没有数据" in i.value for i in at.info)


def test_language_switch_changes_labels_and_number_formats(run_app, app_store) -> None:  # noqa: ANN001
    at = run_app()
    at.session_state["f_lang"] = "en"  # what clicking "English" in the sidebar does
    at.run()
    assert not at.exception
    assert at.title[0].value == "Daily recovery"
    mtd = _value(app_store, "collected", Filters(*MTD))
    assert _metric(at, "Collected MTD") == cny(mtd, "en")
    assert "万" not in _metric(at, "Collected MTD")
    assert any("Data as of 22 Nov 2026" in c.value for c in at.caption)
    assert at.sidebar.selectbox(key="f_period").format_func("mtd") == "Month to date"
    fig = _figures(at)[0]
    assert fig["data"][0]["name"] == "Daily collected"
    assert at.query_params["lang"] in ("en", ["en"])
    at.switch_page("dashboard/pages/aging.py").run()
    assert at.title[0].value == "Aging & roll rates"


def test_agent_leaderboard_is_the_registry_per_agent(run_app, app_store) -> None:  # noqa: ANN001
    at = run_app("agents", team="T01")
    assert not at.exception
    board = at.dataframe[0].value
    # the table shows money like the cards, ¥…万 with two decimals, and rates in percent with one
    div, digits, _ = money_scale(board["collected"].max() * 1e4, "zh")
    f = Filters(*MTD, teams=("T01",))
    col = compute("collected", app_store, f, ("agent_id",))
    rpc = compute("rpc_rate", app_store, f, ("agent_id",))
    want = dict(zip(col["agent_id"], col["value"], strict=True))
    got = dict(zip(board["agent_id"], board["collected"], strict=True))
    assert got == {a: shown(v / div, digits) for a, v in want.items() if a in got}
    assert set(got) == set(want)
    rpc_want = dict(zip(rpc["agent_id"], rpc["value"], strict=True))
    for a, v in zip(board["agent_id"], board["rpc_rate"], strict=True):
        assert v == shown(rpc_want[a] * 100, 1)
    assert list(board["rank"]) == list(range(1, len(board) + 1))
    # the scorecard opens on the top agent and shows the same collected
    assert _metric(at, "回收金额") == cny(want[board["agent_id"][0]], "zh")


def test_a_large_leaderboard_shows_top_or_bottom_n_and_finds_an_agent(run_app, app_store, monkeypatch) -> None:  # noqa: ANN001
    from queries.views import pages as pages_data

    monkeypatch.setattr(pages_data, "LEADERBOARD_TOP", 3)  # the small centre's 12 agents count as a large one here
    monkeypatch.setattr(pages_data, "LEADERBOARD_FITS", 3)
    at = run_app("agents")
    assert not at.exception
    col = compute("collected", app_store, Filters(*MTD), ("agent_id",)).sort(["value", "agent_id"],
                                                                          descending=[True, False])
    ranked = col["agent_id"].to_list()
    assert at.dataframe[0].value["agent_id"].to_list() == ranked[:3]
    assert at.segmented_control(key="lb_show").options == ["前 3 名", "后 3 名", f"全部 {len(ranked)} 人"]
    at.segmented_control(key="lb_show").set_value("bottom").run()
    assert at.dataframe[0].value["agent_id"].to_list() == ranked[::-1][:3]
    at.segmented_control(key="lb_show").set_value("all").run()
    assert at.dataframe[0].value["agent_id"].to_list() == ranked
    name = app_store.frame("agents").filter(pl.col("agent_id") == ranked[5])["agent_name"][0]
    at.text_input(key="lb_search").input(name).run()  # rank 6 is outside any top 3, but found by name
    assert ranked[5] in at.dataframe[0].value["agent_id"].to_list()
    at.text_input(key="lb_search").input("没有这个人").run()
    assert not at.exception
    assert at.dataframe[0].value.shape[0] == 0
    assert any("没有这个人" in i.value for i in at.info)
    # the scatter and the export still cover every agent
    assert sum(len(tr["x"]) for tr in _figures(at)[0]["data"]) == len(ranked)
    assert len(at.session_state[EXPORTS]["leaderboard"].csv().decode("utf-8-sig").splitlines()) == len(ranked) + 1


def test_complaints_kpis_are_the_registry_numbers(run_app, app_store) -> None:  # noqa: ANN001
    at = run_app("complaints", period="ytd")
    f = Filters(AS_OF.replace(month=1, day=1), AS_OF)
    assert not at.exception
    assert _metric(at, "投诉件数") == num(_value(app_store, "complaint_rate", f, "numerator"))
    assert _metric(at, "每万案件投诉") == num(_value(app_store, "complaint_rate", f), 1)
    assert _metric(at, "12378 监管投诉") == num(_value(app_store, "complaint_rate", f, "regulator_12378"))


def test_aging_bars_and_roll_matrix_are_the_registry_numbers(run_app, app_store) -> None:  # noqa: ANN001
    at = run_app("aging")
    assert not at.exception
    snap = max(d for d in app_store.snapshots if d <= AS_OF)
    f = Filters(*MTD)
    bal = compute("bucket_balance", app_store, f, ("bucket",), snapshot=snap)
    figs = _figures(at)
    bars = dict(zip(figs[0]["data"][0]["x"], figs[0]["data"][0]["y"], strict=True))
    for b, v in zip(bal["bucket"], bal["value"], strict=True):
        assert bars[b] == pytest.approx(v / 1e4)
    roll = compute("roll_rate", app_store, f, snapshot=snap)
    heat = figs[1]["data"][0]
    axes = figs[1]["layout"]
    m1_row = heat["z"][axes["yaxis"]["ticktext"].index("M1")]
    m1_m2 = roll.filter((roll["from_bucket"] == "M1") & (roll["to_bucket"] == "M2"))["value"][0]
    assert m1_row[axes["xaxis"]["ticktext"].index("M2")] == pytest.approx(m1_m2)
    at.segmented_control(key="basis").set_value("count").run()
    assert not at.exception
    assert any("户数" in m.value for m in at.markdown)


def test_trends_kpis_are_the_registry_numbers(run_app, app_store) -> None:  # noqa: ANN001
    at = run_app("trends")
    assert not at.exception
    f = Filters(*MTD)
    assert _metric(at, "回收金额 · 2026年11月") == cny(_value(app_store, "collected", f), "zh")
    assert _metric(at, "回收率 · 2026年11月") == pct(_value(app_store, "recovery_rate", f), 2)


@pytest.mark.parametrize("how", ["click", "link"])
def test_drill_down_lists_the_cases_behind_a_bar(run_app, app_source, how: str) -> None:  # noqa: ANN001
    from dashboard.links import drill_params
    from queries.source.engines import read_only_engine
    from queries.views.drilldown import list_cases

    day = AS_OF - dt.timedelta(days=1)
    request = {"event": "payments", "day": day.isoformat(), "teams": ("T01",), "label": "昨日回收 · T01"}
    if how == "click":  # what open_cases leaves in the session
        at = run_app()
        at.session_state["_drill"] = request
        at.switch_page("dashboard/pages/cases.py").run()
    else:  # the link that click puts in the address bar, opened in a new session
        at = run_app("cases", query=drill_params(request))
    assert not at.exception
    assert not at.warning
    heading = next(x.value for x in at.text if "下列案件对应" in x.value)
    assert ("昨日回收 · T01" if how == "click" else f"还款 · {day.isoformat()} · T01") in heading
    engine = read_only_engine(app_source[0])
    ref = list_cases(engine, Filters(*MTD, teams=("T01",)), event="payments", day=day)
    engine.dispose()
    table = at.dataframe[0].value
    assert list(table["case_id"]) == ref.rows["case_id"].to_list()
    assert any(f"{ref.total:,}" in c.value for c in at.caption)
    assert all("*" in n for n in table["customer_name"])  # masked


def test_a_drill_request_survives_the_round_trip_through_the_url() -> None:
    from dashboard.links import DRILL_URL, drill_params, drill_request

    request = {"event": "snapshot", "snapshot_on": "2026-10-31", "from_bucket": "M1", "to_bucket": "M2",
               "teams": ("T01", "T02"), "channel": "agency", "label": "not carried", "page": 3}
    params = drill_params(request)
    assert params == {"drill": "snapshot", "d_snapshot": "2026-10-31", "d_from": "M1", "d_to": "M2",
                      "d_team": ["T01", "T02"], "d_channel": "agency"}
    back = {k: (tuple(params[p]) if isinstance(params[p], list) else params[p])
            for k, p in DRILL_URL.items() if p in params}
    assert drill_request(back) == drill_request(request) == ({k: v for k, v in request.items()
                                                              if k not in ("label", "page")}, [])


def test_glossary_lists_every_registered_metric(run_app) -> None:  # noqa: ANN001
    from queries.metrics.registry import METRICS

    at = run_app("glossary", lang="en")
    table = at.table[0].value
    assert {k.replace("\\", "") for k in table["Key (command line)"]} == set(METRICS)
    at.session_state["f_lang"] = "zh"
    at.run()
    assert "回收金额" in set(at.table[0].value["指标"])
