"""Faults: a corrupt store, a sync killed half-way, a source missing tables or columns, a source gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from fixtures_demo import AS_OF, SMALL
from fixtures_store import damage

from queries.cli import main as cli_main
from queries.demo import build_demo_database
from queries.store import Store, current_version
from queries.store.recovery import footer_problem, roll_back_if_corrupt, version_problems


@pytest.fixture
def source(tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    """A small case database and an empty store directory, configured as the CLI reads them."""
    url = f"sqlite:///{tmp_path / 'cases.sqlite'}"
    build_demo_database(url, SMALL, seed=4, as_of=AS_OF)
    monkeypatch.setenv("CASES_DB_URL", url)
    monkeypatch.setenv("CASES_STORE_DIR", str(tmp_path / "store"))
    return url, tmp_path / "store"


def _payments_in_source(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT COUNT(*) FROM payments")).scalar_one()
    engine.dispose()
    return n


def _payments_in_store(store_dir: Path) -> int:
    s = Store.open(store_dir)
    return int(pl.concat([s.frame("payments_agent")]).select(pl.col("n").sum()).item())


def _add_payment(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        pid = conn.execute(sa.text("SELECT MAX(payment_id) FROM payments")).scalar_one() + 1
        conn.execute(sa.text("INSERT INTO payments VALUES (:p, 1, 'A0001', :t, 123.45, 'app')"),
                     {"p": pid, "t": f"{AS_OF} 10:00:00.000000"})
    engine.dispose()


def _corrupt(version: Path) -> Path:
    """Truncate the first file of an in-memory rollup (one Store.open reads)."""
    from queries.store import ROLLUPS

    victim = next(f for f in sorted(version.glob("*.parquet")) if f.stem in ROLLUPS)
    damage(victim, victim.read_bytes()[:50])
    return victim


def test_a_damaged_parquet_file_is_told_from_a_good_one(tmp_path) -> None:
    """The frame check before each sync: a good file passes; cut short, its end overwritten, its footer length
    damaged or emptied, it does not — and each of those Polars cannot read either."""
    good = tmp_path / "good.parquet"
    pl.DataFrame({"a": list(range(1000)), "b": ["x" * 20] * 1000}).write_parquet(good)
    data = good.read_bytes()
    assert footer_problem(str(good)) is None
    bad = {"cut": data[:-100], "overwritten end": data[:-4] + b"\0\0\0\0",
           "footer length": data[:-8] + (len(data)).to_bytes(4, "little") + b"PAR1", "empty": b"",
           "text": b"not parquet at all, but long enough"}
    for name, content in bad.items():
        f = tmp_path / f"{name}.parquet"
        f.write_bytes(content)
        assert footer_problem(str(f)), name
        with pytest.raises(Exception):  # any error: the point is that Polars cannot read it
            pl.read_parquet(f)
    fifo = tmp_path / "fifo.parquet"  # opening a FIFO to read waits for a writer: the check must not wait
    os.mkfifo(fifo)
    assert footer_problem(str(fifo)) == "not a regular file"
    assert footer_problem(str(tmp_path)) == "not a regular file"


@pytest.mark.parametrize("cached", [True, False], ids=["from the cache", "from disk"])
def test_every_damaged_file_of_a_version_is_named_in_order(tmp_path, monkeypatch, cached) -> None:  # noqa: ANN001
    """After a probe of the first files, the rest are checked one by one (the version is in the page cache) or by
    eight threads (it is not): every damaged file is found either way, and named in path order."""
    from queries.store import recovery
    from queries.store.manifest import MANIFEST

    monkeypatch.setattr(recovery, "FOOTER_PROBE", 5)
    monkeypatch.setattr(recovery, "CACHED_READ_S", 10.0 if cached else 0.0)

    version = tmp_path / "v-1"
    (version / "days").mkdir(parents=True)
    (version / MANIFEST).write_text("{}")
    frame = pl.DataFrame({"a": list(range(100))})
    names = [f"days/{i:03d}.parquet" for i in range(60)]
    for name in names:
        frame.write_parquet(version / name)
    for name in (names[41], names[7], names[2]):
        (version / name).write_bytes((version / name).read_bytes()[:-3])
    (version / names[50]).write_bytes(b"")
    got = version_problems(version)
    assert [g.split(":")[0] for g in got] == [names[2], names[7], names[41], names[50]], got
    assert "0 bytes, too short" in got[3]


def test_a_store_this_process_may_not_read_is_not_moved_aside(source, monkeypatch, capsys) -> None:  # noqa: ANN001
    """A file the process may not read (a sync run as another user with umask 077) is not damage: nothing is moved
    aside or rolled back, which would break the version for every other reader; the error says what to fix. (Tests
    run as root, which reads anything: the refusal is made by wrapping os.open.)"""
    from queries.store import recovery

    url, store = source
    assert cli_main(["sync", "--full"]) == 0
    good = current_version(store)
    victim = sorted(good.rglob("*.parquet"))[3]
    real_open = os.open

    def refusing(path, flags, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if str(path) == str(victim):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(recovery.os, "open", refusing)
    with pytest.raises(PermissionError, match="cannot be read by this process.*nothing was moved aside"):
        roll_back_if_corrupt(store)
    # the sync command says it in one line, without "cannot be written" or an errno
    capsys.readouterr()
    assert cli_main(["sync"]) == 1
    err = capsys.readouterr().err.strip()
    assert "cannot be read by this process" in err and "cannot be written" not in err and "Errno" not in err
    assert "\n" not in err and err.count(str(victim)) == 1, err
    monkeypatch.undo()
    assert current_version(store) == good and not list(store.glob("corrupt-*"))


def test_corrupt_store_is_rolled_back_and_the_next_sync_repairs_it(source, capsys) -> None:  # noqa: ANN001
    url, store = source
    assert cli_main(["sync", "--full"]) == 0
    good = current_version(store)
    _add_payment(url)
    assert cli_main(["sync"]) == 0
    newest = current_version(store)
    assert newest != good and version_problems(newest) == []
    victim = _corrupt(newest)
    assert version_problems(newest) and victim.name in version_problems(newest)[0]
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the reader raises, it must not be served
        Store.open(store)
    note = roll_back_if_corrupt(store)
    assert "serving the previous version" in note and current_version(store) == good
    assert Store.open(store).path == good  # the last good store is served
    capsys.readouterr()
    assert cli_main(["sync"]) == 0  # builds on the good version and catches up
    out = capsys.readouterr().out
    assert "reconciled" in out
    assert _payments_in_store(store) == _payments_in_source(url)
    assert (store / f"corrupt-{newest.name}").is_dir()  # kept for inspection, never served


def test_corrupt_only_version_means_a_full_rebuild(source, capsys) -> None:  # noqa: ANN001
    url, store = source
    assert cli_main(["sync", "--full"]) == 0
    _corrupt(current_version(store))
    capsys.readouterr()
    assert cli_main(["sync"]) == 0
    out = capsys.readouterr().out
    assert "no readable earlier version" in out and "full sync" in out and "reconciled" in out
    assert _payments_in_store(store) == _payments_in_source(url)


def test_sync_killed_half_way_keeps_the_last_good_store(tmp_path) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'cases.sqlite'}"
    build_demo_database(url, "demo", seed=4, as_of=AS_OF)  # big enough for a sync to take seconds
    store = tmp_path / "store"
    env = {**os.environ, "CASES_DB_URL": url, "CASES_STORE_DIR": str(store)}
    cmd = [sys.executable, "-m", "queries.cli", "sync", "--full"]
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
    good = current_version(store)
    before = _payments_in_store(store)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not [d for d in store.glob("v-*") if d != good]:
        time.sleep(0.02)
    time.sleep(0.5)  # let it write part of the new version
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    half = [d for d in store.glob("v-*") if d != good]
    assert half and not (half[0] / "manifest.json").exists(), "the kill did not land mid-sync"
    assert current_version(store) == good and Store.open(store).path == good
    assert _payments_in_store(store) == before
    done = subprocess.run([sys.executable, "-m", "queries.cli", "sync"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "reconciled" in done.stdout
    assert version_problems(current_version(store)) == []
    assert _payments_in_store(store) == _payments_in_source(url)


def test_source_missing_table_or_column_is_one_clear_line(source, capsys) -> None:  # noqa: ANN001
    url, store = source
    assert cli_main(["sync", "--full"]) == 0
    good = current_version(store)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE complaints"))
        conn.execute(sa.text("ALTER TABLE payments DROP COLUMN method"))
    engine.dispose()
    capsys.readouterr()
    assert cli_main(["sync"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "required table missing: complaints" in err[0] and "payments.method" in err[0] and "doctor" in err[0]
    assert current_version(store) == good  # nothing lost


def test_source_gone_keeps_the_store(source, capsys) -> None:  # noqa: ANN001
    url, store = source
    assert cli_main(["sync", "--full"]) == 0
    good = current_version(store)
    Path(sa.engine.make_url(url).database).rename(store.parent / "moved.sqlite")
    capsys.readouterr()
    assert cli_main(["sync"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not found" in err[0] and "unchanged" in err[0]
    assert current_version(store) == good and Store.open(store).path == good


def test_the_dashboards_sync_runs_in_a_child_and_reports_like_the_cli(source, tmp_path) -> None:  # noqa: ANN001
    from queries.errors import SourceError
    from queries.settings import load_settings
    from queries.sync.child import safe_sync_in_child

    url, store_dir = source
    settings = load_settings()
    assert safe_sync_in_child(settings, store_dir) == []
    store = Store.open(store_dir)
    assert store.reconciliation.get("ok") is True
    assert _payments_in_store(store_dir) == _payments_in_source(url)
    # a source that lost a table: the child's one-line reason reaches the caller as a SourceError
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE promises"))
    engine.dispose()
    with pytest.raises(SourceError, match="promises"):
        safe_sync_in_child(settings, store_dir)
    assert current_version(store_dir) == store.path


def test_what_a_failed_sync_child_logged_reaches_the_servers_log(tmp_path, monkeypatch,  # noqa: ANN001
                                                                 caplog) -> None:  # noqa: ANN001
    # a child whose contacts and promises both failed: its one line is the error, the second stage's is logged
    import queries.sync.child as health
    from queries.errors import SourceDataError
    from queries.settings import load_settings

    child = tmp_path / "python-child"
    child.write_text(f"#!{sys.executable}\nimport pickle, sys\nsys.stdin.buffer.read()\n"
                     "print('a warning of some library', file=sys.stderr)\n"
                     "print('sync: the promises stage failed as well: SourceDataError: promises: a bad row',"
                     " file=sys.stderr)\n"
                     "sys.stdout.buffer.write(pickle.dumps(('data', 'contacts: a bad row')))\n")
    child.chmod(0o755)
    monkeypatch.setattr(health.sys, "executable", str(child))
    with caplog.at_level("ERROR", logger="collections.sync"), \
            pytest.raises(SourceDataError, match="^contacts: a bad"):
        health.safe_sync_in_child(load_settings(), tmp_path / "store")
    assert [r.getMessage() for r in caplog.records if r.name == "collections.sync"] == [
        "sync: the promises stage failed as well: SourceDataError: promises: a bad row"]


def test_a_sync_child_that_dies_leaves_the_store_and_says_so(source, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import queries.sync.child as health
    from queries.errors import SyncFailed
    from queries.settings import load_settings

    _, store_dir = source
    settings = load_settings()
    health.safe_sync_in_child(settings, store_dir)
    before = current_version(store_dir)
    killer = tmp_path / "python-killed"
    killer.write_text("#!/bin/sh\necho 'Killed' >&2\nkill -9 $$\n")
    killer.chmod(0o755)
    monkeypatch.setattr(health.sys, "executable", str(killer))  # the interpreter the child starts with
    with pytest.raises(SyncFailed, match="stopped before it finished.*Killed.*store is unchanged") as err:
        health.safe_sync_in_child(settings, store_dir, full=True)
    assert err.value.reason == "killed"  # not "the case database is unreachable": the database was fine
    assert current_version(store_dir) == before
    assert Store.open(store_dir).reconciliation.get("ok") is True
