"""Versioned collection rule set (contact hours, call frequency) and the working-day calendar."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class RuleSet:
    """Limits from a collection guideline; metrics read them at query time, never page code."""

    version: str = "CBA collection guideline 2026-01-30"
    after_hours_start: int = 22  # first hour (local time) that is out of hours
    after_hours_end: int = 8  # first hour that is allowed again
    max_unanswered_per_phone_day: int = 6  # more than this many unanswered calls → breach
    max_connected_per_case_day: int = 3  # more than this many connected calls → breach

    def after_hours(self) -> tuple[int, ...]:
        """Hours of the day (0–23) that fall in the after-hours window."""
        if self.after_hours_start > self.after_hours_end:
            return tuple(range(self.after_hours_start, 24)) + tuple(range(0, self.after_hours_end))
        return tuple(range(self.after_hours_start, self.after_hours_end))


DEFAULT_RULES = RuleSet()


def load_rules(path: str | None = None) -> RuleSet:
    """The rule set from CASES_RULES_FILE (a JSON object of RuleSet fields), else the default."""
    path = path or os.environ.get("CASES_RULES_FILE")
    if not path:
        return DEFAULT_RULES
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return replace(DEFAULT_RULES, **data)


# Chinese statutory holidays (法定节假日) and adjusted working weekend days (调休上班), from the
# State Council General Office notices; years not listed fall back to plain Monday–Friday.
_HOLIDAYS: dict[int, tuple[tuple[str, str], ...]] = {
    2025: (("2025-01-01", "2025-01-01"), ("2025-01-28", "2025-02-04"), ("2025-04-04", "2025-04-06"),
           ("2025-05-01", "2025-05-05"), ("2025-05-31", "2025-06-02"), ("2025-10-01", "2025-10-08")),
    2026: (("2026-01-01", "2026-01-03"), ("2026-02-15", "2026-02-23"), ("2026-04-04", "2026-04-06"),
           ("2026-05-01", "2026-05-05"), ("2026-06-19", "2026-06-21"), ("2026-09-25", "2026-09-27"),
           ("2026-10-01", "2026-10-07")),
}
_MAKEUP_DAYS: dict[int, tuple[str, ...]] = {
    2025: ("2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"),
    2026: ("2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"),
}


@dataclass(frozen=True)
class WorkCalendar:
    """Working days: Monday–Friday, minus public holidays, plus adjusted working weekend days."""

    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    makeup: frozenset[dt.date] = field(default_factory=frozenset)

    def is_working(self, day: dt.date) -> bool:
        """True when `day` is a working day."""
        if day in self.makeup:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def working_days(self, start: dt.date, end: dt.date) -> int:
        """Number of working days from start to end inclusive."""
        n, day = 0, start
        while day <= end:
            n += self.is_working(day)
            day += dt.timedelta(days=1)
        return n


def _china_calendar() -> WorkCalendar:
    hol: set[dt.date] = set()
    for spans in _HOLIDAYS.values():
        for lo, hi in spans:
            d, e = dt.date.fromisoformat(lo), dt.date.fromisoformat(hi)
            while d <= e:
                hol.add(d)
                d += dt.timedelta(days=1)
    makeup = {dt.date.fromisoformat(s) for days in _MAKEUP_DAYS.values() for s in days}
    return WorkCalendar(frozenset(hol), frozenset(makeup))


CHINA_CALENDAR = _china_calendar()
