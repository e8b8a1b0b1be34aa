"""Each concept defined once, pinned: month arithmetic, the working-day calendar, the bucket rule in its four
forms, settings and the error kinds."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa

from queries import errors
from queries.buckets import DEFAULT_BUCKETS, BucketBounds
from queries.dates import (
    CHINA_CALENDAR,
    WorkCalendar,
    month_end,
    month_index,
    month_start,
    month_starts,
    preset_range,
    shift_months,
)
from queries.settings import VARIABLES, load_settings

D = dt.date

# The hand-kept table the dashboard used before the chinesecalendar package (State Council notices).
HOLIDAYS = {2025: (("2025-01-01", "2025-01-01"), ("2025-01-28", "2025-02-04"), ("2025-04-04", "2025-04-06"),
                   ("2025-05-01", "2025-05-05"), ("2025-05-31", "2025-06-02"), ("2025-10-01", "2025-10-08")),
            2026: (("2026-01-01", "2026-01-03"), ("2026-02-15", "2026-02-23"), ("2026-04-04", "2026-04-06"),
                   ("2026-05-01", "2026-05-05"), ("2026-06-19", "2026-06-21"), ("2026-09-25", "2026-09-27"),
                   ("2026-10-01", "2026-10-07"))}
MAKEUP = ("2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11",
          "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10")


def _old_table_is_working(day: dt.date) -> bool:
    if day.isoformat() in MAKEUP:
        return True
    for lo, hi in HOLIDAYS.get(day.year, ()):
        if lo <= day.isoformat() <= hi:
            return False
    return day.weekday() < 5


def test_calendar_agrees_with_the_hand_kept_table_for_2025_and_2026() -> None:
    day = D(2025, 1, 1)
    while day <= D(2026, 12, 31):
        assert CHINA_CALENDAR.is_working(day) == _old_table_is_working(day), day
        day += dt.timedelta(days=1)


def test_calendar_worked_examples() -> None:
    # October 2026: 22 weekdays − 5 of them in the 1–7 October holiday + Saturday 10 October worked = 18
    assert CHINA_CALENDAR.working_days(D(2026, 10, 1), D(2026, 10, 31)) == 18
    # February 2026: 20 weekdays − 6 in the Spring Festival (15–23 Feb) + Saturdays 14 and 28 Feb worked = 16
    assert CHINA_CALENDAR.working_days(D(2026, 2, 1), D(2026, 2, 28)) == 16
    assert CHINA_CALENDAR.is_working(D(2026, 2, 14)) and not CHINA_CALENDAR.is_working(D(2026, 2, 16))


def test_a_year_the_calendar_does_not_know_falls_back_to_weekdays_and_says_so() -> None:
    assert CHINA_CALENDAR.unknown_years(D(2026, 12, 1), D(2027, 1, 31)) == (2027,)
    assert CHINA_CALENDAR.unknown_years(D(2026, 1, 1), D(2026, 12, 31)) == ()
    assert CHINA_CALENDAR.working_days(D(2027, 3, 1), D(2027, 3, 31)) == 23  # Monday–Friday
    assert WorkCalendar().unknown_years(D(2027, 1, 1), D(2027, 1, 2)) == ()  # the plain calendar claims nothing


def test_month_arithmetic() -> None:
    assert month_start(D(2026, 3, 31), -1) == D(2026, 2, 1)
    assert month_end(D(2024, 2, 10)) == D(2024, 2, 29)
    assert shift_months(D(2026, 3, 31), -1) == D(2026, 2, 28)
    assert shift_months(D(2026, 1, 31), 13) == D(2027, 2, 28)
    assert month_starts(D(2025, 12, 15), D(2026, 2, 1)) == [D(2025, 12, 1), D(2026, 1, 1), D(2026, 2, 1)]
    assert month_index(D(2026, 1, 1)) - month_index(D(2025, 12, 31)) == 1


def test_presets() -> None:
    anchor = D(2026, 11, 22)
    assert preset_range("last_month", anchor) == (D(2026, 10, 1), D(2026, 10, 31))
    assert preset_range("qtd", anchor) == (D(2026, 10, 1), anchor)
    assert preset_range("last7", anchor) == (D(2026, 11, 16), anchor)
    assert preset_range("custom", anchor) == (D(2026, 11, 1), anchor)


DPD = [0, 1, 30, 31, 60, 61, 90, 91, 120, 121, 150, 151, 180, 181, 999]
WANT = ["M0", "M1", "M1", "M2", "M2", "M3", "M3", "M4", "M4", "M5", "M5", "M6", "M6", "M7+", "M7+"]


def test_the_bucket_rule_agrees_in_python_polars_numpy_and_sql() -> None:
    b = DEFAULT_BUCKETS
    assert [b.label(d) for d in DPD] == WANT
    # one value and an array agree everywhere, negative and NaN included (NaN and a missing DPD: the last bucket)
    many = np.array([-5.0, *DPD, 180.5, float("nan")])
    assert [b.code(d) for d in many] == b.codes(many).tolist()
    assert b.code(None) == b.code(float("nan")) == len(b.upper)
    assert pl.select(b.expr(pl.Series(DPD))).to_series().to_list() == WANT
    assert [b.labels[c] for c in b.codes(np.array(DPD))] == WANT
    assert pl.select(b.decode(pl.lit(pl.Series(b.codes(np.array(DPD)))))).to_series().to_list() == WANT
    engine = sa.create_engine("sqlite://")
    with engine.connect() as conn:
        for d, want in zip(DPD, WANT, strict=True):
            got = [label for label in b.labels if conn.execute(sa.select(b.sql(sa.literal(d), label))).scalar()]
            assert got == [want], d
    assert b.label(None) == "M7+" and b.series_codes(pl.Series([None, 5])).to_list() == [7, 1]


def test_other_bounds_are_honoured_everywhere() -> None:
    b = BucketBounds((0, 29, 59))
    assert b.labels == ("M0", "M1", "M2", "M3+")
    assert [b.label(d) for d in (0, 29, 30, 60)] == ["M0", "M1", "M2", "M3+"]
    assert pl.select(b.decode(pl.lit(3, pl.UInt8), closed=True)).item() == "M3+"
    assert pl.select(b.decode(pl.lit(255, pl.UInt8), closed=True)).item() == "closed"


def test_settings_read_now_with_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    s = load_settings(tmp_path)
    assert s.is_demo and s.store_dir == tmp_path / "data" / "store" and s.store_max_age_s == 900
    assert s.complaint_sla_days == 15 and s.sync_month_workers == 2 and not s.allow_demo_mode
    monkeypatch.setenv("CASES_STORE_MAX_AGE_S", "1e12")
    monkeypatch.setenv("CASES_SYNC_MONTH_WORKERS", "junk")
    monkeypatch.setenv("CASES_ALLOW_DEMO_MODE", "yes")
    s = load_settings(tmp_path)
    assert s.store_max_age_s == 1e12 and s.sync_month_workers == 2 and s.allow_demo_mode


def test_error_kinds_map_to_outcomes() -> None:
    from queries.filters import FilterError
    from queries.metrics import MetricError, MetricUnavailable
    from queries.store import StoreMissing
    from queries.views.drilldown import DrillDownError

    for exc in (FilterError("x"), MetricError("x"), DrillDownError("x")):
        assert errors.kind(exc) == "user" and errors.exit_code(exc) == 2
    for exc in (MetricUnavailable("x"), StoreMissing("x")):
        assert errors.kind(exc) == "unavailable" and errors.exit_code(exc) == 1
    assert errors.kind(errors.SourceError("x")) == "source" and errors.kind(KeyError("x")) == "bug"
    assert errors.describe(RuntimeError("failed to reach postgresql://u:s3cret@db/x\nmore")) == \
        "failed to reach postgresql://…@db/x"
    assert "s3cret" not in errors.describe(RuntimeError("connect: password=s3cret host=db"))
