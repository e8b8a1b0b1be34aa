"""The delinquency bucket rule, once: days past due (DPD) → M0 … M6, M7+, in Python, Polars, numpy and SQL.

A case's bucket is the first whose upper bound is ≥ its DPD (default M0 = 0, M1 = 1–30 … M6 = 151–180);
anything above the last bound is the last bucket (M7+). A missing DPD counts as the last bucket.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl
import sqlalchemy as sa

#: The code of "closed" (absent at t, or balance 0) in roll-rate to-bucket codes; never a bucket's index.
CLOSED = "closed"
CLOSED_CODE = 255


@dataclass(frozen=True)
class BucketBounds:
    """Upper DPD bound of each delinquency bucket M0..M6; anything above is the last bucket."""

    upper: tuple[int, ...] = (0, 30, 60, 90, 120, 150, 180)

    @cached_property
    def labels(self) -> tuple[str, ...]:
        """Bucket labels in order, e.g. M0 … M6, M7+."""
        return tuple(f"M{i}" for i in range(len(self.upper))) + (f"M{len(self.upper)}+",)

    def label(self, dpd: int | None) -> str:
        """Bucket label of one DPD value."""
        return self.labels[self.code(dpd)]

    def code(self, dpd: int | None) -> int:
        """Index of the bucket of one DPD value (None or NaN → the last)."""
        if dpd is None or dpd != dpd:  # missing, or NaN (which numpy's searchsorted also puts last)
            return len(self.upper)
        return bisect.bisect_left(self.upper, dpd)  # numpy's searchsorted(side="left") for one value

    def codes(self, dpd: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
        """Bucket indexes (uint8) of a numpy DPD array; rows flagged in `missing` get the last bucket."""
        out = np.searchsorted(np.asarray(self.upper), dpd, side="left").astype(np.uint8)
        if missing is not None:
            out[missing] = len(self.upper)
        return out

    def series_codes(self, dpd: pl.Series) -> pl.Series:
        """Bucket indexes (UInt8) of a Polars DPD series (nulls → the last bucket)."""
        return pl.Series(self.codes(dpd.fill_null(0).to_numpy(), dpd.is_null().to_numpy()))

    def expr(self, dpd: pl.Expr) -> pl.Expr:
        """Bucket label of a Polars DPD column."""
        labels = self.labels
        out = pl.when(dpd <= self.upper[0]).then(pl.lit(labels[0]))
        for bound, label in zip(self.upper[1:], labels[1:], strict=False):
            out = out.when(dpd <= bound).then(pl.lit(label))
        return out.otherwise(pl.lit(labels[-1]))

    def decode(self, codes: pl.Expr, closed: bool = False) -> pl.Expr:
        """Bucket indexes back to labels (with `closed`, CLOSED_CODE → 'closed')."""
        keys, vals = list(range(len(self.labels))), list(self.labels)
        if closed:
            keys, vals = [*keys, CLOSED_CODE], [*vals, CLOSED]
        return codes.replace_strict(keys, vals, return_dtype=pl.String)

    def encode(self, labels: pl.Expr) -> pl.Expr:
        """Bucket labels to indexes (UInt8)."""
        return labels.replace_strict(list(self.labels), list(range(len(self.labels))), return_dtype=pl.UInt8)

    def sql(self, dpd: sa.ColumnElement, label: str) -> sa.ColumnElement:
        """A SQL condition: `dpd` falls in the bucket `label` (ValueError for an unknown label)."""
        i = self.labels.index(label)
        if i == 0:
            return dpd <= self.upper[0]
        if i == len(self.upper):
            return dpd > self.upper[-1]
        return sa.and_(dpd > self.upper[i - 1], dpd <= self.upper[i])

    def sql_any(self, dpd: sa.ColumnElement, labels: tuple[str, ...]) -> sa.ColumnElement:
        """A SQL condition: `dpd` falls in any of the buckets `labels`."""
        return sa.or_(*[self.sql(dpd, b) for b in labels])


DEFAULT_BUCKETS = BucketBounds()
