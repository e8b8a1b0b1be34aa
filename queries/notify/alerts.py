"""Exception alerts: a rules file of conditions on any registered metric, evaluated on the current store.

    # alerts.toml (CASES_ALERTS_FILE, or .streamlit/alerts.toml) — docs/notifications.md explains every key
    [rules.pace_behind]
    title = { zh = "团队进度落后", en = "Team behind pace" }
    metric = "target_achievement"
    column = "pace"                  # value (default), numerator, denominator or one of the metric's extra columns
    by = ["team_id"]                 # each row of this breakdown fires on its own
    comparison = "<"                 # >, >=, <, <=, ==, !=
    threshold = 0.9
    window = "mtd"                   # yesterday, mtd, last7, last30, last_month, or "Nd": N days to the day
    min_working_day = 10             # only from the 10th working day of the month (Chinese calendar)
    filters = { channel = "in_house" }   # teams, agents, buckets, products, regions, channel
    recipients = ["li.na@bank.example"]  # users of the access file: each sees only rows within their scope
    channels = ["managers"]          # optional; else each recipient's digest channels (else e-mail)
    throttle = "3d"                  # at most one firing per row in this time (m, h, d)

A row fires once per period (a rerun does not fire it again) and, with a throttle, not again within it. The
state of past firings is kept in `<store>/notify/alerts.json`. Secrets and endpoints never appear here.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import operator
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dashboard.format import cny, num, pct
from dashboard.format import day as fmt_day
from dashboard.i18n import t, value
from queries.dates import CHINA_CALENDAR, month_start
from queries.errors import UserError
from queries.filters import FilterError, Filters, Scope
from queries.governance.access import EMAIL, Access
from queries.metrics import MetricUnavailable
from queries.metrics.base import RESULT
from queries.metrics.portfolio import BASES
from queries.metrics.registry import METRICS, compute
from queries.notify.config import Channels, ConfigError
from queries.notify.outbox import NOTIFY_DIR
from queries.notify.render import esc, md
from queries.source.contract import TEAM_CHANNELS
from queries.store import Store
from queries.views import scoped

OPS: dict[str, Callable[[float, float], bool]] = {">": operator.gt, ">=": operator.ge, "<": operator.lt,
                                                  "<=": operator.le, "==": operator.eq, "!=": operator.ne}
WINDOWS = ("yesterday", "mtd", "last7", "last30", "last_month")
FILTER_KEYS = ("teams", "agents", "buckets", "products", "regions", "channel")
RULE_KEYS = ("title", "metric", "column", "by", "comparison", "threshold", "window", "min_working_day", "filters",
             "recipients", "channels", "throttle", "options")
REQUIRED = ("metric", "comparison", "threshold", "window", "recipients")
#: Metric options a rule may set (the rule set and calendar are the project's, not a rule's).
RULE_OPTIONS = ("snapshot", "basis")
STATE_FILE = "alerts.json"
_DURATION = re.compile(r"^(\d+)\s*([mhd])$")
_DAYS = re.compile(r"^(\d+)d$")


class RulesError(UserError):
    """The rules file is wrong: one line naming the file, the rule and the key."""


@dataclass(frozen=True)
class Rule:
    """One validated alert rule."""

    name: str
    title: dict[str, str]
    metric: str
    column: str
    by: tuple[str, ...]
    comparison: str
    threshold: float
    window: str
    min_working_day: int
    filters: dict[str, object]
    recipients: tuple[str, ...]
    channels: tuple[str, ...]
    throttle_s: float
    options: dict[str, object] = field(default_factory=dict)

    def period(self, day: dt.date) -> tuple[dt.date, dt.date]:
        """The dates the rule looks at when reporting on `day`."""
        return window_dates(self.window, day)

    def fires(self, v: float | None) -> bool:
        """True when the value meets the condition (a missing value never does)."""
        return v is not None and not (isinstance(v, float) and math.isnan(v)) and OPS[self.comparison](v, self.threshold)


def window_dates(window: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """Start and end of a window ending on `day` (last_month: the whole month before `day`'s)."""
    if window == "yesterday":
        return day, day
    if window == "mtd":
        return month_start(day), day
    if window == "last_month":
        return month_start(day, -1), month_start(day) - dt.timedelta(days=1)
    n = 7 if window == "last7" else 30 if window == "last30" else int(_DAYS.match(window).group(1))
    return day - dt.timedelta(days=n - 1), day


def _duration(text: object, where: str) -> float:
    if isinstance(text, int) and not isinstance(text, bool) and text >= 0:
        return float(text)
    m = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise RulesError(f"{where}: throttle must be a duration such as \"30m\", \"24h\" or \"3d\", not {text!r}")
    return int(m.group(1)) * {"m": 60, "h": 3600, "d": 86400}[m.group(2)]


def _strings(v: object, where: str, what: str) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise RulesError(f"{where}: {what} must be a list of names")
    return tuple(dict.fromkeys(v))


def _columns(store: Store, key: str, by: tuple[str, ...]) -> tuple[str, ...] | None:
    """The columns the metric returns (from an empty computation), or None when it cannot be computed here."""
    try:
        df = compute(key, store, Filters(dt.date(2000, 1, 1), dt.date(2000, 1, 1), nothing=True), by)
    except MetricUnavailable:
        return None
    return tuple(c for c in df.columns if c not in by)


def _filters(raw: object, store: Store, where: str) -> dict[str, object]:
    if not isinstance(raw, dict):
        raise RulesError(f"{where}: filters must be a table, e.g. {{ teams = [\"T01\"] }}")
    out: dict[str, object] = {}
    teams = set(store.frame("teams").get_column("team_id").to_list())
    agents = set(store.frame("agents").get_column("agent_id").to_list())
    known = {"teams": teams, "agents": agents, "buckets": set(store.bounds.labels)}
    for k, v in raw.items():
        if k not in FILTER_KEYS:
            raise RulesError(f"{where}: unknown filter {k!r}; use {', '.join(FILTER_KEYS)}")
        if k == "channel":
            if v not in TEAM_CHANNELS:
                raise RulesError(f"{where}: filters.channel {v!r}; use one of {', '.join(TEAM_CHANNELS)}")
            out[k] = v
            continue
        vals = _strings(v, f"{where}: filters.{k}", k)
        bad = [x for x in vals if k in known and x not in known[k]]
        if bad:
            raise RulesError(f"{where}: filters.{k}: unknown {k[:-1]} {bad[0]!r}")
        out[k] = vals
    return out


def _title(raw: object, name: str, where: str) -> dict[str, str]:
    if raw is None:
        return {"zh": name, "en": name}
    if isinstance(raw, str):
        return {"zh": raw, "en": raw}
    if isinstance(raw, dict) and set(raw) <= {"zh", "en"} and all(isinstance(v, str) for v in raw.values()) and raw:
        return {"zh": raw.get("zh", raw.get("en")), "en": raw.get("en", raw.get("zh"))}
    raise RulesError(f"{where}: title must be text or {{ zh = \"…\", en = \"…\" }}")


def parse_rule(name: str, raw: object, source: str, store: Store, access: Access | None,
               channels: Channels) -> Rule:
    """One rule, every key checked against the registry, the store, the access file and the channels."""
    where = f"{source}: rule {name!r}"
    if not isinstance(raw, dict):
        raise RulesError(f"{where}: must be a table of keys ({', '.join(REQUIRED)} …)")
    unknown = [k for k in raw if k not in RULE_KEYS]
    if unknown:
        raise RulesError(f"{where}: unknown key {unknown[0]!r}; use {', '.join(RULE_KEYS)}")
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise RulesError(f"{where}: missing key {missing[0]!r}")
    key = raw["metric"]
    if key not in METRICS:
        raise RulesError(f"{where}: metric: unknown metric {key!r}; use one of {', '.join(METRICS)}")
    m = METRICS[key]
    by = _strings(raw.get("by", []), f"{where}: by", "by") if raw.get("by") not in (None, []) else ()
    bad_dims = [d for d in by if d not in m.dims]
    if bad_dims:
        raise RulesError(f"{where}: by: {key} cannot be broken down by {bad_dims[0]!r}; use {', '.join(m.dims)}")
    column = raw.get("column", "value")
    cols = _columns(store, key, by)
    if not isinstance(column, str) or (column not in (cols or RESULT)):
        raise RulesError(f"{where}: column: {key} has no column {column!r}; use {', '.join(cols or RESULT)}")
    if raw["comparison"] not in OPS:
        raise RulesError(f"{where}: comparison {raw['comparison']!r}; use one of {' '.join(OPS)}")
    thr = raw["threshold"]
    if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not math.isfinite(thr):
        raise RulesError(f"{where}: threshold must be a number, not {thr!r}")
    window = raw["window"]
    if not isinstance(window, str) or not (window in WINDOWS or (_DAYS.match(window)
                                                                   and 1 <= int(window[:-1]) <= 366)):
        raise RulesError(f"{where}: window {window!r}; use one of {', '.join(WINDOWS)} or \"Nd\" (1–366 days)")
    mwd = raw.get("min_working_day", 0)
    if isinstance(mwd, bool) or not isinstance(mwd, int) or not 0 <= mwd <= 23:
        raise RulesError(f"{where}: min_working_day must be a whole number from 0 to 23, not {mwd!r}")
    filters = _filters(raw.get("filters", {}), store, where)
    recipients = tuple(r.strip().lower() for r in _strings(raw["recipients"], f"{where}: recipients", "recipients"))
    for r in recipients:
        if access is None:
            raise RulesError(f"{where}: recipients: rules need an access file (CASES_ACCESS_FILE) naming {r!r}")
        if access.scope_for(r) is None:
            raise RulesError(f"{where}: recipients: {r!r} is not in the access file")
    chans = _strings(raw["channels"], f"{where}: channels", "channels") if "channels" in raw else ()
    for c in chans:
        try:
            channels.check(c, f"{where}: channels")
        except ConfigError as exc:
            raise RulesError(str(exc)) from None
    options = raw.get("options", {})
    if not isinstance(options, dict) or any(k not in RULE_OPTIONS or k not in m.options for k in options):
        allowed = [o for o in RULE_OPTIONS if o in m.options]
        raise RulesError(f"{where}: options: {key} takes {', '.join(allowed) or 'no options'}")
    if "basis" in options and options["basis"] not in BASES:
        raise RulesError(f"{where}: options.basis {options['basis']!r}; use {' or '.join(BASES)}")
    if "snapshot" in options:
        if not isinstance(options["snapshot"], dt.date) or options["snapshot"] not in store.snapshots:
            raise RulesError(f"{where}: options.snapshot must be a snapshot date of the store")
    return Rule(name, _title(raw.get("title"), name, where), key, column, by, raw["comparison"], float(thr), window,
                mwd, filters, recipients, chans, _duration(raw.get("throttle", 0), where), dict(options))


def parse_rules(text: str, source: str, store: Store, access: Access | None, channels: Channels) -> list[Rule]:
    """Every rule of a rules file; RulesError (one line: file, rule, key) at the first that is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source}: not valid TOML ({exc})") from None
    extra = [k for k in data if k != "rules"]
    if extra:
        raise RulesError(f"{source}: unknown key {extra[0]!r}; write each rule as [rules.NAME]")
    rules = data.get("rules")
    if not isinstance(rules, dict) or not rules:
        raise RulesError(f"{source}: no rules; write each rule as [rules.NAME]")
    return [parse_rule(name, raw, source, store, access, channels) for name, raw in rules.items()]


def load_rules(path: Path, store: Store, access: Access | None, channels: Channels) -> list[Rule]:
    """Read and check the rules file at `path`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"cannot read rules file {path}: {exc.strerror}") from None
    return parse_rules(text, str(path), store, access, channels)


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Firing:
    """One row of a rule that meets its condition: the row's key (dims → values), its value, the period."""

    rule: str
    key: tuple[tuple[str, object], ...]
    value: float
    start: dt.date
    end: dt.date

    @property
    def ident(self) -> str:
        """The row's identity for de-duplication and throttling: rule and key."""
        return f"{self.rule}|" + ",".join(f"{k}={v}" for k, v in self.key)


def evaluate(store: Store, rule: Rule, scope: Scope, day: dt.date) -> list[Firing]:
    """The rows of `rule` that fire within `scope` when reporting on `day` (none before its working day)."""
    if rule.min_working_day and CHINA_CALENDAR.working_days(month_start(day), day) < rule.min_working_day:
        return []
    start, end = rule.period(day)
    try:
        f = Filters(start, end, **rule.filters).validate(store.bounds)
    except FilterError as exc:
        raise RulesError(f"rule {rule.name!r}: {exc}") from None
    df = scoped.metric(store, scope, rule.metric, f, rule.by, **rule.options)
    if rule.column not in df.columns:
        raise RulesError(f"rule {rule.name!r}: column: {rule.metric} has no column {rule.column!r}")
    out = []
    for row in df.iter_rows(named=True):
        v = row[rule.column]
        if rule.fires(v):
            out.append(Firing(rule.name, tuple((d, row[d]) for d in rule.by), float(v), start, end))
    return out


class State:
    """Past firings (row identity → last fired time and period end), kept beside the outbox."""

    def __init__(self, store_dir: Path) -> None:
        self.path = Path(store_dir) / NOTIFY_DIR / STATE_FILE
        self.data: dict[str, dict] = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}

    def decide(self, rule: Rule, firing: Firing, now: dt.datetime) -> str:
        """'fire', 'repeat' (this period already fired) or 'throttled' (fired within the rule's throttle)."""
        past = self.data.get(firing.ident)
        if past is None:
            return "fire"
        if past["period_end"] == firing.end.isoformat():
            return "repeat"
        if (now - dt.datetime.fromisoformat(past["at"])).total_seconds() < rule.throttle_s:
            return "throttled"
        return "fire"

    def fired(self, firing: Firing, now: dt.datetime) -> None:
        """Remember a firing."""
        self.data[firing.ident] = {"at": now.isoformat(timespec="seconds"), "period_end": firing.end.isoformat(),
                                   "value": firing.value}

    def save(self) -> None:
        """Write the state atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        tmp.replace(self.path)


# ---------------------------------------------------------------- the message


def fmt(rule: Rule, v: float | None, lang: str) -> str:
    """A value of the rule's column, formatted as its unit is."""
    m, col = METRICS[rule.metric], rule.column
    money = m.money_numerator and rule.options.get("basis") != "count"
    if col == "pace" or (col == "value" and m.unit == "rate"):
        return pct(v)
    if col == "due_amount" or (money and col in ("numerator", "denominator", "value")):
        return cny(v, lang)
    if col == "value" and m.unit in ("per_10k", "per_1k"):
        return num(v, 1)
    return num(v, 0 if v is None or float(v).is_integer() else 2)


#: Labels (dashboard/i18n.py keys) of the metrics' extra columns a rule may compare.
_EXTRA_LABELS = {"pace": "n_pace", "regulator_12378": "k_12378", "payments": "k_payments", "attempts": "attempts",
                 "per_10k_attempts": "k_rate_att", "pending": "pending", "due_amount": "n_due_amount"}


def column_label(rule: Rule, lang: str) -> str:
    """What the rule compares, in `lang`: the metric's name, its numerator or denominator as declared, or an extra."""
    m = METRICS[rule.metric]
    if rule.column == "value":
        return m.name(lang)
    if rule.column == "numerator":
        return m.numerator_in(lang)
    if rule.column == "denominator":
        return m.denominator_in(lang) or t("n_denominator", lang)
    key = _EXTRA_LABELS.get(rule.column)
    if key is None:
        return rule.column
    return value(key, lang) if key == "pending" else t(key, lang)


def _row_label(store: Store, key: tuple[tuple[str, object], ...], lang: str) -> str:
    names = {"team_id": dict(store.frame("teams").select("team_id", "team_name").iter_rows()),
             "agent_id": dict(store.frame("agents").select("agent_id", "agent_name").iter_rows())}
    parts = []
    for d, v in key:
        if d in names:
            parts.append(f"{v} {names[d].get(v) or ''}".strip())
        elif isinstance(v, dt.date):
            parts.append(fmt_day(v, lang))
        else:
            parts.append(value(v, lang))
    return " · ".join(parts)


def message(store: Store, rule: Rule, firings: list[Firing], lang: str, link: str,
            notes: list[str]) -> tuple[str, str, str]:
    """(title, markdown, HTML) of one alert: rule, metric and period, condition, and each firing row."""
    m = METRICS[rule.metric]
    start, end = firings[0].start, firings[0].end
    title = t("n_alert", lang, rule=rule.title[lang])
    head = [t("n_alert_period", lang, metric=m.name(lang), start=fmt_day(start, lang), end=fmt_day(end, lang)),
            t("n_alert_rule", lang, column=column_label(rule, lang), op=rule.comparison,
              threshold=fmt(rule, rule.threshold, lang))]
    sep = "：" if lang == "zh" else ": "
    rows = [(_row_label(store, f.key, lang) or m.name(lang), fmt(rule, f.value, lang)) for f in firings]
    text = "\n".join([f"## {md(title, 120)}", *[f"**{n}**" for n in notes], *head, "",
                      *[f"- {md(label, 80)}{sep}{v}" for label, v in rows], "", f"[{t('n_open', lang)}]({link})"])
    html = "".join([
        f'<html><body style="font-family:sans-serif"><h2 style="color:#C0392B">{esc(title, 120)}</h2>',
        *[f"<p><b>{esc(n, 400)}</b></p>" for n in notes], *[f"<p>{esc(h, 400)}</p>" for h in head],
        "<ul>", *[f"<li>{esc(label, 80)}{sep}{esc(v)}</li>" for label, v in rows], "</ul>",
        f'<p><a href="{esc(link, 2000)}">{esc(t("n_open", lang))}</a></p></body></html>'])
    return title, text, html


def recipients_channels(rule: Rule, user: str, access: Access) -> tuple[str, tuple[str, ...]]:
    """A recipient's language and the channels a rule's alert goes on for them."""
    sub = access.subscriptions.get(user)
    lang = sub.lang if sub else "zh"
    return lang, rule.channels or (sub.channels if sub else (EMAIL,))
