"""halves_away: whole units, a half rounded away from zero, the same on Python integers and Polars columns."""

from __future__ import annotations

import random

import polars as pl

from queries.rounding import halves_away

#: (n, unit, |n| / unit rounded half away from zero), worked by hand
HAND = [(0, 10, 0), (4, 10, 0), (5, 10, 1), (14, 10, 1), (15, 10, 2), (25, 10, 3), (-25, 10, 3), (-24, 10, 2),
        (-5, 10, 1), (49_999, 100_000, 0), (50_000, 100_000, 1), (-150_000, 100_000, 2), (7, 1, 7), (-7, 1, 7)]


def test_by_hand_on_integers_and_on_a_column() -> None:
    assert [halves_away(n, u) for n, u, _ in HAND] == [want for *_, want in HAND]
    df = pl.DataFrame({"n": [n for n, *_ in HAND], "u": [u for _, u, _ in HAND]}, schema={"n": pl.Int64, "u": pl.Int64})
    assert df.select(halves_away(pl.col("n"), pl.col("u"))).to_series().to_list() == [want for *_, want in HAND]
    big = pl.DataFrame({"n": [-(10**30) - 5 * 10**5]}, schema={"n": pl.Int128})  # beyond Int64, as the rule uses
    assert big.select(halves_away(pl.col("n"), pl.lit(10**6, dtype=pl.Int128))).item() == 10**24 + 1


def test_against_exact_fractions() -> None:
    from fractions import Fraction

    rng = random.Random(11)
    for _ in range(5_000):
        n, unit = rng.randint(-10**9, 10**9), rng.choice([1, 2, 10, 100, 10_000, 10**6])
        q = abs(Fraction(n, unit))
        want = int(q) + (1 if q - int(q) >= Fraction(1, 2) else 0)
        assert halves_away(n, unit) == want, (n, unit)
