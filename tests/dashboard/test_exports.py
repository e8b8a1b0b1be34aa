"""Every download, opened the way an analyst would: headers, types, Excel number formats, row counts, safety."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from fixtures_demo import AS_OF

from dashboard.i18n import _VALUES
from dashboard.session import EXPORTS
from queries.filters import Filters
from queries.metrics.registry import METRICS, compute

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")  # a column name, not a header
CODES = {k for k in _VALUES if k.isascii()}


def _csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens the Chinese text as UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _xlsx(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


# ---------------------------------------------------------------- the writers on hand-made rows

HOSTILE = pl.DataFrame({
    "case_id": [1, 2, 3],
    "customer_name": ['=HYPERLINK("http://x","y")', "+1+1", "张*三"],
    "status": ["active", "paid_off", None],
    "current_balance": [632718.9099999999, 0.1 + 0.2, None],
    "recovery_rate": [0.12345, float("nan"), 0.5],
    "mom_rr_pp": [0.0123, -0.004, None],
    "events": [2.0, 1.0, 0.0],
    "day": [dt.date(2026, 11, 1)] * 3,
    "detail": ["-2+3", "@SUM(A1)", "\tx\x07<&>"],
    "sparkline": [[1.0], [2.0], [3.0]],
})


def test_hand_made_rows_come_out_typed_translated_and_safe() -> None:
    from dashboard import exports

    cols = exports.columns_for(HOSTILE.schema, "zh")
    assert [c.header for c in cols] == ["案件编号", "客户", "状态", "余额", "回收率", "环比（百分点）", "笔数", "日期", "详情"]
    data, rows = exports.write_xlsx([HOSTILE, HOSTILE.head(1)], cols, "zh", sheet="A[1]:*?/\\'x'",
                                    about=[("期间", "2026-11-01 → 2026-11-22")])
    assert rows == 4
    wb = _xlsx(data)
    ws = wb.worksheets[0]
    assert wb.sheetnames == ["A_1______'x", "筛选"]  # an agent id with []:*?/\ does not break the file
    assert ws.freeze_panes == "A2"
    assert [c.value for c in ws[1]] == [c.header for c in cols]
    r2, r3 = [c for c in ws[2]], [c for c in ws[3]]
    assert r2[0].value == 1 and isinstance(r2[0].value, int) and r2[0].number_format == "0"
    assert r2[3].value == 632718.91 and r2[3].number_format == '"¥"#,##0.00'  # to the cent, not …9099999999
    assert r3[3].value == 0.3
    assert r2[4].value == 0.12345 and r2[4].number_format == "0.0%"
    assert r3[4].value is None  # NaN: an empty cell
    assert r2[5].value == 1.23 and "pp" in r2[5].number_format  # points, never a % sign
    assert r2[6].value == 2 and isinstance(r2[6].value, int) and r2[6].number_format == "#,##0"
    assert r2[7].number_format == "yyyy-mm-dd" and r2[7].value.date() == dt.date(2026, 11, 1)
    assert r2[2].value == "在催" and r3[2].value == "已结清"  # codes translated
    # formula prefixes: kept as text with Excel's quote prefix, so the cell shows the text and never evaluates
    for cell in (r2[1], r3[1], r2[8], r3[8]):
        assert isinstance(cell.value, str) and cell.quotePrefix, cell.value
    assert not ws.cell(4, 2).quotePrefix  # 张*三
    assert ws.cell(4, 9).value.startswith("\tx?<&>") and ws.cell(4, 9).quotePrefix  # control character as "?"
    assert list(wb.worksheets[1].values) == [("期间", "2026-11-01 → 2026-11-22"), ("行数", "4")]  # written as given
    text, n = exports.write_csv([HOSTILE], cols, "en")
    lines = _csv(text)
    assert n == 3 and lines[0] == [c.header for c in cols]
    assert lines[1][1] == "'=HYPERLINK(\"http://x\",\"y\")" and lines[2][1] == "'+1+1" and lines[3][1] == "张*三"
    assert lines[1][8] == "'-2+3" and lines[2][8] == "'@SUM(A1)" and lines[3][8].startswith("'\tx")
    assert lines[1][2] == "Active" and lines[1][3] == "632718.91" and lines[1][6] == "2" and lines[1][5] == "1.23"


def test_a_sheet_name_is_always_one_excel_accepts() -> None:
    from dashboard import exports

    for name in ("[]:*?/\\", "'", "x" * 40, "T01: A/B*?", "'quoted'"):
        safe = exports.safe_sheet_name(name)
        assert safe and len(safe) <= 31 and not re.search(r"[\[\]:*?/\\]", safe)
        assert not safe.startswith("'") and not safe.endswith("'")


# ---------------------------------------------------------------- every download of every page


PAGES = {"daily": "mtd", "agents": "mtd", "aging": "mtd", "trends": "mtd", "cases": "mtd", "glossary": "mtd",
         "complaints": "ytd", "compliance": "ytd",  # the small centre's complaints are sparse within a month
         "agencies": "ytd"}  # placement vintages need months behind them


@pytest.fixture
def store_copy(app_source, tmp_path, monkeypatch) -> Path:  # noqa: ANN001
    """A copy of the shared store, so this test's audit log starts empty."""
    target = tmp_path / "store"
    shutil.copytree(app_source[1], target, ignore=shutil.ignore_patterns("audit"))
    monkeypatch.setenv("CASES_STORE_DIR", str(target))
    return target


def _exports_log(store: Path) -> list[dict]:
    return [json.loads(line) for f in sorted((store / "audit").glob("*.jsonl"))
            for line in f.read_text(encoding="utf-8").splitlines() if '"export"' in line]


def _check(offer, lang: str) -> int:  # noqa: ANN001 - dashboard.exports.Offer
    """Open both files of a download; check them against each other and the column kinds; return the rows."""
    from dashboard import exports

    table = _csv(offer.csv())
    wb = _xlsx(offer.xlsx())
    ws = wb.worksheets[0]
    headers = [c.header for c in offer.columns]
    assert table[0] == headers and [c.value for c in ws[1]] == headers, offer.stem
    assert not [h for h in headers if SNAKE.match(h)], (offer.stem, headers)  # in words, not snake_case
    assert ws.freeze_panes == "A2" and wb.sheetnames[1] == ("筛选" if lang == "zh" else "Filters")
    about = dict(wb.worksheets[1].values)
    assert ("期间" if lang == "zh" else "Period") in about
    rows = list(ws.iter_rows(min_row=2, values_only=False))
    assert len(rows) == len(table) - 1, offer.stem
    for i, col in enumerate(offer.columns):
        for cells in rows[:50]:
            cell = cells[i]
            if cell.value is None:
                continue
            if col.kind in ("count", "id"):
                assert isinstance(cell.value, int), (offer.stem, col.name, cell.value)
            elif col.kind in ("money", "rate", "pp", "number"):
                assert isinstance(cell.value, int | float), (offer.stem, col.name, cell.value)
                if col.kind == "money":
                    assert round(cell.value, 2) == cell.value
            elif col.kind in ("text", "code", "label"):
                assert isinstance(cell.value, str)
            if col.kind in exports.NUMBER_FORMATS:
                assert cell.number_format == exports.NUMBER_FORMATS[col.kind], (offer.stem, col.name)
            if col.kind in ("code", "label") and lang == "zh":
                assert cell.value not in CODES, (offer.stem, col.name, cell.value)  # translated
    return len(rows)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_export_of_every_page_opens_typed_and_in_the_pages_language(run_app, store_copy, app_store,
                                                                           lang: str) -> None:  # noqa: ANN001
    at = run_app(None, role="manager", lang=lang)
    seen: dict[str, int] = {}
    for page, period in PAGES.items():
        at.sidebar.selectbox(key="f_period").set_value(period)
        at.switch_page(f"dashboard/pages/{page}.py").run()
        assert not at.exception, page
        for key, offer in at.session_state[EXPORTS].items():
            seen[f"{page}:{key}"] = _check(offer, lang)
    assert len(seen) >= 17, sorted(seen)
    # row counts against what the page shows
    agents = compute("collected", app_store, Filters(AS_OF.replace(day=1), AS_OF), ("agent_id",)).height
    assert seen["agents:leaderboard"] == agents
    assert seen["trends:monthly"] == 13
    assert seen["glossary:glossary"] == len(METRICS)
    assert seen["daily:daily"] == AS_OF.day
    # every file was recorded when it was produced, once per file, with its rows
    log = _exports_log(store_copy)
    assert len(log) == 2 * len(seen)
    assert all(e["detail"]["reveal_pii"] is False and e["rows"] >= 0 for e in log)


def test_the_cases_export_holds_every_row_and_says_what_and_when(run_app, store_copy, app_source) -> None:  # noqa: ANN001
    from dashboard.links import drill_params
    from queries.source.engines import read_only_engine
    from queries.views.drilldown import list_cases

    request = {"event": "payments", "month": "2026-08-01", "teams": ("T01",)}
    at = run_app("cases", query=drill_params(request), role="compliance")
    assert not at.exception
    engine = read_only_engine(app_source[0])
    ref = list_cases(engine, Filters(AS_OF.replace(day=1), AS_OF, teams=("T01",)), event="payments",
                     month=dt.date(2026, 8, 1))
    engine.dispose()
    assert ref.total > 50  # more than one page: the old export held the first 50
    offer = at.session_state[EXPORTS]["cases"]
    # the file says what it holds and the period it really covers (August, clicked on a month-to-date view)
    assert offer.stem == "cases_with_payments_2026-08-01_2026-08-31_T01"
    assert _check(offer, "zh") == ref.total
    assert any(f"{ref.total:,}" in c.value for c in at.caption)
    log = _exports_log(store_copy)
    assert [e["detail"]["reveal_pii"] for e in log] == [False, False]
    assert log[0]["rows"] == ref.total and log[0]["filters"]["start"] == "2026-08-01"
    # the compliance officer's unmasked export says so in the audit log (and in the file's filters sheet)
    at.toggle(key="reveal_pii").set_value(True).run()
    wb = _xlsx(at.session_state[EXPORTS]["cases"].xlsx())
    assert "未脱敏" in dict(wb.worksheets[1].values)["个人信息"]
    assert _exports_log(store_copy)[-1]["detail"]["reveal_pii"] is True


def test_a_trends_file_is_named_for_the_months_it_holds(run_app) -> None:  # noqa: ANN001
    at = run_app("trends")
    stem = at.session_state[EXPORTS]["monthly"].stem
    assert stem == "collected_by_month_2025-11-01_2026-11-22"  # 13 months, not the sidebar's month to date
