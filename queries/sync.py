"""Sync: extract from the case database by watermark, build rollups, reconcile, swap the store in."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import sqlalchemy as sa

from queries import schema as S
from queries.config import Settings
from queries.extract import Reader, cents, day_of, epoch_of
from queries.store import FORMAT_VERSION, StoreWriter, current_version, read_manifest
from queries.rules import DEFAULT_RULES, RuleSet, load_rules
from queries.schema import DEFAULT_BUCKETS, BucketBounds

CHUNK_ROWS = 1_000_000
MONTH_WORKERS = int(__import__("os").environ.get("CASES_SYNC_MONTH_WORKERS", "2"))
RECONCILE_DAYS = 7  # incremental syncs reconcile this many recent days (full syncs: all)

UNANSWERED = ("no_answer", "busy")
NOT_CONNECTED = ("no_answer", "busy", "wrong_number")
RPC_OUTCOMES = ("rpc", "ptp", "refused", "dispute", "hardship", "callback")
DIMS = ["agent_id", "bucket", "product", "region"]

US = pl.Datetime("us")
CASE_SCHEMA = {"case_id": pl.Int64, "product": pl.String, "region": pl.String, "placed_on": pl.Date,
               "placed_cents": pl.Int64, "placed_dpd": pl.Int64, "status": pl.String,
               "agent_id": pl.String, "updated_at": US}
SNAP_SCHEMA = {"case_id": pl.Int64, "dpd": pl.Int64, "cents": pl.Int64, "agent_id": pl.String}
PAY_SCHEMA = {"payment_id": pl.Int64, "case_id": pl.Int64, "agent_id": pl.String, "paid_at": US,
              "cents": pl.Int64}
CONTACT_SCHEMA = {"contact_id": pl.Int64, "case_id": pl.Int64, "agent_id": pl.String,
                  "contacted_at": US, "k": pl.Int32, "phone_no": pl.String}
PROMISE_SCHEMA = {"promise_id": pl.Int64, "case_id": pl.Int64, "agent_id": pl.String,
                  "promised_at": US, "due_on": pl.Date, "cents": pl.Int64, "status": pl.String,
                  "updated_at": US}
COMPLAINT_SCHEMA = {"complaint_id": pl.Int64, "case_id": pl.Int64, "agent_id": pl.String,
                    "received_at": US, "source": pl.String, "category": pl.String,
                    "severity": pl.String, "status": pl.String, "resolved_at": US,
                    "substantiated": pl.Boolean, "updated_at": US}


@dataclass
class SyncResult:
    """What one sync did: mode, rows read, seconds, and the reconciliation verdict."""

    full: bool
    store_path: Path
    seconds: float
    rows_read: dict[str, int] = field(default_factory=dict)
    reconciliation: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the store reconciles with the source."""
        return bool(self.reconciliation.get("ok"))

    def summary(self) -> str:
        """One line for a terminal."""
        rows = ", ".join(f"{k} {v:,}" for k, v in self.rows_read.items() if v)
        rec = "reconciled" if self.ok else f"MISMATCH on {len(self.reconciliation.get('mismatches', []))} day(s)"
        return f"{'full' if self.full else 'incremental'} sync in {self.seconds:.1f}s ({rows or 'no new rows'}); {rec}"


# ---------------------------------------------------------------- helpers


def bucket_expr(dpd: pl.Expr, bounds: BucketBounds) -> pl.Expr:
    """Bucket label of a DPD column."""
    labels = bounds.labels
    expr = pl.when(dpd <= bounds.upper[0]).then(pl.lit(labels[0]))
    for bound, label in zip(bounds.upper[1:], labels[1:], strict=False):
        expr = expr.when(dpd <= bound).then(pl.lit(label))
    return expr.otherwise(pl.lit(labels[-1]))


def month_index(col: pl.Expr) -> pl.Expr:
    """Months since year 0 of a date column (for month arithmetic)."""
    return col.dt.year().cast(pl.Int32) * 12 + col.dt.month().cast(pl.Int32) - 1


def _month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


def _next_month(d: dt.date) -> dt.date:
    return (d.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def _concat(frames: list[pl.DataFrame], schema: dict) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame(schema=schema)


class _Ctx:
    """State shared by one sync run: reader, writer, bounds, base tables of the previous version."""

    def __init__(self, reader: Reader, writer: StoreWriter, bounds: BucketBounds,
                 prev: Path | None, rules: RuleSet = DEFAULT_RULES) -> None:
        self.reader, self.writer, self.bounds, self.prev = reader, writer, bounds, prev
        self.rules = rules
        self.snap_cache: dict[dt.date, pl.DataFrame] = {}
        self._lk: _Lookup | None = None
        self.reader2: Reader | None = None
        self.id_limits: dict[str, int] = {}
        self.snapshot_dates: list[dt.date] = []
        self.cases: pl.DataFrame = pl.DataFrame(schema=CASE_SCHEMA)
        self.rows: dict[str, int] = {}

    def prev_frame(self, name: str) -> pl.DataFrame | None:
        if self.prev is None:
            return None
        file = self.prev / f"{name}.parquet"
        return pl.read_parquet(file) if file.is_file() else None

    def snapshot(self, day: dt.date, columns: tuple[str, ...] | None = None) -> pl.DataFrame:
        """One snapshot's base rows (case_id, dpd, cents, agent_id); with `columns`, read and not kept."""
        if day in self.snap_cache:
            return self.snap_cache[day] if columns is None else self.snap_cache[day].select(columns)
        file = self.writer.path / "base" / "snapshots" / f"{day.isoformat()}.parquet"
        if columns is not None:
            return pl.read_parquet(file, columns=list(columns))
        self.snap_cache[day] = pl.read_parquet(file)
        return self.snap_cache[day]

    def prev_snapshot_for(self, month: dt.date) -> dt.date | None:
        """The month-end snapshot before `month` (a snapshot dated in the previous month)."""
        prev_month = _month_start(month - dt.timedelta(days=1))
        cands = [d for d in self.snapshot_dates if prev_month <= d < month]
        return max(cands) if cands else None

    @property
    def lk(self) -> _Lookup:
        """Per-case attributes aligned to the cases table (built once the cases are synced)."""
        if self._lk is None:
            self._lk = _Lookup(self)
        return self._lk

    def attach(self, rows: pl.DataFrame, at: str) -> pl.DataFrame:
        """Add month, opening bucket, on_opening, product, region, placed info for each event row."""
        rows = rows.with_columns(pl.col(at).cast(pl.Date).dt.month_start().alias("month"))
        cols = ("product", "region", "placed_on", "placed_dpd", "case_agent_id")
        parts = [self.lk.attach(part, m, cols) for (m,), part in rows.group_by("month")]
        if not parts:
            parts = [self.lk.attach(rows, dt.date(1970, 1, 1), cols)]
        return self.lk.decode(pl.concat(parts))


class _Lookup:
    """Per-case attributes for attaching events without a join per chunk.

    Arrays are aligned to the (sorted) cases table by position, plus one last row for events of cases
    the cases table does not have (bucket of DPD 0, not on opening, product and region unknown).
    """

    def __init__(self, ctx: _Ctx) -> None:
        self.ctx = ctx
        cases = ctx.cases
        n = self.n = cases.height
        self.ids = cases.get_column("case_id").to_numpy()
        self.min = int(self.ids[0]) if n else 0
        self.dense: np.ndarray | None = None
        span = int(self.ids[-1]) - self.min + 1 if n else 0
        if n and span <= 4 * n + 1_000_000:  # case ids dense enough for a direct position table
            self.dense = np.full(span, n, dtype=np.int64)
            self.dense[self.ids - self.min] = np.arange(n, dtype=np.int64)
        static = cases.select(pl.col("product").cast(pl.Categorical), pl.col("region").cast(pl.Categorical),
                              "placed_on", "placed_dpd", pl.col("agent_id").alias("case_agent_id"))
        self.static = pl.concat([static, pl.DataFrame({c: [None] for c in static.columns}, schema=static.schema)])
        self.placed_dpd = np.append(cases.get_column("placed_dpd").fill_null(0).to_numpy(), 0)
        self.placed_month = np.append(
            cases.get_column("placed_on").dt.month_start().cast(pl.Int32).fill_null(-1).to_numpy(), -1)
        self.upper = np.asarray(ctx.bounds.upper)
        self.labels = list(ctx.bounds.labels)
        self.months: dict[dt.date, tuple[np.ndarray, np.ndarray, pl.DataFrame | None]] = {}

    def positions(self, case_id: pl.Series) -> np.ndarray:
        """Row of each case id in the cases table; n where the case is unknown."""
        c = case_id.to_numpy()
        n = self.n
        if n == 0:
            return np.zeros(len(c), dtype=np.int64)
        if self.dense is not None:
            idx = c - self.min
            ok = (idx >= 0) & (idx < len(self.dense))
            return np.where(ok, self.dense[np.where(ok, idx, 0)], n)
        p = np.searchsorted(self.ids, c)
        pc = np.minimum(p, n - 1)
        return np.where((p < n) & (self.ids[pc] == c), p, n)

    def month(self, m: dt.date) -> tuple[np.ndarray, np.ndarray, pl.DataFrame | None]:
        """(bucket code, on_opening) per case position for events in month m, and snapshot-only cases."""
        if m not in self.months:
            dpd = self.placed_dpd.copy()
            m_days = (m - dt.date(1970, 1, 1)).days
            opening = self.placed_month == m_days
            extra = None
            snap_day = self.ctx.prev_snapshot_for(m)
            if snap_day is not None:
                snap = self.ctx.snapshot(snap_day, ("case_id", "dpd", "cents"))
                p = self.positions(snap.get_column("case_id"))
                sd = snap.get_column("dpd")
                has_dpd = sd.is_not_null().to_numpy()
                sd = sd.fill_null(0).to_numpy()
                positive = (snap.get_column("cents").fill_null(0) > 0).to_numpy()
                found = p < self.n
                dpd[p[found & has_dpd]] = sd[found & has_dpd]
                opening[p[found & positive]] = True
                if not found.all():  # in a snapshot but not in the cases table
                    x = snap.filter(pl.Series(~found))
                    extra = x.select("case_id", bucket_expr(pl.coalesce("dpd", pl.lit(0)), self.ctx.bounds)
                                     .alias("x_bucket"), (pl.col("cents").fill_null(0) > 0).alias("x_open"))
                    extra = extra.with_columns(pl.col("x_bucket").replace_strict(
                        self.labels, list(range(len(self.labels))), return_dtype=pl.UInt8))
            codes = np.searchsorted(self.upper, dpd, side="left").astype(np.uint8)
            codes[self.n] = 0
            opening[self.n] = False
            self.months[m] = (codes, opening, extra)
        return self.months[m]

    def attach(self, rows: pl.DataFrame, m: dt.date, cols: tuple[str, ...]) -> pl.DataFrame:
        """Rows of month m with bucket (code), on_opening and the static columns `cols`."""
        codes, opening, extra = self.month(m)
        p = self.positions(rows.get_column("case_id"))
        idx = pl.Series(p, dtype=pl.UInt32)
        out = rows.with_columns(pl.Series("bucket", codes[p]), pl.Series("on_opening", opening[p]),
                                *[self.static.get_column(c).gather(idx) for c in cols])
        if extra is not None:
            out = out.join(extra, on="case_id", how="left").with_columns(
                pl.coalesce("x_bucket", "bucket").alias("bucket"),
                pl.coalesce("x_open", "on_opening").alias("on_opening")).drop("x_bucket", "x_open")
        return out

    def decode(self, df: pl.DataFrame) -> pl.DataFrame:
        """Bucket codes to labels, product and region to strings ('unknown' when the case is)."""
        exprs = []
        names = df.collect_schema().names() if isinstance(df, pl.LazyFrame) else df.columns
        if "bucket" in names and df.collect_schema()["bucket"] == pl.UInt8:
            exprs.append(pl.col("bucket").replace_strict(list(range(len(self.labels))), self.labels,
                                                         return_dtype=pl.String))
        for c in ("product", "region"):
            if c in names:
                exprs.append(pl.col(c).cast(pl.String).fill_null("unknown"))
        return df.with_columns(exprs) if exprs else df


# ---------------------------------------------------------------- dimensions and cases


def _sync_dims(ctx: _Ctx) -> dict:
    r = ctx.reader
    teams = r.read(sa.select(*S.teams.c), {c.name: pl.String for c in S.teams.c})
    agents = r.read(sa.select(*S.agents.c), {"agent_id": pl.String, "agent_name": pl.String,
                                              "team_id": pl.String, "hired_on": pl.Date,
                                              "left_on": pl.Date})
    ctx.writer.put("teams", teams)
    ctx.writer.put("agents", agents)
    has_targets = r.has_table("targets")
    if has_targets:
        targets = r.read(sa.select(S.targets.c.month, S.targets.c.team_id,
                                   cents(S.targets.c.target_amount).label("target_cents")),
                         {"month": pl.Date, "team_id": pl.String, "target_cents": pl.Int64})
        targets = targets.with_columns(pl.col("month").dt.month_start())
        ctx.writer.put("targets", targets)
    ctx.rows.update(teams=teams.height, agents=agents.height)
    return {"has_targets": has_targets}


def _case_select() -> sa.Select:
    c = S.cases.c
    return sa.select(c.case_id, c.product, c.region, c.placed_on, cents(c.placed_balance).label("placed_cents"),
                     c.placed_dpd, c.status, c.agent_id, c.updated_at)


def _sync_cases(ctx: _Ctx, wm: dict) -> set[dt.date]:
    """Refresh base cases; return placement months touched by changed cases."""
    prev = ctx.prev_frame("base/cases")
    since = wm.get("cases_updated_at")
    if prev is None or since is None:
        cases = ctx.reader.read(_case_select(), CASE_SCHEMA)
        changed = cases
        touched = set(cases.get_column("placed_on").dt.month_start().unique().to_list())
    else:
        stmt = _case_select().where(S.cases.c.updated_at >= dt.datetime.fromisoformat(since))
        changed = ctx.reader.read(stmt, CASE_SCHEMA)
        # updated_at >= watermark re-reads the last rows: drop those unchanged (compared on their ids only)
        same = prev.join(changed.select("case_id"), on="case_id", how="semi")
        changed = changed.join(same, on=list(CASE_SCHEMA), how="anti", nulls_equal=True)
        # only placement facts feed the opening balances; daily DPD/status updates do not
        placement = ["case_id", "product", "region", "placed_on", "placed_cents", "placed_dpd", "agent_id"]
        moved = changed.join(same.select(placement), on=placement, how="anti", nulls_equal=True)
        old = same.join(moved.select("case_id"), on="case_id", how="semi")
        touched = set(pl.concat([old.get_column("placed_on"), moved.get_column("placed_on")])
                      .dt.month_start().unique().to_list())
        if changed.height == 0:
            ctx.rows["cases"] = 0
            ctx.cases = prev
            ctx.writer.keep("base/cases")
            return touched
        cases = pl.concat([prev.join(changed.select("case_id"), on="case_id", how="anti"), changed])
    ctx.rows["cases"] = changed.height
    ctx.cases = cases.sort("case_id")
    ctx.writer.put("base/cases", ctx.cases)
    if ctx.cases.height:
        wm["cases_updated_at"] = ctx.cases.get_column("updated_at").max().isoformat()
    return touched


# ---------------------------------------------------------------- snapshots


def _sync_snapshots(ctx: _Ctx, wm: dict) -> set[dt.date]:
    """Copy new snapshots into base; return snapshot dates whose rollups must be rebuilt."""
    snap = S.balance_snapshots.c
    src = ctx.reader.read(sa.select(snap.snapshot_on).distinct(), {"snapshot_on": pl.Date})
    source_dates = sorted(src.get_column("snapshot_on").to_list())
    have = {dt.date.fromisoformat(d) for d in wm.get("snapshots", [])} if ctx.prev else set()
    new = [d for d in source_dates if d not in have]
    for d in source_dates:
        name = f"base/snapshots/{d.isoformat()}"
        if d in have and ctx.writer.keep(name):
            continue
        df = ctx.reader.read(
            sa.select(snap.case_id, snap.dpd, cents(snap.balance).label("cents"), snap.agent_id)
            .where(snap.snapshot_on == d), SNAP_SCHEMA)
        ctx.writer.put(name, df.sort("case_id"))
        ctx.rows["snapshot rows"] = ctx.rows.get("snapshot rows", 0) + df.height
        if d in have:  # file missing in the previous version: treat as new
            new.append(d)
    ctx.snapshot_dates = source_dates
    wm["snapshots"] = [d.isoformat() for d in source_dates]
    rebuild = set(new)
    for d in new:  # the snapshot after a new one gets a new "previous"
        later = [x for x in source_dates if x > d]
        if later:
            rebuild.add(min(later))
    return rebuild


def _snap_attached(ctx: _Ctx, d: dt.date) -> pl.DataFrame:
    """One snapshot with bucket code, product and region (categorical) per row."""
    snap = ctx.snapshot(d, ("case_id", "dpd", "cents", "agent_id"))
    lk = ctx.lk
    idx = pl.Series(lk.positions(snap.get_column("case_id")), dtype=pl.UInt32)
    return snap.with_columns(_bucket_code(lk, snap.get_column("dpd")).alias("bucket"),
                             lk.static.get_column("product").gather(idx), lk.static.get_column("region").gather(idx))


CLOSED = 255  # to_bucket code of a case absent at t or with balance 0


def _bucket_code(lk: _Lookup, dpd: pl.Series) -> pl.Series:
    """Bucket code of a DPD column (a null DPD falls in the last bucket, as bucket_expr has it)."""
    codes = np.searchsorted(lk.upper, dpd.fill_null(0).to_numpy(), side="left").astype(np.uint8)
    codes[dpd.is_null().to_numpy()] = len(lk.upper)
    return pl.Series(codes)


def _decode_buckets(lk: _Lookup, df: pl.DataFrame, cols: tuple[str, ...]) -> pl.DataFrame:
    keys = [*range(len(lk.labels)), CLOSED]
    vals = [*lk.labels, "closed"]
    return lk.decode(df.with_columns(pl.col(c).replace_strict(keys, vals, return_dtype=pl.String) for c in cols))


def _snapshot_rollups(ctx: _Ctx, rebuild: set[dt.date], touched_months: set[dt.date]) -> None:
    """balance_by_bucket and roll per snapshot; opening per month."""
    bal_parts, roll_parts = [], []
    attached: dict[dt.date, pl.DataFrame] = {}
    for i, d in enumerate(ctx.snapshot_dates):
        if d not in rebuild:
            continue
        lk = ctx.lk
        cur = attached.pop(d, None)
        if cur is None:
            cur = _snap_attached(ctx, d)
        bal_parts.append(_decode_buckets(lk, cur.group_by(DIMS).agg(pl.len().alias("n"), pl.col("cents").sum()),
                                         ("bucket",)).with_columns(pl.lit(d).alias("snapshot_on")))
        if i + 1 < len(ctx.snapshot_dates):
            attached = {d: cur}  # the next snapshot's "previous"
        if i == 0:
            continue
        p = ctx.snapshot_dates[i - 1]
        prev = _snap_attached(ctx, p).rename({"bucket": "from_bucket"})
        prev = prev.filter(pl.col("cents") > 0)  # a case already closed at t-1 does not roll
        trans = prev.join(cur.select("case_id", pl.col("bucket").alias("b_t"), pl.col("cents").alias("cents_t")),
                          on="case_id", how="left")
        to_bucket = (pl.when(pl.col("cents_t").is_null() | (pl.col("cents_t") <= 0))
                     .then(pl.lit(CLOSED, pl.UInt8)).otherwise(pl.col("b_t")))
        roll_parts.append(_decode_buckets(lk, (
            trans.with_columns(to_bucket.alias("to_bucket"))
            .group_by(["from_bucket", "to_bucket", "agent_id", "product", "region"])
            .agg(pl.len().alias("n"), pl.col("cents").sum())), ("from_bucket", "to_bucket"))
            .with_columns(pl.lit(d).alias("snapshot_on"), pl.lit(p).alias("prev_snapshot_on")))
    _replace_rows(ctx, "balance_by_bucket", bal_parts, "snapshot_on", rebuild,
                  {"agent_id": pl.String, "bucket": pl.String, "product": pl.String,
                   "region": pl.String, "n": pl.UInt32, "cents": pl.Int64, "snapshot_on": pl.Date})
    _replace_rows(ctx, "roll", roll_parts, "snapshot_on", rebuild,
                  {"from_bucket": pl.String, "to_bucket": pl.String, "agent_id": pl.String,
                   "product": pl.String, "region": pl.String, "n": pl.UInt32, "cents": pl.Int64,
                   "snapshot_on": pl.Date, "prev_snapshot_on": pl.Date})

    # opening balances: month m = snapshot before m (balance > 0) + cases placed during m
    months = set(touched_months)
    for d in rebuild:
        months.add(_next_month(d))
    if ctx.prev is None:
        months |= {_next_month(d) for d in ctx.snapshot_dates}
        months |= set(ctx.cases.get_column("placed_on").dt.month_start().unique().to_list())
    parts = []
    placed_all = ctx.cases.lazy().select(pl.col("placed_on").dt.month_start().alias("pm"), "agent_id",
                                  bucket_expr(pl.col("placed_dpd"), ctx.bounds).alias("bucket"),
                                  "product", "region", pl.col("placed_cents").alias("cents"))
    for m in sorted(months):
        snap_day = ctx.prev_snapshot_for(m)
        frames = []
        if snap_day is not None:
            s = _snap_attached(ctx, snap_day).filter(pl.col("cents") > 0)
            s = s.group_by(DIMS).agg(pl.len().alias("n"), pl.col("cents").sum())
            frames.append(_decode_buckets(ctx.lk, s, ("bucket",)))
        placed = placed_all.filter(pl.col("pm") == m).drop("pm").collect()
        frames.append(placed.group_by(DIMS).agg(pl.len().alias("n"), pl.col("cents").sum()))
        parts.append(pl.concat(frames, how="vertical_relaxed").group_by(DIMS).agg(
            pl.col("n").sum().cast(pl.UInt32), pl.col("cents").sum()).with_columns(
            pl.lit(m, dtype=pl.Date).alias("month")))
    _replace_rows(ctx, "opening", parts, "month", months,
                  {"agent_id": pl.String, "bucket": pl.String, "product": pl.String,
                   "region": pl.String, "n": pl.UInt32, "cents": pl.Int64, "month": pl.Date})
    ctx.snap_cache.clear()  # the event lookups read the columns they need themselves

    # placements (liquidation denominators): rebuilt from base cases when placement facts changed
    if ctx.prev is not None and not touched_months and ctx.writer.keep("placements") \
            and ctx.writer.keep("placements_agent"):
        return
    placements = ctx.cases.select(
        pl.col("placed_on").dt.month_start().alias("placed_month"), "agent_id",
        bucket_expr(pl.col("placed_dpd"), ctx.bounds).alias("bucket"), "product", "region",
        "placed_cents").group_by(["placed_month", *DIMS]).agg(
        pl.len().alias("n"), pl.col("placed_cents").sum().alias("cents"))
    ctx.writer.put("placements", placements.sort("placed_month"))
    ctx.writer.put("placements_agent", _coarse(placements, ("product", "region"), ["n", "cents"]).sort("placed_month"))


def _replace_rows(ctx: _Ctx, name: str, parts: list[pl.DataFrame], key: str, keys: set,
                  schema: dict) -> pl.DataFrame:
    """Previous table minus rows whose `key` is in `keys`, plus the new parts; written with its
    coarse twin (name_agent: without product and region)."""
    coarse_name = COARSE[name]
    if ctx.prev is not None and not keys and not any(p.height for p in parts):
        if ctx.writer.keep(name) and ctx.writer.keep(coarse_name):
            return pl.DataFrame(schema=schema)
    new = _concat(parts, schema)
    prev = ctx.prev_frame(name)
    if prev is not None and keys:
        prev = prev.filter(~pl.col(key).is_in(list(keys)))
    out = new if prev is None else _concat([prev, new.select(prev.columns) if new.height else new], schema)
    if out.height == 0:
        out = pl.DataFrame(schema=schema)
    out = out.sort(key)
    ctx.writer.put(name, out)
    sums = [c for c in ("n", "cents") if c in out.columns]
    ctx.writer.put(coarse_name, _coarse(out, ("product", "region"), sums).sort(key))
    return out


COARSE = {"balance_by_bucket": "balance_agent", "roll": "roll_agent", "opening": "opening_agent",
          "placements": "placements_agent"}


# ---------------------------------------------------------------- append-only events


class _Events:
    """Attached event rows of a sync, grouped by month: on disk (Arrow IPC) for a full sync, else in memory."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.mem: dict[dt.date, list[pl.DataFrame]] = {}
        self.files: dict[dt.date, list[Path]] = {}
        self.index: list[pl.DataFrame] = []
        self.count = 0
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def add(self, month: dt.date, df: pl.DataFrame) -> None:
        if df.height == 0:
            return
        self.count += 1
        if self.folder is None:
            self.mem.setdefault(month, []).append(df)
        else:
            f = self.folder / f"{month:%Y-%m}-{self.count:05d}.arrow"
            df.write_ipc(f, compression="lz4")
            self.files.setdefault(month, []).append(f)

    def months(self) -> list[dt.date]:
        return sorted({*self.mem, *self.files})

    def take(self, month: dt.date) -> pl.DataFrame:
        """All rows of the month (and forget them)."""
        if self.folder is None:
            return pl.concat(self.mem.pop(month), how="vertical_relaxed")
        files = self.files.pop(month)
        out = pl.concat([pl.read_ipc(f) for f in files], how="vertical_relaxed")
        for f in files:
            f.unlink()
        return out


def _read_events(ctx: _Ctx, table: sa.Table, id_col: str, select: sa.Select, schema: dict,
                 lo_exclusive: int, hi: int) -> Iterator[pl.DataFrame]:
    """Rows with lo < id <= hi, one id chunk at a time, in id order. Two connections read the next
    chunks while the current one is used (drivers and Polars release the GIL; SQLite is single-threaded
    per connection, so a second connection doubles the read rate on a multi-core machine)."""
    col = table.c[id_col]
    bounds = []
    start = lo_exclusive
    while start < hi:
        stop = min(start + CHUNK_ROWS, hi)
        bounds.append((start, stop))
        start = stop
    if not bounds:
        return
    readers = [ctx.reader]
    if len(bounds) > 2:
        if ctx.reader2 is None:
            ctx.reader2 = Reader(ctx.reader.url, prefer=ctx.reader.method)
        readers.append(ctx.reader2)
    with ThreadPoolExecutor(max_workers=len(readers)) as pool:
        ahead = []
        for i, (lo, hi_) in enumerate(bounds):
            if len(ahead) == len(readers):
                yield ahead.pop(0).result()
            # chunk i runs on reader i mod k; the chunk k before it on that reader has been taken
            ahead.append(pool.submit(readers[i % len(readers)].read, select.where(col > lo, col <= hi_), schema))
        for fut in ahead:
            yield fut.result()


def _affected(ctx: _Ctx, kind: str, table: sa.Table, id_col: str, ts: str, select: sa.Select,
              schema: dict, wm: dict, unit: str) -> tuple[Iterator[pl.DataFrame], set[dt.date] | None]:
    """Chunks of rows to (re)aggregate, and the days/months they replace (None = everything)."""
    col = table.c[id_col]
    hi = ctx.id_limits.get(kind)
    if hi is None:
        hi = ctx.id_limits[kind] = ctx.reader.scalar(sa.select(sa.func.max(col))) or 0
    last = wm.get(f"{kind}_id")
    index = ctx.prev_frame(f"base/{kind}_days")
    if ctx.prev is None or last is None or index is None:
        lo = (ctx.reader.scalar(sa.select(sa.func.min(col))) or 1) - 1
        wm[f"{kind}_id"] = hi
        return _read_events(ctx, table, id_col, select, schema, lo, hi), None
    new = list(_read_events(ctx, table, id_col, select, schema, last, hi))
    ctx.rows[kind] = sum(c.height for c in new)
    wm[f"{kind}_id"] = max(hi, last)
    if not ctx.rows[kind]:
        return iter(()), set()
    new_df = pl.concat(new)
    days = new_df.get_column(ts).cast(pl.Date)
    units = set((days.dt.month_start() if unit == "month" else days).unique().to_list())
    known = index.filter(pl.col("day") >= min(units)).get_column("min_id").min()
    lo = min(int(known) if known is not None else last + 1, last + 1) - 1
    older = list(_read_events(ctx, table, id_col, select, schema, lo, last)) if lo < last else []
    key = pl.col(ts).cast(pl.Date)
    if unit == "month":
        key = key.dt.month_start()
    return iter([r.filter(key.is_in(list(units))) for r in [*older, new_df]]), units


def _index_part(c: pl.DataFrame, id_col: str) -> pl.DataFrame:
    return c.group_by("day").agg(
        pl.col(id_col).min().alias("min_id"), pl.col(id_col).max().alias("max_id"), pl.len().alias("n"))


INDEX_SCHEMA = {"day": pl.Date, "min_id": pl.Int64, "max_id": pl.Int64, "n": pl.UInt32}


def _finish_index(ctx: _Ctx, kind: str, ev: _Events, units: set | None, unit: str) -> pl.DataFrame:
    idx = _concat(ev.index, INDEX_SCHEMA).group_by("day").agg(
        pl.col("min_id").min(), pl.col("max_id").max(), pl.col("n").sum())
    prev = ctx.prev_frame(f"base/{kind}_days")
    if units is not None and prev is not None:
        key = pl.col("day").dt.month_start() if unit == "month" else pl.col("day")
        idx = pl.concat([prev.filter(~key.is_in(list(units))), idx.select(prev.columns)], how="vertical_relaxed")
    idx = idx.sort("day")
    ctx.writer.put(f"base/{kind}_days", idx)
    return idx


def _collect_events(ctx: _Ctx, kind: str, chunks: Iterator[pl.DataFrame], ts: str, id_col: str,
                    prepare, cols: tuple[str, ...], full: bool) -> _Events:  # noqa: ANN001
    """Attach each chunk's rows (per month: opening bucket, product, region …) and keep them by month."""
    ev = _Events(ctx.writer.path / "_spill" / kind if full else None)
    n = 0
    for ch in chunks:
        if ch.height == 0:
            continue
        n += ch.height
        ch = prepare(ch.with_columns(pl.col(ts).cast(pl.Date).alias("day")))
        ev.index.append(_index_part(ch, id_col))
        ch = ch.with_columns(pl.col("day").dt.month_start().alias("month"))
        for (m,), part in ch.group_by("month"):
            ev.add(m, ctx.lk.attach(part.drop("month", id_col, ts), m, cols))
    if full:
        ctx.rows[kind] = n
    return ev


def _map_months(fn, months: list[dt.date]) -> list:  # noqa: ANN001
    """fn over the months, two at a time when there are several (Polars releases the GIL)."""
    if len(months) < 2 or MONTH_WORKERS < 2:
        return [fn(m) for m in months]
    with ThreadPoolExecutor(max_workers=MONTH_WORKERS) as pool:
        return list(pool.map(fn, months))


def _months_of(days: set[dt.date] | list[dt.date]) -> list[dt.date]:
    return sorted({_month_start(d) for d in days})


def _replace_months(ctx: _Ctx, name: str, new: pl.DataFrame, month_expr: pl.Expr, months: set[dt.date] | None,
                    sort: str) -> pl.DataFrame:
    """Previous in-memory rollup minus the given months, plus `new`; written out."""
    prev = ctx.prev_frame(name) if months is not None else None
    if prev is not None:
        prev = prev.filter(~month_expr.is_in(list(months)))
        new = pl.concat([prev, new.select(prev.columns)], how="vertical_relaxed")
    out = new.sort(sort)
    ctx.writer.put(name, out)
    return out


def _replace_days(ctx: _Ctx, name: str, new: pl.DataFrame, days: set[dt.date] | None) -> None:
    """A month-partitioned in-memory rollup: rewrite only the months holding recomputed days."""
    if days is None:
        ctx.writer.put_parts(name, new)
        return
    months = {_month_start(d) for d in days}
    ctx.writer.keep_parts(name, {f"{m:%Y-%m}" for m in months})
    for m in months:
        part = new.filter(pl.col("day").dt.month_start() == m)
        old = ctx.prev / name / f"{m:%Y-%m}.parquet" if ctx.prev is not None else None
        if old is not None and old.is_file():
            prev = pl.read_parquet(old).filter(~pl.col("day").is_in(list(days)))
            part = pl.concat([prev, part.select(prev.columns)], how="vertical_relaxed")
        ctx.writer.put_parts(name, part)
    ctx.writer.put_parts(name, new.head(0))


def _coarse(df: pl.DataFrame, drop: tuple[str, ...], sums: list[str]) -> pl.DataFrame:
    """The same rollup without some dimensions (product, region)."""
    keys = [c for c in df.columns if c not in sums and c not in drop]
    return df.group_by(keys).agg(pl.col(sums).sum())


PAY_SUMS = ["n", "cents", "opening_cents"]
PAY_FINE = {"day": pl.Date, **{k: pl.String for k in DIMS}, "n": pl.UInt32, "cents": pl.Int64,
            "opening_cents": pl.Int64}
LIQ_DAILY = {"day": pl.Date, "placed_month": pl.Date, "months_since": pl.Int32, **{k: pl.String for k in DIMS},
             "cents": pl.Int64}
#: paying accounts: one row per (day, case, agent) with payments — distinct counts over any period
PAY_CASE = {"day": pl.Date, "case_id": pl.Int64, **{k: pl.String for k in DIMS}, "n": pl.UInt32,
            "cents": pl.Int64}


def _day_keys(days: set[dt.date] | None) -> set[str]:
    return {d.isoformat() for d in days} if days else set()


def _payment_month(ctx: _Ctx, m: dt.date, a: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """One month's attached payment rows → payments_daily, liquidation_daily, paying_case_days."""
    lk = ctx.lk
    daily = a.group_by("day", *DIMS).agg(
        pl.len().alias("n"), pl.col("cents").sum(),
        pl.col("cents").filter(pl.col("on_opening")).sum().alias("opening_cents"))
    pm = pl.col("placed_on").dt.month_start()
    liq = a.filter(pl.col("placed_on").is_not_null()).group_by(
        "day", pm.alias("placed_month"),
        (pl.lit(month_index_of(m)) - month_index(pm)).cast(pl.Int32).alias("months_since"),
        pl.col("case_agent_id").alias("agent_id"),
        bucket_expr(pl.col("placed_dpd"), ctx.bounds).alias("bucket"), "product", "region",
    ).agg(pl.col("cents").sum())
    # bucket, product and region are the case's for the month: first() is exact
    paycase = a.group_by("day", "case_id", "agent_id").agg(
        pl.col("bucket", "product", "region").first(), pl.len().alias("n"), pl.col("cents").sum())
    return {"payments_daily": lk.decode(daily).select(*PAY_FINE),
            "liquidation_daily": lk.decode(liq).select(*LIQ_DAILY),
            "paying_case_days": lk.decode(paycase).select(*PAY_CASE)}


def month_index_of(d: dt.date) -> int:
    return d.year * 12 + d.month - 1


def _sync_payments(ctx: _Ctx, wm: dict) -> None:
    p = S.payments.c
    select = sa.select(p.payment_id, p.case_id, p.agent_id, epoch_of(p.paid_at).label("paid_at"),
                       cents(p.amount).label("cents"))
    chunks, days = _affected(ctx, "payments", S.payments, "payment_id", "paid_at", select, PAY_SCHEMA, wm, "day")
    parted = {"payments_daily": PAY_FINE, "liquidation_daily": LIQ_DAILY, "paying_case_days": PAY_CASE}
    if days is not None and not days:
        for name in ("liquidation_agent", "base/payments_days"):
            ctx.writer.keep(name)
        for name in (*parted, "payments_agent"):
            ctx.writer.keep_parts(name, set())
        return
    ev = _collect_events(ctx, "payments", chunks, "paid_at", "payment_id", lambda c: c,
                         ("product", "region", "placed_on", "placed_dpd", "case_agent_id"), days is None)
    idx = _finish_index(ctx, "payments", ev, days, "day")
    todo = _months_of(days if days is not None else idx.get_column("day").to_list())
    for name, schema in parted.items():
        ctx.writer.keep_parts(name, _day_keys(days))
        ctx.writer.put_parts(name, pl.DataFrame(schema=schema))
    have = set(ev.months())

    def month(m: dt.date) -> pl.DataFrame:
        out = _payment_month(ctx, m, ev.take(m))
        for name, df in out.items():
            ctx.writer.put_parts(name, df, schema_file=False)
        return _coarse(out["payments_daily"], ("product", "region"), PAY_SUMS)

    agent_parts = _map_months(month, [m for m in todo if m in have])
    liq_parts = []
    for m in todo:
        # the month's liquidation from all its days (the recomputed ones are now on disk)
        month_liq = pl.scan_parquet(sorted((ctx.writer.path / "liquidation_daily").glob(f"{m:%Y-%m}-??.parquet"))
                                    or [ctx.writer.path / "liquidation_daily" / "_schema.parquet"]).collect()
        liq_parts.append(_coarse(month_liq.drop("day"), ("product", "region"), ["cents"]))
    _replace_days(ctx, "payments_agent", _concat(agent_parts, {k: v for k, v in PAY_FINE.items()
                                                               if k not in ("product", "region")}), days)
    lschema = {k: v for k, v in LIQ_DAILY.items() if k not in ("day", "product", "region")}
    paid_month = pl.col("placed_month").dt.offset_by(pl.format("{}mo", pl.col("months_since")))
    _replace_months(ctx, "liquidation_agent", _concat(liq_parts, lschema), paid_month,
                    set(todo) if days is not None else None, "placed_month")


# bits of the `k` column computed in SQL, so that only integers cross the wire
B_ATTEMPT, B_CALL, B_CONNECTED, B_RPC, B_PTP, B_NO_CONSENT, B_UNANSWERED = 1, 2, 4, 8, 16, 32, 64
SUMS = ["n", "attempts", "connected", "rpc", "ptp", "messages"]
C_FINE = {"day": pl.Date, **{k: pl.String for k in DIMS}, **{k: pl.UInt32 for k in [*SUMS, "after_hours"]}}
C_HOURLY = {"day": pl.Date, "hour": pl.Int8, "agent_id": pl.String,
            **{k: pl.UInt32 for k in [*SUMS, "attempts_no_consent"]}}
C_CASE = {"day": pl.Date, "case_id": pl.Int64, **{k: pl.String for k in DIMS},
          "attempts": pl.UInt32, "calls": pl.UInt32, "connected_calls": pl.UInt32}
C_CALLDAY = {"day": pl.Date, "case_id": pl.Int64, **{k: pl.String for k in DIMS}, "calls": pl.UInt32,
             "connected_calls": pl.UInt32, "max_unanswered_phone": pl.UInt32}
C_WORKED = {k: v for k, v in C_CASE.items() if k not in ("calls", "connected_calls")}


def _contact_select() -> sa.Select:
    c = S.contacts.c
    attempt = c.channel.in_(S.ATTEMPT_CHANNELS)
    call = c.channel == "call"
    connected = sa.and_(attempt, c.outcome.not_in(NOT_CONNECTED))
    unanswered = sa.and_(call, c.outcome.in_(UNANSWERED))

    def bit(cond: sa.ColumnElement, value: int) -> sa.ColumnElement:
        return sa.case((cond, value), else_=0)

    k = (bit(attempt, B_ATTEMPT) + bit(call, B_CALL) + bit(connected, B_CONNECTED)
         + bit(sa.and_(attempt, c.party == "debtor", c.outcome.in_(RPC_OUTCOMES)), B_RPC)
         + bit(sa.and_(attempt, c.outcome == "ptp"), B_PTP)
         + bit(sa.and_(attempt, sa.not_(c.debtor_consent_after_hours)), B_NO_CONSENT)
         + bit(unanswered, B_UNANSWERED))
    return sa.select(c.contact_id, c.case_id, c.agent_id, epoch_of(c.contacted_at).label("contacted_at"),
                     k.label("k"), sa.case((unanswered, c.phone_no), else_=None).label("phone_no"))


def _contact_month(ctx: _Ctx, m: dt.date, a: pl.DataFrame, days: set[dt.date] | None,
                   breach: pl.Expr) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """One month's attached contact rows → every contact table of the month, each written as soon as it is
    made (the peak holds one of them, not all); returns the in-memory parts (agents, calls, worked total)."""
    lk = ctx.lk
    k = pl.col("k")

    def has(bit: int) -> pl.Expr:
        return (k & bit) > 0

    def put(name: str, df: pl.DataFrame, date_col: str = "day") -> None:
        ctx.writer.put_parts(name, df, date_col=date_col, schema_file=False)

    after = pl.col("hour").is_in(list(ctx.rules.after_hours()))
    sums = [pl.len().alias("n"), has(B_ATTEMPT).sum().alias("attempts"), has(B_CONNECTED).sum().alias("connected"),
            has(B_RPC).sum().alias("rpc"), has(B_PTP).sum().alias("ptp"), (~has(B_ATTEMPT)).sum().alias("messages")]
    fine = lk.decode(a.group_by("day", *DIMS).agg(*sums, (has(B_NO_CONSENT) & after).sum().alias("after_hours")))
    put("contacts_daily", fine.select(*C_FINE))
    agent_part = _coarse(fine.drop("product", "region"), (), [*SUMS, "after_hours"])
    del fine
    put("contacts_hourly", a.group_by("day", "hour", "agent_id").agg(
        *sums, has(B_NO_CONSENT).sum().alias("attempts_no_consent")).select(*C_HOURLY))
    phone = a.filter(has(B_UNANSWERED)).group_by("day", "case_id", "phone_no").agg(
        pl.len().alias("unanswered")).group_by("day", "case_id").agg(
        pl.col("unanswered").max().alias("max_unanswered_phone"))
    # bucket, product and region are the case's for the month: first() is exact
    case_days = lk.decode(a.filter(has(B_ATTEMPT)).group_by("day", "case_id", "agent_id").agg(
        pl.col("bucket", "product", "region").first(), pl.len().alias("attempts"), has(B_CALL).sum().alias("calls"),
        (has(B_CALL) & has(B_CONNECTED)).sum().alias("connected_calls")))
    del a
    # one row per (case, day) with calls; it belongs to the agent who made most of them (ties: lowest id)
    calls = case_days.filter(pl.col("calls") > 0).sort(
        ["day", "case_id", "calls", "agent_id"], descending=[False, False, True, False])
    call_days = calls.group_by(["day", "case_id"], maintain_order=True).agg(
        pl.col("agent_id", "bucket", "product", "region").first(),
        pl.col("calls").sum(), pl.col("connected_calls").sum(),
    ).join(phone, on=["day", "case_id"], how="left").with_columns(
        pl.col("max_unanswered_phone").fill_null(0).cast(pl.UInt32)).select(*C_CALLDAY)
    del calls, phone
    put("call_case_days", call_days)
    call_part = call_days.group_by("day", "agent_id", "bucket").agg(
        pl.len().alias("case_days"), breach.sum().alias("breaches"))
    del call_days
    worked = case_days.select(*C_WORKED)
    del case_days
    put("worked_case_days", worked)
    # distinct (case, agent, …) of the month: the days kept plus the days recomputed
    wm_rows = worked.select(pl.lit(m).alias("month"), "case_id", *DIMS)
    del worked
    prev_wm = ctx.prev / "worked_months" / f"{m:%Y-%m}.parquet" if ctx.prev is not None else None
    if days is not None and prev_wm is not None and prev_wm.is_file():
        wm_rows = pl.concat([pl.read_parquet(prev_wm), wm_rows], how="vertical_relaxed")
    wm_rows = wm_rows.unique()
    put("worked_months", wm_rows, "month")
    total = pl.DataFrame({"month": [m], "cases": [wm_rows.get_column("case_id").n_unique()]},
                         schema={"month": pl.Date, "cases": pl.UInt32})
    return agent_part, call_part, total


def _prepare_contacts(c: pl.DataFrame) -> pl.DataFrame:
    return c.with_columns(pl.col("contacted_at").dt.hour().cast(pl.Int8).alias("hour"), pl.col("k").cast(pl.UInt8))


def _sync_contacts(ctx: _Ctx, wm: dict) -> None:
    chunks, days = _affected(ctx, "contacts", S.contacts, "contact_id", "contacted_at", _contact_select(),
                             CONTACT_SCHEMA, wm, "day")
    parted = {"contacts_daily": C_FINE, "contacts_hourly": C_HOURLY, "worked_case_days": C_WORKED,
              "call_case_days": C_CALLDAY}
    if days is not None and not days:
        for name in ("worked_month_total", "base/contacts_days"):
            ctx.writer.keep(name)
        for name in (*parted, "worked_months", "contacts_agent", "calls_agent"):
            ctx.writer.keep_parts(name, set())
        return
    ev = _collect_events(ctx, "contacts", chunks, "contacted_at", "contact_id", _prepare_contacts, (
        "product", "region"), days is None)
    idx = _finish_index(ctx, "contacts", ev, days, "day")
    todo = _months_of(days if days is not None else idx.get_column("day").to_list())
    for name, schema in parted.items():
        ctx.writer.keep_parts(name, _day_keys(days))
        ctx.writer.put_parts(name, pl.DataFrame(schema=schema))
    ctx.writer.keep_parts("worked_months", {f"{m:%Y-%m}" for m in todo})
    wm_schema = {"month": pl.Date, "case_id": pl.Int64, **{k: pl.String for k in DIMS}}
    ctx.writer.put_parts("worked_months", pl.DataFrame(schema=wm_schema), date_col="month")
    lim_u, lim_c = ctx.rules.max_unanswered_per_phone_day, ctx.rules.max_connected_per_case_day
    breach = (pl.col("max_unanswered_phone") > lim_u) | (pl.col("connected_calls") > lim_c)

    def month(m: dt.date) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        return _contact_month(ctx, m, ev.take(m), days, breach)

    have = set(ev.months())
    results = _map_months(month, [m for m in todo if m in have])
    agent_parts, call_parts, totals = (list(x) for x in zip(*results, strict=True)) if results else ([], [], [])
    aschema = {k: v for k, v in C_FINE.items() if k not in ("product", "region")}
    _replace_days(ctx, "contacts_agent", _concat(agent_parts, aschema), days)
    _replace_days(ctx, "calls_agent", _concat(call_parts, {"day": pl.Date, "agent_id": pl.String,
                                                           "bucket": pl.String, "case_days": pl.UInt32,
                                                           "breaches": pl.UInt32}), days)
    _replace_months(ctx, "worked_month_total", _concat(totals, {"month": pl.Date, "cases": pl.UInt32}),
                    pl.col("month"), set(todo) if days is not None else None, "month")


# ---------------------------------------------------------------- mutable tables


PROMISE_BASE = {**PROMISE_SCHEMA, "bucket": pl.String, "product": pl.String, "region": pl.String}


def _sync_promises(ctx: _Ctx, wm: dict) -> None:
    p = S.promises.c
    select = sa.select(p.promise_id, p.case_id, p.agent_id, p.promised_at, p.due_on,
                       cents(p.amount).label("cents"), p.status, p.updated_at)
    prev_file = ctx.prev / "base" / "promises.parquet" if ctx.prev is not None else None
    since = wm.get("promises_updated_at")
    incremental = prev_file is not None and prev_file.is_file() and since is not None
    if incremental:
        select = select.where(p.updated_at >= dt.datetime.fromisoformat(since))
    changed = ctx.reader.read(select, PROMISE_SCHEMA)
    if incremental:  # updated_at >= watermark re-reads the last rows: drop those unchanged
        ids = changed.get_column("promise_id").unique()
        same = pl.scan_parquet(prev_file).filter(pl.col("promise_id").is_in(ids.implode())).select(
            *PROMISE_SCHEMA).collect()
        changed = changed.join(same, on=list(PROMISE_SCHEMA), how="anti", nulls_equal=True)
    ctx.rows["promises"] = changed.height
    if incremental and changed.height == 0:
        for name in ("base/promises", "promises_daily", "promises_agent"):
            ctx.writer.keep(name)
        return
    prev = pl.read_parquet(prev_file) if incremental else None
    changed = ctx.attach(changed, "promised_at").select(*PROMISE_BASE) if changed.height else \
        pl.DataFrame(schema=PROMISE_BASE)
    days = None
    if incremental:
        old = prev.join(changed.select("promise_id"), on="promise_id", how="semi")
        days = set(pl.concat([old.get_column("due_on"), changed.get_column("due_on")]).unique().to_list())
        base = pl.concat([prev.join(changed.select("promise_id"), on="promise_id", how="anti"),
                          changed.select(prev.columns)], how="vertical_relaxed")
    else:
        base = changed
    ctx.writer.put("base/promises", base)
    if base.height:
        wm["promises_updated_at"] = base.get_column("updated_at").max().isoformat()
    src = base if days is None else base.filter(pl.col("due_on").is_in(list(days)))
    daily = src.group_by(pl.col("due_on").alias("day"), "status", *DIMS).agg(
        pl.len().alias("n"), pl.col("cents").sum())
    for name, df in (("promises_daily", daily), ("promises_agent", _coarse(daily, ("product", "region"),
                                                                           ["n", "cents"]))):
        prev_df = ctx.prev_frame(name) if days is not None else None
        if prev_df is not None:
            df = pl.concat([prev_df.filter(~pl.col("day").is_in(list(days))), df.select(prev_df.columns)],
                           how="vertical_relaxed")
        ctx.writer.put(name, df.sort("day"))


COMPLAINT_STORE = {"complaint_id": pl.Int64, "case_id": pl.Int64, "day": pl.Date, **{k: pl.String for k in DIMS},
                   "received_at": US, "source": pl.String, "category": pl.String, "severity": pl.String,
                   "status": pl.String, "resolved_at": US, "substantiated": pl.Boolean, "updated_at": US}


def _sync_complaints(ctx: _Ctx) -> None:
    """Complaints are few: read them all, but work out the bucket only for new or changed ones."""
    rows = ctx.reader.read(sa.select(*S.complaints.c), COMPLAINT_SCHEMA)
    prev = ctx.prev_frame("complaints")
    same = pl.DataFrame(schema=COMPLAINT_STORE)
    if prev is not None and "updated_at" in prev.columns:
        same = prev.join(rows.select("complaint_id", "updated_at"), on=["complaint_id", "updated_at"], how="semi")
        rows = rows.join(same.select("complaint_id"), on="complaint_id", how="anti")
    ctx.rows["complaints"] = rows.height
    if rows.height:
        rows = ctx.attach(rows, "received_at").with_columns(pl.col("received_at").cast(pl.Date).alias("day"))
        rows = rows.select(*COMPLAINT_STORE)
    else:
        rows = pl.DataFrame(schema=COMPLAINT_STORE)
    ctx.writer.put("complaints", pl.concat([same.select(*COMPLAINT_STORE), rows], how="vertical_relaxed").sort("day"))


# ---------------------------------------------------------------- reconciliation


CHECKS = {  # table, day column, money column, id column, store table, count column, cents column
    "payments": (S.payments, "paid_at", "amount", "payment_id", "payments_agent", "n", "cents"),
    "contacts": (S.contacts, "contacted_at", None, "contact_id", "contacts_agent", "n", None),
    "promises": (S.promises, "due_on", "amount", None, "promises_daily", "n", "cents"),
    "complaints": (S.complaints, "received_at", None, None, "complaints", None, None),
}


def source_day_totals(reader: Reader, name: str, since: dt.date | None = None,
                      id_limit: int | None = None) -> pl.DataFrame:
    """Per-day count (and cents) of one table, GROUP BY pushed down; append-only tables up to an id."""
    table, ts_name, amount_name, id_name, *_ = CHECKS[name]
    ts = table.c[ts_name]
    day = ts if isinstance(ts.type, sa.Date) else day_of(ts)
    cols = [day.label("day"), sa.func.count().label("n")]
    if amount_name:
        cols.append(sa.cast(sa.func.sum(cents(table.c[amount_name])), sa.BigInteger).label("cents"))  # PG: numeric
    stmt = sa.select(*cols).group_by(day)
    if since is not None:
        stmt = stmt.where(ts >= (since if isinstance(ts.type, sa.Date) else dt.datetime.combine(since, dt.time())))
    if id_limit is not None and id_name:
        # rows arriving while the sync runs are beyond the watermark on both sides: no false alarms
        stmt = stmt.where(table.c[id_name] <= id_limit)
    return reader.read(stmt, {"day": pl.Date, "n": pl.Int64, **({"cents": pl.Int64} if amount_name else {})})


def reconcile(reader: Reader, version: Path, since: dt.date | None = None,
              id_limits: dict[str, int] | None = None, source: dict[str, pl.DataFrame] | None = None) -> dict:
    """Per-day counts and cent totals, source (GROUP BY pushed down) vs store; list mismatches."""
    mismatches: list[dict] = []
    checked = {}
    for name, (_t, _ts, _a, _id, store_name, n_col, cents_col) in CHECKS.items():
        src = (source or {}).get(name)
        if src is None:
            src = source_day_totals(reader, name, since, (id_limits or {}).get(name))
        keys = [k for k in src.columns if k != "day"]
        folder = version / store_name
        st = pl.read_parquet(sorted(folder.glob("*.parquet"))) if folder.is_dir() \
            else pl.read_parquet(version / f"{store_name}.parquet")
        aggs = [(pl.col(n_col).sum() if n_col else pl.len()).cast(pl.Int64).alias("n")]
        if cents_col:
            aggs.append(pl.col(cents_col).sum().cast(pl.Int64).alias("cents"))
        st = st.group_by("day").agg(aggs)
        if since is not None:
            st = st.filter(pl.col("day") >= since)
        j = src.join(st, on="day", how="full", coalesce=True, suffix="_store").fill_null(0)
        bad = j.filter(pl.any_horizontal([pl.col(k) != pl.col(f"{k}_store") for k in keys]))
        for row in bad.sort("day").iter_rows(named=True):
            mismatches.append({"table": name, "day": row["day"].isoformat(),
                               "source": {k: row[k] for k in keys},
                               "store": {k: row[f"{k}_store"] for k in keys}})
        checked[name] = j.height
    return {"ok": not mismatches, "since": since.isoformat() if since else None,
            "days_checked": checked, "mismatches": mismatches[:200],
            "mismatch_count": len(mismatches)}


def _early_totals(url: str, reader_method: str, since: dt.date | None,
                  id_limits: dict[str, int]) -> dict[str, pl.DataFrame]:
    """The append-only tables' source totals, on a second connection while the sync works."""
    with Reader(url, prefer=reader_method) as r:
        return {name: source_day_totals(r, name, since, id_limits[name]) for name in ("payments", "contacts")}


# ---------------------------------------------------------------- entry point


def _resolve(settings_or_url: Settings | str, store_dir: str | Path | None) -> tuple[str, Path]:
    if isinstance(settings_or_url, Settings):
        return settings_or_url.source_url, Path(store_dir or settings_or_url.store_dir)
    if store_dir is None:
        raise ValueError("store_dir is required when a URL is given")
    return str(settings_or_url), Path(store_dir)


def run_sync(settings_or_url: Settings | str, store_dir: str | Path | None = None, full: bool = False,
             *, bounds: BucketBounds = DEFAULT_BUCKETS, reconcile_days: int | None = RECONCILE_DAYS,
             reader_method: str | None = None, rules: RuleSet | None = None) -> SyncResult:
    """Sync the store from the case database (incrementally unless `full`); swap it in atomically."""
    t0 = time.perf_counter()
    rules = rules or load_rules()
    url, store_dir = _resolve(settings_or_url, store_dir)
    manifest_prev = None if full else read_manifest(store_dir)
    if manifest_prev and (manifest_prev.get("format") != FORMAT_VERSION
                          or tuple(manifest_prev.get("bucket_upper", ())) != bounds.upper
                          or manifest_prev.get("source") != _safe_url(url)
                          or manifest_prev.get("after_hours") != list(rules.after_hours())
                          or manifest_prev.get("limits") != [rules.max_unanswered_per_phone_day,
                                                             rules.max_connected_per_case_day]):
        manifest_prev = None  # another source, bounds or format: rebuild from scratch
    is_full = manifest_prev is None
    wm: dict = dict(manifest_prev["watermarks"]) if manifest_prev else {}
    with Reader(url, prefer=reader_method) as reader:
        writer = StoreWriter(store_dir)
        prev = None if is_full else current_version(store_dir)
        ctx = _Ctx(reader, writer, bounds, prev, rules)
        timings: dict[str, float] = {}
        peaks: dict[str, int] = {}

        def timed(name: str, fn, *args):  # noqa: ANN001, ANN002, ANN202
            t = time.perf_counter()
            out = fn(*args)
            timings[name] = round(time.perf_counter() - t, 3)
            peaks[name] = _peak_rss_mb()
            return out

        pool = ThreadPoolExecutor(max_workers=1)
        try:
            # the source side of the append-only tables' reconciliation runs on a second connection while
            # the sync works, bounded by the max ids read now; an incremental sync checks from the last
            # `reconcile_days` before the previous data_as_of (the new one is not earlier)
            for kind, table, id_col in (("payments", S.payments, "payment_id"),
                                        ("contacts", S.contacts, "contact_id")):
                ctx.id_limits[kind] = reader.scalar(sa.select(sa.func.max(table.c[id_col]))) or 0
            early_since = None
            prev_as_of = manifest_prev.get("data_as_of") if manifest_prev else None
            if not is_full and reconcile_days is not None and prev_as_of:
                early_since = dt.date.fromisoformat(prev_as_of) - dt.timedelta(days=reconcile_days)
            early = pool.submit(_early_totals, url, reader.method, early_since, dict(ctx.id_limits))
            meta = timed("dims", _sync_dims, ctx)
            touched = timed("cases", _sync_cases, ctx, wm)
            rebuild = timed("snapshots", _sync_snapshots, ctx, wm)
            timed("snapshot_rollups", _snapshot_rollups, ctx, rebuild, touched)
            timed("payments", _sync_payments, ctx, wm)
            timed("contacts", _sync_contacts, ctx, wm)
            timed("promises", _sync_promises, ctx, wm)
            timed("complaints", _sync_complaints, ctx)
            shutil.rmtree(writer.path / "_spill", ignore_errors=True)
            days = pl.concat([pl.read_parquet(writer.path / f"base/{k}_days.parquet").select("day")
                              for k in ("payments", "contacts")])
            as_of = days.get_column("day").max()
            since = None
            if not is_full and reconcile_days is not None and as_of is not None:
                since = as_of - dt.timedelta(days=reconcile_days)
            source = early.result()
            if since is not None and early_since is not None and since >= early_since:
                source = {k: v.filter(pl.col("day") >= since) for k, v in source.items()}
            elif since != early_since:
                source = None  # the early read does not cover the period: read it again
            rec = timed("reconcile", reconcile, reader, writer.path, since, dict(ctx.id_limits), source)
            manifest = {
                "format": FORMAT_VERSION, "source": _safe_url(url), "backend": reader.kind,
                "reader": reader.method, "synced_at": dt.datetime.now().isoformat(timespec="seconds"),
                "full": is_full, "bucket_upper": list(bounds.upper),
                "rules": rules.version, "after_hours": list(rules.after_hours()),
                "limits": [rules.max_unanswered_per_phone_day, rules.max_connected_per_case_day],
                "data_as_of": as_of.isoformat() if as_of else None, "watermarks": wm,
                "rows_read": ctx.rows, "timings_s": timings, "peak_rss_mb_after": peaks,
                "reconciliation": rec, **meta,
            }
            path = writer.commit(manifest)
        except BaseException:
            writer.abort()
            raise
        finally:
            pool.shutdown(wait=True)
            if ctx.reader2 is not None:
                ctx.reader2.close()
    return SyncResult(full=is_full, store_path=path, seconds=time.perf_counter() - t0,
                      rows_read=ctx.rows, reconciliation=rec)


def _peak_rss_mb() -> int:
    """Peak resident memory of this process so far, in MB (0 where the platform has no getrusage)."""
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    except (ImportError, OSError):
        return 0


def _safe_url(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)
