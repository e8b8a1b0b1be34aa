"""Fixtures for the importer tests: the public UCI card data imported on every backend, and the answers worked out
from the CSV alone.

The expected numbers here are computed straight from the CSV with the csv module and Decimal, without any
project code: months April–September 2005 from the columns X11/X17/X23 (April) … X6/X12/X18 (September);
status ≤ 0 → M0, k = 1…6 → Mk, ≥ 7 → M7+; balance = the bill amount, a negative bill counts as 0; roll
from t−1 to t only for accounts with a bill > 0 at t−1, to 'closed' when the bill at t is ≤ 0.
"""

from __future__ import annotations

import csv
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fixtures_demo import server_url
from fixtures_store import _mysql_fresh, _pg_fresh

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "docs" / "examples" / "uci-mapping.toml"
#: where the public file is on a developer's machine and in CI (beside the repository)
UCI_PLACES = (Path("/work/shared/data/UCI_Credit_Card.csv"), ROOT.parent / "shared" / "data" / "UCI_Credit_Card.csv",
              ROOT / ".." / "shared" / "data" / "UCI_Credit_Card.csv")
MONTHS = ["2005-04", "2005-05", "2005-06", "2005-07", "2005-08", "2005-09"]
# month → (status, bill, paid) columns of the CSV
COLUMNS = {m: (f"X{11 - i}", f"X{17 - i}", f"X{23 - i}") for i, m in enumerate(MONTHS)}
LABELS = ["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7+"]


def uci_source() -> Path:
    """The UCI CSV, or a skip naming where it was looked for."""
    for p in UCI_PLACES:
        if p.is_file():
            return p.resolve()
    pytest.skip("the public UCI file UCI_Credit_Card.csv is not on this machine (looked in "
                f"{', '.join(str(p) for p in UCI_PLACES)}); see docs/import-status.md for where to download it")


@pytest.fixture(scope="session")
def uci_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the UCI CSV."""
    dst = tmp_path_factory.mktemp("uci") / "UCI_Credit_Card.csv"
    shutil.copyfile(uci_source(), dst)
    return dst


def bucket(status: str) -> str:
    """The bucket of a UCI repayment status, written out: ≤ 0 current, 1…6 months, 7 or more M7+."""
    k = int(Decimal(status))
    if k <= 0:
        return "M0"
    return f"M{k}" if k <= 6 else "M7+"


def cents(text: str) -> int:
    """An amount of the CSV (plain or like 1.00E+05) in exact cents."""
    return int(Decimal(text.strip()) * 100)


@pytest.fixture(scope="session")
def uci_rows(uci_csv: Path) -> list[dict[str, str]]:
    """The CSV's rows as the csv module reads them."""
    with uci_csv.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def expected(uci_rows: list[dict[str, str]]) -> dict:
    """Per month: accounts and balance (cents) per bucket, payments; per month pair: the count roll matrix."""
    counts: dict[str, Counter] = {m: Counter() for m in MONTHS}
    balance: dict[str, Counter] = {m: Counter() for m in MONTHS}
    paid: dict[str, list[int]] = {m: [0, 0] for m in MONTHS}
    roll: dict[str, dict[tuple[str, str], int]] = {m: defaultdict(int) for m in MONTHS[1:]}
    for r in uci_rows:
        for i, m in enumerate(MONTHS):
            s, b, p = COLUMNS[m]
            counts[m][bucket(r[s])] += 1
            balance[m][bucket(r[s])] += max(cents(r[b]), 0)
            if cents(r[p]) > 0:
                paid[m][0] += 1
                paid[m][1] += cents(r[p])
            if i:
                ps, pb, _ = COLUMNS[MONTHS[i - 1]]
                if cents(r[pb]) > 0:
                    to = "closed" if cents(r[b]) <= 0 else bucket(r[s])
                    roll[m][(bucket(r[ps]), to)] += 1
    default = sum(r["Y"].strip() == "1" for r in uci_rows)
    return {"counts": counts, "balance": balance, "paid": paid, "roll": roll, "default": default,
            "accounts": len(uci_rows)}


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mysql"])
def uci_db(request: pytest.FixtureRequest, uci_csv: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, str, Path]]:
    """The UCI file imported with the example mapping through the command line, on each backend, and synced:
    (url, the command's stdout, the store folder)."""
    from queries.cli import main as cli_main
    from queries.sync import run_sync

    kind = request.param
    d = tmp_path_factory.mktemp(f"uci-{kind}")

    def run(url: str) -> tuple[str, str, Path]:
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = cli_main(["import-status", str(uci_csv), "--url", url, "--mapping", str(MAPPING)])
        assert code == 0, out.getvalue()
        run_sync(url, d / "store", full=True)
        return url, out.getvalue(), d / "store"

    if kind == "sqlite":
        yield run(f"sqlite:///{d / 'uci.sqlite'}")
        return
    base = server_url(kind)
    for url in (_pg_fresh(base) if kind == "postgresql" else _mysql_fresh(base)):
        yield run(url)
