"""Page compositions that hold logic of their own, checked against direct registry calls."""

from __future__ import annotations

import datetime as dt

import pytest

from fixtures_demo import AS_OF
from queries.filters import Filters
from queries.metrics.registry import compute
from queries.pages_data import monthly


def _value(store, key: str, start: dt.date, end: dt.date) -> float:  # noqa: ANN001
    return compute(key, store, Filters(start=start, end=end))["value"][0]


def test_running_month_compares_the_same_days(app_store) -> None:  # noqa: ANN001
    f = Filters(start=dt.date(2026, 11, 1), end=AS_OF)  # the 22nd: November is still running
    last = monthly(app_store, f).row(-1, named=True)
    assert last["month"] == dt.date(2026, 11, 1) and last["through"] == AS_OF
    now = _value(app_store, "collected", dt.date(2026, 11, 1), AS_OF)
    then = _value(app_store, "collected", dt.date(2026, 10, 1), dt.date(2026, 10, 22))
    year = _value(app_store, "collected", dt.date(2025, 11, 1), dt.date(2025, 11, 22))
    assert last["mom"] == pytest.approx(now / then - 1)
    assert last["yoy"] == pytest.approx(now / year - 1)
    rr_now = _value(app_store, "recovery_rate", dt.date(2026, 11, 1), AS_OF)
    rr_then = _value(app_store, "recovery_rate", dt.date(2026, 10, 1), dt.date(2026, 10, 22))
    assert last["mom_rr_pp"] == pytest.approx(rr_now - rr_then)
    whole_october = _value(app_store, "collected", dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert last["mom"] != pytest.approx(now / whole_october - 1)


def test_complete_months_compare_whole_months(app_store) -> None:  # noqa: ANN001
    f = Filters(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
    last = monthly(app_store, f).row(-1, named=True)
    assert last["through"] is None
    oct_, sep = (_value(app_store, "collected", a, b) for a, b in
                 ((dt.date(2026, 10, 1), dt.date(2026, 10, 31)), (dt.date(2026, 9, 1), dt.date(2026, 9, 30))))
    assert last["mom"] == pytest.approx(oct_ / sep - 1)
