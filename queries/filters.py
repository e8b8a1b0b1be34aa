"""Filters (what the viewer asked for) and Scope (what the viewer may see), frozen and hashable."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from queries.buckets import DEFAULT_BUCKETS, BucketBounds
from queries.errors import UserError
from queries.source.contract import TEAM_CHANNELS


class FilterError(UserError):
    """A filter value is not valid; the message is one line meant for the user."""


def _tuple(values) -> tuple:  # noqa: ANN001 - any iterable or a single str
    if values is None:
        return ()
    if isinstance(values, str):
        return (values,)
    return tuple(dict.fromkeys(values))  # de-duplicated, order kept


@dataclass(frozen=True)
class Filters:
    """Date range (inclusive) and dimension selections; an empty tuple means all."""

    start: dt.date
    end: dt.date
    teams: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    buckets: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    channel: str | None = None
    #: True when a scope intersection left nothing to show: every metric returns no rows.
    nothing: bool = False

    def __post_init__(self) -> None:
        for name in ("teams", "agents", "buckets", "products", "regions"):
            object.__setattr__(self, name, _tuple(getattr(self, name)))

    def validate(self, bounds: BucketBounds = DEFAULT_BUCKETS) -> Filters:
        """Return self, or raise FilterError naming the bad value."""
        if not isinstance(self.start, dt.date) or not isinstance(self.end, dt.date):
            raise FilterError("start and end must be dates (YYYY-MM-DD)")
        if self.start > self.end:
            raise FilterError(f"start date {self.start} is after end date {self.end}")
        bad = [b for b in self.buckets if b not in bounds.labels]
        if bad:
            raise FilterError(f"unknown bucket {bad[0]!r}; expected one of {', '.join(bounds.labels)}")
        if self.channel is not None and self.channel not in TEAM_CHANNELS:
            raise FilterError(f"unknown channel {self.channel!r}; expected in_house or agency")
        return self

    def with_dates(self, start: dt.date, end: dt.date) -> Filters:
        """The same selections over another date range."""
        return replace(self, start=start, end=end)


def make_filters(start: dt.date, end: dt.date, *, bounds: BucketBounds = DEFAULT_BUCKETS,
                 **selections) -> Filters:  # noqa: ANN003 - Filters fields
    """Build and validate Filters in one step."""
    return Filters(start=start, end=end, **selections).validate(bounds)


@dataclass(frozen=True)
class Scope:
    """Teams a viewer may see (None = all); applied before filters, never widened by them."""

    teams: frozenset[str] | None = None
    role: str = "executive"

    def __post_init__(self) -> None:
        if self.teams is not None:
            object.__setattr__(self, "teams", frozenset(self.teams))


FULL_SCOPE = Scope()


def apply(scope: Scope, filters: Filters) -> Filters:
    """Filters narrowed to the scope: an out-of-scope team selects nothing, never everything."""
    if scope.teams is None:
        return filters
    if not filters.teams:
        allowed = tuple(sorted(scope.teams))
    else:
        allowed = tuple(t for t in filters.teams if t in scope.teams)
    if not allowed:
        return replace(filters, teams=(), nothing=True)
    return replace(filters, teams=allowed)


__all__ = ["FULL_SCOPE", "FilterError", "Filters", "Scope", "apply", "make_filters"]
