"""Fixtures for store/sync/metric tests: hand-made case databases on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from queries.source import contract as S

D = dt.date
T = dt.datetime

# ---------------------------------------------------------------- the hand-made data set
# Worked answers are in tests/test_metrics_handmade.py; keep both in step.
TEAMS = [
    {"team_id": "T1", "team_name": "Shanghai 1", "site": "SH", "channel": "in_house",
     "agency_name": None, "lead_agent_id": "A1"},
    {"team_id": "T2", "team_name": "Agency X", "site": "CD", "channel": "agency",
     "agency_name": "X Co", "lead_agent_id": None},
]
# A2 moved from T1 to T2: every event of A2 belongs to T2 (current mapping).
AGENTS = [
    {"agent_id": "A1", "agent_name": "Li", "team_id": "T1", "hired_on": D(2024, 1, 1), "left_on": None},
    {"agent_id": "A2", "agent_name": "Wang", "team_id": "T2", "hired_on": D(2024, 1, 1), "left_on": None},
    {"agent_id": "A3", "agent_name": "Zhao", "team_id": "T2", "hired_on": D(2024, 1, 1), "left_on": None},
]


def _case(cid, product, region, placed, bal, dpd, agent, status="active"):  # noqa: ANN001, ANN202
    return {"case_id": cid, "account_no": f"62220000{cid:08d}", "customer_name": "张三",
            "phone": "13800000000", "id_number": "110101199001011234", "product": product,
            "region": region, "placed_on": placed, "placed_balance": Decimal(bal), "placed_dpd": dpd,
            "current_dpd": dpd, "current_balance": Decimal(bal), "status": status, "agent_id": agent,
            "updated_at": T(2026, 3, 1)}


CASES = [
    _case(1, "card", "north", D(2025, 12, 1), "1000.00", 40, "A1"),
    _case(2, "card", "south", D(2025, 12, 10), "2000.00", 70, "A2"),
    _case(3, "loan", "north", D(2026, 2, 14), "500.00", 10, "A3"),  # placed mid-month
    _case(4, "card", "north", D(2025, 12, 5), "300.00", 100, "A1", "paid_off"),
]


def _snap(day, cid, dpd, bal, agent):  # noqa: ANN001, ANN202
    return {"snapshot_on": day, "case_id": cid, "dpd": dpd, "balance": Decimal(bal), "agent_id": agent}


SNAPSHOTS = [
    _snap(D(2025, 12, 31), 1, 70, "1000.00", "A1"), _snap(D(2025, 12, 31), 2, 100, "2000.00", "A2"),
    _snap(D(2025, 12, 31), 4, 130, "300.00", "A1"),
    _snap(D(2026, 1, 31), 1, 0, "600.00", "A1"), _snap(D(2026, 1, 31), 2, 130, "2000.00", "A2"),
    _snap(D(2026, 2, 28), 1, 0, "600.00", "A1"), _snap(D(2026, 2, 28), 2, 158, "1900.00", "A2"),
    _snap(D(2026, 2, 28), 3, 24, "500.00", "A3"),
]


def _pay(pid, cid, agent, at, amount):  # noqa: ANN001, ANN202
    return {"payment_id": pid, "case_id": cid, "agent_id": agent, "paid_at": at,
            "amount": Decimal(amount), "method": "app"}


PAYMENTS = [
    _pay(1, 1, "A1", T(2026, 1, 15, 10), "400.00"),
    _pay(2, 4, "A1", T(2026, 1, 31, 23, 59, 59), "300.00"),  # last second of January
    _pay(3, 2, "A2", T(2026, 2, 1, 0, 0, 0), "100.00"),
    _pay(4, 3, "A3", T(2026, 2, 20, 12), "0.29"),
    _pay(5, 1, None, T(2026, 3, 5, 9), "50.05"),
]


def _contact(kid, cid, agent, at, channel, party, outcome, phone="13800000000", consent=False):  # noqa: ANN001, ANN202, PLR0913
    return {"contact_id": kid, "case_id": cid, "agent_id": agent, "contacted_at": at, "channel": channel,
            "party": party, "outcome": outcome, "duration_s": 30, "phone_no": phone,
            "debtor_consent_after_hours": consent}


CONTACTS = [
    _contact(1, 1, "A1", T(2026, 1, 15, 10), "call", "debtor", "ptp"),
    _contact(2, 1, "A1", T(2026, 1, 15, 10, 5), "sms", "none", "no_answer"),
    _contact(3, 1, "A1", T(2026, 1, 15, 23), "call", "none", "no_answer"),  # after hours, no consent
    *[_contact(10 + i, 2, "A2", T(2026, 2, 3, 9, i), "call", "none", "no_answer", "13900000222")
      for i in range(7)],  # 7 unanswered to one phone in a day
    _contact(20, 2, "A2", T(2026, 2, 3, 15), "visit", "debtor", "rpc"),
    _contact(21, 3, "A3", T(2026, 2, 20, 10), "call", "debtor", "rpc"),
    _contact(22, 3, "A3", T(2026, 2, 20, 11), "call", "debtor", "refused"),
    _contact(23, 3, "A3", T(2026, 2, 20, 12), "call", "third_party", "third_party"),
    _contact(24, 3, "A3", T(2026, 2, 20, 13), "call", "debtor", "callback"),
    _contact(25, 3, "A3", T(2026, 2, 20, 7, 30), "call", "debtor", "dispute", consent=True),
]

PROMISES = [
    {"promise_id": 1, "case_id": 1, "agent_id": "A1", "promised_at": T(2026, 1, 15, 10),
     "due_on": D(2026, 1, 15), "amount": Decimal("400.00"), "status": "kept", "updated_at": T(2026, 1, 16)},
    {"promise_id": 2, "case_id": 2, "agent_id": "A2", "promised_at": T(2026, 2, 3, 15),
     "due_on": D(2026, 2, 10), "amount": Decimal("200.00"), "status": "broken", "updated_at": T(2026, 2, 11)},
    {"promise_id": 3, "case_id": 3, "agent_id": "A3", "promised_at": T(2026, 2, 20, 10),
     "due_on": D(2026, 2, 25), "amount": Decimal("100.00"), "status": "partial", "updated_at": T(2026, 2, 26)},
    {"promise_id": 4, "case_id": 3, "agent_id": "A3", "promised_at": T(2026, 3, 1, 10),
     "due_on": D(2026, 3, 15), "amount": Decimal("50.00"), "status": "pending", "updated_at": T(2026, 3, 1)},
]

COMPLAINTS = [
    {"complaint_id": 1, "case_id": 2, "agent_id": "A2", "received_at": T(2026, 2, 4, 10),
     "source": "regulator_12378", "category": "excessive_contact", "severity": "high", "status": "open",
     "resolved_at": None, "substantiated": None, "updated_at": T(2026, 2, 4, 10)},
    {"complaint_id": 2, "case_id": 1, "agent_id": "A1", "received_at": T(2026, 1, 20, 10),
     "source": "hotline", "category": "other", "severity": "low", "status": "resolved",
     "resolved_at": T(2026, 1, 22), "substantiated": False, "updated_at": T(2026, 1, 22)},
]

TARGETS = [
    {"month": D(2026, 1, 1), "team_id": "T1", "target_amount": Decimal("1000.00")},
    {"month": D(2026, 2, 1), "team_id": "T1", "target_amount": Decimal("1000.00")},
    {"month": D(2026, 2, 1), "team_id": "T2", "target_amount": Decimal("500.00")},
]

ROWS = {"teams": TEAMS, "agents": AGENTS, "cases": CASES, "balance_snapshots": SNAPSHOTS,
        "contacts": CONTACTS, "promises": PROMISES, "payments": PAYMENTS, "complaints": COMPLAINTS,
        "targets": TARGETS}


def build_rows(url: str, rows: dict, skip: tuple[str, ...] = ()) -> None:
    """Create the contract tables at `url` (but `skip`) and insert `rows` (table name → list of row dicts)."""
    engine = sa.create_engine(url)
    tables = [t for t in S.TABLES if t.name not in skip]
    S.metadata.create_all(engine, tables=tables)
    with engine.begin() as conn:
        for t in tables:
            if rows.get(t.name):
                conn.execute(t.insert(), rows[t.name])
    engine.dispose()


def build_handmade(url: str, *, targets: bool = True) -> None:
    """Create the contract tables at `url` and insert the hand-made rows."""
    build_rows(url, ROWS, () if targets else ("targets",))


def insert_rows(url: str, table: sa.Table, rows: list[dict]) -> None:
    """Append rows to a source table (tests that simulate new activity)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    engine.dispose()


def damage(file: Path, data: bytes) -> None:
    """Replace a store file's bytes with `data` (a file damaged on purpose) in a new file: a version's file may be a
    hard link into the version before, which writing in place would damage too."""
    file.unlink()
    file.write_bytes(data)


# ---------------------------------------------------------------- per-backend sources


def _pg_fresh(base: str) -> Iterator[str]:
    name = f"cd_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _mysql_fresh(base: str) -> Iterator[str]:
    name = f"cd_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}`"))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


BACKENDS = ["sqlite", "postgresql", "mysql"]


@pytest.fixture(params=BACKENDS)
def fresh_source(request, tmp_path) -> Iterator[str]:  # noqa: ANN001
    """An empty database URL on each backend (PG/MariaDB skip unless CASES_TEST_*_URL is set)."""
    kind = request.param
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'cases.sqlite'}"
        return
    from fixtures_demo import server_url

    base = server_url(kind)
    yield from (_pg_fresh(base) if kind == "postgresql" else _mysql_fresh(base))


@pytest.fixture
def handmade_source(fresh_source) -> str:  # noqa: ANN001
    """The hand-made data set on each backend."""
    build_handmade(fresh_source)
    return fresh_source


@pytest.fixture
def handmade_store(tmp_path):  # noqa: ANN001, ANN201
    """A store synced from the hand-made data set on SQLite."""
    from queries.store import Store
    from queries.sync import run_sync

    url = f"sqlite:///{tmp_path / 'hand.sqlite'}"
    build_handmade(url)
    run_sync(url, tmp_path / "store", full=True)
    return Store.open(tmp_path / "store")
