"""委外管理 · Agencies in AppTest: the registry's numbers, both languages, only for managers, executives and
compliance, with the note on the compliance figures still to come."""

from __future__ import annotations

import datetime as dt

import pytest
from fixtures_demo import AS_OF

from queries.filters import Filters
from queries.metrics.registry import compute

MTD = Filters(AS_OF.replace(day=1), AS_OF)
YTD = Filters(dt.date(AS_OF.year, 1, 1), AS_OF)


def test_agencies_page_shows_the_registry_scorecard_in_both_languages(run_app, app_store) -> None:  # noqa: ANN001
    score = compute("agency_score", app_store, YTD)
    at = run_app("agencies", period="ytd")
    assert not at.exception, at.exception
    assert at.title[0].value == "委外管理"
    assert any("合规模块" in i.value for i in at.info)
    grid = at.dataframe[0].value
    assert list(grid["holder"]) == score.get_column("holder").to_list()  # ranked as the registry ranks
    assert [float(v) for v in grid["placed"]] == score.get_column("placed").to_list()
    assert [float(v) for v in grid["agency_score"]] == [round(v * 100, 1) for v in score.get_column("value")]
    assert len(at.get("plotly_chart")) == 1
    at.session_state["f_lang"] = "en"
    at.run()
    assert at.title[0].value == "Agencies" and any("compliance module" in i.value for i in at.info)


def test_team_leads_do_not_get_the_agency_page(run_app) -> None:  # noqa: ANN001
    at = run_app(role="team_lead", teams=("T01",))
    assert not at.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not listed, not reachable
        at.switch_page("dashboard/pages/agencies.py")
