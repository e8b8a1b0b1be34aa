"""metrics.base.memoised and Store.once: a store version's memo keeps the last used values of each kind only, and
a value asked for by several threads at once is made once."""

from __future__ import annotations

import threading
import time

import pytest

from queries.metrics.base import memoised
from queries.store import Store
from queries.store.manifest import Manifest


def test_memoised_keeps_the_last_used_of_each_kind(tmp_path) -> None:  # noqa: ANN001
    store = Store(path=tmp_path, manifest=Manifest(), frames={})
    made: list[tuple] = []

    def make(key: tuple) -> str:
        made.append(key)
        return f"value {key}"

    for i in range(3):
        assert memoised(store, ("a", i), lambda i=i: make(("a", i)), keep=2) == f"value {('a', i)}"
    assert memoised(store, ("b", 0), lambda: make(("b", 0)), keep=2) == "value ('b', 0)"
    assert memoised(store, ("a", 2), lambda: make(("a", 2)), keep=2) == "value ('a', 2)"  # kept: not made again
    assert memoised(store, ("a", 1), lambda: make(("a", 1)), keep=2) == "value ('a', 1)"
    assert memoised(store, ("a", 0), lambda: make(("a", 0)), keep=2) == "value ('a', 0)"  # dropped: made again
    # ('a', 1) was used after ('a', 2): ('a', 2) was the oldest when ('a', 0) came back, and went
    assert memoised(store, ("a", 2), lambda: make(("a", 2)), keep=2) == "value ('a', 2)"
    assert memoised(store, ("b", 0), lambda: make(("b", 0)), keep=2) == "value ('b', 0)"  # another kind: kept
    assert made == [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("a", 0), ("a", 2)]


def _at_once(n: int, fn) -> list:  # noqa: ANN001
    """fn() on n threads released together; their results."""
    gate, out = threading.Barrier(n), [None] * n

    def run(i: int) -> None:
        gate.wait()
        out[i] = fn()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


@pytest.mark.parametrize("how", ["once", "memoised"])
def test_a_value_asked_by_threads_at_once_is_made_once(tmp_path, how: str) -> None:  # noqa: ANN001
    """The first viewers after a new version (or a viewer and the server's warm-up) ask for the same figures at the
    same moment: one thread makes each value, the others wait for it instead of making it again."""
    store = Store(path=tmp_path, manifest=Manifest(), frames={})
    made: list[str] = []

    def make(key: str) -> object:
        made.append(key)
        time.sleep(0.2)  # long enough for every thread to arrive while it is being made
        return object()

    def ask(key: str) -> object:
        return store.once(key, lambda: make(key)) if how == "once" else memoised(store, ("k", key), lambda: make(key))

    got = _at_once(6, lambda: ask("x"))
    assert made == ["x"] and all(g is got[0] for g in got)
    # different keys are made side by side, not one after another
    t = time.perf_counter()
    _at_once(3, lambda: ask(threading.current_thread().name))
    assert sorted(made[1:]) == sorted(set(made[1:])) and len(made) == 4
    assert time.perf_counter() - t < 0.5


@pytest.mark.parametrize("how", ["once", "memoised"])
def test_after_a_failed_make_the_callers_still_make_it_one_at_a_time(tmp_path, how: str) -> None:  # noqa: ANN001
    """The first maker fails (a version pruned mid-read): the threads waiting, and one arriving meanwhile, try in
    turn, never two at once, and stop as soon as one has made it."""
    store = Store(path=tmp_path, manifest=Manifest(), frames={})
    active, peak, calls = [0], [0], []
    guard = threading.Lock()

    def make() -> object:
        with guard:
            calls.append(1)
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            first = len(calls) == 1
        time.sleep(0.15)
        with guard:
            active[0] -= 1
        if first:
            raise FileNotFoundError("version pruned")
        return "made"

    def ask() -> object:
        try:
            return store.once("z", make) if how == "once" else memoised(store, ("k", "z"), make)
        except FileNotFoundError:
            return None

    late = threading.Timer(0.22, ask)  # arrives after the first failed, while the next one makes it
    late.start()
    got = _at_once(4, ask)
    late.join()
    assert peak[0] == 1 and len(calls) == 2
    assert sorted(map(str, got)) == ["None", "made", "made", "made"] and not store._building


def test_a_failed_make_is_tried_again_by_the_next_caller(tmp_path) -> None:  # noqa: ANN001
    store = Store(path=tmp_path, manifest=Manifest(), frames={})

    def boom() -> object:
        raise OSError("disk")

    with pytest.raises(OSError):
        store.once("y", boom)
    assert store.once("y", lambda: 7) == 7 and not store._building

