"""A digest as an e-mail's HTML body, a robot's markdown and an Excel workbook; every database value as text.

Names and codes from the case database may hold markup: HTML escapes them, markdown escapes its punctuation
and drops control and bidi characters, the workbook writes them as strings (never formulas or links).
"""

from __future__ import annotations

import html as _html
import io
import re
from dataclasses import dataclass

import polars as pl
import xlsxwriter

from dashboard.format import change, cny, day, num, pct
from dashboard.i18n import t, value
from queries.metrics.registry import METRICS
from queries.notify.digest import Digest

#: Rows a table shows in a message before it says how many more the dashboard has.
MAX_ROWS = 15
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|<>~])")


@dataclass(frozen=True)
class Table:
    """One table of a digest: title, header, rows as text, rows left out, and how many leading cells name the row."""

    title: str
    header: list[str]
    rows: list[list[str]]
    more: int
    ident: int


@dataclass(frozen=True)
class Chart:
    """One chart image: its content id (for cid: links), title and PNG bytes."""

    cid: str
    title: str
    png: bytes


def clean(text: object, limit: int = 60) -> str:
    """A database value as one short line: control and bidi characters removed, cut at `limit` characters."""
    s = _CONTROL.sub(" ", "" if text is None else str(text)).strip()
    return s if len(s) <= limit else s[: limit - 1] + "…"


def md(text: object, limit: int = 60) -> str:
    """A database value for markdown: one line, markdown punctuation escaped, so it renders as itself."""
    return _MD_SPECIAL.sub(r"\\\1", clean(text, limit))


def esc(text: object, limit: int = 60) -> str:
    """A database value for HTML."""
    return _html.escape(clean(text, limit))


def subject(d: Digest) -> str:
    """The e-mail subject and robot title."""
    return t("n_title", d.recipient.lang, day=day(d.day, d.recipient.lang))


def _scope_line(d: Digest) -> str:
    lang, who = d.recipient.lang, d.recipient
    teams = t("scope_all", lang) if who.scope.teams is None else ", ".join(sorted(who.scope.teams))
    return t("n_for", lang, who=who.user or "—", role=t(f"r_{who.scope.role}", lang), scope=teams)


def _vs(now: float | None, before: float | None) -> str:
    return change(now / before - 1) if now is not None and before else "—"


def headline_rows(d: Digest) -> list[tuple[str, str]]:
    """(label, formatted value) of the headline numbers, in the recipient's language."""
    lang, h = d.recipient.lang, d.headline
    vs = t("k_vs_lm", lang)
    rows = [(t("n_yesterday", lang), f"{cny(h['yesterday'], lang)}（{vs} {_vs(h['yesterday'], h['yesterday_lm'])}）"
             if lang == "zh" else f"{cny(h['yesterday'], lang)} ({vs} {_vs(h['yesterday'], h['yesterday_lm'])})"),
            (t("k_mtd", lang), f"{cny(h['mtd'], lang)}（{vs} {_vs(h['mtd'], h['mtd_lm'])}）"
             if lang == "zh" else f"{cny(h['mtd'], lang)} ({vs} {_vs(h['mtd'], h['mtd_lm'])})")]
    if h["target"] is None:
        rows.append((t("k_achv", lang), t("k_no_target", lang)))
    else:
        rows += [(t("n_target", lang), cny(h["target"], lang)), (t("k_achv", lang), pct(h["achievement"])),
                 (t("n_pace", lang), pct(h["pace"]))]
    if h.get("landing") is not None:
        land = t("n_landed", lang, landing=cny(h["landing"], lang)) if h["landing_low"] is None else \
            t("n_landing", lang, landing=cny(h["landing"], lang), low=cny(h["landing_low"], lang),
              high=cny(h["landing_high"], lang))
        if h["p_target"] is not None:
            land += " · " + t("k_p_target", lang, p=pct(h["p_target"], 0))
        rows.append((t("landing", lang), land))
    rows += [(t("k_recovery", lang), pct(h["recovery_rate_mtd"], 2)), (t("k_payments", lang), num(h["payments_mtd"]))]
    return rows


def _tables(d: Digest) -> list[Table]:
    """Every table of the digest, in the order shown."""
    lang = d.recipient.lang

    def cut(title: str, header: list[str], rows: list[list[str]], ident: int) -> Table:
        return Table(title, header, rows[:MAX_ROWS], max(0, len(rows) - MAX_ROWS), ident)

    out = []
    behind = [[r["team_id"], clean(r["team_name"]), cny(r["collected"], lang), cny(r["target"], lang),
               pct(r["achievement"]), pct(r["pace"])] for r in d.behind.iter_rows(named=True)]
    out.append(cut(t("n_behind", lang), [t("team", lang), "", t("collected", lang), t("n_target", lang),
                                         t("achievement", lang), t("n_pace", lang)], behind, 2))
    head = [t("rank", lang), t("agent", lang), "", t("team", lang), t("collected", lang), t("paid", lang),
            t("attempts", lang), t("rpc_rate", lang)]
    for title, df in ((t("n_top", lang), d.top), (t("n_bottom", lang), d.bottom)):
        rows = [[str(r["rank"]), r["agent_id"], clean(r["agent_name"]), r["team_id"], cny(r["collected"], lang),
                 num(r["paid"]), num(r["attempts"]), pct(r["rpc_rate"])] for r in df.iter_rows(named=True)]
        out.append(cut(title, head, rows, 3))
    ptp = [[r["team_id"], clean(r["team_name"]), num(r["due"]), cny(r["amount"], lang)]
           for r in d.ptp_by_team.iter_rows(named=True)]
    out.append(cut(t("n_ptp", lang), [t("team", lang), "", t("count", lang), t("n_amount", lang)], ptp, 2))
    cats = [[value(r["category"], lang), num(r["numerator"])] for r in d.complaints_by_category.iter_rows(named=True)]
    out.append(cut(t("n_complaints", lang), [t("category", lang), t("count", lang)], cats, 1))
    reg = [[r["agent_id"], clean(r["agent_name"]), r["team_id"] or "—", num(r["numerator"])]
           for r in d.regulator_agents.iter_rows(named=True)]
    out.append(cut(t("n_12378_agents", lang), [t("agent", lang), "", t("team", lang), t("count", lang)], reg, 2))
    if d.breaches is not None:
        dims = [c for c in d.breaches.columns if c != "numerator"]
        rows = [[*(clean(r[c]) for c in dims), num(r["numerator"])] for r in d.breaches.iter_rows(named=True)]
        out.append(cut(METRICS[d.breach_metric].name(lang) + " · " + t("n_breaches", lang),
                       [*dims, t("count", lang)], rows, len(dims)))
    return out


def _summary_lines(d: Digest) -> dict[str, str]:
    """The working-day line, and the line shown under a table's title (keyed by that title)."""
    lang = d.recipient.lang
    return {
        "workday": t("n_workday", lang, n=d.workday[0], total=d.workday[1]),
        t("n_ptp", lang): t("n_ptp_line", lang, n=num(d.ptp["count"]), amount=cny(d.ptp["amount"] or 0, lang)),
        t("n_complaints", lang): t("n_complaints_line", lang, n=num(d.complaints["total"]),
                                   r=num(d.complaints["regulator"])),
    }


# ---------------------------------------------------------------- HTML (e-mail)

_TD = 'style="padding:4px 8px;border-bottom:1px solid #e5e8eb;text-align:{}"'


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    def align(cell: str) -> str:
        return "right" if cell[:1] in "¥-+0123456789" or cell.endswith("%") else "left"

    def td(c: str) -> str:  # numbers and short names never break across lines on a phone; long names may
        a = align(c)
        keep = a == "right" or len(c) <= 6
        return f'<td {_TD.format(a)[:-1]}{";white-space:nowrap" if keep else ""}">{_html.escape(c)}</td>'

    head = "".join(f'<th {_TD.format("left")}>{_html.escape(h)}</th>' for h in header)
    body = "".join("<tr>" + "".join(td(c) for c in r) + "</tr>" for r in rows)
    return f'<table style="border-collapse:collapse;font-size:14px"><tr>{head}</tr>{body}</table>'


def html(d: Digest, charts: list[Chart]) -> str:
    """The e-mail body: headline, tables and the charts as <img src="cid:…"> (attached inline by the channel)."""
    lang = d.recipient.lang
    lines = _summary_lines(d)
    parts = [f'<html><body style="font-family:{_FONT};color:#2c3e50;max-width:760px">',
             f'<h2 style="color:#0F5C6E">{_html.escape(subject(d))}</h2>',
             f"<p>{_html.escape(_scope_line(d))}<br>{_html.escape(lines['workday'])}</p>"]
    parts += [f'<p style="color:#C0392B"><b>{_html.escape(n)}</b></p>' for n in d.notes]
    parts.append(f"<h3>{_html.escape(t('n_headline', lang))}</h3>")
    parts.append(_html_table(["", ""], [list(r) for r in headline_rows(d)]))
    tables = _tables(d)
    for i, tb in enumerate(tables):
        if i == 1:  # the charts after the teams behind pace
            for c in charts:
                parts.append(f"<h3>{_html.escape(c.title)}</h3>"
                             f'<img src="cid:{c.cid}" alt="{_html.escape(c.title)}" style="max-width:100%">')
        if i > 0 and not tb.rows and tb.title not in lines:
            continue  # an empty table (no bottom agents in a small team, no 12378 complaint) is left out
        parts.append(f"<h3>{_html.escape(tb.title)}</h3>")
        if tb.title in lines:
            parts.append(f"<p>{_html.escape(lines[tb.title])}</p>")
        if tb.rows:
            parts.append(_html_table(tb.header, tb.rows))
        elif i == 0:
            parts.append(f"<p>{_html.escape(t('n_none_behind', lang))}</p>")
        if tb.more:
            parts.append(f"<p>{_html.escape(t('n_more_rows', lang, n=tb.more))}</p>")
    parts.append(f'<p><a href="{_html.escape(d.link)}">{_html.escape(t("n_open", lang))}</a></p></body></html>')
    return "\n".join(parts)


_FONT = "'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif"


# ---------------------------------------------------------------- markdown (group robots)


def markdown(d: Digest, charts_attached: bool = True) -> str:
    """The robots' markdown: lists rather than tables (WeCom, DingTalk and Feishu render no tables)."""
    lang = d.recipient.lang
    lines = _summary_lines(d)
    out = [f"## {subject(d)}", md(_scope_line(d), 200), lines["workday"]]
    out += [f"**{n}**" for n in d.notes]
    out += ["", f"### {t('n_headline', lang)}"]
    out += [f"- {label}：{v}" if lang == "zh" else f"- {label}: {v}" for label, v in headline_rows(d)]
    sep, comma = ("：", "，") if lang == "zh" else (": ", ", ")
    for i, tb in enumerate(_tables(d)):
        if i > 0 and not tb.rows and tb.title not in lines:
            continue
        out += ["", f"### {tb.title}"]
        if tb.title in lines:
            out.append(lines[tb.title])
        if i == 0 and not tb.rows:
            out.append(t("n_none_behind", lang))
        for r in tb.rows:
            name = " ".join(md(c) for c in r[:tb.ident] if c)
            rest = list(zip(tb.header[tb.ident:], r[tb.ident:], strict=True))
            out.append(f"- {name}{sep}" + comma.join(f"{h} {c}" if len(rest) > 1 else c for h, c in rest))
        if tb.more:
            out.append(t("n_more_rows", lang, n=tb.more))
    if not charts_attached:
        out += ["", t("n_charts_linked", lang)]
    out += ["", f"[{t('n_open', lang)}]({d.link})"]
    return "\n".join(out)


def split(text: str, limit: int, lang: str = "zh") -> list[str]:
    """Markdown cut into messages of at most `limit` UTF-8 bytes, at section breaks, then at lines.

    Each part after the first repeats nothing but says which part it is; a single line longer than the limit
    is cut at a character boundary.
    """
    if len(text.encode()) <= limit:
        return [text]
    room = limit - 40  # the "part i of n" line
    blocks, cur = [], ""
    for line in text.split("\n"):
        while len(line.encode()) > room:
            cut = line.encode()[:room].decode("utf-8", "ignore")
            blocks, cur = _push(blocks, cur, cut, room)
            line = line[len(cut):]
        blocks, cur = _push(blocks, cur, line, room)
    if cur:
        blocks.append(cur)
    n = len(blocks)
    return [f"{b}\n\n({t('n_part', lang, i=i, n=n)})" for i, b in enumerate(blocks, start=1)]


def _push(blocks: list[str], cur: str, line: str, room: int) -> tuple[list[str], str]:
    candidate = f"{cur}\n{line}" if cur else line
    if len(candidate.encode()) <= room:
        return blocks, candidate
    if cur:
        blocks.append(cur)
    return blocks, line


# ---------------------------------------------------------------- Excel (attachment)


def xlsx(d: Digest) -> bytes:
    """The digest's tables as a workbook, one sheet each; text cells stay text (no formulas, no links)."""
    lang = d.recipient.lang
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False})
    bold = wb.add_format({"bold": True})
    money = wb.add_format({"num_format": "#,##0.00"})
    rate = wb.add_format({"num_format": "0.0%"})
    count = wb.add_format({"num_format": "#,##0"})
    ws = wb.add_worksheet(t("n_headline", lang)[:31])
    ws.write_string(0, 0, subject(d), bold)
    ws.write_string(1, 0, _scope_line(d))
    for i, n in enumerate(d.notes):
        ws.write_string(2 + i, 0, n)
    h = d.headline
    items = [("n_yesterday", h["yesterday"], money), ("k_mtd", h["mtd"], money), ("n_target", h["target"], money),
             ("k_achv", h["achievement"], rate), ("n_pace", h["pace"], rate),
             ("landing", h.get("landing"), money), ("landing_low", h.get("landing_low"), money),
             ("landing_high", h.get("landing_high"), money), ("p_target", h.get("p_target"), rate),
             ("k_recovery", h["recovery_rate_mtd"], rate), ("k_payments", h["payments_mtd"], count),
             ("n_ptp", d.ptp["count"], count), ("n_complaints", d.complaints["total"], count),
             ("k_12378", d.complaints["regulator"], count)]
    row = 3 + len(d.notes)
    for key, v, fmt in items:
        ws.write_string(row, 0, t(key, lang))
        if v is None:
            ws.write_string(row, 1, "—")
        else:
            ws.write_number(row, 1, float(v), fmt)
        row += 1
    ws.write_string(row + 1, 0, t("n_open", lang))
    ws.write_string(row + 1, 1, d.link)
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 18)
    formats = {"collected": money, "target": money, "amount": money, "achievement": rate, "pace": rate,
               "rpc_rate": rate, "paid": count, "attempts": count, "due": count, "numerator": count, "rank": count,
               "cumulative": money}
    sheets = [("n_behind", d.teams), ("n_top", d.top), ("n_bottom", d.bottom), ("n_ptp", d.ptp_by_team),
              ("n_complaints", d.complaints_by_category), ("n_12378_agents", d.regulator_agents),
              ("c_daily", d.series)]
    if d.breaches is not None:
        sheets.append(("n_breaches", d.breaches))
    for key, df in sheets:
        _sheet(wb, t(key, lang), df, formats, lang, bold)
    wb.close()
    return buf.getvalue()


def _header(col: str, lang: str) -> str:
    labels = {"team_id": "team", "agent_id": "agent", "numerator": "count", "target": "n_target", "pace": "n_pace",
              "due": "count", "amount": "n_amount", "collected": "collected", "day": "day", "target_line": "target"}
    key = labels.get(col, col)
    try:
        return t(key, lang)
    except KeyError:
        return col


def _sheet(wb: xlsxwriter.Workbook, name: str, df: pl.DataFrame, formats: dict, lang: str,
           bold: xlsxwriter.format.Format) -> None:
    ws = wb.add_worksheet(re.sub(r"[\[\]:*?/\\]", " ", name)[:31])
    for j, col in enumerate(df.columns):
        ws.write_string(0, j, _header(col, lang), bold)
        ws.set_column(j, j, 14)
    for i, row in enumerate(df.iter_rows(), start=1):
        for j, (col, v) in enumerate(zip(df.columns, row, strict=True)):
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                ws.write_string(i, j, value(v, lang) if col in ("category", "source") else clean(v, 200))
            else:
                ws.write_number(i, j, float(v), formats.get(col))
