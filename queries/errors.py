"""Every error meant for a person, under one root, and what each kind becomes: a notice, a banner, an exit code.

- `UserError`: the request is wrong (a filter, a command-line argument, a file the user wrote). The page
  shows a notice and a valid default view; the command line exits 2.
- `DataUnavailable`: the request is fine but the data it needs is not there (an optional table, no store
  yet). The page shows an explained empty state; the command line exits 1.
- `SourceError`: the case database cannot be reached or used. The page keeps serving the last good store
  with a banner; the command line exits 1.

A scheduled run (`digest`, `alerts`) that completed on a store older than its maximum age exits 3 (EXIT_STALE),
and its messages say so.

Anything else is a bug: it is logged whole and shown to a user as one line with an error id.
"""

from __future__ import annotations

import re

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
#: A scheduled command (digest, alerts) did its work on a store older than CASES_STORE_MAX_AGE_S.
EXIT_STALE = 3


class DashboardError(Exception):
    """Root of every error whose message is one line meant for a user."""


class UserError(DashboardError, ValueError):
    """Bad input from the user: a filter, an argument, a configuration file; exit code 2."""


class DataUnavailable(DashboardError):
    """The data a view needs is not in the source or the store (yet); exit code 1. `zh`: the same reason in Chinese
    for a Chinese page (the message itself is English, as the command line prints it)."""

    def __init__(self, message: str, *, zh: str | None = None) -> None:
        super().__init__(message)
        self.zh = zh

    def text(self, lang: str) -> str:
        """The reason in `lang` ('zh' or 'en')."""
        return self.zh if lang == "zh" and self.zh else str(self)


class SourceError(DashboardError):
    """The case database cannot be reached or is not usable; the message says what to do; exit code 1."""


class SourceDataError(SourceError):
    """Rows of the case database break the contract (a time that is not a time, a missing amount): the message
    names table, column and keys, and says to run `collections-dashboard doctor`."""


class SyncFailed(DashboardError):
    """A sync did not complete; the last good store stays in service. `reason` says which part failed:
    'source' (the case database), 'data' (bad rows in it), 'rules' (a bad house rule file), 'store' (the store
    cannot be written: disk full, read-only, permissions), 'killed' (the sync process died) or 'bug' (anything
    else, logged with an error id)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def exit_code(exc: BaseException) -> int:
    """The command-line exit code of an error: 2 for bad input, 1 otherwise."""
    return EXIT_BAD_INPUT if isinstance(exc, UserError) else EXIT_FAILED


def kind(exc: BaseException) -> str:
    """'user', 'unavailable', 'source', 'sync' or 'bug': how a page presents the error."""
    if isinstance(exc, UserError):
        return "user"
    if isinstance(exc, DataUnavailable):
        return "unavailable"
    if isinstance(exc, SourceError):
        return "source"
    if isinstance(exc, SyncFailed):
        return "sync"
    return "bug"


def error_id() -> str:
    """A short id to quote in a message and find in the server log."""
    import secrets

    return secrets.token_hex(4)


def sync_reason(exc: BaseException) -> str:
    """Which part of a sync failed, from the exception that stopped it (see SyncFailed)."""
    import sqlalchemy as sa

    if isinstance(exc, SyncFailed):
        return exc.reason
    if isinstance(exc, SourceDataError):
        return "data"
    if isinstance(exc, UserError):  # a bad house rule file (RulePackError)
        return "rules"
    if isinstance(exc, SourceError | sa.exc.SQLAlchemyError):
        return "source"
    if isinstance(exc, OSError):
        return "store"
    return "bug"


# A URL with credentials ("scheme://user:secret@host"), or "password=…" in a driver message.
_CREDENTIALS = re.compile(r"(?i)([a-z][a-z0-9+.\-]*://)[^\s'\"]*@|(password|passwd|pwd)\s*[=:]\s*\S+")


_SECRETS: set[str] = set()


def register_secret(secret: str | None) -> None:
    """A value (a database password) that must never appear in a message: describe() removes it."""
    if secret and len(secret) >= 3:
        _SECRETS.add(secret)


def describe(exc: BaseException) -> str:
    """One line for a user: the error's own message (a driver's first line), credentials removed."""
    msg = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    line = msg[0] if msg else exc.__class__.__name__
    line = _CREDENTIALS.sub(lambda m: (m.group(1) + "…@") if m.group(1) else f"{m.group(2)}=…", line)
    for secret in sorted(_SECRETS, key=len, reverse=True):
        line = line.replace(secret, "…")
    return line
