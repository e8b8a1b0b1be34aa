"""Writing a whole case database (every contract table) to any SQLAlchemy URL, all or nothing.

Used by the demo generator and the month-end status importer. The target is checked before any work
(`open_target`), so a bad URL or an occupied database fails in a second; `Target.writer` then takes rows a
table part at a time (the generator streams month by month) and bulk-loads them (queries.source.load), and
leaves nothing half-written: SQLite is built in a temporary file and renamed, PostgreSQL loads in one
transaction, MySQL/MariaDB drops the tables it created when anything fails. Indexes are built at the end.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from queries.errors import UserError, describe
from queries.source.contract import MONEY, TABLES, metadata
from queries.source.engines import backend, writable_engine
from queries.source.load import (
    append_mysql,
    append_postgresql,
    append_sqlite,
    create_indexes,
    create_tables,
)

Progress = Callable[[str], None]
TABLE_BY_NAME = {t.name: t for t in TABLES}


def _dtype(col: sa.Column) -> pl.DataType:
    t = col.type
    if isinstance(t, sa.Boolean):
        return pl.Boolean()
    if isinstance(t, sa.DateTime):
        return pl.Datetime("us")
    if isinstance(t, sa.Date):
        return pl.Date()
    if isinstance(t, sa.Integer):
        return pl.Int64()
    return pl.String()


def empty_frame(table: sa.Table) -> pl.DataFrame:
    """A frame with no rows in the loaders' shape for `table` (money as `<name>_cents` Int64)."""
    schema = {}
    for col in table.columns:
        if isinstance(col.type, type(MONEY)):
            schema[f"{col.name}_cents"] = pl.Int64()
        else:
            schema[col.name] = _dtype(col)
    return pl.DataFrame(schema=schema)


@dataclass
class Target:
    """A checked database to write the case tables to (see open_target)."""

    url: sa.URL
    kind: str
    engine: sa.Engine
    sqlite_path: Path | None
    existing: list[str]
    error: type[UserError]

    @property
    def label(self) -> str:
        """The URL without its password."""
        return self.url.render_as_string(hide_password=True)

    def write(self, frames: dict[str, pl.DataFrame], progress: Progress | None = None) -> None:
        """Create every contract table and bulk-load `frames` into it (a missing frame: an empty table)."""
        with self.writer(progress) as sink:
            for t in TABLES:
                if t.name in frames:
                    sink.append(t.name, frames[t.name])

    @contextmanager
    def writer(self, progress: Progress | None = None) -> Iterator[Sink]:
        """Create every contract table and yield a Sink taking their rows in parts; on leaving, build the
        indexes and make the database visible (all or nothing)."""
        say = progress or (lambda _msg: None)
        opened = _sqlite_writer(self, say) if self.kind == "sqlite" else _server_writer(self, say)
        with opened as sink:
            yield sink
        for name, n in sink.rows.items():
            say(f"loaded {name}: {n:,} rows")

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _existing_case_tables(engine: sa.Engine) -> list[str]:
    names = set(sa.inspect(engine).get_table_names())
    return [t.name for t in TABLES if t.name in names]


def open_target(url: str, replace: bool = False, error: type[UserError] = UserError) -> Target:
    """Check that `url` can take a case database: a supported backend, a driver, a reachable server, a
    folder that exists, and no case tables already there unless `replace`. Raises `error` (one line)."""
    try:
        u = make_url(url)
        kind = backend(u)
    except Exception as exc:  # noqa: BLE001 - any parse error is the user's URL
        raise error(f"cannot read database URL '{url}': {exc}") from None
    if kind not in ("sqlite", "postgresql", "mysql"):
        raise error(f"unsupported database '{u.drivername}': use sqlite:///FILE, postgresql+psycopg://… "
                    "or mysql+pymysql://…")
    sqlite_path = Path(u.database) if kind == "sqlite" and u.database else None
    if kind == "sqlite" and sqlite_path is None:
        raise error("give SQLite a file path, e.g. sqlite:///data/demo.sqlite")
    if sqlite_path is not None and not sqlite_path.parent.exists():
        raise error(f"folder {sqlite_path.parent} does not exist: create it or choose another path")
    try:
        engine = writable_engine(str(u))
    except (ImportError, sa.exc.ArgumentError) as exc:
        raise error(f"no driver for '{u.drivername}' ({exc}); install it, e.g. pip install -e '.[postgres,mysql]'"
                    ) from None
    label = u.render_as_string(hide_password=True)
    try:
        try:
            # Connecting would create a missing SQLite file; a missing file has no tables anyway.
            existing = [] if sqlite_path is not None and not sqlite_path.exists() else _existing_case_tables(engine)
        except sa.exc.SQLAlchemyError as exc:
            raise error(f"cannot reach {label}: {describe(exc)}; check the URL and that the server is running"
                        ) from None
        if existing and not replace:
            raise error(f"{label} already holds case tables ({', '.join(existing)}); pass --replace to overwrite them")
        if sqlite_path is not None and sqlite_path.exists():
            others = set(sa.inspect(engine).get_table_names()) - {t.name for t in TABLES}
            if others:
                raise error(f"{sqlite_path} holds other tables too ({', '.join(sorted(others))}); "
                            "write the case database to its own file")
    except BaseException:
        engine.dispose()
        raise
    return Target(u, kind, engine, sqlite_path, existing, error)


@dataclass
class Sink:
    """Appends parts of the contract tables to a database being written, counting rows per table."""

    load: Callable[[sa.Table, pl.DataFrame], None]
    rows: dict[str, int] = field(default_factory=lambda: {t.name: 0 for t in TABLES})

    def append(self, name: str, df: pl.DataFrame) -> None:
        """Bulk-load `df` (loader shape: money as `<name>_cents`) at the end of table `name`."""
        if df.height:
            self.load(TABLE_BY_NAME[name], df)
        self.rows[name] += df.height


@contextmanager
def _sqlite_writer(target: Target, say: Progress) -> Iterator[Sink]:
    import adbc_driver_sqlite.dbapi as adbc

    path = target.sqlite_path
    assert path is not None
    target.engine.dispose()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        tmp_engine = sa.create_engine(f"sqlite:///{tmp}")
        with tmp_engine.begin() as conn:
            create_tables(conn)
        tmp_engine.dispose()
        with adbc.connect(str(tmp)) as conn:
            with conn.cursor() as cur:  # a private temporary file, renamed when complete: no journal needed
                cur.execute("PRAGMA journal_mode=OFF")
            yield Sink(lambda table, df: append_sqlite(conn, table, df))
            conn.commit()
        tmp_engine = sa.create_engine(f"sqlite:///{tmp}")
        with tmp_engine.begin() as conn:
            say("building indexes")
            # the file is private until renamed: no journal, no fsync; the index sorts on every core (SQLite's
            # multi-threaded sorter) with a 64 MB cache: 1M × 13 import 267 s → 237 s, peak unchanged (3.7 GiB;
            # with threads and a 256 MB cache the peak rose by 0.5 GiB)
            pragmas = ("journal_mode=OFF", "synchronous=OFF", "cache_size=-65536", f"threads={os.cpu_count() or 1}")
            for pragma in pragmas:
                conn.exec_driver_sql(f"PRAGMA {pragma}")
            create_indexes(conn)
        tmp_engine.dispose()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _server_writer(target: Target, say: Progress) -> Iterator[Sink]:
    engine, existing = target.engine, target.existing
    if target.kind == "postgresql":
        # DDL is transactional in PostgreSQL: drop, create, COPY and index commit together or not at all.
        with engine.begin() as conn:
            metadata.drop_all(conn, tables=[t for t in TABLES if t.name in existing])
            create_tables(conn)
            yield Sink(lambda table, df: append_postgresql(conn, table, df))
            say("building indexes")
            create_indexes(conn)
        return
    with engine.begin() as conn:
        metadata.drop_all(conn, tables=[t for t in TABLES if t.name in existing])
    try:
        with engine.begin() as conn:
            create_tables(conn)
        with engine.begin() as conn:
            yield Sink(lambda table, df: append_mysql(conn, table, df))
        with engine.begin() as conn:
            say("building indexes")
            create_indexes(conn)
    except BaseException:
        with engine.begin() as conn:
            metadata.drop_all(conn, tables=list(TABLES))
        raise
