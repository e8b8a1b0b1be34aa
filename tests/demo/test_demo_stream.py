"""The streaming generator writes the same database as the in-memory one, month by month, ids rising with time."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from fixtures_demo import AS_OF

from queries.cli import main as cli_main
from queries.demo import SCALES, scale_for_cases
from queries.demo.simulate import stream
from queries.source import contract as S
from queries.source.write import open_target

TIMES = {"payments": "paid_at", "promises": "promised_at", "contacts": "contacted_at", "complaints": "received_at"}


def _table_rows(path: Path) -> dict[str, list[tuple]]:
    """Every contract table's rows as stored, sorted by primary key."""
    conn = sqlite3.connect(path)
    try:
        return {t.name: conn.execute(f"SELECT * FROM {t.name} ORDER BY "
                                     + ", ".join(c.name for c in t.primary_key.columns)).fetchall() for t in S.TABLES}
    finally:
        conn.close()


def test_streamed_database_equals_the_in_memory_one(demo_portfolio, demo_centre_db, tmp_path) -> None:  # noqa: ANN001
    (streamed, lines), in_memory = demo_centre_db, tmp_path / "in_memory.sqlite"
    assert sum(line.startswith("month ") for line in lines) == SCALES["demo"].months  # a progress line per month
    with open_target(f"sqlite:///{in_memory}") as target:
        target.write(demo_portfolio.tables)
    got, want = _table_rows(streamed), _table_rows(in_memory)
    for t in S.TABLES:
        assert len(got[t.name]) == demo_portfolio.tables[t.name].height, t.name
        assert got[t.name] == want[t.name], t.name


def test_months_stream_out_one_by_one() -> None:
    parts = [name for name, _ in stream(scale_for_cases(2_000), 3, AS_OF)]
    for table in ("payments", "promises", "contacts"):
        assert parts.count(table) == SCALES["demo"].months, table
    assert parts.count("balance_snapshots") == SCALES["demo"].months + 1  # and the stock before the first month
    assert parts.index("cases") > max(i for i, n in enumerate(parts) if n == "contacts")


@pytest.mark.parametrize("table", list(TIMES))
def test_ids_rise_with_time_across_months(demo_portfolio, table: str) -> None:  # noqa: ANN001
    df = demo_portfolio.tables[table]
    ids = df.get_column(df.columns[0])
    assert ids.to_list() == list(range(1, df.height + 1))
    assert df.get_column(TIMES[table]).is_sorted()


def test_cases_scale_keeps_the_bank_ratios() -> None:
    bank, like = SCALES["bank"], scale_for_cases(1_000_000)
    assert (like.teams, like.agency_teams, like.agents) == (bank.teams, bank.agency_teams, bank.agents)
    small = scale_for_cases(20_000)
    assert (small.teams, small.agency_teams, small.agents) == (8, 2, 60)
    big = scale_for_cases(5_000_000)
    assert (big.cases, big.teams, big.agency_teams, big.agents) == (5_000_000, 200, 50, 2_500)


def test_demo_db_takes_a_case_count(tmp_path, capsys) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    assert cli_main(["demo-db", "--url", url, "--cases", "3000", "--as-of", str(AS_OF)]) == 0
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(S.cases)).scalar_one() == 3000
    engine.dispose()
    assert "month " in capsys.readouterr().err
    for bad, fragment in ((["--cases", "12x"], "--cases"), (["--cases", "10"], "at least"),
                          (["--cases", "5000", "--scale", "bank"], "not both")):
        assert cli_main(["demo-db", "--url", f"sqlite:///{tmp_path / 'd.sqlite'}", *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and fragment in err[0], err
