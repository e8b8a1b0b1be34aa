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


def mask_name(e: pl.Expr) -> pl.Expr:
    """张三 → 张*, 张三丰 → 张*丰, 欧阳娜娜 → 欧**娜: first and last character kept."""
    n = e.str.len_chars()
    middle = pl.lit("*").repeat_by(pl.max_horizontal(n - 2, pl.lit(1))).list.join("")
    two_or_less = e.str.slice(0, 1) + pl.lit("*")
    longer = e.str.slice(0, 1) + middle + e.str.slice(-1, 1)
    return pl.when(n <= 2).then(two_or_less).otherwise(longer)


def mask_phone(e: pl.Expr) -> pl.Expr:
    """13812345678 → 138****5678; shorter numbers keep only their last two digits."""
    n = e.str.len_chars()
    return (pl.when(n >= 11).then(e.str.slice(0, 3) + pl.lit("****") + e.str.slice(-4, 4))
            .otherwise(pl.lit("****") + e.str.slice(-2, 2)))


def mask_id_number(e: pl.Expr) -> pl.Expr:
    """110105199001011234 → 110105********1234."""
    return e.str.slice(0, 6) + pl.lit("********") + e.str.slice(-4, 4)


def mask_account(e: pl.Expr) -> pl.Expr:
    """6222…1234 → ****1234 (account tail only)."""
    return pl.lit("****") + e.str.slice(-4, 4)


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
