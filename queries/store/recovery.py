"""Staying up when the store is damaged: check a version before serving it, roll back to the last good one.

A store version that cannot be read (a truncated or overwritten file) is moved aside and CURRENT rolls
back to the newest readable earlier version, so the last good store is served and the next sync builds
on it. A store written by an older dashboard (another format) is never served: the next sync rebuilds it.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from queries.store.manifest import FORMAT_VERSION, MANIFEST
from queries.store.versions import CURRENT, Store, current_version

QUARANTINE_PREFIX = "corrupt-"


def outdated(store: Store) -> str | None:
    """Why a store written by an older version of the dashboard cannot be served, or None."""
    found = store.manifest.format
    if found == FORMAT_VERSION:
        return None
    return (f"the analytics store has format {found}, this dashboard needs format {FORMAT_VERSION}; "
            "it is rebuilt by the next sync (`collections-dashboard sync --full`)")


MAGIC = b"PAR1"


class StoreUnreadable(PermissionError):
    """This process may not read a store version's files: not damage, so nothing is moved aside; the message says
    what to fix."""

    def __str__(self) -> str:
        return str(self.strerror)  # the one line itself, without "[Errno 13]"


def _parquet_files(folder: str) -> Iterator[str]:
    """Every Parquet file under a folder (os.scandir: a version holds thousands, pathlib's rglob costs more)."""
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            yield from _parquet_files(entry.path)
        elif entry.name.endswith(".parquet"):
            yield entry.path


def footer_problem(path: str) -> str | None:
    """Why a Parquet file's frame cannot be read, or None: the magic at both ends and a footer length that fits
    (what a reader checks before anything else; a truncated or overwritten file fails it). Reads the 12 bytes it
    needs and no more (a buffered read fetched 8 KB at each end)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO named *.parquet must not block the check
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return "not a regular file"
            size = st.st_size
            if size < 12:
                return f"{size} bytes, too short for Parquet"
            head, tail = os.pread(fd, 4, 0), os.pread(fd, 8, size - 8)
        finally:
            os.close(fd)
    except PermissionError as exc:  # not damage: moving a good version aside would break it for every other reader
        raise StoreUnreadable(exc.errno, "the analytics store cannot be read by this process (permission denied on "
                              f"{path}); give its user read access to CASES_STORE_DIR; nothing was moved aside") from exc
    except OSError as exc:
        return str(exc)
    if head != MAGIC or tail[4:] != MAGIC:
        return "no Parquet magic bytes (truncated or overwritten)"
    if int.from_bytes(tail[:4], "little") > size - 12:
        return "the footer is longer than the file (truncated)"
    return None


#: threads checking a version's files, each a contiguous share of them, when the first FOOTER_PROBE files show the
#: version is not in the page cache (just synced elsewhere, not read for hours, on a network share): each file then
#: costs two reads' latency, which threads overlap. From the cache a file takes ~10 µs and threads only add to it.
FOOTER_READERS = 8
FOOTER_PROBE = 64
CACHED_READ_S = 30e-6


def version_problems(version: Path) -> list[str]:
    """What cannot be read in one store version: a missing manifest, Parquet files with bad frames (checked on
    every file before each sync and when a server opens a version, where parsing each footer took 100–180 ms)."""
    if not (version / MANIFEST).is_file():
        return ["manifest.json missing"]
    files = sorted(_parquet_files(str(version)))

    def check(share: list[str]) -> list[str | None]:
        return [footer_problem(f) for f in share]

    t0 = time.perf_counter()
    found, rest = check(files[:FOOTER_PROBE]), files[FOOTER_PROBE:]
    if time.perf_counter() - t0 < FOOTER_PROBE * CACHED_READ_S:  # from the page cache: threads would only cost
        found += check(rest)
    elif rest:
        step = -(-len(rest) // FOOTER_READERS)
        with ThreadPoolExecutor(FOOTER_READERS) as pool:  # the reads release the GIL: their waits overlap
            for part in pool.map(check, [rest[i:i + step] for i in range(0, len(rest), step)]):
                found += part
    return [f"{Path(f).relative_to(version)}: {why}" for f, why in zip(files, found, strict=True) if why]


def _point_current(store_dir: Path, name: str) -> None:
    tmp = store_dir / f".{CURRENT}.rollback"
    tmp.write_text(name, encoding="utf-8")
    os.replace(tmp, store_dir / CURRENT)


def roll_back_if_corrupt(store_dir: Path) -> str | None:
    """Serve the newest readable version if the active one is corrupt; return what was done, or None."""
    store_dir = Path(store_dir)
    cur = current_version(store_dir)
    if cur is None:
        return None
    problems = version_problems(cur)
    if not problems:
        return None
    aside = cur.with_name(QUARANTINE_PREFIX + cur.name)
    os.rename(cur, aside)
    earlier = sorted((d for d in store_dir.iterdir() if d.is_dir() and d.name.startswith("v-")), reverse=True)
    for version in earlier:
        if not version_problems(version):
            _point_current(store_dir, version.name)
            return (f"store version {cur.name} was unreadable ({problems[0]}); moved aside as {aside.name}; "
                    f"serving the previous version {version.name} until the next sync")
    (store_dir / CURRENT).unlink(missing_ok=True)
    return (f"store version {cur.name} was unreadable ({problems[0]}); moved aside as {aside.name}; "
            "no readable earlier version, so the next sync rebuilds the store in full")
