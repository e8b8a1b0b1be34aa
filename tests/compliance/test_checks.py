"""Each check pinned at its boundaries on hand-made contacts (tests/fixtures_compliance.py), on every backend."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from fixtures_compliance import CONTACTS, EXPECTED, build

from queries.compliance.rules import CONTACT_CHECKS, load_pack
from queries.filters import Filters
from queries.metrics import registry
from queries.metrics.compliance import (
    agency_status,
    breach_contact_keys,
    unavailable_checks,
)
from queries.store import Store
from queries.sync import run_sync


@pytest.fixture
def store(fresh_source: str, tmp_path: Path) -> Store:  # noqa: F811
    build(fresh_source)
    run_sync(fresh_source, tmp_path / "store", full=True)
    return Store.open(tmp_path / "store")


def _breaches(store: Store) -> dict[int, set[str]]:
    df = pl.read_parquet(sorted((store.path / "breach_contacts").glob("2*.parquet")))
    out: dict[int, set[str]] = {}
    for kid, check in df.select("contact_id", "check").iter_rows():
        out.setdefault(kid, set()).add(check)
    return out


def test_each_contact_breaches_exactly_the_worked_checks(store: Store) -> None:
    assert _breaches(store) == EXPECTED


def test_rule_ids_name_the_rule_in_force(store: Store) -> None:
    df = pl.read_parquet(sorted((store.path / "breach_contacts").glob("2*.parquet")))
    rules = dict(zip(df.get_column("check"), df.get_column("rule_id"), strict=True))
    assert rules["quiet_hours"] == "gbt-45251-quiet-hours+cba-2026-quiet-hours"  # by effective date
    assert rules["unanswered_cap"] == "cba-2026-unanswered-cap"
    assert rules["during_plan"] == "cc-2011-art70-plan"


def test_breach_metric_by_check_over_attempts(store: Store) -> None:
    f = Filters(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))
    out = registry.compute("breaches", store, f, ("check",))
    got = {r["check"]: (r["numerator"], r["denominator"]) for r in out.iter_rows(named=True)}
    march = [k for k in CONTACTS if k["contacted_at"].month == 3]
    attempts = sum(1 for k in march if k["channel"] in ("call", "visit"))
    connected = sum(1 for k in march if k["channel"] == "call"
                    and k["outcome"] not in ("no_answer", "busy", "wrong_number"))
    want = {ch: sum(1 for kid, checks in EXPECTED.items() if ch in checks
                    and next(k for k in CONTACTS if k["contact_id"] == kid)["contacted_at"].month == 3)
            for ch in CONTACT_CHECKS}
    for ch in CONTACT_CHECKS:
        assert got[ch] == (want[ch], connected if ch == "unrecorded" else attempts), ch
    total = registry.compute("breaches", store, f)
    assert total.get_column("numerator").item() == sum(1 for kid in EXPECTED if kid not in (247,))  # 247 is January
    assert total.get_column("value").item() == pytest.approx(total["numerator"].item() / attempts * 1000)


def test_a_rule_taking_effect_inside_the_period(store: Store) -> None:
    jan = Filters(start=dt.date(2026, 1, 29), end=dt.date(2026, 1, 30))
    out = registry.compute("breaches", store, jan, ("check", "day"), checks=("unanswered_cap",))
    by_day = {r["day"]: r["numerator"] for r in out.iter_rows(named=True)}
    assert by_day == {dt.date(2026, 1, 29): 0, dt.date(2026, 1, 30): 1}
    pack = load_pack()
    assert [r.rule_id for r in pack.judged_by("unanswered_cap", jan.start, jan.end)] == ["cba-2026-unanswered-cap"]
    assert pack.in_force("unanswered_cap", dt.date(2026, 1, 29)) == ()


def test_third_party_rate_recording_and_plans(store: Store) -> None:
    f = Filters(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))
    tp = registry.compute("third_party_unjustified", store, f)
    assert (tp["numerator"].item(), tp["denominator"].item()) == (2, 5)
    rec = registry.compute("recording_coverage", store, f)
    connected = [k for k in CONTACTS if k["contacted_at"].month == 3 and k["channel"] == "call"
                 and k["outcome"] not in ("no_answer", "busy", "wrong_number")]
    assert (rec["numerator"].item(), rec["denominator"].item()) == (len(connected) - 1, len(connected))
    plan = registry.compute("plan_contacts", store, f)
    assert plan["numerator"].item() == 1


def test_complaints_deadline_and_preceding_breach(store: Store) -> None:
    f = Filters(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))
    comp = store.frame("complaints").sort("complaint_id")
    assert comp["decided_days"].to_list() == [15, 16, None]
    assert comp["late"].to_list() == [False, True, True]
    assert comp["after_breach"].to_list() == [True, False, False]
    late = registry.compute("complaints_late", store, f)
    assert (late["numerator"].item(), late["denominator"].item()) == (2, 3)
    after = registry.compute("complaints_after_breach", store, f)
    assert (after["numerator"].item(), after["denominator"].item()) == (1, 3)


def test_rpc_by_attempt_ordinal(store: Store) -> None:
    f = Filters(start=dt.date(2026, 3, 4), end=dt.date(2026, 3, 4))
    out = registry.compute("rpc_by_attempt", store, f, ("ordinal",))
    # case 1 on 03-04: 111 rpc, 112 rpc (robot), 116 no answer, 113 refused, 115 visit rpc, 114 callback
    assert out.select("ordinal", "numerator", "denominator").rows() == [
        (1, 1.0, 1.0), (2, 1.0, 1.0), (3, 0.0, 1.0), (4, 1.0, 1.0), (5, 1.0, 1.0), (6, 1.0, 1.0)]


def test_drill_keys_and_agencies(store: Store) -> None:
    f = Filters(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))
    page, total = breach_contact_keys(store, f, ("quiet_hours",), limit=2)
    assert total == 3 and page["contact_id"].to_list() == [107, 103]
    ag = agency_status(store, dt.date(2026, 3, 31), load_pack()).sort("team_id")
    assert ag.select("team_id", "not_whitelisted", "evaluation_overdue").rows() == [
        ("T2", False, True), ("T3", True, False)]
    assert unavailable_checks(store) == {}
    assert store.manifest.get("compliance")["optional"] == [
        "contacts.is_robot", "contacts.recording_id", "repayment_plans", "teams.evaluated_on",
        "teams.whitelisted_on"]


def test_a_source_without_the_optional_parts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bare.sqlite'}"
    build(url, plans=False, optional_columns=False)
    run_sync(url, tmp_path / "store", full=True)
    store = Store.open(tmp_path / "store")
    assert set(unavailable_checks(store)) == {"during_plan", "unrecorded", "agency_not_allowed"}
    got = _breaches(store)
    assert got == {k: v - {"during_plan", "unrecorded", "agency_not_allowed"} for k, v in EXPECTED.items()
                   if v - {"during_plan", "unrecorded", "agency_not_allowed"}}
    f = Filters(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))
    from queries.metrics.base import MetricUnavailable

    with pytest.raises(MetricUnavailable):
        registry.compute("recording_coverage", store, f)
