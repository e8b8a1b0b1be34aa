"""Reading the analytics store: the active version (CURRENT), its manifest and its rollups."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from queries.buckets import BucketBounds
from queries.errors import DataUnavailable
from queries.store.catalogue import HOLDS, PARTITIONED, ROLLUPS, SUMMABLE
from queries.store.manifest import MANIFEST, Manifest, load

CURRENT = "CURRENT"
SCHEMA_FILE = "_schema.parquet"
LEASES = "leases"
#: A dashboard process renews its lease on the version it serves at least this often; a sync keeps every
#: version with a lease younger than LEASE_TTL_S (several replicas may serve older versions for a while).
LEASE_RENEW_S = 60
LEASE_TTL_S = 900


class StoreMissing(DataUnavailable):
    """No analytics store has been built yet; run `collections-dashboard sync`."""


def month_key(d: dt.date) -> str:
    """Partition file stem of the month of `d`."""
    return f"{d.year:04d}-{d.month:02d}"


def part_key(name: str, d: dt.date) -> str:
    """Partition file stem of `d` in table `name` (its day or its month)."""
    return d.isoformat() if PARTITIONED[name] == "day" else month_key(d)


def current_version(store_dir: Path) -> Path | None:
    """Directory of the active store version, or None."""
    pointer = Path(store_dir) / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    path = Path(store_dir) / name
    return path if (path / MANIFEST).is_file() else None


def current_name(store_dir: Path) -> str | None:
    """The name CURRENT points at (one small read: replicas call it on every page run)."""
    try:
        return (Path(store_dir) / CURRENT).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def lease(store_dir: Path, version: str, holder: str) -> None:
    """Renew `holder`'s lease on a version it serves (a file whose mtime is the renewal time)."""
    folder = Path(store_dir) / LEASES
    folder.mkdir(exist_ok=True)
    path = folder / f"{version}@{holder}"
    path.touch()
    for other in folder.glob(f"*@{holder}"):  # a holder serves one version at a time
        if other != path:
            other.unlink(missing_ok=True)


def leased_versions(store_dir: Path, ttl_s: float = LEASE_TTL_S) -> set[str]:
    """Versions some process renewed a lease on within the last `ttl_s` seconds (stale leases are removed)."""
    folder = Path(store_dir) / LEASES
    out: set[str] = set()
    now = time.time()
    for path in folder.glob("*@*") if folder.is_dir() else []:
        try:
            fresh = now - path.stat().st_mtime <= ttl_s
        except OSError:
            continue
        if fresh:
            out.add(path.name.split("@", 1)[0])
        else:
            path.unlink(missing_ok=True)
    return out


def read_manifest(store_dir: Path) -> Manifest | None:
    """The manifest of the active version, or None when there is no store."""
    version = current_version(store_dir)
    return None if version is None else load(version)


#: Day-level rollups whose month view is made on first use rather than when a version is opened.
DEFERRED_MONTH_VIEWS = ("compliance_agent", "attempt_ordinal_agent")


def month_view(df: pl.DataFrame) -> pl.DataFrame:
    """A day-level rollup summed by month (column `month`), for month-aligned periods."""
    keys = [c for c in df.columns if c not in SUMMABLE and c != "day"]
    sums = [c for c in df.columns if c in SUMMABLE]
    return df.group_by(pl.col("day").dt.month_start().alias("month"), *keys).agg(pl.col(sums).sum()).sort("month")


@dataclass
class Store:
    """In-memory rollups of one store version plus its manifest."""

    path: Path
    manifest: Manifest
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: results shared between metric calls on this version (e.g. distinct worked cases)
    memo: dict = field(default_factory=dict, repr=False)
    #: month views made on first use (name → the day-level rollup they sum), not when the version is opened
    deferred: dict[str, str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, store_dir: str | Path, tables: tuple[str, ...] = ROLLUPS) -> Store:
        """Load the active version's rollups; raise StoreMissing when there is none."""
        version = current_version(Path(store_dir))
        if version is None:
            raise StoreMissing(f"no analytics store in {store_dir}; run `collections-dashboard sync`")
        manifest = load(version)
        frames = {}
        for name in tables:
            file, folder = version / f"{name}.parquet", version / name
            if file.is_file():
                frames[name] = pl.read_parquet(file)
            elif folder.is_dir():  # month-partitioned rollup: all months (the schema file is empty)
                df = pl.read_parquet(sorted(folder.glob("*.parquet")))
                # the sync writes each month in day order, so the months read in order are sorted: checking is
                # a scan, sorting again a sort (attempt_ordinal_agent: 0.2 ms against 120 ms at bank scale)
                day = df.get_column("day")
                frames[name] = df.with_columns(day.set_sorted()) if day.is_sorted() else df.sort("day")
        # month-level views of the day-level rollups, for month-aligned periods (MTD, trends); the compliance
        # page's are made when it first asks (most sessions never open it, and they cost more than the others)
        for name in ("payments_agent", "contacts_agent", "calls_agent", "promises_agent"):
            if name in frames:
                frames[f"{name}_m"] = month_view(frames[name])
        deferred = {f"{name}_m": name for name in DEFERRED_MONTH_VIEWS if name in frames}
        return cls(path=version, manifest=manifest, frames=frames, deferred=deferred)

    def frame(self, name: str) -> pl.DataFrame:
        """One rollup; KeyError names it when absent."""
        if name in self.deferred and name not in self.frames:
            with self._lock:
                if name not in self.frames:
                    self.frames[name] = month_view(self.frames[self.deferred[name]])
        try:
            return self.frames[name]
        except KeyError:
            raise KeyError(f"store table {name!r} is missing") from None

    def warm(self) -> None:
        """Make the deferred month views now (a server does it in the background once it serves a version, so the
        compliance page's first view does not pay them)."""
        for name in self.deferred:
            self.frame(name)

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

    def holds(self, source_table: str) -> bool:
        """False when the synced source table ('payments', 'contacts', 'promises', 'complaints') had no rows at
        all; True when it had some, or when this Store was opened without the rollup that tells."""
        df = self.frames.get(HOLDS[source_table])
        return df is None or df.height > 0

    def has(self, name: str) -> bool:
        """True when the rollup exists in this version."""
        return name in self.frames or name in self.deferred

    @property
    def bounds(self) -> BucketBounds:
        """Bucket bounds the rollups were built with."""
        return BucketBounds(tuple(self.manifest.bucket_upper))

    @property
    def as_of(self) -> dt.date | None:
        """Last day with events in the store (data as of)."""
        return self.manifest.as_of

    @property
    def synced_at(self) -> dt.datetime:
        """When the store was last synced (local time of the sync host)."""
        return self.manifest.synced

    @property
    def snapshots(self) -> list[dt.date]:
        """Snapshot dates present in the store, ascending."""
        return self.manifest.watermarks.snapshot_dates()

    @property
    def reconciliation(self) -> dict:
        """{'ok': bool, 'mismatches': [...], ...} from the last sync."""
        return self.manifest.reconciliation

    def age_seconds(self) -> float:
        """Seconds since the last sync."""
        return (dt.datetime.now() - self.synced_at).total_seconds()
