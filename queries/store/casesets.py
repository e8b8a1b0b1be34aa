"""Sets of case ids as compressed (roaring) bitmaps: exact distinct-case counts at the cost of days × agents.

A distinct count over a period does not add up from day counts, so the store keeps, per metric family
('paying': cases with a payment, 'worked': cases with an attempt) and per month, two files of serialized
bitmaps of case ids, `casesets/<family>/YYYY-MM.parquet` (month grains, read for whole months and kept in
memory once read) and `casesets/<family>-days/YYYY-MM.parquet` (day grains, read for partial months):

- grain 'd': day × agent (the paying / working agent of the event; agent null when the event has none),
- grain 'm': month × agent (the union of that agent's days),
- grain 'D' / 'M': day / month over all agents (for views without an agent, team or channel filter),
- grain 'x': month × case dimension × value (bucket, product, region): the month's cases with that value.

A case has one bucket (its opening bucket), product and region in a month, so a filter or breakdown on them
is an intersection with the 'x' sets of each month the period touches; distinct cases of a period are the
union of the months' sets. Nothing is approximate: counts equal COUNT(DISTINCT case_id) on the raw rows.
"""

from __future__ import annotations

import array
import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import polars as pl
from pyroaring import BitMap, BitMap64

FOLDER = "casesets"
FAMILIES = ("paying", "worked")
CASE_DIMS = ("bucket", "product", "region")
DAY_AGENT, MONTH_AGENT, DAY_ALL, MONTH_ALL, MONTH_DIM = "d", "m", "D", "M", "x"
SCHEMA = {"grain": pl.String, "day": pl.Date, "agent_id": pl.String, "dim": pl.String, "value": pl.String,
          "cases": pl.UInt32, "wide": pl.Boolean, "bm": pl.Binary}
NARROW_MAX = 2**32 - 1  # case ids above this need 64-bit bitmaps (slower, so only when a month has them)

AnyBitMap = BitMap | BitMap64


DAY_GRAINS = (DAY_AGENT, DAY_ALL)


def folders(family: str) -> tuple[str, str]:
    """The family's two folders inside a version: month grains, day grains."""
    return f"{FOLDER}/{family}", f"{FOLDER}/{family}-days"


def folder(version: Path, family: str, days: bool = False) -> Path:
    """The folder of one family's month files (month grains, or day grains with days=True) in a store version."""
    return Path(version) / folders(family)[int(days)]


def month_file(version: Path, family: str, month: dt.date, days: bool = False) -> Path:
    """The file of one family's month (month grains, or day grains with days=True)."""
    return folder(version, family, days) / f"{month:%Y-%m}.parquet"


def load(blob: bytes, wide: bool) -> AnyBitMap:
    """A bitmap back from its serialized bytes."""
    return BitMap64.deserialize(blob) if wide else BitMap.deserialize(blob)


def union(bitmaps: list[AnyBitMap]) -> AnyBitMap:
    """The union of bitmaps (32- and 64-bit mixed when a store holds both)."""
    if not bitmaps:
        return BitMap()
    if len(bitmaps) == 1:
        return bitmaps[0]
    if any(isinstance(b, BitMap64) for b in bitmaps) and not all(isinstance(b, BitMap64) for b in bitmaps):
        bitmaps = [b if isinstance(b, BitMap64) else BitMap64(b.to_array()) for b in bitmaps]
    return bitmaps[0].union(*bitmaps[1:])


def intersect(a: AnyBitMap, b: AnyBitMap) -> AnyBitMap:
    """a ∩ b (32- and 64-bit mixed)."""
    if isinstance(a, BitMap64) != isinstance(b, BitMap64):
        a, b = (x if isinstance(x, BitMap64) else BitMap64(x.to_array()) for x in (a, b))
    return a & b


def _bitmap(ids: np.ndarray) -> AnyBitMap:
    """Sorted unique case ids → a bitmap (64-bit only when an id needs it)."""
    if ids.size and int(ids[-1]) > NARROW_MAX:
        return BitMap64(array.array("Q", ids.astype(np.uint64).tobytes()))
    return BitMap(array.array("I", ids.astype(np.uint32).tobytes()))


def _frame(keys: pl.DataFrame, bitmaps: list[AnyBitMap]) -> pl.DataFrame:
    """Key columns + cases, wide, bm (serialized, run-optimized)."""
    for bm in bitmaps:
        bm.run_optimize()
    return keys.with_columns(pl.Series("cases", [len(b) for b in bitmaps], dtype=pl.UInt32),
                             pl.Series("wide", [isinstance(b, BitMap64) for b in bitmaps], dtype=pl.Boolean),
                             pl.Series("bm", [b.serialize() for b in bitmaps], dtype=pl.Binary))


def _bitmaps(df: pl.DataFrame, keys: list[str]) -> tuple[pl.DataFrame, list[AnyBitMap]]:
    """The distinct `case_id`s of each `keys` group of `df`, as (the groups' keys, one bitmap per group)."""
    g = df.group_by(keys).agg(pl.col("case_id").unique().sort().alias("_ids")).sort(keys, nulls_last=True)
    lens = g.get_column("_ids").list.len().to_numpy().astype(np.int64)
    flat = g.get_column("_ids").explode().to_numpy() if g.height else np.empty(0, np.int64)
    ends = np.cumsum(lens)
    bitmaps = [_bitmap(flat[e - n:e]) for n, e in zip(lens.tolist(), ends.tolist(), strict=True)]
    return g.drop("_ids"), bitmaps


def build(df: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """One bitmap of the `case_id`s of each `keys` group of `df`: keys + cases, wide, bm."""
    return _frame(*_bitmaps(df, keys))


def _unite(keys: pl.DataFrame, bitmaps: list[AnyBitMap], by: list[str]) -> tuple[pl.DataFrame, list[AnyBitMap]]:
    """Bitmaps united per `by` (a subset of the keys; [] unites them all)."""
    if not by:
        return pl.DataFrame(), [union(bitmaps)]
    groups = keys.select(by).with_row_index("_i").group_by(by, maintain_order=True).agg("_i").sort(by,
                                                                                                   nulls_last=True)
    out = [union([bitmaps[i] for i in idx]) for idx in groups.get_column("_i").to_list()]
    return groups.drop("_i"), out


def _merge(prev: pl.DataFrame, new: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Per key, the union of the previous and the new bitmaps (events only ever add cases to a month)."""
    both = pl.concat([prev.select(*keys, "wide", "bm"), new.select(*keys, "wide", "bm")])
    out = []
    for row in both.group_by(keys, maintain_order=True).agg("wide", "bm").iter_rows(named=True):
        bm = union([load(b, w) for b, w in zip(row["bm"], row["wide"], strict=True)])
        bm.run_optimize()
        out.append({**{k: row[k] for k in keys}, "cases": len(bm), "wide": isinstance(bm, BitMap64),
                    "bm": bm.serialize()})
    return pl.DataFrame(out, schema={k: both.schema[k] for k in keys} | {k: SCHEMA[k] for k in ("cases", "wide",
                                                                                              "bm")})


def _grain(df: pl.DataFrame, grain: str) -> pl.DataFrame:
    return df.with_columns(pl.lit(grain).alias("grain")).select(
        *[pl.col(c) if c in df.columns or c == "grain" else pl.lit(None, dtype=t).alias(c) for c, t in SCHEMA.items()])


def month_sets(rows: pl.DataFrame, prev: pl.DataFrame | None = None,
               days: Iterable[dt.date] | None = None) -> pl.DataFrame:
    """One month's file from its event rows (day, case_id, agent_id, bucket, product, region).

    `prev` is the previous version's file of the month when only `days` were recomputed: its other days are
    kept and its month sets are united with the new rows' (an append-only source only adds cases)."""
    rows = rows.select("day", "case_id", "agent_id", *CASE_DIMS)
    # day × agent sets from the rows; every coarser set is a union of those (roaring unions are cheap)
    day_agent = _bitmaps(rows, ["day", "agent_id"])
    day_all = _unite(*day_agent, ["day"])
    month_agent = _unite(*day_agent, ["agent_id"])
    month_all = _unite(*day_all, [])
    parts = {
        DAY_AGENT: _frame(*day_agent),
        DAY_ALL: _frame(*day_all),
        MONTH_AGENT: _frame(*month_agent),
        MONTH_ALL: _frame(pl.DataFrame({"_all": [True]}), month_all[1]).drop("_all"),
        MONTH_DIM: pl.concat([build(rows.select("case_id", pl.lit(d).alias("dim"), pl.col(d).alias("value")),
                                    ["dim", "value"]) for d in CASE_DIMS]),
    }
    if prev is not None and days is not None:
        redone = list(days)
        for grain in (DAY_AGENT, DAY_ALL):
            kept = prev.filter(pl.col("grain") == grain, ~pl.col("day").is_in(redone))
            cols = parts[grain].columns
            parts[grain] = pl.concat([kept.select(cols), parts[grain]])
        for grain, keys in ((MONTH_AGENT, ["agent_id"]), (MONTH_ALL, []), (MONTH_DIM, ["dim", "value"])):
            old = prev.filter(pl.col("grain") == grain)
            if keys:
                parts[grain] = _merge(old, parts[grain], keys)
            else:
                tmp = "_all"
                parts[grain] = _merge(old.with_columns(pl.lit(True).alias(tmp)),
                                      parts[grain].with_columns(pl.lit(True).alias(tmp)), [tmp]).drop(tmp)
    return pl.concat([_grain(df, g) for g, df in parts.items()]).sort("grain", "day", "agent_id", "dim", "value",
                                                                      nulls_last=True)


def write_month(version: Path, family: str, month: dt.date, df: pl.DataFrame) -> None:
    """Write one month's two files (never through a hard link into the previous version)."""
    for days in (False, True):
        target = month_file(version, family, month, days)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.unlink()
        part = df.filter(pl.col("grain").is_in(DAY_GRAINS) == days)
        # roaring bitmaps are compressed already: a general compressor on top only slows reading
        part.write_parquet(target, compression="uncompressed", statistics=True, row_group_size=16_384)


def read_month(version: Path, family: str, month: dt.date) -> pl.DataFrame | None:
    """A month's rows of both files, or None when the month has none."""
    files = [month_file(version, family, month, days) for days in (False, True)]
    return pl.concat([pl.read_parquet(f) for f in files]) if files[0].is_file() else None


def has_sets(version: Path) -> bool:
    """True when the version was built with case sets."""
    return all(folder(version, fam).is_dir() for fam in FAMILIES)
