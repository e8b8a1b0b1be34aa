"""`collections-dashboard report`: the pages' numbers as JSON or CSV for scripts and monthly MIS work."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import getpass
import io
import json
import math
import sys
from typing import IO

import polars as pl

from queries.compliance.rules import CONTACT_CHECKS
from queries.errors import DashboardError, SourceError, UserError, describe, exit_code
from queries.filters import FULL_SCOPE, FilterError, Filters, Scope, apply
from queries.governance.access import AccessError, load_access
from queries.governance.audit import filters_record, record
from queries.metrics.registry import METRICS, Metric
from queries.settings import Settings
from queries.store import Store, StoreMissing
from queries.views.scoped import metric as scoped_metric

INT_EXTRAS = {"payments", "pending", "attempts", "regulator_12378", "elapsed_days", "working_days"}
MONEY_EXTRAS = {"due_amount", "low", "high", "naive", "pipeline", "target"}


class BadInput(UserError):
    """Bad command-line input; exit code 2 with this one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # noqa: D102 - raise instead of exiting
        raise BadInput(message)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The report command's arguments (also used by queries.cli for --help)."""
    p = _Parser(prog="collections-dashboard report", description="Print one metric from the analytics store.")
    p.add_argument("metric", help="one of: " + ", ".join(METRICS))
    p.add_argument("--start", type=_date, required=True)
    p.add_argument("--end", type=_date, required=True)
    p.add_argument("--by", default="", help="comma-separated dimensions, e.g. month,team_id")
    p.add_argument("--team", action="append", default=[])
    p.add_argument("--agent", action="append", default=[])
    p.add_argument("--bucket", action="append", default=[])
    p.add_argument("--product", action="append", default=[])
    p.add_argument("--region", action="append", default=[])
    p.add_argument("--channel", choices=("in_house", "agency"))
    p.add_argument("--snapshot", type=_date)
    p.add_argument("--basis", choices=("balance", "count"), default="balance")
    p.add_argument("--check", action="append", default=[],
                   help="breaches only: a compliance check (" + ", ".join(CONTACT_CHECKS) + "); repeat for several")
    p.add_argument("--format", choices=("json", "csv"), default="json")
    p.add_argument("--user", help="who is asking (e-mail in the access file); required when an access file is "
                                  "configured, and the report then covers only that user's teams")
    return p


def ensure_store(settings: Settings, max_age: float | None = None, warn: IO[str] | None = None) -> Store:
    """Open the store, syncing first when it is missing or older than max_age seconds.

    When the sync fails but an older store exists, that store is used and one warning line is written.
    """
    max_age = settings.store_max_age_s if max_age is None else max_age
    store = None
    try:
        store = Store.open(settings.store_dir, cache_mb=settings.store_cache_mb)
        if store.age_seconds() <= max_age:
            return store
    except StoreMissing:
        pass
    from queries.sync import run_sync

    try:
        run_sync(settings, settings.store_dir, full=False)
    except Exception as exc:
        if store is None or isinstance(exc, UserError):  # a bad house rule file is the user's to fix: exit 2
            raise
        (warn or sys.stderr).write(f"warning: sync failed ({describe(exc)}); "
                                   f"using the store synced at {store.synced_at:%Y-%m-%d %H:%M}\n")
        return store
    return Store.open(settings.store_dir, cache_mb=settings.store_cache_mb)


def parse(args: argparse.Namespace, store: Store) -> tuple[Metric, Filters, tuple[str, ...], dict, str]:
    """Parsed arguments → (metric, validated Filters, dims, options, format); BadInput on any bad value."""
    if args.metric not in METRICS:
        raise BadInput(f"unknown metric {args.metric!r}; use one of {', '.join(METRICS)}")
    metric = METRICS[args.metric]
    by = tuple(d.strip() for d in args.by.split(",") if d.strip())
    for d in by:
        if d not in metric.dims:
            raise BadInput(f"{metric.key} cannot be broken down by {d!r}; use one of {', '.join(metric.dims)}")
    teams = set(store.frame("teams").get_column("team_id").to_list())
    for t in args.team:
        if t not in teams:
            raise BadInput(f"unknown team {t!r}")
    agents = set(store.frame("agents").get_column("agent_id").to_list())
    for a in args.agent:
        if a not in agents:
            raise BadInput(f"unknown agent {a!r}")
    if args.snapshot is not None and args.snapshot not in store.snapshots:
        near = ", ".join(d.isoformat() for d in store.snapshots[-3:]) or "none"
        raise BadInput(f"--snapshot {args.snapshot} is not a snapshot date (latest: {near})")
    try:
        filters = Filters(args.start, args.end, teams=tuple(args.team), agents=tuple(args.agent),
                          buckets=tuple(args.bucket), products=tuple(args.product),
                          regions=tuple(args.region), channel=args.channel).validate(store.bounds)
    except FilterError as exc:
        raise BadInput(str(exc)) from None
    options: dict = {"snapshot": args.snapshot, "basis": args.basis}
    if args.check:
        if "checks" not in metric.options:
            raise BadInput(f"--check applies to the breaches metric, not {metric.key}")
        bad = [c for c in args.check if c not in CONTACT_CHECKS]
        if bad:
            raise BadInput(f"unknown check {bad[0]!r}; use one of {', '.join(CONTACT_CHECKS)}")
        options["checks"] = tuple(args.check)
    return metric, filters, by, options, args.format


def resolve_scope(settings: Settings, user: str | None) -> Scope:
    """The scope of --user from the access file; every team without an access file (and without --user)."""
    if settings.access_file is None:
        if user:
            raise BadInput("--user needs an access file (CASES_ACCESS_FILE or .streamlit/access.toml)")
        return FULL_SCOPE
    try:
        access = load_access(settings.access_file)
    except AccessError as exc:
        raise BadInput(str(exc)) from None
    if not user:
        raise BadInput("--user EMAIL is required: an access file is configured")
    scope = access.scope_for(user)
    if scope is None:
        raise BadInput(f"user {user!r} is not in the access file")
    return scope


def check_scope(scope: Scope, filters: Filters) -> None:
    """BadInput when --team asks for a team outside the user's scope (the scope is applied in any case)."""
    if scope.teams is None:
        return
    outside = [t for t in filters.teams if t not in scope.teams]
    if outside:
        raise BadInput(f"team {outside[0]!r} is outside your scope ({', '.join(sorted(scope.teams))})")


def _round(v: object, digits: int) -> object:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return round(float(v), digits)


def to_records(metric: Metric, df: pl.DataFrame, basis: str = "balance") -> list[dict]:
    """Rows with dates as ISO strings, money rounded to 2 decimals, rates to 6, counts as ints."""
    money_num = metric.money_numerator and not (basis == "count")
    out = []
    for row in df.iter_rows(named=True):
        rec = {}
        for k, v in row.items():
            if isinstance(v, dt.date):
                rec[k] = v.isoformat()
            elif k in ("numerator", "denominator"):
                rec[k] = _round(v, 2) if money_num else (None if v is None else int(round(v)))
            elif k == "value" and metric.unit in ("money", "count"):
                rec[k] = _round(v, 2) if money_num else (None if v is None else int(round(v)))
            elif k == "value":
                rec[k] = _round(v, 6)
            elif k in INT_EXTRAS:
                rec[k] = None if v is None else int(round(v))
            elif k in MONEY_EXTRAS:
                rec[k] = _round(v, 2)
            elif isinstance(v, float):
                rec[k] = _round(v, 6)
            else:
                rec[k] = v
        out.append(rec)
    return out


def render(metric: Metric, df: pl.DataFrame, fmt: str, basis: str = "balance") -> str:
    """The report text: JSON {"metric", "rows"} or CSV with a header."""
    records = to_records(metric, df, basis)
    if fmt == "json":
        return json.dumps({"metric": metric.key, "rows": records}, ensure_ascii=False)
    buf = io.StringIO()
    cols = df.columns
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in records:
        w.writerow(["" if r.get(c) is None else r.get(c) for c in cols])
    return buf.getvalue().rstrip("\n")


def main(argv: list[str], settings: Settings, *, out: IO[str] | None = None,
         err: IO[str] | None = None) -> int:
    """Run the report command; 0 on success, 2 on bad input, 1 when the data cannot be had."""
    out = out or sys.stdout
    err = err or sys.stderr
    if argv and argv[0] in ("-h", "--help"):
        out.write(build_parser().format_help())
        return 0
    try:
        args = build_parser().parse_args(argv)
    except BadInput as exc:
        err.write(f"error: {exc}\n")
        return exit_code(exc)
    try:
        store = ensure_store(settings, warn=err)
    except (SourceError, OSError) as exc:
        err.write(f"error: cannot build the analytics store: {describe(exc)}\n")
        return 1
    except UserError as exc:  # a bad house rule file: one line naming file, rule and key
        err.write(f"error: {exc}\n")
        return exit_code(exc)
    except Exception as exc:  # noqa: BLE001 - a driver or data error: one line, not a traceback
        err.write(f"error: sync failed: {describe(exc)}\n")
        return 1
    try:
        scope = resolve_scope(settings, args.user)
        metric, filters, by, options, fmt = parse(args, store)
        check_scope(scope, filters)
        df = scoped_metric(store, scope, metric.key, filters, by, **options)
        # audited like a page view; an entry that cannot be written means no report (fail closed)
        record(settings.store_dir, user=args.user.strip().lower() if args.user else f"cli:{getpass.getuser()}",
               role=scope.role, action="report", page=f"report:{metric.key}",
               filters=filters_record(apply(scope, filters)), rows=df.height,
               detail={"by": list(by), "format": fmt})
    except DashboardError as exc:
        err.write(f"error: {exc}\n")
        return exit_code(exc)
    out.write(render(metric, df, fmt, options["basis"]) + "\n")
    return 0
