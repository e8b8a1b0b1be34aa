"""Collection rules: the versioned rule pack (one TOML file per published text, effective dates, every figure
configurable) and the older RuleSet of after-hours and frequency limits the effort metrics read."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from queries.errors import UserError


@dataclass(frozen=True)
class RuleSet:
    """Limits from a collection guideline; metrics read them at query time, never page code."""

    version: str = "CBA collection guideline 2026-01-30"
    after_hours_start: int = 22  # first hour (local time) that is out of hours
    after_hours_end: int = 8  # first hour that is allowed again
    max_unanswered_per_phone_day: int = 6  # more than this many unanswered calls → breach
    max_connected_per_case_day: int = 3  # more than this many connected calls → breach

    def after_hours(self) -> tuple[int, ...]:
        """Hours of the day (0–23) that fall in the after-hours window."""
        if self.after_hours_start > self.after_hours_end:
            return tuple(range(self.after_hours_start, 24)) + tuple(range(0, self.after_hours_end))
        return tuple(range(self.after_hours_start, self.after_hours_end))


DEFAULT_RULES = RuleSet()


def load_rules(path: str | None = None) -> RuleSet:
    """The rule set from a JSON file of RuleSet fields (settings: CASES_RULES_FILE), else the default."""
    if not path:
        return DEFAULT_RULES
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return replace(DEFAULT_RULES, **data)


# ---------------------------------------------------------------------------------------------------------------
# The rule pack: one TOML file per published text (queries/compliance/pack/, package data), plus a centre's own
# stricter house rules in the same format (CASES_RULES_DIR). A contact is judged by the rules in force on its day.

#: Checks judged per contact (the `check` keys of the breach metrics and the store's `b_<check>` columns).
CONTACT_CHECKS: tuple[str, ...] = ("quiet_hours", "unanswered_cap", "connected_cap", "third_party", "during_plan",
                                   "unrecorded", "agency_not_allowed")
#: Every check a rule may name: the contact checks, then those judged on agencies, complaints and the scorecard.
CHECKS: tuple[str, ...] = (*CONTACT_CHECKS, "agency_evaluation", "complaint_deadline", "scorecard")
#: The parameters of each check, with their kind ("int", "float", "time" HH:MM, "channels") and default.
PARAMS: dict[str, dict[str, tuple[str, object]]] = {
    "quiet_hours": {"start": ("time", "22:00"), "end": ("time", "08:00"), "exempt_channels": ("channels", ["letter"])},
    "unanswered_cap": {"max_per_phone_day": ("int", 6)},
    "connected_cap": {"max_per_case_day": ("int", 3)},
    "third_party": {"lookback_days": ("int", 30), "min_failed_calls": ("int", 3)},
    "during_plan": {},
    "unrecorded": {"retention_years": ("int", 2)},
    "agency_not_allowed": {},
    "agency_evaluation": {"max_days": ("int", 365)},
    "complaint_deadline": {"max_days": ("int", 15)},
    "scorecard": {"recovery": ("float", 0.4), "breaches": ("float", 0.35), "complaints": ("float", 0.25)},
}
RULE_KEYS = frozenset({"id", "check", "article", "article_en", "effective_from", "effective_to"})
SOURCE_KEYS = frozenset({"title", "title_en", "issuer", "published", "version", "url"})
CHANNELS = ("call", "sms", "email", "letter", "visit")
#: How several rules in force on one day for the same check combine: the strictest figure wins.
STRICTEST = {"start": min, "end": max, "max_per_phone_day": min, "max_per_case_day": min, "lookback_days": max,
             "min_failed_calls": max, "max_days": min, "retention_years": max}
PACK_DIR = Path(__file__).with_name("pack")
#: Label of the built-in pack's files in messages and manifests.
BUILTIN = "builtin"


class RulePackError(UserError):
    """A rule file breaks the format; the message is one line naming file, rule and key."""


@dataclass(frozen=True)
class Rule:
    """One rule of a published text: which check it drives, where it comes from, when it is in force, its figures."""

    rule_id: str
    check: str
    file: str
    source_title: str
    source_title_en: str
    source_version: str
    article: str
    article_en: str
    effective_from: dt.date
    effective_to: dt.date | None  # last day in force (None: still in force)
    params: tuple[tuple[str, object], ...]
    house: bool = False

    def in_force(self, day: dt.date) -> bool:
        """True when the rule applies to events on `day`."""
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def param(self, key: str) -> object:
        """One figure of the rule (the check's default when the file leaves it out)."""
        return dict(self.params).get(key, PARAMS[self.check][key][1])

    def label(self, lang: str = "en") -> str:
        """'<title> <article> (version)' for the glossary and the page."""
        if lang == "zh":
            return f"{self.source_title} · {self.article}（{self.source_version}）"
        title, article = self.source_title_en or self.source_title, self.article_en or self.article
        return f"{title} · {article} ({self.source_version})"


@dataclass(frozen=True)
class RulePack:
    """Every rule of the built-in texts and the house rules, and what judged a day."""

    rules: tuple[Rule, ...]
    files: tuple[str, ...] = ()

    @property
    def version(self) -> str:
        """A short fingerprint of the pack (changes when any rule or figure does): the store rebuilds on change."""
        text = repr(sorted((r.rule_id, r.check, r.effective_from, r.effective_to, r.params) for r in self.rules))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def for_check(self, check: str) -> tuple[Rule, ...]:
        """The rules of one check, by effective date."""
        return tuple(sorted((r for r in self.rules if r.check == check), key=lambda r: r.effective_from))

    def in_force(self, check: str, day: dt.date) -> tuple[Rule, ...]:
        """The rules of `check` in force on `day` (empty: the check does not apply that day)."""
        return tuple(r for r in self.for_check(check) if r.in_force(day))

    def params(self, check: str, day: dt.date) -> dict[str, object] | None:
        """The figures that judge `check` on `day` (the strictest of the rules in force), or None when none is."""
        rules = self.in_force(check, day)
        if not rules:
            return None
        out: dict[str, object] = {}
        for key in PARAMS[check]:
            values = [r.param(key) for r in rules]
            if key == "exempt_channels":
                out[key] = sorted(set.intersection(*(set(v) for v in values)))  # type: ignore[arg-type]
            elif key in STRICTEST:
                out[key] = STRICTEST[key](values)  # type: ignore[type-var]
            else:
                out[key] = values[-1]  # the latest in force (scorecard weights)
        return out

    def day_params(self, check: str, days: list[dt.date]) -> dict[dt.date, dict[str, object] | None]:
        """params() for each day (the sync judges a month at a time)."""
        return {d: self.params(check, d) for d in days}

    def judged_by(self, check: str, start: dt.date, end: dt.date) -> tuple[Rule, ...]:
        """The rules that judged `check` on some day of [start, end] (what the glossary and page show)."""
        return tuple(r for r in self.for_check(check)
                     if r.effective_from <= end and (r.effective_to is None or r.effective_to >= start))

    def scorecard_weights(self, day: dt.date) -> dict[str, float]:
        """Weights of recovery, breaches and complaints in the compliance-weighted scorecard on `day`."""
        p = self.params("scorecard", day) or {k: v[1] for k, v in PARAMS["scorecard"].items()}
        return {k: float(p[k]) for k in ("recovery", "breaches", "complaints")}  # type: ignore[arg-type]

    def ruleset(self, day: dt.date) -> RuleSet:
        """The older RuleSet (after-hours window, frequency caps) as the pack has it on `day`."""
        q = self.params("quiet_hours", day) or {}
        u = self.params("unanswered_cap", day) or {}
        c = self.params("connected_cap", day) or {}
        return RuleSet(version=f"pack {self.version}",
                       after_hours_start=_minutes(str(q.get("start", "22:00"))) // 60,
                       after_hours_end=-(-_minutes(str(q.get("end", "08:00"))) // 60),
                       max_unanswered_per_phone_day=int(u.get("max_per_phone_day", 6)),  # type: ignore[arg-type]
                       max_connected_per_case_day=int(c.get("max_per_case_day", 3)))  # type: ignore[arg-type]


def _minutes(hhmm: str) -> int:
    """'22:00' → 1320 minutes after midnight."""
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def seconds_of_day(hhmm: str) -> int:
    """'22:00' → seconds after midnight (the quiet-hours bounds as the checks compare them)."""
    return _minutes(hhmm) * 60


def _value(kind: str, value: object, where: str) -> object:
    """A rule figure checked against its kind; RulePackError names file, rule and key."""
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise RulePackError(f"{where}: must be a whole number, got {value!r}")
        if value < 0:
            raise RulePackError(f"{where}: must not be negative, got {value}")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RulePackError(f"{where}: must be a number, got {value!r}")
        if value < 0:
            raise RulePackError(f"{where}: must not be negative, got {value}")
        return float(value)
    if kind == "time":
        if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise RulePackError(f"{where}: must be a time HH:MM, got {value!r}")
        return value
    if not isinstance(value, list) or not all(isinstance(v, str) and v in CHANNELS for v in value):
        raise RulePackError(f"{where}: must be a list of channels from {', '.join(CHANNELS)}, got {value!r}")
    return tuple(value)


def _date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise RulePackError(f"{where}: must be a date YYYY-MM-DD, got {value!r}")


def parse_rule_file(path: Path, label: str | None = None, house: bool = False) -> list[Rule]:
    """The rules of one TOML file; RulePackError (one line: file, rule, key) when it breaks the format."""
    name = label or path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise RulePackError(f"{name}: cannot be read as TOML ({e})") from None
    unknown = set(data) - {"source", "rules"}
    if unknown:
        raise RulePackError(f"{name}: unknown key {sorted(unknown)[0]!r} (a rule file has [source] and [[rules]])")
    source = data.get("source")
    if not isinstance(source, dict) or not source.get("title"):
        raise RulePackError(f"{name}: [source] title is missing (every rule file names the published text)")
    bad = set(source) - SOURCE_KEYS
    if bad:
        raise RulePackError(f"{name}: [source] unknown key {sorted(bad)[0]!r}")
    rules = data.get("rules")
    if not isinstance(rules, list) or not rules:
        raise RulePackError(f"{name}: no [[rules]]")
    version = str(source.get("version") or source.get("published") or "")
    out: list[Rule] = []
    for i, r in enumerate(rules, 1):
        if not isinstance(r, dict):
            raise RulePackError(f"{name}: rule {i} is not a table")
        rid = r.get("id") or f"#{i}"
        where = f"{name}: rule {rid}"
        for key in ("id", "check", "article", "effective_from"):
            if key not in r or r[key] in ("", None):
                raise RulePackError(f"{where}: key {key!r} is missing")
        check = r["check"]
        if check not in PARAMS:
            raise RulePackError(f"{where}: key 'check': unknown check {check!r} (one of {', '.join(CHECKS)})")
        params = []
        for key, value in r.items():
            if key in RULE_KEYS:
                continue
            if key not in PARAMS[check]:
                raise RulePackError(f"{where}: unknown key {key!r} for check {check}")
            params.append((key, _value(PARAMS[check][key][0], value, f"{where}: key {key!r}")))
        start = _date(r["effective_from"], f"{where}: key 'effective_from'")
        end = _date(r["effective_to"], f"{where}: key 'effective_to'") if "effective_to" in r else None
        if end is not None and end < start:
            raise RulePackError(f"{where}: key 'effective_to' {end} is before effective_from {start}")
        out.append(Rule(rule_id=str(rid), check=check, file=name, source_title=str(source["title"]),
                        source_title_en=str(source.get("title_en") or ""), source_version=version,
                        article=str(r["article"]), article_en=str(r.get("article_en") or ""),
                        effective_from=start, effective_to=end,
                        params=tuple(sorted(params)), house=house))
    _no_overlap(out, name)
    return out


def _no_overlap(rules: list[Rule], name: str) -> None:
    """Two rules of one file for the same check may not be in force on the same day."""
    by_check: dict[str, list[Rule]] = {}
    for r in rules:
        by_check.setdefault(r.check, []).append(r)
    for group in by_check.values():
        group.sort(key=lambda r: r.effective_from)
        for a, b in zip(group, group[1:], strict=False):
            if a.effective_to is None or a.effective_to >= b.effective_from:
                raise RulePackError(f"{name}: rule {b.rule_id}: key 'effective_from' {b.effective_from} overlaps "
                                    f"rule {a.rule_id} for check {a.check} (give {a.rule_id} an effective_to "
                                    "before it)")


def load_pack(rules_dir: str | Path | None = None) -> RulePack:
    """The built-in pack plus the house rules in `rules_dir` (CASES_RULES_DIR); RulePackError on a bad file."""
    rules: list[Rule] = []
    files: list[str] = []
    for f in sorted(PACK_DIR.glob("*.toml")):
        rules += parse_rule_file(f, f"{BUILTIN}/{f.name}")
        files.append(f"{BUILTIN}/{f.name}")
    if rules_dir:
        folder = Path(rules_dir)
        if not folder.is_dir():
            raise RulePackError(f"{folder}: the house rules folder (CASES_RULES_DIR) does not exist")
        for f in sorted(folder.glob("*.toml")):
            rules += parse_rule_file(f, str(f), house=True)
            files.append(str(f))
    ids: dict[str, str] = {}
    for r in rules:
        if r.rule_id in ids:
            raise RulePackError(f"{r.file}: rule {r.rule_id}: key 'id' is also used in {ids[r.rule_id]}")
        ids[r.rule_id] = r.file
    return RulePack(tuple(rules), tuple(files))


_LAST_GOOD: dict[str, RulePack] = {}
_ACTIVE: dict[str, tuple[bytes, RulePack, str | None]] = {}  # folder → (its files' digest, pack, problem)


def _digest(rules_dir: str | Path | None) -> bytes | None:
    """A digest of the rule files' names and contents (built-in and house), None when one cannot be read."""
    h = hashlib.sha256()
    folders = [PACK_DIR, *([Path(rules_dir)] if rules_dir else [])]
    try:
        for folder in folders:
            h.update(f"{folder}:{folder.is_dir()}\n".encode())
            for f in sorted(folder.glob("*.toml")) if folder.is_dir() else ():
                data = f.read_bytes()
                h.update(f"{f.name}\n{len(data)}\n".encode() + data)
    except OSError:
        return None
    return h.digest()


def active_pack(rules_dir: str | Path | None = None) -> tuple[RulePack, str | None]:
    """The pack to judge by and the load problem (one line) if the current files are bad: a bad file keeps the
    previous valid pack of this process in force (the built-in pack when there was none) and reports why. The
    files are parsed again only when their contents change (a metric asks for the pack on every call)."""
    key = str(rules_dir or "")
    digest = _digest(rules_dir)
    seen = _ACTIVE.get(key)
    if digest is not None and seen is not None and seen[0] == digest:
        return seen[1], seen[2]
    try:
        pack, problem = load_pack(rules_dir), None
        _LAST_GOOD[key] = pack
    except RulePackError as e:
        pack, problem = _LAST_GOOD.get(key) or load_pack(None), str(e)
    if digest is not None:
        _ACTIVE[key] = (digest, pack, problem)
    return pack, problem


def pack_problem(rules_dir: str | Path | None = None) -> str | None:
    """The one-line problem with the house rule files, or None when they load (for the page's banner)."""
    return active_pack(rules_dir)[1]
