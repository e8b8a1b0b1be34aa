"""metrics.base.memoised: a store version's memo keeps the last used values of each kind only."""

from __future__ import annotations

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
