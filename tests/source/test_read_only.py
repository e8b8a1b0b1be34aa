"""The engine the dashboard opens cannot write the case database, on any backend."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from queries.source.engines import ReadOnlyViolation, read_only_engine

REFUSED = (sa.exc.SQLAlchemyError, ReadOnlyViolation)

WRITES = [
    "INSERT INTO teams (team_id, team_name, site, channel) VALUES ('ZZ', 'x', 'x', 'in_house')",
    "UPDATE cases SET current_balance = 0 WHERE case_id = 1",
    "DELETE FROM payments WHERE payment_id = 1",
    "CREATE TABLE ro_probe (x INTEGER)",
    "DROP TABLE targets",
    "ALTER TABLE teams ADD COLUMN hacked INTEGER",
]


def _fingerprint(url: str) -> tuple:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return (
                tuple(sorted(sa.inspect(conn).get_table_names())),
                conn.execute(sa.text("SELECT COUNT(*), SUM(amount) FROM payments")).one(),
                conn.execute(sa.text("SELECT current_balance FROM cases WHERE case_id = 1")).scalar_one(),
                conn.execute(sa.text("SELECT COUNT(*) FROM teams")).scalar_one(),
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("statement", WRITES)
def test_writes_are_refused(shared_small_source, statement) -> None:  # noqa: ANN001
    before = _fingerprint(shared_small_source)
    engine = read_only_engine(shared_small_source)
    try:
        with pytest.raises(REFUSED):
            with engine.begin() as conn:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()
    assert _fingerprint(shared_small_source) == before


def test_session_cannot_be_switched_to_read_write(shared_small_source) -> None:  # noqa: ANN001
    before = _fingerprint(shared_small_source)
    engine = read_only_engine(shared_small_source)
    kind = engine.dialect.name
    switch = {"postgresql": "SET default_transaction_read_only = off", "mysql": "SET SESSION TRANSACTION READ WRITE",
              "sqlite": "PRAGMA query_only = 0"}[kind]
    try:
        with pytest.raises(REFUSED):
            with engine.begin() as conn:
                conn.execute(sa.text(switch))
                conn.execute(sa.text(WRITES[1]))
    finally:
        engine.dispose()
    assert _fingerprint(shared_small_source) == before


def test_reads_work(shared_small_source) -> None:  # noqa: ANN001
    engine = read_only_engine(shared_small_source)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM cases")).scalar_one() > 0
            assert "payments" in sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize("statement", WRITES)
def test_the_session_itself_refuses_writes(shared_small_source, statement) -> None:  # noqa: ANN001
    """Bypassing the statement guard (raw DB-API cursor), the database session still says no."""
    before = _fingerprint(shared_small_source)
    engine = read_only_engine(shared_small_source)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with pytest.raises(Exception) as err:  # noqa: PT011 - each driver has its own error class
            cur.execute(statement)
            raw.commit()
        assert not isinstance(err.value, ReadOnlyViolation)
        assert "read" in str(err.value).lower()  # read-only / readonly, not some other failure
    finally:
        raw.close()
        engine.dispose()
    assert _fingerprint(shared_small_source) == before
