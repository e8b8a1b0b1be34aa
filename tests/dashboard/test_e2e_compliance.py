"""In Chromium: a click on a bar of the compliance page's breaches-by-day chart lists exactly the breaching contacts
it counts (the list's count equals the figure worked out by the registry on the same store); a team lead sees only
their own team's breaches; the breach list and its download hold no unmasked personal data for a manager or lead."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlparse

import polars as pl
import pytest
import sqlalchemy as sa
from fixtures_app import pick_team_lead
from fixtures_demo import AS_OF

from queries.filters import Filters
from queries.metrics.registry import compute

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from screenshots import CHROMIUM, new_page, open_page, wait_rendered  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}: end-to-end test skipped"),
]
MTD = Filters(AS_OF.replace(day=1), AS_OF)
TITLE = "每日违规（按规则）"


@pytest.fixture(scope="module")
def phones(app_source) -> set[str]:  # noqa: ANN001
    """Every number dialled and every debtor phone in the case database (unmasked)."""
    engine = sa.create_engine(app_source[0])
    with engine.connect() as conn:
        out = {r[0] for r in conn.execute(sa.text("SELECT DISTINCT phone_no FROM contacts")) if r[0]}
        out |= {r[0] for r in conn.execute(sa.text("SELECT phone FROM cases")) if r[0]}
    engine.dispose()
    return out


def _chart(page):  # noqa: ANN001, ANN202
    block = page.locator('[data-testid="stVerticalBlockBorderWrapper"], [data-testid="stVerticalBlock"]').filter(
        has=page.get_by_text(TITLE, exact=True)).last
    chart = block.locator('[data-testid="stPlotlyChart"]').first
    chart.scroll_into_view_if_needed()
    return chart


def _click_tallest_bar(page) -> None:  # noqa: ANN001
    """Click the centre of the tallest bar of the chart, and wait for the breach list."""
    bars = _chart(page).locator(".barlayer .trace path")
    boxes = [(i, bars.nth(i).bounding_box()) for i in range(bars.count())]
    i, box = max(((i, b) for i, b in boxes if b), key=lambda ib: ib[1]["height"])
    bars.nth(i).scroll_into_view_if_needed()
    box = bars.nth(i).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_text("下列违规记录对应").wait_for(timeout=60_000)
    wait_rendered(page, "合规监控")


def _listed(page) -> int:  # noqa: ANN001
    text = page.get_by_text(re.compile(r"^共 [\d,]+ 条违规记录")).first.inner_text()
    return int(re.match(r"共 ([\d,]+) 条", text).group(1).replace(",", ""))


def _download(page) -> list[dict[str, str]]:  # noqa: ANN001
    """The breach list's CSV download, as rows."""
    block = page.locator('[data-testid="stVerticalBlockBorderWrapper"], [data-testid="stVerticalBlock"]').filter(
        has=page.get_by_text("违规催收记录", exact=True)).last
    button = block.locator('[data-testid="stDownloadButton"]').filter(has_text="CSV").first
    button.scroll_into_view_if_needed()
    with page.expect_download(timeout=60_000) as info:
        button.click()
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _figure(app_store, f: Filters, page) -> int:  # noqa: ANN001
    q = dict(parse_qsl(urlparse(page.url).query))
    d = dt.date.fromisoformat(q["b_day"])
    ref = compute("breaches", app_store, f.with_dates(d, d), ("check",))
    return int(ref.filter(pl.col("check") == q["b_check"]).get_column("numerator")[0])


def _no_phone(rows: list[dict[str, str]], text: str, phones: set[str]) -> None:
    assert rows and all("*" in r["拨打号码"] or r["拨打号码"] in ("", "—") for r in rows)
    assert not [p for p in phones if p in text]


def test_a_bar_lists_exactly_its_breaching_contacts_masked(server, chrome, app_store, phones) -> None:  # noqa: ANN001
    page = new_page(chrome, 1280, 1000)
    open_page(page, server, "compliance")
    _click_tallest_bar(page)
    q = dict(parse_qsl(urlparse(page.url).query))
    assert q["b_check"] and q["b_day"]  # the selection is in the link
    n = _figure(app_store, MTD, page)
    assert n > 0 and _listed(page) == n
    rows = _download(page)
    assert len(rows) == n  # the download holds every contact of the figure, not only the first page
    _no_phone(rows, page.content(), phones)
    page.context.close()


def test_a_team_lead_sees_only_their_teams_breaches(server, chrome, app_store, phones) -> None:  # noqa: ANN001
    page = new_page(chrome, 1280, 1000)
    open_page(page, server, "compliance")
    pick_team_lead(page, "T04", "合规监控")
    _click_tallest_bar(page)
    lead = Filters(MTD.start, MTD.end, teams=("T04",))
    n = _figure(app_store, lead, page)
    assert n > 0 and _listed(page) == n
    rows = _download(page)
    assert {r["团队"] for r in rows} == {"T04"}  # the lead's own team only
    _no_phone(rows, page.content(), phones)
    assert "T04 · " in page.locator('[data-testid="stSidebar"]').locator('[data-testid="stMultiSelect"]').first.inner_text()  # still the lead of T04
    page.context.close()
