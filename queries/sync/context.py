"""State shared by one sync run, and the attach engine: each event row gets its case's opening bucket,
product, region and placement by the case's position in the sorted cases table (numpy, no join per chunk)."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy as sa

from queries.buckets import BucketBounds
from queries.compliance.rules import DEFAULT_RULES, RulePack, RuleSet, load_pack
from queries.dates import month_start
from queries.source.reader import Reader
from queries.store import StoreWriter

#: Bits of a contact's `k` (computed in SQL by the contacts stage, read by the compliance stage too).
B_ATTEMPT, B_CALL, B_CONNECTED, B_RPC, B_PTP, B_NO_CONSENT, B_UNANSWERED = 1, 2, 4, 8, 16, 32, 64
#: The dimensions of the fine rollups (besides the day).
DIMS = ["agent_id", "bucket", "product", "region"]

US = pl.Datetime("us")
#: base/cases: the case columns the store keeps (updated_at only moves the watermark: see sync_cases)
CASE_SCHEMA = {"case_id": pl.Int64, "product": pl.String, "region": pl.String, "placed_on": pl.Date,
               "placed_cents": pl.Int64, "placed_dpd": pl.Int64, "status": pl.String,
               "agent_id": pl.String}
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


def latest_stamp(rows: pl.DataFrame, since: str | None) -> str | None:
    """A mutable table's new watermark: the latest updated_at of the rows read, never earlier than `since`."""
    top = rows.get_column("updated_at").max()
    if top is None:
        return since
    top = top.isoformat()
    return top if since is None or top > since else since


def stamp_now(reader: Reader, updated_at: sa.ColumnElement) -> str | None:
    """A mutable table's latest updated_at now, as latest_stamp writes it: the furthest its watermark may move when
    its rows are read in several statements, which see the table at different moments (a row stamped meanwhile
    is then read again by the next sync, never passed over)."""
    return latest_stamp(reader.read(sa.select(sa.func.max(updated_at).label("updated_at")), {"updated_at": US}), None)


def capped(stamp: str | None, until: str | None) -> str | None:
    """A watermark no later than `until` (stamp_now before the reads); None when the table had no rows then."""
    return min(stamp, until) if stamp and until else None


def concat(frames: list[pl.DataFrame], schema: dict) -> pl.DataFrame:
    """The non-empty frames stacked, or an empty frame of `schema`."""
    frames = [f for f in frames if f.height]
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame(schema=schema)


class SyncContext:
    """State shared by one sync run: reader, writer, bounds, base tables of the previous version."""

    def __init__(self, reader: Reader, writer: StoreWriter, bounds: BucketBounds,
                 prev: Path | None, rules: RuleSet = DEFAULT_RULES, month_workers: int = 2,
                 pack: RulePack | None = None) -> None:
        self.reader, self.writer, self.bounds, self.prev = reader, writer, bounds, prev
        self.rules = rules
        self.pack = pack or load_pack()
        self.compliance: Any = None  # queries.sync.compliance.Compliance, set by the stage's prepare()
        self.month_workers = month_workers
        self.snap_cache: dict[dt.date, pl.DataFrame] = {}
        # the case lookup, built once for this context and its branches (a one-item list they share)
        self._lk: list[CaseLookup | None] = [None]
        self._lk_lock = threading.Lock()
        self.reader2: Reader | None = None
        self.id_limits: dict[str, int] = {}
        self.snapshot_dates: list[dt.date] = []
        self.cases: pl.DataFrame = pl.DataFrame(schema=CASE_SCHEMA)
        self.rows: dict[str, int] = {}
        #: the days an incremental sync recomputed, per event kind (None: a full sync; absent: not synced yet)
        self.changed_days: dict[str, set[dt.date] | None] = {}

    def second_reader(self) -> Reader:
        """A second connection to the source (opened on first use, closed with the sync)."""
        if self.reader2 is None:
            self.reader2 = self.reader.another()
        return self.reader2

    def read_halves(self, stmt: sa.Select, col: sa.ColumnElement, cut: int | None, schema: dict) -> pl.DataFrame:
        """One select read as two halves (col < cut on this connection, col >= cut on the second) at once: the
        source's work on two cores (SQLite runs one statement on one); whole when `cut` is None."""
        if cut is None:
            return self.reader.read(stmt, schema)
        return pl.concat(self.read_many([stmt.where(col < cut), stmt.where(col >= cut)], schema),
                         how="vertical_relaxed")

    def read_many(self, stmts: list[sa.Select], schema: dict) -> list[pl.DataFrame]:
        """Several selects, the first half on this connection and the rest on the second at the same time; the
        frames in the order of `stmts`."""
        if len(stmts) < 2:
            return [self.reader.read(s, schema) for s in stmts]
        half = (len(stmts) + 1) // 2
        with ThreadPoolExecutor(max_workers=1) as pool:
            second = self.second_reader()
            upper = pool.submit(lambda: [second.read(s, schema) for s in stmts[half:]])
            lower = [self.reader.read(s, schema) for s in stmts[:half]]
            return lower + upper.result()

    def prev_frame(self, name: str) -> pl.DataFrame | None:
        """A table of the previous version (None on a full sync or when it has none)."""
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
        prev_month = month_start(month - dt.timedelta(days=1))
        cands = [d for d in self.snapshot_dates if prev_month <= d < month]
        return max(cands) if cands else None

    @property
    def lk(self) -> CaseLookup:
        """Per-case attributes aligned to the cases table (built once the cases are synced)."""
        with self._lk_lock:
            if self._lk[0] is None:
                # built on whichever context asks first, a branch included: it reads the store, never the source
                self._lk[0] = CaseLookup(self)
            return self._lk[0]

    @contextlib.contextmanager
    def branch(self) -> Iterator[SyncContext]:
        """This context on a connection of its own, for a stage run on another thread beside the next one: the
        same writer, cases, case lookup and counts (stages that write different tables); closed on leaving."""
        side = copy.copy(self)
        side.reader, side.reader2 = self.reader.another(), None
        try:
            yield side
        finally:
            for r in (side.reader, side.reader2):
                if r is not None:
                    r.close()

    def attach(self, rows: pl.DataFrame, at: str) -> pl.DataFrame:
        """Add month, opening bucket, on_opening, product, region, placed info for each event row."""
        rows = rows.with_columns(pl.col(at).cast(pl.Date).dt.month_start().alias("month"))
        cols = ("product", "region", "placed_on", "placed_dpd", "case_agent_id")
        parts = [self.lk.attach(part, m, cols) for (m,), part in rows.group_by("month")]
        if not parts:
            parts = [self.lk.attach(rows, dt.date(1970, 1, 1), cols)]
        return self.lk.decode(pl.concat(parts))


class CaseLookup:
    """Per-case attributes for attaching events without a join per chunk.

    Arrays are aligned to the (sorted) cases table by position, plus one last row for events of cases
    the cases table does not have (bucket of DPD 0, not on opening, product and region unknown).
    """

    def __init__(self, ctx: SyncContext) -> None:
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
        self.bounds = ctx.bounds
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
                    extra = x.select("case_id", self.bounds.series_codes(x.get_column("dpd").fill_null(0))
                                     .alias("x_bucket"), (pl.col("cents").fill_null(0) > 0).alias("x_open"))
            codes = self.bounds.codes(dpd)
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
            exprs.append(self.bounds.decode(pl.col("bucket")))
        for c in ("product", "region"):
            if c in names:
                exprs.append(pl.col(c).cast(pl.String).fill_null("unknown"))
        return df.with_columns(exprs) if exprs else df


