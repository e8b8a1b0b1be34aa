"""A hand-made case database for the compliance checks: each rule at its boundaries, with the worked answers
(which contact breaches which check) beside the rows. Dates in March 2026 (every built-in rule in force) except
where a test needs the day before a rule took effect."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from queries.source import contract as S

D, T = dt.date, dt.datetime

TEAMS = [
    {"team_id": "T1", "team_name": "In house", "site": "SH", "channel": "in_house", "agency_name": None,
     "lead_agent_id": "A1", "whitelisted_on": None, "evaluated_on": None},
    # whitelisted from 2026-03-10; last evaluated 2025-01-01 (over 365 days before March 2026: overdue)
    {"team_id": "T2", "team_name": "Agency W", "site": "CD", "channel": "agency", "agency_name": "W Co",
     "lead_agent_id": None, "whitelisted_on": D(2026, 3, 10), "evaluated_on": D(2025, 1, 1)},
    # never whitelisted, evaluated recently
    {"team_id": "T3", "team_name": "Agency N", "site": "GZ", "channel": "agency", "agency_name": "N Co",
     "lead_agent_id": None, "whitelisted_on": None, "evaluated_on": D(2026, 1, 15)},
]
AGENTS = [
    {"agent_id": "A1", "agent_name": "Li", "team_id": "T1", "hired_on": D(2024, 1, 1), "left_on": None},
    {"agent_id": "A2", "agent_name": "Wang", "team_id": "T2", "hired_on": D(2024, 1, 1), "left_on": None},
    {"agent_id": "A3", "agent_name": "Zhao", "team_id": "T3", "hired_on": D(2024, 1, 1), "left_on": None},
]


def phone(case_id: int) -> str:
    """The debtor number of a case."""
    return f"1380000{case_id:04d}"


CASES = [{"case_id": i, "account_no": f"6222{i:012d}", "customer_name": "张三", "phone": phone(i),
          "id_number": "110101199001011234", "product": "card", "region": "north", "placed_on": D(2025, 12, 1),
          "placed_balance": Decimal("1000.00"), "placed_dpd": 40, "current_dpd": 40,
          "current_balance": Decimal("1000.00"), "status": "active", "agent_id": "A1", "updated_at": T(2026, 3, 1)}
         for i in range(1, 10)]


def c(kid: int, case: int, at: dt.datetime, outcome: str = "no_answer", *, agent: str = "A1",  # noqa: PLR0913
      channel: str = "call", party: str | None = None, number: str | None = None, consent: bool = False,
      robot: bool | None = None, recorded: bool = True) -> dict:
    """One contact; connected calls are recorded unless `recorded=False`."""
    connected = outcome not in ("no_answer", "busy", "wrong_number")
    if party is None:
        party = "third_party" if outcome == "third_party" else ("debtor" if connected else "none")
    return {"contact_id": kid, "case_id": case, "agent_id": agent, "contacted_at": at, "channel": channel,
            "party": party, "outcome": outcome, "duration_s": 30, "phone_no": number or phone(case),
            "debtor_consent_after_hours": consent, "is_robot": robot,
            "recording_id": f"R{kid}" if (connected and recorded and channel == "call") else None}


CONTACTS = [
    # quiet hours, case 1 (no consent unless said)
    c(101, 1, T(2026, 3, 2, 21, 59, 59)), c(102, 1, T(2026, 3, 2, 22, 0, 0)),
    c(103, 1, T(2026, 3, 3, 7, 59, 59)), c(104, 1, T(2026, 3, 3, 8, 0, 0)),
    c(105, 1, T(2026, 3, 3, 23, 0), consent=True), c(106, 1, T(2026, 3, 3, 23, 30), channel="letter"),
    c(107, 1, T(2026, 3, 3, 23, 40), channel="sms"),
    # connected cap, case 1 on 2026-03-04: the 2nd is a robot call; an unanswered call and a visit between
    c(111, 1, T(2026, 3, 4, 9, 0), "rpc"), c(112, 1, T(2026, 3, 4, 9, 10), "rpc", robot=True),
    c(116, 1, T(2026, 3, 4, 9, 15)), c(113, 1, T(2026, 3, 4, 9, 20), "refused"),
    c(115, 1, T(2026, 3, 4, 9, 25), "rpc", channel="visit"),
    c(114, 1, T(2026, 3, 4, 9, 30), "callback", recorded=False),  # 4th connected call, and not recorded
    # unanswered cap, case 2 on 2026-03-05: 7 to the debtor number (a connected call between), 6 to another
    *[c(121 + i, 2, T(2026, 3, 5, 9, i), "busy" if i == 3 else "no_answer") for i in range(7)],
    c(128, 2, T(2026, 3, 5, 9, 3, 30), "rpc"),
    *[c(131 + i, 2, T(2026, 3, 5, 10, i), number="13911112222") for i in range(6)],
    # the day before the CBA guideline took effect (2026-01-30): 7 unanswered to one number breach nothing
    *[c(141 + i, 2, T(2026, 1, 29, 9, i)) for i in range(7)],
    *[c(241 + i, 2, T(2026, 1, 30, 9, i)) for i in range(7)],  # the day it did: the 7th breaches
    # third party after 3 failed debtor calls (justified) vs after 2 (breach)
    c(151, 3, T(2026, 3, 6, 9)), c(152, 3, T(2026, 3, 6, 10)), c(153, 3, T(2026, 3, 6, 11)),
    c(154, 3, T(2026, 3, 6, 12), "third_party", number="13700000003"),
    c(161, 4, T(2026, 3, 6, 9)), c(162, 4, T(2026, 3, 6, 10)),
    c(163, 4, T(2026, 3, 6, 12), "third_party", number="13700000004"),
    # across the month boundary: a wrong number in February justifies a March third-party contact
    c(171, 5, T(2026, 2, 20, 9), "wrong_number"), c(172, 5, T(2026, 3, 6, 12), "third_party", number="13700000005"),
    # three failed calls late in February justify one on 2026-03-02, not one more than 30 days after them
    c(181, 6, T(2026, 2, 25, 9)), c(182, 6, T(2026, 2, 25, 10)), c(183, 6, T(2026, 2, 25, 11)),
    c(184, 6, T(2026, 3, 2, 12), "third_party", number="13700000006"),
    c(185, 6, T(2026, 3, 28, 12), "third_party", number="13700000006"),
    # a repayment plan on case 7 agreed 2026-03-10, broken 2026-03-20
    c(191, 7, T(2026, 3, 9, 10)), c(192, 7, T(2026, 3, 10, 10)), c(193, 7, T(2026, 3, 15, 10)),
    c(194, 7, T(2026, 3, 20, 10)), c(195, 7, T(2026, 3, 21, 10)),
    # agencies: W whitelisted from 2026-03-10, N never
    c(201, 8, T(2026, 3, 9, 10), agent="A2"), c(202, 8, T(2026, 3, 10, 10), agent="A2"),
    c(211, 8, T(2026, 3, 10, 11), agent="A3"),
    c(299, 9, T(2026, 3, 30, 10)),  # the data's last day
]
PLANS = [{"plan_id": 1, "case_id": 7, "agent_id": "A1", "agreed_on": D(2026, 3, 10), "months": 6,
          "monthly_amount": Decimal("100.00"), "status": "broken", "ended_on": D(2026, 3, 20),
          "updated_at": T(2026, 3, 20)}]


def complaint(cid: int, case: int, received: dt.datetime, resolved: dt.datetime | None) -> dict:
    """One complaint."""
    return {"complaint_id": cid, "case_id": case, "agent_id": "A1", "received_at": received, "source": "hotline",
            "category": "harassment", "severity": "medium", "status": "resolved" if resolved else "open",
            "resolved_at": resolved, "substantiated": None, "updated_at": resolved or received}


COMPLAINTS = [
    complaint(1, 4, T(2026, 3, 10, 10), T(2026, 3, 25, 10)),  # day 15: in time; breach 163 four days before
    complaint(2, 9, T(2026, 3, 1, 10), T(2026, 3, 17, 10)),  # day 16: late; no breach on case 9
    complaint(3, 3, T(2026, 3, 5, 10), None),  # open on 2026-03-30, 25 days: late
]

#: The worked answers: contact id → the checks it breaches.
EXPECTED: dict[int, set[str]] = {
    102: {"quiet_hours"}, 103: {"quiet_hours"}, 107: {"quiet_hours"},
    114: {"connected_cap", "unrecorded"},
    127: {"unanswered_cap"}, 247: {"unanswered_cap"},
    163: {"third_party"}, 185: {"third_party"},
    193: {"during_plan"},
    201: {"agency_not_allowed"}, 211: {"agency_not_allowed"},
}

ROWS = {"teams": TEAMS, "agents": AGENTS, "cases": CASES, "contacts": CONTACTS, "complaints": COMPLAINTS,
        "repayment_plans": PLANS}


def build(url: str, *, plans: bool = True, optional_columns: bool = True, rows: dict | None = None) -> None:
    """Create the contract tables at `url` (without the optional parts when asked) and insert the rows
    (`rows`: table → rows, default the hand-made set above)."""
    data = ROWS if rows is None else rows
    md = sa.MetaData()
    tables = []
    for t in S.TABLES:
        if t.name == "repayment_plans" and not plans:
            continue
        drop = S.OPTIONAL_COLUMNS.get(t.name, frozenset()) if not optional_columns else frozenset()
        tables.append(sa.Table(t.name, md, *[col._copy() for col in t.columns if col.name not in drop],
                               **{k: v for k, v in t.kwargs.items()}))
    engine = sa.create_engine(url)
    md.create_all(engine)
    with engine.begin() as conn:
        for t in tables:
            table_rows = data.get(t.name)
            if table_rows:
                conn.execute(t.insert(), [{k: v for k, v in r.items() if k in t.c} for r in table_rows])
    engine.dispose()
