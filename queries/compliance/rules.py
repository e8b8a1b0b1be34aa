"""Versioned collection rule set (contact hours, call frequency): limits the metrics read, never page code."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace


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
    """The rule set from a JSON file of RuleSet fields (settings: CASES_RULES_FILE), else the default."""
    if not path:
        return DEFAULT_RULES
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return replace(DEFAULT_RULES, **data)
