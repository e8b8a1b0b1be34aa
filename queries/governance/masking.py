"""Masking of personal data: 张*三, 138****5678, 110105********1234, account tail only."""

from __future__ import annotations

import polars as pl

from queries.filters import Scope
from queries.source.contract import PII_COLUMNS as _CONTRACT_PII

#: Roles allowed to see personal data unmasked.
PII_ROLES = frozenset({"compliance"})
#: Column name → kind of masking, for every personal-data column of the contract (★).
PII_COLUMNS: dict[str, str] = {col: kind for cols in _CONTRACT_PII.values() for col, kind in cols.items()}


def may_reveal(scope: Scope, reveal_pii: bool) -> bool:
    """True only when personal data was asked for and the viewer's role allows it."""
    return reveal_pii and scope.role in PII_ROLES


def _stars(n: pl.Expr) -> pl.Expr:
    """A run of `n` asterisks (at least one)."""
    return pl.lit("*").repeat_by(pl.max_horizontal(n, pl.lit(1))).list.join("")


def _ends(e: pl.Expr, head: pl.Expr, tail: pl.Expr) -> pl.Expr:
    """The first `head` and last `tail` characters kept, the rest starred."""
    n = e.str.len_chars()
    return e.str.slice(0, head) + _stars(n - head - tail) + \
        pl.when(tail > 0).then(e.str.slice(-tail, tail)).otherwise(pl.lit(""))


def _quarter(n: pl.Expr) -> pl.Expr:
    """How many characters a short identifier may show at each end: a quarter of it, so half stays hidden."""
    return (n // 4).cast(pl.Int64)


def mask_name(e: pl.Expr) -> pl.Expr:
    """张三 → 张*, 张三丰 → 张*丰, 欧阳娜娜 → 欧**娜: first and last character kept; a one-character name → *."""
    n = e.str.len_chars()
    return (pl.when(n <= 1).then(pl.lit("*"))
            .when(n == 2).then(e.str.slice(0, 1) + pl.lit("*"))
            .otherwise(_ends(e, pl.lit(1), pl.lit(1))))


def mask_phone(e: pl.Expr) -> pl.Expr:
    """13812345678 → 138****5678; a shorter number keeps at most a quarter of its digits, at the end."""
    n = e.str.len_chars()
    return (pl.when(n >= 11).then(e.str.slice(0, 3) + pl.lit("****") + e.str.slice(-4, 4))
            .otherwise(_ends(e, pl.lit(0), pl.min_horizontal(_quarter(n), pl.lit(2)))))


def mask_id_number(e: pl.Expr) -> pl.Expr:
    """110105199001011234 → 110105********1234; shorter ids (passports, 9 characters) keep a quarter at each end."""
    n = e.str.len_chars()
    return (pl.when(n >= 15).then(e.str.slice(0, 6) + pl.lit("********") + e.str.slice(-4, 4))
            .otherwise(_ends(e, _quarter(n), _quarter(n))))


def mask_account(e: pl.Expr) -> pl.Expr:
    """6222…1234 → ****1234 (account tail only); a short account keeps at most a quarter of it."""
    n = e.str.len_chars()
    return pl.lit("****") + pl.when(n >= 12).then(e.str.slice(-4, 4)).otherwise(
        pl.when(_quarter(n) > 0).then(e.str.slice(-_quarter(n), _quarter(n))).otherwise(pl.lit("")))


_MASKERS = {"name": mask_name, "phone": mask_phone, "id_number": mask_id_number, "account": mask_account}


def mask_frame(df: pl.DataFrame, reveal: bool = False) -> pl.DataFrame:
    """The frame with every personal-data column masked, unless `reveal`."""
    if reveal:
        return df
    cols = [c for c in df.columns if c in PII_COLUMNS]
    if not cols:
        return df
    return df.with_columns(_MASKERS[PII_COLUMNS[c]](pl.col(c).cast(pl.String)).alias(c) for c in cols)


def mask_value(column: str, value: str | None) -> str | None:
    """One value masked as its column would be (for single records such as a case header)."""
    if value is None or column not in PII_COLUMNS:
        return value
    return mask_frame(pl.DataFrame({column: [str(value)]}))[column][0]
