"""The compliance month views are made on first use (not when a store version is opened) and answer as the days do."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import polars as pl
from fixtures_compliance import build
from test_property import START, dataset

from queries.filters import Filters
from queries.metrics import registry
from queries.store import Store
from queries.sync import run_sync


def test_month_views_made_on_first_use_equal_the_days_summed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    build(url, rows=dataset(1))
    run_sync(url, tmp_path / "store", full=True)
    store = Store.open(tmp_path / "store")
    for name in ("compliance_agent", "attempt_ordinal_agent"):
        assert f"{name}_m" not in store.frames and store.has(f"{name}_m")
        day = store.frame(name)
        keys = [c for c in day.columns if c not in ("day", *[c for c in day.columns if day.schema[c] == pl.UInt32])]
        # independently: every day-level row added into its (month, keys) cell, one row at a time
        want: dict = {}
        for r in day.iter_rows(named=True):
            cell = want.setdefault((r["day"].replace(day=1), *[r[k] for k in keys]), {})
            for c, v in r.items():
                if day.schema[c] == pl.UInt32:
                    cell[c] = cell.get(c, 0) + v
        got = {(r["month"], *[r[k] for k in keys]): {c: r[c] for c in r if c not in ("month", *keys)}
               for r in store.frame(f"{name}_m").iter_rows(named=True)}
        assert got == want, name
        assert f"{name}_m" in store.frames  # made once, then kept
    # a whole month (answered from the month view) equals its two halves (answered from the days)
    m = START.replace(day=1) + dt.timedelta(days=32)
    m = m.replace(day=1)
    end = (m + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    mid = m + dt.timedelta(days=14)
    whole = registry.compute("breaches", store, Filters(m, end), ("check",))
    halves = pl.concat([registry.compute("breaches", store, Filters(a, b), ("check",))
                        for a, b in ((m, mid), (mid + dt.timedelta(days=1), end))])
    halves = halves.group_by("check").agg(pl.col("numerator", "denominator").sum())
    assert dict(zip(*whole.select("check", "numerator")
                    .to_dict(as_series=False).values(), strict=True)) == dict(zip(*halves.select(
                        "check", "numerator").to_dict(as_series=False).values(), strict=True))
    assert whole.get_column("numerator").sum() > 0


def test_a_served_version_makes_its_month_views_in_the_background(tmp_path: Path) -> None:
    """The dashboard's store state makes the deferred views beside the first pages, not on the compliance page's
    first view; they equal the views made on first use."""
    from dashboard.data import StoreState

    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    build(url, rows=dataset(2))
    run_sync(url, tmp_path / "store", full=True)
    served, fresh = Store.open(tmp_path / "store"), Store.open(tmp_path / "store")
    names = ("compliance_agent_m", "attempt_ordinal_agent_m")
    assert not any(n in served.frames for n in names)
    StoreState(served)
    deadline = time.monotonic() + 30
    while not all(n in served.frames for n in names) and time.monotonic() < deadline:
        time.sleep(0.05)
    for n in names:
        assert n in served.frames, n  # made without any page asking
        got, want = served.frames[n], fresh.frame(n)
        assert got.sort(got.columns).equals(want.sort(want.columns)), n  # rows within a month in any order
