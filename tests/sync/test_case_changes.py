"""The stamped cases' comparison (queries.sync.cases._changes): the rows whose kept columns changed and the
placement months they touch, against the straightforward join of every kept column (what it replaced)."""

from __future__ import annotations

import datetime as dt
import importlib

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queries.sync.context import CASE_SCHEMA

cases_mod = importlib.import_module("queries.sync.cases")
PLACEMENT = cases_mod.PLACEMENT


def straightforward(prev: pl.DataFrame, new: pl.DataFrame) -> tuple[pl.DataFrame, set[dt.date]]:
    """Every kept column compared by a join (a null equals a null); the months of both sides of a moved case."""
    same = prev.join(new.select("case_id"), on="case_id", how="semi")
    changed = new.join(same, on=list(CASE_SCHEMA), how="anti", nulls_equal=True)
    moved = changed.join(same.select(PLACEMENT), on=PLACEMENT, how="anti", nulls_equal=True)
    old = same.join(moved.select("case_id"), on="case_id", how="semi")
    touched = {d and d.replace(day=1) for d in [*old.get_column("placed_on").to_list(),
                                                *moved.get_column("placed_on").to_list()]}
    return changed, touched


def _row(case_id: int, draw_value) -> dict:  # noqa: ANN001
    return {"case_id": case_id, "product": draw_value(["card", "loan", None]), "region": draw_value(["BJ", "SH"]),
            "placed_on": draw_value([dt.date(2026, 1, 31), dt.date(2026, 2, 1), None]),
            "placed_cents": draw_value([100, 250, None]), "placed_dpd": draw_value([0, 31]),
            "status": draw_value(["active", "closed", None]), "agent_id": draw_value(["A1", "A2", None])}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_changed_cases_are_those_of_a_join_on_every_kept_column(data) -> None:  # noqa: ANN001
    """Random previous and stamped rows (nulls in any column, cases new to the store, cases the night left alone,
    the previous file sorted or not): the same changed rows and the same touched months."""
    def value(options: list) -> object:
        return data.draw(st.sampled_from(options))

    ids = data.draw(st.lists(st.integers(-5, 40), unique=True, max_size=25))
    prev = pl.DataFrame([_row(i, value) for i in ids], schema=CASE_SCHEMA)
    if data.draw(st.booleans()):
        prev = prev.sort("case_id")
    stamped = data.draw(st.lists(st.integers(-5, 45), unique=True, max_size=25))
    old = {r["case_id"]: r for r in prev.iter_rows(named=True)}
    # most stamped rows are as they were (the nightly batch), some change a column, some are new
    rows = [old[i] if i in old and data.draw(st.booleans()) else _row(i, value) for i in stamped]
    new = pl.DataFrame(rows, schema=CASE_SCHEMA)
    got, got_months = cases_mod._changes(prev, new)
    want, want_months = straightforward(prev, new)
    assert got.schema == new.schema
    assert got.sort("case_id").equals(want.sort("case_id")), (got, want)
    assert got_months == want_months


def test_a_case_reassigned_touches_its_month_a_status_change_does_not() -> None:
    """By hand: case 1 closes (changed, no placement fact moves: December is not touched), case 2 moves from
    February to January (both months touched), case 3 is stamped as it was, case 4 is new (its month touched)."""
    feb, jan, dec = dt.date(2026, 2, 3), dt.date(2026, 1, 9), dt.date(2025, 12, 30)
    prev = pl.DataFrame([(1, "card", "BJ", dec, 100, 0, "active", "A1"), (2, "card", "BJ", feb, 100, 0, "active", "A1"),
                         (3, "loan", "SH", jan, 5, 31, "active", None)], schema=CASE_SCHEMA, orient="row")
    new = pl.DataFrame([(3, "loan", "SH", jan, 5, 31, "active", None), (2, "card", "BJ", jan, 100, 0, "active", "A1"),
                        (1, "card", "BJ", dec, 100, 0, "closed", "A1"),
                        (4, "loan", "SH", dt.date(2026, 3, 1), 7, 0, "active", "A2")], schema=CASE_SCHEMA, orient="row")
    got, months = cases_mod._changes(prev, new)
    assert sorted(got.get_column("case_id").to_list()) == [1, 2, 4]
    assert months == {dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)}
