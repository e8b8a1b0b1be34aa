"""Distinct-case counts from the store's case sets (roaring bitmaps) equal a plain distinct count over the raw
tables, for random periods, filters and breakdowns, on SQLite, PostgreSQL and MariaDB.

The store is built in two steps, a full sync without the last days' events and an incremental sync after they
are put back, so the month files merged from a previous version are checked too. The oracle reads the raw
rows and applies docs/design.md §4 literally (it is test_metrics_property.Oracle, no code of queries.sync).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import polars as pl
import pytest
import sqlalchemy as sa
from fixtures_demo import AS_OF, small_source  # noqa: F401
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_metrics_property import Oracle, _day

from queries.buckets import DEFAULT_BUCKETS
from queries.dates import month_end
from queries.filters import Filters
from queries.metrics import distinct
from queries.metrics.distinct import distinct_cases
from queries.metrics.registry import compute
from queries.source import contract as S
from queries.source.engines import writable_engine
from queries.store import Store
from queries.store.casesets import MONTH_AGENT, NARROW_MAX, build, load
from queries.sync import run_sync

BYS = [(), ("day",), ("week",), ("month",), ("agent_id",), ("team_id",), ("channel",), ("bucket",), ("product",),
       ("region",), ("month", "agent_id"), ("team_id", "bucket"), ("week", "product", "region")]
LATE = dt.timedelta(days=4)  # the last days' events arrive in the second, incremental sync


@pytest.fixture(scope="module")
def world(small_source, tmp_path_factory):  # noqa: ANN001, ANN201, F811
    store_dir = tmp_path_factory.mktemp("casesets") / "store"
    cut = dt.datetime.combine(AS_OF - LATE, dt.time())
    eng = writable_engine(small_source)
    held = {}
    with eng.begin() as conn:
        for table, ts in ((S.payments, "paid_at"), (S.contacts, "contacted_at")):
            held[table.name] = [r._asdict() for r in conn.execute(sa.select(table).where(table.c[ts] >= cut))]
            conn.execute(table.delete().where(table.c[ts] >= cut))
    try:
        first = run_sync(small_source, store_dir, full=True)
    finally:
        with eng.begin() as conn:
            for table in (S.payments, S.contacts):
                conn.execute(table.insert(), held[table.name])
        eng.dispose()
    second = run_sync(small_source, store_dir)
    assert first.ok and second.ok and all(held.values())
    store = Store.open(store_dir)
    assert store.manifest.full is False and store.as_of == AS_OF
    o = Oracle(small_source)
    events = {
        "paying": [(p["case_id"], p["agent_id"], _day(p["paid_at"])) for p in o.rows["payments"]],
        "worked": [(c["case_id"], c["agent_id"], _day(c["contacted_at"])) for c in o.rows["contacts"]
                   if c["channel"] in ("call", "visit")],
    }
    return store, o, events


def _key(o: Oracle, by: tuple[str, ...], case_id: int, agent: str | None, day: dt.date) -> tuple:
    team = o.team.get(agent)
    case = o.cases[case_id]
    values = {"day": day, "week": day - dt.timedelta(days=day.weekday()), "month": day.replace(day=1),
              "agent_id": agent, "team_id": team, "channel": o.channel.get(team),
              "bucket": o.bucket(case_id, day), "product": case["product"], "region": case["region"]}
    return tuple(values[d] for d in by)


@st.composite
def requests(draw, o: Oracle) -> tuple[Filters, tuple[str, ...]]:  # noqa: ANN001
    first = AS_OF.replace(day=1) - dt.timedelta(days=400)
    a = first + dt.timedelta(days=draw(st.integers(0, 420)))
    b = a + dt.timedelta(days=draw(st.integers(0, 400)))
    if draw(st.booleans()):  # whole months: read from the month sets
        a = a.replace(day=1)
        b = (b.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    sub = lambda xs: st.lists(st.sampled_from(sorted(xs)), max_size=2, unique=True).map(tuple)  # noqa: E731
    f = Filters(a, b, teams=draw(sub(set(o.team.values()))), agents=draw(sub(set(o.team))) if draw(
        st.integers(0, 4)) == 0 else (), buckets=draw(sub(DEFAULT_BUCKETS.labels)),
        products=draw(sub({c["product"] for c in o.cases.values()})),
        regions=draw(sub({c["region"] for c in o.cases.values()})),
        channel=draw(st.sampled_from([None, "in_house", "agency"])))
    return f, draw(st.sampled_from(BYS))


def _check(world: tuple, f: Filters, by: tuple[str, ...]) -> None:
    """distinct_cases (and paying_accounts) equal the oracle's distinct count for one request."""
    store, o, events = world
    for family, rows in events.items():
        want: dict[tuple, set[int]] = defaultdict(set)
        for case_id, agent, day in rows:
            if o.passes(f, agent, case_id, day):
                want[_key(o, by, case_id, agent, day)].add(case_id)
        got = distinct_cases(store, family, f, by, "n")
        if by:
            assert {tuple(r[:-1]): r[-1] for r in got.iter_rows()} == {k: len(v) for k, v in want.items()}, family
        else:
            assert got.item() == len(want.get((), ())), family
    if by and not {"week"} & set(by):
        pays = defaultdict(set)
        for case_id, agent, day in events["paying"]:
            if o.passes(f, agent, case_id, day):
                pays[_key(o, by, case_id, agent, day)].add(case_id)
        got = compute("paying_accounts", store, f, by)
        assert {tuple(r[d] for d in by): r["numerator"] for r in got.iter_rows(named=True)} == \
            {k: len(v) for k, v in pays.items()}


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_distinct_cases_equal_raw_distinct_count(world, data):
    f, by = data.draw(requests(world[1]))
    _check(world, f, by)


#: Periods for each way a month is read: cut at the start and running to the as-of day (the custom leaderboard),
#: cut at both ends, one day, inside one month, a month cut at the end only, starting inside the month the
#: incremental sync merged (its sets come from the previous version's plus the new days), ending inside it.
MERGED = AS_OF - LATE + dt.timedelta(days=1)
PERIODS = {
    "from the 15th to as-of": ((AS_OF.replace(day=1) - dt.timedelta(days=365)).replace(day=15), AS_OF),
    "both ends cut": (dt.date(2025, 12, 10), dt.date(2026, 10, 20)),
    "one day": (dt.date(2026, 9, 17), dt.date(2026, 9, 17)),
    "inside one month": (dt.date(2026, 6, 5), dt.date(2026, 6, 24)),
    "end cut only": (dt.date(2026, 3, 1), dt.date(2026, 7, 9)),
    "start in the merged month": (MERGED - dt.timedelta(days=2), AS_OF),
    "end in the merged month": (dt.date(2026, 8, 1), MERGED),
    "after the data's last day": (AS_OF + dt.timedelta(days=1), month_end(AS_OF)),
}
#: Each kind of filter comes twice over the periods, each with another breakdown.
FILTERS = [{"products": ("P",)}, {"regions": ("R",)}, {"buckets": ("M1", "M2")}, {"agents": ("A",)},
           {"teams": ("T",)}]
BREAKDOWNS = [("agent_id",), ("month", "team_id"), ("product", "bucket"), (), ("day",)]


@pytest.mark.parametrize("period", PERIODS)
def test_every_way_a_month_is_read_is_exact(world, period):
    """Each edge case of the layout, unfiltered per agent, then with two kinds of filter and breakdowns."""
    o = world[1]
    values = {"P": min(c["product"] for c in o.cases.values()), "R": max(c["region"] for c in o.cases.values()),
              "A": sorted(o.team)[1], "T": min(o.team.values())}
    i = list(PERIODS).index(period)
    _check(world, Filters(*PERIODS[period]), ("agent_id",))
    for j in (2 * i, 2 * i + 1):
        kw = {k: tuple(values.get(x, x) for x in v) for k, v in FILTERS[j % len(FILTERS)].items()}
        _check(world, Filters(*PERIODS[period], **kw), BREAKDOWNS[(i + j) % len(BREAKDOWNS)])


def test_a_custom_period_reads_one_set_per_agent_and_month(world):
    """The custom-period leaderboard reads no day sets: the month cut at its start is one set per agent."""
    store = world[0]
    lo = PERIODS["from the 15th to as-of"][0]
    for family in ("paying", "worked"):
        m = lo.replace(day=1)
        sets = distinct._month(store, family, m)
        grain, cut = distinct._grain(store, m, lo, month_end(lo), ("agent_id",), True)
        groups = distinct._month_groups(sets, m, grain, cut, lo, month_end(lo), None, [], ["agent_id"], {})
        # one set per agent: as many groups as the grain's positions, each agent once
        assert len(groups) == len(sets.positions(grain)) > 0 and all(len(b) == 1 for b in groups.values())
        bitmaps = [b[0] for b in groups.values()]
        whole = sets.bitmaps_at(sets.positions(MONTH_AGENT))
        assert sum(len(b) for b in bitmaps) < sum(len(b) for b in whole)  # a part of the month, not all of it


def test_whole_months_united_per_group_are_kept_and_never_serve_another_filter(world):
    """A whole month's sets united per team (or agency, channel …) are kept for the next view over the same months;
    another team, channel or agent grouping over those months is never served from them: each equals the raw
    count, asked in an order where a key missing a filter would answer with the previous one's sets."""
    store, o, events = world
    months = (dt.date(2026, 3, 1), dt.date(2026, 8, 31))
    teams = sorted(set(o.team.values()))
    store.memo.pop(("memoised", "casesets_united"), None)
    store.memo.pop(("memoised", "casesets_months"), None)
    for f in (Filters(*months), Filters(*months, teams=(teams[0],)), Filters(*months, teams=(teams[1],)),
              Filters(*months, channel="agency"), Filters(months[0], months[1] - dt.timedelta(days=3)),
              Filters(months[0], months[1] - dt.timedelta(days=4), teams=(teams[0],)),
              Filters(months[0], months[1] - dt.timedelta(days=4)), Filters(*months), Filters(*months, buckets=("M1",))):
        for by in (("team_id",), ("channel",), ("month", "team_id"), ()):
            _check(world, f, by)
    assert len(store.memo[("memoised", "casesets_united")]) >= 6 * 4  # six months × the first filter's groupings
    # the whole months' unions per group, kept too: a new end day in August reuses March-July's
    assert len(store.memo[("memoised", "casesets_months")]) >= 4
    agents = sorted(o.team)
    for half in (agents[::2], agents[1::2]):  # two agent → group maps over the same months (agencies' teams)
        org = {a: ("G",) for a in half}
        got = distinct_cases(store, "worked", Filters(*months), ("team_id",), "n", org=org)
        want = {c for c, a, d in events["worked"] if a in org and months[0] <= d <= months[1]}
        assert got.rows() == [("G", float(len(want)))]


def test_a_cut_month_broken_down_by_case_makes_each_groups_bitmap_once(world, monkeypatch):
    """A month cut at one edge, broken down by product and bucket: each group's ids become a bitmap once, then
    intersected with every product × bucket (it was made again for each of them: 10× slower at 5×)."""
    from queries.store import casesets

    made = []
    bitmap = casesets.IdRun.bitmap
    monkeypatch.setattr(casesets.IdRun, "bitmap", lambda self: made.append(1) or bitmap(self))
    f = Filters(AS_OF.replace(day=1), AS_OF - dt.timedelta(days=1))
    for by in (("product", "bucket"), ("team_id", "product")):
        made.clear()
        _check(world, f, by)
        teams = len(set(world[1].team.values())) if "team_id" in by else 1
        # _check counts three times (each family, then paying_accounts): once per group each
        assert 0 < len(made) <= 3 * teams, (by, len(made))


def test_ids_beyond_32_bits_use_64_bit_sets():
    big = NARROW_MAX + 5
    df = pl.DataFrame({"k": ["a", "a", "b"], "case_id": [3, big, 3]})
    out = build(df, ["k"]).sort("k")
    assert out.get_column("wide").to_list() == [True, False]
    assert list(load(out["bm"][0], True)) == [3, big] and list(load(out["bm"][1], False)) == [3]


@pytest.mark.parametrize("span", [10_000, 2_000_000, NARROW_MAX + 10_000_000], ids=["dense", "sparse", "wide"])
def test_ids_in_any_order_make_the_set_of_the_ids_sorted(span: int) -> None:
    """A cut month's ids (day runs of each agent, concatenated) make the same set whether sorted first or not."""
    import numpy as np

    from queries.store.casesets import _unordered_bitmap

    rng = np.random.default_rng(span)
    ids = rng.choice(np.arange(span - 10_000, span, dtype=np.int64) if span > NARROW_MAX else span, 5_000,
                     replace=False)
    got = _unordered_bitmap(ids)
    assert list(got) == sorted(ids.tolist()) and len(got) == 5_000
    assert list(_unordered_bitmap(ids[:0])) == []


def _month_files(tmp_path, name: str, sets) -> bytes:  # noqa: ANN001
    from queries.store.casesets import index_file, write_month

    version = tmp_path / name
    write_month(version, "paying", dt.date(2026, 5, 1), sets)
    idx = index_file(version, "paying", dt.date(2026, 5, 1))
    return idx.read_bytes() + idx.with_suffix(".bin").read_bytes()


@pytest.mark.parametrize("big", [NARROW_MAX + 3, 1 << 41], ids=["33 bits", "42 bits"])
@pytest.mark.parametrize("new_days", [(11, 12), (10, 11)], ids=["new days", "a day read again"])
def test_a_month_merged_with_new_days_is_the_month_built_whole(tmp_path, new_days, big):  # noqa: ANN001
    """A month's sets made from the previous version's and the new days' rows are byte for byte those made from
    all its rows: when the new days follow the old ones (the fast path: old orderings extended) and when a day is
    read again (the merge of the pairs). Rows: cases seen again by the same and by another agent, new cases, a
    null agent, ids past 32 bits."""
    from queries.store.casesets import month_sets, open_month

    rnd = __import__("random").Random(5)
    agents = ["A1", "A2", "B1", None]
    rows = [(dt.date(2026, 5, d), rnd.choice([*range(1, 60), big]), rnd.choice(agents))
            for d in range(1, 13) for _ in range(25)]
    frame = pl.DataFrame(rows, schema={"day": pl.Date, "case_id": pl.Int64, "agent_id": pl.String},
                         orient="row").with_columns(pl.lit("M1").alias("bucket"), pl.lit("card").alias("product"),
                                                    (pl.col("case_id") % 3).cast(pl.String).alias("region"))
    days = {dt.date(2026, 5, d) for d in new_days}
    frame = frame.filter(pl.col("day") <= max(days))
    old = frame.filter(pl.col("day") <= dt.date(2026, 5, 10))  # the previous version: to the 10th
    whole = _month_files(tmp_path, "whole", month_sets(frame))
    _month_files(tmp_path, "prev", month_sets(old))
    prev = open_month(tmp_path / "prev", "paying", dt.date(2026, 5, 1))
    merged = month_sets(frame.filter(pl.col("day").is_in(list(days))), prev, days)
    assert _month_files(tmp_path, "merged", merged) == whole
