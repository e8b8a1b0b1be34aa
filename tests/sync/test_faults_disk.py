"""Disks fill and turn read-only: a sync fails with one line and leaves the last good store; the audit log refuses
to pretend (fail closed). A small real tmpfs holds the store (skipped, with the reason, where mounting is not
allowed)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures_store import build_handmade

from queries.cli import main as cli_main
from queries.governance.audit import AuditError, ready, record, verify
from queries.store import Store, current_version


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs of this test's own."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()[:100]}): disk-full tests need one")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(folder: Path, leave: int) -> None:
    """Fill the file system of `folder`, leaving about `leave` bytes."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with (folder / "ballast").open("wb") as fh:
        fh.write(b"\0" * max(0, free - leave))


@pytest.fixture
def source(tmp_path: Path, tmpfs: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    url = f"sqlite:///{tmp_path / 'hand.sqlite'}"
    build_handmade(url)
    store = tmpfs / "store"
    monkeypatch.setenv("CASES_DB_URL", url)
    monkeypatch.setenv("CASES_STORE_DIR", str(store))
    monkeypatch.setenv("CASES_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASES_AUDIT_KEY", "k" * 32)
    assert cli_main(["sync", "--full"]) == 0
    return url, store


def test_a_full_disk_stops_the_sync_with_one_line_and_keeps_the_store(source, capsys) -> None:  # noqa: ANN001
    _, store = source
    good = current_version(store)
    before = Store.open(store).frame("payments_agent").get_column("cents").sum()
    _fill(store.parent, 64 * 1024)
    capsys.readouterr()
    assert cli_main(["sync", "--full"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be written" in err[0] and "No space left" in err[0], err
    assert "Traceback" not in err[0] and current_version(store) == good
    assert sorted(p.name for p in store.glob("v-*")) == [good.name]  # the half-written version is gone
    assert Store.open(store).frame("payments_agent").get_column("cents").sum() == before
    (store.parent / "ballast").unlink()
    assert cli_main(["sync", "--full"]) == 0  # room again: the next sync completes


def test_a_read_only_store_is_named_as_such(source, capsys) -> None:  # noqa: ANN001
    _, store = source
    subprocess.run(["mount", "-o", "remount,ro", str(store.parent)], check=True)
    capsys.readouterr()
    assert cli_main(["sync", "--full"]) == 1
    err = capsys.readouterr().err.strip()
    assert "Read-only file system" in err and "unreachable" not in err and err.count("\n") == 0


def test_the_audit_log_refuses_when_the_disk_is_full(source) -> None:  # noqa: ANN001
    _, store = source
    record(store, user="a", role="manager", action="view", page="daily")
    _fill(store.parent, 16 * 1024)
    with pytest.raises(AuditError, match="no space left"):
        ready(store)
    with open(store.parent / "ballast", "ab", buffering=0) as fh:  # every last block
        while True:
            try:
                fh.write(b"\0" * 512)
            except OSError:
                break
    with pytest.raises(AuditError, match="No space left"):
        record(store, user="b", role="manager", action="view", page="daily")
    (store.parent / "ballast").unlink()
    record(store, user="c", role="manager", action="view", page="daily")
    assert verify(store) == []
