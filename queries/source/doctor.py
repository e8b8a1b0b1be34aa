"""Check a case database against the data contract: what is missing, malformed or risky, table by table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from queries.errors import SourceError
from queries.source import contract as S
from queries.source.engines import backend

ERROR, WARNING, OK = "ERROR", "WARNING", "OK"
#: Required tables that may hold no rows: the metrics reading them then say "this database holds no … records"
#: (queries.metrics.base.require) instead of showing zeros.
MAY_BE_EMPTY = frozenset({"contacts", "promises", "complaints"})

#: Columns whose values the contract enumerates.
ALLOWED_VALUES: dict[tuple[str, str], tuple[str, ...]] = {
    ("teams", "channel"): S.TEAM_CHANNELS,
    ("cases", "status"): S.CASE_STATUSES,
    ("contacts", "channel"): S.CONTACT_CHANNELS,
    ("contacts", "party"): S.CONTACT_PARTIES,
    ("contacts", "outcome"): S.CONTACT_OUTCOMES,
    ("promises", "status"): S.PROMISE_STATUSES,
    ("complaints", "source"): S.COMPLAINT_SOURCES,
    ("complaints", "category"): S.COMPLAINT_CATEGORIES,
    ("complaints", "severity"): S.COMPLAINT_SEVERITIES,
    ("complaints", "status"): S.COMPLAINT_STATUSES,
    ("repayment_plans", "status"): S.PLAN_STATUSES,
}
#: What each optional part (DESIGN §3b) is for, for the finding that says it is absent.
OPTIONAL_USE = {
    "targets": "target metrics will say so",
    "repayment_plans": "the 'no collection during a plan' check will say so",
    "agency_fees": "the agency page shows no commission cost or net recovery",
    "contacts.is_robot": "robot calls cannot be shown apart (they count as human calls)",
    "contacts.recording_id": "the recording-coverage check will say so",
    "teams.whitelisted_on": "the agency-whitelist check will say so",
    "teams.evaluated_on": "agency evaluations cannot be checked",
}
_TYPE_FAMILY = (
    (sa.Boolean, "boolean"), (sa.DateTime, "datetime"), (sa.Date, "date"), (sa.Numeric, "number"),
    (sa.Integer, "integer"), (sa.String, "text"),
)
MONEY_COLUMNS = {("cases", "placed_balance"), ("cases", "current_balance"), ("balance_snapshots", "balance"),
                 ("promises", "amount"), ("payments", "amount"), ("targets", "target_amount")}


@dataclass(frozen=True)
class Finding:
    """One result of the check: level, where (table or table.column) and what to do."""

    level: str
    where: str
    message: str

    def line(self) -> str:
        """The finding as one printable line."""
        return f"{self.level:<8}{self.where:<34}{self.message}"


def _family(t: sa.types.TypeEngine) -> str:
    for cls, name in _TYPE_FAMILY:
        if isinstance(t, cls):
            return name
    return "other"


def _compatible(expected: sa.types.TypeEngine, found: sa.types.TypeEngine, kind: str) -> bool:
    want, got = _family(expected), _family(found)
    if want == got:
        return True
    if want == "boolean" and got == "integer":  # MySQL BOOL is TINYINT(1)
        return True
    if want == "integer" and got == "number":  # NUMBER(10,0) and the like
        return True
    return kind == "sqlite" and want in ("date", "datetime", "number") and got in ("text", "number", "other")


def check(engine: sa.Engine, progress: Callable[[str], None] | None = None) -> list[Finding]:
    """Every finding for the database behind `engine` (reads only)."""
    return list(_checks(engine, progress or (lambda _m: None)))


def structure(conn: sa.Connection, kind: str, usable: list[sa.Table] | None = None,
              indexes: bool = True) -> Iterator[Finding]:
    """Tables, columns, types (and indexes) against the contract, from the catalogue only: fast.

    Tables whose columns are all present are appended to `usable`.
    """
    insp = sa.inspect(conn)
    tables = insp.get_table_names()
    present = {n.lower(): n for n in tables} | {n.lower(): n for n in insp.get_view_names()}
    for t in S.TABLES:
        if t.name not in present:
            if t.name in S.OPTIONAL_TABLES:
                yield Finding(WARNING, t.name, f"optional table missing: {OPTIONAL_USE[t.name]}")
            else:
                yield Finding(ERROR, t.name, "required table missing: create it or a view of that name")
            continue
        cols = {c["name"].lower(): c for c in insp.get_columns(present[t.name])}
        optional = S.OPTIONAL_COLUMNS.get(t.name, frozenset())
        absent = [c.name for c in t.columns if c.name not in cols and c.name in optional]
        missing = [c.name for c in t.columns if c.name not in cols and c.name not in optional]
        for name in absent:
            yield Finding(OK, f"{t.name}.{name}", f"optional column absent: {OPTIONAL_USE[f'{t.name}.{name}']}")
        for name in missing:
            yield Finding(ERROR, f"{t.name}.{name}", "required column missing")
        for c in t.columns:
            found = cols.get(c.name)
            if found is not None and not _compatible(c.type, found["type"], kind):
                yield Finding(WARNING, f"{t.name}.{c.name}",
                              f"type {found['type']} where the contract has {_family(c.type)}")
        if not missing:
            if usable is not None:
                usable.append(_without(t, absent) if absent else t)
            if indexes and present[t.name] in tables:
                yield from _index_findings(insp, t)


def _without(t: sa.Table, names: list[str]) -> sa.Table:
    """The contract table without some (absent optional) columns, for the value checks."""
    return sa.Table(t.name, sa.MetaData(), *[c._copy() for c in t.columns if c.name not in names])


def _optional_findings(conn: sa.Connection, t: sa.Table, kind: str) -> Iterator[Finding]:
    """Unexpected values in the optional compliance columns (DESIGN §3b): the checks skip such rows."""
    def count(cond: sa.ColumnElement) -> int:
        return conn.execute(sa.select(sa.func.count()).select_from(t).where(cond)).scalar_one()

    c = t.c
    found: list[tuple[str, sa.ColumnElement, str]] = []
    if t.name == "contacts" and "is_robot" in c and kind != "postgresql":
        found.append(("is_robot", sa.and_(c.is_robot.is_not(None), sa.type_coerce(c.is_robot, sa.Integer)
                                          .not_in((0, 1))), "values other than true/false; the checks skip them"))
    if t.name == "contacts" and "recording_id" in c:
        found.append(("recording_id", sa.func.trim(c.recording_id) == "",
                      "blank recording keys; the recording check skips them"))
    if t.name == "teams":
        for col in ("whitelisted_on", "evaluated_on"):
            if col in c:
                found.append((col, sa.and_(c[col].is_not(None), c.channel != "agency"),
                              "dates on teams that are not agencies (ignored)"))
    if t.name == "repayment_plans":
        found += [("months", sa.or_(c.months < 1, c.months > 60), "plans outside 1–60 months"),
                  ("ended_on", c.ended_on < c.agreed_on, "plans that end before they were agreed"),
                  ("ended_on", sa.and_(c.status == "active", c.ended_on.is_not(None)),
                   "active plans with an end date (the end date counts)"),
                  ("ended_on", sa.and_(c.status != "active", c.ended_on.is_(None)),
                   "ended plans without an end date (counted as still active)")]
    if t.name == "agency_fees":
        dup = sa.select(c.team_id, c.effective_from).group_by(c.team_id, c.effective_from).having(
            sa.func.count() > 1).subquery()
        found += [("rate", sa.or_(c.rate < 0, c.rate > 1), "rates below 0 or above 1 (the rate is a share: 0.18 = 18%)"),
                  ("team_id", c.team_id.not_in(sa.select(S.teams.c.team_id).where(S.teams.c.channel == "agency")),
                   "teams that are not agencies in teams (ignored)"),
                  ("effective_from", sa.tuple_(c.team_id, c.effective_from).in_(sa.select(dup.c.team_id,
                                                                                          dup.c.effective_from)),
                   "two rates for one team from the same day (the higher counts)")]
    for col, cond, what in found:
        try:
            n = count(cond)
        except sa.exc.SQLAlchemyError:
            conn.rollback()
            continue
        if n:
            yield Finding(WARNING, f"{t.name}.{col}", f"{n:,} row{'s' if n > 1 else ''} with {what}"
                          + (_named(conn, t, cond, col, n) if t.name == "agency_fees" else ""))


def _named(conn: sa.Connection, t: sa.Table, cond: sa.ColumnElement, col: str, n: int) -> str:
    """The first offending rows of a small table, named by key and value: ' (team_id 'T9', …: '1.5'; …)'."""
    keys = list(t.primary_key.columns)
    rows = conn.execute(sa.select(*[sa.type_coerce(k, sa.String()) for k in keys], sa.type_coerce(t.c[col], sa.String()))
                        .where(cond).order_by(*keys).limit(SAMPLE_KEYS)).all()
    shown = "; ".join(", ".join(f"{k.name} {_shown(v)}" for k, v in zip(keys, row[:-1], strict=True))
                      + f": {_shown(row[-1])}" for row in rows)
    return f" ({shown}{' …' if n > SAMPLE_KEYS else ''})"


def _checks(engine: sa.Engine, say: Callable[[str], None]) -> Iterator[Finding]:
    kind = backend(engine.url)
    with engine.connect() as conn:
        usable: list[sa.Table] = []
        yield from structure(conn, kind, usable)
        for t in usable:
            say(f"checking values in {t.name}")
            yield from _value_findings(conn, t)
            yield from _row_findings(conn, t, kind)
            yield from _optional_findings(conn, t, kind)
        names = {t.name for t in usable}
        if {"agents", "teams"} <= names:
            orphans = conn.execute(sa.select(sa.func.count()).select_from(S.agents).where(
                ~S.agents.c.team_id.in_(sa.select(S.teams.c.team_id)))).scalar_one()
            if orphans:
                yield Finding(ERROR, "agents.team_id", f"{orphans} agents name a team not in teams")
        yield from _write_access(conn, kind)


def _index_findings(insp: sa.Inspector, t: sa.Table) -> Iterator[Finding]:
    have = {tuple(c.lower() for c in ix["column_names"] if c) for ix in insp.get_indexes(t.name)}
    pk = insp.get_pk_constraint(t.name).get("constrained_columns") or []
    have.add(tuple(c.lower() for c in pk))
    for ix in t.indexes:
        want = tuple(c.name for c in ix.columns)
        if not any(h[:len(want)] == want for h in have):
            yield Finding(WARNING, t.name, f"no index on ({', '.join(want)}): drill-down and sync will scan")


#: Characters a name or code must not hold: NUL and the other C0 controls, DEL (tab and line breaks included).
CONTROL_CHARS = "".join(chr(c) for c in range(32)) + "\x7f"
SAMPLE_KEYS = 5


def _shown(value: object, limit: int = 40) -> str:
    """A value from the database quoted for a terminal: escapes, never raw control or bidi characters."""
    return repr(str(value)[:limit]) + ("…" if len(str(value)) > limit else "")


def _bad_time(col: sa.ColumnElement, kind: str) -> sa.ColumnElement | None:
    """Rows whose date/time value is not a valid one (only backends that can store such a value)."""
    if kind == "sqlite":
        return sa.and_(col.is_not(None), sa.func.julianday(col).is_(None))
    if kind == "mysql":  # a non-strict server stores an invalid time as the zero date
        return sa.and_(col.is_not(None), sa.or_(sa.func.year(col) == 0, sa.func.month(col) == 0))
    return None


def _bad_number(col: sa.ColumnElement, kind: str) -> sa.ColumnElement | None:
    if kind == "sqlite":
        return sa.and_(col.is_not(None), sa.func.typeof(col).not_in(("integer", "real")))
    return None


def _control(col: sa.ColumnElement, kind: str) -> sa.ColumnElement:
    if kind == "sqlite":
        return sa.or_(sa.func.instr(col, sa.func.char(0)) > 0,
                      col.op("GLOB")(sa.literal("*[" + CONTROL_CHARS[1:] + "]*")))
    if kind == "postgresql":
        return col.op("~")(sa.literal("[\x01-\x1f\x7f]"))
    return col.op("REGEXP")(sa.literal("[[:cntrl:]]"))


def _row_findings(conn: sa.Connection, t: sa.Table, kind: str) -> Iterator[Finding]:
    """Rows the sync or the pages cannot take as they are, each check naming table, column and sample keys."""
    keys = [c for c in t.primary_key.columns]
    checks: list[tuple[sa.Column, sa.ColumnElement, str]] = []
    for c in t.columns:
        if isinstance(c.type, sa.Date | sa.DateTime):
            cond = _bad_time(c, kind)
            if cond is not None:
                checks.append((c, cond, "a value that is not a valid date/time"))
        elif isinstance(c.type, sa.Numeric | sa.Integer) and not isinstance(c.type, sa.Boolean):
            cond = _bad_number(c, kind)
            if cond is not None:
                checks.append((c, cond, "a value that is not a number"))
        elif isinstance(c.type, sa.String):
            if c.type.length:
                checks.append((c, sa.func.length(c) > c.type.length,
                               f"text longer than the contract's {c.type.length} characters"))
            checks.append((c, _control(c, kind), "NUL or control characters"))
    for c, cond, what in checks:
        try:
            n = conn.execute(sa.select(sa.func.count()).select_from(t).where(cond)).scalar_one()
        except sa.exc.SQLAlchemyError:  # a backend without the function: nothing to say
            conn.rollback()
            continue
        if not n:
            continue
        raw = sa.type_coerce(c, sa.String())  # as stored: a driver must not try to parse a broken value
        sample = conn.execute(sa.select(*[sa.type_coerce(k, sa.String()) for k in keys], raw)
                              .where(cond).limit(SAMPLE_KEYS)).all()
        shown = "; ".join(", ".join(f"{k.name} {_shown(v)}" for k, v in zip(keys, row[:-1], strict=True))
                          + f": {_shown(row[-1])}" for row in sample)
        yield Finding(ERROR, f"{t.name}.{c.name}", f"{n:,} row{'s' if n > 1 else ''} with {what} ({shown}"
                      f"{' …' if n > SAMPLE_KEYS else ''})")


def _value_findings(conn: sa.Connection, t: sa.Table) -> Iterator[Finding]:
    required = [c for c in t.columns if not c.nullable]
    if required:
        counts = conn.execute(sa.select(
            sa.func.count(), *[sa.func.sum(sa.case((c.is_(None), 1), else_=0)) for c in required])).one()
        if counts[0] == 0:
            if t.name in S.OPTIONAL_TABLES:
                yield Finding(WARNING, t.name, "optional table is empty")
            elif t.name in MAY_BE_EMPTY:
                yield Finding(WARNING, t.name, "table is empty: the pages that need its records say so "
                              "(e.g. a database imported from month-end status files)")
            else:
                yield Finding(ERROR, t.name, "table is empty")
        for c, nulls in zip(required, counts[1:], strict=True):
            if nulls:
                yield Finding(ERROR, f"{t.name}.{c.name}", f"{nulls:,} rows are NULL; the contract requires a value")
    for (table, col), allowed in ALLOWED_VALUES.items():
        if table != t.name:
            continue
        values = conn.execute(sa.select(t.c[col]).distinct().limit(200)).scalars().all()
        bad = sorted({str(v) for v in values if v is not None and v not in allowed})
        if bad:
            keys = [k for k in t.primary_key.columns]
            sample = conn.execute(sa.select(*[sa.type_coerce(k, sa.String()) for k in keys])
                                  .where(t.c[col].in_(bad[:8])).limit(SAMPLE_KEYS)).all()
            where = "; ".join(", ".join(f"{k.name} {_shown(v)}" for k, v in zip(keys, row, strict=True))
                              for row in sample)
            yield Finding(ERROR, f"{table}.{col}", f"values outside the contract: {', '.join(_shown(b) for b in bad[:8])}"
                          f" (allowed: {', '.join(allowed)}; e.g. {where})")
    for table, col in MONEY_COLUMNS:
        if table == t.name:
            neg = conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c[col] < 0)).scalar_one()
            if neg:
                yield Finding(WARNING, f"{table}.{col}", f"{neg:,} negative amounts (reversals are not in the contract)")
    if t.name == "payments":
        tomorrow = dt.datetime.combine(dt.date.today() + dt.timedelta(days=2), dt.time())
        future = conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.paid_at >= tomorrow)).scalar_one()
        if future:
            yield Finding(WARNING, "payments.paid_at", f"{future:,} payments dated in the future: check the time zone")


def _write_access(conn: sa.Connection, kind: str) -> Iterator[Finding]:
    """Warn when the login could write: the dashboard should be given a SELECT-only user."""
    try:
        if kind == "postgresql":
            can = conn.execute(sa.text("SELECT has_table_privilege(current_user, 'cases', 'INSERT') "
                                       "OR has_table_privilege(current_user, 'cases', 'UPDATE')")).scalar_one()
        elif kind == "mysql":
            grants = " ".join(r[0] for r in conn.execute(sa.text("SHOW GRANTS FOR CURRENT_USER()")))
            can = any(p in grants.upper() for p in ("ALL PRIVILEGES", "INSERT", "UPDATE", "DELETE"))
        else:
            return
    except sa.exc.SQLAlchemyError:
        return
    if can:
        yield Finding(WARNING, "(login)", "this user may write the case database; the dashboard opens it read-only, "
                      "but give it a SELECT-only user")


def source_problems(engine: sa.Engine) -> list[str]:
    """Required tables and columns the case database lacks ("table" or "table.column")."""
    with engine.connect() as conn:
        return [f.where for f in structure(conn, backend(engine.url), indexes=False) if f.level == ERROR]


def check_source(engine: sa.Engine) -> None:
    """Raise SourceError naming every missing required table and column."""
    problems = source_problems(engine)
    if problems:
        tables = [p for p in problems if "." not in p]
        columns = [p for p in problems if "." in p]
        parts = ([f"required table{'s' if len(tables) > 1 else ''} missing: {', '.join(tables)}"] if tables else []) \
            + ([f"required column{'s' if len(columns) > 1 else ''} missing: {', '.join(columns)}"] if columns else [])
        raise SourceError("the case database does not match the data contract — " + "; ".join(parts)
                          + ". Run `collections-dashboard doctor` for details.")


def exit_code(findings: list[Finding]) -> int:
    """0 when nothing is in error, 1 otherwise."""
    return 1 if any(f.level == ERROR for f in findings) else 0
