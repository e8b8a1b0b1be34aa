"""Reading the analytics store: the active version (CURRENT), its manifest and its rollups."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import polars as pl

from queries.buckets import BucketBounds
from queries.errors import DataUnavailable
from queries.store.catalogue import HOLDS, MEMORY, PARTITIONED, ROLLUPS, SUMMABLE, TABLES, month_view_name
from queries.store.manifest import MANIFEST, Manifest, load

CURRENT = "CURRENT"
SCHEMA_FILE = "_schema.parquet"
LEASES = "leases"
#: A dashboard process renews its lease on the version it serves at least this often; a sync keeps every
#: version with a lease younger than LEASE_TTL_S (several replicas may serve older versions for a while).
LEASE_RENEW_S = 60
LEASE_TTL_S = 900
T = TypeVar("T")


class StoreMissing(DataUnavailable):
    """No analytics store has been built yet; run `collections-dashboard sync`."""


def month_key(d: dt.date) -> str:
    """Partition file stem of the month of `d`."""
    return f"{d.year:04d}-{d.month:02d}"


def part_key(name: str, d: dt.date) -> str:
    """Partition file stem of `d` in table `name` (its day or its month)."""
    return d.isoformat() if PARTITIONED[name] == "day" else month_key(d)


def table_files(version: Path, name: str, start: dt.date | None = None, end: dt.date | None = None) -> list[Path]:
    """A table's files in a version directory: of a partitioned table, the day or month files that can hold days in
    [start, end] (its schema file when there are none), else its one file."""
    if name not in PARTITIONED:
        return [version / f"{name}.parquet"]
    folder = version / name
    lo = part_key(name, start) if start else ""
    hi = part_key(name, end) if end else "9999"
    files = sorted(f for f in folder.glob("*.parquet") if f.name != SCHEMA_FILE and lo <= f.stem <= hi)
    return files or [folder / SCHEMA_FILE]


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
#: Day-level rollups with a month view made when a version is opened (MTD, trends).
MONTH_VIEWS = ("payments_agent", "contacts_agent", "calls_agent", "promises_agent")
#: The day-level rollups kept one file per month (the promise pipeline by due month too): read a month at a time
#: when a period asks for it and kept in a bounded cache, never held whole (a server's memory follows the periods
#: viewed, not the history; at 5× bank scale they were 0.8 GB of frames). Their month views are held: small.
PAGED = tuple(t.name for t in TABLES if t.where == MEMORY and t.partition == "month")
#: Megabytes of month files of the paged rollups a Store keeps read (CASES_STORE_CACHE_MB sets a server's).
DEFAULT_CACHE_MB = 64


def month_view(df: pl.DataFrame) -> pl.DataFrame:
    """A day-level rollup summed by month (column `month`), for month-aligned periods."""
    keys = [c for c in df.columns if c not in SUMMABLE and c != "day"]
    sums = [c for c in df.columns if c in SUMMABLE]
    return df.group_by(pl.col("day").dt.month_start().alias("month"), *keys).agg(pl.col(sums).sum()).sort("month")


def _month_of(stem: str) -> dt.date:
    return dt.date(int(stem[:4]), int(stem[5:7]), 1)


def _read_month(file: Path) -> pl.DataFrame:
    """One month file of a paged rollup; the sync writes it in day order (checking is a scan, sorting a sort)."""
    df = pl.read_parquet(file)
    day = df.get_column("day")
    return df.with_columns(day.set_sorted()) if day.is_sorted() else df.sort("day")


@dataclass
class Store:
    """In-memory rollups of one store version plus its manifest; the day-level ones (PAGED) a month at a time."""

    path: Path
    manifest: Manifest
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: results shared between metric calls on this version (e.g. distinct worked cases)
    memo: dict = field(default_factory=dict, repr=False)
    #: month views made on first use (name → the day-level rollup they sum), not when the version is opened
    deferred: dict[str, str] = field(default_factory=dict, repr=False)
    #: the paged rollups: name → {month: its file}, and their schemas
    months: dict[str, dict[dt.date, Path]] = field(default_factory=dict, repr=False)
    schemas: dict[str, pl.Schema] = field(default_factory=dict, repr=False)
    cache_mb: int = DEFAULT_CACHE_MB
    _cache: OrderedDict = field(default_factory=OrderedDict, repr=False)  # (name, month) → frame, least recent first
    _cached: int = 0  # bytes in _cache
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _building: dict = field(default_factory=dict, repr=False)  # key → [the lock held while it is made, its users]
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # the memo's registries

    @classmethod
    def open(cls, store_dir: str | Path, tables: tuple[str, ...] = ROLLUPS, cache_mb: int = DEFAULT_CACHE_MB) -> Store:
        """Load the active version's rollups; raise StoreMissing when there is none."""
        version = current_version(Path(store_dir))
        if version is None:
            raise StoreMissing(f"no analytics store in {store_dir}; run `collections-dashboard sync`")
        store = cls(path=version, manifest=load(version), cache_mb=cache_mb)
        for name in tables:
            file, folder = version / f"{name}.parquet", version / name
            if file.is_file():
                store.frames[name] = pl.read_parquet(file)
            elif folder.is_dir() and name in PAGED:
                files = sorted(f for f in folder.glob("*.parquet") if f.name != SCHEMA_FILE)
                schema = folder / SCHEMA_FILE if (folder / SCHEMA_FILE).is_file() else next(iter(files), None)
                if schema is None:
                    continue
                store.months[name] = {_month_of(f.stem): f for f in files}
                store.schemas[name] = pl.read_parquet_schema(schema)
            elif folder.is_dir():  # another month-partitioned rollup: all months (the schema file is empty)
                store.frames[name] = pl.read_parquet(sorted(folder.glob("*.parquet")))
        # month-level views of the day-level rollups, for month-aligned periods (MTD, trends), a month file at a
        # time; the compliance page's are made when it first asks (most sessions never open it)
        for name in MONTH_VIEWS:
            if name in store.months:
                store.frames[month_view_name(name)] = store._month_view(name)
        store.deferred = {month_view_name(name): name for name in DEFERRED_MONTH_VIEWS if name in store.months}
        return store

    def _month_view(self, name: str) -> pl.DataFrame:
        """A paged rollup's month view, made month file by month file: months already cached are used, the others
        read and dropped (reading every month through the cache would fill it with the months read last, and
        churn it, when a server opens a version — not the months its first views ask for)."""
        parts = [month_view(self._cached_month(name, m)) for m in self.months[name]]
        return pl.concat(parts) if parts else month_view(pl.DataFrame(schema=self.schemas[name]))

    def _cached_month(self, name: str, month: dt.date) -> pl.DataFrame:
        """One month of a paged rollup from the cache, else from its file without caching it."""
        with self._lock:
            df = self._cache.get((name, month))
        return df if df is not None else _read_month(self.months[name][month])

    def _month(self, name: str, month: dt.date) -> pl.DataFrame:
        """One month of a paged rollup, from the cache or its file (the least recently used months leave the
        cache when it holds more than cache_mb)."""
        key = (name, month)
        with self._lock:
            df = self._cache.get(key)
            if df is not None:
                self._cache.move_to_end(key)
                return df
        df = _read_month(self.months[name][month])
        size = df.estimated_size()
        with self._lock:
            if key not in self._cache:
                self._cache[key] = df
                self._cached += size
                while self._cached > self.cache_mb * 2**20 and len(self._cache) > 1:
                    _, old = self._cache.popitem(last=False)
                    self._cached -= old.estimated_size()
        return df

    @contextmanager
    def building(self, key: Hashable) -> Iterator[None]:
        """Held while `key` is made: a second thread making the same key waits here for the first and then finds
        its result (the first viewers after a new version, or a viewer and the server's warm-up, do the work once
        instead of once each, on the same cores)."""
        with self._memo_lock:
            entry = self._building.setdefault(key, [threading.RLock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._memo_lock:  # the lock goes when its last user leaves, so a late arrival waits on the same one
                entry[1] -= 1
                if entry[1] == 0:
                    del self._building[key]

    def once(self, key: Hashable, make: Callable[[], T]) -> T:
        """memo[key], made by `make` once for this version, however many threads ask at the same time."""
        try:
            return self.memo[key]
        except KeyError:
            pass
        with self.building(key):
            if key not in self.memo:
                self.memo[key] = make()
            return self.memo[key]

    def kept(self, kind: str, key: Hashable, make: Callable[[], T], keep: int) -> T:
        """The memo's value for `key`, made once however many threads ask; of the keys of `kind` only the `keep`
        last used are kept (a version served all day must not keep every filter a viewer tried)."""
        with self._memo_lock:
            lru = self.memo.setdefault(("memoised", kind), OrderedDict())
            if key in lru:
                lru.move_to_end(key)
                return lru[key]
        with self.building(("memoised", kind, key)):
            with self._memo_lock:
                if key in lru:
                    lru.move_to_end(key)
                    return lru[key]
            value = make()
            with self._memo_lock:
                lru[key] = value
                while len(lru) > keep:
                    lru.popitem(last=False)
            return value

    def month_starts(self, name: str) -> list[dt.date]:
        """The months a day-level rollup has rows in, ascending."""
        if name in self.months:
            return list(self.months[name])
        df = self.frames.get(name)
        return [] if df is None else sorted(df.get_column("day").dt.month_start().unique().to_list())

    def frame(self, name: str, start: dt.date | None = None, end: dt.date | None = None) -> pl.DataFrame:
        """One rollup; KeyError names it when absent. A paged one holds the months overlapping [start, end] (all
        of them without a period: rows outside the period may be there, the caller filters by day)."""
        if name in self.months:
            lo = start.replace(day=1) if start is not None else dt.date.min
            hi = end if end is not None else dt.date.max
            parts = [self._month(name, m) for m in self.months[name] if lo <= m <= hi]
            return pl.concat(parts) if parts else pl.DataFrame(schema=self.schemas[name])
        if name in self.deferred and name not in self.frames:
            # made outside the cache's lock: it reads every month file, and other views' months must not wait for it
            with self.building(("month_view", name)):
                if name not in self.frames:
                    self.frames[name] = self._month_view(self.deferred[name])
        try:
            return self.frames[name]
        except KeyError:
            raise KeyError(f"store table {name!r} is missing") from None

    def per_month(self, name: str, start: dt.date, end: dt.date, fn: Callable[[pl.DataFrame], pl.DataFrame],
                  ) -> pl.DataFrame:
        """fn applied to each month of a rollup overlapping [start, end] (a paged one's month files one at a time,
        another's whole frame once), the results concatenated: a reduction over many months never holds their
        rows together (the landing forecast's 13 months at 5× were a 1 GB burst as one frame). Months not cached
        are read and dropped: a reduction is kept by its caller (store.memo), its inputs would only churn the cache."""
        if name not in self.months:
            return fn(self.frame(name, start, end))
        lo = start.replace(day=1)
        parts = [fn(self._cached_month(name, m)) for m in self.months[name] if lo <= m <= end]
        return pl.concat(parts) if parts else fn(pl.DataFrame(schema=self.schemas[name]))

    def warm(self) -> None:
        """Make the deferred month views now (a server does it in the background once it serves a version, so the
        compliance page's first view does not pay them)."""
        for name in self.deferred:
            self.frame(name)

    def scan(self, name: str, start: dt.date | None = None, end: dt.date | None = None) -> pl.LazyFrame:
        """A lazy scan of a full-grain table; partitioned ones read only the months in [start, end]."""
        if name in self.frames:
            return self.frames[name].lazy()
        return pl.scan_parquet(table_files(self.path, name, start, end))

    def holds(self, source_table: str) -> bool:
        """False when the synced source table ('payments', 'contacts', 'promises', 'complaints') had no rows at
        all; True when it had some, or when this Store was opened without the rollup that tells."""
        name = HOLDS[source_table]
        if name in self.months:
            return bool(self.months[name])
        df = self.frames.get(name)
        return df is None or df.height > 0

    def has(self, name: str) -> bool:
        """True when the rollup exists in this version."""
        return name in self.frames or name in self.deferred or name in self.months

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
