"""Writing the analytics store: a new version directory beside the active one, swapped in atomically."""

from __future__ import annotations

import fnmatch
import os
import shutil
import time
from pathlib import Path

import polars as pl

from queries.store.catalogue import PARTITIONED
from queries.store.manifest import MANIFEST, Manifest, write
from queries.store.versions import (
    CURRENT,
    SCHEMA_FILE,
    current_version,
    leased_versions,
)


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
            (folder / SCHEMA_FILE).unlink(missing_ok=True)  # may be a hard link into the previous version
            df.head(0).write_parquet(folder / SCHEMA_FILE)
        if df.height == 0:
            return
        by_day = PARTITIONED[name] == "day"
        if by_day:
            self._put_days(folder, df, date_col, row_group_size)
            return
        if date_col == "month":
            parts = df.partition_by(date_col, as_dict=True, maintain_order=False)
        else:
            parts = df.with_columns(pl.col(date_col).dt.month_start().alias("_part")).partition_by(
                "_part", as_dict=True, include_key=False)
        for (d,), part in parts.items():
            target = folder / f"{d.strftime('%Y-%m')}.parquet"
            if target.exists():
                target.unlink()  # a hard link to the previous version: never write through it
            if not part.get_column(date_col).is_sorted():  # days in order inside a month file
                part = part.sort(date_col)
            part.write_parquet(target, compression="zstd", statistics=True, row_group_size=row_group_size)

    @staticmethod
    def _put_days(folder: Path, df: pl.DataFrame, date_col: str, row_group_size: int | None) -> None:
        """One file per day of `df`, named by the day, written in one pass (a write per file cost ~0.5 ms each:
        most of a small sync's time)."""
        for d in df.get_column(date_col).unique().to_list():
            (folder / f"{d.isoformat()}.parquet").unlink(missing_ok=True)  # a hard link to the previous version

        def path(args: pl.io.partition.FileProviderArgs) -> Path:
            if args.index_in_partition:
                raise RuntimeError(f"a day of {folder.name} was split across files")
            return folder / f"{args.partition_keys.item(0, 0).isoformat()}.parquet"

        # many small files, written in bulk by a full sync: lz4 writes and reads faster
        df.lazy().sink_parquet(
            pl.PartitionBy(folder, key=date_col, include_key=True, file_path_provider=path, max_rows_per_file=None,
                           approximate_bytes_per_file=None),
            compression="lz4", statistics=True, row_group_size=row_group_size, mkdir=True)

    def keep_parts(self, name: str, except_keys: set[str], pattern: str = "*.parquet") -> None:
        """Hard-link the previous version's partition files of `name` (the `pattern`), except the listed ones
        (a key is the name up to its first dot)."""
        folder = self.path / name
        folder.mkdir(exist_ok=True)
        if self.previous is None or not (self.previous / name).is_dir():
            return
        # plain strings and one listing per folder: a new day links ~3,000 files (pathlib and a stat per file
        # cost ~0.2 s of the day's sync)
        src_dir, dst_dir = os.fspath(self.previous / name), os.fspath(folder)
        have = set(os.listdir(dst_dir))
        for entry in os.scandir(src_dir):
            file = entry.name
            if file in have or file.split(".")[0] in except_keys or not fnmatch.fnmatchcase(file, pattern) \
                    or not entry.is_file():
                continue
            src, dst = os.path.join(src_dir, file), os.path.join(dst_dir, file)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)

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

    def commit(self, manifest: Manifest) -> Path:
        """Write the manifest, point CURRENT at the new version, drop versions older than the last."""
        write(self.path, manifest)
        tmp = self.store_dir / f".{CURRENT}.{self.name}"
        tmp.write_text(self.name, encoding="utf-8")
        os.replace(tmp, self.store_dir / CURRENT)  # the atomic step
        keep = {self.name, self.previous.name if self.previous else ""}
        held = leased_versions(self.store_dir)
        for child in self.store_dir.iterdir():
            if not (child.is_dir() and child.name.startswith("v-")) or child.name in keep | held:
                continue  # a version a dashboard process still serves (a fresh lease) stays until released
            # a version without a manifest may be another sync still writing: leave it an hour
            if (child / MANIFEST).is_file() or time.time() - child.stat().st_mtime > 3600:
                shutil.rmtree(child, ignore_errors=True)
        return self.path

    def abort(self) -> None:
        """Remove the half-written version; the active one is untouched."""
        shutil.rmtree(self.path, ignore_errors=True)
