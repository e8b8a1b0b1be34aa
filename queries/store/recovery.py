"""Staying up when the store is damaged: check a version before serving it, roll back to the last good one.

A store version that cannot be read (a truncated or overwritten file) is moved aside and CURRENT rolls
back to the newest readable earlier version, so the last good store is served and the next sync builds
on it. A store written by an older dashboard (another format) is never served: the next sync rebuilds it.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

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


def version_problems(version: Path) -> list[str]:
    """What cannot be read in one store version: a missing manifest, Parquet files with bad footers."""
    if not (version / MANIFEST).is_file():
        return ["manifest.json missing"]
    problems = []
    for f in sorted(version.rglob("*.parquet")):
        try:  # Polars reads a footer 5× faster than pyarrow, and the sync then never imports pyarrow
            pl.read_parquet_metadata(f)
        except (OSError, pl.exceptions.PolarsError) as exc:
            problems.append(f"{f.relative_to(version)}: {str(exc).splitlines()[0]}")
    return problems


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
