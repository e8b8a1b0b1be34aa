"""Sets of case ids as compressed (roaring) bitmaps: exact distinct-case counts at the cost of days × agents.

A distinct count over a period does not add up from day counts, so the store keeps, per metric family
('paying': cases with a payment, 'worked': cases with an attempt) and per month, the month's sets as serialized
blobs in one file, `casesets/<family>/YYYY-MM.bin`, with an index of them, `casesets/<family>/YYYY-MM.idx`
(a string table, then one INDEX record per set: keys, `cases`, `wide`, `offset`, `length`; read with numpy, no
Parquet decoding and no thread pool): a reader maps the blob file and deserializes only the sets it needs. Grains:

- 'd': day × agent (the paying / working agent of the event; agent null when the event has none),
- 'm': month × agent (the union of that agent's days),
- 'D' / 'M': day / month over all agents (for views without an agent, team or channel filter),
- 'x': month × case dimension × value (bucket, product, region): the month's cases with that value,
- 'f' / 'l' (per agent) and 'F' / 'L' (all agents): not a bitmap but the month's case ids ordered by their first
  ('f') or last ('l') event day, after CUTS cut positions: cut[k] = how many of them have that day ≤ k. A period
  starting on day k of a month and running past its end holds the ids[cut[k - 1]:] of 'l' (cases seen again on
  day k or later); one ending on day k inside a month that starts it whole holds the ids[:cut[k]] of 'f'. So a
  custom period costs one set per agent for each edge month, not one per day.

A case has one bucket (its opening bucket), product and region in a month, so a filter or breakdown on them
is an intersection with the 'x' sets of each month the period touches; distinct cases of a period are the
union of the months' sets. Nothing is approximate: counts equal COUNT(DISTINCT case_id) on the raw rows.
"""

from __future__ import annotations

import array
import datetime as dt
import json
import mmap
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import polars as pl
from pyroaring import BitMap, BitMap64

from queries.frames import summed

FOLDER = "casesets"
FAMILIES = ("paying", "worked")
CASE_DIMS = ("bucket", "product", "region")
DAY_AGENT, MONTH_AGENT, DAY_ALL, MONTH_ALL, MONTH_DIM = "d", "m", "D", "M", "x"
FIRST_AGENT, LAST_AGENT, FIRST_ALL, LAST_ALL = "f", "l", "F", "L"
ORDERED = (FIRST_AGENT, LAST_AGENT, FIRST_ALL, LAST_ALL)
KEYS = {"grain": pl.String, "day": pl.Date, "agent_id": pl.String, "dim": pl.String, "value": pl.String}
STRINGS = {"agent": "agent_id", "dim": "dim", "value": "value"}  # index columns → key columns holding strings
#: The index: one record per set; day in days since 1970-01-01, strings as positions in a table, NULL for none.
INDEX = np.dtype([("grain", "S1"), ("day", "<i4"), ("agent", "<i4"), ("dim", "<i4"), ("value", "<i4"),
                  ("cases", "<u4"), ("wide", "?"), ("offset", "<u8"), ("length", "<u8")])
NULL = -(2**31)
EPOCH = dt.date(1970, 1, 1)  # the index's days count from it
CUTS = 32  # cut[0..31]: ids with a first / last day of month ≤ k
NARROW_MAX = 2**32 - 1  # case ids above this need 64-bit bitmaps (slower, so only when a month has them)
ONE_ROW = pl.DataFrame({"_": [0]})  # the keys of a grain without key columns (month over all agents)
ALIGN = 8  # blobs start on 8-byte boundaries (the ordered ids are read in place as uint32 / uint64)

AnyBitMap = BitMap | BitMap64


def folder(version: Path, family: str) -> Path:
    """The folder of one family's month files in a store version."""
    return Path(version) / FOLDER / family


def index_file(version: Path, family: str, month: dt.date) -> Path:
    """The index of one family's month (its blob file has the same name with .bin)."""
    return folder(version, family) / f"{month:%Y-%m}.idx"


def load(blob: bytes | memoryview, wide: bool) -> AnyBitMap:
    """A bitmap back from its serialized bytes."""
    return BitMap64.deserialize(blob) if wide else BitMap.deserialize(blob)


class IdRun:
    """Case ids (an ordered grain's slices: a month cut at one edge), kept as they are until a union or an
    intersection with another set needs a bitmap. Counted alone: their length when each case is held once (one
    agent's slice, or all agents'), else the distinct ids of their sort (a team's agents may share a case). A
    month-to-date total at 5× then builds no bitmap of millions of ids, nor a team's breakdown one per team."""

    __slots__ = ("ids", "unique")

    def __init__(self, ids: np.ndarray, unique: bool = True) -> None:
        self.ids, self.unique = ids, unique

    def __len__(self) -> int:
        if not self.unique:
            s = np.sort(self.ids)
            self.ids, self.unique = s[np.concatenate([[True], s[1:] != s[:-1]])] if s.size else s, True
        return int(self.ids.size)

    def bitmap(self) -> AnyBitMap:
        """The ids as a bitmap: one slice (a few long runs of ids, one per day) as they are where dense; many
        agents' slices (thousands of short runs, in an order roaring takes slowly) sorted first."""
        return _unordered_bitmap(self.ids) if self.unique else _bitmap(np.sort(self.ids))


def as_bitmap(s: AnyBitMap | IdRun) -> AnyBitMap:
    """A set as a bitmap (an IdRun made one)."""
    return s.bitmap() if isinstance(s, IdRun) else s


def union(bitmaps: list[AnyBitMap | IdRun]) -> AnyBitMap | IdRun:
    """The union of bitmaps (32- and 64-bit mixed when a store holds both); one set alone is returned as it is."""
    if not bitmaps:
        return BitMap()
    if len(bitmaps) == 1:
        return bitmaps[0]
    bitmaps = [as_bitmap(b) for b in bitmaps]
    kinds = set(map(type, bitmaps))
    if BitMap64 in kinds and len(kinds) > 1:
        bitmaps = [_wide(b) for b in bitmaps]
    # pairwise, as a balanced tree: 2-3× faster than one many-way union on these sparse sets (its lazy bitsets
    # cost 8 KB per container however few ids it holds)
    while len(bitmaps) > 1:
        bitmaps = [bitmaps[i] | bitmaps[i + 1] for i in range(0, len(bitmaps) - 1, 2)] + (
            [bitmaps[-1]] if len(bitmaps) % 2 else [])
    return bitmaps[0]


def _wide(b: AnyBitMap) -> BitMap64:
    """A bitmap as a 64-bit one (BitMap64 takes a buffer of uint64 only: a 32-bit one's array must be widened)."""
    return b if isinstance(b, BitMap64) else BitMap64(array.array("Q", np.asarray(b.to_array(), np.uint64).tobytes()))


def intersect(a: AnyBitMap | IdRun, b: AnyBitMap | IdRun) -> AnyBitMap:
    """a ∩ b (32- and 64-bit mixed)."""
    a, b = as_bitmap(a), as_bitmap(b)
    if isinstance(a, BitMap64) != isinstance(b, BitMap64):
        a, b = _wide(a), _wide(b)
    return a & b


def _bitmap(ids: np.ndarray) -> AnyBitMap:
    """Case ids (sorted or not) → a bitmap (64-bit only when an id needs it)."""
    if ids.size and int(ids.max()) > NARROW_MAX:
        return BitMap64(array.array("Q", ids.astype(np.uint64).tobytes()))
    return BitMap(array.array("I", ids.astype(np.uint32).tobytes()))


#: ids per id of their span from which a bitmap is built from them unsorted: roaring keeps a chunk of 65,536 ids
#: holding more than 4,096 as a bitmap, which takes ids in any order; sparser chunks are sorted arrays, built 2×
#: faster from sorted ids (a month's worked cases at bank scale, one slice of ~20 day runs: 25 ms unsorted against
#: 54 ms sorted, 57 against 302 ms at 5×; one team's: 0.8 ms sorted, 1.8 ms not)
DENSE = 1 / 16


def _unordered_bitmap(ids: np.ndarray) -> AnyBitMap:
    """Ids in any order (repeats allowed) → a bitmap, sorted first only where the ids are sparse."""
    if ids.size == 0 or ids.size < DENSE * (int(ids.max()) - int(ids.min()) + 1):
        ids = np.sort(ids)
    return _bitmap(ids)


def _lists(g: pl.DataFrame, col: str) -> list[np.ndarray]:
    """The list column `col` of a grouped frame as one numpy array per row."""
    lens = g.get_column(col).list.len().to_numpy().astype(np.int64)
    flat = g.get_column(col).explode().to_numpy() if g.height else np.empty(0, np.int64)
    ends = np.cumsum(lens)
    return [flat[e - n:e] for n, e in zip(lens.tolist(), ends.tolist(), strict=True)]


def _bitmaps(df: pl.DataFrame, keys: list[str]) -> tuple[pl.DataFrame, list[AnyBitMap]]:
    """The distinct `case_id`s of each `keys` group of `df`, as (the groups' keys, one bitmap per group)."""
    g = df.group_by(keys).agg(pl.col("case_id").unique().sort().alias("_ids")).sort(keys, nulls_last=True)
    return g.drop("_ids"), [_bitmap(ids) for ids in _lists(g, "_ids")]


def build(df: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """One bitmap of the `case_id`s of each `keys` group of `df`: keys + cases, wide, bm (serialized)."""
    g, bitmaps = _bitmaps(df, keys)
    return g.with_columns(pl.Series("cases", [len(b) for b in bitmaps], dtype=pl.UInt32),
                          pl.Series("wide", [isinstance(b, BitMap64) for b in bitmaps], dtype=pl.Boolean),
                          pl.Series("bm", [_serialize(b) for b in bitmaps], dtype=pl.Binary))


def _serialize(bm: AnyBitMap) -> bytes:
    bm.run_optimize()
    return bm.serialize()


def _unite(keys: pl.DataFrame, bitmaps: list[AnyBitMap], by: list[str]) -> tuple[pl.DataFrame, list[AnyBitMap]]:
    """Bitmaps united per `by` (a subset of the keys; [] unites them all)."""
    if not by:
        return pl.DataFrame(), [union(bitmaps)]
    groups = keys.select(by).with_row_index("_i").group_by(by, maintain_order=True).agg("_i").sort(by,
                                                                                                   nulls_last=True)
    out = [union([bitmaps[i] for i in idx]) for idx in groups.get_column("_i").to_list()]
    return groups.drop("_i"), out


def _ordered(ids: np.ndarray, days: np.ndarray) -> tuple[bytes, bool]:
    """A blob of the ids ordered by their day of month (already sorted so): CUTS cut positions, then the ids."""
    cuts = np.searchsorted(days, np.arange(CUTS), side="right").astype(np.uint32)
    wide = bool(ids.size) and int(ids.max()) > NARROW_MAX
    return cuts.tobytes() + ids.astype(np.uint64 if wide else np.uint32).tobytes(), wide


def ordered_ids(blob: memoryview | bytes, wide: bool) -> tuple[np.ndarray, np.ndarray]:
    """An ordered grain's blob → (cut positions, ids), read in place."""
    cuts = np.frombuffer(blob, dtype=np.uint32, count=CUTS)
    return cuts, np.frombuffer(blob, dtype=np.uint64 if wide else np.uint32, offset=CUTS * 4)


class _Blobs:
    """A month file being built: index rows and their blobs."""

    def __init__(self) -> None:
        self.keys: list[pl.DataFrame] = []
        self.meta: list[tuple[int, bool]] = []  # cases, wide
        self.blobs: list[bytes | memoryview] = []

    def add(self, grain: str, keys: pl.DataFrame, blobs: list, cases: list[int], wide: list[bool]) -> None:
        self.keys.append(keys.with_columns(pl.lit(grain).alias("grain")).select(
            *[pl.col(c).cast(t) if c in keys.columns or c == "grain" else pl.lit(None, dtype=t).alias(c)
              for c, t in KEYS.items()]))
        self.meta.extend(zip(cases, wide, strict=True))
        self.blobs.extend(blobs)

    def bitmaps(self, grain: str, keys: pl.DataFrame, bitmaps: list[AnyBitMap]) -> None:
        self.add(grain, keys, [_serialize(b) for b in bitmaps], [len(b) for b in bitmaps],
                 [isinstance(b, BitMap64) for b in bitmaps])

    def write(self, index_path: Path) -> None:
        lengths = np.array([len(b) for b in self.blobs], dtype=np.uint64)
        padded = (lengths + ALIGN - 1) // ALIGN * ALIGN
        offsets = np.concatenate([[0], np.cumsum(padded)[:-1]]).astype(np.uint64) if len(padded) else padded
        keys = pl.concat(self.keys)
        strings = pl.concat([keys.get_column(c) for c in STRINGS.values()]).drop_nulls().unique().sort()
        rec = np.zeros(keys.height, dtype=INDEX)
        rec["grain"] = keys.get_column("grain").to_numpy().astype("S1")
        rec["day"] = keys.get_column("day").cast(pl.Int32).fill_null(NULL).to_numpy()
        for c, k in STRINGS.items():  # strings as positions in the month's string table
            rec[c] = keys.get_column(k).replace_strict(strings, pl.int_range(strings.len(), eager=True),
                                                       default=NULL, return_dtype=pl.Int32).to_numpy()
        rec["cases"], rec["wide"] = zip(*self.meta, strict=True) if self.meta else ((), ())
        rec["offset"], rec["length"] = offsets, lengths
        blob_path = index_path.with_suffix(".bin")
        for p in (index_path, blob_path):
            if p.exists():
                p.unlink()  # may be a hard link into the previous version: never write through it
        with open(blob_path, "wb") as out:
            for b, n, p in zip(self.blobs, lengths.tolist(), padded.tolist(), strict=True):
                out.write(b)
                out.write(b"\0" * (p - n))
        head = json.dumps(strings.to_list()).encode()
        head += b" " * (-(len(head) + 8) % ALIGN)
        with open(index_path, "wb") as out:  # the string table's length, the table (JSON), the records
            out.write(np.array([len(head)], dtype="<u8").tobytes() + head + rec.tobytes())


class MonthSets:
    """One family's month as read back: its index (numpy: reading it starts no thread pool) and its mapped blobs."""

    def __init__(self, rec: np.ndarray, strings: list[str], buf: mmap.mmap | bytes) -> None:
        self.rec = rec
        self.strings = strings
        self.buf = memoryview(buf)
        grains = rec["grain"]  # written grain after grain
        starts = np.flatnonzero(np.concatenate([[True], grains[1:] != grains[:-1]])) if rec.size else np.empty(0, int)
        ends = np.append(starts[1:], rec.size)
        self.grains = {grains[a].decode(): np.arange(a, b) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)}
        self.kept: dict[str, dict[int, AnyBitMap]] = {}

    def positions(self, grain: str) -> np.ndarray:
        """The index positions of one grain."""
        return self.grains.get(grain, np.empty(0, np.int64))

    def text(self, codes: np.ndarray) -> list[str | None]:
        """String-table positions → the strings (None for a null)."""
        s = self.strings
        return [s[c] if c >= 0 else None for c in codes.tolist()]

    def days(self, pos: np.ndarray) -> np.ndarray:
        """The days of some positions, as days since 1970-01-01 (NULL for none)."""
        return self.rec["day"][pos]

    def blob(self, offset: int, length: int) -> memoryview:
        """The bytes of one entry."""
        return self.buf[offset:offset + length]

    def month_bitmaps(self, grain: str, pos: np.ndarray) -> list[AnyBitMap]:
        """The bitmaps of a month grain at some positions; the grain's are deserialized once and kept (a few MB
        a month), so the next view over the same months only unites."""
        if grain not in self.kept:
            every = self.positions(grain)
            self.kept[grain] = dict(zip(every.tolist(), self.bitmaps_at(every), strict=True))
        got = self.kept[grain]
        return [got[p] for p in pos.tolist()]

    def bitmaps_at(self, pos: np.ndarray) -> list[AnyBitMap]:
        """The bitmaps at some index positions."""
        buf, r = self.buf, self.rec[pos]
        return [load(buf[o:o + n], w)
                for o, n, w in zip(r["offset"].tolist(), r["length"].tolist(), r["wide"].tolist(), strict=True)]

    def ordered_groups(self, pos: np.ndarray, first: int, last: int, keys: list) -> dict:
        """From ordered-grain positions, the cases whose ordering day k has first ≤ k ≤ last ('l': last day ≥ first
        with last = 31; 'f': first day ≤ last with first = 1), the positions sharing a key in one set (key → [set]):
        each group's slices joined as one IdRun (a team's agents: counted or made a bitmap once, not one per agent
        and then their union)."""
        parts: dict = {}
        r = self.rec[pos]
        for key, o, n, w in zip(keys, r["offset"].tolist(), r["length"].tolist(), r["wide"].tolist(), strict=True):
            cuts, ids = ordered_ids(self.buf[o:o + n], w)
            parts.setdefault(key, []).append(ids[cuts[first - 1]:cuts[last]])
        return {k: [IdRun(v[0]) if len(v) == 1 else IdRun(np.concatenate(v), unique=False)] for k, v in parts.items()}

    def frame(self, grain: str) -> pl.DataFrame:
        """One grain's index as a frame: day, agent_id, dim, value, cases, wide, _pos (for the sync)."""
        pos = self.positions(grain)
        r = self.rec[pos]
        return pl.DataFrame({"day": r["day"], **{k: pl.Series(self.text(r[c]), dtype=pl.String)
                                                  for c, k in STRINGS.items()},
                             "cases": r["cases"], "wide": r["wide"], "_pos": pos.astype(np.int64)}).with_columns(
            pl.when(pl.col("day") != NULL).then(pl.col("day")).cast(pl.Date).alias("day"))

    def raw(self, rows: pl.DataFrame) -> list[tuple[memoryview, int, bool]]:
        """The serialized sets of some rows of frame(), as they are: (bytes, cases, wide)."""
        r = self.rec[rows.get_column("_pos").to_numpy()]
        return [(self.buf[o:o + n], c, w) for o, n, c, w in zip(r["offset"].tolist(), r["length"].tolist(),
                                                               r["cases"].tolist(), r["wide"].tolist(), strict=True)]

    def bitmaps(self, rows: pl.DataFrame) -> list[AnyBitMap]:
        """The bitmaps of some rows of frame()."""
        return self.bitmaps_at(rows.get_column("_pos").to_numpy())


def open_month(version: Path, family: str, month: dt.date) -> MonthSets | None:
    """A month's sets (the blob file mapped, nothing deserialized), or None when the month has none."""
    path = index_file(version, family, month)
    if not path.is_file():
        return None
    raw = path.read_bytes()
    n = int(np.frombuffer(raw, dtype="<u8", count=1)[0])
    strings = json.loads(raw[8:8 + n])
    rec = np.frombuffer(raw, dtype=INDEX, offset=8 + n) if len(raw) > 8 + n else np.empty(0, INDEX)
    with open(path.with_suffix(".bin"), "rb") as fh:
        size = fh.seek(0, 2)
        buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    return MonthSets(rec, strings, buf)


def _first_last(pairs: pl.DataFrame, out: _Blobs) -> None:
    """The ordered grains from (agent_id, case_id, first, last) rows, one per agent-case (days as day of month)."""
    whole = pairs.group_by("case_id").agg(pl.col("first").min(), pl.col("last").max()).with_columns(
        pl.lit(True).alias("_all"))
    for grain, df, keys, col in ((FIRST_AGENT, pairs, ["agent_id"], "first"), (LAST_AGENT, pairs, ["agent_id"], "last"),
                                 (FIRST_ALL, whole, ["_all"], "first"), (LAST_ALL, whole, ["_all"], "last")):
        # sorting inside the groups is far cheaper than sorting the whole frame
        g = df.group_by(keys).agg(pl.col("case_id").sort_by(col, "case_id"), pl.col(col).sort()).sort(
            keys, nulls_last=True)
        blobs = [_ordered(ids, days) for ids, days in zip(_lists(g, "case_id"), _lists(g, col), strict=True)]
        out.add(grain, g.select(keys) if keys != ["_all"] else ONE_ROW, [b for b, _ in blobs],
                [len(ids) for ids in _lists(g, "case_id")], [w for _, w in blobs])


def _old_ordered(prev: MonthSets, grain: str) -> tuple[list[str | None], np.ndarray, np.ndarray, np.ndarray]:
    """A previous version's ordered grain, flat: its agents (None: no agent, or the all-agents grains' one entry),
    and per id in the grain's order its agent's position in that list, the id and its day of month."""
    r = prev.rec[prev.positions(grain)]
    ids, days = [], []
    for o, n, w in zip(r["offset"].tolist(), r["length"].tolist(), r["wide"].tolist(), strict=True):
        cuts, got = ordered_ids(prev.blob(o, n), w)
        ids.append(got.astype(np.int64))
        days.append(np.repeat(np.arange(1, CUTS, dtype=np.int8), np.diff(cuts)))
    who = np.repeat(np.arange(len(ids), dtype=np.int64), [len(i) for i in ids])
    return (prev.text(r["agent"]), who, np.concatenate(ids) if ids else np.empty(0, np.int64),
            np.concatenate(days) if days else np.empty(0, np.int8))


def _pairs_in(rows: tuple[np.ndarray, np.ndarray], among: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """For each (agent position, case id) of `rows`, whether `among` has it: as one integer per pair, or (ids past
    40 bits) by a join of the pairs."""
    if max((int(x.max()) for x in (rows[1], among[1]) if x.size), default=0) < 1 << 40:
        keys = [pl.Series((w << 40) | i) for w, i in (rows, among)]
        return keys[0].is_in(keys[1].implode()).to_numpy()
    a, b = (pl.DataFrame({"who": w, "case_id": i}) for w, i in (rows, among))
    hit = b.unique().with_columns(pl.lit(True).alias("_hit"))
    return a.join(hit, on=["who", "case_id"], how="left", maintain_order="left").get_column("_hit") \
        .is_not_null().to_numpy()


def _appended_first_last(prev: MonthSets, pairs: pl.DataFrame, out: _Blobs) -> None:
    """What _first_last gives on the previous version's pairs and the new days' `pairs` when every new day follows
    the previous version's days (a new day of an append-only source): an agent's cases new in the month go after
    its others ('f'), its cases seen again move to the end ('l'). The new rows are sorted, not the month's."""
    whole = pairs.group_by("case_id").agg(pl.col("first").min(), pl.col("last").max(),
                                          pl.lit(None, pl.String).alias("agent_id"))
    for grain, df, col in ((FIRST_AGENT, pairs, "first"), (LAST_AGENT, pairs, "last"),
                           (FIRST_ALL, whole, "first"), (LAST_ALL, whole, "last")):
        names, who, ids, days = _old_ordered(prev, grain)
        agents = sorted(set(names) | set(df.get_column("agent_id").unique().to_list()),
                        key=lambda a: (a is None, a or ""))  # as sort(nulls_last=True)
        at = {a: i for i, a in enumerate(agents)}
        who = np.array([at[a] for a in names], dtype=np.int64)[who] if names else who
        new = df.select(pl.col("agent_id").replace_strict(at, return_dtype=pl.Int64).alias("who"), "case_id",
                        pl.col(col).alias("day")).sort("who", "day", "case_id")
        n_who, n_ids, n_days = (new.get_column(c).to_numpy() for c in ("who", "case_id", "day"))
        # 'l': the old pairs seen again leave (their last day is the new one); 'f': the new pairs seen before
        # leave (their first day stays) — one membership test for all agents
        old_pairs, new_pairs = (who, ids), (n_who, n_ids)
        gone = _pairs_in(*(old_pairs, new_pairs) if col == "last" else (new_pairs, old_pairs))
        if col == "last":
            who, ids, days = who[~gone], ids[~gone], days[~gone]
        else:
            n_who, n_ids, n_days = n_who[~gone], n_ids[~gone], n_days[~gone]
        # each agent's old ids, then its new ones: a stable sort by agent of the two runs
        order = np.argsort(np.concatenate([who, n_who]), kind="stable")
        all_who = np.concatenate([who, n_who])[order]
        all_ids, all_days = np.concatenate([ids, n_ids])[order], np.concatenate([days, n_days])[order]
        cuts = np.searchsorted(all_who, np.arange(len(agents) + 1))
        blobs = [_ordered(all_ids[lo:hi], all_days[lo:hi]) for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)]
        keys = pl.DataFrame({"agent_id": agents}, schema={"agent_id": pl.String}) \
            if grain in (FIRST_AGENT, LAST_AGENT) else ONE_ROW
        out.add(grain, keys, [b for b, _ in blobs], np.diff(cuts).tolist(), [w for _, w in blobs])


def _prev_pairs(prev: MonthSets) -> pl.DataFrame:
    """(agent_id, case_id, first, last) back from a previous version's ordered grains."""
    parts = []
    for grain, col in ((FIRST_AGENT, "first"), (LAST_AGENT, "last")):
        names, who, ids, days = _old_ordered(prev, grain)
        agent = pl.Series(names, dtype=pl.String).gather(who) if names else pl.Series([], dtype=pl.String)
        parts.append(pl.DataFrame({"agent_id": agent, "case_id": ids, col: days}))
    return parts[0].join(parts[1], on=["agent_id", "case_id"], nulls_equal=True)


def month_sets(rows: pl.DataFrame, prev: MonthSets | None = None, days: Iterable[dt.date] | None = None) -> _Blobs:
    """One month's sets from its event rows (day, case_id, agent_id, bucket, product, region).

    `prev` is the previous version's month when only `days` were recomputed: its other days are kept and its
    month sets are united with the new rows' (an append-only source only adds cases), and so are the first and
    last days of each agent's cases."""
    rows = rows.select("day", "case_id", "agent_id", *CASE_DIMS)
    out = _Blobs()
    appended = False
    # day × agent sets from the rows; every coarser set is a union of those (roaring unions are cheap)
    day_agent = _bitmaps(rows, ["day", "agent_id"])
    pairs = summed(rows, ["agent_id", "case_id"], pl.col("day").min().dt.day().cast(pl.Int8).alias("first"),
                   pl.col("day").max().dt.day().cast(pl.Int8).alias("last"))
    dims = [_bitmaps(rows.select("case_id", pl.lit(d).alias("dim"), pl.col(d).alias("value")), ["dim", "value"])
            for d in CASE_DIMS]
    dims = (pl.concat([k for k, _ in dims]), [b for _, bms in dims for b in bms])
    day_all = _unite(*day_agent, ["day"])
    month_agent = _unite(*day_agent, ["agent_id"])
    month_all = _unite(*day_all, [])[1]
    grains = {DAY_AGENT: [*day_agent, []], DAY_ALL: [*day_all, []]}
    if prev is not None and days is not None:
        # the kept days' sets are copied as they are; the month's are united with the new days'
        redone = list(days)
        for grain, (keys, bms, raw) in grains.items():
            kept = prev.frame(grain).filter(~pl.col("day").is_in(redone))
            raw.extend(prev.raw(kept))
            grains[grain] = [pl.concat([kept.select(keys.columns), keys]), bms, raw]
        old = prev.frame(MONTH_AGENT)
        month_agent = _unite(pl.concat([old.select("agent_id"), month_agent[0]]), prev.bitmaps(old) + month_agent[1],
                             ["agent_id"])
        month_all = [union(prev.bitmaps(prev.frame(MONTH_ALL)) + month_all)]
        # the previous version's days all before the new rows' (a new day, not one read again): the fast path
        before, first_new = prev.days(prev.positions(DAY_ALL)), rows.get_column("day").min()
        appended = first_new is not None and (before.size == 0 or (first_new - EPOCH).days > int(before.max()))
        if not appended:
            pairs = pl.concat([_prev_pairs(prev), pairs]).group_by("agent_id", "case_id").agg(
                pl.col("first").min(), pl.col("last").max())
        old = prev.frame(MONTH_DIM)
        dims = _unite(pl.concat([old.select("dim", "value"), dims[0]]), prev.bitmaps(old) + dims[1],
                      ["dim", "value"])
    for grain, (keys, bms, raw) in grains.items():
        out.add(grain, keys, [r[0] for r in raw] + [_serialize(b) for b in bms],
                [r[1] for r in raw] + [len(b) for b in bms], [r[2] for r in raw] + [isinstance(b, BitMap64) for b in bms])
    out.bitmaps(MONTH_AGENT, *month_agent)
    out.bitmaps(MONTH_ALL, ONE_ROW, month_all)
    out.bitmaps(MONTH_DIM, *dims)
    if appended:  # set only when merging with a previous version
        _appended_first_last(prev, pairs, out)
    else:
        _first_last(pairs, out)
    return out



def write_month(version: Path, family: str, month: dt.date, sets: _Blobs) -> None:
    """Write one month's index and blob file (never through a hard link into the previous version)."""
    target = index_file(version, family, month)
    target.parent.mkdir(parents=True, exist_ok=True)
    sets.write(target)
