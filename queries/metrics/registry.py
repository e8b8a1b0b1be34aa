"""Every metric, as declared beside its function (queries.metrics.declare): lookup, compute, glossary, docs."""

from __future__ import annotations

import datetime as dt

import polars as pl

from queries.compliance.rules import Rule, RulePack, load_pack
from queries.filters import Filters
from queries.metrics import (  # noqa: F401 - their declarations register
    agency,
    complaints,
    compliance,
    contact,
    forecast,
    portfolio,
    recovery,
)
from queries.metrics.declare import DECLARED, Metric
from queries.store import Store

#: The glossary's order: money first, then effort and results, complaints, compliance, the portfolio, agencies.
_FAMILIES = (recovery.__name__, forecast.__name__, contact.__name__, complaints.__name__, compliance.__name__,
             portfolio.__name__, agency.__name__)
METRICS: dict[str, Metric] = {m.key: m for m in sorted(
    DECLARED.values(), key=lambda m: _FAMILIES.index(m.function.__module__))}

__all__ = ["METRICS", "Metric", "compute", "docs_table", "get", "glossary", "rules_text"]


def get(key: str) -> Metric:
    """The metric of this key; KeyError with the valid keys otherwise."""
    try:
        return METRICS[key]
    except KeyError:
        raise KeyError(f"unknown metric {key!r}; use one of {', '.join(METRICS)}") from None


def compute(key: str, store: Store, filters: Filters, by: tuple[str, ...] = (), **options) -> pl.DataFrame:
    """Run a metric, passing only the options it takes (snapshot, basis, rules, calendar)."""
    m = get(key)
    opts = {k: v for k, v in options.items() if k in m.options and v is not None}
    return m.function(store, filters, tuple(by), **opts)


def glossary(lang: str = "zh", pack: RulePack | None = None,
             period: tuple[dt.date, dt.date] | None = None) -> pl.DataFrame:
    """One row per metric: key, name, definition, numerator, denominator — all in `lang` — and `rules`: for a
    compliance figure, the rules (title · article (version), effective date) that judged it in `period` (default:
    those in force today) under `pack` (default: the built-in pack)."""
    pack = pack or load_pack()
    start, end = period or (dt.date.today(), dt.date.today())
    return pl.DataFrame([{
        "key": m.key, "name": m.name(lang), "definition": m.definition(lang),
        "numerator": m.numerator_in(lang), "denominator": m.denominator_in(lang) or "—",
        "rules": rules_text(m, pack, start, end, lang)} for m in METRICS.values()],
        schema={"key": pl.String, "name": pl.String, "definition": pl.String, "numerator": pl.String,
                "denominator": pl.String, "rules": pl.String})


def rules_text(m: Metric, pack: RulePack, start: dt.date, end: dt.date, lang: str = "zh") -> str:
    """The rules that judged a compliance figure in [start, end], one per line ('—' for other metrics)."""
    rules = dict.fromkeys(r for c in m.checks for r in pack.judged_by(c, start, end))
    if not rules:
        return "—"

    def when(r: Rule) -> str:
        to = f"–{r.effective_to}" if r.effective_to else ""
        return f"，{r.effective_from}{to} 施行" if lang == "zh" else f", in force {r.effective_from}{to or ' on'}"

    return "\n".join(f"{r.label(lang)}{when(r)}" for r in rules)


def docs_table() -> str:
    """The definitions table of docs/metrics.md, made from the declarations (a test keeps the file in step)."""
    lines = ["| key | 中文 | English | numerator | denominator | unit | classification sets |",
             "|---|---|---|---|---|---|---|"]
    for m in METRICS.values():
        sets = "; ".join(f"{name}: {', '.join(values)}" for name, values in m.sets.items()) or "—"
        lines.append(f"| `{m.key}` | {m.name_zh} | {m.name_en} | {m.numerator} | {m.denominator or '—'} | {m.unit} "
                     f"| {sets} |")
    return "\n".join(lines)
