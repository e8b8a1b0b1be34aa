"""The same UCI rows written as a bank's exports really look — a GBK CSV with Chinese headers, full-width digits,
thousands separators, spaces and CRLF; an Excel workbook; a long file with a row per account-month — import to
exactly the tables the original CSV gives."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import sqlalchemy as sa
from fixtures_importer import COLUMNS, MAPPING, MONTHS

from queries.importer import import_status
from queries.source import contract as S

FULL = str.maketrans("0123456789-", "０１２３４５６７８９－")
CN_MONTH = {m: f"{m[:4]}年{int(m[5:])}月" for m in MONTHS}


def _excelish(v: str, i: int) -> str:
    """Mangle a number the way exports do, a different way per row: full-width, thousands, spaces, 1.00E+05."""
    n = v.strip()
    if i % 5 == 1:
        return n.translate(FULL)
    if i % 5 == 2 and n.lstrip("-").isdigit() and abs(int(n)) >= 1000:
        return f"{int(n):,}"
    if i % 5 == 3:
        return f"  {n} "
    if i % 5 == 4 and n.lstrip("-").isdigit() and int(n) != 0 and int(n) % 1000 == 0:
        return f"{int(n):.2E}"  # 100000 → 1.00E+05, as Excel shows it
    return n


def _rows(url: str) -> dict[str, list[tuple]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
                    for t in S.TABLES}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def original(uci_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    """Every table of the UCI CSV imported with the example mapping (SQLite)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('orig') / 'orig.sqlite'}"
    import_status([uci_csv], url, MAPPING)
    return _rows(url)


def _cn_wide(uci_rows: list[dict], path: Path) -> None:
    header = ["客户编号", *[f"{k}_{CN_MONTH[m]}" for m in MONTHS for k in ("逾期状态", "账单金额", "还款金额")], "下月违约"]
    with path.open("w", encoding="gbk", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(header)
        for i, r in enumerate(uci_rows):
            cells = [r["ID"]]
            for m in MONTHS:
                cells += [_excelish(r[c], i + j) for j, c in enumerate(COLUMNS[m])]
            w.writerow([*cells, _excelish(r["Y"], i)])


CN_MAPPING = """
layout = "wide"

[file]
encoding = "gbk"
header_row = 1

[account]
key = "客户编号"
outcome = "下月违约"
outcome_label = "default next month"

[status]
encoding = "months"
current = [-2, -1, 0]

[wide]
status = "逾期状态_{month}"
balance = "账单金额_{month}"
payment = "还款金额_{month}"
"""


def test_gbk_excel_style_copy_with_chinese_headers_imports_to_identical_tables(uci_rows, original, tmp_path) -> None:  # noqa: ANN001
    src = tmp_path / "月末账户状态_GBK.csv"
    _cn_wide(uci_rows, src)
    raw = src.read_bytes()
    assert "１".encode("gbk") in raw and b'"1,' in raw and b"E+0" in raw and b"\r\n" in raw
    mapping = tmp_path / "cn.toml"
    mapping.write_text(CN_MAPPING, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'cn.sqlite'}"
    summary = import_status([src], url, mapping)
    assert _rows(url) == original
    assert (summary.accounts, summary.outcome_positive, summary.outcome_known) == (30_000, 6_636, 30_000)
    # the same file read with encoding = "auto" (not UTF-8, so GB18030, a superset of GBK)
    mapping.write_text(CN_MAPPING.replace('encoding = "gbk"', 'encoding = "auto"'), encoding="utf-8")
    url2 = f"sqlite:///{tmp_path / 'cn2.sqlite'}"
    import_status([src], url2, mapping)
    assert _rows(url2) == original


LONG_MAPPING = """
layout = "long"

[file]
header_row = 1

[account]
key = "客户编号"
outcome = "下月违约"

[status]
current = [-2, -1, 0]

[long]
month = "月份"
status = "逾期状态"
balance = "账单金额"
payment = "还款金额"
"""
LONG_HEADER = ["客户编号", "月份", "逾期状态", "账单金额", "还款金额", "下月违约"]


def test_long_layout_imports_to_identical_tables(uci_rows, original, tmp_path) -> None:  # noqa: ANN001
    long_csv = tmp_path / "long.csv"
    with long_csv.open("w", encoding="utf-8-sig", newline="") as fh:  # UTF-8 with BOM, as Excel saves it
        w = csv.writer(fh)
        w.writerow(LONG_HEADER)
        for i, r in enumerate(uci_rows):
            for m in MONTHS:
                s, b, p = (r[c] for c in COLUMNS[m])
                w.writerow([r["ID"], m.replace("-", ""), _excelish(s, i), _excelish(b, i + 1), p, r["Y"]])
    mapping = tmp_path / "long.toml"
    mapping.write_text(LONG_MAPPING, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'long.sqlite'}"
    import_status([long_csv], url, mapping)
    assert _rows(url) == original


def test_excel_workbook_imports_like_its_csv(uci_rows, uci_csv, tmp_path) -> None:  # noqa: ANN001
    import xlsxwriter

    some = uci_rows[:2_000]  # writing a workbook is slow; 2,000 accounts × 6 months show the same
    part_csv = tmp_path / "part.csv"
    with part_csv.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(some[0]))
        w.writeheader()
        w.writerows(some)
    book = tmp_path / "status.xlsx"
    wb = xlsxwriter.Workbook(str(book))
    wb.add_worksheet("说明").write(0, 0, "another sheet first")
    ws = wb.add_worksheet("月末状态")
    ws.write_row(0, 0, ["某银行信用卡中心 月末账户状态"])  # a title row above the header
    ws.write_row(1, 0, LONG_HEADER)
    row = 2
    for r in some:
        for m in MONTHS:
            s, b, p = (r[c] for c in COLUMNS[m])
            # in a workbook numbers are numbers; months here are text such as 2005年4月
            ws.write_row(row, 0, [int(r["ID"]), CN_MONTH[m], int(s), float(b), float(p), int(r["Y"])])
            row += 1
    wb.close()
    mapping = tmp_path / "xlsx.toml"
    mapping.write_text(LONG_MAPPING.replace("header_row = 1", 'header_row = 2\nsheet = "月末状态"'), encoding="utf-8")
    url, want = f"sqlite:///{tmp_path / 'xlsx.sqlite'}", f"sqlite:///{tmp_path / 'part.sqlite'}"
    import_status([book], url, mapping)
    import_status([part_csv], want, MAPPING)
    assert _rows(url) == _rows(want)
    assert len(_rows(url)["cases"]) == 2_000


def test_one_file_per_month_with_the_month_in_the_file_name(uci_rows, original, tmp_path) -> None:  # noqa: ANN001
    files = []
    for m in MONTHS:
        f = tmp_path / f"status_{m.replace('-', '')}.csv"
        with f.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, delimiter="\t")
            w.writerow(["acct", "stat", "bill", "paid", "default"])
            for r in uci_rows:
                w.writerow([r["ID"], *(r[c] for c in COLUMNS[m]), r["Y"]])
        files.append(f)
    mapping = tmp_path / "monthly.toml"
    mapping.write_text("""
layout = "long"
[file]
delimiter = "auto"
[account]
key = "acct"
outcome = "default"
[status]
current = [-2, -1, 0]
[long]
month_from_name = 'status_(\\d{6})'
status = "stat"
balance = "bill"
payment = "paid"
""", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'monthly.sqlite'}"
    import_status(list(reversed(files)), url, mapping)
    assert _rows(url) == original
