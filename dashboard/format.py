"""Number and date formats shown to users: CNY (¥, 万/亿 in Chinese), percent, points, counts, days, months."""

from __future__ import annotations

import datetime as dt
import math
import re

import polars as pl


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def cny(x: float | None, lang: str) -> str:
    """CNY amount: ¥123.45万 / ¥1.23亿 in Chinese; ¥1.23M or ¥1,234,567 in English."""
    if _missing(x):
        return "—"
    sign = "-" if x < 0 else ""
    a = abs(float(x))
    if lang == "zh":
        if a >= 1e8:
            return f"{sign}¥{a / 1e8:,.2f}亿"
        if a >= 1e4:
            return f"{sign}¥{a / 1e4:,.2f}万"
        return f"{sign}¥{a:,.0f}"
    if a >= 1e9:
        return f"{sign}¥{a / 1e9:,.2f}B"
    if a >= 1e6:
        return f"{sign}¥{a / 1e6:,.2f}M"
    return f"{sign}¥{a:,.0f}"


def pct(x: float | None, digits: int = 1) -> str:
    """A 0–1 ratio as a percent."""
    return "—" if _missing(x) else f"{x * 100:.{digits}f}%"


def num(x: float | None, digits: int = 0) -> str:
    """A count or plain number with thousands separators."""
    return "—" if _missing(x) else f"{x:,.{digits}f}"


def pp(x: float | None) -> str:
    """A change of a ratio in percentage points."""
    return "—" if _missing(x) else f"{x * 100:+.1f} pp"


def change(x: float | None) -> str:
    """A relative change (0.12 → +12.0%)."""
    return "—" if _missing(x) else f"{x * 100:+.1f}%"


def day(d: dt.date | None, lang: str) -> str:
    """A date: 2026年11月22日 / 22 Nov 2026."""
    if d is None:
        return "—"
    return f"{d.year}年{d.month}月{d.day}日" if lang == "zh" else d.strftime("%-d %b %Y")


def month(d: dt.date, lang: str) -> str:
    """A month: 2026年11月 / Nov 2026."""
    return f"{d.year}年{d.month}月" if lang == "zh" else d.strftime("%b %Y")


def money_axis(lang: str) -> tuple[float, str]:
    """Divisor and unit suffix for money on chart axes: 万元 in Chinese, yuan in English."""
    return (1e4, "（万元）") if lang == "zh" else (1.0, " (¥)")


# Characters that change how text displays or break lines: C0 controls but tab and newline, DEL, C1 NEL, the
# line/paragraph separators, and the bidi embedding, override and isolate marks (U+202E turns "abc" into "cba").
_INVISIBLE = "[\\x00-\\x08\\x0b-\\x1f\\x7f\\x85\\u200e\\u200f\\u061c\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]"
_INVISIBLE_RE = re.compile(_INVISIBLE)
REPLACEMENT = "\ufffd"


def plain(text: object) -> str:
    """A value from the database as plain display text: control and bidi characters shown as �."""
    return _INVISIBLE_RE.sub(REPLACEMENT, "" if text is None else str(text))


def plain_frame(df: pl.DataFrame) -> pl.DataFrame:
    """Every text column of a frame made plain (native Polars, no Python per value)."""
    cols = [c for c, t in df.schema.items() if t == pl.String]
    if not cols:
        return df
    return df.with_columns(pl.col(cols).str.replace_all(_INVISIBLE, REPLACEMENT))
