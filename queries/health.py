"""Staying up under faults: check the source before a sync, check the store before serving it.

A source missing a required table or column is refused with one message naming them, before any
read. A store version that cannot be read (a truncated or overwritten file) is moved aside and
CURRENT rolls back to the newest readable earlier version, so the last good store is served and
the next sync builds on it.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import sqlalchemy as sa

from .config import Settings
from .db import SourceError, backend, read_only_engine
from .doctor import ERROR, structure
from .store import CURRENT, FORMAT_VERSION, MANIFEST, Store, current_version

QUARANTINE_PREFIX = "corrupt-"


def source_problems(engine: sa.Engine) -> list[str]:
    """Required tables and columns the case database lacks ("table" or "table.column")."""
    with engine.connect() as conn:
        return [f.where for f in structure(conn, backend(engine.url), indexes=False) if f.level == ERROR]


def check_source(engine: sa.Engine) -> None:
    """Raise SourceError naming every missing required table and column."""
    problems = source_problems(engine)
    if problems:
        tables = [p for p in problems if "." not in p]
        columns = [p for p in problems if "." in p]
        parts = ([f"required table{'s' if len(tables) > 1 else ''} missing: {', '.join(tables)}"] if tables else []) \
            + ([f"required column{'s' if len(columns) > 1 else ''} missing: {', '.join(columns)}"] if columns else [])
        raise SourceError("the case database does not match the data contract — " + "; ".join(parts)
                          + ". Run `collections-dashboard doctor` for details.")


def outdated(store: Store) -> str | None:
    """Why a store written by an older version of the dashboard cannot be served, or None."""
    found = store.manifest.get("format")
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
        try:
            pq.read_metadata(f)
        except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError) or OSError
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


def safe_sync(settings: Settings, store_dir: Path, full: bool = False):  # noqa: ANN201 - queries.sync.SyncResult
    """Check the source's structure and the store's readability, then sync; return (result, notes)."""
    from .sync import run_sync

    notes = []
    engine = read_only_engine(settings.source_url)
    try:
        check_source(engine)
    finally:
        engine.dispose()
    note = roll_back_if_corrupt(store_dir)
    if note:
        notes.append(note)
    return run_sync(settings, store_dir, full=full), notes


def safe_sync_in_child(settings: Settings, store_dir: Path, full: bool = False) -> list[str]:
    """safe_sync in a fresh Python process; its notes. Source problems come back as SourceError.

    A long-running dashboard keeps its memory small this way: a full sync of a bank-scale source peaks at
    1.5–1.8 GB, and memory an in-process sync once held stays with the process. The child's is returned to
    the system when it exits. A child that dies (killed, out of memory) leaves the store as it was.
    (A plain interpreter rather than multiprocessing: spawn would re-run Streamlit's `__main__`, the app.)
    """
    code = "from queries.health import _sync_child; _sync_child()"
    proc = subprocess.run([sys.executable, "-c", code], input=pickle.dumps((settings, str(store_dir), full)),
                          capture_output=True, check=False)
    try:
        kind, payload = pickle.loads(proc.stdout)
    except Exception as exc:  # noqa: BLE001 - no outcome at all: the child died
        last = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        raise SourceError(f"the sync process stopped before it finished ({last[0][:200]}); "
                          "the store is unchanged") from exc
    if kind == "source":
        raise SourceError(payload)
    if kind == "error":
        raise RuntimeError(payload)
    return payload


def _sync_child() -> None:
    """The child's side of safe_sync_in_child: arguments pickled on stdin, the outcome pickled on stdout."""
    from .db import describe_error

    settings, store_dir, full = pickle.load(sys.stdin.buffer)
    out, sys.stdout = sys.stdout, sys.stderr  # anything the sync prints must not corrupt the outcome
    try:
        _, notes = safe_sync(settings, Path(store_dir), full=full)
        outcome: tuple[str, object] = ("ok", notes)
    except (SourceError, sa.exc.SQLAlchemyError, OSError) as exc:
        outcome = ("source", describe_error(exc))
    except Exception as exc:  # noqa: BLE001 - anything else is a bug: reported whole in the parent
        outcome = ("error", f"{type(exc).__name__}: {exc}")
    out.buffer.write(pickle.dumps(outcome))
    out.flush()
