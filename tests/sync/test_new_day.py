"""One new day as a real source has it (bench/apply_day.py: new events, promises made and settled, the nightly
update of every active case) plus changes to the columns the store keeps: the incremental store equals a full
sync's, every table file by file (base tables included), on a demo-generated SQLite database."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import sqlite3
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from fixtures_demo import AS_OF, SMALL
from polars.testing import assert_frame_equal

from queries.demo import build_demo_database
from queries.errors import SourceDataError
from queries.source.reader import Reader
from queries.store import current_version
from queries.sync import run_sync

run = importlib.import_module("queries.sync.run")  # the package exports a function of that name
SyncResult = run.SyncResult

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from apply_day import apply_day


def tables(version: Path) -> dict[str, pl.DataFrame]:
    """Every Parquet table of a store version: a file, or a folder of partitions read as one frame."""
    out: dict[str, pl.DataFrame] = {}
    for f in sorted(version.rglob("*.parquet")):
        rel = f.relative_to(version)
        folder = rel.parent.as_posix()
        if f.name == "_schema.parquet" or (folder not in (".", "base") and folder != "base/snapshots"):
            name = folder  # a partitioned table: one frame from all its files
            df = pl.read_parquet(f)
            out[name] = pl.concat([out[name], df], how="vertical_relaxed") if name in out else df
        else:
            out[rel.with_suffix("").as_posix()] = pl.read_parquet(f)
    return out


def assert_same_store(inc: Path, full: Path) -> None:
    """Table by table: same names, columns, types and rows (in any order)."""
    a, b = tables(current_version(inc)), tables(current_version(full))
    assert sorted(a) == sorted(b)
    for name in a:
        x, y = a[name], b[name]
        assert x.schema == y.schema, name
        x, y = x.sort(x.columns, nulls_last=True), y.sort(y.columns, nulls_last=True)
        # exact: every sum the store keeps is an integer (the agencies' commission too, in 1/10,000 fen)
        try:
            assert_frame_equal(x, y, check_exact=True)
        except AssertionError as e:
            raise AssertionError(f"{name} differs: {e}") from None


def _kept_column_changes(path: Path, day: dt.date) -> None:
    """Besides the nightly batch: one case closes, one is reassigned (a placement fact: opening and placements
    move), one promise changes its due day, each stamped with the day's updated_at."""
    stamp = f"{day} 23:59:59.000000"
    con = sqlite3.connect(path)
    with con:
        first, second = (r[0] for r in con.execute(
            "SELECT case_id FROM cases WHERE status = 'active' AND agent_id IS NOT NULL ORDER BY case_id LIMIT 2"))
        other = con.execute("SELECT agent_id FROM agents WHERE agent_id <> (SELECT agent_id FROM cases WHERE "
                            "case_id = ?) ORDER BY agent_id LIMIT 1", (second,)).fetchone()[0]
        con.execute("UPDATE cases SET status = 'closed', updated_at = ? WHERE case_id = ?", (stamp, first))
        con.execute("UPDATE cases SET agent_id = ?, updated_at = ? WHERE case_id = ?", (other, stamp, second))
        con.execute("UPDATE promises SET due_on = date(due_on, '+40 days'), updated_at = ? WHERE promise_id = "
                    "(SELECT min(promise_id) FROM promises)", (stamp,))
    con.close()


def _bytes(version: Path) -> dict[str, str]:
    """Every file of a store version and a digest of its bytes."""
    return {f.relative_to(version).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in version.rglob("*") if f.is_file()}


def test_new_days_incremental_equal_full(tmp_path: Path) -> None:
    src = tmp_path / "cases.sqlite"
    url = f"sqlite:///{src}"
    build_demo_database(url, SMALL, seed=11, as_of=AS_OF)
    assert run_sync(url, tmp_path / "inc", full=True).ok
    for i in range(2):
        day = dt.date.fromisoformat(apply_day(str(src))["day"])
        if i == 0:
            _kept_column_changes(src, day)
        before = current_version(tmp_path / "inc")
        served = _bytes(before)
        inc = run_sync(url, tmp_path / "inc")
        assert not inc.full and inc.ok, inc.reconciliation
        # the version a dashboard may still be serving is untouched: the new one links its unchanged files and
        # never writes through a link
        assert current_version(tmp_path / "inc") != before and _bytes(before) == served
        assert inc.rows_read["cases"] == (2 if i == 0 else 0)  # the nightly stamps alone change nothing kept
        assert run_sync(url, tmp_path / f"full{i}", full=True).ok
        assert_same_store(tmp_path / "inc", tmp_path / f"full{i}")


def _new_day_source(tmp_path: Path) -> tuple[str, Path]:
    """A small demo source synced whole, then given one new day: (url, store)."""
    src = tmp_path / "cases.sqlite"
    url = f"sqlite:///{src}"
    build_demo_database(url, SMALL, seed=5, as_of=AS_OF)
    assert run_sync(url, tmp_path / "store", full=True).ok
    apply_day(str(src))
    return url, tmp_path / "store"


def _count_readers(monkeypatch) -> dict[str, set[int]]:  # noqa: ANN001
    """The source connections (Readers) opened and closed from now on, by id (each kept alive, so no id is reused)."""
    seen: dict[str, set[int]] = {"opened": set(), "closed": set()}
    alive: list[Reader] = []
    real_init, real_close = Reader.__init__, Reader.close

    def init(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        alive.append(self)
        seen["opened"].add(id(self))
        real_init(self, *args, **kwargs)

    def close(self):  # noqa: ANN001, ANN202
        seen["closed"].add(id(self))
        real_close(self)

    monkeypatch.setattr(Reader, "__init__", init)
    monkeypatch.setattr(Reader, "close", close)
    return seen


def test_a_new_days_stages_run_beside_each_other(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """On a new day the promises stage, then the agency rollup, run on a thread of their own while the contacts
    stage does, the promises on a connection of their own, closed with the others; within the contacts stage the
    month's worked case sets are written on a thread of their own while the compliance checks finish. A full sync
    runs each after the other (its memory is bounded by one stage's month). The store equals a full sync's."""
    contacts_mod = importlib.import_module("queries.sync.contacts")
    url, store = _new_day_source(tmp_path)
    started, agency_started, finishing, entered = (threading.Event() for _ in range(4))
    seen: dict = {"sets": []}
    real_promises, real_contacts, real_agency = run.sync_promises, run.sync_contacts, run.sync_agency
    real_sets, real_finish = contacts_mod.write_case_sets, contacts_mod.compliance.finish

    def promises(ctx, wm):  # noqa: ANN001, ANN202
        seen["promises_reader"] = ctx.reader
        started.set()
        seen["entered"] = entered.wait(timeout=30)  # the contacts stage has begun before the agency rollup can
        return real_promises(ctx, wm)

    def agency(ctx, *args):  # noqa: ANN001, ANN002, ANN202
        seen["agency_thread"] = threading.current_thread()
        seen["agency_beside"] = "contacts_thread" in seen and "contacts_done" not in seen
        agency_started.set()
        return real_agency(ctx, *args)

    def contacts(ctx, wm):  # noqa: ANN001, ANN202
        seen["main_reader"], seen["contacts_thread"] = ctx.reader, threading.current_thread()
        entered.set()
        seen["beside"] = started.wait(timeout=30)
        seen["agency_waited"] = agency_started.wait(timeout=30)  # it starts while this stage has not finished
        out = real_contacts(ctx, wm)
        seen["contacts_done"] = True
        return out

    def contacts_of_full(ctx, wm):  # noqa: ANN001, ANN202
        seen["full_beside"] = started.is_set()
        seen["contacts_thread"] = threading.current_thread()
        entered.set()
        return real_contacts(ctx, wm)

    def sets(ctx, family, m, rows, days):  # noqa: ANN001, ANN202
        # a new day's sets wait for the checks to start: the checks go on while the sets are being written
        waited = finishing.wait(timeout=30) if days is not None else finishing.is_set()
        seen["sets"].append((family, threading.current_thread(), waited))
        return real_sets(ctx, family, m, rows, days)

    def finish(ctx, comp, days):  # noqa: ANN001, ANN202
        seen["finish_thread"] = threading.current_thread()
        finishing.set()
        return real_finish(ctx, comp, days)

    monkeypatch.setattr(run, "sync_promises", promises)
    monkeypatch.setattr(run, "sync_contacts", contacts)
    monkeypatch.setattr(run, "sync_agency", agency)
    monkeypatch.setattr(contacts_mod, "write_case_sets", sets)
    monkeypatch.setattr(contacts_mod.compliance, "finish", finish)
    readers = _count_readers(monkeypatch)
    inc = run_sync(url, store)
    assert not inc.full and inc.ok, inc.reconciliation
    assert seen["beside"] and seen["promises_reader"] is not seen["main_reader"]
    assert seen["agency_waited"] and seen["agency_beside"] and seen["agency_thread"] is not seen["contacts_thread"]
    assert seen["sets"] and all(family == "worked" and waited for family, _, waited in seen["sets"])
    assert all(thread is not seen["finish_thread"] for _, thread, _ in seen["sets"])
    assert len(readers["opened"]) >= 3 and readers["opened"] == readers["closed"]
    # a new agent on the next day: every placement is made again, on the sync's thread before the contacts
    for event in (started, agency_started, finishing, entered):
        event.clear()
    seen = {"sets": []}
    apply_day(str(url.removeprefix("sqlite:///")))
    with sqlite3.connect(url.removeprefix("sqlite:///")) as con:
        con.execute("INSERT INTO agents (agent_id, agent_name, team_id, hired_on) SELECT 'NEW1', 'New agent', "
                    "team_id, hired_on FROM agents ORDER BY agent_id LIMIT 1")
    con.close()
    monkeypatch.setattr(run, "sync_contacts", contacts_of_full)
    assert run_sync(url, store).ok
    assert seen["agency_thread"] is threading.current_thread() and seen["agency_beside"] is False
    for event in (started, agency_started, finishing, entered):
        event.clear()
    seen = {"sets": []}
    assert run_sync(url, tmp_path / "full", full=True).ok
    assert seen["full_beside"] is False
    assert seen["agency_thread"] is threading.current_thread() and seen["agency_beside"] is False
    assert len(seen["sets"]) > 1 and not any(waited for _, _, waited in seen["sets"])
    assert_same_store(store, tmp_path / "full")


def test_the_summary_lists_rows_in_the_stages_order() -> None:
    """Stages side by side may count in any order; the summary line does not show it."""
    result = SyncResult(False, Path("."), 1.0, {"complaints": 3, "promises": 1, "contacts": 2, "payments": 4},
                        {"ok": True})
    assert "(payments 4, contacts 2, promises 1, complaints 3)" in result.summary()


def test_a_new_day_failing_beside_the_promises_waits_for_them(tmp_path: Path, monkeypatch,  # noqa: ANN001
                                                              caplog) -> None:  # noqa: ANN001
    """When the contacts stage fails while the promises stage runs beside it, the version being written is removed
    only after the promises stage has finished with it; the store stays as it was. When the promises fail as well,
    their error is not lost: it is logged and noted on the contacts' error, which stays the sync's."""
    url, store = _new_day_source(tmp_path)
    before = current_version(store)
    failing, seen = threading.Event(), {}
    real_promises = run.sync_promises

    def promises(ctx, wm):  # noqa: ANN001, ANN202
        assert failing.wait(timeout=30)
        time.sleep(0.5)  # still working when the other stage's failure reaches run_sync
        seen["version_there"] = ctx.writer.path.is_dir()
        real_promises(ctx, wm)
        raise SourceDataError("promises: a bad row of password=hunter2")

    def contacts(ctx, wm):  # noqa: ANN001, ANN202
        failing.set()
        raise RuntimeError("contacts failed")

    monkeypatch.setattr(run, "sync_promises", promises)
    monkeypatch.setattr(run, "sync_contacts", contacts)
    with caplog.at_level("ERROR", logger="collections.sync"), \
            pytest.raises(RuntimeError, match="contacts failed") as e:
        run_sync(url, store)
    assert seen["version_there"] is True
    also = "the promises stage failed as well: SourceDataError: promises: a bad row of password=…"
    assert e.value.__notes__ == [also]
    assert [r.getMessage() for r in caplog.records if r.name == "collections.sync"] == [f"sync: {also}"]
    assert current_version(store) == before
    assert sorted(p.name for p in store.glob("v-*")) == [before.name]


def test_a_new_days_promises_failing_beside_the_contacts_fail_the_sync(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The promises stage's own error, raised on its thread after it opened a second connection, is the sync's
    error; the store stays as it was and every connection is closed."""
    url, store = _new_day_source(tmp_path)
    before = current_version(store)

    def promises(ctx, wm):  # noqa: ANN001, ANN202
        ctx.second_reader()
        raise SourceDataError("promises: a bad row")

    monkeypatch.setattr(run, "sync_promises", promises)
    readers = _count_readers(monkeypatch)
    with pytest.raises(SourceDataError, match="promises: a bad row"):
        run_sync(url, store)
    assert current_version(store) == before
    assert sorted(p.name for p in store.glob("v-*")) == [before.name]
    assert len(readers["opened"]) >= 4 and readers["opened"] == readers["closed"]


def test_a_new_days_worked_case_sets_failing_fail_the_sync(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """An error writing the case sets on their thread is the sync's error, raised after the checks beside them
    finish; the store stays as it was."""
    contacts_mod = importlib.import_module("queries.sync.contacts")
    url, store = _new_day_source(tmp_path)
    before = current_version(store)

    seen = {}
    real_finish = contacts_mod.compliance.finish

    def sets(ctx, family, m, rows, days):  # noqa: ANN001, ANN202
        seen["sets_thread"] = threading.current_thread()
        raise OSError("No space left on device")

    def finish(ctx, comp, days):  # noqa: ANN001, ANN202
        seen["finish_thread"] = threading.current_thread()
        return real_finish(ctx, comp, days)

    monkeypatch.setattr(contacts_mod, "write_case_sets", sets)
    monkeypatch.setattr(contacts_mod.compliance, "finish", finish)
    readers = _count_readers(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        run_sync(url, store)
    assert seen["finish_thread"] is not seen["sets_thread"]  # the checks finished beside the failing write
    assert current_version(store) == before
    assert sorted(p.name for p in store.glob("v-*")) == [before.name]
    assert len(readers["opened"]) >= 3 and readers["opened"] == readers["closed"]
