"""Bad files and mappings: one line naming file, line and column; exit 2; nothing written. Bad rows within
--max-bad-rows are left out and listed. The cell readers on hand-made values."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from fixtures_importer import MAPPING

from queries.cli import main as cli_main
from queries.importer import text as T

HEADER = "ID,X1,X2,X3,X4,X5,X6,X7,X8,X9,X10,X11,X12,X13,X14,X15,X16,X17,X18,X19,X20,X21,X22,X23,Y"


@pytest.fixture(scope="module")
def head_csv(uci_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The first 50 lines of the UCI CSV (header + 49 accounts)."""
    return uci_csv.read_text(encoding="utf-8").splitlines()[:50]


def _cell(line: str, col: str, value: str) -> str:
    cells = line.split(",")
    cells[HEADER.split(",").index(col)] = value
    return ",".join(cells)


def _run(tmp_path: Path, files: list[Path], capsys, *extra: str, mapping: Path = MAPPING) -> tuple[int, list[str], str]:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'out.sqlite'}"
    code = cli_main(["import-status", *map(str, files), "--url", url, "--mapping", str(mapping), *extra])
    cap = capsys.readouterr()
    return code, cap.err.strip().splitlines(), cap.out


def _nothing_written(tmp_path: Path) -> bool:
    return not any(p.suffix == ".sqlite" or ".tmp" in p.name for p in tmp_path.iterdir())


def _bad_files(tmp_path: Path, lines: list[str]) -> dict[str, tuple[Path, str]]:
    """name → (file, what the one error line must hold)."""
    out = {}
    f = tmp_path / "missing_column.csv"
    f.write_text("\n".join(ln.rsplit(",", 2)[0] + "," + ln.rsplit(",", 1)[1] for ln in lines), encoding="utf-8")
    out["missing mapped column"] = (f, "line 1 column X23: the mapping's 2005-04 payment column 'X23' is not in")
    f = tmp_path / "unknown_status.csv"
    f.write_text("\n".join([*lines[:7], _cell(lines[7], "X8", "-3"), *lines[8:]]), encoding="utf-8")
    out["unknown status code"] = (f, "line 8 column X8: unknown status code (the mapping reads -2, -1, 0 as current")
    f = tmp_path / "letter_status.csv"
    f.write_text("\n".join([*lines[:3], _cell(lines[3], "X6", "C"), *lines[4:]]), encoding="utf-8")
    out["status that is a letter"] = (f, "line 4 column X6: unknown status code")
    f = tmp_path / "twice.csv"
    f.write_text("\n".join([*lines, lines[5]]), encoding="utf-8")
    out["a month listed twice (the same account again)"] = (f, "line 51 column ID: account 5 has month 2005-04 twice "
                                                             "(first on line 6")
    f = tmp_path / "empty.csv"
    f.write_bytes(b"")
    out["an empty file"] = (f, "line 1 column 1: the file is empty")
    f = tmp_path / "header_only.csv"
    f.write_text(lines[0] + "\n", encoding="utf-8")
    out["a header and no rows"] = (f, "line 2 column 1: no data rows after the header")
    f = tmp_path / "picture.csv"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    out["a file that is not CSV (PNG bytes)"] = (f, "line 3 column 1: not a CSV or Excel file")
    f = tmp_path / "not_a_workbook.xlsx"
    f.write_text("this is not a workbook", encoding="utf-8")
    out["a .xlsx that is not a workbook"] = (f, "line 1 column 1: not a CSV or Excel file")
    f = tmp_path / "latin.csv"
    f.write_bytes("\n".join(lines[:3]).encode() + b"\n" + _cell(lines[3], "X1", "caf\xe9").encode("latin-1"))
    out["bytes that are neither UTF-8 nor GB18030"] = (f, "line 4 column")
    f = tmp_path / "amount.csv"
    f.write_text("\n".join([*lines[:9], _cell(lines[9], "X17", "12.3.4"), *lines[10:]]), encoding="utf-8")
    out["an amount that is not a number"] = (f, "line 10 column X17: not an amount: '12.3.4'")
    f = tmp_path / "sci_key.csv"
    f.write_text("\n".join([*lines[:2], _cell(lines[2], "ID", "6.22E+15"), *lines[3:]]), encoding="utf-8")
    out["an account key Excel turned into 6.22E+15"] = (f, "line 3 column ID: account key in scientific notation")
    f = tmp_path / "ragged.csv"
    f.write_text("\n".join([*lines[:4], lines[4] + ",1,234", *lines[5:]]), encoding="utf-8")
    out["a row with more cells than the header"] = (f, "line 5 column 26: 27 cells but the header has 25")
    return out


@pytest.mark.parametrize("case", [
    "missing mapped column", "unknown status code", "status that is a letter",
    "a month listed twice (the same account again)", "an empty file", "a header and no rows",
    "a file that is not CSV (PNG bytes)", "a .xlsx that is not a workbook", "bytes that are neither UTF-8 nor GB18030",
    "an amount that is not a number", "an account key Excel turned into 6.22E+15",
    "a row with more cells than the header",
])
def test_a_bad_file_is_one_line_exit_2_and_nothing_written(case, head_csv, tmp_path, capsys) -> None:  # noqa: ANN001
    src, fragment = _bad_files(tmp_path, head_csv)[case]
    code, err, _ = _run(tmp_path, [src], capsys)
    assert code == 2
    assert len(err) == 1, err
    assert str(src) in err[0] and fragment in err[0], err[0]
    assert _nothing_written(tmp_path)


def _mapping(tmp_path: Path, text: str) -> Path:
    m = tmp_path / "m.toml"
    m.write_text(text, encoding="utf-8")
    return m


BASE = MAPPING.read_text(encoding="utf-8")


@pytest.mark.parametrize("text, fragment", [
    (BASE.replace('month = "2005-05"', 'month = "2005-04"'), "line 41 column wide.months.month: month 2005-04 is "
                                                             "listed twice (entries 1 and 2)"),
    (BASE.replace('[status]', '[status]\nencodng = "months"'), "line 24 column status.encodng: unknown key 'encodng'"),
    (BASE.replace('encoding = "auto"', 'encoding = "latin-1"'), "column file.encoding: encoding must be one of"),
    (BASE.replace('payments = "month_end"', 'payments = 31'), "column dates.payments: payments must be"),
    (BASE.replace('layout = "wide"', 'layout = "tall"'), "line 10 column layout: layout must be"),
    (BASE.replace('key = "ID"', 'key = "ID'), "line 18 column 10: not valid TOML"),
    (BASE.replace('balance = "X16"', 'balance = "X17"'), "line 43 column X17: column 'X17' is mapped twice"),
])
def test_a_bad_mapping_is_one_line_naming_its_line(text, fragment, uci_csv, tmp_path, capsys) -> None:  # noqa: ANN001
    m = _mapping(tmp_path, text)
    code, err, _ = _run(tmp_path, [uci_csv], capsys, mapping=m)
    assert code == 2 and len(err) == 1, err
    assert f"{m} " in err[0] and fragment in err[0], err[0]
    assert _nothing_written(tmp_path)


def test_bad_rows_are_refused_unless_allowed_and_then_listed(head_csv, tmp_path, capsys) -> None:  # noqa: ANN001
    lines = list(head_csv)
    lines[3] = _cell(lines[3], "X9", "X")  # account 3
    lines[10] = _cell(lines[10], "X20", "-5")  # account 10: a negative payment
    src = tmp_path / "two_bad.csv"
    src.write_text("\n".join(lines), encoding="utf-8")
    code, err, _ = _run(tmp_path, [src], capsys, "--max-bad-rows", "1")
    assert code == 2 and len(err) == 1
    assert "line 4 column X9: unknown status code" in err[0] and "2 bad rows in all" in err[0]
    assert "--max-bad-rows allows 1" in err[0] and _nothing_written(tmp_path)
    code, err, out = _run(tmp_path, [src], capsys, "--max-bad-rows", "2")
    assert code == 0
    assert "imported 47 accounts × 6 months" in out and "2 bad rows left out" in out
    assert f"  {src} line 4 column X9: unknown status code" in out
    assert f"  {src} line 11 column X20: a negative payment" in out and "'-5'" in out


def test_the_target_is_checked_before_reading(uci_csv, tmp_path, capsys) -> None:  # noqa: ANN001
    code, err, _ = _run(tmp_path, [uci_csv], capsys)
    assert code == 0
    code, err, _ = _run(tmp_path, [uci_csv], capsys)
    assert code == 2 and len(err) == 1 and "already holds case tables" in err[0] and "--replace" in err[0]
    code, err, out = _run(tmp_path, [uci_csv], capsys, "--replace", "--json")
    assert code == 0 and '"accounts": 30000' in out
    code = cli_main(["import-status", str(uci_csv), "--url", f"sqlite:///{tmp_path}/no/such/x.sqlite",
                     "--mapping", str(MAPPING)])
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_gbk_file_read_as_utf8_names_the_line(head_csv, tmp_path, capsys) -> None:  # noqa: ANN001
    src = tmp_path / "gbk.csv"
    lines = list(head_csv)
    lines[0] = lines[0].replace("ID", "客户编号")
    src.write_bytes("\n".join(lines).encode("gbk"))
    m = _mapping(tmp_path, BASE.replace('encoding = "auto"', 'encoding = "utf-8"').replace('key = "ID"',
                                                                                          'key = "客户编号"'))
    code, err, _ = _run(tmp_path, [src], capsys, mapping=m)
    assert code == 2 and len(err) == 1 and "line 1 column 1: bytes" in err[0] and "cannot be read as utf-8" in err[0]
    shutil.rmtree(tmp_path / "none", ignore_errors=True)


def test_cells_are_read_as_exports_write_them() -> None:
    raw = ["1.00E+05", " 3,913 ", "（1,234.50）", "－５", "￥1,000元", "１２３", "", None, "abc", "1,23", "2.5e-1",
           "−7", "1e20"]
    # worked answers in cents; None with bad=True where the text is not an amount, None and not bad when empty
    want = [(10_000_000, False), (391_300, False), (-123_450, False), (-500, False), (100_000, False),
            (12_300, False), (None, False), (None, False), (None, True), (None, True), (25, False), (-700, False),
            (None, True)]
    df = T.clean(pl.DataFrame({"s": raw}, schema={"s": pl.String}), {"c": "s"})
    df = T.cents(df, "c", "v")
    assert list(zip(df["v"], df["v_bad"], strict=True)) == want
    months = ["2005-04", "2005/4", "200504", "2005年4月", "２００５年４月", "2005-04-30 00:00:00", "2005-13", "April"]
    df = T.month(T.clean(pl.DataFrame({"s": months}), {"c": "s"}), "c", "m")
    assert [d.isoformat() if d else None for d in df["m"]] == ["2005-04-01"] * 6 + [None, None]
    assert df["m_bad"].to_list() == [False] * 6 + [True, True]
    df = T.code(T.clean(pl.DataFrame({"s": ["2.0", "＋1", "-2", " C ", "00"]}), {"c": "s"}), "c", "k")
    assert df["k"].to_list() == ["2", "1", "-2", "C", "0"]
    assert [T.canonical_code(x) for x in ["-2", "－２", "2.0", "+1", "C", " 0 "]] == ["-2", "-2", "2", "1", "C", "0"]
