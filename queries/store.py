"""The analytics store: versioned directories of Parquet rollups, swapped in atomically."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from queries.schema import BucketBounds

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
FORMAT_VERSION = 4

#: Rollups the dashboard holds in memory: dimensions and rollups without product/region (whose
#: agent × product × region cross is nearly as fine as the events at bank scale).
ROLLUPS: tuple[str, ...] = (
    "teams", "agents", "targets", "payments_agent", "contacts_agent", "calls_agent", "promises_agent",
    "complaints", "opening_agent", "balance_agent", "roll_agent", "liquidation_agent", "placements_agent",
    "worked_month_total",
)
#: Full-grain tables (with product and region, or per case), scanned from disk only when a query needs
#: them. Those in PARTITIONED are directories of one file per day (name/YYYY-MM-DD.parquet) or month.
SCANNED: tuple[str, ...] = (
    "payments_daily", "contacts_daily", "contacts_hourly", "worked_case_days", "call_case_days",
    "worked_months", "paying_case_days", "promises_daily", "opening", "balance_by_bucket", "roll", "placements",
    "liquidation_daily",
)
PARTITIONED: dict[str, str] = {
    "payments_agent": "month", "contacts_agent": "month", "calls_agent": "month",
    "payments_daily": "day", "liquidation_daily": "day", "contacts_daily": "day", "contacts_hourly": "day",
    "worked_case_days": "day", "call_case_days": "day", "worked_months": "month", "paying_case_days": "day",
}
SCHEMA_FILE = "_schema.parquet"


def month_key(d: dt.date) -> str:
    """Partition file stem of the month of `d`."""
    return f"{d.year:04d}-{d.month:02d}"


def part_key(name: str, d: dt.date) -> str:
    """Partition file stem of `d` in table `name` (its day or its month)."""
    return d.isoformat() if PARTITIONED[name] == "day" else month_key(d)


_SUMMABLE = frozenset({
    "n", "cents", "opening_cents", "attempts", "connected", "rpc", "ptp", "messages", "after_hours",
    "case_days", "breaches",
})


class StoreMissing(RuntimeError):
    """No analytics store has been built yet; run `collections-dashboard sync`."""


def current_version(store_dir: Path) -> Path | None:
    """Directory of the active store version, or None."""
    pointer = Path(store_dir) / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    path = Path(store_dir) / name
    return path if (path / MANIFEST).is_file() else None


def read_manifest(store_dir: Path) -> dict | None:
    """The manifest of the active version, or None when there is no store."""
    version = current_version(store_dir)
    if version is None:
        return None
    return json.loads((version / MANIFEST).read_text(encoding="utf-8"))


@dataclass
class Store:
    """In-memory rollups of one store version plus its manifest."""

    path: Path
    manifest: dict
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: results shared between metric calls on this version (e.g. distinct worked cases)
    memo: dict = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, store_dir: str | Path, tables: tuple[str, ...] = ROLLUPS) -> Store:
        """Load the active version's rollups; raise StoreMissing when there is none."""
        version = current_version(Path(store_dir))
        if version is None:
            raise StoreMissing(f"no analytics store in {store_dir}; run `collections-dashboard sync`")
        manifest = json.loads((version / MANIFEST).read_text(encoding="utf-8"))
        frames = {}
        for name in tables:
            file, folder = version / f"{name}.parquet", version / name
            if file.is_file():
                frames[name] = pl.read_parquet(file)
            elif folder.is_dir():  # month-partitioned rollup: all months (the schema file is empty)
                frames[name] = pl.read_parquet(sorted(folder.glob("*.parquet"))).sort("day")
        # month-level views of the day-level rollups, for month-aligned periods (MTD, trends)
        for name in ("payments_agent", "contacts_agent", "calls_agent", "promises_agent"):
            if name in frames:
                df = frames[name]
                keys = [c for c in df.columns if c not in _SUMMABLE and c != "day"]
                sums = [c for c in df.columns if c in _SUMMABLE]
                frames[f"{name}_m"] = (df.group_by(pl.col("day").dt.month_start().alias("month"), *keys)
                                       .agg(pl.col(sums).sum()).sort("month"))
        return cls(path=version, manifest=manifest, frames=frames)

    def frame(self, name: str) -> pl.DataFrame:
        """One rollup; KeyError names it when absent."""
        try:
            return self.frames[name]
        except KeyError:
            raise KeyError(f"store table {name!r} is missing") from None

    def scan(self, name: str, start: dt.date | None = None, end: dt.date | None = None) -> pl.LazyFrame:
        """A lazy scan of a full-grain table; partitioned ones read only the months in [start, end]."""
        if name in self.frames:
            return self.frames[name].lazy()
        if name not in PARTITIONED:
            return pl.scan_parquet(self.path / f"{name}.parquet")
        folder = self.path / name
        lo = part_key(name, start) if start else ""
        hi = part_key(name, end) if end else "9999"
        files = sorted(f for f in folder.glob("*.parquet") if f.name != SCHEMA_FILE and lo <= f.stem <= hi)
        return pl.scan_parquet(files or [folder / SCHEMA_FILE])

    def has(self, name: str) -> bool:
        """True when the rollup exists in this version."""
        return name in self.frames

    @property
    def bounds(self) -> BucketBounds:
        """Bucket bounds the rollups were built with."""
        return BucketBounds(tuple(self.manifest["bucket_upper"]))

    @property
    def as_of(self) -> dt.date | None:
        """Last day with events in the store (data as of)."""
        v = self.manifest.get("data_as_of")
        return dt.date.fromisoformat(v) if v else None

    @property
    def synced_at(self) -> dt.datetime:
        """When the store was last synced (local time of the sync host)."""
        return dt.datetime.fromisoformat(self.manifest["synced_at"])

    @property
    def snapshots(self) -> list[dt.date]:
        """Snapshot dates present in the store, ascending."""
        return [dt.date.fromisoformat(s) for s in self.manifest["watermarks"]["snapshots"]]

    @property
    def reconciliation(self) -> dict:
        """{'ok': bool, 'mismatches': [...], ...} from the last sync."""
        return self.manifest.get("reconciliation", {})

    def age_seconds(self) -> float:
        """Seconds since the last sync."""
        return (dt.datetime.now() - self.synced_at).total_seconds()


class StoreWriter:
    """Builds a new version directory next to the active one and swaps it in atomically."""

    def __init__(self, store_dir: str | Path) -> None:
        self.store_dir = Path(store_dir)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.previous = current_version(self.store_dir)
        self.name = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        self.path = self.store_dir / self.name
        self.path.mkdir()
        (self.path / "base" / "snapshots").mkdir(parents=True)

    def put(self, name: str, df: pl.DataFrame, row_group_size: int | None = None) -> None:
        """Write one table (name may contain a sub-path such as base/cases)."""
        target = self.path / f"{name}.parquet"
        if target.exists():
            target.unlink()  # may be a hard link into the previous version
        df.write_parquet(target, compression="zstd", statistics=True,
                         row_group_size=row_group_size)

    def put_parts(self, name: str, df: pl.DataFrame, date_col: str = "day",
                  row_group_size: int | None = 128_000, schema_file: bool = True) -> None:
        """Write one file per day (or month) of `df` into name/ (replacing those), plus a schema file.

        Different days (months) may be written from different threads with schema_file=False."""
        folder = self.path / name
        if schema_file:
            folder.mkdir(exist_ok=True)
            df.head(0).write_parquet(folder / SCHEMA_FILE)
        if df.height == 0:
            return
        by_day = PARTITIONED[name] == "day"
        if by_day or date_col == "month":
            parts = df.partition_by(date_col, as_dict=True, maintain_order=False)
        else:
            parts = df.with_columns(pl.col(date_col).dt.month_start().alias("_part")).partition_by(
                "_part", as_dict=True, include_key=False)
        for (d,), part in parts.items():
            target = folder / f"{d.isoformat() if by_day else d.strftime('%Y-%m')}.parquet"
            if target.exists():
                target.unlink()  # a hard link to the previous version: never write through it
            if not by_day:  # days in order inside a month file
                part = part.sort(date_col)
            # day files: many small ones, written in bulk by a full sync; lz4 writes and reads faster
            part.write_parquet(target, compression="lz4" if by_day else "zstd", statistics=True,
                               row_group_size=row_group_size)

    def keep_parts(self, name: str, except_keys: set[str]) -> None:
        """Hard-link the previous version's partition files of `name`, except the listed ones."""
        folder = self.path / name
        folder.mkdir(exist_ok=True)
        if self.previous is None or not (self.previous / name).is_dir():
            return
        for src in (self.previous / name).glob("*.parquet"):
            if src.stem in except_keys or (folder / src.name).exists():
                continue
            try:
                os.link(src, folder / src.name)
            except OSError:
                shutil.copy2(src, folder / src.name)

    def keep(self, name: str) -> bool:
        """Reuse an unchanged file of the previous version (hard link, else copy)."""
        if self.previous is None:
            return False
        src = self.previous / f"{name}.parquet"
        if not src.is_file():
            return False
        dst = self.path / f"{name}.parquet"
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        return True

    def commit(self, manifest: dict) -> Path:
        """Write the manifest, point CURRENT at the new version, drop versions older than the last."""
        (self.path / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
        tmp = self.store_dir / f".{CURRENT}.{self.name}"
        tmp.write_text(self.name, encoding="utf-8")
        os.replace(tmp, self.store_dir / CURRENT)  # the atomic step
        keep = {self.name, self.previous.name if self.previous else ""}
        for child in self.store_dir.iterdir():
            if not (child.is_dir() and child.name.startswith("v-")) or child.name in keep:
                continue
            # a version without a manifest may be another sync still writing: leave it an hour
            if (child / MANIFEST).is_file() or time.time() - child.stat().st_mtime > 3600:
                shutil.rmtree(child, ignore_errors=True)
        return self.path

    def abort(self) -> None:
        """Remove the half-written version; the active one is untouched."""
        shutil.rmtree(self.path, ignore_errors=True)
