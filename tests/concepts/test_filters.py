"""Filters and Scope: frozen, hashable, validated; a scope is never widened by filters."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from queries.buckets import BucketBounds
from queries.filters import FULL_SCOPE, FilterError, Filters, Scope, apply, make_filters

D = dt.date


def test_frozen_hashable_and_normalised():
    a = Filters(D(2026, 1, 1), D(2026, 1, 31), teams=["T1", "T1", "T2"], buckets="M1")
    b = Filters(D(2026, 1, 1), D(2026, 1, 31), teams=("T1", "T2"), buckets=("M1",))
    assert a == b and hash(a) == hash(b) and {a: 1}[b] == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.start = D(2025, 1, 1)  # type: ignore[misc]


@pytest.mark.parametrize("kwargs, message", [
    ({"start": D(2026, 2, 1), "end": D(2026, 1, 1)}, "is after end date"),
    ({"buckets": ("M9",)}, "unknown bucket 'M9'"),
    ({"channel": "outsourced"}, "unknown channel"),
])
def test_validation_messages(kwargs, message):
    base = {"start": D(2026, 1, 1), "end": D(2026, 1, 31)}
    with pytest.raises(FilterError, match=message):
        make_filters(**{**base, **kwargs})


def test_bucket_labels_follow_bounds():
    bounds = BucketBounds((0, 30, 90))
    assert bounds.labels == ("M0", "M1", "M2", "M3+")
    make_filters(D(2026, 1, 1), D(2026, 1, 2), buckets=("M3+",), bounds=bounds)
    with pytest.raises(FilterError):
        make_filters(D(2026, 1, 1), D(2026, 1, 2), buckets=("M7+",), bounds=bounds)


def test_scope_narrows_never_widens():
    f = Filters(D(2026, 1, 1), D(2026, 1, 31))
    lead = Scope(teams=frozenset({"T1", "T3"}), role="team_lead")
    assert apply(FULL_SCOPE, f) is f
    assert apply(lead, f).teams == ("T1", "T3")  # no team chosen: all the scope allows
    assert apply(lead, dataclasses.replace(f, teams=("T3",))).teams == ("T3",)
    mixed = apply(lead, dataclasses.replace(f, teams=("T2", "T3")))
    assert mixed.teams == ("T3",) and not mixed.nothing
    outside = apply(lead, dataclasses.replace(f, teams=("T2",)))
    assert outside.nothing and outside.teams == ()  # empty selection, never the wider view
    assert apply(Scope(teams=frozenset()), f).nothing
