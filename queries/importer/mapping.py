"""The mapping file (TOML) of `import-status`: which column holds what, and how to read it (docs/import-status.md)."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from queries.buckets import DEFAULT_BUCKETS
from queries.dates import month_end
from queries.importer.errors import MappingError
from queries.importer.text import canonical_code, parse_month
from queries.source.contract import PAYMENT_METHODS

ENCODINGS = ("auto", "utf-8", "utf-8-sig", "gbk", "gb18030")
DELIMITERS = {"auto": None, ",": ",", "\\t": "\t", "\t": "\t", ";": ";", "|": "|"}
STATUS_ENCODINGS = ("months", "dpd", "codes")
PAYMENT_DAYS = ("month_end", "month_start")
MONTH = "{month}"


@dataclass(frozen=True)
class MonthColumns:
    """The columns of one month in a wide file."""

    month: dt.date
    status: str
    balance: str
    payment: str | None


@dataclass(frozen=True)
class Mapping:
    """A validated mapping file."""

    path: Path
    layout: str  # "wide" | "long"
    key: str
    encoding: str = "auto"
    delimiter: str | None = None  # None: guess from the header line
    header_row: int = 1
    sheet: str | int | None = None
    product: str | None = None
    region: str | None = None
    outcome: str | None = None
    outcome_positive: tuple[str, ...] = ("1",)
    outcome_label: str = "outcome"
    status_encoding: str = "months"
    current_codes: tuple[str, ...] = ("0",)
    days_per_month: int = 30
    codes: dict[str, int] = field(default_factory=dict)
    payment_day: str | int = "month_end"
    payment_method: str = "bank_transfer"
    # wide: the months listed, or patterns with {month}
    months: tuple[MonthColumns, ...] = ()
    patterns: dict[str, str] = field(default_factory=dict)
    # long
    month_column: str | None = None
    month_from_name: str | None = None
    status: str | None = None
    balance: str | None = None
    payment: str | None = None

    def payment_date(self, month: dt.date) -> dt.date:
        """The day a month's payments are dated (the mapping's `[dates] payments`)."""
        if self.payment_day == "month_start":
            return month
        if self.payment_day == "month_end":
            return month_end(month)
        return month.replace(day=int(self.payment_day))


class _Reader:
    """Typed access to the parsed TOML, every complaint naming the mapping file and the key's line."""

    def __init__(self, path: Path, text: str, data: dict) -> None:
        self.path, self.lines, self.data = path, text.splitlines(), data

    def line_of(self, key: str, value: object = None) -> int:
        """The line where `key = …` (holding `value`, when given) is written; 1 when it cannot be found."""
        pat = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        hits = [i for i, ln in enumerate(self.lines, 1) if pat.search(ln)]
        if value is not None:
            hits = [i for i in hits if str(value) in self.lines[i - 1]] or hits
        return hits[0] if hits else 1

    def fail(self, key: str, msg: str, value: object = None, line: int | None = None) -> MappingError:
        """A MappingError naming the file, the line and the key."""
        ln = line or self.line_of(key.rpartition(".")[2], value)
        return MappingError(f"{self.path} line {ln} column {key}: {msg}")

    def table(self, name: str, required: bool = False) -> dict:
        """A [table] of the mapping (empty when absent and not required)."""
        t = self.data.get(name)
        if t is None:
            if required:
                raise MappingError(f"{self.path} line 1 column [{name}]: the mapping needs a [{name}] table")
            return {}
        if not isinstance(t, dict):
            raise self.fail(name, f"'{name}' must be a table ([{name}])")
        return t

    def text(self, table: dict, tname: str, key: str, default: str | None = None, required: bool = False) -> str | None:
        """A non-empty string value."""
        v = table.get(key)
        if v is None:
            if required:
                raise MappingError(f"{self.path} line {self.line_of(tname) if tname else 1} column {tname}.{key}: "
                                   f"'{key}' is required in [{tname}]")
            return default
        if not isinstance(v, str) or not v.strip():
            raise self.fail(f"{tname}.{key}", f"'{key}' must be a non-empty text in quotes, not {v!r}", v)
        return v.strip()

    def unknown(self, table: dict, tname: str, allowed: set[str]) -> None:
        """Refuse keys the mapping does not know (a typo would silently be ignored otherwise)."""
        for k in table:
            if k not in allowed:
                raise self.fail(f"{tname}.{k}" if tname else k,
                                f"unknown key '{k}'; allowed here: {', '.join(sorted(allowed))}")


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file; MappingError (one line: file, line, key) when it is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MappingError(f"{path}: mapping file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path} line 1 column 1: cannot read the mapping file ({exc}); save it as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"line {m.group(1)} column {m.group(2)}" if m else "line 1 column 1"
        raise MappingError(f"{path} {where}: not valid TOML: {str(exc).split(' (at line')[0]}") from None
    r = _Reader(path, text, data)
    r.unknown(data, "", {"layout", "file", "account", "status", "dates", "payments", "wide", "long"})
    layout = data.get("layout")
    if layout not in ("wide", "long"):
        raise r.fail("layout", f"layout must be \"wide\" (a column per month) or \"long\" (a row per month), "
                     f"not {layout!r}", layout if layout is not None else None,
                     line=r.line_of("layout") if layout is not None else 1)
    kw: dict = {"path": path, "layout": layout}

    f = r.table("file")
    r.unknown(f, "file", {"encoding", "delimiter", "header_row", "sheet"})
    enc = (r.text(f, "file", "encoding", "auto") or "auto").lower().replace("_", "-")
    enc = {"utf8": "utf-8", "utf-8-bom": "utf-8-sig", "utf8-sig": "utf-8-sig", "gb2312": "gbk", "cp936": "gbk"}.get(
        enc, enc)
    if enc not in ENCODINGS:
        raise r.fail("file.encoding", f"encoding must be one of {', '.join(ENCODINGS)}, not {f['encoding']!r}",
                     f.get("encoding"))
    kw["encoding"] = enc
    delim = f.get("delimiter", "auto")
    if delim not in DELIMITERS:
        raise r.fail("file.delimiter", f"delimiter must be one of \",\" \"\\t\" \";\" \"|\" or \"auto\", not {delim!r}")
    kw["delimiter"] = DELIMITERS[delim]
    header = f.get("header_row", 1)
    if not isinstance(header, int) or isinstance(header, bool) or header < 1:
        raise r.fail("file.header_row", f"header_row must be a line number from 1, not {header!r}", header)
    kw["header_row"] = header
    sheet = f.get("sheet")
    if sheet is not None and not (isinstance(sheet, str) and sheet.strip()) and not (
            isinstance(sheet, int) and not isinstance(sheet, bool) and sheet >= 1):
        raise r.fail("file.sheet", f"sheet must be a sheet name or a number from 1, not {sheet!r}", sheet)
    kw["sheet"] = sheet.strip() if isinstance(sheet, str) else sheet

    a = r.table("account", required=True)
    r.unknown(a, "account", {"key", "product", "region", "outcome", "outcome_positive", "outcome_label"})
    kw["key"] = r.text(a, "account", "key", required=True)
    for k in ("product", "region", "outcome"):
        kw[k] = r.text(a, "account", k)
    pos = a.get("outcome_positive", ["1"])
    if not isinstance(pos, list) or not pos or not all(isinstance(v, str | int) for v in pos):
        raise r.fail("account.outcome_positive", "outcome_positive must be a list of values, e.g. [\"1\"]")
    kw["outcome_positive"] = tuple(canonical_code(str(v)) for v in pos)
    kw["outcome_label"] = r.text(a, "account", "outcome_label", kw["outcome"] or "outcome")

    _status(r, kw)
    _dates(r, kw)
    if layout == "wide":
        _wide(r, kw)
    else:
        _long(r, kw)
    used = [kw["key"], kw["product"], kw["region"], kw["outcome"], kw.get("month_column"), kw.get("status"),
            kw.get("balance"), kw.get("payment")]
    for m in kw.get("months", ()):
        used += [m.status, m.balance, m.payment]
    names = [u for u in used if u]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise MappingError(f"{path} line {_line_with(r, n, 2)} column {n}: column '{n}' is mapped twice")
    return Mapping(**kw)


def _line_with(r: _Reader, text: str, nth: int) -> int:
    hits = [i for i, ln in enumerate(r.lines, 1) if f'"{text}"' in ln or f"'{text}'" in ln]
    return hits[min(nth, len(hits)) - 1] if hits else 1


def _status(r: _Reader, kw: dict) -> None:
    s = r.table("status", required=True)
    r.unknown(s, "status", {"encoding", "current", "days_per_month", "codes"})
    enc = r.text(s, "status", "encoding", "months")
    if enc not in STATUS_ENCODINGS:
        raise r.fail("status.encoding", f"encoding must be months, dpd or codes, not {enc!r}", enc)
    kw["status_encoding"] = enc
    cur = s.get("current", [0])
    if not isinstance(cur, list) or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in cur):
        raise r.fail("status.current", "current must be a list of codes meaning current, e.g. [-2, -1, 0]")
    kw["current_codes"] = tuple(canonical_code(str(v)) for v in cur)
    dpm = s.get("days_per_month", 30)
    if not isinstance(dpm, int) or isinstance(dpm, bool) or not 1 <= dpm <= 31:
        raise r.fail("status.days_per_month", f"days_per_month must be a whole number 1–31, not {dpm!r}", dpm)
    kw["days_per_month"] = dpm
    codes = s.get("codes", {})
    if enc == "codes" and not codes:
        raise r.fail("status.encoding", "encoding = \"codes\" needs a [status.codes] table, e.g. \"C\" = \"M0\"",
                     "codes")
    if not isinstance(codes, dict):
        raise r.fail("status.codes", "codes must be a table of code = days past due (or a bucket such as \"M2\")")
    table = {}
    labels = DEFAULT_BUCKETS.labels
    for code, v in codes.items():
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
            table[canonical_code(code)] = v
        elif isinstance(v, str) and v.strip().upper() in labels:
            i = labels.index(v.strip().upper())
            upper = DEFAULT_BUCKETS.upper
            table[canonical_code(code)] = upper[i] if i < len(upper) else upper[-1] + 1
        else:
            raise r.fail(f"status.codes.{code}", f"code '{code}' must map to days past due (a whole number ≥ 0) "
                         f"or a bucket ({', '.join(labels)}), not {v!r}", code)
    kw["codes"] = table


def _dates(r: _Reader, kw: dict) -> None:
    d = r.table("dates")
    r.unknown(d, "dates", {"payments"})
    day = d.get("payments", "month_end")
    if not (day in PAYMENT_DAYS or (isinstance(day, int) and not isinstance(day, bool) and 1 <= day <= 28)):
        raise r.fail("dates.payments", f"payments must be \"month_end\", \"month_start\" or a day 1–28, not {day!r}",
                     day)
    kw["payment_day"] = day
    p = r.table("payments")
    r.unknown(p, "payments", {"method"})
    method = r.text(p, "payments", "method", "bank_transfer")
    if method not in PAYMENT_METHODS:
        raise r.fail("payments.method", f"method must be one of {', '.join(PAYMENT_METHODS)}, not {method!r}", method)
    kw["payment_method"] = method


def _wide(r: _Reader, kw: dict) -> None:
    w = r.table("wide", required=True)
    r.unknown(w, "wide", {"months", "status", "balance", "payment"})
    months = w.get("months")
    if months is not None:
        if any(k in w for k in ("status", "balance", "payment")):
            raise r.fail("wide.status", "give either [[wide.months]] entries or {month} patterns, not both")
        if not isinstance(months, list) or not months:
            raise r.fail("wide.months", "months must be a list of [[wide.months]] tables")
        seen: dict[dt.date, int] = {}
        out = []
        for i, m in enumerate(months):
            if not isinstance(m, dict):
                raise r.fail("wide.months", "each [[wide.months]] entry must be a table")
            r.unknown(m, "wide.months", {"month", "status", "balance", "payment"})
            raw = m.get("month")
            month = parse_month(str(raw)) if isinstance(raw, str | int) else None
            if month is None:
                raise r.fail("wide.months.month", f"month must be a month such as \"2005-04\", not {raw!r}",
                             raw if raw is not None else None)
            if month in seen:
                raise r.fail("wide.months.month", f"month {month:%Y-%m} is listed twice "
                             f"(entries {seen[month] + 1} and {i + 1})", line=_nth_month_line(r, month, 2))
            seen[month] = i
            out.append(MonthColumns(month, r.text(m, "wide.months", "status", required=True),
                                    r.text(m, "wide.months", "balance", required=True),
                                    r.text(m, "wide.months", "payment")))
        kw["months"] = tuple(sorted(out, key=lambda c: c.month))
        return
    pats = {}
    for k in ("status", "balance", "payment"):
        v = r.text(w, "wide", k, required=k != "payment")
        if v is None:
            continue
        if v.count(MONTH) != 1:
            raise r.fail(f"wide.{k}", f"the pattern must hold {MONTH} once, e.g. \"逾期状态_{MONTH}\"", v)
        pats[k] = v
    kw["patterns"] = pats


def _nth_month_line(r: _Reader, month: dt.date, nth: int) -> int:
    hits = [i for i, ln in enumerate(r.lines, 1)
            if re.match(r"^\s*month\s*=", ln) and parse_month(ln.split("=", 1)[1].strip().strip("\"'")) == month]
    return hits[min(nth, len(hits)) - 1] if hits else 1


def _long(r: _Reader, kw: dict) -> None:
    lg = r.table("long", required=True)
    r.unknown(lg, "long", {"month", "month_from_name", "status", "balance", "payment"})
    kw["month_column"] = r.text(lg, "long", "month")
    kw["month_from_name"] = r.text(lg, "long", "month_from_name")
    if (kw["month_column"] is None) == (kw["month_from_name"] is None):
        raise r.fail("long.month", "give the month column (month = \"…\") or a pattern of the file name "
                     "(month_from_name = \"…\"), one of the two")
    if kw["month_from_name"] is not None:
        try:
            re.compile(kw["month_from_name"])
        except re.error as exc:
            raise r.fail("long.month_from_name", f"not a regular expression: {exc}") from None
    kw["status"] = r.text(lg, "long", "status", required=True)
    kw["balance"] = r.text(lg, "long", "balance", required=True)
    kw["payment"] = r.text(lg, "long", "payment")
