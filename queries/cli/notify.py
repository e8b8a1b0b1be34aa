"""`collections-dashboard digest` and `alerts`: the daily digest and the exception alerts (queries.notify)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO

from queries.cli.report import _date, ensure_store
from queries.errors import (
    EXIT_FAILED,
    DashboardError,
    SourceError,
    UserError,
    describe,
    exit_code,
)
from queries.governance.access import NOTIFY_LANGS, ROLES
from queries.notify.config import load_channels
from queries.notify.run import FORMATS, Run, load_access_file
from queries.notify.run import alerts as run_alerts
from queries.notify.run import digest as run_digest
from queries.settings import Settings


class BadInput(UserError):
    """Bad command-line input; exit code 2 with this one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # noqa: D102 - raise instead of exiting
        raise BadInput(f"{message} (see '{self.prog} --help')")


def digest_parser() -> argparse.ArgumentParser:
    """The digest command's arguments."""
    p = _Parser(prog="collections-dashboard digest",
                description="Build the daily digest (日报) of one recipient, or of every subscriber, and print it "
                            "or send it to the channels of their subscription.")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--user", help="a user of the access file (default: every subscriber)")
    who.add_argument("--role", choices=ROLES, help="every user of this role (with --team: whose teams include it); "
                                                   "without an access file, a preview of that scope")
    p.add_argument("--team", help="with --role: the team")
    p.add_argument("--date", type=_date, help="the day reported on (default: yesterday)")
    p.add_argument("--lang", choices=NOTIFY_LANGS, help="language (default: the subscription's, else zh)")
    p.add_argument("--format", choices=FORMATS, default="html", help="what is printed (default html)")
    p.add_argument("--out", type=Path, help="write the digest here (a folder when there are several)")
    p.add_argument("--send", action="store_true", help="send to each recipient's subscribed channels")
    p.add_argument("--dry-run", action="store_true", help="build and list what would be sent; send nothing")
    return p


def alerts_parser() -> argparse.ArgumentParser:
    """The alerts command's arguments."""
    p = _Parser(prog="collections-dashboard alerts",
                description="Evaluate the alert rules on the analytics store and send what fires.")
    p.add_argument("--rules", type=Path, help="rules file (default: CASES_ALERTS_FILE or .streamlit/alerts.toml)")
    p.add_argument("--date", type=_date, help="the day reported on (default: yesterday)")
    p.add_argument("--dry-run", action="store_true", help="list what would fire; send and remember nothing")
    return p


def _run(settings: Settings, err: IO[str], out: IO[str], sync: bool = True) -> Run:
    store = ensure_store(settings, warn=err) if sync else ensure_store(settings, max_age=float("inf"), warn=err)
    return Run(settings, store, load_access_file(settings), load_channels(settings), out, err)


def main(command: str, argv: list[str], settings: Settings, *, out: IO[str] | None = None,
         err: IO[str] | None = None, sync: bool = True) -> int:
    """Run `digest` or `alerts`; 0 all delivered, 1 something waits or failed, 2 bad input, 3 stale store."""
    out, err = out or sys.stdout, err or sys.stderr
    parser = digest_parser() if command == "digest" else alerts_parser()
    if argv and argv[0] in ("-h", "--help"):
        out.write(parser.format_help())
        return 0
    try:
        args = parser.parse_args(argv)
        if command == "digest" and args.team and not args.role:
            raise BadInput("--team goes with --role (e.g. --role team_lead --team T01)")
    except BadInput as exc:
        err.write(f"error: {exc}\n")
        return exit_code(exc)
    try:
        run = _run(settings, err, out, sync)
    except UserError as exc:
        err.write(f"error: {exc}\n")
        return exit_code(exc)
    except (SourceError, OSError) as exc:
        err.write(f"error: cannot open the analytics store: {describe(exc)}\n")
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - a driver or data error: one line, not a traceback
        err.write(f"error: sync failed: {describe(exc)}\n")
        return EXIT_FAILED
    try:
        if command == "digest":
            return run_digest(run, user=args.user, role=args.role, team=args.team, day=args.date, lang=args.lang,
                              fmt=args.format, send=args.send, dry_run=args.dry_run, out_path=args.out)
        return run_alerts(run, rules_path=args.rules, day=args.date, dry_run=args.dry_run)
    except DashboardError as exc:
        err.write(f"error: {describe(exc)}\n")
        return exit_code(exc)
