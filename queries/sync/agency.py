"""The agency vintages' rollup (queries.metrics.agency): placements from the month-end snapshots, payments while
held and commission from paid_case_days, moves — small cells in memory, the cases behind them on disk.

Built from the new version's own tables (its snapshots, paid_case_days, teams, agents and agency_fees), so an
incremental sync gives what a full one gives. The placements change only with the month-end snapshots, the teams,
the agents and the bucket bounds: while those stay as they were (a new day of payments), the previous version's
placements are kept and only the payments of the months the new days fall in are recomputed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl

from queries.dates import month_index, month_index_expr
from queries.metrics.agency import AGENCY, CELLS, IN_HOUSE, holders, rates
from queries.sync.context import SyncContext

#: One row per placement (the cases behind a vintage's denominator): the drill-down's keys.
PLACEMENTS = {"case_id": pl.Int64, "holder": pl.String, "kind": pl.String, "team_id": pl.String,
              "bucket": pl.String, "start": pl.Date, "cents": pl.Int64, "last": pl.Date, "next_kind": pl.String}
#: Payments while held, per placement and months since placement: n payments, cents, commission (fee, FEE_UNITS);
#: month is the payments' month (start + months_since), the file each row is in (one per payment month).
CASE_PAID = {"case_id": pl.Int64, "holder": pl.String, "kind": pl.String, "team_id": pl.String,
             "bucket": pl.String, "start": pl.Date, "months_since": pl.Int32, "n": pl.UInt32, "cents": pl.Int64,
             "fee": pl.Int64, "month": pl.Date}
KEYS = ["holder", "kind", "team_id", "bucket", "start"]
#: month-end snapshot rows one pass over a range of cases holds while its holdings are made: a full sync's
#: memory here is bounded by this, not by the history (13 month-ends of 5M cases would be ~18M rows at once)
CHUNK_SNAPSHOT_ROWS = 2_000_000


def month_end_snapshots(dates: list[dt.date]) -> dict[dt.date, dt.date]:
    """Month (first day) → the last snapshot dated in it."""
    out: dict[dt.date, dt.date] = {}
    for d in dates:
        m = d.replace(day=1)
        out[m] = max(out.get(m, d), d)
    return out


def case_ranges(path: Path, dates: list[dt.date], case_ids: pl.Series, rows: int | None = None
                ) -> list[tuple[int, int] | None]:
    """Inclusive case-id ranges (of the sorted `case_ids`) splitting the month-end snapshots' rows into about
    `rows` each (CHUNK_SNAPSHOT_ROWS); [None] (all cases at once) when they are fewer."""
    rows = rows or CHUNK_SNAPSHOT_ROWS
    files = [path / "base" / "snapshots" / f"{d.isoformat()}.parquet" for d in month_end_snapshots(dates).values()]
    total = pl.scan_parquet(files).select(pl.len()).collect().item() if files else 0
    k = -(-total // rows)
    if k <= 1 or case_ids.len() < k:
        return [None]
    cut = [int(case_ids[i * case_ids.len() // k]) for i in range(1, k)]
    return list(zip([-(2 ** 63), *cut], [c - 1 for c in cut] + [2 ** 63 - 1], strict=True))


def segments(path: Path, dates: list[dt.date], who: pl.DataFrame, bounds_expr: Callable[[pl.Expr], pl.Expr],
             cases: tuple[int, int] | None = None) -> pl.DataFrame:
    """One row per holding of consecutive month-ends by one holder: case_id, holder, kind, team_id, bucket, cents
    (at its first month-end), start, last (its first and last month), next_kind (the next holder's kind; null when
    the case left the snapshots) and placed (false for holdings of the first snapshot month). With `cases`
    (inclusive case-id bounds), of those cases only."""
    snaps = month_end_snapshots(dates)
    within = pl.col("case_id").is_between(*cases) if cases is not None else pl.lit(True)
    frames = [pl.scan_parquet(path / "base" / "snapshots" / f"{d.isoformat()}.parquet").filter(within)
              .select("case_id", "agent_id", "cents", "dpd", pl.lit(m).alias("month"))
              for m, d in sorted(snaps.items())]
    if not frames:
        return pl.DataFrame(schema={**{k: PLACEMENTS[k] for k in ("case_id", *KEYS, "cents")}, "last": pl.Date,
                                    "next_kind": pl.String, "placed": pl.Boolean})
    first = min(snaps)
    held = (pl.concat(frames).join(who.lazy(), on="agent_id", how="left")
            .with_columns(month_index_expr(pl.col("month")).alias("mi")).sort("case_id", "mi").collect())
    same_case = pl.col("case_id") == pl.col("case_id").shift(1)
    follows = same_case & (pl.col("mi") == pl.col("mi").shift(1) + 1)
    new_seg = ~follows | (pl.col("holder").ne_missing(pl.col("holder").shift(1)))
    held = held.with_columns(new_seg.alias("_start")).with_columns(
        pl.col("_start").shift(-1, fill_value=True).alias("_end"))
    # rows in (case, month) order: each segment's first row starts it and its last row ends it, one for one
    starts = held.filter(pl.col("_start")).select("case_id", "holder", "kind", "team_id", "dpd", "cents",
                                                  pl.col("month").alias("start"))
    ends = held.filter(pl.col("_end")).select(pl.col("month").alias("last"))
    segs = pl.concat([starts, ends], how="horizontal")
    nxt = (pl.col("case_id") == pl.col("case_id").shift(-1)) & \
        (month_index_expr(pl.col("start").shift(-1)) == month_index_expr(pl.col("last")) + 1)
    return segs.select("case_id", "holder", "kind", "team_id", bounds_expr(pl.col("dpd")).alias("bucket"), "cents",
                       "start", "last", pl.when(nxt).then(pl.col("kind").shift(-1)).alias("next_kind"),
                       (pl.col("start") > pl.lit(first)).alias("placed"))


def held_in(file: Path, months: set[dt.date]) -> pl.DataFrame:
    """The placements (PLACEMENTS rows) that payments or moves in `months` can concern: placed before the last of
    them, their last month-end no earlier than the month before the first (a new day reads a fraction of them)."""
    idx = [month_index(m) for m in months]
    start, last = month_index_expr(pl.col("start")), month_index_expr(pl.col("last"))
    return pl.scan_parquet(file).filter((start < max(idx)) & (last + 1 >= min(idx))).collect()


def _paid_while_held(path: Path, segs: pl.DataFrame, fees: pl.DataFrame | None,
                     months: set[dt.date] | None = None) -> pl.DataFrame:
    """Each placement's payments in the months after it while the holder still had the case at the previous
    month-end (of the payment `months` only; None: all): CASE_PAID (fee: commission in FEE_UNITS, an agency's payments
    × its team's rate in force on the payment's day, none before its first rate)."""
    folder = path / "paid_case_days"
    files = sorted(f for f in folder.glob("*.parquet") if not f.name.startswith("_")) if folder.is_dir() else []
    if months is not None:
        wanted = {f"{m:%Y-%m}" for m in months}
        files = [f for f in files if f.stem[:7] in wanted]
    if not files or segs.height == 0:
        return pl.DataFrame(schema=CASE_PAID)
    mi = month_index_expr(pl.col("day").dt.month_start())
    since = mi - month_index_expr(pl.col("start"))
    held = (since >= 1) & (mi <= month_index_expr(pl.col("last")) + 1)
    # the placements' cases only, before the join (a full sync passes one range of cases at a time)
    lo, hi = segs.get_column("case_id").min(), segs.get_column("case_id").max()
    pays = (pl.scan_parquet(files).select("case_id", "day", "n", "cents").filter(pl.col("case_id").is_between(lo, hi))
            .join(segs.lazy().select("case_id", *KEYS, "last"), on="case_id").filter(held)
            .with_columns(since.cast(pl.Int32).alias("months_since")).drop("last"))
    if fees is not None and fees.height:
        pays = pays.sort("day").join_asof(
            fees.lazy().select("team_id", pl.col("effective_from").alias("day"), "units"), on="day", by="team_id",
            strategy="backward", check_sortedness=False)  # both sorted by day
        fee = pl.when(pl.col("kind") == AGENCY).then(pl.col("cents") * pl.col("units").fill_null(0)).otherwise(0)
    else:
        fee = pl.lit(0, pl.Int64)
    return (pays.group_by("case_id", *KEYS, "months_since")
            .agg(pl.col("n").sum().cast(pl.UInt32), pl.col("cents").sum(), fee.sum().alias("fee"),
                 pl.col("day").first().dt.month_start().alias("month"))
            .select(*CASE_PAID).collect())


def vintage_cells(segs: pl.DataFrame, paid: pl.DataFrame) -> pl.DataFrame:
    """The cells the agency metrics sum (schema CELLS): per holder, team, bucket and placement month, the
    placements (months_since 0: placed cases, cents at placement) and per months since placement the payments
    while held (paid, fee) and the cases moved then (rec: recalled to in-house, tra: transferred to an agency)."""
    placed = segs.group_by(KEYS).agg(pl.len().cast(pl.UInt32).alias("placed"), pl.col("cents").sum()).with_columns(
        pl.lit(0, pl.Int32).alias("months_since"))
    return _cells([placed, _later(segs, paid)])


def updated_cells(cells: pl.DataFrame, segs: pl.DataFrame, paid: pl.DataFrame, months: set[dt.date]) -> pl.DataFrame:
    """The previous version's cells with those of payments in `months` made again (`paid`: those months' payments
    while held; the placements unchanged): what vintage_cells gives on all of them."""
    idx = [month_index(m) for m in months]
    hit = (pl.col("months_since") > 0) & (month_index_expr(pl.col("start")) + pl.col("months_since")).is_in(idx)
    # a move counts in the month after the holding's last month-end: the moves counted in `months`
    moved = segs.filter((month_index_expr(pl.col("last")) + 1).is_in(idx))
    return _cells([cells.filter(~hit), _later(moved, paid)])


def _later(segs: pl.DataFrame, paid: pl.DataFrame) -> pl.DataFrame:
    """The cells after placement: payments while held and the moves, by months since placement."""
    pays = paid.group_by(*KEYS, "months_since").agg(pl.col("cents").sum().alias("paid"), pl.col("fee").sum())
    moved = segs.filter(pl.col("next_kind").is_not_null()).group_by(
        *KEYS, (month_index_expr(pl.col("last")) + 1 - month_index_expr(pl.col("start"))).cast(pl.Int32)
        .alias("months_since")).agg(
        (pl.col("kind") == AGENCY).and_(pl.col("next_kind") == IN_HOUSE).sum().cast(pl.UInt32).alias("rec"),
        (pl.col("kind") == AGENCY).and_(pl.col("next_kind") == AGENCY).sum().cast(pl.UInt32).alias("tra"))
    return pays.join(moved, on=[*KEYS, "months_since"], how="full", coalesce=True)


def _cells(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Parts of cells in the CELLS schema, sorted."""
    out = pl.concat(parts, how="diagonal_relaxed")
    return out.select([pl.col(k).cast(v).fill_null(0) if k in ("placed", "cents", "paid", "fee", "rec", "tra")
                       else pl.col(k).cast(v) for k, v in CELLS.items()]).sort("holder", "start", "months_since")


def _unchanged(ctx: SyncContext) -> bool:
    """True when this version's placements are the previous version's: the same month-end snapshots, teams,
    agents and commission rates (the bucket bounds are, or the sync would be a full one)."""
    prev, path = ctx.prev, ctx.writer.path
    if prev is None or not all((prev / f"{n}.parquet").is_file() for n in ("agency_cells", "agency_placements")) \
            or not (prev / "agency_case_paid").is_dir():
        return False
    if sorted(f.stem for f in (prev / "base" / "snapshots").glob("*.parquet")) != [
            d.isoformat() for d in ctx.snapshot_dates]:
        return False
    for name in ("teams", "agents", "agency_fees"):
        a, b = prev / f"{name}.parquet", path / f"{name}.parquet"
        if a.is_file() != b.is_file() or (a.is_file() and not pl.read_parquet(a).equals(pl.read_parquet(b))):
            return False
    return True


def placements_kept(ctx: SyncContext) -> bool:
    """True when this sync keeps the previous version's placements and redoes only the months of its new days'
    payments (a small job, unlike rebuilding every placement from the month-end snapshots)."""
    return ctx.changed_days.get("payments") is not None and _unchanged(ctx)


def sync_agency(ctx: SyncContext, kept: bool | None = None) -> None:
    """agency_cells (memory), agency_placements and agency_case_paid (disk) from this version's tables; `kept`:
    placements_kept(ctx) when the caller has asked it already."""
    path = ctx.writer.path
    fees_file = path / "agency_fees.parquet"
    fees = rates(pl.read_parquet(fees_file)) if fees_file.is_file() else None
    days = ctx.changed_days.get("payments")
    if placements_kept(ctx) if kept is None else kept:
        ctx.writer.keep("agency_placements")
        if not days:
            ctx.writer.keep("agency_cells")
            ctx.writer.keep_parts("agency_case_paid", set())
            return
        # a new day of payments: the placements as they were, the payments of its months made again (their
        # files; the other months' files are kept)
        months = {d.replace(day=1) for d in days}
        segs = held_in(ctx.prev / "agency_placements.parquet", months)  # type: ignore[operator]
        paid = _paid_while_held(path, segs, fees, months)
        cells = updated_cells(pl.read_parquet(ctx.prev / "agency_cells.parquet"), segs, paid, months)  # type: ignore[operator]
        ctx.writer.keep_parts("agency_case_paid", {f"{m:%Y-%m}" for m in months})
    else:
        who = holders(pl.read_parquet(path / "teams.parquet"), pl.read_parquet(path / "agents.parquet"))
        seg_parts, paid_parts = [], []
        for cases in case_ranges(path, ctx.snapshot_dates, ctx.cases.get_column("case_id")):
            segs = segments(path, ctx.snapshot_dates, who, ctx.bounds.expr, cases).filter(pl.col("placed")) \
                .drop("placed")
            seg_parts.append(segs)
            paid_parts.append(_paid_while_held(path, segs, fees))
        segs, paid = pl.concat(seg_parts), pl.concat(paid_parts, how="vertical_relaxed")
        del seg_parts, paid_parts
        ctx.writer.put("agency_placements", segs.select(*PLACEMENTS).sort("holder", "start", "case_id"),
                       row_group_size=64_000)
        cells = vintage_cells(segs, paid)
    ctx.writer.put("agency_cells", cells)
    ctx.writer.put_parts("agency_case_paid", paid.sort("month", "holder", "start", "case_id"), date_col="month",
                         row_group_size=64_000)
