"""End to end: `streamlit run` on a small generated database, every page in headless Chromium, a chart click-through."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fixtures_demo import AS_OF

from dashboard.format import cny
from queries.filters import Filters
from queries.metrics.registry import compute

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from screenshots import CHROMIUM, PAGES, browser, open_page  # noqa: E402

#: Every chart's axes (x, y, a second y, a colour bar) as lists of their tick labels, drawn by Plotly in the page.
AXES_TICKS = """() => Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]')).flatMap((chart, i) =>
    Array.from(chart.querySelectorAll('g.xaxislayer-above, g.yaxislayer-above, g.colorbar')).map((axis, j) =>
        [`chart ${i} ${axis.getAttribute('class')} ${j}`, Array.from(axis.querySelectorAll('text'))
            .filter(t => t.closest('.xtick, .ytick, .cbaxis')).map(t => t.textContent)]))"""


def _repeated_ticks(page) -> list:  # noqa: ANN001
    """The axes whose tick labels repeat one another (two ticks reading "1%", or "11-02" twice)."""
    return [(axis, labels) for axis, labels in page.evaluate(AXES_TICKS) if len(labels) != len(set(labels))]


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}: end-to-end test skipped"),
]


def test_every_page_in_a_real_browser(server, app_store, tmp_path) -> None:  # noqa: ANN001
    collected_mtd = compute("collected", app_store, Filters(AS_OF.replace(day=1), AS_OF))["value"][0]
    with browser() as page:
        for path, (zh, en) in PAGES.items():
            seconds = open_page(page, server, path)
            assert page.locator('[data-testid="stException"]').count() == 0, path
            assert page.get_by_role("heading", name=zh).count() >= 1
            assert page.get_by_text("数据截至 2026年11月22日").count() >= 1, path
            assert not _repeated_ticks(page), path
            page.screenshot(path=str(tmp_path / f"{path}.png"), full_page=True)
            assert seconds < 60
        open_page(page, server, "daily")
        assert page.locator('[data-testid="stMetricValue"]').filter(has_text=cny(collected_mtd, "zh")).count() == 1
        open_page(page, server, "daily", "en")
        assert page.get_by_role("heading", name="Daily recovery").count() == 1
        assert not _repeated_ticks(page)
        assert page.locator('[data-testid="stMetricValue"]').filter(has_text=cny(collected_mtd, "en")).count() == 1
    assert len(list(tmp_path.glob("*.png"))) == len(PAGES)


def test_no_axis_repeats_a_tick_label_over_three_days(server) -> None:  # noqa: ANN001
    # Plotly's own ticks fall every 12 hours over a few days ("11-02" twice) and its rates every 0.25 % ("1%" four
    # times under ".0%"): the axes tick at whole days and show as many decimals as their step needs.
    three_days = "dates=2026-09-01&dates=2026-09-03"
    with browser() as page:
        for path, lang in (("daily", "zh"), ("daily", "en"), ("agents", "zh")):
            open_page(page, server, path, lang, query=three_days)
            assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1, path
            assert not _repeated_ticks(page), (path, lang)
            if path == "daily" and lang == "zh":
                days = page.evaluate(AXES_TICKS)[0][1]  # the daily bars' dates
                assert days == ["09-01", "09-02", "09-03"], days


def test_clicking_a_bar_lists_the_cases_and_a_row_opens_the_timeline(server) -> None:  # noqa: ANN001
    with browser() as page:
        open_page(page, server, "daily")
        bar = page.locator('[data-testid="stPlotlyChart"]').first.locator(".bars path").nth(-2)
        bar.scroll_into_view_if_needed()  # below the fold at 900 px since the KPI cards take two rows
        box = bar.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] - 3)
        page.get_by_role("heading", name="案件明细").wait_for(timeout=60_000)
        page.get_by_text("下列案件对应").wait_for(timeout=30_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        link = page.url
        assert "drill=payments" in link and "d_day=" in link  # the drill travels in the address bar
        total = page.get_by_text("共 ").first.inner_text()
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.wait_for(timeout=30_000)
        gb = grid.bounding_box()
        page.mouse.click(gb["x"] + 18, gb["y"] + 35 + 17)  # the first row's selection checkbox
        page.get_by_role("heading", name="案件时间线").first.wait_for(timeout=60_000)
        assert page.locator('[data-testid="stException"]').count() == 0
    with browser() as other:  # the copied link, opened by someone else: the same cases
        other.goto(link)
        other.get_by_text("下列案件对应").wait_for(timeout=60_000)
        assert other.get_by_text(total).count() == 1
        assert other.locator('[data-testid="stException"]').count() == 0
        assert other.locator('[data-testid="stAlert"]').count() == 0


def test_a_leaderboard_row_found_by_search_opens_that_agents_scorecard(server, app_store) -> None:  # noqa: ANN001
    board = compute("collected", app_store, Filters(AS_OF.replace(day=1), AS_OF), ("agent_id",)).sort(
        ["value", "agent_id"], descending=[True, False])
    agent = board["agent_id"][4]  # not the top agent the scorecard opens on
    with browser() as page:
        open_page(page, server, "agents")
        box = page.get_by_label("查找坐席")
        box.fill(agent)
        box.press("Enter")
        page.wait_for_timeout(500)
        page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=60_000)
        grid = page.locator('[data-testid="stDataFrame"]').first
        gb = grid.bounding_box()
        page.mouse.click(gb["x"] + 18, gb["y"] + 35 + 17)  # the only row's selection checkbox
        # the scorecard (its funnel heading and rank card) follows the clicked row
        page.get_by_text(f"催收漏斗：{agent} ").wait_for(timeout=60_000)
        rank = board["agent_id"].to_list().index(agent) + 1
        assert page.locator('[data-testid="stMetricValue"]').filter(has_text=f"{rank} / ").count() == 1
        assert page.locator('[data-testid="stException"]').count() == 0
