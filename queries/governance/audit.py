"""Append-only audit log of page views, drill-downs, exports, reports, digests, alerts and deliveries.

One JSON line per event in `<store>/audit/YYYY-MM.jsonl`. Each line carries a keyed hash (HMAC-SHA256 with the
secret `CASES_AUDIT_KEY`) of the line before it and of itself, so an edited, inserted or deleted line breaks the
chain, and without the key the chain cannot be recomputed. The count and last hash of every day are also kept
outside the store directory (the anchor, `CASES_AUDIT_ANCHOR_DIR`), so removing the newest entries is detected.

Lines never contain a line break: JSON escapes control characters, and U+2028, U+2029 and U+0085 are escaped
too; readers split on b"\\n" only. Each entry is written with a single append under an exclusive file lock. A
line left torn by a failed write (a full disk) is detected by the next writer and sealed: a `seal` entry names
it and the chain continues. Personal data stays out: only user, role, page, filter ids, row counts and case ids.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets as secrets_mod
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from queries.errors import DashboardError
from queries.filters import Filters
from queries.governance.masking import PII_COLUMNS
from queries.settings import load_settings

AUDIT_DIR = "audit"
#: view … denied: the dashboard's; report: a `report` run; digest: a digest built for a recipient; alert: a rule
#: fired; delivery: a message handed to a channel (or failed and kept in the outbox) by queries.notify; seal: a
#: line torn by a failed write, sealed into the chain by the next writer.
ACTIONS = ("view", "drilldown", "timeline", "export", "report", "denied", "digest", "alert", "delivery", "seal")
GENESIS = "0" * 64
VERSION = 2  # keyed entries; entries without "v" are the unkeyed (sha256) format of earlier versions
CHECKPOINT = ".verified.json"
KEY_FILE = "audit.key"
#: A view is refused when the audit log's disk has less free space than this.
MIN_FREE_BYTES = 1 << 20
log = logging.getLogger("collections.audit")


class AuditError(DashboardError):
    """An audit entry that must not or cannot be written (unknown action, personal data, disk, permissions)."""


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class AuditConfig:
    """Where the log and its anchor live, and the key of the chain."""

    store_dir: Path
    key: bytes
    anchor_dir: Path
    key_source: str  # "setting" or "generated" (a key file beside the anchor: set CASES_AUDIT_KEY in production)

    @property
    def folder(self) -> Path:
        """The folder of the month files."""
        return self.store_dir / AUDIT_DIR


def default_anchor_dir(store_dir: Path) -> Path:
    """Outside the store directory: a sibling folder named after it."""
    store_dir = Path(store_dir).resolve()
    return store_dir.parent / f"{store_dir.name}-audit-anchor"


def config(store_dir: Path) -> AuditConfig:
    """The audit configuration for a store, from the settings (a key file is generated when none is set)."""
    s = load_settings()
    anchor = Path(s.audit_anchor_dir) if s.audit_anchor_dir else default_anchor_dir(store_dir)
    if s.audit_key:
        return AuditConfig(Path(store_dir), s.audit_key.encode(), anchor, "setting")
    anchor.mkdir(parents=True, exist_ok=True)
    key_file = anchor / KEY_FILE
    if not key_file.is_file():  # written whole, then linked into place: concurrent writers agree on one key
        tmp = anchor / f".{KEY_FILE}.{os.getpid()}.{threading.get_ident()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets_mod.token_hex(32))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, key_file)
        tmp.unlink(missing_ok=True)
    return AuditConfig(Path(store_dir), key_file.read_text().strip().encode(), anchor, "generated")


# ---------------------------------------------------------------- entries


def filters_record(f: Filters | None) -> dict:
    """Filters as ids and ISO dates for an entry (Filters hold no personal data)."""
    if f is None:
        return {}
    out: dict[str, object] = {"start": f.start.isoformat(), "end": f.end.isoformat()}
    for k in ("teams", "agents", "buckets", "products", "regions"):
        v = getattr(f, k)
        if v:
            out[k] = list(v[:50]) + (["…"] if len(v) > 50 else [])
    if f.channel:
        out["channel"] = f.channel
    return out


_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}


def canonical(entry: dict) -> str:
    """The entry as one line of JSON: sorted keys, no spaces, and no character a reader could split on."""
    text = json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    for ch, esc in _LINE_BREAKS.items():
        text = text.replace(ch, esc)
    return text


def _mac(key: bytes, prev: str, body: dict) -> str:
    return hmac.new(key, (prev + canonical(body)).encode(), hashlib.sha256).hexdigest()


def _legacy_hash(prev: str, body: dict) -> str:
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev + text).encode()).hexdigest()


def _expected(cfg: AuditConfig, prev: str, body: dict) -> str:
    return _mac(cfg.key, prev, body) if body.get("v") == VERSION else _legacy_hash(prev, body)


def _clean(value: object) -> object:
    if isinstance(value, dict):
        bad = sorted(k for k in value if k in PII_COLUMNS)
        if bad:
            raise AuditError(f"personal data is not written to the audit log: {', '.join(bad)}")
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    return value


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with (folder / ".lock").open("a") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lk, fcntl.LOCK_UN)


def _month_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("????-??.jsonl"))


def _last_entry(folder: Path, upto: Path) -> dict | None:
    """The newest complete entry in the month files up to `upto` (reading only their tails)."""
    for f in reversed([p for p in _month_files(folder) if p <= upto]):
        with f.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 65536))
            lines = fh.read().split(b"\n")
        for raw in reversed(lines[:-1] if lines and lines[-1] else lines):
            if not raw:
                continue
            with contextlib.suppress(ValueError):
                return json.loads(raw)
    return None


def _append(path: Path, data: bytes) -> None:
    """One write with O_APPEND (whole lines from concurrent writers), then fsync; a short write is an error."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(f"short write to {path.name}: {written} of {len(data)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)


def _torn_tail(path: Path) -> tuple[int, bytes] | None:
    """(line number, bytes) of a last line without its newline, or None."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return None
        data = path.read_bytes()
    return data.count(b"\n") + 1, data.rpartition(b"\n")[2]


def _new_entry(cfg: AuditConfig, prev: str, now: dt.datetime, **fields: object) -> dict:
    entry = {"v": VERSION, "at": now.isoformat(timespec="seconds"), **fields, "prev": prev}
    entry["hash"] = _mac(cfg.key, prev, entry)
    return entry


def _update_anchor(cfg: AuditConfig, entry: dict) -> None:
    """Count and last hash of the entry's day, outside the store directory (rewritten atomically)."""
    cfg.anchor_dir.mkdir(parents=True, exist_ok=True)
    day = entry["at"][:10]
    path = cfg.anchor_dir / f"{day[:7]}.json"
    anchor = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    count = anchor.get(day, [0, GENESIS])[0] + 1
    anchor[day] = [count, entry["hash"]]
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(anchor, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _seal_if_torn(cfg: AuditConfig, path: Path, now: dt.datetime) -> None:
    """A write that failed half-way left a line without its newline: end it, and seal it into the chain."""
    torn = _torn_tail(path)
    if torn is None:
        return
    line_no, data = torn
    last = _last_entry(cfg.folder, path)
    _append(path, b"\n")
    seal = _new_entry(cfg, last["hash"] if last else GENESIS, now, user="(system)", role="system", action="seal",
                      page="-", filters={}, rows=None, detail={"torn_line": line_no, "torn_bytes": len(data),
                                                              "torn_sha256": hashlib.sha256(data).hexdigest()})
    _append(path, (canonical(seal) + "\n").encode())
    _update_anchor(cfg, seal)
    log.warning("audit log %s: torn line %d (%d bytes) sealed", path.name, line_no, len(data))


def _write_locked(cfg: AuditConfig, path: Path, now: dt.datetime, fields: dict) -> dict:
    _seal_if_torn(cfg, path, now)
    last = _last_entry(cfg.folder, path)
    entry = _new_entry(cfg, last["hash"] if last else GENESIS, now, **fields)
    _append(path, (canonical(entry) + "\n").encode())
    _update_anchor(cfg, entry)
    return entry


def record(store_dir: Path, *, user: str, role: str, action: str, page: str, filters: dict | None = None,
           rows: int | None = None, detail: dict | None = None, now: dt.datetime | None = None,
           cfg: AuditConfig | None = None) -> dict:
    """Append one entry and return it (with its chained hash); AuditError when it cannot be written."""
    if action not in ACTIONS or action == "seal":
        raise AuditError(f"unknown audit action {action!r}")
    fields = {"user": user, "role": role, "action": action, "page": page, "filters": _clean(filters or {}),
              "rows": rows, "detail": _clean(detail or {})}
    now = now or dt.datetime.now()
    try:
        cfg = cfg or config(store_dir)
        cfg.folder.mkdir(parents=True, exist_ok=True)
        path = cfg.folder / f"{now:%Y-%m}.jsonl"
        with _locked(cfg.folder):
            return _write_locked(cfg, path, now, fields)
    except OSError as exc:
        log.error("audit entry not written (%s %s by %s): %s", action, page, user, exc)
        raise AuditError(f"the audit log cannot be written ({exc.strerror or exc})") from exc


def ready(store_dir: Path) -> None:
    """Check that an entry can be written now (free space, permissions; a torn line sealed); AuditError if not.

    The dashboard calls this before it serves a page, so a view that could not be audited is refused.
    """
    try:
        cfg = config(store_dir)
        cfg.folder.mkdir(parents=True, exist_ok=True)
        cfg.anchor_dir.mkdir(parents=True, exist_ok=True)
        for where in (cfg.folder, cfg.anchor_dir):
            st = os.statvfs(where)
            if st.f_bavail * st.f_frsize < MIN_FREE_BYTES:
                raise OSError(28, f"no space left for the audit log in {where}")
            if not os.access(where, os.W_OK):
                raise OSError(13, f"the audit log folder {where} is not writable")
        now = dt.datetime.now()
        path = cfg.folder / f"{now:%Y-%m}.jsonl"
        if _torn_tail(path) is not None:
            with _locked(cfg.folder):
                _seal_if_torn(cfg, path, now)
    except OSError as exc:
        log.error("audit log not ready: %s", exc)
        raise AuditError(f"the audit log cannot be written ({exc.strerror or exc})") from exc


# ---------------------------------------------------------------- denied entries, rate-limited


@dataclass
class _DeniedWindow:
    started: float = 0.0
    written: int = 0
    pending: dict[tuple[str, str], int] = field(default_factory=dict)


_DENIED = _DeniedWindow()
_DENIED_LOCK = threading.Lock()
DENIED_PER_MINUTE = 20  # per process: beyond this, refusals are counted and written once as a summary


def record_denied(store_dir: Path, user: str, mode: str, now: float | None = None) -> bool:
    """Record a refused viewer, at most DENIED_PER_MINUTE entries a minute per process and one per (user, mode);
    the rest are counted and written with the next entry. Returns True when an entry was written."""
    now = time.monotonic() if now is None else now
    key = (user[:120], mode)
    with _DENIED_LOCK:
        w = _DENIED
        if now - w.started >= 60:
            w.started, w.written, carried = now, 0, dict(w.pending)
            w.pending.clear()
        else:
            carried = {}
        seen_now = key in carried or w.pending.get(key) is not None
        if w.written >= DENIED_PER_MINUTE or (seen_now and key not in carried):
            w.pending[key] = w.pending.get(key, 0) + 1
            return False
        w.written += 1
        w.pending[key] = 0
        coalesced = sum(carried.values())
    detail: dict[str, object] = {"mode": mode}
    if coalesced:
        detail["coalesced"] = coalesced  # refusals not written one by one in the previous minute
    record(store_dir, user=key[0], role="none", action="denied", page="-", detail=detail)
    return True


# ---------------------------------------------------------------- reading and verifying


SCHEMA = {"at": pl.String, "user": pl.String, "role": pl.String, "action": pl.String, "page": pl.String,
          "rows": pl.Int64, "filters": pl.String, "detail": pl.String}


def _lines(path: Path, start: int = 0) -> list[bytes]:
    data = path.read_bytes()[start:]
    parts = data.split(b"\n")
    return parts[:-1] if parts and parts[-1] == b"" else parts


def read(store_dir: Path, start: dt.date | None = None, end: dt.date | None = None) -> pl.DataFrame:
    """Entries between two dates (inclusive), newest first, with filters and detail as JSON text (columnar)."""
    folder = Path(store_dir) / AUDIT_DIR
    frames = []
    for f in _month_files(folder):
        if (start and f.stem < f"{start:%Y-%m}") or (end and f.stem > f"{end:%Y-%m}"):
            continue
        lines = [ln.decode("utf-8", errors="replace") for ln in _lines(f)]
        if not lines:
            continue
        line = pl.col("line")
        df = pl.DataFrame({"line": lines}).with_row_index("_n").with_columns(
            pl.lit(f.stem).alias("_file")).filter(line.str.starts_with("{"))
        frames.append(df.select(
            "_file", "_n",
            *[line.str.json_path_match(f"$.{k}").alias(k) for k in ("at", "user", "role", "action", "page")],
            line.str.json_path_match("$.rows").cast(pl.Int64, strict=False).alias("rows"),
            line.str.json_path_match("$.filters").fill_null("{}").alias("filters"),
            line.str.json_path_match("$.detail").fill_null("{}").alias("detail")))
    if not frames:
        return pl.DataFrame(schema=SCHEMA).with_columns(pl.col("at").str.to_datetime())
    df = pl.concat(frames).filter(pl.col("at").is_not_null() & (pl.col("action") != "seal"))
    day = pl.col("at").str.slice(0, 10)
    if start:
        df = df.filter(day >= start.isoformat())
    if end:
        df = df.filter(day <= end.isoformat())
    # Timestamps are to the second; the order entries were written in breaks ties (newest first).
    return (df.sort(["at", "_file", "_n"], descending=True).drop("_file", "_n")
            .with_columns(pl.col("at").str.to_datetime()).select(*SCHEMA))


def _checkpoints(cfg: AuditConfig) -> dict:
    path = cfg.folder / CHECKPOINT
    with contextlib.suppress(OSError, ValueError):
        return json.loads(path.read_text(encoding="utf-8"))
    return {}


def _save_checkpoints(cfg: AuditConfig, data: dict) -> None:
    with contextlib.suppress(OSError):
        tmp = cfg.folder / f"{CHECKPOINT}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, cfg.folder / CHECKPOINT)


def verify(store_dir: Path, cfg: AuditConfig | None = None) -> list[str]:
    """Where the chain breaks (an edited, inserted or deleted line; entries removed at the end); empty when intact.

    Incremental: the verified prefix of each file is remembered with its SHA-256, so a later call only parses new
    lines (and re-verifies a file whose verified prefix changed).
    """
    cfg = cfg or config(store_dir)
    if not cfg.folder.is_dir():
        return []
    problems: list[str] = []
    prev = GENESIS
    days: dict[str, list] = {}
    marks = _checkpoints(cfg)
    new_marks: dict = {}
    for f in _month_files(cfg.folder):
        data = f.read_bytes()
        mark = marks.get(f.name)
        start, line_no, torn = 0, 0, None
        if mark and mark.get("prev_in") == prev and len(data) >= mark["offset"] and \
                hashlib.sha256(data[:mark["offset"]]).hexdigest() == mark["sha256"]:
            start, line_no, prev = mark["offset"], mark["lines"], mark["last"]
            for day, value in mark["days"].items():
                days[day] = list(value)
        prev_in = mark["prev_in"] if start else prev
        body = data[start:]
        parts = body.split(b"\n")
        complete = parts[:-1]
        ok_until, ok_lines, file_ok = start, line_no, True
        offset = start
        for raw in complete:
            line_no += 1
            offset += len(raw) + 1
            try:
                e = json.loads(raw)
                if not isinstance(e, dict):
                    raise ValueError
            except ValueError:
                torn = (line_no, raw)
                continue
            entry = {k: v for k, v in e.items() if k != "hash"}
            if torn is not None:
                t_line, t_raw = torn
                d = e.get("detail") or {}
                if not (e.get("action") == "seal" and d.get("torn_line") == t_line
                        and d.get("torn_sha256") == hashlib.sha256(t_raw).hexdigest()):
                    problems.append(f"{f.name} line {t_line}: not a JSON entry")
                    file_ok = False
                torn = None
            if e.get("prev") != prev or e.get("hash") != _expected(cfg, prev, entry):
                problems.append(f"{f.name} line {line_no}: chain broken (edited, inserted or a line before it "
                                "removed)")
                file_ok = False
            prev = e.get("hash", prev)
            day = str(e.get("at", ""))[:10]
            days[day] = [days.get(day, [0, GENESIS])[0] + 1, prev]
            if file_ok:
                ok_until, ok_lines = offset, line_no
        if torn is not None:
            problems.append(f"{f.name} line {torn[0]}: not a JSON entry")
        if parts[-1]:
            problems.append(f"{f.name} line {line_no + 1}: torn last line (not yet sealed)")
        if file_ok and torn is None:
            new_marks[f.name] = {"offset": ok_until, "lines": ok_lines, "last": prev, "prev_in": prev_in,
                                 "sha256": hashlib.sha256(data[:ok_until]).hexdigest(),
                                 "days": {d: v for d, v in days.items() if d[:7] == f.stem}}
    problems += _anchor_problems(cfg, days)
    if not problems:
        _save_checkpoints(cfg, new_marks)
    return problems


def _anchor_problems(cfg: AuditConfig, days: dict[str, list]) -> list[str]:
    """Days whose entries in the log disagree with the anchor kept outside the store."""
    out = []
    for path in sorted(cfg.anchor_dir.glob("????-??.json")) if cfg.anchor_dir.is_dir() else []:
        with contextlib.suppress(OSError, ValueError):
            for day, (count, last) in sorted(json.loads(path.read_text(encoding="utf-8")).items()):
                have = days.get(day, [0, GENESIS])
                if have[0] < count:
                    out.append(f"{day}: {count - have[0]} entr{'y' if count - have[0] == 1 else 'ies'} missing "
                               "from the end of the day (the anchor outside the store has more)")
                elif have[0] == count and have[1] != last:
                    out.append(f"{day}: the day's last entry differs from the anchor outside the store")
    return out
