"""The audit log under attack and under faults: line separators, torn lines, a keyed chain with an anchor outside
the store, floods of refusals, and the cost of verifying and reading a large log."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from queries.governance import audit
from queries.governance.audit import AuditError, read, record, record_denied, verify

NOW = dt.datetime(2026, 11, 20, 10, 0, 0)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASES_AUDIT_KEY", "k" * 32)
    monkeypatch.delenv("CASES_AUDIT_ANCHOR_DIR", raising=False)


def _month_file(store: Path) -> Path:
    return next((store / "audit").glob("*.jsonl"))


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85", "\r", "\x0b", "\x0c", "\x1c"])
def test_a_line_separator_in_a_value_cannot_break_a_line(tmp_path: Path, sep: str) -> None:
    record(tmp_path, user="a", role="manager", action="drilldown", page="cases",
           filters={"teams": [f"x{sep}y"]}, detail={"source": f"x{sep}y"}, now=NOW)
    record(tmp_path, user="b", role="manager", action="view", page="daily", now=NOW)
    raw = _month_file(tmp_path).read_bytes()
    assert raw.count(b"\n") == 2 and sep.encode() not in raw
    assert verify(tmp_path) == []
    log = read(tmp_path)
    assert log.height == 2 and json.loads(log["detail"][1]) == {"source": f"x{sep}y"}


def test_a_torn_last_line_is_sealed_into_the_chain(tmp_path: Path) -> None:
    record(tmp_path, user="a", role="manager", action="view", page="daily", now=NOW)
    f = _month_file(tmp_path)
    with f.open("ab") as fh:  # what a write cut short by a full disk leaves
        fh.write(b'{"v":2,"at":"2026-11-20T10:00:01","user":"b","ro')
    assert any("torn last line" in p for p in verify(tmp_path))
    record(tmp_path, user="c", role="manager", action="view", page="agents", now=NOW)
    lines = f.read_bytes().split(b"\n")
    seal = json.loads(lines[2])
    assert seal["action"] == "seal" and seal["detail"]["torn_line"] == 2
    assert seal["detail"]["torn_sha256"] == hashlib.sha256(lines[1]).hexdigest()
    assert verify(tmp_path) == []
    assert read(tmp_path)["user"].to_list() == ["c", "a"]


def test_an_unsealed_garbage_line_breaks_the_chain(tmp_path: Path) -> None:
    for u in "abc":
        record(tmp_path, user=u, role="manager", action="view", page="daily", now=NOW)
    f = _month_file(tmp_path)
    lines = f.read_bytes().split(b"\n")
    f.write_bytes(b"\n".join([lines[0], b"garbage", *lines[1:]]))
    assert any("line 2: not a JSON entry" in p for p in verify(tmp_path))


def test_each_entry_is_one_append(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[bytes] = []
    real = os.write
    monkeypatch.setattr(audit.os, "write", lambda fd, data: (writes.append(data), real(fd, data))[1])
    record(tmp_path, user="a", role="manager", action="view", page="daily", now=NOW)
    log_writes = [w for w in writes if w.startswith(b"{")]
    assert len(log_writes) == 1 and log_writes[0].endswith(b"\n") and log_writes[0].count(b"\n") == 1


def test_a_failed_write_raises_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record(tmp_path, user="a", role="manager", action="view", page="daily", now=NOW)

    def full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(audit.os, "write", full)
    with pytest.raises(AuditError, match="No space left"):
        record(tmp_path, user="b", role="manager", action="view", page="daily", now=NOW)


def test_ready_refuses_a_disk_without_room(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    audit.ready(tmp_path)

    class Full:
        f_bavail, f_frsize = 10, 4096

    monkeypatch.setattr(audit.os, "statvfs", lambda _p: Full())
    with pytest.raises(AuditError, match="no space left"):
        audit.ready(tmp_path)


def test_recomputing_the_chain_without_the_key_is_detected(tmp_path: Path) -> None:
    for u in ("alice", "mallory", "bob"):
        record(tmp_path, user=u, role="manager", action="view", page="daily", now=NOW)
    f = _month_file(tmp_path)
    entries = [json.loads(x) for x in f.read_bytes().split(b"\n") if x]
    # delete mallory's entry and recompute every hash with a key the attacker guesses (not the real one)
    kept, prev = [], audit.GENESIS
    fake = audit.AuditConfig(tmp_path, b"guess", tmp_path, "setting")
    for e in entries:
        if e["user"] == "mallory":
            continue
        body = {k: v for k, v in e.items() if k not in ("hash",)} | {"prev": prev}
        body["hash"] = audit._mac(fake.key, prev, body)
        kept.append(body)
        prev = body["hash"]
    f.write_text("".join(audit.canonical(e) + "\n" for e in kept), encoding="utf-8")
    problems = verify(tmp_path)
    assert any("chain broken" in p for p in problems) and any("missing" in p for p in problems)


def test_truncating_the_newest_entries_is_detected_by_the_anchor(tmp_path: Path) -> None:
    for i in range(5):
        record(tmp_path, user=f"u{i}", role="manager", action="view", page="daily", now=NOW)
    f = _month_file(tmp_path)
    lines = f.read_bytes().split(b"\n")
    f.write_bytes(b"\n".join(lines[:3]) + b"\n")  # the chain of the first three is intact
    problems = verify(tmp_path)
    assert problems == ["2026-11-20: 2 entries missing from the end of the day (the anchor outside the store has more)"]
    anchor = audit.default_anchor_dir(tmp_path)
    assert anchor.parent == tmp_path.parent and not anchor.is_relative_to(tmp_path)


def test_without_a_configured_key_one_is_generated_outside_the_store(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASES_AUDIT_KEY")
    store = tmp_path / "store"
    record(store, user="a", role="manager", action="view", page="daily", now=NOW)
    cfg = audit.config(store)
    assert cfg.key_source == "generated" and (cfg.anchor_dir / audit.KEY_FILE).stat().st_mode & 0o077 == 0
    assert not cfg.anchor_dir.is_relative_to(store) and verify(store) == []


def test_refusals_are_rate_limited_and_coalesced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "_DENIED", audit._DeniedWindow())
    written = sum(record_denied(tmp_path, f"bot{i % 3}", "header", now=100.0 + i * 0.01) for i in range(1112))
    assert written == 3  # one entry per (user, mode) in the minute
    written = sum(record_denied(tmp_path, f"bot{i}", "header", now=110.0) for i in range(100))
    assert written == audit.DENIED_PER_MINUTE - 3
    assert record_denied(tmp_path, "bot0", "header", now=170.0)  # a new minute
    log = read(tmp_path)
    assert log.height == audit.DENIED_PER_MINUTE + 1
    assert json.loads(log["detail"][0])["coalesced"] == 1109 + 100 - (audit.DENIED_PER_MINUTE - 3)
    assert verify(tmp_path) == []


def test_verify_and_read_of_a_large_log_are_incremental_and_fast(tmp_path: Path) -> None:
    cfg = audit.config(tmp_path)
    for i in range(3000):
        record(tmp_path, user=f"u{i % 50}", role="manager", action="view", page="daily", rows=i,
               now=NOW + dt.timedelta(seconds=i), cfg=cfg)
    t = time.perf_counter()
    assert verify(tmp_path, cfg) == []
    first = time.perf_counter() - t
    record(tmp_path, user="late", role="manager", action="view", page="daily", cfg=cfg,
           now=NOW + dt.timedelta(hours=2))
    t = time.perf_counter()
    assert verify(tmp_path, cfg) == []
    again = time.perf_counter() - t
    assert again < first / 3, (first, again)  # only the new line is parsed
    t = time.perf_counter()
    assert read(tmp_path).height == 3001
    assert time.perf_counter() - t < 1.0
    # an edit inside the verified prefix is still found
    f = _month_file(tmp_path)
    data = f.read_bytes()
    f.write_bytes(data.replace(b'"rows":10,', b'"rows":11,', 1))
    assert any("chain broken" in p for p in verify(tmp_path, cfg))
