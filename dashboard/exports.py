"""Every download, once: a frame (or batches of one) → CSV or Excel in the page's language, safe to open in Excel.

Headers come from dashboard.i18n (metric names from the metric declarations), contract values are translated,
money is rounded to the cent and counts are integers. Excel columns carry a number format by kind (¥ #,##0.00
money, 0.0% rates, #,##0 counts), the header row is frozen and a second sheet lists the filters.

Formula injection (OWASP "CSV injection"): a text cell that starts with =, +, -, @, a tab or a carriage return
is read by Excel as a formula. Such a cell gets a leading apostrophe in CSV and Excel's own quote prefix in a
workbook (the cell shows the text as it is, and Excel never evaluates it). Numbers stay numbers.

The workbook is written here, row batches straight into the zip as Polars-built XML, because a cell-by-cell
writer needs ~12 s of CPU for a 100,000-row case list; this takes about one.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from xml.sax.saxutils import escape as _xml_escape

import polars as pl

from dashboard.format import rounded_expr
from dashboard.i18n import has_label, labels_expr, t, values_expr
from queries.metrics.registry import METRICS

KINDS = ("text", "code", "label", "id", "money", "rate", "pp", "count", "number", "date", "month", "datetime", "bool")
#: Known columns: name → (label key — an i18n label or a metric key —, kind).
COLUMNS: dict[str, tuple[str, str]] = {
    "day": ("day", "date"), "week": ("week", "date"), "month": ("month", "month"), "through": ("through", "date"),
    "placed_month": ("placed_month", "month"), "snapshot_on": ("snapshot", "date"),
    "months_since": ("months_since", "count"), "hour": ("hour", "count"),
    "team_id": ("team", "text"), "team_name": ("team_name", "text"), "channel": ("channel", "code"),
    "agent_id": ("agent_id", "text"), "agent_name": ("agent_name", "text"), "who_id": ("who_id", "text"),
    "who_name": ("who_name", "text"), "who": ("agent_name", "text"), "rank": ("rank", "count"),
    "bucket": ("bucket", "text"), "from_bucket": ("from_bucket", "code"), "to_bucket": ("to_bucket", "code"),
    "pair": ("pairs", "text"), "vintage": ("placed_month", "text"),
    "collected": ("collected", "money"), "cumulative": ("cumulative", "money"), "target": ("target_line", "money"),
    "expected": ("expected", "money"), "landing": ("landing", "money"),
    "landing_low": ("landing_low", "money"), "landing_high": ("landing_high", "money"), "p_target": ("p_target", "rate"),
    "holder": ("holder", "text"), "kind": ("kind", "code"), "placed": ("placed", "count"),
    "placed_balance": ("placed_balance", "money"), "liquidation_m3": ("liquidation_m3", "rate"),
    "per_100": ("per_100", "number"), "recall_rate": ("recall_rate", "rate"), "transfer_rate": ("transfer_rate", "rate"),
    "recalled": ("recalled", "count"), "transferred": ("transferred", "count"),
    "complaints_per_10k": ("complaints_per_10k", "number"), "breaches_per_1k": ("breaches_per_1k", "number"),
    "status_ok": ("status_ok", "bool"),
    "commission": ("commission", "money"), "net_recovery": ("net_recovery", "money"),
    "net_per_100": ("net_per_100", "number"),
    "k": ("working_day", "count"), "months": ("months_n", "count"), "mape": ("mape", "rate"),
    "mape_naive": ("mape_naive", "rate"), "coverage": ("coverage", "rate"), "forecasts": ("forecasts", "count"),
    "achievement": ("achievement", "rate"), "pace": ("pace", "rate"),
    "recovery_rate": ("recovery_rate", "rate"), "opening_balance": ("opening_balance", "money"),
    "balance": ("balance", "money"), "count": ("cases_n", "count"),
    "mom": ("mom", "rate"), "yoy": ("yoy", "rate"), "mom_rr_pp": ("mom_pp", "pp"), "yoy_rr_pp": ("yoy_pp", "pp"),
    "paid": ("paid", "count"), "payments": ("paid", "count"), "attempts": ("attempts", "count"),
    "contacts": ("contacts", "count"), "rpc": ("rpc", "count"), "ptp": ("ptp", "count"), "kept": ("kept", "count"),
    "complaints": ("complaints", "count"), "after_hours": ("after_hours_rate", "count"),
    "over_frequency": ("over_frequency", "count"), "contact_rate": ("contact_rate", "rate"),
    "rpc_rate": ("rpc_rate", "rate"), "ptp_rate": ("ptp_rate", "rate"), "ptp_kept_rate": ("ptp_kept_rate", "rate"),
    "per_10k_attempts": ("k_rate_att", "number"), "regulator_12378": ("k_12378", "count"),
    "immature": ("immature", "bool"), "thin": ("thin_cell", "bool"),
    "stage": ("stage", "label"), "agent": ("this_agent", "count"), "team_median": ("team_median", "number"),
    "complaint_id": ("complaint_id", "text"), "case_id": ("case_id", "id"), "received_at": ("received", "datetime"),
    "category": ("category", "code"), "source": ("source", "code"), "severity": ("severity", "code"),
    "age_days": ("age_days", "count"), "over_sla": ("over_sla", "bool"),
    "customer_name": ("customer", "text"), "phone": ("phone", "text"), "account_no": ("account", "text"),
    "product": ("product", "code"), "region": ("region", "text"), "status": ("status", "code"),
    "current_dpd": ("dpd", "count"), "current_balance": ("balance", "money"), "events": ("events", "count"),
    "amount": ("amount", "money"), "at": ("at", "datetime"),
    "detail": ("detail", "text"), "key": ("g_key", "text"), "name": ("g_name", "text"),
    "definition": ("g_def", "text"), "rules": ("g_rules", "text"),
    "user": ("audit_user", "text"), "role": ("role", "code"),
    "action": ("audit_action", "code"), "page": ("page_path", "text"), "filters": ("filters", "text"),
    "rows": ("rows", "count"), "prev": ("hash_prev", "text"), "hash": ("hash", "text"),
    "numerator": ("g_num", ""), "denominator": ("g_den", ""), "value": ("value", ""),
    # compliance
    "check": ("checks", "label"), "checks_text": ("checks", "text"), "rules_text": ("rules", "text"),
    "contact_id": ("contact_id", "id"), "contacted_at": ("contacted_at", "datetime"), "party": ("party", "code"),
    "outcome": ("outcome", "code"), "duration_s": ("duration_s", "count"), "phone_no": ("phone_no", "text"),
    "prev_numerator": ("prev_period", "count"), "prev_value": ("prev_rate", "number"), "change": ("change", "rate"),
    "agency_name": ("agency_name", "text"), "whitelisted_on": ("whitelisted_on", "date"),
    "evaluated_on": ("evaluated_on", "date"), "days_since_evaluation": ("days_since_evaluation", "count"),
    "not_whitelisted": ("not_whitelisted", "bool"), "evaluation_overdue": ("evaluation_overdue", "bool"),
    "decided_days": ("decided_days", "count"), "deadline_days": ("deadline_days", "count"), "late": ("late", "bool"),
    "after_breach": ("after_breach", "bool"), "breach_rate": ("breaches", "number"),
    "complaint_rate": ("complaint_rate", "number"), "p_recovery": ("p_recovery", "number"),
    "p_breaches": ("p_breaches", "number"), "p_complaints": ("p_complaints", "number"), "score": ("score", "number"),
    "recovery_rank": ("recovery_rank", "count"), "rank_change": ("rank_change", "count"),
    "rule": ("rule", "text"), "rule_id": ("rule_id", "text"), "effective_from": ("effective_from", "date"),
    "effective_to": ("effective_to", "date"), "figures": ("figures", "text"), "file": ("rule_file", "text"),
    "house": ("house", "bool"),
}
#: Columns of kind "label" whose values are i18n keys after a prefix (a case timeline's `kind`, asked for by its
#: caller: `kind` is otherwise the agency/in-house code of the agency figures).
_LABEL_PREFIX = {"kind": "tl_", "check": "chk_"}
_FORMULA_START = r"^[=+\-@\t\r]"
_XML_BAD = "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"  # characters XML 1.0 cannot hold: shown as "?"
_ESCAPE_LIKE = r"(_x[0-9A-Fa-f]{4}_)"  # Excel reads _xHHHH_ in text as a character: such text is escaped
_SHEET_BAD = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
#: Excel's number format per kind (styles.xml ids in _STYLES below).
NUMBER_FORMATS = {"money": '"¥"#,##0.00', "rate": "0.0%", "pp": '+0.00" pp";-0.00" pp";0.00" pp"', "count": "#,##0", "id": "0",
                  "number": "#,##0.00", "date": "yyyy-mm-dd", "month": "yyyy-mm", "datetime": "yyyy-mm-dd hh:mm:ss"}


@dataclass(frozen=True)
class Column:
    """One exported column: its name in the frame, header in the page's language and kind."""

    name: str
    header: str
    kind: str


def _metric_column(name: str, metric: str, lang: str, basis: str | None) -> Column | None:
    m = METRICS[metric]
    counted = basis == "count"
    if name == "value":
        kind = {"money": "money", "rate": "rate", "per_10k": "number", "per_1k": "number", "count": "count"}[m.unit]
        return Column(name, m.name(lang), "count" if counted and kind == "money" else kind)
    if name == "numerator":
        money = m.money_numerator and not counted
        return Column(name, f"{t('g_num', lang)}: {m.numerator_in(lang)}", "money" if money else "count")
    if name == "denominator":
        money = m.money_numerator and m.unit == "rate" and not counted
        return Column(name, f"{t('g_den', lang)}: {m.denominator_in(lang) or '—'}", "money" if money else "count")
    return None


def columns_for(schema: pl.Schema | dict, lang: str, *, metric: str | None = None, basis: str | None = None,
                kinds: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> list[Column]:
    """The exported columns of a frame (list columns such as sparklines left out), headers in `lang`."""
    out = []
    for name, dtype in schema.items():
        if isinstance(dtype, pl.List | pl.Struct | pl.Array):
            continue
        col = _metric_column(name, metric, lang, basis) if metric else None
        if col is None:
            key, kind = COLUMNS.get(name, (name, ""))
            kind = kind or _kind_of(dtype)  # "": the kind follows the column's type
            header = t(key, lang) if has_label(key) else name
            col = Column(name, header, kind)
        kind = (kinds or {}).get(name, col.kind)
        out.append(Column(name, (headers or {}).get(name, col.header), kind))
    return out


def _kind_of(dtype: pl.DataType) -> str:
    if dtype == pl.Boolean:
        return "bool"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype.is_integer():
        return "count"
    if dtype.is_float():
        return "number"
    return "text"


def label_prefix(column: str) -> str:
    """The i18n key prefix of a "label" column's values (timeline kinds are tl_…)."""
    return _LABEL_PREFIX.get(column, "")


def _neutralised(e: pl.Expr, prefix: str) -> pl.Expr:
    """Text that Excel would take for a formula, with `prefix` in front."""
    return pl.when(e.str.contains(_FORMULA_START)).then(pl.lit(prefix) + e).otherwise(e)


def typed(df: pl.DataFrame, columns: list[Column], lang: str) -> pl.DataFrame:
    """The exported values: codes and labels in `lang`, money to the cent, counts as integers, pp in points."""
    exprs = []
    yes_no = {True: t("yes", lang), False: t("no", lang)}
    for c in columns:
        e = pl.col(c.name)
        if c.kind == "code":
            e = values_expr(c.name, lang)
        elif c.kind == "label":
            e = labels_expr(c.name, lang, label_prefix(c.name))
        elif c.kind == "bool":
            e = e.cast(pl.Boolean).replace_strict(yes_no, default=None, return_dtype=pl.String)
        elif c.kind == "text":
            e = e.cast(pl.String)
        elif c.kind == "money":
            e = rounded_expr(e, 2)
        elif c.kind in ("count", "id"):
            e = e.cast(pl.Float64).round(0).cast(pl.Int64)
        elif c.kind == "pp":
            e = rounded_expr(e.cast(pl.Float64) * 100, 2)
        elif c.kind in ("rate", "number"):
            e = e.cast(pl.Float64)
        elif c.kind in ("date", "month"):
            e = e.cast(pl.Date)
        elif c.kind == "datetime":
            e = e.cast(pl.Datetime("us"))
        if c.kind in ("rate", "number", "money", "pp"):
            e = pl.when(e.is_finite()).then(e).otherwise(None)
        exprs.append(e.alias(c.name))
    return df.select(exprs)


# ---------------------------------------------------------------- CSV


def _csv_frame(df: pl.DataFrame, columns: list[Column]) -> pl.DataFrame:
    exprs = []
    for c in columns:
        e = pl.col(c.name)
        if c.kind in ("text", "code", "label", "bool"):
            e = _neutralised(e, "'")
        elif c.kind == "month":
            e = e.dt.strftime("%Y-%m")
        elif c.kind == "datetime":
            e = e.dt.strftime("%Y-%m-%d %H:%M:%S")
        exprs.append(e.alias(c.header))
    return df.select(exprs)


def write_csv(batches: Iterable[pl.DataFrame], columns: list[Column], lang: str, **_: object) -> tuple[bytes, int]:
    """A CSV file (UTF-8 with BOM, so Excel opens Chinese text) of every batch, and its row count."""
    buf = io.BytesIO()
    buf.write("\ufeff".encode())
    header = [_csv_header(c.header) for c in columns]
    buf.write((",".join(header) + "\n").encode())
    rows = 0
    for df in batches:
        out = _csv_frame(typed(df, columns, lang), columns)
        out.write_csv(buf, include_header=False)
        rows += out.height
    return buf.getvalue(), rows


def _csv_header(text: str) -> str:
    text = "'" + text if re.match(_FORMULA_START, text) else text
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\n\r') else text


# ---------------------------------------------------------------- Excel (Office Open XML)

#: cellXfs of styles.xml: 0 default, 1 header, then one per number format, then text with the quote prefix.
_STYLE_IDS = {"header": 1, "money": 2, "rate": 3, "pp": 4, "count": 5, "id": 6, "number": 7, "date": 8, "month": 9,
              "datetime": 10, "text": 0, "quoted": 11}
_FMT_IDS = {"money": 164, "rate": 165, "pp": 166, "count": 167, "id": 1, "number": 168, "date": 169, "month": 170,
            "datetime": 171}


def _styles_xml() -> str:
    custom = {k: v for k, v in NUMBER_FORMATS.items() if _FMT_IDS[k] >= 164}  # 1 is Excel's built-in "0"
    fmts = "".join(f'<numFmt numFmtId="{_FMT_IDS[k]}" formatCode="{_xml_escape(v, {chr(34): "&quot;"})}"/>'
                   for k, v in custom.items())
    xfs = ['<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>',
           '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/>']
    for kind in ("money", "rate", "pp", "count", "id", "number", "date", "month", "datetime"):
        xfs.append(f'<xf numFmtId="{_FMT_IDS[kind]}" fontId="0" fillId="0" borderId="0" xfId="0" '
                   f'applyNumberFormat="1"/>')
    xfs.append('<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>')
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f'<numFmts count="{len(custom)}">{fmts}</numFmts>'
            '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
            '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
            '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/>'
            '</fill><fill><patternFill patternType="solid"><fgColor rgb="FFE8EEF1"/><bgColor indexed="64"/>'
            '</patternFill></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            '</styleSheet>')


def _col_letter(i: int) -> str:
    s, i = "", i + 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _xml_text(e: pl.Expr) -> pl.Expr:
    """Text for an XML element: &, < and > escaped, characters XML cannot hold as "?", _xHHHH_ kept literal."""
    e = e.str.replace_all(_ESCAPE_LIKE, "_x005F$1")
    e = e.str.replace_all("&", "&amp;", literal=True).str.replace_all("<", "&lt;", literal=True)
    return e.str.replace_all(">", "&gt;", literal=True).str.replace_all(_XML_BAD, "?")


def _xml_str(text: str) -> str:
    return re.sub(_XML_BAD, "?", _xml_escape(re.sub(_ESCAPE_LIKE, r"_x005F\1", text)))


_EPOCH = dt.date(1899, 12, 30)  # Excel's day 0 (with its 1900 leap-year quirk already past)


def _cell(c: Column, i: int, row: pl.Expr) -> pl.Expr:
    ref = pl.lit(f'<c r="{_col_letter(i)}') + row
    e = pl.col(c.name)
    if c.kind in ("text", "code", "label", "bool"):
        style = pl.when(e.str.contains(_FORMULA_START)).then(pl.lit(f' s="{_STYLE_IDS["quoted"]}"')).otherwise(
            pl.lit(""))
        xml = pl.concat_str([ref, pl.lit('"'), style, pl.lit(' t="inlineStr"><is><t xml:space="preserve">'),
                             _xml_text(e), pl.lit("</t></is></c>")])
    else:
        if c.kind in ("date", "month"):
            num = (e - pl.lit(_EPOCH)).dt.total_days().cast(pl.String)
        elif c.kind == "datetime":
            num = ((e - pl.lit(dt.datetime(1899, 12, 30))).dt.total_microseconds().cast(pl.Float64)
                   / 86_400_000_000).round(8).cast(pl.String)
        else:
            num = e.cast(pl.String)
        xml = pl.concat_str([ref, pl.lit(f'" s="{_STYLE_IDS[c.kind]}"><v>'), num, pl.lit("</v></c>")])
    return pl.when(e.is_null()).then(pl.lit("")).otherwise(xml)


def _rows_xml(df: pl.DataFrame, columns: list[Column], first_row: int) -> str:
    row = pl.int_range(first_row, first_row + pl.len(), dtype=pl.Int64).cast(pl.String)
    xml = pl.concat_str([pl.lit('<row r="'), row, pl.lit('">'), *[_cell(c, i, row) for i, c in enumerate(columns)],
                         pl.lit("</row>")])
    return "".join(df.select(xml.alias("x")).get_column("x").to_list())


def _width(c: Column, sample: pl.DataFrame) -> float:
    def w(s: str) -> int:
        return sum(2 if ord(ch) > 0x2E7F else 1 for ch in s)

    values = sample.get_column(c.name).cast(pl.String).drop_nulls().head(200).to_list() if sample.height else []
    longest = max([w(c.header), *(w(v) for v in values)], default=8)
    if c.kind == "money":
        longest += 4
    return float(min(max(longest + 2, 8), 60))


def safe_sheet_name(name: str, fallback: str = "Sheet1") -> str:
    """A worksheet name Excel accepts: no []:*?/\\ or control characters, no apostrophe at either end, ≤ 31."""
    clean = _SHEET_BAD.sub("_", name).strip().strip("'").strip()[:31].strip("'")
    return clean or fallback


def _sheet_open(columns: list[Column], sample: pl.DataFrame) -> str:
    cols = "".join(f'<col min="{i + 1}" max="{i + 1}" width="{_width(c, sample)}" customWidth="1"/>'
                   for i, c in enumerate(columns))
    head = "".join(f'<c r="{_col_letter(i)}1" s="{_STYLE_IDS["header"]}" t="inlineStr"><is><t>{_xml_str(c.header)}'
                   f"</t></is></c>" for i, c in enumerate(columns))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
            'state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
            '<sheetFormatPr defaultRowHeight="15"/>'
            + (f"<cols>{cols}</cols>" if cols else "")
            + f'<sheetData><row r="1">{head}</row>')


def _sheet_close(columns: list[Column], rows: int) -> str:
    end = "</sheetData>"
    if columns:
        end += f'<autoFilter ref="A1:{_col_letter(len(columns) - 1)}{rows + 1}"/>'
    return end + "</worksheet>"


def _about_sheet(about: list[tuple[str, str]]) -> str:
    rows = "".join(f'<row r="{r}"><c r="A{r}" s="{_STYLE_IDS["header"]}" t="inlineStr"><is><t>{_xml_str(k)}</t></is>'
                   f'</c><c r="B{r}"{_quoted_attr(v)} t="inlineStr"><is><t xml:space="preserve">{_xml_str(v)}</t>'
                   f"</is></c></row>" for r, (k, v) in enumerate(about, start=1))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<cols><col min="1" max="1" width="22" customWidth="1"/><col min="2" max="2" width="80" customWidth="1"/>'
            f"</cols><sheetData>{rows}</sheetData></worksheet>")


def _quoted_attr(v: str) -> str:
    return f' s="{_STYLE_IDS["quoted"]}"' if re.match(_FORMULA_START, v) else ""


def write_xlsx(batches: Iterable[pl.DataFrame], columns: list[Column], lang: str, *, sheet: str,
               about: list[tuple[str, str]]) -> tuple[bytes, int]:
    """An Excel workbook of every batch (formatted by kind, frozen header) with the filters sheet; its row count."""
    data_name = safe_sheet_name(sheet)
    about_name = safe_sheet_name(t("filters", lang), "Filters")
    if about_name == data_name:
        about_name = safe_sheet_name(f"{about_name} (2)")
    buf = io.BytesIO()
    rows = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _ROOT_RELS)
        z.writestr("xl/workbook.xml", _workbook_xml(data_name, about_name, columns))
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr("xl/styles.xml", _styles_xml())
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            opened = False
            for df in batches:
                part = typed(df, columns, lang)
                if not opened:
                    fh.write(_sheet_open(columns, part).encode())
                    opened = True
                fh.write(_rows_xml(part, columns, rows + 2).encode())
                rows += part.height
            if not opened:
                fh.write(_sheet_open(columns, pl.DataFrame()).encode())
            fh.write(_sheet_close(columns, rows).encode())
        z.writestr("xl/worksheets/sheet2.xml", _about_sheet([*about, (t("rows", lang), f"{rows:,}")]))
    return buf.getvalue(), rows


def _workbook_xml(data_name: str, about_name: str, columns: list[Column]) -> str:
    names = ""
    if columns:  # the autofilter's hidden defined name, as Excel writes it
        names = ('<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
                 f"{_xml_str(_sheet_ref(data_name))}!$A$1:${_col_letter(len(columns) - 1)}$1</definedName>"
                 "</definedNames>")
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheets><sheet name="{_xml_escape(data_name, {chr(34): "&quot;"})}" sheetId="1" r:id="rId1"/>'
            f'<sheet name="{_xml_escape(about_name, {chr(34): "&quot;"})}" sheetId="2" r:id="rId2"/></sheets>'
            f"{names}</workbook>")


def _sheet_ref(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/worksheets/sheet2.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>')
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet2.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>')


# ---------------------------------------------------------------- what a download button offers

CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Offer:
    """A download's file stem and the two callables that build its files (each also records the export)."""

    stem: str
    columns: tuple[Column, ...]
    csv: Callable[[], bytes]
    xlsx: Callable[[], bytes]


def offer(stem: str, columns: list[Column], batches: Callable[[], Iterator[pl.DataFrame]], lang: str, sheet: str,
          about: list[tuple[str, str]], on_produced: Callable[[str, str, int], None]) -> Offer:
    """The builders of a download: batches → CSV or Excel. `on_produced(file name, format, rows)` runs once the
    data is produced, before the bytes are handed over (the audit entry); it refuses the file by raising."""

    def build(fmt: str) -> bytes:
        writer = write_csv if fmt == "csv" else write_xlsx
        stamped = [*about, (t("x_exported", lang), dt.datetime.now().isoformat(sep=" ", timespec="seconds"))]
        data, rows = writer(batches(), list(columns), lang, sheet=sheet, about=stamped)
        on_produced(f"{stem}.{fmt}", fmt, rows)
        return data

    return Offer(stem, tuple(columns), lambda: build("csv"), lambda: build("xlsx"))
