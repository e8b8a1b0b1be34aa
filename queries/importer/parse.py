"""Reading a month-end status file (CSV in UTF-8, UTF-8 with BOM, GBK or GB18030; or an Excel workbook) into
a frame of text cells with their line numbers, keeping only the columns the mapping asks for.

A CSV in UTF-8 is read by Polars straight from the file; another encoding is first transcoded to a temporary
UTF-8 file a few megabytes at a time, so memory never holds the whole file as Python text. An undecodable
byte, a binary file, an empty file or a row with more cells than the header is one line naming file, line
and column. Blank lines are kept while reading (so line numbers stay right) and dropped afterwards.
"""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from queries.importer.errors import FileProblem
from queries.importer.mapping import Mapping
from queries.importer.text import clean_text

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
_ZIP, _OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"
BLOCK = 8 << 20
LINE = "_line"

#: given the cleaned header names, the names of the columns to read (raises FileProblem for a missing one)
Pick = Callable[[list[str]], list[str]]


@dataclass
class Table:
    """The cells of one file: `_line` (line or sheet row of each row) and the picked columns as text."""

    path: Path
    frame: pl.DataFrame
    header: list[str]
    header_line: int

    def position(self, name: str) -> int:
        """1-based column number of a header name."""
        return self.header.index(name) + 1


def read_table(path: Path, mapping: Mapping, pick: Pick, workdir: Path) -> Table:
    """Read one status file: its header at `mapping.header_row`, then the picked columns of every row."""
    if not path.is_file():
        raise FileProblem(f"{path} line 1 column 1: file not found")
    with path.open("rb") as fh:
        head = fh.read(BLOCK)
    if not head:
        raise FileProblem(f"{path} line 1 column 1: the file is empty (no header row, no data)")
    if path.suffix.lower() in EXCEL_SUFFIXES or head.startswith((_ZIP, _OLE)):
        return _read_excel(path, mapping, pick)
    nul = head.find(b"\x00")
    if nul >= 0 and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        line = head.count(b"\n", 0, nul) + 1
        col = nul - (head.rfind(b"\n", 0, nul) + 1) + 1
        raise FileProblem(f"{path} line {line} column {col}: not a CSV or Excel file (binary content); "
                          "give a CSV text file or an Excel workbook (.xlsx, .xls)")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileProblem(f"{path} line 1 column 1: the file is UTF-16; save it as CSV UTF-8 (or GBK)")
    utf8 = _utf8_file(path, mapping.encoding, workdir)
    return _read_csv(path, utf8, mapping, pick)


def _decode_all(path: Path, encoding: str, out: io.BufferedWriter | None) -> None:
    """Decode the whole file strictly (and write it as UTF-8 to `out`); FileProblem at the first bad byte."""
    dec = codecs.getincrementaldecoder(encoding)(errors="strict")
    lines, col_base = 0, 0  # newlines in the blocks done; bytes since the last of them
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(BLOCK)
            try:
                text = dec.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                off = exc.start - (len(exc.object) - len(chunk))  # < 0: in bytes carried from the last block
                nl = chunk.rfind(b"\n", 0, max(off, 0))
                line = lines + chunk.count(b"\n", 0, max(off, 0)) + 1
                col = off - nl if nl >= 0 else col_base + off + 1
                bad = exc.object[exc.start:exc.start + 2]
                raise FileProblem(f"{path} line {line} column {col}: bytes {bad!r} cannot be read as {encoding}; "
                                  "set encoding in the mapping's [file] table (utf-8, utf-8-sig, gbk or gb18030)"
                                  ) from None
            if out is not None and text:
                out.write(text.encode("utf-8"))
            if not chunk:
                return
            n = chunk.count(b"\n")
            col_base = (len(chunk) - chunk.rfind(b"\n") - 1) if n else col_base + len(chunk)
            lines += n


def _utf8_file(path: Path, encoding: str, workdir: Path) -> Path:
    """A UTF-8 file with the content of `path`: the file itself when it is UTF-8, else a transcoded copy."""
    with path.open("rb") as fh:
        bom = fh.read(3) == codecs.BOM_UTF8
    if encoding in ("auto", "utf-8", "utf-8-sig"):
        try:
            _decode_all(path, "utf-8", None)
            return path
        except FileProblem:
            if encoding != "auto" or bom:
                raise
        encoding = "gb18030"  # auto: not UTF-8, so the Chinese national standard (a superset of GBK)
    tmp = workdir / f"{len(list(workdir.iterdir()))}-{path.stem}.utf8.csv"
    with tmp.open("wb") as out:
        _decode_all(path, encoding, out)
    return tmp


def _header_line(utf8: Path, header_row: int) -> str | None:
    with utf8.open("r", encoding="utf-8-sig", newline="") as fh:
        for i, line in enumerate(fh, 1):
            if i == header_row:
                return line
    return None


def _delimiter(line: str, given: str | None) -> str:
    if given is not None:
        return given
    counts = {d: line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _names(cells: list[str]) -> list[str]:
    return [clean_text(c) for c in cells]


def _read_csv(path: Path, utf8: Path, mapping: Mapping, pick: Pick) -> Table:
    line = _header_line(utf8, mapping.header_row)
    if line is None or not line.strip():
        raise FileProblem(f"{path} line {mapping.header_row} column 1: no header row there "
                          f"(the file has fewer lines, or that line is blank); check header_row in the mapping")
    sep = _delimiter(line, mapping.delimiter)
    header = _names(next(csv.reader([line], delimiter=sep)))
    names = pick(header)
    idx = [header.index(n) for n in names]
    # every column is read (as text): only then does Polars refuse a row with more cells than the header, which
    # is how an unquoted delimiter inside a value shows (it would shift the cells after it silently)
    schema = {f"c{i}": pl.String for i in range(len(header))}
    try:
        df = pl.read_csv(utf8, has_header=False, skip_rows=mapping.header_row, separator=sep, schema=schema,
                         row_index_name="_row", quote_char='"', encoding="utf8", raise_if_empty=False)
    except pl.exceptions.ComputeError as exc:
        raise _ragged(path, utf8, mapping.header_row, sep, len(header)) or FileProblem(
            f"{path} line {mapping.header_row + 1} column 1: cannot read the file as CSV: "
            f"{str(exc).splitlines()[0]}") from None
    df = df.select((pl.col("_row").cast(pl.Int64) + mapping.header_row + 1).alias(LINE),
                   *[pl.col(f"c{i}").alias(n) for i, n in zip(idx, names, strict=True)])
    return Table(path, _drop_blank(df, names), header, mapping.header_row)


def _ragged(path: Path, utf8: Path, header_row: int, sep: str, width: int) -> FileProblem | None:
    """The first row with more cells than the header (what makes Polars refuse a CSV), as a FileProblem."""
    with utf8.open("r", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=sep)
        for row in reader:
            if reader.line_num > header_row and len(row) > width:
                return FileProblem(f"{path} line {reader.line_num} column {width + 1}: {len(row)} cells but the "
                                   f"header has {width}; a value with the delimiter '{sep}' in it must be quoted")
    return None


def _drop_blank(df: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    return df.filter(~pl.all_horizontal(pl.col(n).is_null() | (pl.col(n).str.strip_chars() == "") for n in names))


def _read_excel(path: Path, mapping: Mapping, pick: Pick) -> Table:
    import fastexcel

    try:
        book = fastexcel.read_excel(str(path))
    except Exception as exc:  # noqa: BLE001 - any failure of the reader means the file is not a workbook
        raise FileProblem(f"{path} line 1 column 1: not a CSV or Excel file ({str(exc).splitlines()[0][:120]}); "
                          "give a CSV text file or an Excel workbook (.xlsx, .xls)") from None
    sheets = book.sheet_names
    sheet = mapping.sheet if mapping.sheet is not None else 1
    if isinstance(sheet, int):
        if sheet > len(sheets):
            raise FileProblem(f"{path} line 1 column 1: the workbook has {len(sheets)} sheet(s), not {sheet}")
        sheet = sheets[sheet - 1]
    if sheet not in sheets:
        raise FileProblem(f"{path} line 1 column 1: no sheet '{sheet}'; the workbook has {', '.join(sheets)}")
    raw = book.load_sheet(sheet, header_row=None, dtypes="string").to_polars()
    h = mapping.header_row
    if raw.height < h:
        raise FileProblem(f"{path} line {h} column 1: sheet '{sheet}' has no row {h} for the header")
    header = _names(["" if v is None else str(v) for v in raw.row(h - 1)])
    names = pick(header)
    cols = raw.columns
    df = raw.slice(h).select(pl.int_range(h + 1, h + 1 + raw.height - h, dtype=pl.Int64).alias(LINE),
                             *[pl.col(cols[header.index(n)]).cast(pl.String).alias(n) for n in names])
    return Table(path, _drop_blank(df, names), header, h)


def temp_dir() -> tempfile.TemporaryDirectory:
    """A private folder for transcoded copies, removed when the import ends."""
    return tempfile.TemporaryDirectory(prefix="cases-import-")
