"""Engines for the case database: read-only for the dashboard, writable only for the demo generator."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from queries.errors import SourceError, register_secret
from queries.settings import variable


class ReadOnlyViolation(SourceError):
    """Something tried to write through the dashboard's read-only engine."""


# Statements the dashboard may send: reads, and the session settings drivers issue on connect.
_READ_VERBS = frozenset({"select", "with", "show", "explain", "describe", "desc", "pragma", "set", "rollback",
                         "begin", "commit"})
_WRITE_SETTINGS = ("read write", "read_only=off", "read_only = off", "read_only to off", "read_only=0")


def _guard_reads(engine: sa.Engine) -> sa.Engine:
    """Refuse any statement but a read before it reaches the database (a second line behind the session)."""

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _only_reads(_conn, _cursor, statement, _params, _context, _many):  # noqa: ANN001, ANN202
        text = statement.lstrip().lower()
        verb = text.split(None, 1)[0] if text else ""
        if verb not in _READ_VERBS or (verb == "set" and any(w in text for w in _WRITE_SETTINGS)) or (
                verb == "pragma" and "=" in text and "query_only" not in text):
            raise ReadOnlyViolation(f"refused to send '{verb.upper()}' through the read-only engine")

    _log_statements(engine)
    return engine


def _log_statements(engine: sa.Engine) -> None:
    """With CASES_QUERY_LOG set, append one line per statement sent to the source (load tests count them)."""
    path = variable("CASES_QUERY_LOG")
    if not path:
        return

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _log(_conn, _cursor, statement, _params, _context, _many):  # noqa: ANN001, ANN202
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
        with open(path, "a", encoding="utf-8") as fh:  # O_APPEND: whole lines from concurrent threads
            fh.write(f"{time.time():.3f}\t{verb}\n")


def backend(url: str | sa.URL) -> str:
    """'sqlite', 'postgresql' or 'mysql' for a SQLAlchemy URL."""
    name = make_url(str(url)).get_backend_name() if isinstance(url, str) else url.get_backend_name()
    if name in ("mysql", "mariadb"):
        return "mysql"
    return name


def _sqlite_path(url: sa.URL) -> Path | None:
    db = url.database
    return None if not db or db == ":memory:" else Path(db)


def checked_url(url: str) -> sa.URL:
    """The parsed URL, its password registered as a secret; SourceError for a URL whose password would be read
    as part of the host (an unencoded '@'), which drivers then echo in their messages."""
    raw = str(url)
    netloc = raw.split("://", 1)[1].split("/", 1)[0] if "://" in raw else ""
    userinfo = netloc.rpartition("@")[0]
    if userinfo:
        register_secret(userinfo.partition(":")[2])
        if "@" in userinfo:
            raise SourceError("the case database URL has an unencoded '@' in the password (percent-encode special "
                              "characters: @ → %40, : → %3A, / → %2F) — check CASES_DB_URL or [connections.cases] url")
    try:
        u = make_url(raw)
    except Exception as exc:  # noqa: BLE001 - any parse error: name the setting, never echo the URL
        raise SourceError("the case database URL cannot be read: check CASES_DB_URL or [connections.cases] url "
                          f"({type(exc).__name__})") from None
    register_secret(u.password)
    return u


def read_only_engine(url: str) -> sa.Engine:
    """An engine that cannot write: SQLite mode=ro, PostgreSQL/MySQL read-only transactions."""
    try:
        return _read_only_engine(checked_url(url))
    except ImportError as exc:  # the driver package is not installed
        raise SourceError(f"no database driver for '{make_url(url).drivername}' ({exc.name or exc}); install "
                          "it, e.g. pip install -e '.[postgres]' or '.[mysql]'") from None


def _read_only_engine(u: sa.URL) -> sa.Engine:
    kind = backend(u)
    if kind == "sqlite":
        path = _sqlite_path(u)
        if path is None:
            raise SourceError("An in-memory SQLite database cannot be opened read-only; give a file path.")
        if not path.exists():
            raise SourceError(f"SQLite database file not found: {path}")
        uri = f"file:{path.resolve()}?mode=ro"
        return _guard_reads(sa.create_engine("sqlite://", creator=lambda: _sqlite_ro_connect(uri)))
    if kind == "postgresql":
        return _guard_reads(sa.create_engine(
            u, pool_pre_ping=True,
            connect_args={"options": "-c default_transaction_read_only=on", "connect_timeout": 5},
        ))
    if kind == "mysql":
        engine = sa.create_engine(u, pool_pre_ping=True, connect_args={"connect_timeout": 5})

        @sa.event.listens_for(engine, "connect")
        def _read_only(dbapi_conn, _record):  # noqa: ANN001 - DB-API connection
            with dbapi_conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION READ ONLY")

        return _guard_reads(engine)
    raise SourceError(f"Unsupported database '{u.drivername}': use SQLite, PostgreSQL or MySQL/MariaDB.")


def _sqlite_ro_connect(uri: str):  # noqa: ANN202 - sqlite3.Connection
    import sqlite3

    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def writable_engine(url: str) -> sa.Engine:
    """A normal engine, used only by the demo generator and tests."""
    u = checked_url(url)
    kind = backend(u)
    if kind == "postgresql":
        return sa.create_engine(u, connect_args={"connect_timeout": 5})
    if kind == "mysql":
        return sa.create_engine(u, connect_args={"connect_timeout": 5, "local_infile": True})
    if kind == "sqlite":
        return sa.create_engine(u)
    raise SourceError(f"Unsupported database '{u.drivername}': use SQLite, PostgreSQL or MySQL/MariaDB.")
