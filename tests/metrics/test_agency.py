"""Placement vintages (委外批次) on hand-made assignment histories with hand-worked liquidation, on SQLite,
PostgreSQL and MariaDB, and against a row-by-row computation on the raw tables of a generated database.

Teams: T1 in-house (agent a1), TA agency "Alpha" (x1), TB agency "Beta" (y1). Month-end snapshots Jan–Apr 2026:

  case 1  Jan T1 · Feb Alpha (1,000) · Mar Alpha · Apr T1 (recalled)       paid 10 Feb 50 (before), 5 Mar 100,
                                                                             3 Apr 200, 2 May 70 (after recall)
  case 2  Jan T1 · Feb Alpha (3,000) · Mar Beta (2,900) · Apr Beta          paid 20 Mar 100, 10 Apr 300, 5 May 50
  case 3  Jan T1 · Feb T1 · Mar Beta (500) · gone in Apr (paid off)          paid 15 Apr 500
  case 4  —      · Feb Alpha (2,000, new) · Mar Alpha · Apr Alpha            nothing

As of 20 May 2026. Alpha's Feb vintage: 3 cases, ¥6,000; month 1 (March) 100 + 100 = 200, month 2 (April)
+ 200 (case 2 was with Beta at the end of March) = 400, month 3 (May) + 0 = 400, immature; 1 recalled (case 1,
at month 2), 1 transferred (case 2, at month 1). Beta's Mar vintage: cases 2 and 3, ¥3,400; month 1 (April)
300 + 500 = 800, month 2 (May) 850, immature. T1's Apr vintage: case 1, ¥1,100; month 1 (May) 70.
Cases of January (the first snapshot month) are not placements.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest
import sqlalchemy as sa
from fixtures_store import build_rows

from queries.filters import Filters
from queries.metrics.agency import has_fees
from queries.metrics.registry import compute
from queries.source import contract as S
from queries.source.doctor import WARNING, check
from queries.store import Store
from queries.sync import run_sync

D, T = dt.date, dt.datetime
TEAMS = [{"team_id": t, "team_name": n, "site": "SH", "channel": c, "agency_name": a, "lead_agent_id": None}
         for t, n, c, a in (("T1", "In 1", "in_house", None), ("TA", "Alpha 1", "agency", "Alpha"),
                            ("TB", "Beta 1", "agency", "Beta"))]
AGENTS = [{"agent_id": a, "agent_name": a, "team_id": t, "hired_on": D(2024, 1, 1), "left_on": None}
          for a, t in (("a1", "T1"), ("x1", "TA"), ("y1", "TB"))]


def _case(cid: int, agent: str, status: str = "active") -> dict:
    return {"case_id": cid, "account_no": f"6222{cid:012d}", "customer_name": "张三", "phone": "13800000000",
            "id_number": "110101199001011234", "product": "card", "region": "north", "placed_on": D(2025, 12, 1),
            "placed_balance": Decimal(3000), "placed_dpd": 100, "current_dpd": 100,
            "current_balance": Decimal(1000), "status": status, "agent_id": agent, "updated_at": T(2026, 5, 1)}


CASES = [_case(1, "a1"), _case(2, "y1"), _case(3, "y1", "paid_off"), _case(4, "x1")]
ENDS = {1: D(2026, 1, 31), 2: D(2026, 2, 28), 3: D(2026, 3, 31), 4: D(2026, 4, 30)}
HISTORY = {  # case → {month: (agent, balance)}
    1: {1: ("a1", 1000), 2: ("x1", 1000), 3: ("x1", 900), 4: ("a1", 1100)},
    2: {1: ("a1", 3000), 2: ("x1", 3000), 3: ("y1", 2900), 4: ("y1", 2600)},
    3: {1: ("a1", 500), 2: ("a1", 500), 3: ("y1", 500)},
    4: {2: ("x1", 2000), 3: ("x1", 2000), 4: ("x1", 2000)},
}
SNAPSHOTS = [{"snapshot_on": ENDS[m], "case_id": c, "dpd": 100 + 30 * m, "balance": Decimal(b), "agent_id": a}
             for c, months in HISTORY.items() for m, (a, b) in months.items()]
PAYMENTS = [{"payment_id": i, "case_id": c, "agent_id": a, "paid_at": at, "amount": Decimal(y), "method": "app"}
            for i, (c, a, at, y) in enumerate([
                (1, "a1", T(2026, 2, 10, 10), "50"), (1, "x1", T(2026, 3, 5, 10), "100"),
                (1, "x1", T(2026, 4, 3, 10), "200"), (1, "a1", T(2026, 5, 2, 10), "70"),
                (2, "x1", T(2026, 3, 20, 10), "100"), (2, "y1", T(2026, 4, 10, 10), "300"),
                (2, "y1", T(2026, 5, 5, 10), "50"), (3, "y1", T(2026, 4, 15, 10), "500"),
                (4, "x1", T(2026, 5, 20, 10), "0.01")], start=1)]
PAYMENTS[-1]["case_id"], PAYMENTS[-1]["agent_id"] = 1, "a1"  # 20 May: the data's last day, after the recall
ROWS = {"teams": TEAMS, "agents": AGENTS, "cases": CASES, "balance_snapshots": SNAPSHOTS, "payments": PAYMENTS}


# Commission rates (agency_fees), each changing inside the period: Alpha (team TA) 10% from 1 Jan, 20% from 1 Apr;
# Beta (TB) none before 12 Apr, 15% from then, 30% from 1 May; a rate above 1 (ignored) and an unknown team.
FEES = [{"team_id": t, "effective_from": d, "rate": Decimal(r)} for t, d, r in (
    ("TA", D(2026, 1, 1), "0.10"), ("TA", D(2026, 4, 1), "0.20"), ("TB", D(2026, 4, 12), "0.15"),
    ("TB", D(2026, 5, 1), "0.30"), ("TB", D(2026, 5, 2), "1.5"), ("TX", D(2026, 1, 1), "0.5"))]


@pytest.fixture
def vintage_store(fresh_source, tmp_path) -> Store:  # noqa: ANN001
    """The hand-made histories in a source without the optional targets and agency_fees tables."""
    build_rows(fresh_source, ROWS, ("targets", "agency_fees"))
    run_sync(fresh_source, tmp_path / "store", full=True)
    return Store.open(tmp_path / "store")


@pytest.fixture
def fees_store(fresh_source, tmp_path) -> Store:  # noqa: ANN001
    """The same with agency_fees."""
    build_rows(fresh_source, {**ROWS, "agency_fees": FEES}, ("targets",))
    run_sync(fresh_source, tmp_path / "store", full=True)
    return Store.open(tmp_path / "store")


def cells(df) -> dict:  # noqa: ANN001
    return {(r["holder"], r["placed_month"], r["months_since"]): r for r in df.iter_rows(named=True)}


def test_handmade_vintages(vintage_store):
    st = vintage_store
    assert st.as_of == D(2026, 5, 20)
    got = cells(compute("agency_liquidation", st, Filters(D(2026, 1, 1), D(2026, 5, 20))))
    feb, mar, apr = D(2026, 2, 1), D(2026, 3, 1), D(2026, 4, 1)
    a1, a2, a3 = got[("Alpha", feb, 1)], got[("Alpha", feb, 2)], got[("Alpha", feb, 3)]
    assert (a1["placed"], a1["denominator"], a1["kind"]) == (3, 6000.0, "agency")
    assert (a1["numerator"], a2["numerator"], a3["numerator"]) == (200.0, 400.0, 400.0)
    assert a1["value"] == pytest.approx(200 / 6000)
    assert (a1["immature"], a2["immature"], a3["immature"]) == (False, False, True)
    assert (a1["recalled"], a1["transferred"]) == (0, 1)  # case 2 to Beta at the end of March
    assert (a2["recalled"], a2["transferred"]) == (1, 1)  # case 1 back in-house at the end of April
    b1, b2 = got[("Beta", mar, 1)], got[("Beta", mar, 2)]
    assert (b1["placed"], b1["denominator"], b1["numerator"], b2["numerator"]) == (2, 3400.0, 800.0, 850.0)
    t1 = got[("T1", apr, 1)]
    assert (t1["placed"], t1["denominator"], t1["numerator"], t1["kind"]) == (1, 1100.0, 70.01, "in_house")
    assert not [k for k in got if k[1] == D(2026, 1, 1)]  # the first snapshot month places nothing
    assert ("Alpha", feb, 0) not in got
    only_beta = compute("agency_liquidation", st, Filters(D(2026, 1, 1), D(2026, 5, 20), teams=("TB",)))
    assert set(only_beta.get_column("holder")) == {"Beta"}
    march = compute("agency_liquidation", st, Filters(D(2026, 3, 1), D(2026, 3, 31)))
    assert set(march.get_column("placed_month")) == {mar}


# ---------------------------------------------------------------- row by row on a generated database


def _day(v: object) -> dt.date:
    """A date from a date, datetime or text value as the backend returns it."""
    return v if isinstance(v, dt.date) and not isinstance(v, dt.datetime) else dt.date.fromisoformat(str(v)[:10])


def _mi(d: dt.date) -> int:
    """Month index (months since year 0)."""
    return d.year * 12 + d.month - 1


def _raw(url: str) -> tuple[dict, dict, dict, list, list]:
    """Straight from the source: team → (channel, agency name), agent → team, case → month index → month-end
    snapshot (the month's last snapshot day), payments, and agency_fees rows (empty without the table)."""
    eng = sa.create_engine(url)
    with eng.connect() as c:
        teams = {r.team_id: (r.channel, r.agency_name) for r in c.execute(sa.select(S.teams))}
        team_of = {r.agent_id: r.team_id for r in c.execute(sa.select(S.agents))}
        snaps = c.execute(sa.select(S.balance_snapshots)).all()
        pays = c.execute(sa.select(S.payments.c.case_id, S.payments.c.paid_at, S.payments.c.amount)).all()
        fees = c.execute(sa.select(S.agency_fees)).all() if sa.inspect(c).has_table("agency_fees") else []
    eng.dispose()
    last_day: dict[int, dt.date] = {}
    for sn in snaps:
        d = _day(sn.snapshot_on)
        last_day[_mi(d)] = max(last_day.get(_mi(d), d), d)
    ends: dict[int, dict[int, object]] = defaultdict(dict)
    for sn in snaps:
        d = _day(sn.snapshot_on)
        if last_day[_mi(d)] == d:
            ends[sn.case_id][_mi(d)] = sn
    return teams, team_of, ends, pays, fees


def plain_vintages(url: str, as_of: dt.date) -> dict:
    """(holder, placed month, months since) → (placed cases, balance, cumulative paid) from the raw rows."""
    teams, team_of, ends, pays, _fees = _raw(url)

    def holder(agent: str | None) -> str | None:
        t = team_of.get(agent)
        if t is None:
            return None
        ch, name = teams[t]
        return (name or t) if ch == "agency" else t

    held: dict[int, dict[int, tuple]] = defaultdict(dict)  # case → month index → (holder, cents)
    for case, months in ends.items():
        for m, sn in months.items():
            held[case][m] = (holder(sn.agent_id), round(float(sn.balance) * 100))
    paid: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for p in pays:
        at = dt.date.fromisoformat(str(p.paid_at)[:10])
        paid[p.case_id][_mi(at)] += round(float(p.amount) * 100)
    first = min(m for months in ends.values() for m in months)
    out: dict = defaultdict(lambda: [0, 0, 0])
    for case, months in held.items():
        for m, (h, cents) in months.items():
            if m == first or months.get(m - 1, (object(),))[0] == h:
                continue  # not a placement
            end = m
            while months.get(end + 1, (None,))[0] == h:
                end += 1
            label = dt.date(m // 12, m % 12 + 1, 1)
            cum = 0
            for n in range(1, _mi(as_of) - m + 1):
                if m + n <= end + 1:
                    cum += paid[case].get(m + n, 0)
                cell = out[(h, label, n)]
                cell[0] += 1
                cell[1] += cents
                cell[2] += cum
    return out


def test_vintages_equal_a_row_by_row_count(shared_small_source, shared_small_store):  # noqa: ANN001
    st = Store.open(shared_small_store)
    got = compute("agency_liquidation", st, Filters(D(2000, 1, 1), st.as_of))
    want = plain_vintages(shared_small_source, st.as_of)
    assert got.height == len(want) > 100
    for r in got.iter_rows(named=True):
        n, cents, cum = want[(r["holder"], r["placed_month"], r["months_since"])]
        assert (r["placed"], round(r["denominator"] * 100), round(r["numerator"] * 100)) == (n, cents, cum)


def test_scorecard_complaints_equal_the_complaint_rate_of_each_agencys_teams(tmp_path):  # noqa: ANN001
    """The scorecard counts complaints by team once and sums them per agency; each agency's figures equal
    complaint_rate with that agency's teams selected (the distinct worked cases are the agency's own union), for
    the whole centre, a team selection, a channel and a period off the month edges. The small centre is changed
    so that one agency has two teams (T02 and T03), and complaints come without an agent or with an unknown one."""
    from dataclasses import replace

    from fixtures_demo import AS_OF, SMALL

    from queries.demo import build_demo_database
    from queries.metrics.agency import agency_names

    url = f"sqlite:///{tmp_path / 'cases.sqlite'}"
    build_demo_database(url, SMALL, seed=11, as_of=AS_OF)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.update(S.teams).where(S.teams.c.team_id.in_(["T02", "T03"]))
                     .values(channel="agency", agency_name="Gamma 催收"))
        last = conn.execute(sa.select(sa.func.max(S.complaints.c.complaint_id))).scalar()
        row = dict(conn.execute(sa.select(S.complaints).order_by(S.complaints.c.complaint_id.desc()).limit(1))
                   .mappings().one())
        extra = [row | {"complaint_id": last + 1, "agent_id": None},
                 row | {"complaint_id": last + 2, "agent_id": "NOBODY", "source": "12378"}]
        conn.execute(sa.insert(S.complaints), extra)
    engine.dispose()
    run_sync(url, tmp_path / "store", full=True)
    st = Store.open(tmp_path / "store")
    names = agency_names(st).rename({"agency": "holder"})
    assert names.filter(pl.col("holder") == "Gamma 催收").height == 2
    some = ("T03",)  # one of Gamma's two teams
    year = Filters(D(st.as_of.year - 1, st.as_of.month, 1), st.as_of)
    compared = 0
    for f in (year, replace(year, teams=some), replace(year, channel="agency"),
              Filters(st.as_of - dt.timedelta(days=150), st.as_of)):
        got = {r["holder"]: r for r in compute("agency_score", st, f).iter_rows(named=True)}
        for holder, ids in names.group_by("holder").agg(pl.col("team_id")).iter_rows():
            keep = tuple(sorted(set(ids) & set(f.teams))) if f.teams else tuple(sorted(ids))
            if holder not in got:
                continue
            if not keep:
                assert got[holder]["complaints_per_10k"] is None
                continue
            want = compute("complaint_rate", st, replace(f, teams=keep)).row(0, named=True)
            assert got[holder]["complaints_per_10k"] == want["value"], (f, holder)
            assert got[holder]["regulator_12378"] == want["regulator_12378"], (f, holder)
            compared += 1
    assert compared >= 6


def test_scorecard_money_is_summed_to_the_cent(fresh_source, tmp_path):  # noqa: ANN001
    """An agency's collected, placed balance and liquidation sum its placement months' yuan: ¥0.70 collected on
    February's placement and ¥0.10 on March's are ¥0.80 — not the 0.7999999999999999 of adding the two floats
    (nor another last bit in another row order)."""
    teams = [*TEAMS, {"team_id": "TC", "team_name": "Gamma 1", "site": "SH", "channel": "agency",
                      "agency_name": "Gamma", "lead_agent_id": None}]
    agents = [*AGENTS, {"agent_id": "z1", "agent_name": "z1", "team_id": "TC", "hired_on": D(2024, 1, 1),
                        "left_on": None}]
    held = {5: {1: "a1", 2: "z1", 3: "z1", 4: "z1"}, 6: {1: "a1", 2: "a1", 3: "z1", 4: "z1"}}
    snaps = [{"snapshot_on": ENDS[m], "case_id": c, "dpd": 100, "balance": Decimal("500.10"), "agent_id": a}
             for c, months in held.items() for m, a in months.items()]
    pays = [{"payment_id": 100 + c, "case_id": c, "agent_id": "z1", "paid_at": at, "amount": Decimal(y),
             "method": "app"} for c, at, y in ((5, T(2026, 3, 10, 10), "0.70"), (6, T(2026, 4, 10, 10), "0.10"))]
    build_rows(fresh_source, {**ROWS, "teams": teams, "agents": agents,
                              "cases": [*CASES, _case(5, "z1"), _case(6, "z1")],
                              "balance_snapshots": SNAPSHOTS + snaps, "payments": PAYMENTS + pays},
               ("targets", "agency_fees"))
    run_sync(fresh_source, tmp_path / "store", full=True)
    st = Store.open(tmp_path / "store")
    got = {r["holder"]: r for r in compute("agency_score", st, Filters(D(2026, 1, 1), D(2026, 5, 20))).iter_rows(
        named=True)}["Gamma"]
    assert got["placed"] == 2 and got["collected"] == 0.8 and got["placed_balance"] == 1000.2
    assert got["per_100"] == 0.8 / 1000.2 * 100


def test_scorecard_weights_on_the_handmade_agencies(vintage_store):
    """Alpha: liquidation at 3 months not mature (null → 0), recall 1/3; Beta: none mature, recall 0. Without
    worked cases neither has a complaint rate (0), without contacts no breach rate (0), and with the team columns
    empty neither agency is whitelisted (standing 0). Recall: Beta best (10%), Alpha worst (0) → Beta 0.1, Alpha 0."""
    st = vintage_store
    got = {r["holder"]: r for r in compute("agency_score", st, Filters(D(2026, 1, 1), D(2026, 5, 20)))
           .iter_rows(named=True)}
    assert set(got) == {"Alpha", "Beta"}  # agencies only; T1 is in-house
    assert got["Alpha"]["recall_rate"] == pytest.approx(1 / 3) and got["Beta"]["recall_rate"] == 0
    assert got["Alpha"]["transfer_rate"] == pytest.approx(1 / 3)
    assert got["Alpha"]["per_100"] == pytest.approx(400 / 6000 * 100)
    assert got["Beta"]["per_100"] == pytest.approx(850 / 3400 * 100)
    assert got["Beta"]["value"] == pytest.approx(0.1) and got["Alpha"]["value"] == pytest.approx(0.0)
    assert (got["Beta"]["rank"], got["Alpha"]["rank"]) == (1, 2)
    assert got["Alpha"]["status_ok"] == got["Beta"]["status_ok"] == 0.0


# Alpha (x1) calls case 4 and Beta (y1) case 2 twice a day on 6–10 April, unanswered; two of Alpha's ten calls
# are at 22:30 (quiet hours). Both are whitelisted; Alpha was evaluated in January, Beta's last evaluation is from
# December 2024 (overdue on 20 May 2026).
CALLS = [{"contact_id": 1 + 100 * (c == 2) + i, "case_id": c, "agent_id": a, "contacted_at": T(2026, 4, 6 + i // 2, h, m),
          "channel": "call", "party": "none", "outcome": "no_answer", "duration_s": 0, "phone_no": "13800000000",
          "debtor_consent_after_hours": False}
         for c, a in ((4, "x1"), (2, "y1")) for i in range(10)
         for h, m in [((22, 30) if (c == 4 and i < 2) else ((10, 0) if i % 2 == 0 else (14, 0)))]]
STANDING = {"TA": (D(2020, 1, 1), D(2026, 1, 10)), "TB": (D(2020, 1, 1), D(2024, 12, 1))}
# The debtor of case 4 complains about Alpha's late calls on 8 April (resolved on the 15th).
COMPLAINT = [{"complaint_id": 1, "case_id": 4, "agent_id": "x1", "received_at": T(2026, 4, 8, 9), "source": "hotline",
              "category": "after_hours_contact", "severity": "medium", "status": "resolved",
              "resolved_at": T(2026, 4, 15, 9), "substantiated": True, "updated_at": T(2026, 4, 15, 9)}]


def test_scorecard_counts_breaches_and_standing(fresh_source, tmp_path):  # noqa: ANN001
    """Breaches per 1,000 attempts: Alpha 2 of 10 → 200, Beta 0 → Beta gets the 25%; complaints per 10,000 worked
    cases: Alpha 1 of 1 case → 10,000, Beta 0 → Beta gets the 20%; recall: Beta 10%; standing: Alpha whitelisted and
    evaluated within the year → 10%, Beta's evaluation overdue → 0 (as it is, not scaled). Alpha 0.1, Beta 0.1 + 0.2 +
    0.25 = 0.55."""
    teams = [{**t, "whitelisted_on": STANDING.get(t["team_id"], (None, None))[0],
              "evaluated_on": STANDING.get(t["team_id"], (None, None))[1]} for t in TEAMS]
    build_rows(fresh_source, {**ROWS, "teams": teams, "contacts": CALLS, "complaints": COMPLAINT},
               ("targets", "agency_fees"))
    run_sync(fresh_source, tmp_path / "store", full=True)
    st = Store.open(tmp_path / "store")
    got = {r["holder"]: r for r in compute("agency_score", st, Filters(D(2026, 1, 1), D(2026, 5, 20)))
           .iter_rows(named=True)}
    a, b = got["Alpha"], got["Beta"]
    assert (a["breaches_per_1k"], b["breaches_per_1k"]) == (pytest.approx(200.0), 0.0)
    assert (a["complaints_per_10k"], b["complaints_per_10k"]) == (10_000.0, 0.0)
    assert (a["status_ok"], b["status_ok"]) == (1.0, 0.0)
    assert a["value"] == pytest.approx(0.1) and b["value"] == pytest.approx(0.55)
    assert (b["rank"], a["rank"]) == (1, 2)
    # the same figures as the compliance metrics give for each agency's team
    per_team = compute("breaches", st, Filters(D(2026, 1, 1), D(2026, 5, 20)), ("team_id",))
    assert dict(zip(per_team["team_id"], per_team["value"], strict=True)) == {"TA": 200.0, "TB": 0.0}


def test_commission_and_net_recovery_with_rate_changes(fees_store):
    """Alpha's Feb vintage while held: 5 Mar 100 × 10% + 20 Mar 100 × 10% + 3 Apr 200 × 20% = 60 on 400 collected,
    net 340 on ¥6,000 placed. Beta's Mar vintage: 10 Apr 300 before its first rate (0) + 15 Apr 500 × 15% + 5 May
    50 × 30% (the 1.5 of 2 May is ignored) = 90 on 850, net 760 on ¥3,400."""
    st = fees_store
    assert has_fees(st)
    got = {r["holder"]: r for r in compute("agency_score", st, Filters(D(2026, 1, 1), D(2026, 5, 20)))
           .iter_rows(named=True)}
    a, b = got["Alpha"], got["Beta"]
    assert (a["collected"], a["commission"], a["net_recovery"]) == (400.0, 60.0, 340.0)
    assert (b["collected"], b["commission"], b["net_recovery"]) == (850.0, 90.0, 760.0)
    assert a["net_per_100"] == pytest.approx(340 / 6000 * 100) and b["net_per_100"] == pytest.approx(760 / 3400 * 100)
    assert a["per_100"] == pytest.approx(400 / 6000 * 100)  # the score's parts are unchanged by the fees
    assert got["Beta"]["value"] == pytest.approx(0.1) and got["Alpha"]["value"] == pytest.approx(0.0)
    only_beta = compute("agency_score", st, Filters(D(2026, 1, 1), D(2026, 5, 20), teams=("TB",)))
    assert only_beta.get_column("commission").to_list() == [90.0]


def test_commission_is_summed_exactly_and_rounded_half_up(fresh_source, tmp_path):  # noqa: ANN001
    """Thirty payments of ¥0.01 to Beta on 20 Apr at its 15%: 30 × 0.15 fen = 4.5 fen, so Beta's commission is
    9,000 + 4.5 = 9,004.5 fen, exactly half a fen: ¥90.05 half up (四舍五入), on ¥850.30 collected, net ¥760.25.
    Summed as floats the 4.5 comes out a hair under (0.15 has no exact binary form) or, rounded half to even, as
    ¥90.04 either way."""
    extra = [{"payment_id": 100 + i, "case_id": 3, "agent_id": "y1", "paid_at": T(2026, 4, 20, 9, i),
              "amount": Decimal("0.01"), "method": "app"} for i in range(30)]
    build_rows(fresh_source, {**ROWS, "payments": PAYMENTS + extra, "agency_fees": FEES}, ("targets",))
    run_sync(fresh_source, tmp_path / "store", full=True)
    got = {r["holder"]: r for r in compute("agency_score", Store.open(tmp_path / "store"),
                                             Filters(D(2026, 1, 1), D(2026, 5, 20))).iter_rows(named=True)}
    b = got["Beta"]
    assert (b["collected"], b["commission"], b["net_recovery"]) == (850.3, 90.05, 760.25)
    assert got["Alpha"]["commission"] == 60.0


def test_commission_rounds_halves_away_from_zero():
    """The rounding rule alone, in 1/10,000 fen: 4.5 fen → 5, 4.4999 → 4, −4.5 → −5 (not −4, as flooring after
    adding half would give), −4.4999 → −4, 0 → 0; and 1.5 → 2, 2.5 → 3 (not half to even)."""
    from queries.metrics.agency import fee_cents

    units = pl.Series("u", [45_000, 44_999, -45_000, -44_999, 0, 15_000, 25_000], dtype=pl.Int64)
    got = pl.select(fee_cents(pl.lit(units))).to_series().to_list()
    assert got == [5, 4, -5, -4, 0, 2, 3]


def test_without_agency_fees_the_scorecard_is_as_before(vintage_store):
    st = vintage_store
    assert not has_fees(st) and not st.has("agency_fees")
    got = compute("agency_score", st, Filters(D(2026, 1, 1), D(2026, 5, 20)))
    assert got.get_column("collected").to_list() == [850.0, 400.0]
    for col in ("commission", "net_recovery", "net_per_100"):
        assert got.get_column(col).null_count() == got.height


def test_doctor_reports_agency_fees(fees_store, fresh_source):  # noqa: ANN001
    got = {f.where: (f.level, f.message) for f in check(sa.create_engine(fresh_source))}
    assert got["agency_fees.rate"][0] == WARNING
    assert "1 row with rates below 0 or above 1" in got["agency_fees.rate"][1] and "'TB'" in got["agency_fees.rate"][1]
    assert "'1.5" in got["agency_fees.rate"][1]
    assert got["agency_fees.team_id"][0] == WARNING and "'TX'" in got["agency_fees.team_id"][1]
    assert "agency_fees" not in got  # present: no "optional table missing"


def test_doctor_names_duplicate_fee_days_and_a_missing_table(tmp_path):  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'dup.sqlite'}"
    build_rows(url, ROWS, ("targets", "agency_fees"))
    got = {f.where: (f.level, f.message) for f in check(sa.create_engine(url))}
    assert got["agency_fees"] == (WARNING, "optional table missing: the agency page shows no commission cost or net "
                                           "recovery")
    eng = sa.create_engine(url)
    with eng.begin() as conn:  # a view-like table without the key: two rates for TA on one day
        conn.exec_driver_sql("CREATE TABLE agency_fees (team_id TEXT, effective_from DATE, rate NUMERIC)")
        conn.exec_driver_sql("INSERT INTO agency_fees VALUES ('TA', '2026-01-01', 0.1), ('TA', '2026-01-01', 0.2)")
    got = {f.where: (f.level, f.message) for f in check(eng)}
    assert got["agency_fees.effective_from"][0] == WARNING
    assert got["agency_fees.effective_from"][1].startswith("2 rows with two rates for one team from the same day")
    assert "'TA'" in got["agency_fees.effective_from"][1]


def plain_commission(url: str, as_of: dt.date) -> dict:
    """Agency → commission in cents, row by row in decimals: each payment in a month after a placement month while
    the agency still held the case at the previous month-end, × the placing team's latest rate (0–1) on or before its
    day, summed exactly and rounded to the cent half up."""
    teams, team_of, ends, pays, fees = _raw(url)

    rate_rows = [(f.team_id, _day(f.effective_from), Decimal(str(f.rate))) for f in fees if 0 <= f.rate <= 1]
    held: dict[int, dict[int, tuple]] = defaultdict(dict)  # case → month → (agency or None, team)
    for case, months in ends.items():
        for m, sn in months.items():
            t = team_of.get(sn.agent_id)
            ch, name = teams.get(t, (None, None))
            held[case][m] = ((name or t) if ch == "agency" else None, t)
    first = min(m for months in ends.values() for m in months)
    start_team: dict[tuple[int, int], str] = {}  # (case, month) → the team that placed the holding
    for case, months in held.items():
        for m in sorted(months):
            h, t = months[m]
            prev = months.get(m - 1)
            start_team[(case, m)] = start_team[(case, m - 1)] if prev and prev[0] == h and h else t
    out: dict[str, Decimal] = defaultdict(Decimal)
    for p in pays:
        d = _day(p.paid_at)
        h, _t = held.get(p.case_id, {}).get(_mi(d) - 1, (None, None))
        if h is None:
            continue
        m0 = _mi(d) - 1  # the holding at the previous month-end: find its placement month
        while held[p.case_id].get(m0 - 1, (None,))[0] == h:
            m0 -= 1
        if m0 == first:
            continue  # held since the first snapshot month: not a placement
        team = start_team[(p.case_id, m0)]
        r = max([(e, x) for t, e, x in rate_rows if t == team and e <= d], default=(None, Decimal(0)))[1]
        out[h] += Decimal(str(p.amount)) * 100 * r
    return {h: int(fen.quantize(Decimal(1), ROUND_HALF_UP)) for h, fen in out.items()}


def test_commission_equals_a_row_by_row_count(shared_small_source, shared_small_store):  # noqa: ANN001
    st = Store.open(shared_small_store)
    assert has_fees(st)
    got = compute("agency_score", st, Filters(D(2000, 1, 1), st.as_of))
    want = plain_commission(shared_small_source, st.as_of)
    assert got.height == len(want) >= 1 and sum(want.values()) > 0
    for r in got.iter_rows(named=True):
        assert round(r["commission"] * 100) == want[r["holder"]], r["holder"]
        assert r["net_recovery"] == pytest.approx(r["collected"] - r["commission"], abs=0.011)


def test_drill_to_the_placed_cases_matches_the_vintage(vintage_store, fresh_source):  # noqa: ANN001
    """The cases behind a vintage point: Alpha's Feb placements (cases 1, 2, 4) with their payments while held
    through month 2 (400, the point's numerator); Beta's Mar (2, 3) through month 2 (850); the period's placements
    of Alpha (its scorecard row); nothing in the first snapshot month; team filters select the placing team."""
    from queries.views.drilldown import list_cases

    eng = sa.create_engine(fresh_source)
    period = Filters(D(2026, 1, 1), D(2026, 5, 20))
    got = list_cases(eng, period, event="agency_placements", holder="Alpha", month=D(2026, 2, 1), months_since=2)
    figure = cells(compute("agency_liquidation", vintage_store, period))
    assert got.total == figure[("Alpha", D(2026, 2, 1), 2)]["placed"] == 3
    assert sorted(got.rows.get_column("case_id").to_list()) == [1, 2, 4]
    assert got.amount == figure[("Alpha", D(2026, 2, 1), 2)]["numerator"] == 400.0 and got.events == 3
    one = list_cases(eng, period, event="agency_placements", holder="Alpha", month=D(2026, 2, 1), months_since=1)
    assert (one.total, one.amount) == (3, 200.0)
    beta = list_cases(eng, period, event="agency_placements", holder="Beta", month=D(2026, 3, 1), months_since=2)
    assert (beta.total, beta.amount) == (2, 850.0)
    score = {r["holder"]: r for r in compute("agency_score", vintage_store, period).iter_rows(named=True)}
    whole = list_cases(eng, period, event="agency_placements", holder="Alpha")
    assert whole.total == score["Alpha"]["placed"] == 3 and whole.amount == score["Alpha"]["collected"] == 400.0
    assert list_cases(eng, period, event="agency_placements", holder="T1", month=D(2026, 1, 1)).total == 0
    t1 = list_cases(eng, period, event="agency_placements", holder="T1", month=D(2026, 4, 1))
    assert (t1.total, t1.amount) == (1, 70.01)
    assert list_cases(eng, Filters(D(2026, 1, 1), D(2026, 5, 20), teams=("TB",)), event="agency_placements",
                      holder="Alpha").total == 0
    eng.dispose()
