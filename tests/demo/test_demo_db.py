"""The demo generator writes a complete, exact, indexed case database on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from fixtures_demo import AS_OF, SMALL

import queries.source.write as write
from queries.cli import main as cli_main
from queries.demo import DemoError, build_demo_database
from queries.source import contract as S


def _rows(url: str, table: sa.Table) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.select(table).order_by(*table.primary_key.columns))]
    finally:
        engine.dispose()


def test_builds_complete_exact_database(fresh_source, small_portfolio) -> None:  # noqa: ANN001
    result = build_demo_database(fresh_source, SMALL, seed=11, as_of=AS_OF)
    engine = sa.create_engine(fresh_source)
    try:
        insp = sa.inspect(engine)
        assert {t.name for t in S.TABLES} <= set(insp.get_table_names())
        for t in S.TABLES:
            names = {ix["name"] for ix in insp.get_indexes(t.name)}
            assert {ix.name for ix in t.indexes} <= names, t.name
        with engine.connect() as conn:
            for name, df in small_portfolio.tables.items():
                count = conn.execute(sa.select(sa.func.count()).select_from(S.metadata.tables[name])).scalar_one()
                assert count == df.height == result["rows"][name], name
            total = conn.execute(sa.select(sa.func.sum(S.payments.c.amount))).scalar_one()
            expected = Decimal(int(small_portfolio.tables["payments"]["amount_cents"].sum())) / 100
            assert Decimal(str(total)).quantize(Decimal("0.01")) == expected
            team_names = set(conn.execute(sa.select(S.teams.c.team_name)).scalars())
            assert team_names == set(small_portfolio.tables["teams"]["team_name"])
            assert any("催收" in n or "委外" in n for n in team_names)
            first = small_portfolio.tables["cases"].row(0, named=True)
            got = conn.execute(sa.select(S.cases).where(S.cases.c.case_id == 1)).one()._mapping
            assert got["customer_name"] == first["customer_name"] and got["id_number"] == first["id_number"]
            assert got["placed_on"] == first["placed_on"]
            assert got["placed_balance"] == Decimal(first["placed_balance_cents"]) / 100
            # A timestamp bound as a parameter compares exactly with the stored text on every backend.
            p0 = small_portfolio.tables["payments"].row(0, named=True)
            n = conn.execute(sa.select(sa.func.count()).select_from(S.payments)
                             .where(S.payments.c.paid_at == p0["paid_at"])).scalar_one()
            assert n >= 1
    finally:
        engine.dispose()


def test_refuses_existing_case_tables_unless_replace(fresh_source, capsys) -> None:  # noqa: ANN001
    build_demo_database(fresh_source, SMALL, seed=11, as_of=AS_OF)
    before = _rows(fresh_source, S.teams)
    code = cli_main(["demo-db", "--url", fresh_source, "--scale", "demo", "--as-of", str(AS_OF)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--replace" in err[0]
    assert _rows(fresh_source, S.teams) == before
    with pytest.raises(DemoError):
        build_demo_database(fresh_source, SMALL, seed=12, as_of=AS_OF)
    build_demo_database(fresh_source, SMALL, seed=12, as_of=AS_OF, replace=True)
    assert _rows(fresh_source, S.payments) != []


def test_failure_half_way_leaves_nothing_behind(fresh_source, monkeypatch) -> None:  # noqa: ANN001
    kind = sa.engine.make_url(fresh_source).get_backend_name()
    attr = {"sqlite": "append_sqlite", "postgresql": "append_postgresql"}.get(kind, "append_mysql")
    real = getattr(write, attr)
    months = []

    def load_then_die(conn, table, df):  # noqa: ANN001, ANN202
        real(conn, table, df)
        months.append(table.name)
        if months.count("contacts") == 3:  # a few months streamed out, the rest never comes
            raise RuntimeError("killed half-way")

    monkeypatch.setattr(write, attr, load_then_die)
    with pytest.raises(RuntimeError, match="half-way"):
        build_demo_database(fresh_source, SMALL, seed=11, as_of=AS_OF)
    if kind == "sqlite":
        path = Path(sa.engine.make_url(fresh_source).database)
        assert not path.exists()
        assert list(path.parent.glob(f".{path.name}*")) == []
        return
    engine = sa.create_engine(fresh_source)
    try:
        assert set(sa.inspect(engine).get_table_names()) & {t.name for t in S.TABLES} == set()
    finally:
        engine.dispose()


def test_same_seed_gives_identical_sqlite_databases(tmp_path) -> None:  # noqa: ANN001
    urls = [f"sqlite:///{tmp_path / n}" for n in ("a.sqlite", "b.sqlite", "c.sqlite")]
    build_demo_database(urls[0], SMALL, seed=5, as_of=AS_OF)
    build_demo_database(urls[1], SMALL, seed=5, as_of=AS_OF)
    build_demo_database(urls[2], SMALL, seed=6, as_of=AS_OF)
    for t in S.TABLES:
        assert _rows(urls[0], t) == _rows(urls[1], t), t.name
    assert _rows(urls[0], S.payments) != _rows(urls[2], S.payments)


@pytest.mark.parametrize("args, fragment", [
    (["--url", "sqlite:///{tmp}/x.sqlite", "--scale", "huge"], "unknown scale 'huge'"),
    (["--url", "postgresql+psycopg://postgres@127.0.0.1:1/test"], "cannot reach"),
    (["--url", "mysql+pymysql://root@127.0.0.1:1/test"], "cannot reach"),
    (["--url", "sqlite:///{tmp}/no/such/dir/x.sqlite"], "does not exist"),
    (["--url", "oracle://scott@db/x"], "unsupported database"),
    (["--url", "sqlite:///{tmp}/x.sqlite", "--as-of", "2026-02-30"], "not a date"),
    (["--url", "sqlite:///{tmp}/x.sqlite", "--seed", "abc"], "--seed"),
    ([], "--url"),
])
def test_demo_db_bad_input_is_one_line_and_exit_2(args, fragment, tmp_path, capsys) -> None:  # noqa: ANN001
    code = cli_main(["demo-db", *[a.replace("{tmp}", str(tmp_path)) for a in args]])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and fragment in err[0], err
    assert not any(p.name.endswith(".sqlite") or ".tmp" in p.name for p in tmp_path.rglob("*"))


def test_unknown_command_is_one_line(capsys) -> None:  # noqa: ANN001
    assert cli_main(["frobnicate"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_embedded_demo_database_is_made_once_a_day(tmp_path, capsys) -> None:  # noqa: ANN001
    from queries.demo.embedded import ensure_demo_database
    from queries.settings import Settings

    settings = Settings(db_url=None, store_dir=tmp_path / "store", data_dir=tmp_path / "data")
    path = ensure_demo_database(settings, today=AS_OF)
    assert "Creating the demo case database" in capsys.readouterr().err
    made = path.stat().st_mtime_ns
    assert ensure_demo_database(settings, today=AS_OF).stat().st_mtime_ns == made  # same day: kept
    ensure_demo_database(settings, today=AS_OF + dt.timedelta(days=1))  # a new day: history moves on
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(S.payments.c.paid_at))).scalar_one()
    engine.dispose()
    assert last.date() <= AS_OF + dt.timedelta(days=1)
    assert path.stat().st_mtime_ns != made
