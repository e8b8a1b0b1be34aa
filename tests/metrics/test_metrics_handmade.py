"""Every metric pinned on the hand-made rows of fixtures_store, with answers worked out by hand.

Opening buckets (DPD in the previous month-end snapshot; placed_dpd when placed in the month):
  Jan: case1 M3 (70), case2 M4 (100), case4 M5 (130)     Feb: case1 M0, case2 M5 (130), case3 M1 (placed 14 Feb, 10)
Agent A2 moved to team T2, so all of A2's events count for T2. Payment 2 is at 2026-01-31 23:59:59.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from queries.compliance.rules import RuleSet
from queries.filters import Filters, Scope, apply
from queries.metrics import MetricError, MetricUnavailable
from queries.metrics.registry import METRICS, compute

D = dt.date
Q1 = Filters(D(2026, 1, 1), D(2026, 3, 31))
JAN = Filters(D(2026, 1, 1), D(2026, 1, 31))
FEB = Filters(D(2026, 2, 1), D(2026, 2, 28))


def one(df: pl.DataFrame) -> dict:
    assert df.height == 1, df
    return df.row(0, named=True)


def rows(df: pl.DataFrame, key: str) -> dict:
    return {r[key]: r for r in df.iter_rows(named=True)}


def test_collected_total_month_edges_and_moved_agent(handmade_store):
    st = handmade_store
    assert one(compute("collected", st, Q1))["value"] == pytest.approx(850.34)
    by_month = rows(compute("collected", st, Q1, ("month",)), "month")
    assert by_month[D(2026, 1, 1)]["numerator"] == pytest.approx(700.00)  # 23:59:59 payment in January
    assert by_month[D(2026, 2, 1)]["numerator"] == pytest.approx(100.29)  # 00:00:00 payment in February
    by_team = rows(compute("collected", st, Q1, ("team_id",)), "team_id")
    assert by_team["T2"]["numerator"] == pytest.approx(100.29)  # A2 moved: counts for T2
    assert by_team[None]["numerator"] == pytest.approx(50.05)  # payment without an agent
    jan_b = rows(compute("collected", st, JAN, ("bucket",)), "bucket")
    assert jan_b["M3"]["numerator"] == 400 and jan_b["M5"]["numerator"] == 300
    assert one(compute("collected", st, JAN))["denominator"] is None


def test_collected_exact_cents(handmade_store):
    f = Filters(D(2026, 2, 20), D(2026, 2, 20))
    assert one(compute("collected", handmade_store, f))["numerator"] == 0.29


def test_empty_period(handmade_store):
    f = Filters(D(2027, 1, 1), D(2027, 1, 31))
    assert one(compute("collected", handmade_store, f))["numerator"] == 0
    r = one(compute("contact_rate", handmade_store, f))
    assert r["denominator"] == 0 and r["value"] is None
    assert compute("collected", handmade_store, f, ("day",)).height == 0


def test_paying_accounts(handmade_store):
    # payments: case1 15 Jan (A1, M3), case4 31 Jan 23:59:59 (A1, M5), case2 1 Feb 00:00 (A2 → T2, M5),
    # case3 20 Feb (A3, M1, placed mid-Feb), case1 5 Mar (no agent, M0 from the Feb snapshot)
    st = handmade_store
    q1 = one(compute("paying_accounts", st, Q1))
    assert (q1["numerator"], q1["denominator"], q1["value"], q1["payments"]) == (4, None, 4, 5)  # case1 paid twice
    by_month = rows(compute("paying_accounts", st, Q1, ("month",)), "month")
    assert {m: r["numerator"] for m, r in by_month.items()} == {D(2026, 1, 1): 2, D(2026, 2, 1): 2, D(2026, 3, 1): 1}
    # distinct counts do not add: the months sum to 5, the quarter has 4 paying cases
    by_team = rows(compute("paying_accounts", st, Q1, ("team_id",)), "team_id")
    assert {t: r["numerator"] for t, r in by_team.items()} == {"T1": 2, "T2": 2, None: 1}
    by_bucket = rows(compute("paying_accounts", st, Q1, ("bucket",)), "bucket")
    assert {b: r["numerator"] for b, r in by_bucket.items()} == {"M0": 1, "M1": 1, "M3": 1, "M5": 2}
    assert one(compute("paying_accounts", st, Filters(D(2026, 1, 31), D(2026, 1, 31))))["numerator"] == 1
    assert one(compute("paying_accounts", st, Filters(D(2026, 2, 1), D(2026, 2, 1))))["numerator"] == 1
    assert one(compute("paying_accounts", st, Filters(Q1.start, Q1.end, products=("card",))))["numerator"] == 3
    assert one(compute("paying_accounts", st, Filters(Q1.start, Q1.end, teams=("T1",))))["numerator"] == 2
    by_day = compute("paying_accounts", st, JAN, ("day",))
    assert by_day.select("day", "numerator").rows() == [(D(2026, 1, 15), 1.0), (D(2026, 1, 31), 1.0)]
    empty = Filters(D(2027, 1, 1), D(2027, 1, 31))
    assert one(compute("paying_accounts", st, empty))["numerator"] == 0
    assert compute("paying_accounts", st, empty, ("day",)).height == 0


def test_recovery_rate(handmade_store):
    st = handmade_store
    jan = one(compute("recovery_rate", st, JAN))
    assert (jan["numerator"], jan["denominator"]) == (700.0, 3300.0)
    feb = one(compute("recovery_rate", st, FEB))  # opening 2600 + case3 placed mid-Feb 500
    assert (feb["numerator"], feb["denominator"]) == (100.29, 3100.0)
    two = one(compute("recovery_rate", st, Filters(D(2026, 1, 1), D(2026, 2, 28))))
    assert two["value"] == pytest.approx(800.29 / 6400)
    feb_b = rows(compute("recovery_rate", st, FEB, ("bucket",)), "bucket")
    assert feb_b["M1"]["denominator"] == 500 and feb_b["M1"]["numerator"] == 0.29
    with pytest.raises(MetricError):
        compute("recovery_rate", st, FEB, ("day",))


def test_target_achievement_and_pace(handmade_store):
    st = handmade_store
    r = rows(compute("target_achievement", st, FEB, ("team_id",)), "team_id")
    assert r["T2"]["value"] == pytest.approx(100.29 / 500)
    assert r["T1"]["value"] == 0
    # 1–13 Feb 2026: working days 1 Feb is Sunday; 2–6, 9–13 = 10; Feb has 15 Feb–23 Feb holiday,
    # make-up 14 and 28 Feb: working days in Feb = 20 − 6 (16–20, 23) + 2 = 16 → share 10/16
    mid = rows(compute("target_achievement", st, Filters(D(2026, 2, 1), D(2026, 2, 13)), ("team_id",)), "team_id")
    assert mid["T2"]["pace"] == pytest.approx(mid["T2"]["value"] / (10 / 16))


def test_target_achievement_missing_targets(tmp_path):
    from fixtures_store import build_handmade

    from queries.store import Store
    from queries.sync import run_sync

    url = f"sqlite:///{tmp_path / 'nt.sqlite'}"
    build_handmade(url, targets=False)
    run_sync(url, tmp_path / "store", full=True)
    st = Store.open(tmp_path / "store")
    with pytest.raises(MetricUnavailable, match="targets"):
        compute("target_achievement", st, FEB)
    assert one(compute("collected", st, FEB))["numerator"] == pytest.approx(100.29)


def test_contact_family(handmade_store):
    st = handmade_store
    c = one(compute("contact_rate", st, Q1))
    assert (c["numerator"], c["denominator"]) == (7, 15)  # sms is a message, not an attempt
    assert one(compute("rpc_rate", st, Q1))["numerator"] == 6
    p = one(compute("ptp_rate", st, Q1))
    assert (p["numerator"], p["denominator"]) == (1, 6)
    a = one(compute("after_hours_rate", st, Q1))  # 23:00 unconsented counts, 07:30 consented does not
    assert (a["numerator"], a["denominator"]) == (1, 15)
    h = rows(compute("contact_rate", st, Q1, ("hour",)), "hour")
    assert h[9]["denominator"] == 7 and h[9]["numerator"] == 0


def test_after_hours_follows_rule_set(handmade_store):
    strict = RuleSet(version="test", after_hours_start=21, after_hours_end=9)
    a = one(compute("after_hours_rate", handmade_store, Q1, rules=strict))
    assert a["numerator"] == 1  # 07:30 had consent; 09:xx calls are inside hours


def test_over_frequency(handmade_store):
    st = handmade_store
    o = one(compute("over_frequency", st, Q1))
    assert (o["numerator"], o["denominator"]) == (2, 3)
    loose = RuleSet(version="t", max_unanswered_per_phone_day=7, max_connected_per_case_day=5)
    assert one(compute("over_frequency", st, Q1, rules=loose))["numerator"] == 0


def test_ptp_kept_and_due_today(handmade_store):
    st = handmade_store
    k = one(compute("ptp_kept_rate", st, Q1))
    assert (k["numerator"], k["denominator"], k["pending"]) == (1, 3, 1)
    today = one(compute("ptp_kept_rate", st, Filters(D(2026, 3, 15), D(2026, 3, 15))))
    assert today["pending"] == 1 and today["value"] is None and today["due_amount"] == 50.0


def test_complaint_rate(handmade_store):
    st = handmade_store
    c = one(compute("complaint_rate", st, Q1))
    assert (c["numerator"], c["denominator"], c["regulator_12378"]) == (2, 3, 1)
    assert c["value"] == pytest.approx(2 / 3 * 10_000)
    assert c["per_10k_attempts"] == pytest.approx(2 / 15 * 10_000)
    t = rows(compute("complaint_rate", st, Q1, ("team_id",)), "team_id")
    assert (t["T2"]["numerator"], t["T2"]["denominator"]) == (1, 2)
    cat = rows(compute("complaint_rate", st, Q1, ("category",)), "category")
    assert cat["excessive_contact"]["denominator"] == 3


def test_bucket_balance(handmade_store):
    st = handmade_store
    b = rows(compute("bucket_balance", st, Q1, ("bucket",), snapshot=D(2026, 1, 31)), "bucket")
    assert b["M0"]["numerator"] == 600 and b["M5"]["numerator"] == 2000
    latest = rows(compute("bucket_balance", st, Q1, ("bucket",), basis="count"), "bucket")
    assert latest["M6"]["numerator"] == 1 and latest["M1"]["numerator"] == 1  # 28 Feb snapshot
    with pytest.raises(MetricError, match="not a snapshot"):
        compute("bucket_balance", st, Q1, snapshot=D(2026, 1, 30))


def test_roll_and_cure(handmade_store):
    st = handmade_store
    r = compute("roll_rate", st, Q1, snapshot=D(2026, 1, 31))
    got = {(x["from_bucket"], x["to_bucket"]): x["value"] for x in r.iter_rows(named=True)}
    assert got == {("M3", "M0"): 1.0, ("M4", "M5"): 1.0, ("M5", "closed"): 1.0}
    cure = rows(compute("cure_rate", st, Q1, snapshot=D(2026, 1, 31)), "from_bucket")
    assert cure["M3"]["value"] == 1.0 and cure["M4"]["value"] == 0.0 and cure["M5"]["value"] == 1.0
    cnt = compute("roll_rate", st, Q1, snapshot=D(2026, 2, 28), basis="count")
    assert {(x["from_bucket"], x["to_bucket"]) for x in cnt.iter_rows(named=True)} == {("M0", "M0"), ("M5", "M6")}


def test_liquidation(handmade_store):
    st = handmade_store
    liq = compute("liquidation", st, Filters(D(2025, 12, 1), D(2026, 2, 28)))
    cells = {(r["placed_month"], r["months_since"]): r for r in liq.iter_rows(named=True)}
    dec = D(2025, 12, 1)
    assert [cells[(dec, n)]["numerator"] for n in range(4)] == [0, 700, 800, 850.05]
    assert cells[(dec, 1)]["denominator"] == 3300
    assert cells[(dec, 3)]["immature"] and not cells[(dec, 2)]["immature"]  # data as of 5 Mar
    assert cells[(D(2026, 2, 1), 0)]["numerator"] == 0.29


def test_scope_never_widens(handmade_store):
    st = handmade_store
    scope = Scope(teams=frozenset({"T1"}))
    only_t1 = apply(scope, Q1)
    assert one(compute("collected", st, only_t1))["numerator"] == 700
    outside = apply(scope, Filters(Q1.start, Q1.end, teams=("T2",)))
    assert outside.nothing
    assert compute("collected", st, outside).height == 0
    assert compute("collected", st, outside, ("team_id",)).height == 0


def test_filters_narrow(handmade_store):
    st = handmade_store
    f = Filters(Q1.start, Q1.end, channel="agency", products=("card",))
    assert one(compute("collected", st, f))["numerator"] == 100.0
    f = Filters(Q1.start, Q1.end, agents=("A3",), buckets=("M1",))
    assert one(compute("contact_rate", st, f))["denominator"] == 5


def test_every_metric_registered_with_definitions():
    assert set(METRICS) == {
        "collected", "paying_accounts", "recovery_rate", "target_achievement", "contact_rate", "rpc_rate", "ptp_rate",
        "ptp_kept_rate", "complaint_rate", "bucket_balance", "roll_rate", "cure_rate", "liquidation",
        "after_hours_rate", "over_frequency", "breaches", "third_party_unjustified", "recording_coverage",
        "plan_contacts", "complaints_late", "complaints_after_breach", "rpc_by_attempt", "landing",
        "agency_liquidation", "agency_score"}
    for m in METRICS.values():
        assert m.name_zh and m.name_en and m.definition_zh and m.definition_en and m.numerator
