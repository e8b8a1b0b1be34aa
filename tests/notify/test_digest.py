"""The digest's numbers: every one equals `report`'s for the same filters, within the recipient's scope."""

from __future__ import annotations

import datetime as dt
import math
import sqlite3

import polars as pl
import pytest
from fixtures_notify import report

from queries.governance.access import load_access
from queries.metrics.declare import Metric
from queries.metrics.registry import METRICS
from queries.notify.digest import build, recipient
from queries.store import Store

DAY = dt.date(2026, 11, 21)  # the small centre runs to 2026-11-22; 21 Nov is a Saturday, working day 15


def _digest(settings, user: str):  # noqa: ANN001, ANN202
    access = load_access(settings.access_file)
    r = recipient(user, access.scope_for(user), access.subscriptions.get(user))
    return build(Store.open(settings.store_dir), r, DAY, dashboard_url="http://dash.example")


@pytest.mark.parametrize("user", ["boss@bank.example", "lead1@bank.example"])
def test_every_number_equals_report(settings, user) -> None:  # noqa: ANN001
    d = _digest(settings, user)
    assert len(d.sources) > 25
    cache: dict = {}
    for s in d.sources:
        args = (s.metric, s.start, s.end, s.by, s.teams)
        if args not in cache:
            cache[args] = report(settings, *args, user=user)
        rows = [r for r in cache[args] if all(r.get(k) == (v.isoformat() if isinstance(v, dt.date) else v)
                                              for k, v in s.row)]
        expected = rows[0].get(s.column) if rows else None
        if s.value is None or expected is None:  # absent from the report = nothing counted
            assert (s.value or 0) == (expected or 0), s
        else:
            assert math.isclose(s.value, expected, rel_tol=1e-9, abs_tol=6e-7), (s, expected)


def test_headline_against_the_source_counted_by_hand(settings, app_source) -> None:  # noqa: ANN001
    """Collected yesterday and month to date for team T01, summed straight from the case database's payments."""
    d = _digest(settings, "lead1@bank.example")
    con = sqlite3.connect(app_source[0].removeprefix("sqlite:///"))
    q = ("SELECT COALESCE(SUM(p.amount), 0) FROM payments p JOIN agents a ON a.agent_id = p.agent_id "
         "WHERE a.team_id = 'T01' AND substr(p.paid_at, 1, 10) BETWEEN ? AND ?")
    yesterday = con.execute(q, (DAY.isoformat(), DAY.isoformat())).fetchone()[0]
    mtd = con.execute(q, ("2026-11-01", DAY.isoformat())).fetchone()[0]
    assert d.headline["yesterday"] == pytest.approx(round(yesterday, 2), abs=0.005)
    assert d.headline["mtd"] == pytest.approx(round(mtd, 2), abs=0.005)
    assert d.workday == (15, 21)  # November 2026: 21 working days; the 1st–21st hold 15 of them


def test_a_team_lead_sees_only_their_team(settings) -> None:  # noqa: ANN001
    d = _digest(settings, "lead1@bank.example")
    assert d.team_ids == ("T01",)
    for df in (d.teams, d.behind, d.top, d.bottom, d.ptp_by_team, d.regulator_agents):
        assert set(df.get_column("team_id").to_list()) <= {"T01"}
    agents = Store.open(settings.store_dir).frame("agents").filter(pl.col("team_id") == "T01")
    assert set(d.top["agent_id"]) | set(d.bottom["agent_id"]) <= set(agents["agent_id"])
    assert "team=" not in d.link  # the dashboard applies the lead's own scope


def test_a_subscription_narrows_the_scope(settings, tmp_path) -> None:  # noqa: ANN001
    from queries.governance.access import parse_access
    from queries.notify.digest import Recipient

    access = parse_access('[users."m@b"]\nrole = "manager"\n[users."m@b".digest]\nteams = ["T02", "T03"]\n')
    r = recipient("m@b", access.scope_for("m@b"), access.subscriptions["m@b"])
    assert isinstance(r, Recipient) and r.scope.teams == frozenset({"T02", "T03"}) and r.narrowed
    d = build(Store.open(settings.store_dir), r, DAY, dashboard_url="http://dash.example")
    assert d.team_ids == ("T02", "T03")
    assert d.link.endswith("team=T02&team=T03")


def test_breach_section_appears_once_a_breach_metric_is_registered(settings, monkeypatch) -> None:  # noqa: ANN001
    real = _digest(settings, "boss@bank.example")  # the registered compliance metric: by check
    assert real.breach_metric == "breaches" and real.breaches.columns == ["check", "numerator"]
    monkeypatch.delitem(METRICS, "breaches")
    d = _digest(settings, "boss@bank.example")
    assert d.breach_metric is None and d.breaches is None

    def breaches(store, filters, by=()):  # noqa: ANN001, ANN202 - a stand-in compliance metric
        rows = {"check": ["quiet_hours", "unanswered_cap"], "numerator": [3.0, 1.0]}
        df = pl.DataFrame(rows).with_columns(pl.lit(None, pl.Float64).alias("denominator"),
                                             pl.col("numerator").alias("value"))
        return df if by else df.select(pl.col("numerator").sum(), pl.lit(None, pl.Float64).alias("denominator"),
                                       pl.col("numerator").sum().alias("value"))

    m = Metric("breaches", "违规", "Breaches", "违规次数", "Breaches", "breaches", "违规", None, None, breaches,
               ("day", "team_id", "check"), "count")
    monkeypatch.setitem(METRICS, "breaches", m)
    d = _digest(settings, "boss@bank.example")
    assert d.breach_metric == "breaches"
    assert d.breaches.to_dicts() == [{"check": "quiet_hours", "numerator": 3.0},
                                     {"check": "unanswered_cap", "numerator": 1.0}]
    from queries.notify import render

    assert "quiet\\_hours" in render.markdown(d) and "quiet_hours" in render.html(d, [])


def test_stale_store_and_data_behind_are_said(settings) -> None:  # noqa: ANN001
    from queries.filters import Scope
    from queries.notify.digest import Recipient

    store = Store.open(settings.store_dir)
    d = build(store, Recipient("x@y", Scope(), "en"), dt.date(2026, 11, 25), max_age_s=0)
    assert any("synced at" in n for n in d.notes)
    assert any("runs to 22 Nov 2026 only, not 25 Nov 2026" in n for n in d.notes)
    zh = build(store, Recipient("x@y", Scope(), "zh"), DAY, max_age_s=1e12)
    assert zh.notes == []


def test_headline_carries_the_landing_forecast(settings) -> None:  # noqa: ANN001
    """The month-end landing (80% interval, P(target)) is in the headline, from the registry's `landing`."""
    from dashboard.format import cny
    from queries.notify.render import headline_rows

    d = _digest(settings, "boss@bank.example")
    assert [s for s in d.sources if s.metric == "landing" and s.column == "value"]
    h = d.headline
    assert h["landing_low"] <= h["landing"] <= h["landing_high"] and h["landing"] >= h["mtd"]
    label, text = next(r for r in headline_rows(d) if r[0] == METRICS["landing"].name(d.recipient.lang))
    assert cny(h["landing"], d.recipient.lang) in text and cny(h["landing_high"], d.recipient.lang) in text


def test_a_month_end_digest_says_where_the_month_closed(settings) -> None:  # noqa: ANN001
    """On a month's last day the landing line is the month's figure, without an interval or P(target)."""
    from queries.filters import Scope
    from queries.notify.digest import Recipient
    from queries.notify.render import headline_rows

    store = Store.open(settings.store_dir)
    for lang, closed in (("zh", "本月已结束"), ("en", "the month is over")):
        d = build(store, Recipient("x@y", Scope(), lang), dt.date(2026, 10, 31), max_age_s=1e12)
        h = d.headline
        assert h["landing"] is not None and h["landing_low"] is None and h["p_target"] is None
        _, text = next(r for r in headline_rows(d) if r[0] == METRICS["landing"].name(lang))
        assert closed in text and "80%" not in text and "–" not in text
