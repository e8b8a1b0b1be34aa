"""Bulk-load case tables (Polars frames, money as integer cents) into SQLite (ADBC), PostgreSQL (COPY)
or MySQL/MariaDB (LOAD DATA)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator

import polars as pl
import sqlalchemy as sa

from queries.source.contract import OPTIONAL_COLUMNS, TABLES

CHUNK_ROWS = 1_000_000
Progress = Callable[[str], None]


def _money(col: str) -> pl.Expr:
    """Integer cents to an exact decimal string, e.g. 1234567 -> '12345.67'."""
    c = pl.col(col)
    return ((c // 100).cast(pl.String) + "." + (c % 100).cast(pl.String).str.zfill(2))


def to_wire(df: pl.DataFrame, table: sa.Table, kind: str) -> pl.DataFrame:
    """Columns in contract order, typed as text the target database parses exactly."""
    exprs = []
    for col in table.columns:
        name = col.name
        if f"{name}_cents" in df.columns:
            exprs.append(_money(f"{name}_cents").alias(name))
            continue
        if name not in df.columns and name in OPTIONAL_COLUMNS.get(table.name, ()):
            null_type = pl.Int8 if isinstance(col.type, sa.Boolean) and kind in ("mysql", "sqlite") else (
                pl.Boolean if isinstance(col.type, sa.Boolean) else pl.String)
            exprs.append(pl.lit(None, null_type).alias(name))  # an optional column the frames do not have
            continue
        dtype = df.schema[name]
        e = pl.col(name)
        if dtype == pl.Datetime:
            # SQLAlchemy's SQLite dialect stores and compares microsecond text; match it exactly.
            fmt = "%Y-%m-%d %H:%M:%S.%6f" if kind == "sqlite" else "%Y-%m-%d %H:%M:%S"
            e = e.dt.strftime(fmt)
        elif dtype == pl.Date:
            e = e.dt.strftime("%Y-%m-%d")
        elif isinstance(dtype, pl.Enum | pl.Categorical):
            e = e.cast(pl.String)
        elif dtype == pl.Boolean:
            e = e.cast(pl.Int8) if kind in ("mysql", "sqlite") else e
        exprs.append(e.alias(name))
    return df.select(exprs)


def create_tables(conn: sa.Connection, tables: tuple[sa.Table, ...] = TABLES) -> None:
    """Create the contract tables without secondary indexes (built after the load, faster)."""
    for t in tables:
        conn.execute(sa.schema.CreateTable(t))


def create_indexes(conn: sa.Connection, tables: tuple[sa.Table, ...] = TABLES) -> None:
    """Build every secondary index of the contract."""
    for t in tables:
        for idx in sorted(t.indexes, key=lambda i: i.name or ""):
            conn.execute(sa.schema.CreateIndex(idx))


def _wire_chunks(df: pl.DataFrame, table: sa.Table, kind: str) -> Iterator[pl.DataFrame]:
    """The frame in wire format, a chunk at a time (text columns are bulky; never all at once)."""
    for i in range(0, df.height, CHUNK_ROWS):
        yield to_wire(df.slice(i, CHUNK_ROWS), table, kind)


def append_sqlite(conn: object, table: sa.Table, df: pl.DataFrame) -> None:
    """Ingest `df` as Arrow batches through an open ADBC SQLite connection into an already created table."""
    for chunk in _wire_chunks(df, table, "sqlite"):
        with conn.cursor() as cur:  # type: ignore[attr-defined]
            cur.adbc_ingest(table.name, chunk.to_arrow(), mode="append")


def append_postgresql(conn: sa.Connection, table: sa.Table, df: pl.DataFrame) -> None:
    """COPY … FROM STDIN (CSV) through psycopg, inside the caller's transaction."""
    cols = ", ".join(c.name for c in table.columns)
    with conn.connection.driver_connection.cursor() as cur, \
            cur.copy(f"COPY {table.name} ({cols}) FROM STDIN (FORMAT csv)") as copy:
        for chunk in _wire_chunks(df, table, "postgresql"):
            copy.write(chunk.write_csv(include_header=False).encode())


def append_mysql(conn: sa.Connection, table: sa.Table, df: pl.DataFrame) -> None:
    """LOAD DATA LOCAL INFILE from temporary CSV files (needs local_infile on the server)."""
    cols = ", ".join(c.name for c in table.columns)
    with conn.connection.driver_connection.cursor() as cur, \
            tempfile.TemporaryDirectory(prefix="cases-load-") as tmp:
        for i, chunk in enumerate(_wire_chunks(df, table, "mysql")):
            f = os.path.join(tmp, f"{table.name}_{i}.csv")
            chunk.write_csv(f, include_header=False, null_value="\\N")
            cur.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE {table.name} CHARACTER SET utf8mb4 "
                "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '\\\\' "
                f"LINES TERMINATED BY '\\n' ({cols})", (f,))
            os.unlink(f)
