"""The sync's agency rollup (queries.sync.agency) and the drill-down that reads it, on SQLite, PostgreSQL and
MariaDB: an incremental sync after a new day of payments and after a new month-end snapshot leaves the same cells
as a full sync of the same source; the store's case lists equal the figures and the source-based lists.

The hand-made histories are tests/metrics/test_agency.py's, with one more case placed with Alpha twice:

  case 5  Jan T1 · Feb Alpha (800) · Mar T1 · Apr Alpha (700)     paid 10 Mar 30 (Alpha held it at the end of
                                                                   Feb), 3 May 40 (held again at the end of Apr)

Alpha's Feb vintage: cases 1, 2, 4, 5 (¥6,800), paid through month 3: 400 + 30 = 430 (the May payment belongs to
the April placement). Alpha's row: 5 placements of 4 cases, collected 430 + 40 = 470; its case list holds each
case once (4), with the payments of both of case 5's placements (70).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from fixtures_store import build_rows, insert_rows
from test_agency import (
    AGENTS,
    CASES,
    FEES,
    PAYMENTS,
    SNAPSHOTS,
    TEAMS,
    D,
    T,
    _case,
    cells,
)

from queries.filters import Filters
from queries.metrics.registry import compute
from queries.source import contract as S
from queries.store import Store, current_version
from queries.sync import agency, run_sync
from queries.views.drilldown import iter_cases, list_cases

PERIOD = Filters(D(2026, 1, 1), D(2026, 5, 20))
CASE5 = [{"snapshot_on": e, "case_id": 5, "dpd": 90, "balance": Decimal(b), "agent_id": a}
         for e, a, b in ((D(2026, 1, 31), "a1", 800), (D(2026, 2, 28), "x1", 800), (D(2026, 3, 31), "a1", 770),
                         (D(2026, 4, 30), "x1", 700))]
PAY5 = [{"payment_id": 100 + i, "case_id": 5, "agent_id": a, "paid_at": at, "amount": Decimal(y), "method": "app"}
        for i, (a, at, y) in enumerate([("x1", T(2026, 3, 10, 9), "30"), ("x1", T(2026, 5, 3, 9), "40")])]
ROWS = {"teams": TEAMS, "agents": AGENTS, "cases": [*CASES, _case(5, "x1")], "balance_snapshots": SNAPSHOTS + CASE5,
        "payments": PAYMENTS + PAY5, "agency_fees": FEES}
ROLLUP = {"agency_cells": ["holder", "team_id", "bucket", "start", "months_since"],
          "agency_placements": ["holder", "start", "case_id"], "agency_case_paid": ["holder", "start", "case_id",
                                                                                     "months_since"]}


def _tables(store: Store) -> dict[str, pl.DataFrame]:
    return {name: store.scan(name).collect().sort(keys) for name, keys in ROLLUP.items()}


def _assert_same(a: Store, b: Store) -> None:
    for name, df in _tables(a).items():
        other = _tables(b)[name]
        assert df.equals(other), (name, df, other)
    for key in ("agency_liquidation", "agency_score"):
        assert compute(key, a, PERIOD).equals(compute(key, b, PERIOD)), key


def _placements_file(store_dir: Path) -> Path:
    return current_version(store_dir) / "agency_placements.parquet"  # type: ignore[operator]


def _paid_files(store_dir: Path) -> dict[str, int]:
    """The payment-month files of agency_case_paid and their inodes."""
    return {f.name: f.stat().st_ino for f in (current_version(store_dir) / "agency_case_paid").glob("20*.parquet")}  # type: ignore[operator]


def test_incremental_syncs_leave_the_full_syncs_cells(fresh_source, tmp_path):
    """Synced to 30 Apr without April's month-end; then 2 May's payments (a new day); then the April month-end
    and the rest of May (a new snapshot): after each step the incremental store equals a full sync's."""
    april = D(2026, 4, 30)
    early = {**ROWS, "balance_snapshots": [r for r in ROWS["balance_snapshots"] if r["snapshot_on"] < april],
             "payments": [p for p in ROWS["payments"] if p["paid_at"] < T(2026, 5, 1)]}
    build_rows(fresh_source, early, ("targets",))
    inc = tmp_path / "inc"
    run_sync(fresh_source, inc, full=True)
    later = [{**p, "payment_id": 1000 + i} for i, p in enumerate(sorted(  # new rows: higher ids, in time order
        (p for p in ROWS["payments"] if p["paid_at"] >= T(2026, 5, 1)), key=lambda p: p["paid_at"]))]
    may2 = [p for p in later if p["paid_at"] < T(2026, 5, 3)]
    rest = [p for p in later if p not in may2]
    for step, (table, rows) in enumerate(((S.payments, may2), (S.balance_snapshots, [
            r for r in ROWS["balance_snapshots"] if r["snapshot_on"] == april]), (S.payments, rest))):
        insert_rows(fresh_source, table, rows)
        before, paid_before = _placements_file(inc).stat().st_ino, _paid_files(inc)
        assert not run_sync(fresh_source, inc).full
        # a new day of payments keeps the placements as they were (the file itself); a new month-end rebuilds them
        assert (_placements_file(inc).stat().st_ino == before) == (table is S.payments), step
        if table is S.payments:  # and the payments while held of the months before May's (their files)
            kept = {n for n in paid_before if n < "2026-05"}
            assert kept and all(_paid_files(inc)[n] == paid_before[n] for n in kept), (step, kept)
        run_sync(fresh_source, tmp_path / f"full{step}", full=True)
        _assert_same(Store.open(inc), Store.open(tmp_path / f"full{step}"))
    got = cells(compute("agency_liquidation", Store.open(inc), PERIOD))
    assert got[("Alpha", D(2026, 2, 1), 3)]["numerator"] == 430.0 and got[("Alpha", D(2026, 4, 1), 1)]["numerator"] == 40


@pytest.fixture
def twice_store(fresh_source, tmp_path) -> tuple[str, Store]:
    build_rows(fresh_source, ROWS, ("targets",))
    run_sync(fresh_source, tmp_path / "store", full=True)
    return fresh_source, Store.open(tmp_path / "store")


def test_the_store_list_equals_the_figures_a_case_placed_twice_once(twice_store):
    url, store = twice_store
    eng = sa.create_engine(url)
    score = {r["holder"]: r for r in compute("agency_score", store, PERIOD).iter_rows(named=True)}
    row = list_cases(eng, PERIOD, event="agency_placements", holder="Alpha", store=store)
    assert score["Alpha"]["placed"] == 5 and row.total == 4  # five placements, four cases: each listed once
    assert row.amount == score["Alpha"]["collected"] == 470.0 and row.events == 5
    assert row.rows.get_column("case_id").to_list() == [1, 2, 5, 4]  # largest amount first: 300, 100, 70, 0
    assert dict(zip(row.rows["case_id"], row.rows["amount"], strict=True))[5] == 70.0
    figure = cells(compute("agency_liquidation", store, PERIOD))
    for month, since in ((D(2026, 2, 1), 1), (D(2026, 2, 1), 3), (D(2026, 3, 1), 2), (D(2026, 4, 1), 1)):
        holder = "Beta" if month == D(2026, 3, 1) else "Alpha"
        point = list_cases(eng, PERIOD, event="agency_placements", holder=holder, month=month, months_since=since,
                           store=store)
        cell = figure[(holder, month, since)]
        assert (point.total, point.amount) == (cell["placed"], cell["numerator"]), (holder, month, since)
    assert list_cases(eng, Filters(D(2026, 1, 1), D(2026, 5, 20), teams=("TB",)), event="agency_placements",
                      holder="Alpha", store=store).total == 0
    assert list_cases(eng, PERIOD, event="agency_placements", holder="T1", month=D(2026, 1, 1), store=store).total == 0
    pages = [list_cases(eng, PERIOD, event="agency_placements", holder="Alpha", page=p, page_size=3, store=store)
             for p in (1, 2)]
    assert [r for p in pages for r in p.rows.get_column("case_id")] == [1, 2, 5, 4]
    exported = pl.concat(list(iter_cases(eng, PERIOD, event="agency_placements", holder="Alpha", batch=3,
                                         store=store)))
    assert exported.get_column("case_id").to_list() == [1, 2, 5, 4]
    assert exported.get_column("customer_name").to_list()[0] != "张三"  # masked as the source list is
    eng.dispose()


def _listed(pages: list) -> dict[int, tuple[int, float]]:
    return {r["case_id"]: (r["events"], r["amount"]) for p in pages for r in p.iter_rows(named=True)}


def test_the_store_lists_equal_the_source_lists_on_a_generated_database(shared_small_source, shared_small_store):
    """Every holder's placements of every month, through one month and to date, and every holder's period: the
    same cases, payments and order from the store as from the source's snapshots — except that the store counts a
    payment for the one placement that held the case (the source list, for a case that left and came back, also
    for its earlier placement), which the row-by-row check of test_agency pins as the figures'."""
    store = Store.open(shared_small_store)
    eng = sa.create_engine(shared_small_source)
    period = Filters(D(2026, 1, 1), store.as_of)
    placements = store.scan("agency_placements").collect()
    twice = placements.filter(pl.len().over("case_id", "holder") > 1).get_column("case_id").unique().to_list()
    compared = 0
    for holder in placements.get_column("holder").drop_nulls().unique().to_list():
        for month in [*sorted(set(placements.filter(pl.col("holder") == holder)["start"])), None]:
            for since in (1, None):
                kw = {"holder": holder, "month": month, "months_since": since}
                a = list(iter_cases(eng, period, event="agency_placements", store=store, **kw))
                b = list(iter_cases(eng, period, event="agency_placements", **kw))
                fast, slow = _listed(a), _listed(b)
                assert set(fast) == set(slow), kw
                assert {k: v for k, v in fast.items() if k not in twice} == \
                    {k: v for k, v in slow.items() if k not in twice}, kw
                if since == 1:
                    assert fast == slow, kw
                compared += len(fast)
                page = list_cases(eng, period, event="agency_placements", store=store, page_size=20, **kw)
                assert page.total == len(fast) and page.amount == pytest.approx(sum(v[1] for v in fast.values()))
    assert compared > 1000
    eng.dispose()


def test_a_full_sync_makes_the_holdings_a_range_of_cases_at_a_time(fresh_source, tmp_path, monkeypatch):
    """The month-end snapshots of all cases are not held at once (at 5× bank scale ~18M rows): a full sync makes
    the holdings and payments while held a range of cases at a time, each range only its own cases, and leaves
    the same tables as one pass over all cases (case 5, placed twice, and its neighbours fall in other ranges)."""
    build_rows(fresh_source, ROWS, ("targets",))
    run_sync(fresh_source, tmp_path / "whole", full=True)
    calls = []
    real = agency.segments

    def spy(path, dates, who, bounds_expr, cases=None):  # noqa: ANN001, ANN202
        out = real(path, dates, who, bounds_expr, cases)
        calls.append((cases, set(out.get_column("case_id"))))
        return out

    monkeypatch.setattr(agency, "CHUNK_SNAPSHOT_ROWS", 4)
    monkeypatch.setattr(agency, "segments", spy)
    run_sync(fresh_source, tmp_path / "ranged", full=True)
    assert len(calls) >= 3, calls
    for cases, ids in calls:
        assert cases is not None and all(cases[0] <= i <= cases[1] for i in ids), (cases, ids)
    assert set().union(*(ids for _, ids in calls)) == {1, 2, 3, 4, 5}
    _assert_same(Store.open(tmp_path / "ranged"), Store.open(tmp_path / "whole"))


def test_ranges_of_cases_cover_every_case_id_once(shared_small_store):
    """The ranges split the sorted case ids into contiguous, disjoint intervals that cover every id (and ids the
    cases table lacks, which a snapshot may hold)."""
    version = current_version(shared_small_store)
    store = Store.open(shared_small_store)
    ids = store.scan("base/cases").select("case_id").collect().get_column("case_id").sort()
    dates = sorted(D.fromisoformat(f.stem) for f in (version / "base" / "snapshots").glob("*.parquet"))
    ranges = agency.case_ranges(version, dates, ids, rows=1_000)
    assert len(ranges) > 3 and ranges[0][0] == -(2 ** 63) and ranges[-1][1] == 2 ** 63 - 1
    assert all(a[1] + 1 == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert sum(ids.is_between(lo, hi).sum() for lo, hi in ranges) == ids.len()
    assert agency.case_ranges(version, dates, ids, rows=10 ** 9) == [None]


def test_a_new_day_reads_only_the_placements_its_months_can_concern(tmp_path):
    """held_in: of the placements, those placed before May whose last month-end is April or later (held at the
    end of April, so paid while held in May, or moved in May); placements that ended earlier or start in May are
    not read for May's payments."""
    rows = [  # case, start, last
        (1, D(2026, 2, 1), D(2026, 3, 1)),  # left after March: moved in April, nothing in May
        (2, D(2026, 2, 1), D(2026, 4, 1)),  # last held at the end of April: moved in May
        (3, D(2026, 3, 1), D(2026, 5, 1)),  # held through May
        (4, D(2026, 5, 1), D(2026, 5, 1)),  # placed at the end of May: paid while held from June
        (5, D(2026, 4, 1), D(2026, 4, 1)),  # placed at the end of April, held one month-end
    ]
    df = pl.DataFrame({"case_id": [r[0] for r in rows], "holder": "Alpha", "kind": "agency", "team_id": "T9",
                       "bucket": "M1", "start": [r[1] for r in rows], "cents": 100,
                       "last": [r[2] for r in rows], "next_kind": None}, schema=agency.PLACEMENTS)
    df.write_parquet(tmp_path / "p.parquet")
    assert agency.held_in(tmp_path / "p.parquet", {D(2026, 5, 1)}).get_column("case_id").to_list() == [2, 3, 5]
    assert agency.held_in(tmp_path / "p.parquet", {D(2026, 4, 1), D(2026, 5, 1)}) \
        .get_column("case_id").to_list() == [1, 2, 3, 5]
