"""How a metric is declared: one decorator beside its function holds the whole 口径 — key, bilingual name,
definition, numerator and denominator, unit, dimensions and the classification sets it counts by.

The glossary, the `report` command, the pages' labels, the sync (for the sets) and docs/metrics.md all read
these declarations; nothing else defines a metric's name or meaning.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

UNITS = ("money", "rate", "per_10k", "per_1k", "count")
Bilingual = tuple[str, str]  # (中文, English)


@dataclass(frozen=True)
class Metric:
    """One registered metric (口径) for the glossary, the report command and the pages."""

    key: str
    name_zh: str
    name_en: str
    definition_zh: str
    definition_en: str
    numerator: str  # in English (the report command's and docs' wording)
    numerator_zh: str
    denominator: str | None
    denominator_zh: str | None
    function: Callable[..., pl.DataFrame]
    dims: tuple[str, ...]
    unit: str  # 'money' (yuan), 'rate' (0–1), 'per_10k' or 'count'; numerator is money when money_numerator
    money_numerator: bool = False
    options: tuple[str, ...] = ()
    #: classification sets the metric counts by (name → contract values), shown in the glossary and docs
    sets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: compliance checks (rule-pack keys) whose rules judge this figure; the glossary names those rules
    checks: tuple[str, ...] = ()

    def name(self, lang: str) -> str:
        """The metric's name in `lang` ('zh' or 'en')."""
        return self.name_zh if lang == "zh" else self.name_en

    def definition(self, lang: str) -> str:
        """The one-line definition in `lang`."""
        return self.definition_zh if lang == "zh" else self.definition_en

    def numerator_in(self, lang: str) -> str:
        """What is counted or summed, in `lang`."""
        return self.numerator_zh if lang == "zh" else self.numerator

    def denominator_in(self, lang: str) -> str | None:
        """What it is divided by, in `lang` (None when the metric is not a ratio)."""
        return self.denominator_zh if lang == "zh" else self.denominator


#: Every declared metric by key, in the order declared (the registry imports the metric modules).
DECLARED: dict[str, Metric] = {}


def metric(key: str, *, name: Bilingual, definition: Bilingual, numerator: Bilingual,
           denominator: Bilingual | None, dims: tuple[str, ...], unit: str, money_numerator: bool = False,
           sets: dict[str, tuple[str, ...]] | None = None,
           checks: tuple[str, ...] = ()) -> Callable[[Callable], Callable]:
    """Declare the decorated function `fn(store, filters, by, **options)` as metric `key`."""
    if unit not in UNITS:
        raise ValueError(f"{key}: unit must be one of {UNITS}")

    def register(fn: Callable[..., pl.DataFrame]) -> Callable[..., pl.DataFrame]:
        if key in DECLARED and DECLARED[key].function is not fn:
            raise ValueError(f"metric {key!r} declared twice")
        options = tuple(inspect.signature(fn).parameters)[3:]  # after store, filters, by
        DECLARED[key] = Metric(
            key=key, name_zh=name[0], name_en=name[1], definition_zh=definition[0], definition_en=definition[1],
            numerator=numerator[1], numerator_zh=numerator[0],
            denominator=denominator[1] if denominator else None, denominator_zh=denominator[0] if denominator else None,
            function=fn, dims=tuple(dims), unit=unit, money_numerator=money_numerator, options=options,
            sets=dict(sets or {}), checks=tuple(checks))
        return fn

    return register


def listed(values: tuple[str, ...]) -> str:
    """Contract values joined for an English definition: 'a, b or c'."""
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"
