"""Rounding to whole units, half away from zero (四舍五入), written once for Python integers and Polars."""

from __future__ import annotations

from typing import TypeVar

import polars as pl

N = TypeVar("N", int, pl.Expr)


def halves_away(n: N, unit: N | int) -> N:
    """How many whole `unit`s |n| makes, a half rounded up: 25 of 10 is 3, −25 of 10 is 3 too. The magnitude only:
    the caller puts the sign back (Polars' Int128 has no negation)."""
    return (abs(n) + unit // 2) // unit
