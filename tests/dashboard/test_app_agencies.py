"""委外管理 · Agencies in AppTest: the registry's numbers, both languages, only for managers, executives and
compliance, with the agencies' compliance (breaches per 1,000 attempts, whitelisting, evaluation) at its end."""

from __future__ import annotations

import datetime as dt

import polars as pl
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
    assert [float(v) for v in grid["agency_score"]] == [round(v * 100, 1) for v in score.get_column("value")]
    assert len(at.get("plotly_chart")) == 1
    at.session_state["f_lang"] = "en"
    at.run()
    assert at.title[0].value == "Agencies" and any(h.value == "Compliance" for h in at.subheader)


def test_team_leads_do_not_get_the_agency_page(run_app) -> None:  # noqa: ANN001
    at = run_app(role="team_lead", teams=("T01",))
    assert not at.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not listed, not reachable
        at.switch_page("dashboard/pages/agencies.py")
