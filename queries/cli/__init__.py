"""`collections-dashboard` command line: run the dashboard, build a demo database, import status files, sync,
doctor, report, digest, alerts.

Every error meant for a person (queries.errors) is printed as one line; the exit code comes from its kind
(errors.exit_code: 2 for bad input, 1 otherwise).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import os
import sys
from collections.abc import Iterator, Sequence

from queries.errors import DashboardError, UserError, describe, exit_code
from queries.settings import PROJECT_ROOT, Settings, load_settings, with_sync_environment


class CliError(UserError):
    """Bad input or an unusable environment: printed as one line, exit code 2."""


def _fail(exc: BaseException) -> int:
    print(f"collections-dashboard: error: {describe(exc)}", file=sys.stderr)
    return exit_code(exc)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CliError(f"'{text}' is not a date: use YYYY-MM-DD") from None


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{message} (see '{self.prog} --help')")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="collections-dashboard", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    sub.add_parser("run", help="start the dashboard (the default); further arguments go to streamlit, "
                   "e.g. run --server.port 8080")
    demo = sub.add_parser("demo-db", help="write a realistic demo case database to any SQLAlchemy URL")
    demo.add_argument("--url", required=True, help="e.g. sqlite:///data/demo.sqlite, postgresql+psycopg://…")
    demo.add_argument("--scale", default=None, help="demo (~20,000 cases, the default) or bank (1,000,000 cases)")
    demo.add_argument("--cases", default=None, help="any number of cases instead of a named scale (teams and "
                      "agents in the bank scale's ratios), e.g. --cases 5000000")
    demo.add_argument("--seed", default=None, help="random seed; same seed and as-of, same data (default: the "
                      "embedded demo's)")
    demo.add_argument("--as-of", default=None, help="last day of history, YYYY-MM-DD (default: today)")
    demo.add_argument("--replace", action="store_true", help="overwrite existing case tables")
    imp = sub.add_parser("import-status", help="write a case database from month-end account status files "
                         "(CSV or Excel) and a mapping file (docs/import-status.md)")
    imp.add_argument("files", nargs="+", metavar="FILE", help="month-end status files (CSV or Excel)")
    imp.add_argument("--url", required=True, help="e.g. sqlite:///data/uci.sqlite, postgresql+psycopg://…")
    imp.add_argument("--mapping", required=True, help="the mapping file (TOML), e.g. docs/examples/uci-mapping.toml")
    imp.add_argument("--replace", action="store_true", help="overwrite existing case tables")
    imp.add_argument("--max-bad-rows", default="0", help="import without up to N rows that cannot be read "
                     "(default 0: refuse at the first)")
    imp.add_argument("--json", action="store_true", help="print the summary as JSON")
    sync = sub.add_parser("sync", help="refresh the analytics store from the case database "
                          "(exit 1 when it does not reconcile)")
    sync.add_argument("--full", action="store_true", help="rebuild the store from scratch")
    sync.add_argument("--alerts", action="store_true", help="evaluate the alert rules right after a good sync")
    doctor = sub.add_parser("doctor", help="check a case database against the data contract")
    doctor.add_argument("--url", default=None, help="database to check (default: the configured one)")
    sub.add_parser("report", help="print a metric as JSON or CSV (see 'report --help')", add_help=False)
    sub.add_parser("digest", help="build or send the daily digest (see 'digest --help')", add_help=False)
    sub.add_parser("alerts", help="evaluate the alert rules and send what fires (see 'alerts --help')",
                   add_help=False)
    return p


def _demo_db(args: argparse.Namespace) -> int:
    from queries.demo import SCALES, Scale, build_demo_database, scale_for_cases
    from queries.demo.embedded import DEMO_SEED

    scale: str | Scale = args.scale or "demo"
    if args.cases is not None:
        if args.scale is not None:
            raise CliError("give --scale or --cases, not both")
        try:
            cases = int(args.cases.replace(",", "").replace("_", ""))
        except ValueError:
            raise CliError(f"--cases must be a whole number, not '{args.cases}'") from None
        scale = scale_for_cases(cases)
    elif scale not in SCALES:
        raise CliError(f"unknown scale '{scale}': use one of {', '.join(SCALES)}")
    try:
        seed = DEMO_SEED if args.seed is None else int(args.seed)
    except ValueError:
        raise CliError(f"--seed must be a whole number, not '{args.seed}'") from None
    as_of = _date(args.as_of) if args.as_of else None
    result = build_demo_database(args.url, scale, seed, as_of, replace=args.replace,
                                 progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _import_status(args: argparse.Namespace, settings: Settings) -> int:
    from queries.importer import import_status

    try:
        max_bad = int(args.max_bad_rows)
    except ValueError:
        raise CliError(f"--max-bad-rows must be a whole number, not '{args.max_bad_rows}'") from None
    summary = import_status(args.files, args.url, args.mapping, replace=args.replace, max_bad_rows=max_bad,
                            progress=lambda m: print(m, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(summary.to_json(), ensure_ascii=False, default=str))
        return 0
    print(summary.text())
    print(f"\nopen the dashboard on it: CASES_DB_URL='{summary.url}' collections-dashboard")
    if args.replace and settings.db_url and settings.db_url == args.url:
        print("this is the configured database: rebuild its store with 'collections-dashboard sync --full'")
    return 0


@contextlib.contextmanager
def _imports_without_gc(module: str) -> Iterator[None]:
    """Imports with the cyclic garbage collector paused, their objects then frozen out of its later passes: Polars,
    SQLAlchemy and NumPy create ~10^5 objects that it would otherwise walk again and again (a new day's sync:
    0.05–0.08 s of ~2.2 s). The objects made after it are collected as usual. Nothing is done when `module` is
    loaded already (a process that calls the command again: its garbage is not frozen)."""
    if module in sys.modules:
        yield
        return
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was:
            gc.enable()


def _sync(args: argparse.Namespace, settings: Settings) -> int:
    with_sync_environment(os.environ)  # before Polars and NumPy are loaded: they read it once
    with _imports_without_gc("queries.sync.child"):
        from queries.errors import SyncFailed, error_id
        from queries.sync.child import failure, safe_sync

    if settings.is_demo:  # the demo generator is imported only when it is needed
        from queries.demo.embedded import ensure_demo_database

        ensure_demo_database(settings)
    try:
        result, notes = safe_sync(settings, settings.store_dir, full=args.full)
    except Exception as exc:  # noqa: BLE001 - every failure is one line; the previous store stays
        eid = error_id()
        reason, line = failure(exc, eid)
        if reason == "bug":
            _log_traceback(settings, eid)
        if reason in ("source", "data", "rules"):  # the configured database or rule files are not usable as they are
            raise CliError(f"{line}; the previous store, if any, is unchanged") from None
        raise SyncFailed(reason, f"sync failed: {line}; the previous store, if any, is unchanged") from None
    for note in notes:
        print(f"note: {note}")
    print(result.summary())
    for m in result.reconciliation.get("mismatches", [])[:20]:
        print(f"  mismatch: {m}")
    if not result.ok:
        return 1
    if args.alerts:
        from queries.cli.notify import main as notify_main

        return notify_main("alerts", [], settings, sync=False)
    return 0


def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    import sqlalchemy as sa

    from queries.errors import SourceError
    from queries.source.doctor import OK, check
    from queries.source.doctor import exit_code as doctor_exit
    from queries.source.engines import read_only_engine

    url = args.url or settings.source_url
    try:
        engine = read_only_engine(url)
        findings = check(engine, progress=lambda m: print(f"  {m} …", file=sys.stderr, flush=True))
    except SourceError as exc:
        raise CliError(describe(exc)) from None
    except (sa.exc.SQLAlchemyError, ImportError) as exc:
        raise CliError(f"cannot check {url.split('@')[-1]}: {describe(exc)}") from None
    for f in findings:
        print(f.line())
    errors = sum(f.level == "ERROR" for f in findings)
    warnings = sum(f.level == "WARNING" for f in findings)
    print(f"{OK if not errors else 'FAILED'}: {errors} errors, {warnings} warnings")
    return doctor_exit(findings)


def _run(streamlit_args: list[str], settings: Settings) -> int:
    app = PROJECT_ROOT / "streamlit_app.py"
    if not app.exists():
        raise CliError(f"{app} not found: install the project from its checkout with 'pip install -e .'")
    env = dict(os.environ)
    env["CASES_DATA_DIR"] = str(settings.data_dir.resolve())
    env["CASES_STORE_DIR"] = str(settings.store_dir.resolve())
    if settings.is_demo:
        from queries.demo.embedded import ensure_demo_database

        ensure_demo_database(settings)
    else:
        env["CASES_DB_URL"] = settings.db_url or ""
    extra = [a for a in streamlit_args if a != "--"]
    # `streamlit run` with a warm-up of the store and the page modules beside the server's start (dashboard.serve).
    # The server replaces this process (exec), so a service manager's SIGTERM reaches it: a child would be orphaned
    # and keep serving when only the command is stopped.
    cmd = [sys.executable, "-m", "dashboard.serve", *extra]
    os.chdir(PROJECT_ROOT)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, cmd, env)


def _log_traceback(settings: Settings | None, eid: str) -> str:
    """Write the current exception's traceback to <data dir>/logs/cli-errors.log; the file's path."""
    import traceback

    folder = (settings.data_dir if settings else PROJECT_ROOT / "data") / "logs"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "cli-errors.log"
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"--- {dt.datetime.now().isoformat(timespec='seconds')} error id {eid}\n")
            traceback.print_exc(file=fh)
        return str(path)
    except OSError:
        return "(no log: the data folder cannot be written)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    settings = None
    try:
        settings = load_settings()
        if argv and argv[0] == "report":
            from queries.cli.report import main as report_main

            return report_main(argv[1:], settings)
        if argv and argv[0] in ("digest", "alerts"):
            from queries.cli.notify import main as notify_main

            return notify_main(argv[0], argv[1:], settings)
        if not argv or argv[0] == "run":
            if argv[1:2] in (["-h"], ["--help"]):
                _parser().parse_args(["--help"])
            return _run(argv[1:], settings)
        args = _parser().parse_args(argv)
        if args.command == "demo-db":
            return _demo_db(args)
        if args.command == "import-status":
            return _import_status(args, settings)
        if args.command == "doctor":
            return _doctor(args, settings)
        if args.command == "sync":
            return _sync(args, settings)
        return _run([], settings)
    except DashboardError as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - never a traceback: one line, the details in a log file
        from queries.errors import error_id

        eid = error_id()
        where = _log_traceback(settings, eid)
        print(f"collections-dashboard: error: {type(exc).__name__}: {describe(exc)} (error id {eid}; "
              f"details in {where})", file=sys.stderr)
        return 1


