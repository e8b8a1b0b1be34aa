"""Running a sync safely: check the source and the store first, and (for the dashboard) in a child process.

A long-running dashboard keeps its memory small by syncing in a fresh Python process: a full sync of a
bank-scale source peaks at 1.5–1.8 GB, and memory an in-process sync once held stays with the process. The
child's is returned to the system when it exits. A child that dies (killed, out of memory) leaves the store
as it was. (A plain interpreter rather than multiprocessing: spawn would re-run Streamlit's `__main__`, the app.)
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import traceback
from pathlib import Path

from queries.errors import (
    SourceDataError,
    SourceError,
    SyncFailed,
    describe,
    error_id,
    sync_reason,
)
from queries.settings import Settings, with_sync_environment
from queries.source.doctor import check_source
from queries.source.engines import read_only_engine
from queries.store.recovery import StoreUnreadable, roll_back_if_corrupt
from queries.sync.run import SyncResult, run_sync

log = logging.getLogger("collections.sync")


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
    """safe_sync in a fresh Python process; its notes. Source problems come back as SourceError (bad rows as
    SourceDataError); a store that cannot be written, a killed process or a bug as SyncFailed with its reason."""
    proc = subprocess.run([sys.executable, "-m", __name__], input=pickle.dumps((settings, str(store_dir), full)),
                          capture_output=True, check=False, env=with_sync_environment(dict(os.environ)))
    try:
        kind, payload = pickle.loads(proc.stdout)
    except Exception as exc:  # noqa: BLE001 - no outcome at all: the child died
        last = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        raise SyncFailed("killed", f"the sync process stopped before it finished ({last[0][:200]}); "
                         "the store is unchanged") from exc
    if kind == "ok":
        return payload
    if kind != "bug":  # what the child logged (a second stage's error); a bug's whole stderr is logged below
        for line in proc.stderr.decode(errors="replace").splitlines():
            if line.startswith("sync: "):
                log.error("%s", line)
    if kind == "source":
        raise SourceError(payload)
    if kind == "data":
        raise SourceDataError(payload)
    if kind == "bug":  # the traceback is in the child's stderr: keep it in the server log
        log.error("sync failed: %s\n%s", payload, proc.stderr.decode(errors="replace")[-5000:])
    raise SyncFailed(kind, payload)


def _child() -> None:
    """The child's side of safe_sync_in_child: arguments pickled on stdin, the outcome pickled on stdout."""
    settings, store_dir, full = pickle.load(sys.stdin.buffer)
    out, sys.stdout = sys.stdout, sys.stderr  # anything the sync prints must not corrupt the outcome
    try:
        _, notes = safe_sync(settings, Path(store_dir), full=full)
        outcome: tuple[str, object] = ("ok", notes)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line for the parent
        eid = error_id()
        outcome = failure(exc, eid)
        if outcome[0] == "bug":  # to stderr, which the parent keeps in the server log
            print(f"error id {eid}:", file=sys.stderr)
            traceback.print_exc()
    out.buffer.write(pickle.dumps(outcome))
    out.flush()


def failure(exc: BaseException, eid: str) -> tuple[str, str]:
    """(reason, one line) for a failed sync: what failed and what to do, no traceback, no credentials."""
    reason = sync_reason(exc)
    if isinstance(exc, StoreUnreadable):  # its message already says what cannot be read and what to do
        return reason, describe(exc)
    if reason == "store":
        where = getattr(exc, "filename", None)
        return reason, (f"the analytics store cannot be written ({describe(exc)}"
                        f"{f': {where}' if where else ''}); free disk space or fix the permissions of CASES_STORE_DIR")
    if reason == "bug":
        return reason, f"the sync failed unexpectedly ({type(exc).__name__}; error id {eid})"
    return reason, describe(exc)


if __name__ == "__main__":
    _child()
