"""The demo centre breaks the collection rules the way real centres do (DESIGN §4b): aggressive agents and one
agency outside the hours, past the caps, reaching third parties, calling through repayment plans, connected calls
without a recording; robot dialling; one agency working before it was whitelisted and one overdue for evaluation;
complaints that follow the breaches. The shares are pinned here; the store's figures on the synced demo too."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from fixtures_demo import AS_OF

from queries.filters import Filters
from queries.metrics import registry
from queries.store import Store


@pytest.fixture(scope="module")
def t(demo_portfolio):  # noqa: ANN001, ANN201
    return demo_portfolio.tables


@pytest.fixture(scope="module")
def contacts(t) -> pl.DataFrame:  # noqa: ANN001
    return t["contacts"].join(t["agents"].select("agent_id", "team_id"), on="agent_id").join(
        t["teams"].select("team_id", pl.col("channel").alias("team_channel")), on="team_id")


def test_optional_parts_are_filled(t) -> None:  # noqa: ANN001
    c = t["contacts"]
    calls = c.filter(pl.col("channel") == "call")
    others = c.filter(pl.col("channel") != "call")
    assert others["is_robot"].null_count() == others.height
    robot = calls["is_robot"].mean()
    assert 0.08 < robot < 0.25, robot  # the early-stage teams' dialler
    connected = calls.filter(~pl.col("outcome").is_in(["no_answer", "busy", "wrong_number"]))
    unrecorded = connected["recording_id"].null_count() / connected.height
    assert 0.01 < unrecorded < 0.08, unrecorded
    assert c.filter(pl.col("channel") != "call")["recording_id"].null_count() == c.filter(
        pl.col("channel") != "call").height
    teams = t["teams"]
    agency = teams.filter(pl.col("channel") == "agency")
    assert agency["whitelisted_on"].null_count() == 0 and agency["evaluated_on"].null_count() == 0
    assert teams.filter(pl.col("channel") == "in_house")["whitelisted_on"].null_count() == teams.filter(
        pl.col("channel") == "in_house").height
    # one agency whitelisted during the history (it worked before), one whose evaluation is over a year old
    first_contact = c["contacted_at"].min().date()
    assert agency.filter(pl.col("whitelisted_on") > first_contact).height == 1
    assert agency.filter(pl.col("evaluated_on") < AS_OF - dt.timedelta(days=365)).height == 1


def test_plans_follow_hardship_and_most_agents_stop_calling(t) -> None:  # noqa: ANN001
    p = t["repayment_plans"]
    cases = t["cases"].height
    assert 0.02 < p.height / cases < 0.08
    shares = dict(p.group_by("status").len().iter_rows())
    assert set(shares) == {"active", "completed", "broken", "cancelled"}
    assert p.filter(pl.col("status") == "active")["ended_on"].null_count() == shares["active"]
    assert p.filter(pl.col("status") != "active")["ended_on"].null_count() == 0
    assert (p.filter(pl.col("ended_on").is_not_null())["ended_on"] >= p.filter(
        pl.col("ended_on").is_not_null())["agreed_on"]).all()
    hard = t["contacts"].filter(pl.col("outcome") == "hardship").select("case_id").unique()
    assert p.join(hard, on="case_id", how="anti").height == 0


def test_aggressive_agents_and_one_agency_break_the_rules(t, contacts) -> None:  # noqa: ANN001
    att = contacts.filter(pl.col("channel").is_in(["call", "visit"]))
    hour = pl.col("contacted_at").dt.hour()
    night = att.with_columns((((hour >= 22) | (hour < 8)) & ~pl.col("debtor_consent_after_hours")).alias("night"))
    overall = night["night"].mean()
    assert 0.005 < overall < 0.03, overall
    # a few agents (the aggressive ones) call at night many times more often than the typical agent
    by_agent = night.group_by("agent_id").agg(pl.col("night").mean()).get_column("night").sort()
    assert by_agent[int(len(by_agent) * 0.9)] > 5 * by_agent.median()
    # the late-whitelisted agency is the worst team for it
    by_team = night.group_by("team_id").agg(pl.col("night").mean()).sort("night", descending=True)
    late = t["teams"].filter(pl.col("channel") == "agency").sort("whitelisted_on")["team_id"][-1]
    assert by_team["team_id"][0] == late


@pytest.fixture(scope="module")
def store(demo_centre_store) -> Store:  # noqa: ANN001
    return demo_centre_store


def test_store_figures_on_the_demo(store: Store) -> None:
    f = Filters(start=dt.date(2026, 2, 1), end=AS_OF)
    per_1k = {r["check"]: r["value"] for r in registry.compute("breaches", store, f, ("check",)).iter_rows(named=True)}
    bands = {"quiet_hours": (5, 60), "unanswered_cap": (2, 30), "connected_cap": (0.01, 5), "third_party": (10, 80),
             "during_plan": (2, 30), "unrecorded": (15, 90), "agency_not_allowed": (0.5, 30)}
    for check, (lo, hi) in bands.items():
        assert lo < per_1k[check] < hi, (check, per_1k[check])
    by_channel = {(r["check"], r["channel"]): r["value"] for r in registry.compute(
        "breaches", store, f, ("check", "channel")).iter_rows(named=True)}
    assert by_channel[("agency_not_allowed", "in_house")] == 0
    assert by_channel[("unrecorded", "agency")] > 2 * by_channel[("unrecorded", "in_house")]
    tp = registry.compute("third_party_unjustified", store, f)["value"].item()
    assert 0.3 < tp < 0.8, tp
    cov = registry.compute("recording_coverage", store, f)["value"].item()
    assert 0.9 < cov < 0.99, cov
    after = registry.compute("complaints_after_breach", store, f)
    assert after["denominator"].item() >= 15 and 0.3 < after["value"].item() < 0.95, after
    late = registry.compute("complaints_late", store, f)["value"].item()
    assert 0.05 < late < 0.5, late
    ords = registry.compute("rpc_by_attempt", store, f, ("ordinal",))
    rates = dict(zip(ords["ordinal"], ords["value"], strict=True))
    assert set(rates) == set(range(1, 8))
    assert rates[1] > rates[7]  # dials past the caps add risk and no contact
