"""Drill-down lists and case timelines on every backend, checked against a plain Polars computation."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest

from queries.filters import Filters, Scope
from queries.source.engines import read_only_engine
from queries.views.drilldown import DrillDownError, case_timeline, list_cases

PERIOD = Filters(start=dt.date(2026, 9, 14), end=dt.date(2026, 10, 20))
LEAD_T01 = Scope(teams=frozenset({"T01"}), role="team_lead")


@pytest.fixture(scope="module")
def engine(shared_small_source):  # noqa: ANN001, ANN201
    e = read_only_engine(shared_small_source)
    yield e
    e.dispose()


def _opening_bucket(t: dict[str, pl.DataFrame], events: pl.DataFrame, when: str) -> pl.DataFrame:
    """Events with the case's opening bucket for the event's month, computed plainly."""
    ev = events.with_columns(pl.col(when).cast(pl.Date).dt.truncate("1mo").alias("m"))
    snap = t["balance_snapshots"].select("case_id", (pl.col("snapshot_on") + dt.timedelta(days=1)).alias("m"),
                                         pl.col("dpd").alias("snap_dpd"))
    cases = t["cases"].select("case_id", "placed_on", "placed_dpd")
    ev = ev.join(snap, on=["case_id", "m"], how="left").join(cases, on="case_id")
    placed_here = pl.col("placed_on").dt.truncate("1mo") == pl.col("m")
    dpd = pl.when(pl.col("snap_dpd").is_not_null()).then(pl.col("snap_dpd")).when(placed_here).then(
        pl.col("placed_dpd"))
    bucket = (pl.when(dpd <= 0).then(pl.lit("M0")).when(dpd <= 30).then(pl.lit("M1")).when(dpd <= 60)
              .then(pl.lit("M2")).when(dpd <= 90).then(pl.lit("M3")).when(dpd <= 120).then(pl.lit("M4"))
              .when(dpd <= 150).then(pl.lit("M5")).when(dpd <= 180).then(pl.lit("M6")).when(dpd.is_not_null())
              .then(pl.lit("M7+")))
    return ev.with_columns(bucket.alias("bucket"))


def _expected_payment_cases(t: dict[str, pl.DataFrame], f: Filters) -> pl.DataFrame:
    pay = t["payments"].filter(pl.col("paid_at").dt.date().is_between(f.start, f.end))
    if f.teams:
        pay = pay.join(t["agents"].filter(pl.col("team_id").is_in(f.teams)).select("agent_id"), on="agent_id")
    if f.buckets:
        pay = _opening_bucket(t, pay, "paid_at").filter(pl.col("bucket").is_in(f.buckets))
    return (pay.group_by("case_id").agg(pl.len().cast(pl.Int64).alias("events"),
                                        (pl.col("amount_cents").sum() / 100).round(2).alias("amount"))
            .sort(["amount", "case_id"], descending=[True, False]))


def _all_pages(engine, f: Filters, **kw) -> pl.DataFrame:  # noqa: ANN001
    first = list_cases(engine, f, page_size=100, **kw)
    pages = [first.rows] + [list_cases(engine, f, page=p, page_size=100, **kw).rows for p in range(2, first.pages + 1)]
    out = pl.concat(pages)
    assert out.height == first.total
    return out


@pytest.mark.parametrize("f", [
    PERIOD,
    Filters(start=PERIOD.start, end=PERIOD.end, teams=("T02",)),
    Filters(start=PERIOD.start, end=PERIOD.end, buckets=("M2", "M3")),
])
def test_payment_cases_match_a_plain_computation(engine, small_portfolio, f) -> None:  # noqa: ANN001
    expected = _expected_payment_cases(small_portfolio.tables, f)
    got = _all_pages(engine, f, event="payments")
    assert got["case_id"].n_unique() == got.height  # pages do not overlap
    assert got.select("case_id", "events", "amount").equals(expected.select("case_id", "events", "amount"))
    assert expected.height > 0


def test_contact_cases_count_attempts_only(engine, small_portfolio) -> None:  # noqa: ANN001
    day = dt.date(2026, 10, 13)
    att = small_portfolio.tables["contacts"].filter(
        (pl.col("contacted_at").dt.date() == day) & pl.col("channel").is_in(["call", "visit"]))
    page = list_cases(engine, PERIOD, event="contacts", day=day, page_size=500)
    assert page.total == att["case_id"].n_unique() > 0
    assert page.rows["events"].sum() == att.height


def test_roll_drill_down_matches_transitions(engine, small_portfolio) -> None:  # noqa: ANN001
    t = small_portfolio.tables
    s = t["balance_snapshots"]
    prev = s.filter((pl.col("snapshot_on") == dt.date(2026, 9, 30)) & pl.col("dpd").is_between(1, 30))
    cur = s.filter(pl.col("snapshot_on") == dt.date(2026, 10, 31))
    to_m2 = prev.join(cur.filter(pl.col("dpd").is_between(31, 60) & (pl.col("balance_cents") > 0)), on="case_id")
    closed = prev.join(cur.filter(pl.col("balance_cents") > 0), on="case_id", how="anti")
    kw = {"event": "snapshot", "snapshot_on": dt.date(2026, 10, 31), "from_bucket": "M1"}
    assert list_cases(engine, PERIOD, to_bucket="M2", **kw).total == to_m2.height > 0
    assert list_cases(engine, PERIOD, to_bucket="closed", **kw).total == closed.height > 0


def test_scope_cannot_be_widened_by_filters(engine, small_portfolio) -> None:  # noqa: ANN001
    t = small_portfolio.tables
    asks_other_team = Filters(start=PERIOD.start, end=PERIOD.end, teams=("T02",))
    assert list_cases(engine, asks_other_team, event="payments", scope=LEAD_T01).total == 0
    mine = _all_pages(engine, PERIOD, event="payments", scope=LEAD_T01)
    t01_agents = set(t["agents"].filter(pl.col("team_id") == "T01")["agent_id"])
    expected = _expected_payment_cases(t, Filters(start=PERIOD.start, end=PERIOD.end, teams=("T01",)))
    assert set(mine["case_id"]) == set(expected["case_id"])
    assert t01_agents
    # A case never touched by T01 has no timeline for T01's lead.
    touched = (pl.concat([t["payments"].select("case_id", "agent_id"), t["contacts"].select("case_id", "agent_id"),
                          t["cases"].select("case_id", "agent_id")])
               .filter(pl.col("agent_id").is_in(list(t01_agents)))["case_id"].unique())
    outsider = t["cases"].filter(~pl.col("case_id").is_in(touched.implode()))["case_id"][0]
    assert case_timeline(engine, outsider, scope=LEAD_T01).case is None
    assert case_timeline(engine, outsider).case is not None


def test_personal_data_masked_unless_compliance_asks(engine, small_portfolio) -> None:  # noqa: ANN001
    raw = small_portfolio.tables["cases"]
    names, phones = set(raw["customer_name"]), set(raw["phone"])
    masked = list_cases(engine, PERIOD, event="payments", page_size=200).rows
    assert not set(masked["customer_name"]) & names and not set(masked["phone"]) & phones
    assert masked["phone"].str.contains(r"^1\d\d\*{4}\d{4}$").all()
    assert masked["account_no"].str.contains(r"^\*{4}\d{4}$").all()
    manager = list_cases(engine, PERIOD, event="payments", page_size=200, reveal_pii=True,
                         scope=Scope(role="manager")).rows
    assert manager["customer_name"].equals(masked["customer_name"])
    compliance = list_cases(engine, PERIOD, event="payments", page_size=200, reveal_pii=True,
                            scope=Scope(role="compliance")).rows
    assert set(compliance["customer_name"]) <= names and set(compliance["phone"]) <= phones
    tl = case_timeline(engine, int(masked["case_id"][0]))
    assert tl.case["id_number"] not in set(raw["id_number"]) and "********" in tl.case["id_number"]
    assert not any(p in d for d in tl.events["detail"] for p in phones)


def test_timeline_holds_every_event_of_the_case(engine, small_portfolio) -> None:  # noqa: ANN001
    t = small_portfolio.tables
    case_id = int(t["payments"]["case_id"][0])
    expected = {k: t[name].filter(pl.col("case_id") == case_id).height for k, name in
                (("contact", "contacts"), ("promise", "promises"), ("payment", "payments"),
                 ("complaint", "complaints"), ("snapshot", "balance_snapshots"))}
    tl = case_timeline(engine, case_id)
    got = dict(tl.events.group_by("kind").len().iter_rows())
    assert {k: got.get(k, 0) for k in expected} == expected
    assert tl.events["at"].is_sorted(descending=True)
    paid = t["payments"].filter(pl.col("case_id") == case_id)["amount_cents"].sum() / 100
    assert tl.events.filter(pl.col("kind") == "payment")["amount"].sum() == pytest.approx(paid, abs=0.001)
    assert case_timeline(engine, 10**9).case is None


def test_bad_requests_are_clear_errors(engine) -> None:  # noqa: ANN001
    with pytest.raises(DrillDownError, match="unknown drill-down"):
        list_cases(engine, PERIOD, event="cases; DROP TABLE cases")
    with pytest.raises(DrillDownError, match="unknown bucket"):
        list_cases(engine, PERIOD, event="snapshot", snapshot_on=dt.date(2026, 10, 31), from_bucket="M9")
    for bad in ("M9", "M1' OR '1'='1", "m1"):  # a bucket in the filters (a drill link's d_bucket) as well
        with pytest.raises(DrillDownError, match="unknown bucket"):
            list_cases(engine, dataclasses.replace(PERIOD, buckets=("M1", bad)), event="payments")
    assert list_cases(engine, dataclasses.replace(PERIOD, buckets=("M1",)), event="payments").total > 0
    with pytest.raises(DrillDownError, match="two snapshots"):
        list_cases(engine, PERIOD, event="snapshot", snapshot_on=dt.date(2000, 1, 31), from_bucket="M1")
    page = list_cases(engine, PERIOD, event="payments", page=10**6, page_size=10**6)
    assert page.page_size == 500 and page.rows.height == 0 and page.total > 0
    assert list_cases(engine, Filters(start=dt.date(2030, 1, 1), end=dt.date(2030, 1, 31)), event="payments").total == 0
