"""What a supervisor meets in real use (issue 10), page by page under AppTest: labels, formats, links."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from fixtures_demo import AS_OF

from dashboard import charts
from dashboard.format import change, cny
from dashboard.i18n import _VALUES
from queries.filters import Filters
from queries.metrics.registry import compute

MTD = Filters(AS_OF.replace(day=1), AS_OF)
CODES = sorted(k for k in _VALUES if k.isascii() and "_" in k)  # in_house, regulator_12378, paid_off …


def _figures(at) -> list[dict]:  # noqa: ANN001
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def _texts(at) -> str:  # noqa: ANN001
    """Every caption, markdown, metric, table cell and header, and chart string the run drew."""
    parts = [x.value for x in (*at.caption, *at.markdown, *at.info, *at.text)]
    parts += [f"{m.label} {m.value} {m.delta}" for m in at.metric]
    for df in at.dataframe:  # the headers a viewer sees (column_config labels) and every cell
        parts += [str(c.get("label", "")) for c in json.loads(df.proto.columns or "{}").values()]
        parts += [str(x) for x in df.value.to_numpy().ravel() if x is not None]
    for fig in _figures(at):
        for tr in fig["data"]:
            for k in ("name", "text", "hovertext", "x", "y"):
                val = tr.get(k)
                flat = val if isinstance(val, list) else [val]
                flat = [y for x in flat for y in (x if isinstance(x, list) else [x])]
                parts += [str(x) for x in flat if x is not None]
    return "\n".join(parts)


def test_daily_today_is_compared_with_the_same_weekday_and_a_past_day_is_named(run_app, app_store) -> None:  # noqa: ANN001
    at = run_app()
    card = next(m for m in at.metric if m.label == "今日回收")
    lm = compute("collected", app_store, MTD.with_dates(dt.date(2026, 10, 25), dt.date(2026, 10, 25)))["value"][0]
    now = compute("collected", app_store, MTD.with_dates(AS_OF, AS_OF))["value"][0]
    assert card.delta == change(now / lm - 1)  # Sunday 22 Nov against Sunday 25 Oct
    assert any("今日对比上月同星期 2026年10月25日（周日）" in c.value for c in at.caption)
    at = run_app(None, dates=["2026-11-01", "2026-11-15"])
    labels = [m.label for m in at.metric]
    assert "11月15日 回收" in labels and "今日回收" not in labels and "11月15日 到期承诺" in labels


def test_the_team_chart_shows_pace_with_names_colour_and_the_expected_mark(run_app, app_store) -> None:  # noqa: ANN001
    at = run_app()
    fig = next(f for f in _figures(at) if any(tr.get("orientation") == "h" for tr in f["data"]))
    bars = fig["data"][0]
    names = dict(app_store.frame("teams").select("team_id", "team_name").iter_rows())
    assert all(any(n in label for n in names.values()) for label in bars["y"])  # team names, not only ids
    notes = fig["layout"]["annotations"]  # each team's pace, right of the plot, on its bar's row and in its colour
    assert [n["y"] for n in notes] == bars["y"] and [n["font"]["color"] for n in notes] == bars["marker"]["color"]
    paces = [float(n["text"].rstrip("%")) for n in notes]
    assert paces == sorted(paces)  # most behind on top
    assert {c for c in bars["marker"]["color"]} <= {charts.GREEN, charts.ORANGE, charts.GREY}
    assert [c == charts.GREEN for c in bars["marker"]["color"]] == [p >= 100 for p in paces]
    hover = bars["hovertext"][0]
    for word in ("回收金额", "月度目标", "达成率", "进度"):
        assert word in hover
    assert any(tr.get("name") == "按进度应回收" for tr in fig["data"])
    # the pace label is drawn right of the plot, into a right margin wide enough for "145%"; the legend entries are
    # as wide as their text (a fixed half-width cut "Monthly target" off in English)
    assert all(n["xref"] == "paper" and n["x"] == 1 and n["xanchor"] == "left" for n in notes)
    assert fig["layout"]["margin"]["r"] >= 40
    assert "entrywidth" not in fig["layout"]["legend"]
    at.segmented_control(key="team_sort").set_value("collected").run()
    fig = next(f for f in _figures(at) if any(tr.get("orientation") == "h" for tr in f["data"]))
    assert fig["data"][0]["x"] == sorted(fig["data"][0]["x"], reverse=True)


def test_mom_yoy_table_has_empty_cells_points_and_translated_headers(run_app) -> None:  # noqa: ANN001
    at = run_app("trends")
    table = at.dataframe[0].value
    assert "through" not in table.columns
    first = table.iloc[0]
    assert first["mom_rr_pp"] == "" and first["yoy_rr_pp"] == "" and first["mom"] == ""  # nothing to compare
    assert re.fullmatch(r"[+-]\d+\.\d pp", table.iloc[1]["mom_rr_pp"])  # points: no % sign
    assert "None" not in _texts(at)
    config = json.loads(at.dataframe[0].proto.columns)
    assert config["mom_rr_pp"]["label"] == "环比（百分点）" and config["month"]["label"] == "月份"


@pytest.mark.parametrize("page", ["daily", "agents", "aging", "trends", "cases", "complaints"])
def test_no_contract_code_or_none_in_the_chinese_ui(run_app, page: str) -> None:  # noqa: ANN001
    at = run_app(None if page == "daily" else page, period="ytd" if page == "complaints" else "mtd")
    assert not at.exception
    if page == "cases":
        at.session_state["case_rows"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
        at.run()
        assert len(at.dataframe) == 2  # the list and the timeline
    text = _texts(at)
    found = [c for c in CODES if re.search(rf"(?<![A-Za-z_]){c}(?![A-Za-z_])", text)]
    assert not found, (page, found)
    assert not re.search(r"\bNone\b", text), page
    assert not re.search(r"(?<![A-Za-z_])(complaint_id|agent_id|customer_name|no_answer|current_balance)\b", text)
    for fig in _figures(at):  # no English month names on date axes: numeric ticks or the zh-CN locale
        for axis in ("xaxis", "yaxis"):
            fmt = fig["layout"].get(axis, {}).get("tickformat", "")
            assert "%b" not in fmt, (page, fmt)


@pytest.mark.parametrize("page", ["daily", "agents", "aging", "trends", "complaints", "compliance", "agencies"])
def test_every_value_axis_is_titled(run_app, page: str) -> None:  # noqa: ANN001
    """Each axis a bar or line is measured on names what it counts (the complaints' weekly counts and the
    attempts by ordinal had none: their titles went to no axis)."""
    at = run_app(None if page == "daily" else page, role="manager" if page == "compliance" else None, period="ytd")
    assert not at.exception
    figures = _figures(at)
    assert figures, page
    checked = 0
    for fig in figures:
        across = any(trace.get("orientation") == "h" for trace in fig["data"])  # bars measured along x
        for trace in fig["data"]:
            if trace.get("type", "scatter") not in ("bar", "scatter"):
                continue
            axis = "xaxis" if across else "yaxis" + trace.get("yaxis", "y")[1:]
            title = fig["layout"].get(axis, {}).get("title", {}).get("text")
            assert title, (page, axis, trace.get("name"))
            checked += 1
    assert checked, page


def test_the_case_timeline_speaks_chinese(run_app) -> None:  # noqa: ANN001
    at = run_app("cases", drill="payments")
    at.session_state["case_rows"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    events = at.dataframe[1].value
    kinds = set(events["kind"])
    assert kinds <= {"催收记录", "还款承诺", "还款", "投诉", "月末快照"} and "还款" in kinds
    details = " ".join(events["detail"])
    assert "通话" in details and " 秒" in details  # a call's duration label (tl_duration)
    assert "逾期" in details or "月末快照" not in kinds  # a month-end snapshot's days past due (tl_dpd)
    assert not re.search(r"\b(call|none|no_answer|rpc|wechat_pay)\b", details)


def test_zero_complaints_say_so(run_app, app_store) -> None:  # noqa: ANN001
    nov = compute("complaint_rate", app_store, MTD)
    assert nov["numerator"][0] == 0 and nov["denominator"][0] > 0  # the small centre had none this month
    at = run_app("complaints")
    infos = [i.value for i in at.info]
    assert "本期没有投诉。" in infos
    assert not any("放宽筛选条件" in i for i in infos[:-1])  # not "no data, widen the filters"


def test_the_leaderboard_shows_every_agent_that_fits_and_flags_cells(run_app, app_store) -> None:  # noqa: ANN001
    at = run_app("agents")
    agents = compute("collected", app_store, MTD, ("agent_id",)).height
    assert len(at.dataframe[0].value) == agents  # every agent: they fit
    assert "lb_show" not in [w.key for w in at.segmented_control]  # no top-N picker
    assert "background-color: #FBE3CF" in str(at.dataframe[0].proto)  # below-median cells are shaded
    assert any("低于该坐席所在团队的中位数" in c.value for c in at.caption)
    config = json.loads(at.dataframe[0].proto.columns)
    assert config["agent_id"]["pinned"] and config["agent_name"]["pinned"]  # id and name stay on a phone


def test_thin_hours_are_grey_with_their_count_and_a_reason(run_app) -> None:  # noqa: ANN001
    at = run_app("agents")
    heat = next(f for f in _figures(at) if f["data"][0]["type"] == "heatmap" and len(f["data"]) == 2)
    thin, solid = heat["data"]
    counts = [x for row in thin["text"] for x in row if x]
    assert counts and all(int(x) < 20 for x in counts)
    assert any("外呼少于 20 次" in c.value for c in at.caption)


def test_aging_snapshot_basis_and_the_scorecard_agent_live_in_the_url(run_app, app_store) -> None:  # noqa: ANN001
    snaps = [d for d in app_store.snapshots if d <= AS_OF]
    at = run_app("aging", snapshot=snaps[-3].isoformat(), basis="count")
    assert not at.exception and not at.warning
    assert at.selectbox(key="snapshot").value == snaps[-3]
    assert at.segmented_control(key="basis").value == "count"
    assert at.query_params["snapshot"] in (snaps[-3].isoformat(), [snaps[-3].isoformat()])
    at.selectbox(key="snapshot").set_value(snaps[-2]).run()
    assert at.query_params["snapshot"] in (snaps[-2].isoformat(), [snaps[-2].isoformat()])
    bad = run_app("aging", snapshot="2026-02-30", basis="<b>x</b>")
    notice = bad.warning[0].value
    assert "2026-02-30" in notice and "<b>x</b>" in notice and bad.selectbox(key="snapshot").value == snaps[-1]
    board = compute("collected", app_store, MTD, ("agent_id",)).sort("value")
    weakest = board["agent_id"][0]
    at = run_app("agents", scorecard=weakest)
    assert at.selectbox(key="scorecard_agent").value == weakest
    titles = [h.proto.body for h in at.get("html")]  # the funnel title is escaped HTML text (it holds a name)
    assert any(weakest in b for b in titles if "催收漏斗" in b)
    bad = run_app("agents", scorecard="A9999")
    assert "A9999" in bad.warning[0].value


def test_demo_role_and_team_survive_a_drill_down_and_page_switches(run_app) -> None:  # noqa: ANN001
    at = run_app("agents", role="team_lead", teams=["T02"])
    at.button(key="agent_cases").click().run()
    assert at.title[0].value == "案件明细"
    assert at.session_state["demo_role"] == "team_lead" and at.session_state["demo_teams"] == ["T02"]
    for page in ("daily", "aging", "agents"):
        at.switch_page(f"dashboard/pages/{page}.py").run()
        assert at.session_state["demo_role"] == "team_lead" and at.session_state["demo_teams"] == ["T02"]
        assert at.sidebar.multiselect(key="f_team").options == ["T02 · " + at.sidebar.multiselect(
            key="f_team").options[0].split(" · ", 1)[1]]


def test_database_values_stay_text_in_labels_and_charts() -> None:
    from dashboard.format import html_escape, md_escape

    name = "[x](javascript:alert(1)) **b** :red[c] <img src=x>"
    assert md_escape(name) == r"\[x\]\(javascript\:alert\(1\)\) \*\*b\*\* \:red\[c\] \<img src\=x\>"
    assert html_escape("<a href='x'>y</a>") == "&lt;a href='x'&gt;y&lt;/a&gt;"
    import polars as pl

    df = pl.DataFrame({"team_id": ["T<b>1"], "team_name": ["<a href='x'>y</a>"], "collected": [1.0],
                       "target": [2.0], "expected": [1.0], "achievement": [0.5], "pace": [1.0]})
    fig = charts.team_pace(df, "zh").to_plotly_json()
    assert "<a" not in json.dumps(fig["data"][0]["y"]) and "&lt;a" in fig["data"][0]["y"][0]
    assert cny(1234567, "zh") == "¥123.46万"


# What a Chinese sentence may name as typed: code in backticks, placeholders, a config section, a file or setting
# name (with a dot or underscore inside a word), the format names CSV and Excel, bucket codes, a formula's n and url.
_NAMED = re.compile(r"`[^`]*`|\{[^}]*\}|\[[^\]]*\]|\b\w+(?:[._]\w+)+\b|\bCASES_\w+|\bCSV\b|\bExcel\b|\bM\d\b"
                    r"|\bn\b|\burl\b")


def test_the_chinese_labels_and_metric_names_hold_no_english_words() -> None:
    from dashboard.i18n import _LABELS
    from queries.metrics.base import BEFORE_COMPLIANCE, NO_RECORDS
    from queries.metrics.registry import METRICS

    texts = {k: zh for k, (zh, _en) in _LABELS.items()}
    texts |= {f"{k}.{f}": getattr(m, f) or "" for k, m in METRICS.items()
              for f in ("name_zh", "definition_zh", "numerator_zh", "denominator_zh")}
    texts |= {f"no_records.{k}": zh for k, (zh, _en) in NO_RECORDS.items()} | {"before_compliance": BEFORE_COMPLIANCE[0]}
    english = {k: w for k, s in texts.items() if (w := re.findall(r"[A-Za-z]{2,}", _NAMED.sub(" ", s)))}
    assert not english, english
