"""Running a sync safely: check the source and the store first, and (for the dashboard) in a child process.

A long-running dashboard keeps its memory small by syncing in a fresh Python process: a full sync of a
bank-scale source peaks at 1.5–1.8 GB, and memory an in-process sync once held stays with the process. The
child's is returned to the system when it exits. A child that dies (killed, out of memory) leaves the store
as it was. (A plain interpreter rather than multiprocessing: spawn would re-run Streamlit's `__main__`, the app.)
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from queries.errors import SourceError, describe
from queries.settings import Settings
from queries.source.doctor import check_source
from queries.source.engines import read_only_engine
from queries.store.recovery import roll_back_if_corrupt
from queries.sync.run import SyncResult, run_sync


def safe_sync(settings: Settings, store_dir: Path, full: bool = False) -> tuple[SyncResult, list[str]]:
    """Check the source's structure and the store's readability, then sync; return (result, notes)."""
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
    """safe_sync in a fresh Python process; its notes. Source problems come back as SourceError."""
    proc = subprocess.run([sys.executable, "-m", __name__], input=pickle.dumps((settings, str(store_dir), full)),
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


def _child() -> None:
    """The child's side of safe_sync_in_child: arguments pickled on stdin, the outcome pickled on stdout."""
    settings, store_dir, full = pickle.load(sys.stdin.buffer)
    out, sys.stdout = sys.stdout, sys.stderr  # anything the sync prints must not corrupt the outcome
    try:
        _, notes = safe_sync(settings, Path(store_dir), full=full)
        outcome: tuple[str, object] = ("ok", notes)
    except (SourceError, sa.exc.SQLAlchemyError, OSError) as exc:
        outcome = ("source", describe(exc))
    except Exception as exc:  # noqa: BLE001 - anything else is a bug: reported whole in the parent
        outcome = ("error", f"{type(exc).__name__}: {exc}")
    out.buffer.write(pickle.dumps(outcome))
    out.flush()


if __name__ == "__main__":
    _child()
