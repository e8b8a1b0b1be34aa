"""doctor reports the optional compliance parts as optional and names unexpected values; the checks skip those
rows and the store says how many."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from fixtures_compliance import CONTACTS, PLANS, ROWS, build

from queries.source.doctor import ERROR, OK, WARNING, check
from queries.store import Store
from queries.sync import run_sync


def _findings(url: str) -> dict[str, tuple[str, str]]:
    return {f.where: (f.level, f.message) for f in check(sa.create_engine(url))}


def test_absent_optional_parts_are_reported_as_optional(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bare.sqlite'}"
    build(url, plans=False, optional_columns=False)
    got = _findings(url)
    for where in ("contacts.is_robot", "contacts.recording_id", "teams.whitelisted_on", "teams.evaluated_on"):
        assert got[where][0] == OK and got[where][1].startswith("optional column absent"), where
    assert got["repayment_plans"] == (WARNING, "optional table missing: the 'no collection during a plan' check "
                                               "will say so")
    # (this small set has no payments or snapshots: those tables' errors are not the point here)
    assert not [w for w, (level, _) in got.items() if level == ERROR and w.split(".")[0] in ("contacts", "teams")]


def test_unexpected_values_are_named_and_skipped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'odd.sqlite'}"
    contacts = [dict(k) for k in CONTACTS]
    for k in contacts:
        if k["contact_id"] == 113:
            k["recording_id"] = "  "
    plans = [*PLANS, {**PLANS[0], "plan_id": 2, "months": 0, "status": "paused", "ended_on": dt.date(2026, 3, 1)}]
    build(url, rows={**ROWS, "contacts": contacts, "repayment_plans": plans})
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # a value SQLAlchemy's Boolean would refuse, as a bank's own loader may write it
        conn.execute(sa.text("UPDATE contacts SET is_robot = 2 WHERE contact_id = 111"))
    engine.dispose()
    got = _findings(url)
    assert got["contacts.is_robot"] == (WARNING, "1 row with values other than true/false; the checks skip them")
    assert got["contacts.recording_id"] == (WARNING, "1 row with blank recording keys; the recording check skips them")
    assert got["repayment_plans.months"][0] == WARNING
    assert got["repayment_plans.ended_on"] == (WARNING, "1 row with plans that end before they were agreed")
    assert got["repayment_plans.status"][0] == ERROR and "'paused'" in got["repayment_plans.status"][1]
    run_sync(url, tmp_path / "store", full=True)
    store = Store.open(tmp_path / "store")
    assert store.manifest.get("compliance")["skipped"] == {"contacts": 2}
    assert store.frame("compliance_agent")["skipped"].sum() == 2
