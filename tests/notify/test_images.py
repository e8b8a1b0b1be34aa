"""Charts: the dashboard's own builders, exported as PNG through the system's Chromium, one browser per process."""

from __future__ import annotations

import datetime as dt
import struct

import plotly.graph_objects as go

from queries.filters import Scope
from queries.notify import images
from queries.notify.digest import Recipient, build
from queries.store import Store

DAY = dt.date(2026, 11, 21)


def _size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def test_a_tab_reused_without_reload_draws_the_same_picture() -> None:
    a = go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2], name="回收"))
    first = images.png([a])[0]
    others = images.png([go.Figure(go.Bar(x=["T01", "T02"], y=[i, i + 1])) for i in range(images.RECYCLE + 3)])
    assert len(others) == images.RECYCLE + 3 and len(set(others)) > 1
    assert images.png([a])[0] == first  # nothing left over from the figures drawn in between


def test_two_or_three_charts_per_digest(settings) -> None:  # noqa: ANN001
    store = Store.open(settings.store_dir)
    lead = build(store, Recipient("l@b", Scope(frozenset({"T01"}), "team_lead"), "zh"), DAY)
    boss = build(store, Recipient("b@b", Scope(), "en"), DAY)
    assert [c for c, _, _ in images.figures(lead)] == ["daily", "agents"]
    assert [c for c, _, _ in images.figures(boss)] == ["daily", "teams", "agents"]
    pngs = images.png([f for _, _, f in images.figures(boss)])
    assert [_size(p)[0] for p in pngs] == [images.WIDTH * images.SCALE] * 3
