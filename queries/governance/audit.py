"""Append-only audit log of page views, drill-downs, exports, digests, alerts and deliveries, beside the store.

One JSON line per event in `<store>/audit/YYYY-MM.jsonl`; each line carries the hash of the line
before it, so an edited or deleted line breaks the chain and `verify` says where. Writers take an
exclusive file lock, so concurrent sessions (or replicas on shared storage) append in turn.
Personal data stays out: only user, role, page, filter ids, row counts and case ids are written.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
from pathlib import Path

import polars as pl

from queries.errors import DashboardError
from queries.governance.masking import PII_COLUMNS

AUDIT_DIR = "audit"
#: view … denied: the dashboard's; digest: a digest built for a recipient; alert: a rule fired;
#: delivery: a message handed to a channel (or failed and kept in the outbox) by queries.notify.
ACTIONS = ("view", "drilldown", "timeline", "export", "denied", "digest", "alert", "delivery")
GENESIS = "0" * 64


class AuditError(DashboardError):
    """An audit entry that must not be written (unknown action, personal data)."""


def _canonical(entry: dict) -> str:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _last_hash(folder: Path, current: Path) -> str:
    files = sorted(folder.glob("????-??.jsonl"))
    for f in reversed([p for p in files if p <= current]):
        with f.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 65536))
            lines = fh.read().splitlines()
        if lines:
            return json.loads(lines[-1])["hash"]
    return GENESIS


def _clean(value: object) -> object:
    if isinstance(value, dict):
        bad = sorted(k for k in value if k in PII_COLUMNS)
        if bad:
            raise AuditError(f"personal data is not written to the audit log: {', '.join(bad)}")
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    return value


def record(store_dir: Path, *, user: str, role: str, action: str, page: str, filters: dict | None = None,
           rows: int | None = None, detail: dict | None = None, now: dt.datetime | None = None) -> dict:
    """Append one entry and return it (with its chained hash)."""
    if action not in ACTIONS:
        raise AuditError(f"unknown audit action {action!r}")
    now = now or dt.datetime.now()
    folder = Path(store_dir) / AUDIT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{now:%Y-%m}.jsonl"
    entry = {"at": now.isoformat(timespec="seconds"), "user": user, "role": role, "action": action, "page": page,
             "filters": _clean(filters or {}), "rows": rows, "detail": _clean(detail or {})}
    lock = folder / ".lock"
    with lock.open("a") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        try:
            entry["prev"] = _last_hash(folder, path)
            entry["hash"] = hashlib.sha256((entry["prev"] + _canonical(entry)).encode()).hexdigest()
            with path.open("a", encoding="utf-8") as fh:
                fh.write(_canonical(entry) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            fcntl.flock(lk, fcntl.LOCK_UN)
    return entry


def read(store_dir: Path, start: dt.date | None = None, end: dt.date | None = None) -> pl.DataFrame:
    """Entries between two dates (inclusive), newest first, with filters and detail as JSON text."""
    folder = Path(store_dir) / AUDIT_DIR
    rows = []
    for f in sorted(folder.glob("????-??.jsonl")):
        if start and f.stem < f"{start:%Y-%m}" or end and f.stem > f"{end:%Y-%m}":
            continue
        for line in f.read_text(encoding="utf-8").splitlines():
            e = json.loads(line)
            day = e["at"][:10]
            if (start and day < start.isoformat()) or (end and day > end.isoformat()):
                continue
            rows.append({"at": e["at"], "user": e["user"], "role": e["role"], "action": e["action"],
                         "page": e["page"], "rows": e.get("rows"), "filters": _canonical(e.get("filters", {})),
                         "detail": _canonical(e.get("detail", {}))})
    schema = {"at": pl.String, "user": pl.String, "role": pl.String, "action": pl.String, "page": pl.String,
              "rows": pl.Int64, "filters": pl.String, "detail": pl.String}
    # Timestamps are to the second; the order entries were written in breaks ties (newest first).
    df = pl.DataFrame(rows, schema=schema).with_row_index("_n")
    return (df.with_columns(pl.col("at").str.to_datetime()).sort(["at", "_n"], descending=True).drop("_n"))


def verify(store_dir: Path) -> list[str]:
    """Where the hash chain breaks (an edited, inserted or deleted line); empty when intact."""
    folder = Path(store_dir) / AUDIT_DIR
    prev, problems = GENESIS, []
    for f in sorted(folder.glob("????-??.jsonl")):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
            try:
                e = json.loads(line)
            except ValueError:
                problems.append(f"{f.name} line {n}: not a JSON entry")
                continue
            body = {k: v for k, v in e.items() if k != "hash"}
            expected = hashlib.sha256((prev + _canonical(body)).encode()).hexdigest()
            if e.get("prev") != prev or e.get("hash") != expected:
                problems.append(f"{f.name} line {n}: chain broken (edited, inserted or a line before it removed)")
            prev = e.get("hash", expected)
    return problems
