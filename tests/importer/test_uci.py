"""The UCI card data imported on SQLite, PostgreSQL and MariaDB equals what the CSV says, month by month."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from fixtures_importer import LABELS, MONTHS

from queries.filters import Filters
from queries.metrics import MetricUnavailable
from queries.metrics.registry import compute
from queries.source import contract as S
from queries.store import Store


def _month_end(m: str) -> dt.date:
    y, mo = int(m[:4]), int(m[5:])
    return dt.date(y + mo // 12, mo % 12 + 1, 1) - dt.timedelta(days=1)


def _label(dpd: int) -> str:
    # the contract's buckets (docs/case-data-contract.md §3): 0 → M0, 1–30 → M1 … 151–180 → M6, above → M7+
    return "M0" if dpd <= 0 else ("M7+" if dpd > 180 else f"M{(dpd + 29) // 30}")


def test_database_holds_the_csv_month_by_month(uci_db, expected) -> None:  # noqa: ANN001
    url, _, _ = uci_db
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            b = S.balance_snapshots.c
            rows = conn.execute(sa.select(b.snapshot_on, b.dpd, sa.func.count(), sa.func.sum(b.balance))
                                .group_by(b.snapshot_on, b.dpd)).all()
            assert conn.execute(sa.select(sa.func.count()).select_from(S.cases)).scalar_one() == 30_000
            pays = conn.execute(sa.select(S.payments.c.paid_at, S.payments.c.amount)).all()
            for t in (S.contacts, S.promises, S.complaints, S.targets):
                assert conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() == 0, t.name
            assert conn.execute(sa.select(S.teams.c.team_id)).scalars().all() == ["unassigned"]
            assert conn.execute(sa.select(S.agents.c.agent_id)).scalars().all() == ["unassigned"]
            # the placeholder's name is data the Chinese UI shows as it is: no English in it
            names = [*conn.execute(sa.select(S.teams.c.team_name)).scalars(),
                     *conn.execute(sa.select(S.agents.c.agent_name)).scalars()]
            assert names == ["未分配", "未分配"]
    finally:
        engine.dispose()
    counts: dict[str, dict[str, int]] = {m: dict.fromkeys(LABELS, 0) for m in MONTHS}
    balance: dict[str, dict[str, int]] = {m: dict.fromkeys(LABELS, 0) for m in MONTHS}
    for day, dpd, n, total in rows:
        m = f"{day:%Y-%m}"
        assert day == _month_end(m)
        counts[m][_label(dpd)] += n
        balance[m][_label(dpd)] += int(Decimal(str(total)) * 100)
    for m in MONTHS:
        assert counts[m] == {k: expected["counts"][m][k] for k in LABELS}, m
        assert balance[m] == {k: expected["balance"][m][k] for k in LABELS}, m
    got: dict[str, list[int]] = {}
    for at, amount in pays:
        # the documented choice: a month's payments are dated on its last day (midnight)
        assert at == dt.datetime.combine(_month_end(f"{at:%Y-%m}"), dt.time()), at
        g = got.setdefault(f"{at:%Y-%m}", [0, 0])
        g[0] += 1
        g[1] += int(Decimal(str(amount)) * 100)
    assert got == expected["paid"]


def test_aging_and_count_roll_rates_from_the_store_equal_the_csv(uci_db, expected) -> None:  # noqa: ANN001
    _, _, store_dir = uci_db
    store = Store.open(store_dir)
    f = Filters(dt.date(2005, 4, 1), dt.date(2005, 9, 30))
    for m in MONTHS:
        snap = _month_end(m)
        counts = compute("bucket_balance", store, f, ("bucket",), snapshot=snap, basis="count")
        got = dict(zip(counts["bucket"], counts["value"], strict=True))
        assert {k: int(v) for k, v in got.items()} == {k: v for k, v in expected["counts"][m].items() if v}, m
        bal = compute("bucket_balance", store, f, ("bucket",), snapshot=snap)
        got = {k: round(v * 100) for k, v in zip(bal["bucket"], bal["value"], strict=True)}
        assert got == {k: v for k, v in expected["balance"][m].items() if k in got}, m
        if m == MONTHS[0]:
            continue
        roll = compute("roll_rate", store, f, snapshot=snap, basis="count")
        matrix = {(r["from_bucket"], r["to_bucket"]): r for r in roll.iter_rows(named=True)}
        want = expected["roll"][m]
        assert {k: int(r["numerator"]) for k, r in matrix.items()} == dict(want), m
        for (fb, tb), r in matrix.items():
            den = sum(n for (a, _), n in want.items() if a == fb)
            assert r["value"] == pytest.approx(want[(fb, tb)] / den), (m, fb, tb)


def test_cure_and_liquidation_work_and_contact_metrics_say_there_are_none(uci_db, expected) -> None:  # noqa: ANN001
    _, _, store_dir = uci_db
    store = Store.open(store_dir)
    f = Filters(dt.date(2005, 4, 1), dt.date(2005, 9, 30))
    sep = compute("cure_rate", store, f, snapshot=dt.date(2005, 9, 30), basis="count")
    want = expected["roll"]["2005-09"]
    m1 = sep.filter(sep["from_bucket"] == "M2").row(0, named=True)
    cured = want.get(("M2", "M0"), 0) + want.get(("M2", "closed"), 0)
    assert m1["numerator"] == cured and m1["denominator"] == sum(n for (a, _), n in want.items() if a == "M2")
    # every account is placed on 2005-04-30 with April's balance; six months of payments liquidate it
    liq = compute("liquidation", store, f, ("placed_month", "months_since"))
    last = liq.filter(liq["months_since"] == 5).row(0, named=True)
    april = sum(expected["balance"]["2005-04"].values())
    paid = sum(c for _, c in expected["paid"].values())
    assert last["placed_month"] == dt.date(2005, 4, 1)
    assert last["value"] == pytest.approx(paid / april)
    for key, what in (("contact_rate", "no contact records"), ("ptp_kept_rate", "no promise-to-pay records"),
                      ("complaint_rate", "no complaint records"), ("over_frequency", "no contact records")):
        with pytest.raises(MetricUnavailable, match=what):
            compute(key, store, f)
    assert compute("collected", store, f)["value"][0] == pytest.approx(paid / 100)


def test_summary_reports_accounts_and_the_default_share(uci_db, expected) -> None:  # noqa: ANN001
    _, out, _ = uci_db
    assert expected["default"] == 6_636 and expected["accounts"] == 30_000  # Yeh & Lien (2009)
    assert "imported 30,000 accounts × 6 months (2005-04 … 2005-09)" in out
    assert "default next month (Y = 1): 6,636 of 30,000 accounts = 22.12%" in out
    assert "credit balances read as zero: 3,932" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("2005-09"))
    assert line.split()[1:10] == [f"{n:,}" for n in [30_000] + [expected["counts"]["2005-09"][k] for k in LABELS]]


def test_doctor_finds_no_errors_in_the_imported_database(uci_db) -> None:  # noqa: ANN001
    from queries.source.doctor import ERROR, check
    from queries.source.engines import read_only_engine

    engine = read_only_engine(uci_db[0])
    try:
        findings = check(engine)
    finally:
        engine.dispose()
    assert not [f.line() for f in findings if f.level == ERROR]
    assert {f.where for f in findings if "empty" in f.message} >= {"contacts", "promises", "complaints"}
