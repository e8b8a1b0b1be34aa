"""In Chromium: every chart that invites a click opens exactly the cases behind the clicked mark; a team lead keeps
their role and scope through five drill-downs; /daily opens; browser Back returns to the previous filters and page.

A click is made on the mark itself (its SVG path), the cases page's totals are read from the page and compared
with the clicked figure worked out by the registry on the same store.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlparse

import polars as pl
import pytest
from fixtures_app import pick_team_lead
from fixtures_demo import AS_OF

from dashboard.format import cny
from queries.dates import month_end
from queries.filters import Filters
from queries.metrics.registry import compute
from queries.views.pages import by_team

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from screenshots import CHROMIUM, new_page, open_page, wait_rendered  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}: end-to-end test skipped"),
]
MTD = Filters(AS_OF.replace(day=1), AS_OF)
YTD = Filters(AS_OF.replace(month=1, day=1), AS_OF)


@pytest.fixture(scope="module")
def page(server, chrome):  # noqa: ANN001, ANN201
    return new_page(chrome, 1280, 1000)


def _chart(page, title: str):  # noqa: ANN001, ANN202
    """The Plotly chart in the bordered block whose title is `title`."""
    block = page.locator('[data-testid="stVerticalBlockBorderWrapper"], [data-testid="stVerticalBlock"]').filter(
        has=page.get_by_text(title, exact=True)).last
    chart = block.locator('[data-testid="stPlotlyChart"]').first
    chart.scroll_into_view_if_needed()
    return chart


def _click(page, mark) -> None:  # noqa: ANN001
    """Click the centre of a mark (a bar's path, a point) and wait for the cases page."""
    mark.scroll_into_view_if_needed()
    box = mark.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_text("下列案件对应").wait_for(timeout=60_000)
    wait_rendered(page, "案件明细")


def _totals(page) -> tuple[int, str]:  # noqa: ANN001
    """The cases page's caption: number of cases and the totals line."""
    text = page.get_by_text(re.compile(r"^共 [\d,]+ 件")).first.inner_text()
    return int(re.match(r"共 ([\d,]+) 件", text).group(1).replace(",", "")), text


def _payments_match(page, fig: pl.DataFrame) -> None:  # noqa: ANN001
    n, text = _totals(page)
    assert n > 0
    assert f"还款 {int(fig['payments'][0]):,} 笔，合计 {cny(fig['value'][0], 'zh')}" in text, text


def _bar(chart, trace: int, index: int):  # noqa: ANN001, ANN202
    return chart.locator(".barlayer .trace").nth(trace).locator("path").nth(index)


def test_every_chart_that_invites_a_click_opens_the_cases_behind_the_mark(server, page, app_store) -> None:  # noqa: ANN001
    # daily recovery: a day's bar, a team's bar (its pace chart), a bucket's bar
    open_page(page, server, "daily")
    day = AS_OF - dt.timedelta(days=1)
    _click(page, _bar(_chart(page, "每日回收与累计对比目标"), 0, day.day - 1))
    assert f"d_day={day.isoformat()}" in page.url
    _payments_match(page, compute("collected", app_store, MTD.with_dates(day, day)))

    open_page(page, server, "daily")
    _click(page, _bar(_chart(page, "各团队回收与达成率"), 0, 0))  # the top bar: the team most behind pace
    first_team = by_team(app_store, MTD).sort("pace")["team_id"][0]
    assert f"d_team={first_team}" in page.url
    _payments_match(page, compute("collected", app_store, MTD, ("team_id",)).filter(pl.col("team_id") == first_team))

    open_page(page, server, "daily")
    _click(page, _bar(_chart(page, "各账龄回收金额与回收率"), 0, 1))  # M1
    _payments_match(page, compute("collected", app_store, MTD, ("bucket",)).filter(pl.col("bucket") == "M1"))

    # monthly trends: a month outside the sidebar's month to date, the in-house bar of a month, a vintage point
    open_page(page, server, "trends")
    _click(page, _bar(_chart(page, "月度回收与回收率"), 0, 9))  # Aug 2026
    assert "d_month=2026-08" in page.url
    _payments_match(page, compute("collected", app_store, MTD.with_dates(dt.date(2026, 8, 1), dt.date(2026, 8, 31))))

    open_page(page, server, "trends")
    _click(page, _bar(_chart(page, "自营与委外对比"), 1, 10))  # the agency bar of Sep 2026 (trace 1: agency)
    assert "d_month=2026-09-01" in page.url and "d_channel=agency" in page.url  # the bar's month, not its x
    sep = compute("collected", app_store, MTD.with_dates(dt.date(2026, 9, 1), dt.date(2026, 9, 30)), ("channel",))
    _payments_match(page, sep.filter(pl.col("channel") == "agency"))

    open_page(page, server, "trends")
    chart = _chart(page, "清收曲线（按委案月份）")
    point = chart.locator(".scatterlayer .trace").nth(0).locator(".points path").nth(3)  # the first vintage, month 3
    _click(page, point)
    assert "drill=placements" in page.url and "d_msince=3" in page.url
    vintage = dt.date.fromisoformat(re.search(r"d_month=(\d{4}-\d{2}-\d{2})", page.url).group(1))
    liq = compute("liquidation", app_store, Filters(vintage, AS_OF), ("placed_month", "months_since"))
    cell = liq.filter((pl.col("placed_month") == vintage) & (pl.col("months_since") == 3))
    placed = app_store.scan("placements").filter(pl.col("placed_month") == vintage).collect()
    n, text = _totals(page)
    assert n == placed["n"].sum() and cny(cell["numerator"][0], "zh") in text, text

    # aging: a bucket's bar of the snapshot, a roll-matrix cell
    snap = max(d for d in app_store.snapshots if d <= AS_OF)
    open_page(page, server, "aging")
    _click(page, _bar(_chart(page, f"各账龄余额与户数（{snap}）"), 0, 2))  # M2
    cnt = compute("bucket_balance", app_store, MTD, ("bucket",), snapshot=snap, basis="count")
    bal = compute("bucket_balance", app_store, MTD, ("bucket",), snapshot=snap)
    n, text = _totals(page)
    assert n == cnt.filter(pl.col("bucket") == "M2")["value"][0]
    assert cny(bal.filter(pl.col("bucket") == "M2")["value"][0], "zh") in text

    open_page(page, server, "aging")
    chart = _chart(page, f"迁徙矩阵（{snap}，余额）")
    roll = compute("roll_rate", app_store, MTD, snapshot=snap)
    cells = roll.filter(pl.col("value").is_not_null()).sort(["from_bucket", "to_bucket"])
    # the invisible markers over the cells, in the order the chart draws them: from M0's row, left to right
    points = chart.locator(".scatterlayer .points path")
    order = {b: i for i, b in enumerate(["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7+", "closed"])}
    drawn = sorted(cells.iter_rows(named=True), key=lambda r: (order[r["from_bucket"]], order[r["to_bucket"]]))
    k = next(i for i, r in enumerate(drawn) if r["from_bucket"] == "M1" and r["to_bucket"] == "M2")
    _click(page, points.nth(k))
    assert "d_from=M1" in page.url and "d_to=M2" in page.url
    n, text = _totals(page)
    assert cny(drawn[k]["numerator"], "zh") in text and n > 0

    # complaints (year to date): a category's bar, the week's bar
    open_page(page, server, "complaints", query="period=ytd")
    chart = _chart(page, "各类别投诉")
    _click(page, _bar(chart, 0, 0))
    cat = compute("complaint_rate", app_store, YTD, ("category",)).filter(pl.col("numerator") > 0).sort(
        "numerator", descending=True)
    n, text = _totals(page)
    assert f"投诉 {int(cat['numerator'][0])} 件" in text


def test_a_team_lead_keeps_role_and_scope_through_five_drill_downs(server, page, app_store) -> None:  # noqa: ANN001
    t02 = set(app_store.frame("agents").filter(pl.col("team_id") == "T02")["agent_id"])

    def pick_lead() -> None:
        open_page(page, server, "daily")
        pick_team_lead(page, "T02", "每日回收")

    lead = Filters(MTD.start, MTD.end, teams=("T02",))

    def scope_kept() -> None:
        """The pickers still say team lead of T02, and the list's totals are T02's figure for the clicked mark."""
        sb = page.locator('[data-testid="stSidebar"]')
        assert "T02 · " in sb.locator('[data-testid="stMultiSelect"]').first.inner_text()  # still the lead of T02
        q = dict(parse_qsl(urlparse(page.url).query))
        n, text = _totals(page)
        assert n > 0
        if q["drill"] == "cases":
            assert q["d_agent"] in t02
            return
        if q["drill"] == "snapshot":
            snap = dt.date.fromisoformat(q["d_snapshot"])
            cnt = compute("bucket_balance", app_store, lead, ("bucket",), snapshot=snap, basis="count")
            assert n == cnt.filter(pl.col("bucket") == q["d_bucket"])["value"][0]
            return
        if "d_day" in q:
            d = dt.date.fromisoformat(q["d_day"])
            fig = compute("collected", app_store, lead.with_dates(d, d))
        elif "d_month" in q:
            m = dt.date.fromisoformat(q["d_month"])
            fig = compute("collected", app_store, lead.with_dates(m, month_end(m)))
        else:
            fig = compute("collected", app_store, lead, ("bucket",)).filter(pl.col("bucket") == q["d_bucket"])
        _payments_match(page, fig)

    pick_lead()
    drills = [
        ("daily", "每日回收与累计对比目标", lambda c: _bar(c, 0, AS_OF.day - 2)),
        ("daily", "各账龄回收金额与回收率", lambda c: _bar(c, 0, 0)),
        ("trends", "月度回收与回收率", lambda c: _bar(c, 0, 8)),
        ("aging", None, None),
        ("agents", None, None),
    ]
    headings = {"daily": "每日回收", "trends": "月度趋势", "aging": "账龄与迁徙", "agents": "坐席绩效"}
    for path, title, mark in drills:
        # through the page menu: reloading the address would start a new session (the demo role is per session)
        page.locator('[data-testid="stSidebarNav"]').get_by_text(headings[path], exact=True).click()
        wait_rendered(page, headings[path])
        page.wait_for_timeout(300)
        if path == "aging":
            snap = max(d for d in app_store.snapshots if d <= AS_OF)
            _click(page, _bar(_chart(page, f"各账龄余额与户数（{snap}）"), 0, 1))
        elif path == "agents":
            page.get_by_role("button", name=re.compile("的在催案件")).click()
            page.get_by_text("下列案件对应").wait_for(timeout=60_000)
            wait_rendered(page, "案件明细")
        else:
            _click(page, mark(_chart(page, title)))
        scope_kept()


def test_daily_opens_at_its_own_path_and_back_returns_to_the_previous_filters_and_page(server, page) -> None:  # noqa: ANN001
    last7 = f"{AS_OF - dt.timedelta(days=6)} → {AS_OF}"
    sb = page.locator('[data-testid="stSidebar"]')
    page.goto(f"{server}/daily?period=last7", wait_until="domcontentloaded")
    wait_rendered(page, "每日回收")
    assert page.get_by_text("Page not found").count() == 0
    sb.get_by_text(last7).wait_for(timeout=30_000)
    # change a filter: the URL follows
    sb.locator('[data-testid="stSelectbox"]').nth(1).click()
    page.get_by_role("option", name="上月").click()
    page.wait_for_function("() => location.search.includes('period=last_month')", timeout=30_000)
    wait_rendered(page, "每日回收")
    sb.get_by_text("2026-10-01 → 2026-10-31").wait_for(timeout=30_000)
    # go to another page, then Back twice: the page, then the filters come back
    page.locator('[data-testid="stSidebarNav"]').get_by_text("账龄与迁徙").click()
    wait_rendered(page, "账龄与迁徙")
    page.wait_for_function("() => location.search.includes('period=last_month')", timeout=30_000)  # and filters
    page.go_back()
    wait_rendered(page, "每日回收")
    assert "period=last_month" in page.url
    page.go_back()
    page.wait_for_function("() => location.search.includes('period=last7')", timeout=30_000)
    wait_rendered(page, "每日回收")
    sb.get_by_text(last7).wait_for(timeout=30_000)  # the widgets follow the URL Back brought


def test_on_a_phone_the_first_screen_has_the_date_the_kpis_and_the_data_as_of_line(server, chrome) -> None:  # noqa: ANN001
    phone = new_page(chrome, 390, 844)
    open_page(phone, server, "daily")
    phone.locator('[data-testid="stMetric"]').first.wait_for(timeout=60_000)
    phone.wait_for_timeout(500)
    cards = phone.locator('[data-testid="stMetric"]')
    assert cards.count() == 6
    for i in range(6):  # all six above the fold, three a row
        box = cards.nth(i).bounding_box()
        assert box["y"] + box["height"] <= 844 and box["width"] < 390 / 2, (i, box)
    for text in ("数据截至 2026年11月22日", "2026年11月22日（周日）"):
        box = phone.get_by_text(text).first.bounding_box()
        assert box is not None and box["y"] < 844, text
    button = phone.locator('[data-testid="stExpandSidebarButton"], [data-testid="stSidebarCollapsedControl"] button')
    label = button.first.evaluate("e => getComputedStyle(e, '::after').content")
    assert "筛选" in label  # the filters are behind a labelled button
    assert phone.locator(".modebar-container").first.evaluate("e => getComputedStyle(e).display") == "none"
