"""Store-based metrics equal a plain computation over the raw rows, for random filters (hypothesis).

The oracle below reads the raw tables of a small generated demo database row by row and applies
docs/design.md §4 literally (opening bucket from the previous month-end snapshot, placed_dpd for cases placed
in the month; team through the agent's current team); it shares no code with queries.sync/metrics.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import replace

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queries.buckets import DEFAULT_BUCKETS
from queries.filters import Filters
from queries.metrics.registry import compute
from queries.source import contract as S
from queries.store import Store
from queries.sync import run_sync

AS_OF = dt.date(2026, 6, 20)
NOT_CONNECTED = {"no_answer", "busy", "wrong_number"}
RPC = {"rpc", "ptp", "refused", "dispute", "hardship", "callback"}


def _cents(x) -> int:  # noqa: ANN001
    return int(round(float(x) * 100))


def _day(x) -> dt.date:  # noqa: ANN001
    if isinstance(x, str):
        return dt.date.fromisoformat(x[:10])
    return x.date() if isinstance(x, dt.datetime) else x


class Oracle:
    """Raw rows with each event's attributes worked out the slow, obvious way."""

    def __init__(self, url: str) -> None:
        eng = sa.create_engine(url)
        with eng.connect() as c:
            rows = {t.name: [r._asdict() for r in c.execute(sa.select(t))] for t in S.TABLES}
        eng.dispose()
        self.team = {a["agent_id"]: a["team_id"] for a in rows["agents"]}
        self.channel = {t["team_id"]: t["channel"] for t in rows["teams"]}
        self.cases = {c["case_id"]: c for c in rows["cases"]}
        self.snaps: dict[dt.date, dict[int, dict]] = defaultdict(dict)
        for s in rows["balance_snapshots"]:
            self.snaps[_day(s["snapshot_on"])][s["case_id"]] = s
        self.rows = rows
        self._prev: dict[dt.date, dict[int, dict]] = {}

    def prev_snap(self, month: dt.date) -> dict[int, dict]:
        if month not in self._prev:
            prev = (month - dt.timedelta(days=1)).replace(day=1)
            days = [d for d in self.snaps if prev <= d < month]
            self._prev[month] = self.snaps[max(days)] if days else {}
        return self._prev[month]

    def bucket(self, case_id: int, when: dt.date) -> str:
        m = when.replace(day=1)
        snap = self.prev_snap(m).get(case_id)
        dpd = snap["dpd"] if snap else self.cases[case_id]["placed_dpd"]
        return DEFAULT_BUCKETS.label(dpd)

    def on_opening(self, case_id: int, when: dt.date) -> bool:
        m = when.replace(day=1)
        snap = self.prev_snap(m).get(case_id)
        placed = _day(self.cases[case_id]["placed_on"]).replace(day=1) == m
        return bool(snap and _cents(snap["balance"]) > 0) or placed

    def passes(self, f: Filters, agent: str | None, case_id: int, when: dt.date, check_day: bool = True) -> bool:
        if check_day and not (f.start <= when <= f.end):
            return False
        if f.teams or f.agents or f.channel:
            if agent is None or agent not in self.team:
                return False
            team = self.team[agent]
            if (f.teams and team not in f.teams) or (f.agents and agent not in f.agents):
                return False
            if f.channel and self.channel.get(team) != f.channel:
                return False
        case = self.cases[case_id]
        if f.products and case["product"] not in f.products:
            return False
        if f.regions and case["region"] not in f.regions:
            return False
        return not (f.buckets and self.bucket(case_id, when) not in f.buckets)


@pytest.fixture(scope="module")
def world(tmp_path_factory):  # noqa: ANN201
    from queries.demo import Scale, build_demo_database

    tmp = tmp_path_factory.mktemp("prop")
    url = f"sqlite:///{tmp / 'small.sqlite'}"
    build_demo_database(url, Scale("small", cases=600, teams=4, agency_teams=1, agents=10, months=6),
                        seed=11, as_of=AS_OF)
    run_sync(url, tmp / "store", full=True)
    store = Store.open(tmp / "store")
    oracle = Oracle(url)
    for p in oracle.rows["payments"]:
        p["_day"] = _day(p["paid_at"])
    for c in oracle.rows["contacts"]:
        c["_day"] = _day(c["contacted_at"])
        c["_hour"] = (c["contacted_at"].hour if isinstance(c["contacted_at"], dt.datetime)
                      else int(str(c["contacted_at"])[11:13]))
    return store, oracle


@st.composite
def filters(draw, oracle: Oracle) -> Filters:  # noqa: ANN001
    first = AS_OF.replace(day=1) - dt.timedelta(days=150)
    a = first + dt.timedelta(days=draw(st.integers(0, 170)))
    b = a + dt.timedelta(days=draw(st.integers(0, 90)))
    if draw(st.booleans()):  # whole months: the metrics answer from the month-level rollups
        a = a.replace(day=1)
        b = (b.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    teams = sorted(set(oracle.team.values()))
    products = sorted({c["product"] for c in oracle.cases.values()})
    regions = sorted({c["region"] for c in oracle.cases.values()})
    sub = lambda xs: st.lists(st.sampled_from(xs), max_size=2, unique=True).map(tuple)  # noqa: E731
    return Filters(a, b, teams=draw(sub(teams)), buckets=draw(sub(list(DEFAULT_BUCKETS.labels))),
                   products=draw(sub(products)), regions=draw(sub(regions)),
                   channel=draw(st.sampled_from([None, "in_house", "agency"])))


SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))


def test_oracle_sees_data(world):
    store, oracle = world
    assert len(oracle.rows["contacts"]) > 1000 and store.reconciliation["ok"]


@SETTINGS
@given(data=st.data())
def test_collected_and_recovery_match_raw(world, data):
    store, o = world
    f = data.draw(filters(o))
    pays = [p for p in o.rows["payments"] if o.passes(f, p["agent_id"], p["case_id"], p["_day"])]
    got = compute("collected", store, f).row(0, named=True)
    assert round(got["numerator"] * 100) == sum(_cents(p["amount"]) for p in pays)
    by_team = {r["team_id"]: r["numerator"] for r in compute("collected", store, f, ("team_id",)).iter_rows(named=True)}
    want = Counter()
    for p in pays:
        want[o.team.get(p["agent_id"])] += _cents(p["amount"])
    assert {k: round(v * 100) for k, v in by_team.items()} == dict(want)
    # paying accounts: distinct cases with a payment, overall and per team (not additive)
    assert compute("paying_accounts", store, f).row(0, named=True)["numerator"] == len({p["case_id"] for p in pays})
    paying = defaultdict(set)
    for p in pays:
        paying[o.team.get(p["agent_id"])].add(p["case_id"])
    got = compute("paying_accounts", store, f, ("team_id",))
    assert {r["team_id"]: r["numerator"] for r in got.iter_rows(named=True)} == {k: len(v) for k, v in paying.items()}
    # recovery rate: payments on opening cases ÷ opening balance of the months touched
    num = sum(_cents(p["amount"]) for p in pays if o.on_opening(p["case_id"], p["_day"]))
    den = 0
    m = f.start.replace(day=1)
    while m <= f.end:
        for cid, s in o.prev_snap(m).items():
            if _cents(s["balance"]) > 0 and o.passes(f, s["agent_id"], cid, m, check_day=False):
                den += _cents(s["balance"])
        for cid, c in o.cases.items():
            if _day(c["placed_on"]).replace(day=1) == m and o.passes(f, c["agent_id"], cid, m, check_day=False):
                den += _cents(c["placed_balance"])
        m = (m + dt.timedelta(days=32)).replace(day=1)
    rr = compute("recovery_rate", store, f).row(0, named=True)
    assert (round(rr["numerator"] * 100), round(rr["denominator"] * 100)) == (num, den)


@SETTINGS
@given(data=st.data())
def test_contact_family_matches_raw(world, data):
    store, o = world
    f = data.draw(filters(o))
    att = [c for c in o.rows["contacts"] if c["channel"] in ("call", "visit")
           and o.passes(f, c["agent_id"], c["case_id"], c["_day"])]
    connected = sum(c["outcome"] not in NOT_CONNECTED for c in att)
    rpc = sum(c["party"] == "debtor" and c["outcome"] in RPC for c in att)
    ptp = sum(c["outcome"] == "ptp" for c in att)
    late = sum((c["_hour"] >= 22 or c["_hour"] < 8) and not c["debtor_consent_after_hours"] for c in att)
    for key, num in (("contact_rate", connected), ("rpc_rate", rpc), ("after_hours_rate", late)):
        r = compute(key, store, f).row(0, named=True)
        assert (r["numerator"], r["denominator"]) == (num, len(att)), key
    r = compute("ptp_rate", store, f).row(0, named=True)
    assert (r["numerator"], r["denominator"]) == (ptp, rpc)
    # complaint rate: complaints ÷ distinct worked cases
    comps = [c for c in o.rows["complaints"] if o.passes(f, c["agent_id"], c["case_id"], _day(c["received_at"]))]
    r = compute("complaint_rate", store, f).row(0, named=True)
    assert (r["numerator"], r["denominator"]) == (len(comps), len({c["case_id"] for c in att}))


@SETTINGS
@given(data=st.data())
def test_over_frequency_and_promises_match_raw(world, data):
    store, o = world
    f = data.draw(filters(o))
    calls: dict[tuple, list] = defaultdict(list)
    for c in o.rows["contacts"]:
        if c["channel"] == "call":
            calls[(c["case_id"], c["_day"])].append(c)
    num = den = 0
    for (cid, day), cs in calls.items():
        per_agent = Counter(c["agent_id"] for c in cs)
        agent = sorted(per_agent, key=lambda a: (-per_agent[a], a))[0]
        if not o.passes(f, agent, cid, day):
            continue
        den += 1
        unanswered = Counter(c["phone_no"] for c in cs if c["outcome"] in ("no_answer", "busy"))
        conn = sum(c["outcome"] not in NOT_CONNECTED for c in cs)
        num += (max(unanswered.values(), default=0) > 6) or conn > 3
    r = compute("over_frequency", store, f).row(0, named=True)
    assert (r["numerator"], r["denominator"]) == (num, den)
    proms = [p for p in o.rows["promises"] if f.start <= _day(p["due_on"]) <= f.end
             and o.passes(f, p["agent_id"], p["case_id"], _day(p["promised_at"]), check_day=False)]
    r = compute("ptp_kept_rate", store, f).row(0, named=True)
    assert r["numerator"] == sum(p["status"] == "kept" for p in proms)
    assert r["denominator"] == sum(p["status"] in ("kept", "partial", "broken") for p in proms)


@SETTINGS
@given(data=st.data())
def test_bucket_balance_matches_raw(world, data):
    store, o = world
    f = data.draw(filters(o))
    snap = data.draw(st.sampled_from(store.snapshots))
    want = Counter()
    for cid, s in o.snaps[snap].items():
        b = DEFAULT_BUCKETS.label(s["dpd"])
        if o.passes(replace(f, buckets=()), s["agent_id"], cid, snap, check_day=False) \
                and (not f.buckets or b in f.buckets):
            want[b] += _cents(s["balance"])
    got = compute("bucket_balance", store, f, ("bucket",), snapshot=snap)
    assert {r["bucket"]: round(r["numerator"] * 100) for r in got.iter_rows(named=True)} == \
        {k: v for k, v in want.items()}
