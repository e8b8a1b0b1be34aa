"""Reading the values of month-end files as people and Excel write them: full-width digits and signs, spaces,
thousands separators, accounting negatives, scientific notation, months in many spellings.

Every cell is first cleaned (`clean`: Unicode NFKC, so ０-９ ＋ － ． ， and the ideographic space become ASCII;
other minus signs become '-'; surrounding spaces go; an empty cell is null), then read by a vectorised
Polars expression that also says when a non-empty value is not what it should be.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import polars as pl

_MINUS = ("\u2212", "\u2010", "\u2011", "\u2012", "\u2013", "\ufe63")
_NUMBER = (r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][+-]?\d+)?$"
           r"|^[+-]?\.\d+(?:[eE][+-]?\d+)?$")
_SCI = r"[eE][+-]?\d+$"
_MONTH = (r"^(\d{4})\s*[-/.年]?\s*(\d{1,2})\s*月?(?:\s*[-/.]?\s*(\d{1,2})\s*日?)?"
          r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
#: the largest amount NUMERIC(14,2) holds, in cents
MAX_CENTS = 10**14 - 1


def clean(df: pl.DataFrame, columns: dict[str, str]) -> pl.DataFrame:
    """Add each `out` of {out: src} as the cleaned text of `src`: NFKC and other minus signs to '-' (only where
    the column holds any non-ASCII character: most files hold none, and this is the costly step), surrounding
    spaces stripped, empty → null."""
    exprs = []
    for out, src in columns.items():
        s = pl.col(src).cast(pl.String)
        if df.select(s.str.contains(r"[^\x00-\x7f]").any()).item():
            s = s.str.normalize("NFKC").str.replace_many(list(_MINUS), ["-"] * len(_MINUS))
        exprs.append(s.str.strip_chars().alias(out))
    df = df.with_columns(exprs)
    return df.with_columns(pl.when(pl.col(o) == "").then(None).otherwise(pl.col(o)).alias(o) for o in columns)


def clean_text(s: str) -> str:
    """The Python twin of `clean` for one value (mapping codes, header names)."""
    s = unicodedata.normalize("NFKC", s)
    for m in _MINUS:
        s = s.replace(m, "-")
    return s.strip()


def number(df: pl.DataFrame, src: str, out: str) -> pl.DataFrame:
    """Add `out` (Float64) and `out`_bad from the cleaned text column `src`: 1,234.50 · (1,234) · ¥-5 · 1.00E+05 ·
    +7 · .5. Null text gives a null value and is not bad. Float64 is exact here: a value with at most 15
    significant digits (all NUMERIC(14,2) can hold) parses and rounds back to the same cents.
    """
    s = pl.col(src)
    paren = s.str.starts_with("(") & s.str.ends_with(")")
    df = df.with_columns(paren.alias(f"{out}_paren"))
    p = pl.col(f"{out}_paren")
    t = pl.when(p).then(s.str.slice(1, s.str.len_chars() - 2)).otherwise(s)
    df = df.with_columns(t.str.replace_all(r"[¥$]|元$", "").str.strip_chars().alias(f"{out}_t"))
    t = pl.col(f"{out}_t")
    ok = t.str.contains(_NUMBER) & ~(p & t.str.starts_with("-"))
    v = t.str.replace_all(",", "", literal=True).str.strip_prefix("+").cast(pl.Float64, strict=False)
    df = df.with_columns(pl.when(ok).then(pl.when(p).then(-v).otherwise(v)).otherwise(None).alias(out))
    return df.with_columns((s.is_not_null() & pl.col(out).is_null()).alias(f"{out}_bad")).drop(
        f"{out}_paren", f"{out}_t")


def cents(df: pl.DataFrame, src: str, out: str) -> pl.DataFrame:
    """Add integer cents `out` and `out`_bad from a cleaned money column; amounts beyond NUMERIC(14,2) are bad."""
    df = number(df, src, f"{out}_f")
    c = (pl.col(f"{out}_f") * 100).round(0)
    too_big = (c.abs() > MAX_CENTS).fill_null(False)
    return df.with_columns(pl.when(too_big).then(None).otherwise(c).cast(pl.Int64).alias(out),
                           (pl.col(f"{out}_f_bad") | too_big).alias(f"{out}_bad")).drop(f"{out}_f", f"{out}_f_bad")


def whole(df: pl.DataFrame, src: str, out: str) -> pl.DataFrame:
    """Add `out` (Int64) and `out`_bad from a cleaned column of whole numbers (2, 2.0, ２, 2.00E+00 are all 2)."""
    df = number(df, src, f"{out}_f")
    v = pl.col(f"{out}_f")
    ok = (v == v.round(0)) & (v.abs() < 1e9)
    return df.with_columns(pl.when(ok).then(v).otherwise(None).cast(pl.Int64).alias(out),
                           (pl.col(f"{out}_f_bad") | (v.is_not_null() & ~ok)).alias(f"{out}_bad")).drop(
        f"{out}_f", f"{out}_f_bad")


def code(df: pl.DataFrame, src: str, out: str) -> pl.DataFrame:
    """Add `out`: the cleaned code in canonical form, a whole number written plainly (2.0 → 2, +1 → 1), else
    the text as it is."""
    df = whole(df, src, f"{out}_n")
    n = pl.col(f"{out}_n")
    return df.with_columns(pl.when(n.is_not_null()).then(n.cast(pl.String)).otherwise(pl.col(src)).alias(out)).drop(
        f"{out}_n", f"{out}_n_bad")


def canonical_code(s: str) -> str:
    """The Python twin of `code` for one value."""
    s = clean_text(s)
    t = s.replace(",", "")
    try:
        f = float(t[1:] if t.startswith("+") else t)
    except ValueError:
        return s
    return str(int(f)) if re.fullmatch(_NUMBER, s) and f == int(f) else s


def key(df: pl.DataFrame, src: str, out: str) -> pl.DataFrame:
    """Add the account key `out` and `out`_sci from a cleaned key column: 123.0 → 123; a key in scientific
    notation is left out (Excel has rounded it: the digits are lost)."""
    s = pl.col(src)
    df = df.with_columns(s.str.contains(r"^[+-]?\d+(?:\.\d+)?" + _SCI).fill_null(False).alias(f"{out}_sci"))
    return df.with_columns(pl.when(pl.col(f"{out}_sci")).then(None).otherwise(s.str.replace(r"^(\d+)\.0+$", "${1}"))
                           .alias(out))


def month(df: pl.DataFrame, src: str, out: str) -> pl.DataFrame:
    """Add `out` (the first day of the month) and `out`_bad from a cleaned month column: 2005-04, 2005/4, 200504,
    2005年4月, 2005-04-30, 2005-04-30 00:00:00."""
    s = pl.col(src)
    df = df.with_columns(s.str.extract(_MONTH, 1).cast(pl.Int32, strict=False).alias(f"{out}_y"),
                         s.str.extract(_MONTH, 2).cast(pl.Int32, strict=False).alias(f"{out}_m"))
    y, m = pl.col(f"{out}_y"), pl.col(f"{out}_m")
    ok = y.is_between(1900, 2200) & m.is_between(1, 12)
    df = df.with_columns(pl.when(ok).then(pl.date(y, m, 1)).otherwise(None).alias(out))
    return df.with_columns((s.is_not_null() & pl.col(out).is_null()).alias(f"{out}_bad")).drop(f"{out}_y", f"{out}_m")


def parse_month(s: str) -> dt.date | None:
    """The Python twin of `month` for one value (mapping files, file names)."""
    m = re.match(_MONTH, clean_text(s))
    if not m:
        return None
    y, mo = int(m.group(1)), int(m.group(2))
    return dt.date(y, mo, 1) if 1900 <= y <= 2200 and 1 <= mo <= 12 else None
