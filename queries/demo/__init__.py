"""Seeded generator of a realistic demo case database (docs/design.md §3), for any SQLAlchemy URL."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from queries.demo.load import (
    create_indexes,
    create_tables,
    load_mysql,
    load_postgresql,
    load_sqlite,
)
from queries.demo.simulate import Portfolio, Scale, simulate
from queries.errors import UserError, describe
from queries.source.contract import TABLES, metadata
from queries.source.engines import backend, writable_engine

SCALES: dict[str, Scale] = {
    "demo": Scale("demo", cases=20_000, teams=8, agency_teams=2, agents=60),
    "bank": Scale("bank", cases=1_000_000, teams=40, agency_teams=10, agents=500),
}

__all__ = ["SCALES", "DemoError", "Scale", "build_demo_database", "generate"]


class DemoError(UserError):
    """A demo database cannot be written; the message says what is wrong and what to do."""


def _resolve_scale(scale: str | Scale) -> Scale:
    if isinstance(scale, Scale):
        return scale
    try:
        return SCALES[scale]
    except KeyError:
        raise DemoError(f"unknown scale '{scale}': use one of {', '.join(SCALES)}") from None


def generate(scale: str | Scale = "demo", seed: int = 7, as_of: dt.date | None = None) -> Portfolio:
    """Simulate the centre in memory and return every contract table as a Polars frame."""
    return simulate(_resolve_scale(scale), seed, as_of or dt.date.today())


def _existing_case_tables(engine: sa.Engine) -> list[str]:
    names = set(sa.inspect(engine).get_table_names())
    return [t.name for t in TABLES if t.name in names]


def build_demo_database(url: str, scale: str | Scale = "demo", seed: int = 7, as_of: dt.date | None = None,
                        replace: bool = False, progress: Callable[[str], None] | None = None) -> dict:
    """Write a complete, deterministic demo case database to `url`; return row counts and timings.

    Refuses a database that already holds case tables unless `replace`; on failure leaves nothing
    half-written (SQLite: built in a temporary file and renamed; PostgreSQL: one transaction;
    MySQL: the tables it created are dropped).
    """
    say = progress or (lambda _msg: None)
    sc = _resolve_scale(scale)
    as_of = as_of or dt.date.today()
    try:
        u = make_url(url)
        kind = backend(u)
    except Exception as exc:  # noqa: BLE001 - any parse error is the user's URL
        raise DemoError(f"cannot read database URL '{url}': {exc}") from None
    if kind not in ("sqlite", "postgresql", "mysql"):
        raise DemoError(f"unsupported database '{u.drivername}': use sqlite:///FILE, postgresql+psycopg://… "
                        "or mysql+pymysql://…")
    sqlite_path = Path(u.database) if kind == "sqlite" and u.database else None
    if kind == "sqlite" and sqlite_path is None:
        raise DemoError("give SQLite a file path, e.g. sqlite:///data/demo.sqlite")
    if sqlite_path is not None and not sqlite_path.parent.exists():
        raise DemoError(f"folder {sqlite_path.parent} does not exist: create it or choose another path")

    try:
        engine = writable_engine(str(u))
    except (ImportError, sa.exc.ArgumentError) as exc:
        raise DemoError(f"no driver for '{u.drivername}' ({exc}); install it, e.g. pip install -e '.[postgres,mysql]'"
                        ) from None
    try:
        try:
            # Connecting would create a missing SQLite file; a missing file has no tables anyway.
            existing = [] if sqlite_path is not None and not sqlite_path.exists() else _existing_case_tables(engine)
        except sa.exc.SQLAlchemyError as exc:
            raise DemoError(f"cannot reach {u.render_as_string(hide_password=True)}: {describe(exc)}; "
                            "check the URL and that the server is running") from None
        if existing and not replace:
            raise DemoError(f"{u.render_as_string(hide_password=True)} already holds case tables "
                            f"({', '.join(existing)}); pass --replace to overwrite them")
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        say(f"simulating {sc.name} scale: {sc.cases:,} cases, {sc.agents} agents, {sc.months} months to {as_of}")
        portfolio = simulate(sc, seed, as_of)
        timings["simulate_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        if kind == "sqlite":
            _write_sqlite(engine, sqlite_path, existing, portfolio, say)
        else:
            _write_server(engine, kind, existing, portfolio, say)
        timings["load_s"] = time.perf_counter() - t1
        timings["total_s"] = time.perf_counter() - t0
    finally:
        engine.dispose()
    rows = {name: df.height for name, df in portfolio.tables.items()}
    say(f"done in {timings['total_s']:.1f} s")
    return {"url": u.render_as_string(hide_password=True), "scale": sc.name, "seed": seed,
            "as_of": as_of.isoformat(), "rows": rows, **timings}


def _write_sqlite(engine: sa.Engine, path: Path, existing: list[str], portfolio: Portfolio,
                  say: Callable[[str], None]) -> None:
    others = (set(sa.inspect(engine).get_table_names()) - {t.name for t in TABLES}) if path.exists() else set()
    engine.dispose()
    if others:
        raise DemoError(f"{path} holds other tables too ({', '.join(sorted(others))}); "
                        "write the demo to its own file")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        tmp_engine = sa.create_engine(f"sqlite:///{tmp}")
        with tmp_engine.begin() as conn:
            create_tables(conn)
        tmp_engine.dispose()
        load_sqlite(tmp, portfolio.tables, say)
        tmp_engine = sa.create_engine(f"sqlite:///{tmp}")
        with tmp_engine.begin() as conn:
            say("building indexes")
            create_indexes(conn)
        tmp_engine.dispose()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_server(engine: sa.Engine, kind: str, existing: list[str], portfolio: Portfolio,
                  say: Callable[[str], None]) -> None:
    if kind == "postgresql":
        # DDL is transactional in PostgreSQL: drop, create, COPY and index commit together or not at all.
        with engine.begin() as conn:
            metadata.drop_all(conn, tables=[t for t in TABLES if t.name in existing])
            create_tables(conn)
            load_postgresql(conn, portfolio.tables, say)
            say("building indexes")
            create_indexes(conn)
        return
    with engine.begin() as conn:
        metadata.drop_all(conn, tables=[t for t in TABLES if t.name in existing])
    try:
        with engine.begin() as conn:
            create_tables(conn)
        with engine.begin() as conn:
            load_mysql(conn, portfolio.tables, say)
        with engine.begin() as conn:
            say("building indexes")
            create_indexes(conn)
    except BaseException:
        with engine.begin() as conn:
            metadata.drop_all(conn, tables=list(TABLES))
        raise
