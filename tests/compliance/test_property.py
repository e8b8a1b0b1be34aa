"""Property test: every breach count, rate and RPC-by-ordinal figure equals a straightforward row-by-row
computation over the raw contacts (written here from DESIGN §4b, independently of the sync), for random data
and random filters, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import pytest
from fixtures_compliance import build

from queries.compliance.rules import CONTACT_CHECKS, load_pack
from queries.filters import Filters
from queries.metrics import registry
from queries.store import Store
from queries.sync import run_sync

D, T = dt.date, dt.datetime
UNANSWERED = ("no_answer", "busy")
NOT_CONNECTED = ("no_answer", "busy", "wrong_number")
RPC = ("rpc", "ptp", "refused", "dispute", "hardship", "callback")
START, DAYS = D(2026, 1, 20), 70  # across the CBA guideline's effective date and two month boundaries


def dataset(seed: int) -> dict:
    """Random teams, agents, cases, contacts and plans, dense enough to hit every check."""
    rng = random.Random(seed)
    teams = [{"team_id": "T1", "team_name": "in", "site": "SH", "channel": "in_house", "agency_name": None,
              "lead_agent_id": None, "whitelisted_on": None, "evaluated_on": None},
             {"team_id": "T2", "team_name": "ag", "site": "CD", "channel": "agency", "agency_name": "W",
              "lead_agent_id": None, "whitelisted_on": START + dt.timedelta(days=rng.randint(0, 60)),
              "evaluated_on": D(2025, 6, 1)},
             {"team_id": "T3", "team_name": "ag2", "site": "GZ", "channel": "agency", "agency_name": "N",
              "lead_agent_id": None, "whitelisted_on": None, "evaluated_on": None}]
    agents = [{"agent_id": f"A{i}", "agent_name": f"n{i}", "team_id": t, "hired_on": D(2024, 1, 1), "left_on": None}
              for i, t in enumerate(["T1", "T1", "T2", "T3"], 1)]
    n_cases = 8
    cases = [{"case_id": i, "account_no": f"{i:016d}", "customer_name": "x", "phone": f"1380000{i:04d}",
              "id_number": "1", "product": "card", "region": "north", "placed_on": D(2025, 12, 1),
              "placed_balance": Decimal("100.00"), "placed_dpd": 40, "current_dpd": 40,
              "current_balance": Decimal("100.00"), "status": "active", "agent_id": "A1",
              "updated_at": T(2026, 1, 1)} for i in range(1, n_cases + 1)]
    plans = []
    for pid, case in enumerate(rng.sample(range(1, n_cases + 1), 3), 1):
        agreed = START + dt.timedelta(days=rng.randint(0, 60))
        ended = agreed + dt.timedelta(days=rng.randint(1, 20)) if rng.random() < 0.6 else None
        plans.append({"plan_id": pid, "case_id": case, "agent_id": "A1", "agreed_on": agreed, "months": 3,
                      "monthly_amount": Decimal("10.00"), "status": "broken" if ended else "active",
                      "ended_on": ended, "updated_at": T(2026, 4, 1)})
    contacts = []
    kid = 0
    for _ in range(900):
        case = rng.randint(1, n_cases)
        day = START + dt.timedelta(days=rng.choice([rng.randint(0, DAYS - 1), rng.randint(0, 3) * 17]))
        hour = rng.choice([rng.randint(0, 23), 7, 8, 21, 22, 9, 10])
        at = T(day.year, day.month, day.day, hour, rng.choice([0, 0, 59, rng.randint(0, 59)]),
               rng.choice([0, 59, rng.randint(0, 59)]))
        channel = rng.choices(["call", "sms", "email", "letter", "visit"], [12, 2, 1, 1, 1])[0]
        outcome = rng.choices(["no_answer", "busy", "wrong_number", "third_party", "rpc", "ptp", "refused",
                               "callback"], [10, 3, 1, 2, 3, 1, 1, 1])[0]
        party = "third_party" if outcome == "third_party" else (
            "debtor" if outcome not in NOT_CONNECTED else "none")
        number = f"1380000{case:04d}" if rng.random() < 0.8 else f"1391111{rng.randint(0, 2):04d}"
        kid += 1
        contacts.append({
            "contact_id": kid, "case_id": case, "agent_id": rng.choice(["A1", "A1", "A2", "A3", "A4"]),
            "contacted_at": at, "channel": channel, "party": party, "outcome": outcome, "duration_s": 10,
            "phone_no": number, "debtor_consent_after_hours": rng.random() < 0.1,
            "is_robot": rng.choice([None, False, True]),
            "recording_id": f"R{kid}" if rng.random() < 0.85 else None})
    return {"teams": teams, "agents": agents, "cases": cases, "contacts": contacts, "repayment_plans": plans}


def judge(data: dict) -> list[dict]:
    """Each contact with the checks it breaches, row by row (DESIGN §4b)."""
    pack = load_pack()
    phone = {c["case_id"]: c["phone"] for c in data["cases"]}
    team = {a["agent_id"]: a["team_id"] for a in data["agents"]}
    teams = {t["team_id"]: t for t in data["teams"]}
    rows = sorted(data["contacts"], key=lambda k: (k["contacted_at"], k["contact_id"]))
    out = []
    for k in rows:
        day, at = k["contacted_at"].date(), k["contacted_at"]
        attempt = k["channel"] in ("call", "visit")
        call = k["channel"] == "call"
        connected_call = call and k["outcome"] not in NOT_CONNECTED
        checks = set()
        q = pack.params("quiet_hours", day)
        if q and k["channel"] not in q["exempt_channels"] and not k["debtor_consent_after_hours"]:
            hm = at.strftime("%H:%M:%S")
            if hm >= f"{q['start']}:00" or hm < f"{q['end']}:00":
                checks.add("quiet_hours")
        u = pack.params("unanswered_cap", day)
        if u and call and k["outcome"] in UNANSWERED:
            before = [x for x in rows if x["case_id"] == k["case_id"] and x["phone_no"] == k["phone_no"]
                      and x["contacted_at"].date() == day and x["channel"] == "call" and x["outcome"] in UNANSWERED
                      and (x["contacted_at"], x["contact_id"]) <= (at, k["contact_id"])]
            if len(before) > u["max_per_phone_day"]:
                checks.add("unanswered_cap")
        c = pack.params("connected_cap", day)
        if c and connected_call:
            before = [x for x in rows if x["case_id"] == k["case_id"] and x["contacted_at"].date() == day
                      and x["channel"] == "call" and x["outcome"] not in NOT_CONNECTED
                      and (x["contacted_at"], x["contact_id"]) <= (at, k["contact_id"])]
            if len(before) > c["max_per_case_day"]:
                checks.add("connected_cap")
        t = pack.params("third_party", day)
        if t and k["party"] == "third_party":
            lo = at - dt.timedelta(days=t["lookback_days"])
            calls = [x for x in rows if x["case_id"] == k["case_id"] and x["channel"] == "call"
                     and x["phone_no"] == phone[k["case_id"]] and lo <= x["contacted_at"] < at]
            n = t["min_failed_calls"]
            wrong = any(x["outcome"] == "wrong_number" for x in calls)
            failed = len(calls) >= n and all(x["outcome"] in UNANSWERED for x in calls[len(calls) - n:])
            if not (wrong or failed):
                checks.add("third_party")
        if pack.params("during_plan", day) is not None and attempt and any(
                p["case_id"] == k["case_id"] and p["agreed_on"] < day and (p["ended_on"] is None or day < p["ended_on"])
                for p in data["repayment_plans"]):
            checks.add("during_plan")
        if pack.params("unrecorded", day) is not None and connected_call and not k["recording_id"]:
            checks.add("unrecorded")
        tm = teams[team[k["agent_id"]]]
        if (pack.params("agency_not_allowed", day) is not None and attempt and tm["channel"] == "agency"
                and (tm["whitelisted_on"] is None or tm["whitelisted_on"] > day)):
            checks.add("agency_not_allowed")
        out.append({**k, "day": day, "team_id": tm["team_id"], "team_channel": tm["channel"], "checks": checks,
                    "attempt": attempt, "connected_call": connected_call})
    # attempt ordinal within the case-day
    seen: dict = {}
    for r in out:
        if r["attempt"]:
            key = (r["case_id"], r["day"])
            seen[key] = seen.get(key, 0) + 1
            r["ordinal"] = min(seen[key], 7)
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_breach_figures_equal_a_row_by_row_count(fresh_source: str, tmp_path: Path, seed: int) -> None:  # noqa: F811
    data = dataset(seed)
    build(fresh_source, rows=data)
    run_sync(fresh_source, tmp_path / "store", full=True)
    store = Store.open(tmp_path / "store")
    judged = judge(data)
    rng = random.Random(seed * 101)
    for _ in range(12):
        a = START + dt.timedelta(days=rng.randint(0, DAYS - 1))
        b = min(a + dt.timedelta(days=rng.randint(0, 45)), START + dt.timedelta(days=DAYS - 1))
        teams = tuple(rng.sample(["T1", "T2", "T3"], rng.randint(0, 2)))
        agents = tuple(rng.sample(["A1", "A2", "A3", "A4"], rng.randint(0, 2))) if rng.random() < 0.3 else ()
        channel = rng.choice([None, None, "in_house", "agency"])
        f = Filters(start=a, end=b, teams=teams, agents=agents, channel=channel)
        rows = [r for r in judged if a <= r["day"] <= b and (not teams or r["team_id"] in teams)
                and (not agents or r["agent_id"] in agents) and (not channel or r["team_channel"] == channel)]
        dim = rng.choice(["day", "agent_id", "team_id", "channel"])
        key = {"day": "day", "agent_id": "agent_id", "team_id": "team_id", "channel": "team_channel"}[dim]
        got = registry.compute("breaches", store, f, ("check", dim))
        got_cells = {(r["check"], r[dim]): (r["numerator"], r["denominator"]) for r in got.iter_rows(named=True)
                     if r["denominator"] or r["numerator"]}
        want: dict = {}
        for r in rows:
            for ch in CONTACT_CHECKS:
                cell = want.setdefault((ch, r[key]), [0, 0])
                cell[0] += ch in r["checks"]
                cell[1] += r["connected_call"] if ch == "unrecorded" else r["attempt"]
        want_cells = {k: tuple(float(x) for x in v) for k, v in want.items() if v[0] or v[1]}
        assert got_cells == want_cells, (f, dim)
        tp = registry.compute("third_party_unjustified", store, f)
        assert (tp["numerator"].item() or 0, tp["denominator"].item() or 0) == (
            sum("third_party" in r["checks"] for r in rows), sum(r["party"] == "third_party" for r in rows)), f
        rec = registry.compute("recording_coverage", store, f)
        conn = [r for r in rows if r["connected_call"]]
        assert (rec["numerator"].item() or 0, rec["denominator"].item() or 0) == (
            sum(bool(r["recording_id"]) for r in conn), len(conn)), f
        ords = registry.compute("rpc_by_attempt", store, f, ("ordinal",))
        want_ord: dict = {}
        for r in rows:
            if r["attempt"]:
                cell = want_ord.setdefault(r["ordinal"], [0, 0])
                cell[0] += r["party"] == "debtor" and r["outcome"] in RPC
                cell[1] += 1
        assert {r["ordinal"]: (r["numerator"], r["denominator"]) for r in ords.iter_rows(named=True)} == {
            k: (float(v[0]), float(v[1])) for k, v in want_ord.items()}, f
        anyb = registry.compute("breaches", store, f)
        assert (anyb["numerator"].item() or 0) == sum(bool(r["checks"]) for r in rows), f


@pytest.mark.parametrize("per_statement", [500, 1])
def test_incremental_sync_judges_as_a_full_one(tmp_path: Path, monkeypatch, per_statement: int) -> None:  # noqa: ANN001
    """New contacts added after a sync: the incremental store's breaches equal a full sync's (the third-party
    lookback then reads the history from the source: in one statement, or one case per statement, the statements
    spread over two connections)."""
    import polars as pl
    from fixtures_store import insert_rows

    from queries.source import contract as S
    from queries.sync import compliance as sync_compliance
    from queries.sync.context import SyncContext

    monkeypatch.setattr(sync_compliance, "HISTORY_CASES", per_statement)
    batches: list[int] = []
    read_many = SyncContext.read_many

    def counted(self, stmts, schema):  # noqa: ANN001, ANN202
        batches.append(len(stmts))
        return read_many(self, stmts, schema)

    monkeypatch.setattr(SyncContext, "read_many", counted)

    data = dataset(3)
    cut = START + dt.timedelta(days=45)
    # contacts arrive in id order: number them by time so that the later ones have the higher ids
    data["contacts"] = [{**k, "contact_id": i} for i, k in enumerate(
        sorted(data["contacts"], key=lambda k: (k["contacted_at"], k["contact_id"])), 1)]
    early = [k for k in data["contacts"] if k["contacted_at"].date() < cut]
    late = [k for k in data["contacts"] if k["contacted_at"].date() >= cut]
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    build(url, rows={**data, "contacts": early})
    run_sync(url, tmp_path / "inc", full=True)
    insert_rows(url, S.contacts, late)
    result = run_sync(url, tmp_path / "inc")
    assert not result.full
    assert batches and (max(batches) == 1 if per_statement == 500 else max(batches) > 2), batches
    run_sync(url, tmp_path / "full", full=True)

    def breaches(folder: Path) -> pl.DataFrame:
        s = Store.open(folder)
        return pl.read_parquet(sorted((s.path / "breach_contacts").glob("2*.parquet"))).sort("contact_id", "check")

    assert breaches(tmp_path / "inc").equals(breaches(tmp_path / "full"))
    inc, full = Store.open(tmp_path / "inc"), Store.open(tmp_path / "full")
    assert inc.frame("compliance_agent").sort("day", "agent_id", "bucket").equals(
        full.frame("compliance_agent").sort("day", "agent_id", "bucket"))
    want = {r["contact_id"] for r in judge(data) if "third_party" in r["checks"]}
    assert set(breaches(tmp_path / "inc").filter(pl.col("check") == "third_party")["contact_id"]) == want


@pytest.mark.parametrize("per", [500, 7, 2])
def test_history_statements_are_even_and_equal_from_half_a_statement_on(per: int) -> None:
    """history_parts: every id once, in order; at most `per` a statement; one statement below half of `per`, else
    the smallest even number of statements that holds them (one id: one), of sizes differing by at most one."""
    from queries.sync.compliance import history_parts

    for n in range(0, 4 * per + 3):
        ids = list(range(10, 10 + 3 * n, 3))
        parts = history_parts(ids, per)
        assert [i for p in parts for i in p] == ids, n
        assert all(0 < len(p) <= per for p in parts), n
        if n == 0:
            assert parts == []
        elif n < per // 2:
            assert len(parts) == 1, n
        else:
            need = -(-n // per)
            assert len(parts) == min(n, need + need % 2), (n, [len(p) for p in parts])
            assert max(map(len, parts)) - min(map(len, parts)) <= 1, n
