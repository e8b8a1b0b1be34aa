"""Calendar effects for the demo data: weekdays, pay days and the Spring Festival."""

from __future__ import annotations

import datetime as dt

import numpy as np

# Lunar New Year's Day (春节) by Gregorian year.
SPRING_FESTIVAL = {
    2020: dt.date(2020, 1, 25), 2021: dt.date(2021, 2, 12), 2022: dt.date(2022, 2, 1),
    2023: dt.date(2023, 1, 22), 2024: dt.date(2024, 2, 10), 2025: dt.date(2025, 1, 29),
    2026: dt.date(2026, 2, 17), 2027: dt.date(2027, 2, 6), 2028: dt.date(2028, 1, 26),
    2029: dt.date(2029, 2, 13), 2030: dt.date(2030, 2, 3), 2031: dt.date(2031, 1, 23),
    2032: dt.date(2032, 2, 11), 2033: dt.date(2033, 1, 31), 2034: dt.date(2034, 2, 19),
    2035: dt.date(2035, 2, 8),
}
PAY_DAYS = (5, 10, 15, 25)  # common salary days at Chinese employers


def days_between(start: dt.date, end: dt.date) -> np.ndarray:
    """Every day from start to end inclusive, as datetime64[D]."""
    return np.arange(np.datetime64(start), np.datetime64(end) + 1, dtype="datetime64[D]")


def _festival_mask(days: np.ndarray, before: int, after: int) -> np.ndarray:
    mask = np.zeros(len(days), dtype=bool)
    years = np.unique(days.astype("datetime64[Y]").astype(int) + 1970)
    for year in years:
        fest = SPRING_FESTIVAL.get(int(year))
        if fest is None:
            continue
        lo, hi = np.datetime64(fest) - before, np.datetime64(fest) + after
        mask |= (days >= lo) & (days <= hi)
    return mask


def payment_weights(days: np.ndarray) -> np.ndarray:
    """Relative chance that a payment lands on each day: weekday, pay-day and festival effects."""
    weekday = (days.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 0 = Monday
    w = np.select([weekday == 6, weekday == 5], [0.35, 0.7], 1.0)
    dom = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    w = w * np.where(np.isin(dom, PAY_DAYS) | np.isin(dom - 1, PAY_DAYS), 1.7, 1.0)
    last_days = (days + 1).astype("datetime64[M]") != days.astype("datetime64[M]")
    w = w * np.where(last_days, 1.4, 1.0)  # statement-date pressure at month end
    return w * np.where(_festival_mask(days, 3, 6), 0.25, 1.0)


def contact_weights(days: np.ndarray) -> np.ndarray:
    """Relative collection effort per day: Saturdays half, Sundays little, festival nearly none."""
    weekday = (days.astype("datetime64[D]").astype(np.int64) + 3) % 7
    w = np.select([weekday == 6, weekday == 5], [0.2, 0.55], 1.0)
    return w * np.where(_festival_mask(days, 2, 6), 0.08, 1.0)
