"""委外管理 · Agencies in AppTest: the registry's numbers, both languages, only for managers, executives and
compliance, with the agencies' compliance (breaches per 1,000 attempts, whitelisting, evaluation) at its end."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from fixtures_app import shown
from fixtures_demo import AS_OF

from queries.filters import Filters
from queries.metrics.registry import compute

MTD = Filters(AS_OF.replace(day=1), AS_OF)
YTD = Filters(dt.date(AS_OF.year, 1, 1), AS_OF)


def test_a_period_without_placements_says_so_once_per_block_as_information(run_app) -> None:  # noqa: ANN001
    # the scorecard and the vintage curves each say there were none, with the same icon: not a tick (good news)
    at = run_app("agencies", dates=["2026-11-01", "2026-11-03"])
    assert not at.exception, at.exception
    none = [i for i in at.info if i.value == "所选期间没有委外委案。"]
    assert len(none) == 2 and {i.icon for i in none} == {":material/info:"}, [(i.value, i.icon) for i in at.info]


def test_agencies_page_shows_the_registry_scorecard_in_both_languages(run_app, app_store) -> None:  # noqa: ANN001
    score = compute("agency_score", app_store, YTD)
    at = run_app("agencies", period="ytd")
    assert not at.exception, at.exception
    assert at.title[0].value == "委外管理"
    assert any(h.value == "合规" for h in at.subheader)
    # the compliance section: the weighted scorecard of the agencies, breaches per 1,000 attempts from the registry
    breaches = compute("breaches", app_store, YTD, ("team_id",)).filter(pl.col("denominator") > 0)
    weighted = next(d.value for d in at.dataframe if "who_id" in d.value.columns)
    assert set(weighted["who_id"]) and set(weighted["who_id"]) <= set(breaches.get_column("team_id").to_list())
    rates = dict(zip(breaches.get_column("team_id").to_list(), breaches.get_column("value").to_list(), strict=True))
    assert [round(float(v), 1) for v in weighted["breach_rate"]] == [round(rates[w], 1) for w in weighted["who_id"]]
    grid = at.dataframe[0].value
    assert list(grid["holder"]) == score.get_column("holder").to_list()  # ranked as the registry ranks
    assert [float(v) for v in grid["placed"]] == score.get_column("placed").to_list()
    assert [float(v) for v in grid["agency_score"]] == [shown(v * 100, 1) for v in score.get_column("value")]
    # a table holds each number as it shows it (two decimals, 四舍五入: dashboard.format)
    assert [float(v) for v in grid["breaches_per_1k"]] == [shown(v, 2) for v in score.get_column("breaches_per_1k")]
    assert len(at.get("plotly_chart")) == 1
    # the demo agencies' commission rates (agency_fees): commission and net recovery as the registry has them
    assert score.get_column("commission").null_count() == 0
    for col in ("commission", "net_recovery"):  # money in the table in ¥10,000 (万元)
        assert [float(v) for v in grid[col]] == [shown(v / 10_000, 2) for v in score.get_column(col)]
    assert [float(v) for v in grid["net_per_100"]] == [shown(v, 2) for v in score.get_column("net_per_100")]
    assert any("佣金成本 = " in c.value for c in at.caption)
    at.session_state["f_lang"] = "en"
    at.run()
    assert at.title[0].value == "Agencies" and any(h.value == "Compliance" for h in at.subheader)


def test_team_leads_do_not_get_the_agency_page(run_app) -> None:  # noqa: ANN001
    at = run_app(role="team_lead", teams=("T01",))
    assert not at.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not listed, not reachable
        at.switch_page("dashboard/pages/agencies.py")


def test_without_agency_fees_the_page_says_why(app_source, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """A source without the optional agency_fees table: no commission columns, one line saying what to add."""
    from fixtures_app import open_page_app, serve_lean_copy

    serve_lean_copy(app_source, tmp_path, monkeypatch, "DROP TABLE agency_fees")
    for lang, words in (("zh", "案件库没有可选的 agency_fees 表"), ("en", "no optional agency_fees table")):
        at = open_page_app("agencies", lang=lang, period="ytd")
        assert not at.exception
        grid = at.dataframe[0].value
        assert "holder" in grid.columns and "commission" not in grid.columns and "net_recovery" not in grid.columns
        assert any(words in c.value for c in at.caption)


def test_a_scorecard_row_and_a_vintage_point_drill_to_the_placed_cases(run_app, app_store, app_source) -> None:  # noqa: ANN001
    """The link a scorecard row opens lists the row's placed cases: its placed count is the sum of the months' lists
    (each a month's placements), and the row's list holds each of their cases once (a case placed twice in the
    period counts twice in the figure); a vintage point's link lists the point's placed cases with its numerator
    as their payments."""
    from dashboard.format import cny
    from dashboard.links import drill_params
    from queries.dates import month_starts
    from queries.source.engines import read_only_engine
    from queries.views.drilldown import iter_cases

    score = compute("agency_score", app_store, YTD)
    holder, placed = score.get_column("holder")[0], int(score.get_column("placed")[0])
    end = AS_OF.replace(day=1) - dt.timedelta(days=1)  # placement months with a month after them
    engine = read_only_engine(app_source[0])
    months = [set(pl.concat([*iter_cases(engine, YTD, event="agency_placements", holder=holder, month=m),
                             pl.DataFrame(schema={"case_id": pl.Int64})], how="diagonal")["case_id"])
              for m in month_starts(YTD.start, end)]
    engine.dispose()
    assert sum(len(m) for m in months) == placed > 0
    request = {"event": "agency_placements", "holder": holder, "start": YTD.start.isoformat(), "end": end.isoformat()}
    at = run_app("cases", query=drill_params(request))
    assert not at.exception and not at.warning
    assert any(f"共 {len(set().union(*months)):,} 件" in c.value for c in at.caption), [c.value for c in at.caption]
    vint = compute("agency_liquidation", app_store, YTD).filter(pl.col("holder") == holder, pl.col("months_since") == 2)
    cell = vint.row(0, named=True)
    request = {"event": "agency_placements", "holder": holder, "month": cell["placed_month"].isoformat(),
               "months_since": "2"}
    at = run_app("cases", query=drill_params(request))
    assert not at.exception and not at.warning
    caption = " ".join(c.value for c in at.caption)
    assert f"共 {int(cell['placed']):,} 件" in caption and cny(cell["numerator"], "zh") in caption, caption


def test_the_scorecard_row_click_opens_the_cases_page(run_app, app_store) -> None:  # noqa: ANN001
    at = run_app("agencies", period="ytd")
    at.session_state["agency_score_rows"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.query_params["drill"] == "agency_placements", at.query_params  # on the cases page, the row's cases
    holder = compute("agency_score", app_store, YTD).get_column("holder")[0]
    assert at.query_params["d_holder"] == holder and at.title[0].value == "案件明细"


def test_the_placement_month_travels_in_the_url(run_app, app_store) -> None:  # noqa: ANN001
    """?vintage=YYYY-MM opens that placement month's curves; a month the period lacks or a malformed one falls back to
    the default with a notice; picking a month writes it to the URL."""
    months = sorted(compute("agency_liquidation", app_store, YTD).get_column("placed_month").unique().to_list())
    want = months[1]
    at = run_app("agencies", period="ytd", vintage=f"{want:%Y-%m}")
    assert not at.exception
    assert at.selectbox(key="agency_month").value == want
    assert any(f"{want.year}年{want.month}月" in m.value for m in at.markdown if "批次清收曲线" in m.value)
    at.selectbox(key="agency_month").set_value(months[2]).run()
    assert at.query_params["vintage"] == f"{months[2]:%Y-%m}"
    bad = run_app("agencies", period="ytd", vintage="2026-13<b>")
    assert not bad.exception
    assert bad.selectbox(key="agency_month").value in months
    assert any("委案月份" in w.value and "2026-13" in w.value for w in bad.warning)
