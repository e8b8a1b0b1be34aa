"""Bulk reads from the case database into Polars: ADBC or connectorx where installed, else SQLAlchemy."""

from __future__ import annotations

import contextlib
import importlib.util

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from queries.errors import SourceDataError, SourceError
from queries.source.engines import backend, read_only_engine


class day_of(FunctionElement):  # noqa: N801 - reads like a SQL function
    """The calendar date of a timestamp, in each dialect's own spelling."""

    type = sa.Date()
    inherit_cache = True
    name = "day_of"


@compiles(day_of)
def _day_of_default(element, compiler, **kw):  # noqa: ANN001, ANN202
    return "CAST(%s AS DATE)" % compiler.process(element.clauses, **kw)


@compiles(day_of, "sqlite")
def _day_of_sqlite(element, compiler, **kw):  # noqa: ANN001, ANN202
    return "date(%s)" % compiler.process(element.clauses, **kw)


@compiles(day_of, "mysql")
def _day_of_mysql(element, compiler, **kw):  # noqa: ANN001, ANN202
    return "DATE(%s)" % compiler.process(element.clauses, **kw)


_SQLITE_UNIXEPOCH = __import__("sqlite3").sqlite_version_info >= (3, 38)


class epoch_day_of(FunctionElement):  # noqa: N801 - reads like a SQL function
    """The calendar date of a timestamp by the rule the sync's reads apply: day_of, and in SQLite the days since
    1970-01-01 of unixepoch() (epoch_of), floored (an integer: no date text to parse back)."""

    type = sa.Integer()
    inherit_cache = True
    name = "epoch_day_of"


@compiles(epoch_day_of)
def _epoch_day_default(element, compiler, **kw):  # noqa: ANN001, ANN202
    return compiler.process(day_of(*element.clauses), **kw)


@compiles(epoch_day_of, "sqlite")
def _epoch_day_sqlite(element, compiler, **kw):  # noqa: ANN001, ANN202
    if not _SQLITE_UNIXEPOCH:
        return compiler.process(day_of(*element.clauses), **kw)
    # SQLite's integer division truncates towards zero: shifted by a million days it floors any date after 700 BC
    return "((unixepoch(%s) + 86400000000) / 86400 - 1000000)" % compiler.process(element.clauses, **kw)


class epoch_of(FunctionElement):  # noqa: N801 - reads like a SQL function
    """Seconds since 1970-01-01 of a naive local timestamp, as an integer (cheaper to move than text)."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "epoch_of"


@compiles(epoch_of)
def _epoch_default(element, compiler, **kw):  # noqa: ANN001, ANN202
    return "CAST(EXTRACT(EPOCH FROM %s) AS BIGINT)" % compiler.process(element.clauses, **kw)


@compiles(epoch_of, "sqlite")
def _epoch_sqlite(element, compiler, **kw):  # noqa: ANN001, ANN202
    if _SQLITE_UNIXEPOCH:  # twice as fast as strftime('%s'); SQLite 3.38+
        return "unixepoch(%s)" % compiler.process(element.clauses, **kw)
    return "CAST(strftime('%%s', %s) AS INTEGER)" % compiler.process(element.clauses, **kw)


@compiles(epoch_of, "mysql")
def _epoch_mysql(element, compiler, **kw):  # noqa: ANN001, ANN202
    return "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', %s)" % compiler.process(element.clauses, **kw)


class unindexed(FunctionElement):  # noqa: N801 - reads like a SQL function
    """An integer key as a value no index answers: `+key` on SQLite, the key itself elsewhere. SQLite keeps no
    statistics for a source, so with a bound on both a rowid key (`INTEGER PRIMARY KEY`) and a time column it walks
    the rowid range, half or all of the table, rather than the time index that finds the few rows asked for."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "unindexed"


@compiles(unindexed)
def _unindexed_default(element, compiler, **kw):  # noqa: ANN001, ANN202
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element, compiler, **kw):  # noqa: ANN001, ANN202
    return "+%s" % compiler.process(element.clauses, **kw)


def cents(col: sa.ColumnElement) -> sa.ColumnElement:
    """Money column as exact integer cents, computed in the database (SQLite stores REAL)."""
    return sa.cast(sa.func.round(col * 100), sa.BigInteger)


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


SQLITE_BATCH_MAX = 2**31 - 2  # the SQLite ADBC driver's largest batch (it refuses 2^31 − 1)


class Reader:
    """Reads SQLAlchemy Core selects into Polars through the fastest path for the backend."""

    def __init__(self, url: str, prefer: str | None = None) -> None:
        self.url = url
        self.kind = backend(url)
        self.engine = read_only_engine(url)
        self.dialect = self.engine.dialect
        self.method = prefer or self._pick()
        self._adbc = None

    def another(self) -> Reader:
        """A new connection to the same source, read the same way."""
        return Reader(self.url, prefer=self.method)

    def _pick(self) -> str:
        if self.kind in ("postgresql", "sqlite") and _has(f"adbc_driver_{self.kind}"):
            return "adbc"
        if self.kind == "mysql" and _has("connectorx"):
            return "connectorx"
        return "sqlalchemy"

    def _adbc_conn(self):  # noqa: ANN202 - adbc connection
        """The driver manager's own connection: its DB-API layer imports pyarrow.dataset and pandas
        (0.3–0.6 s per process); Polars reads the Arrow C stream of a statement directly."""
        if self._adbc is None:
            import adbc_driver_manager as mgr

            u = make_url(self.url)
            if self.kind == "sqlite":
                import adbc_driver_sqlite as drv

                db = drv.connect(f"file:{u.database}?mode=ro")
            else:
                import adbc_driver_postgresql as drv

                db = drv.connect(u.set(drivername="postgresql").render_as_string(hide_password=False))
            self._adbc = (db, mgr.AdbcConnection(db))
        return self._adbc[1]

    def _adbc_read(self, sql: str) -> pl.DataFrame:
        try:
            return self._adbc_stream(sql)
        except Exception as exc:
            if self.kind != "sqlite" or "Type mismatch" not in str(exc):
                raise
        # The SQLite driver infers each column's type from a statement's first batch (1,024 rows) and fails on a
        # later batch that disagrees: a text column NULL in the first rows read (the oldest cases, unassigned). Read
        # again as one batch, inferred from every row. The driver reserves a batch's size for each column before
        # reading (8 bytes a row), so the batch is the statement's row count, not the driver's largest.
        n = self._adbc_stream(f"SELECT count(*) FROM ({sql}) AS counted").item()
        return self._adbc_stream(sql, min(n + max(n // 8, 1024), SQLITE_BATCH_MAX))

    def _adbc_stream(self, sql: str, batch_rows: int | None = None) -> pl.DataFrame:
        import adbc_driver_manager as mgr

        stmt = mgr.AdbcStatement(self._adbc_conn())
        try:
            if batch_rows is not None:
                stmt.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
            stmt.set_sql_query(sql)
            stream, _rows = stmt.execute_query()
            return pl.DataFrame(stream)
        finally:
            stmt.close()

    def _cx_uri(self) -> str:
        u = make_url(self.url)
        return u.set(drivername="mysql" if self.kind == "mysql" else "postgresql", query={}) \
            .render_as_string(hide_password=False)

    def sql(self, stmt: sa.Executable) -> str:
        """The statement as SQL text; only internal ints and dates are inlined, never user input."""
        return str(stmt.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True}))

    def read(self, stmt: sa.Select, schema: dict[str, pl.DataType] | None = None) -> pl.DataFrame:
        """Run one select and return a frame with the given column types."""
        try:
            if self.method == "adbc":
                df = self._adbc_read(self.sql(stmt))
            elif self.method == "connectorx":
                df = pl.read_database_uri(self.sql(stmt), self._cx_uri(), engine="connectorx")
            else:
                with self.engine.connect() as conn:
                    df = pl.read_database(stmt, conn, infer_schema_length=None)
        except Exception as exc:  # noqa: BLE001 - any driver error becomes a SourceError
            raise SourceError(f"reading from the case database failed: {exc}") from exc
        return normalize(df, schema or {})

    def scalar(self, stmt: sa.Select):  # noqa: ANN201 - any scalar
        """One value through SQLAlchemy (small queries)."""
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar()

    def has_table(self, name: str) -> bool:
        """True when the source has this table (or view)."""
        insp = sa.inspect(self.engine)
        return insp.has_table(name) or name in insp.get_view_names()

    def columns(self, name: str) -> set[str]:
        """Lower-case column names of a source table or view (empty when it is absent)."""
        if not self.has_table(name):
            return set()
        return {c["name"].lower() for c in sa.inspect(self.engine).get_columns(name)}

    def close(self) -> None:
        """Release connections."""
        if self._adbc is not None:
            for handle in reversed(self._adbc):
                with contextlib.suppress(Exception):
                    handle.close()
            self._adbc = None
        self.engine.dispose()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def require(df: pl.DataFrame, table: str, key: str, columns: dict[str, str]) -> pl.DataFrame:
    """The frame, or SourceDataError naming table, column and keys where a required value is missing or unreadable.

    `columns` maps a result column to the contract column it was read from (e.g. {"paid_at": "paid_at"}).
    """
    for col, contract_col in columns.items():
        bad = df.filter(pl.col(col).is_null())
        if bad.height:
            keys = ", ".join(str(k) for k in bad.get_column(key).head(5).to_list())
            raise SourceDataError(
                f"{table}.{contract_col}: {bad.height:,} row{'s' if bad.height > 1 else ''} without a valid value "
                f"({key} {keys}{' …' if bad.height > 5 else ''}); run `collections-dashboard doctor` and correct "
                "the case database")
    return df


def normalize(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Cast columns to the wanted types; SQLite text dates and 0/1 booleans included."""
    exprs = []
    for name, want in schema.items():
        if name not in df.columns:
            raise SourceError(f"column {name!r} missing from the source result")
        have = df.schema[name]
        col = pl.col(name)
        if have == want:
            continue
        if want == pl.Date:
            if have == pl.String:
                col = col.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)  # bad text → null, caught by require
            else:
                col = col.cast(pl.Date)
        elif isinstance(want, pl.Datetime):
            if have == pl.String:
                col = col.str.replace("T", " ").str.slice(0, 19).str.to_datetime(
                    "%Y-%m-%d %H:%M:%S", time_unit="us", strict=False)
            elif have == pl.Date:
                col = col.cast(pl.Datetime("us"))
            elif have.is_integer():  # epoch seconds from epoch_of()
                col = pl.from_epoch(col, time_unit="s").cast(pl.Datetime("us"))
            else:
                col = col.cast(pl.Datetime("us"))
        elif want == pl.Boolean and have != pl.Boolean:
            col = col.cast(pl.Int64).cast(pl.Boolean)
        else:
            col = col.cast(want)
        exprs.append(col.alias(name))
    out = df.with_columns(exprs) if exprs else df
    return out.select(list(schema)) if schema else out
