"""Dates, once: month arithmetic, the sidebar's date presets, and the Chinese working-day calendar."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

PRESETS = ("today", "yesterday", "last7", "mtd", "last_month", "qtd", "ytd", "custom")
DEFAULT_PRESET = "mtd"


def month_index(d: dt.date) -> int:
    """Months since year 0 (for month arithmetic)."""
    return d.year * 12 + d.month - 1


def month_index_expr(col: pl.Expr) -> pl.Expr:
    """month_index of a Polars date column."""
    return col.dt.year().cast(pl.Int32) * 12 + col.dt.month().cast(pl.Int32) - 1


def month_start(d: dt.date, shift: int = 0) -> dt.date:
    """First day of the month of `d`, moved by `shift` months."""
    m = month_index(d) + shift
    return dt.date(m // 12, m % 12 + 1, 1)


def month_end(d: dt.date) -> dt.date:
    """Last day of the month of `d`."""
    return month_start(d, 1) - dt.timedelta(days=1)


def shift_months(d: dt.date, months: int) -> dt.date:
    """The same day `months` months away, clamped to the month's last day (31 Mar − 1 → 28/29 Feb)."""
    first = month_start(d, months)
    return min(first + dt.timedelta(days=d.day - 1), month_end(first))


def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of the months the period touches."""
    out, m = [], month_start(start)
    while m <= end:
        out.append(m)
        m = month_start(m, 1)
    return out


def months_of(days: set[dt.date] | list[dt.date]) -> list[dt.date]:
    """The months (first days) of some days, ascending."""
    return sorted({month_start(d) for d in days})


def preset_range(preset: str, anchor: dt.date) -> tuple[dt.date, dt.date]:
    """Start and end of a date preset, anchored on the last day with data (custom falls back to MTD)."""
    if preset == "today":
        return anchor, anchor
    if preset == "yesterday":
        d = anchor - dt.timedelta(days=1)
        return d, d
    if preset == "last7":
        return anchor - dt.timedelta(days=6), anchor
    if preset == "last_month":
        return month_start(anchor, -1), month_start(anchor) - dt.timedelta(days=1)
    if preset == "qtd":
        return anchor.replace(month=(anchor.month - 1) // 3 * 3 + 1, day=1), anchor
    if preset == "ytd":
        return anchor.replace(month=1, day=1), anchor
    return month_start(anchor), anchor


def _library_is_workday(day: dt.date) -> bool | None:
    """The `chinesecalendar` package's answer, or None for a year it does not know."""
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


@dataclass(frozen=True)
class WorkCalendar:
    """Working days: Monday–Friday, minus public holidays, plus adjusted working weekend days (调休).

    With `official=True` the holidays come from the `chinesecalendar` package (updated each year from the
    State Council's notices); a year it does not know falls back to Monday–Friday and is listed in
    `unknown_years` so pages can say so. `holidays` and `makeup` override single days either way.
    """

    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    makeup: frozenset[dt.date] = field(default_factory=frozenset)
    official: bool = False

    def is_working(self, day: dt.date) -> bool:
        """True when `day` is a working day."""
        if day in self.makeup:
            return True
        if day in self.holidays:
            return False
        if self.official:
            known = _library_is_workday(day)
            if known is not None:
                return known
        return day.weekday() < 5

    def working_days(self, start: dt.date, end: dt.date) -> int:
        """Number of working days from start to end inclusive."""
        n, day = 0, start
        while day <= end:
            n += self.is_working(day)
            day += dt.timedelta(days=1)
        return n

    def unknown_years(self, start: dt.date, end: dt.date) -> tuple[int, ...]:
        """Years in [start, end] for which the official calendar has no data (Monday–Friday assumed)."""
        if not self.official:
            return ()
        return tuple(y for y in range(start.year, end.year + 1) if _library_is_workday(dt.date(y, 1, 1)) is None)


CHINA_CALENDAR = WorkCalendar(official=True)


def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The period of the same length that ends the day before `start` (what a "vs the previous period" compares)."""
    days = (end - start).days + 1
    return start - dt.timedelta(days=days), start - dt.timedelta(days=1)


def same_weekday_last_month(d: dt.date) -> dt.date:
    """The day of last month on the same weekday as `d`, nearest to the same date (a Sunday for a Sunday)."""
    anchor = shift_months(d, -1)
    first, last = month_start(anchor), month_end(anchor)
    candidates = [anchor + dt.timedelta(days=k) for k in range(-6, 7)]
    same = [c for c in candidates if c.weekday() == d.weekday() and first <= c <= last]
    return min(same, key=lambda c: (abs((c - anchor).days), c))
