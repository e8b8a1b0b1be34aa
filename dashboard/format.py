"""Number and date formats shown to users: CNY (¥, 万/亿 in Chinese), percent, points, counts, days, months."""

from __future__ import annotations

import datetime as dt
import math
import re

import polars as pl

from queries.rounding import halves_away


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x)))


# ---------------------------------------------------------------- the rounding rule, once for every shown number
# A shown number is the value rounded half away from zero at the digits shown (四舍五入, as Excel's ROUND and a
# person with a calculator do): 247 of 2,000 is 12.35 %, shown 12.4 %. The value is a float, 0.1235 stored as
# 0.12349999…, so its noise is dropped first at GUARD digits beyond the shown ones. Cards, chart hovers, messages
# (`fixed`) and tables and exports (`fixed_expr`, `rounded_expr`) use the same integer steps, so a figure reads the
# same wherever it is shown: Python's round() of a float to an int and Polars' round(0) are both half to even, of
# the same product.
GUARD = 6


def units(x: float, digits: int) -> int:
    """x as a whole number of 10^-digits, rounded half away from zero once the float's noise is dropped."""
    n = round(x * float(10 ** (digits + GUARD)))
    q = halves_away(n, 10**GUARD)
    return q if n >= 0 else -q


def fixed(x: float, digits: int, grouped: bool = False, plus: bool = False) -> str:
    """x with `digits` decimals by the rounding rule; thousands separators when grouped, a + before a
    non-negative value when plus (a value that rounds to zero has no minus sign)."""
    return _digits(units(x, digits), digits, grouped, plus)


def _digits(q: int, digits: int, grouped: bool = False, plus: bool = False) -> str:
    whole, frac = divmod(abs(q), 10**digits)
    sign = "-" if q < 0 else ("+" if plus else "")
    return sign + (f"{whole:,}" if grouped else str(whole)) + (f".{frac:0{digits}d}" if digits else "")


def _units_expr(e: pl.Expr, digits: int) -> tuple[pl.Expr, pl.Expr]:
    """`units` in Polars: (is the value negative, its magnitude in 10^-digits) — Int128, which has no negation."""
    n = (e.cast(pl.Float64) * float(10 ** (digits + GUARD))).round(0).cast(pl.Int128, strict=False)
    return n < 0, halves_away(n, pl.lit(10**GUARD, dtype=pl.Int128))


def fixed_expr(e: pl.Expr, digits: int, plus: bool = False, grouped: bool = False) -> pl.Expr:
    """`fixed` as a Polars expression: the same text for the same value; null for null, NaN, ±inf."""
    negative, a = _units_expr(e, digits)
    sign = pl.when(negative & (a > 0)).then(pl.lit("-")).otherwise(pl.lit("+" if plus else ""))
    whole = (a // 10**digits).cast(pl.String)
    if grouped:  # a comma after every third digit from the right (Rust's regex has no lookahead: reversed)
        whole = whole.str.reverse().str.replace_all(r"(\d{3})", "$1,").str.strip_suffix(",").str.reverse()
    out = sign + whole
    if digits:
        out = out + pl.lit(".") + (a % 10**digits).cast(pl.String).str.zfill(digits)
    return out


def rounded_expr(e: pl.Expr, digits: int) -> pl.Expr:
    """The value rounded by the rule, as a float (for a column the browser formats, or an export): the browser's
    and Excel's own formatting of it at `digits` then shows the digits `fixed` shows."""
    # read back from the digits: the float nearest them, as Python's units / 10**digits gives (Polars divides by a
    # constant as a multiplication by its inverse: 3 / 10 would be 0.30000000000000004)
    return fixed_expr(e, digits).cast(pl.Float64)


def cny(x: float | None, lang: str) -> str:
    """CNY amount: ¥123.45万 / ¥1.23亿 in Chinese; ¥1.23M or ¥1,234,567 in English."""
    if _missing(x):
        return "—"
    a = abs(float(x))
    div, digits, unit = money_scale(a, lang)
    q = units(a / div, digits)
    return ("-" if x < 0 and q else "") + f"¥{_digits(q, digits, grouped=True)}{unit}"


def pct(x: float | None, digits: int = 1) -> str:
    """A 0–1 ratio as a percent."""
    return "—" if _missing(x) else f"{fixed(x * 100, digits)}%"


def num(x: float | None, digits: int = 0) -> str:
    """A count or plain number with thousands separators."""
    return "—" if _missing(x) else fixed(x, digits, grouped=True)


def pp(x: float | None) -> str:
    """A change of a ratio in percentage points (never a % sign: 12.0% → 13.2% is +1.2 pp, not +1.2%)."""
    return "—" if _missing(x) else f"{fixed(x * 100, 1, plus=True)} pp"


def change(x: float | None) -> str:
    """A relative change (0.12 → +12.0%)."""
    return "—" if _missing(x) else f"{fixed(x * 100, 1, plus=True)}%"


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


def weekday(d: dt.date, lang: str) -> str:
    """The day of the week: 周日 / Sun."""
    return "一二三四五六日"[d.weekday()].join(("周", "")) if lang == "zh" else d.strftime("%a")


def short_day(d: dt.date, lang: str) -> str:
    """A day without its year: 11月15日 / 15 Nov."""
    return f"{d.month}月{d.day}日" if lang == "zh" else d.strftime("%-d %b")


def money_scale(largest: float | None, lang: str, column: bool = False) -> tuple[float, int, str]:
    """Divisor, decimals and unit suffix of an amount as the cards show it (¥万/¥亿 in Chinese, ¥M/¥B or whole yuan
    in English); with `column`, of a table's money column from its largest value: one scale per column, so the
    column stays numeric and sorts as numbers, and its largest value reads as on a card — but never ¥亿 or ¥B,
    which would show a column's smaller amounts as ¥0.00亿 (¥21,000.00万 and ¥3.00万 instead)."""
    a = abs(largest or 0.0)
    if lang == "zh":
        if a >= 1e8 and not column:
            return 1e8, 2, "亿"
        return (1e4, 2, "万") if a >= 1e4 else (1.0, 0, "")
    if a >= 1e9 and not column:
        return 1e9, 2, "B"
    return (1e6, 2, "M") if a >= 1e6 else (1.0, 0, "")


def pp_text(x: float | None) -> str:
    """A change of a ratio in percentage points, for a table cell: +1.2 pp, empty when there is none."""
    return "" if _missing(x) else pp(x)


def change_text(x: float | None) -> str:
    """A relative change for a table cell: +12.0%, empty when there is none."""
    return "" if _missing(x) else change(x)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")


def md_escape(text: object) -> str:
    """A value from the database made inert for Streamlit's markdown (labels, titles, captions): every markdown,
    directive (:red[…], :material/…:) and HTML character backslash-escaped, line breaks as spaces."""
    return _MARKDOWN.sub(r"\\\1", str(text)).replace("\n", " ").replace("\r", " ")


def code_text(text: object, limit: int = 200) -> str:
    """A value from the database or a request quoted for a markdown message as inline code: no markdown, HTML,
    directive or autolink (a URL or e-mail in plain markdown text becomes a link even when escaped)."""
    return "`" + plain(text)[:limit].replace("`", "'").replace("\n", " ").replace("\r", " ") + "`"


def html_escape(text: object) -> str:
    """A value from the database made inert for Plotly's text (legends, hover, ticks), which renders some HTML."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md_escape_expr(e: pl.Expr) -> pl.Expr:
    """md_escape for a Polars column (natively: no Python function per value)."""
    return e.cast(pl.String).str.replace_all(_MARKDOWN.pattern, r"\$1").str.replace_all(r"[\r\n]", " ")
