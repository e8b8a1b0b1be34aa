"""The landing forecast on hand-made months whose answer is known, and its backtest against a plain loop.

The hand-made months use a calendar of exactly 20 working days a month (Monday–Friday, the weekdays after the 20th
made holidays), so every past month lines up with the forecast month working day by working day and the share and
level parts of the forecast are exact: a flat month, a month-end-heavy month, a holiday week, promises.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import polars as pl
import pytest

from queries.dates import CHINA_CALENDAR, WorkCalendar, month_end, month_start
from queries.filters import Filters
from queries.metrics import MetricError, MetricUnavailable
from queries.metrics import forecast as F
from queries.metrics.registry import compute
from queries.store import Store
from queries.store.manifest import Manifest

D = dt.date
MONTH = D(2026, 6, 1)  # the forecast month; history Dec 2025 – May 2026 (six months)
HISTORY = [month_start(MONTH, -i) for i in range(6, 0, -1)]


def twenty_days(months: list[dt.date], holiday_week: dt.date | None = None) -> WorkCalendar:
    """Monday–Friday with the weekdays after the 20th of each month made holidays; `holiday_week`: the month whose
    first five weekdays are holidays, made up on Saturdays after it (调休) so its working days still number 20)."""
    hol, makeup = set(), set()
    for m in months:
        days = [m + dt.timedelta(days=i) for i in range((month_end(m) - m).days + 1)]
        weekdays = [d for d in days if d.weekday() < 5]
        skip = weekdays[:5] if m == holiday_week else []
        rest = [d for d in weekdays if d not in skip]
        if len(rest) < 20:
            makeup |= set([d for d in days if d.weekday() == 5 and d > weekdays[4] + dt.timedelta(days=2)][: 20 - len(rest)])
        hol |= set(skip) | set(rest[20:])
    return WorkCalendar(holidays=frozenset(hol), makeup=frozenset(makeup))


def store_of(tmp: Path, pays: list[tuple[dt.date, str, float]], as_of: dt.date,
             promises: list[tuple[dt.date, dt.date, str, str, float]] = (),
             targets: dict[str, float] | None = None) -> Store:
    """A store from (day, agent, yuan) payments and (due, made, agent, status, yuan) promises; agents A1 (team T1,
    in-house) and B1 (team T9, agency 'Acme')."""
    pay = pl.DataFrame([(d, a, "M1", 1, round(y * 100), 0) for d, a, y in pays], orient="row",
                       schema={"day": pl.Date, "agent_id": pl.String, "bucket": pl.String, "n": pl.Int64,
                               "cents": pl.Int64, "opening_cents": pl.Int64})
    pipe = pl.DataFrame([(due, made, a, "M1", 1, round(y * 100)) for due, made, a, _, y in promises],
                        orient="row", schema=F.PIPELINE_SCHEMA)
    status = pl.DataFrame([(due, st, a, "M1", 1, round(y * 100)) for due, _, a, st, y in promises], orient="row",
                          schema={"day": pl.Date, "status": pl.String, "agent_id": pl.String, "bucket": pl.String,
                                  "n": pl.Int64, "cents": pl.Int64})
    frames = {
        "agents": pl.DataFrame({"agent_id": ["A1", "B1"], "team_id": ["T1", "T9"]}),
        "teams": pl.DataFrame({"team_id": ["T1", "T9"], "channel": ["in_house", "agency"],
                               "agency_name": [None, "Acme"]}),
        "payments_agent": pay, "promise_pipeline": pipe, "promises_agent": status,
        "targets": pl.DataFrame([(MONTH, t, round(v * 100)) for t, v in (targets or {}).items()], orient="row",
                                schema={"month": pl.Date, "team_id": pl.String, "target_cents": pl.Int64}),
    }
    return Store(path=tmp, manifest=Manifest(data_as_of=as_of.isoformat(), has_targets=bool(targets)), frames=frames)


def per_working_day(cal: WorkCalendar, months: list[dt.date], amount: float, heavy_last: float | None = None,
                    agent: str = "A1", until: dt.date | None = None) -> list[tuple[dt.date, str, float]]:
    """`amount` on every working day (the last three: `heavy_last` when given), up to `until`."""
    out = []
    for m in months:
        md = F.month_days(m, cal)
        for i, d in enumerate(md.working):
            if until is not None and d > until:
                break
            y = heavy_last if heavy_last is not None and i >= md.count - 3 else amount
            out.append((d, agent, y))
    return out


def one(df: pl.DataFrame) -> dict:
    assert df.height == 1, df
    return df.row(0, named=True)


CAL = twenty_days([*HISTORY, MONTH])


def test_calendar_of_the_tests_has_twenty_working_days():
    assert {F.month_days(m, CAL).count for m in [*HISTORY, MONTH]} == {20}


def test_flat_month_lands_on_twenty_days_and_naive_agrees(tmp_path):
    md = F.month_days(MONTH, CAL)
    day = md.working[7]  # after 8 working days
    st = store_of(tmp_path, per_working_day(CAL, [*HISTORY, MONTH], 100.0, until=day), day, targets={"T1": 1900})
    r = one(compute("landing", st, Filters(MONTH, day), calendar=CAL))
    assert r["numerator"] == pytest.approx(800.0)
    assert r["value"] == pytest.approx(2000.0)  # 20 working days × ¥100
    assert r["naive"] == pytest.approx(2000.0)
    assert r["low"] == pytest.approx(2000.0) and r["high"] == pytest.approx(2000.0)  # the past never missed
    assert (r["elapsed_days"], r["working_days"]) == (8.0, 20.0)
    assert r["target"] == pytest.approx(1900.0) and r["p_target"] == 1.0


def test_viewers_asking_at_once_build_the_landing_base_once(tmp_path, monkeypatch):
    """The first viewers of a new store version (and the server's warm-up) ask for the landing at the same moment:
    its base, the costly part, is built by one of them; all get the same landing."""
    import threading
    import time

    day = F.month_days(MONTH, CAL).working[7]
    st = store_of(tmp_path, per_working_day(CAL, [*HISTORY, MONTH], 100.0, until=day), day, targets={"T1": 1900})
    built, real = [], F.build_base

    def slow_build(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        built.append(1)
        time.sleep(0.3)
        return real(*args, **kw)

    monkeypatch.setattr(F, "build_base", slow_build)
    gate, got = threading.Barrier(4), []

    def view() -> None:
        gate.wait()
        got.append(compute("landing", st, Filters(MONTH, day), calendar=CAL))

    threads = [threading.Thread(target=view) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and len(got) == 4 and all(g.equals(got[0]) for g in got)


def test_month_end_heavy_month_beats_naive(tmp_path):
    md = F.month_days(MONTH, CAL)
    day = md.working[14]  # 15 working days done, the heavy last three still to come
    pays = per_working_day(CAL, [*HISTORY, MONTH], 100.0, heavy_last=1000.0, until=day)
    st = store_of(tmp_path, pays, day)
    r = one(compute("landing", st, Filters(MONTH, day), calendar=CAL))
    actual = 17 * 100 + 3 * 1000
    assert r["value"] == pytest.approx(actual)
    assert r["naive"] == pytest.approx(1500 / 15 * 20)  # pace projection misses the month end
    assert abs(r["naive"] - actual) > 2500


def test_holiday_week_counts_no_working_days(tmp_path):
    cal = twenty_days([*HISTORY, MONTH], holiday_week=MONTH)
    md = F.month_days(MONTH, cal)
    assert md.count == 20 and md.working[0] == D(2026, 6, 8)  # 1–5 June are holidays
    pays = per_working_day(cal, [*HISTORY, MONTH], 100.0, until=D(2026, 6, 8))
    in_week = store_of(tmp_path, [p for p in pays if p[0] < MONTH], D(2026, 6, 5))
    r = one(compute("landing", in_week, Filters(MONTH, D(2026, 6, 5)), calendar=cal))
    assert r["elapsed_days"] == 0 and r["naive"] is None  # no pace without an elapsed working day
    assert r["value"] == pytest.approx(2000.0)  # the past months' level
    after = store_of(tmp_path, pays, D(2026, 6, 8))
    r = one(compute("landing", after, Filters(MONTH, D(2026, 6, 8)), calendar=cal))
    assert r["elapsed_days"] == 1 and r["value"] == pytest.approx(2000.0)


def test_official_calendar_national_day_week():
    md = F.month_days(D(2025, 10, 1), CHINA_CALENDAR)
    assert D(2025, 10, 3) not in md.working and md.working[0] == D(2025, 10, 9)
    assert D(2025, 10, 11) in md.working  # the make-up Saturday
    assert md.elapsed(D(2025, 10, 8)) == 0 and md.elapsed(D(2025, 10, 9)) == 1


def test_promise_pipeline_is_added_once(tmp_path):
    """Each past month: ¥100 a working day plus a ¥500 promise made on day 1, due and kept on the last working day
    (paid then; the three months before them hold kept promises only, so every past month has its kept rate). This month a ¥1,500 promise is pending instead: the landing is what is collected, ¥1,500 × kept
    rate (1.0) and the flat rest — the past months' ¥500 is not counted again."""
    md = F.month_days(MONTH, CAL)
    day = md.working[9]
    months = [month_start(MONTH, -i) for i in range(9, 0, -1)]  # the first three: promises only (kept rates)
    cal = twenty_days([*months, MONTH])
    pays = per_working_day(cal, [*months[3:], MONTH], 100.0, until=day)
    promises = []
    for i, m in enumerate(months):
        w = F.month_days(m, cal).working
        if i >= 3:
            pays.append((w[-1], "A1", 500.0))
        promises.append((w[-1], w[0], "A1", "kept", 500.0))
    promises.append((md.working[-1], md.working[2], "A1", "pending", 1500.0))
    st = store_of(tmp_path, pays, day, promises)
    r = one(compute("landing", st, Filters(MONTH, day), calendar=cal))
    assert r["pipeline"] == pytest.approx(1500.0)
    assert r["value"] == pytest.approx(2000.0 + 1500.0)
    broken = [(due, made, a, "broken" if due < MONTH else s, y) for due, made, a, s, y in promises]
    r = one(compute("landing", store_of(tmp_path, pays, day, broken), Filters(MONTH, day), calendar=cal))
    assert r["pipeline"] == 0.0  # nothing similar was ever kept


def test_by_team_and_agency_and_scope(tmp_path):
    md = F.month_days(MONTH, CAL)
    day = md.working[4]
    pays = per_working_day(CAL, [*HISTORY, MONTH], 100.0, until=day) + \
        per_working_day(CAL, [*HISTORY, MONTH], 50.0, agent="B1", until=day)
    st = store_of(tmp_path, pays, day, targets={"T1": 1000, "T9": 5000})
    teams = {r["team_id"]: r for r in compute("landing", st, Filters(MONTH, day), ("team_id",),
                                                 calendar=CAL).iter_rows(named=True)}
    assert teams["T1"]["value"] == pytest.approx(2000) and teams["T9"]["value"] == pytest.approx(1000)
    assert teams["T1"]["p_target"] == 1.0 and teams["T9"]["p_target"] == 0.0
    agency = one(compute("landing", st, Filters(MONTH, day), ("agency",), calendar=CAL))
    assert agency["agency"] == "Acme" and agency["value"] == pytest.approx(1000)
    centre = one(compute("landing", st, Filters(MONTH, day), calendar=CAL))
    assert centre["value"] == pytest.approx(3000) and centre["target"] == pytest.approx(6000)
    only = one(compute("landing", st, Filters(MONTH, day, teams=("T9",)), calendar=CAL))
    assert only["value"] == pytest.approx(1000)
    with pytest.raises(MetricError):
        compute("landing", st, Filters(MONTH, day), ("agent_id",), calendar=CAL)
    with pytest.raises(MetricError):
        compute("landing", st, Filters(MONTH, day, products=("card",)), calendar=CAL)


def test_too_little_history_is_unavailable(tmp_path):
    md = F.month_days(MONTH, CAL)
    st = store_of(tmp_path, per_working_day(CAL, [HISTORY[-1], MONTH], 100.0, until=md.working[3]), md.working[3])
    with pytest.raises(MetricUnavailable):
        compute("landing", st, Filters(MONTH, md.working[3]), calendar=CAL)


def test_p_target_is_lognormal():
    r = F.Landing(collected=0, pipeline=0, landing=100.0, low=0, high=0, naive=None, sigma=0.1, history=6)
    assert r.p_reach(100.0) == pytest.approx(0.5)
    assert r.p_reach(100 * math.exp(0.1 * F.Z80)) == pytest.approx(0.1)
    assert r.p_reach(None) is None


# ---------------------------------------------------------------- the backtest against a plain loop


def plain_backtest(store: Store, cal: WorkCalendar, months: int = 12) -> list[tuple]:
    """The backtest worked out day by day and promise by promise from the raw payment and promise rows."""
    pay_rows = store.frame("payments_agent").select("day", "cents").rows()
    prom_rows = store.frame("promise_pipeline").select("day", "made", "bucket", "cents").rows()
    status_rows = store.frame("promises_agent").select("day", "bucket", "status", "cents").rows()
    first = month_start(min(d for d, _ in pay_rows))
    as_of = store.as_of
    last = month_start(as_of, -1) if as_of < month_end(as_of) else month_start(as_of)

    def working(m: dt.date) -> list[dt.date]:
        return [d for d in (m + dt.timedelta(days=i) for i in range(month_end(m).day)) if cal.is_working(d)]

    def kept_rate(m: dt.date, bucket: str) -> float:
        lo, kept, res = month_start(m, -F.KEPT_WINDOW_MONTHS), 0, 0
        for due, b, status, cents in status_rows:
            if b == bucket and lo <= due < m and status in ("kept", "partial", "broken"):
                res += cents
                kept += cents if status == "kept" else 0
        return kept / res if res else 0.0

    rates: dict = {}
    memo: dict = {}

    def state(m: dt.date, k: int) -> tuple[float, float]:
        if (m, k) not in memo:
            memo[(m, k)] = plain_state(m, k)
        return memo[(m, k)]

    def plain_state(m: dt.date, k: int) -> tuple[float, float]:
        cut = working(m)[k - 1] if k > 0 else m - dt.timedelta(days=1)
        cum = sum(c for d, c in pay_rows if m <= d <= cut)
        pipe = 0.0
        for due, made, b, cents in prom_rows:
            if cut < due <= month_end(m) and made <= cut:
                if (m, b) not in rates:
                    rates[(m, b)] = kept_rate(m, b)
                pipe += cents * rates[(m, b)]
        return cum, pipe

    def total(m: dt.date) -> float:
        return sum(c for d, c in pay_rows if m <= d <= month_end(m))

    out = []
    tested = [m for m in (month_start(last, -i) for i in range(months)) if m >= first][::-1]
    for m in tested:
        if total(m) <= 0:
            continue
        w = len(working(m))
        past = [p for p in (month_start(m, -i) for i in range(1, 13)) if p >= first and total(p) > 0]
        if len(past) < F.MIN_HISTORY:
            continue
        for k in range(1, w + 1):
            rows = [(*state(p, min(len(working(p)), round(k * len(working(p)) / w))), total(p)) for p in past]
            cum, pipe = state(m, k)
            rest = [t - c - q for c, q, t in rows]

            def share(c: float, q: float, idx: list[int], rows=rows, rest=rest) -> float:
                base = sum(rows[i][0] for i in idx)
                if c > 0 and base > 0:
                    return c + q + sum(rest[i] for i in idx) / base * c
                return c + q + max(sum(rest[i] for i in idx) / len(idx), 0.0)

            def level(c: float, q: float, idx: list[int], rest=rest) -> float:
                return c + q + max(sum(rest[i] for i in idx) / len(idx), 0.0)

            n = len(rows)
            loo = []
            for i in range(n):
                idx = [j for j in range(n) if j != i]
                loo.append([max(share(rows[i][0], rows[i][1], idx), rows[i][0]),
                            max(level(rows[i][0], rows[i][1], idx), rows[i][0])])
            mse = [sum(math.log(rows[i][2] / loo[i][j]) ** 2 for i in range(n)) / n for j in (0, 1)]
            inv = [1 / max(e, 1e-12) for e in mse]
            wts = [x / sum(inv) for x in inv]
            every = list(range(n))
            landing = max(wts[0] * share(cum, pipe, every) + wts[1] * level(cum, pipe, every), cum)
            errs = [math.log(rows[i][2] / (wts[0] * loo[i][0] + wts[1] * loo[i][1])) for i in range(n)]
            sigma = math.sqrt(sum(e * e for e in errs) / n * (1 + 1 / n))
            low = max(landing * math.exp(-F.Z80 * sigma), cum)
            high = max(landing * math.exp(F.Z80 * sigma), low)
            out.append((m, k, total(m) / 100, landing / 100, low / 100, high / 100, cum / k * w / 100))
    return out


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):  # noqa: ANN001, ANN201
    from fixtures_demo import AS_OF, SMALL

    from queries.demo import build_demo_database
    from queries.sync import run_sync

    d = tmp_path_factory.mktemp("forecast")
    url = f"sqlite:///{d / 'cases.sqlite'}"
    build_demo_database(url, SMALL, seed=5, as_of=AS_OF)
    run_sync(url, d / "store", full=True)
    store = Store.open(d / "store")
    store.memo["url"] = url
    return store


def test_promise_pipeline_rollup_equals_the_raw_promises(demo_store):
    """Each promise counted once under its due day and the day it was made (its due month's eve if earlier)."""
    import sqlalchemy as sa

    from queries.source import contract as S

    eng = sa.create_engine(demo_store.memo["url"])
    with eng.connect() as c:
        raw = c.execute(sa.select(S.promises.c.due_on, S.promises.c.promised_at, S.promises.c.amount)).all()
    eng.dispose()
    want: dict = {}
    for due, at, amount in raw:
        due = due if isinstance(due, dt.date) else dt.date.fromisoformat(str(due)[:10])
        made = dt.date.fromisoformat(str(at)[:10])
        made = max(made, month_start(due) - dt.timedelta(days=1))
        want[(due, made)] = want.get((due, made), 0) + round(float(amount) * 100)
    got = demo_store.frame("promise_pipeline").group_by("day", "made").agg(pl.col("cents").sum())
    assert {(d, m): c for d, m, c in got.iter_rows()} == want


def test_backtest_equals_a_plain_loop(demo_store):
    st = demo_store
    f = Filters(month_start(st.as_of), st.as_of)
    bt = F.backtest(st, f)
    assert bt.height > 50
    plain = plain_backtest(st, CHINA_CALENDAR)
    assert len(plain) == bt.height
    for got, want in zip(bt.iter_rows(), plain, strict=True):
        assert got[:2] == want[:2]
        assert got[2:] == pytest.approx(want[2:], rel=1e-9)


@pytest.fixture(scope="module")
def demo_history(demo_centre_store):  # noqa: ANN001, ANN201
    """The demo centre as the dashboard ships it (demo scale, the embedded demo's seed), synced: the history the
    issue asks the interval's coverage on (a 1,500-case centre's 12 months swing 62–87% with the seed)."""
    return demo_centre_store


def test_backtest_beats_naive_and_covers_about_80_percent(demo_history):
    f = Filters(month_start(demo_history.as_of), demo_history.as_of)
    totals = F.backtest_totals(F.backtest(demo_history, f))
    assert totals["mape"] < totals["mape_naive"]
    assert 0.70 <= totals["coverage"] <= 0.90
    by_day = F.backtest_summary(F.backtest(demo_history, f))
    assert set(by_day.columns) == {"k", "months", "mape", "mape_naive", "coverage"}


def test_landing_on_the_demo_store_is_inside_its_interval(demo_store):
    st = demo_store
    f = Filters(month_start(st.as_of), st.as_of)
    c = one(compute("landing", st, f))
    assert c["low"] <= c["value"] <= c["high"] and c["value"] >= c["numerator"]
    teams = compute("landing", st, f, ("team_id",))
    assert teams.height == st.frame("teams").height
    assert teams.get_column("numerator").sum() == pytest.approx(c["numerator"])


def test_a_finished_month_lands_where_it_is(tmp_path):
    md = F.month_days(MONTH, CAL)
    end = month_end(MONTH)
    pays = per_working_day(CAL, [*HISTORY, MONTH], 100.0) + [(end, "A1", 5.0)]  # + a weekend payment
    r = one(compute("landing", store_of(tmp_path, pays, end), Filters(MONTH, end), calendar=CAL))
    assert r["elapsed_days"] == md.count
    assert r["value"] == r["numerator"] == pytest.approx(2005.0)
    assert r["low"] is None and r["high"] is None  # no interval around a known figure
    assert r["p_target"] is None and r["pipeline"] == 0.0


def test_payments_without_an_agent_count_for_the_centre_only(tmp_path):
    md = F.month_days(MONTH, CAL)
    day = md.working[7]
    pays = per_working_day(CAL, [*HISTORY, MONTH], 100.0, until=day)
    pays += [(p[0], None, 10.0) for p in per_working_day(CAL, [*HISTORY, MONTH], 1.0, until=day)]
    st = store_of(tmp_path, pays, day)
    centre = one(compute("landing", st, Filters(MONTH, day), calendar=CAL))
    assert centre["numerator"] == pytest.approx(880.0)  # as `collected` counts them
    assert centre["value"] == pytest.approx(2200.0)
    team = one(compute("landing", st, Filters(MONTH, day), ("team_id",), calendar=CAL))
    assert team["numerator"] == pytest.approx(800.0) and team["value"] == pytest.approx(2000.0)
    assert one(compute("landing", st, Filters(MONTH, day, teams=("T1",)), calendar=CAL))["value"] == \
        pytest.approx(2000.0)


def test_group_sums_equal_the_membership_product() -> None:
    """The curves' sums by group (a sort and reduceat) equal the straightforward units × groups product, exactly,
    with units in no group and groups with no unit."""
    import numpy as np

    rng = np.random.default_rng(3)
    x = rng.integers(0, 10**9, (40, 3, 5, 7)).astype(float)
    of = rng.integers(-1, 6, 40)
    of[of == 4] = -1  # group 4 has no unit
    member = np.zeros((6, 40))
    member[of[of >= 0], np.flatnonzero(of >= 0)] = 1.0
    assert np.array_equal(F._group_sum(of, 6, x), np.einsum("gu,ubmk->gbmk", member, x))
    assert np.array_equal(F._group_sum(np.full(40, -1), 6, x), np.zeros((6, 3, 5, 7)))


def test_held_cuts_month_by_month_equal_the_whole_pipeline() -> None:
    """The landing forecast cuts the promise pipeline one due month at a time (a server never holds all months'
    rows); the cuts equal those of the whole pipeline, and each amount is held from the working-day position it
    was made at (0 when made before its due month) to the one before its due day's position."""
    import numpy as np

    rng = np.random.default_rng(5)
    months = [dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 5, 1)]
    n = 3_000
    due = [dt.date(2026, 3, 1) + dt.timedelta(days=int(x)) for x in rng.integers(0, 92, n)]
    made = [d - dt.timedelta(days=int(x)) for d, x in zip(due, rng.integers(0, 40, n), strict=True)]
    pipe = pl.DataFrame({"unit": rng.choice(["T1", "T2", "T3"], n).tolist(), "bucket": rng.choice(["M1", "M2"], n).tolist(),
                         "day": due, "made": made, "cents": rng.integers(1, 10**7, n).tolist()})
    whole = F.held_cuts(pipe, months)
    parts = pl.concat([F.held_cuts(pipe.filter(pl.col("day").dt.month_start() == m), months) for m in months])
    key = ["unit", "bucket", "month", "k_made", "k_due"]
    assert parts.sort(key).equals(whole.sort(key)) and whole.height > 100
    # one promise made Thu 2 Apr 2026 and due Wed 15 Apr: held from 2 April's working-day position (k starts at
    # 1 on the month's first working day) up to the one before 15 April's
    one = pl.DataFrame({"unit": ["T1"], "bucket": ["M1"], "day": [dt.date(2026, 4, 15)], "made": [dt.date(2026, 4, 2)],
                        "cents": [500]})
    got = F.held_cuts(one, months).row(0, named=True)
    april = F.month_days(dt.date(2026, 4, 1), CHINA_CALENDAR).working
    assert (got["k_made"], got["k_due"]) == (april.index(dt.date(2026, 4, 2)) + 1, april.index(dt.date(2026, 4, 15)) + 1)
    made_before = one.with_columns(pl.lit(dt.date(2026, 3, 20)).alias("made"))
    assert F.held_cuts(made_before, months).get_column("k_made").to_list() == [0]


def test_the_leave_one_out_at_once_equals_the_loop_over_months() -> None:
    """The forecast's leave-one-out is computed for all past months at once (the totals less each month's own);
    it equals the loop that forecasts each month from the others in turn — by share (the rest per yuan collected,
    or the others' mean rest when nothing was collected) and by level, never below what was collected — on random
    histories with months that collected nothing by the cut and months paid back (a negative rest)."""
    import numpy as np

    rng = np.random.default_rng(11)
    for trial in range(500):
        n = int(rng.integers(F.MIN_HISTORY, 13))
        cum = rng.gamma(0.6, 1e6, n) * (rng.random(n) < 0.8)
        if trial % 7 == 0:
            cum[:] = 0.0
        pipe = rng.gamma(0.5, 2e5, n)
        total = cum + pipe + rng.normal(2e6, 3e6, n)
        arr = np.column_stack([cum, pipe, total])
        rest = total - cum - pipe
        want = np.zeros((n, 2))
        for i in range(n):
            others = np.arange(n) != i
            base, mean = cum[others].sum(), max(rest[others].mean(), 0.0)
            share = cum[i] + pipe[i] + (rest[others].sum() / base * cum[i] if cum[i] > 0 and base > 0 else mean)
            want[i] = [max(share, cum[i]), max(cum[i] + pipe[i] + mean, cum[i])]
        # the others' sums as totals less one month round differently in the last bits: equal to 1e-12
        assert np.allclose(F.leave_one_out(arr), want, rtol=1e-12, atol=1e-6), trial


def test_the_base_holds_each_promise_from_its_cut_to_its_due_day() -> None:
    """build_base from the month-by-month cuts equals a plain loop over the promises: each amount is added to
    `held` at every working-day position from the one it was made at (0 when made before its due month) up to the
    one before its due day's, in its unit, bucket and due month."""
    import numpy as np

    rng = np.random.default_rng(8)
    months = [dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 5, 1)]
    n = 800
    due = [dt.date(2026, 3, 1) + dt.timedelta(days=int(x)) for x in rng.integers(0, 92, n)]
    made = [d - dt.timedelta(days=int(x)) for d, x in zip(due, rng.integers(0, 40, n), strict=True)]
    pipe = pl.DataFrame({"unit": rng.choice(["T1", "T2"], n).tolist(), "bucket": rng.choice(["M1", "M2"], n).tolist(),
                         "day": due, "made": made, "cents": rng.integers(1, 10**6, n).tolist()})
    cuts = pl.concat([F.held_cuts(pipe.filter(pl.col("day").dt.month_start() == m), months) for m in months])
    pays = pl.DataFrame(schema={"unit": pl.String, "bucket": pl.String, "day": pl.Date, "cents": pl.Int64})
    resolved = pl.DataFrame(schema={"unit": pl.String, "bucket": pl.String, "due_month": pl.Date, "kept": pl.Int64,
                                    "res": pl.Int64, "n": pl.Int64})
    base = F.build_base(pays, cuts, resolved, months)
    want = np.zeros_like(base.held)
    u_ix, b_ix = {u: i for i, u in enumerate(base.units)}, {b: i for i, b in enumerate(base.buckets)}
    for r in pipe.iter_rows(named=True):
        m = r["day"].replace(day=1)
        md = base.days[m]
        position = lambda d: sum(1 for w in md.working if w < d) + 1  # noqa: E731 - the first cut on or after d
        k_due = position(r["day"])
        k_made = 0 if r["made"] < m else position(r["made"])
        for k in range(k_made, k_due):
            want[u_ix[r["unit"]], b_ix[r["bucket"]], months.index(m), k] += r["cents"]
    assert np.array_equal(base.held, want) and want.sum() > 0



def test_the_forecast_of_every_group_at_once_equals_a_plain_loop_per_group() -> None:
    """forecast_rows forecasts all groups at once; each group equals the forecast worked out alone, month by month in
    plain Python: the past months that collected anything, each forecast from the others (by share and by level, not
    below what it had collected), the two weighed by their mean squared log errors, the spread widened for the
    number of months — on random curves with months that collected nothing and groups with too little history."""
    import numpy as np

    rng = np.random.default_rng(21)
    months = [month_start(D(2026, 6, 1), -i) for i in range(12, -1, -1)]
    days = {m: F.month_days(m, CHINA_CALENDAR) for m in months}
    month, past = months[-1], months[:-1][::-1]
    width = max(md.count for md in days.values()) + 3
    for trial in range(40):
        g = 30
        paid = np.cumsum(rng.gamma(0.4, 1e5, (g, 13, width)) * (rng.random((g, 13, width)) < 0.7), axis=2)
        pipe = rng.gamma(0.5, 2e5, (g, 13, width))
        total = paid[:, :, -1] + rng.normal(1e6, 2e6, (g, 13)) * (rng.random((g, 13)) < 0.9)
        total[rng.random((g, 13)) < 0.15] = 0.0  # months that collected nothing
        total[:3, :-1] = 0.0  # three groups with no history at all
        total[3, 2:-1] = 0.0  # one with two past months only
        # one whose first past month had collected nothing and held no promise by any cut, the others paid less
        # than their pipeline: that month's forecast from the others is 0, so it is left out of the spread
        paid[4], pipe[4], total[4] = 100.0, 1000.0, 150.0
        paid[4, -2], pipe[4, -2], total[4, -2] = 0.0, 0.0, 5.0
        c = F.Curves(days, {f"G{i}": i for i in range(g)}, {m: i for i, m in enumerate(months)}, paid, pipe, total)
        k = int(rng.integers(0, days[month].count + 1))
        collected, pipeline = rng.gamma(0.5, 1e6, g), rng.gamma(0.5, 2e5, g)
        got = F.forecast_rows(c, np.arange(g), month, k, collected, pipeline, past)
        for i in range(g):
            want = plain_forecast(c, i, month, k, collected[i], pipeline[i], past)
            assert bool(got.ok[i]) == (want is not None), (trial, i)
            if want is not None:
                have = (got.landing[i], got.low[i], got.high[i], got.sigma[i], got.history[i])
                assert have == pytest.approx(want, rel=1e-12, abs=1e-9), (trial, i)


def plain_forecast(c: F.Curves, g: int, month: dt.date, k: int, cum: float, pipe: float,
                   past: list[dt.date]) -> tuple | None:
    """One group's landing, low, high, sigma and months of history, the loop a reader would write."""
    w = c.days[month].count
    rows = []
    for h in past:
        t = c.total[g, c.months[h]]
        if t > 0:
            kh = min(c.days[h].count, round(k * c.days[h].count / w)) if w else 0
            rows.append((c.cum[g, c.months[h], kh], c.pipe[g, c.months[h], kh], t))
    n = len(rows)
    if n < F.MIN_HISTORY:
        return None

    def both(c_: float, q: float, idx: list[int]) -> tuple[float, float]:
        base, rest = sum(rows[j][0] for j in idx), sum(rows[j][2] - rows[j][0] - rows[j][1] for j in idx)
        mean = max(rest / len(idx), 0.0)
        return (c_ + q + (rest / base * c_ if c_ > 0 and base > 0 else mean)), c_ + q + mean

    loo = []
    for i in range(n):
        s, lv = both(rows[i][0], rows[i][1], [j for j in range(n) if j != i])
        loo.append((max(s, rows[i][0]), max(lv, rows[i][0])))
    ok = [i for i in range(n) if loo[i][0] > 0 and loo[i][1] > 0]
    mse = [sum(math.log(rows[i][2] / loo[i][j]) ** 2 for i in ok) / len(ok) if ok else 1.0 for j in (0, 1)]
    inv = [1 / max(e, 1e-12) for e in mse]
    wt = [x / sum(inv) for x in inv]
    s, lv = both(cum, pipe, list(range(n)))
    landing = max(wt[0] * s + wt[1] * lv, cum)
    errs = [math.log(rows[i][2] / (wt[0] * loo[i][0] + wt[1] * loo[i][1])) for i in ok]
    sigma = math.sqrt(sum(e * e for e in errs) / len(errs) * (1 + 1 / len(errs))) if errs else 0.0
    low = max(landing * math.exp(-F.Z80 * sigma), cum)
    return landing, low, max(landing * math.exp(F.Z80 * sigma), low), sigma, n


def test_kept_rates_equal_a_plain_sum_per_group() -> None:
    """The kept rate of each group, bucket and month (amount kept ÷ amount resolved of the promises due in the three
    months before) from the dense arrays equals a plain sum over the resolved promises: a group's bucket with fewer
    than MIN_KEPT_PROMISES takes the rate of all the groups; one with none, or nothing of amount, 0."""
    import numpy as np

    rng = np.random.default_rng(4)
    months = [month_start(D(2026, 6, 1), -i) for i in range(5, -1, -1)]
    d_ix, window = F._kept_window(months)
    n = 600
    units, buckets = [f"T{i}" for i in range(8)], ["M1", "M2", "M3"]
    res = pl.DataFrame({"unit": rng.choice(units, n).tolist(), "bucket": rng.choice(buckets, n).tolist(),
                        "due_month": rng.choice(list(d_ix), n).tolist(), "n": rng.integers(1, 12, n).tolist()})
    res = res.with_columns(res_=pl.Series(rng.integers(0, 10**6, n) * (rng.random(n) < 0.9)))
    res = res.with_columns(kept=(pl.col("res_") * pl.Series(rng.random(n))).round().cast(pl.Int64)).rename(
        {"res_": "res"})
    # the boundary: G0's M4 promises number MIN_KEPT_PROMISES in the window (its own rate), G1's one fewer (the
    # centre's rate)
    edge = [("T0", "M4", months[-1 - i], 10, 1000, 900) for i in range(1, 4)] + \
        [("T1", "M4", months[-2], 29, 1000, 100)]
    res = pl.concat([res, pl.DataFrame(edge, schema=res.schema, orient="row")])
    buckets.append("M4")
    group = {u: f"G{int(u[1:]) % 3}" for u in units[:-1]}  # T7 in no group
    names = sorted(set(group.values()))
    kept = np.zeros((3, len(names), len(buckets), len(d_ix)))
    for r in res.iter_rows(named=True):
        if r["unit"] in group:
            for s, col in enumerate(("kept", "res", "n")):
                kept[s, names.index(group[r["unit"]]), buckets.index(r["bucket"]), d_ix[r["due_month"]]] += r[col]
    got = F.kept_rates(kept, window)
    rows = [r for r in res.iter_rows(named=True) if r["unit"] in group]
    for gi, gname in enumerate(names):
        for bi, b in enumerate(buckets):
            for mi, m in enumerate(months):
                win = [r for r in rows if r["bucket"] == b and month_start(m, -3) <= r["due_month"] < m]
                own = [r for r in win if group[r["unit"]] == gname]
                pick = own if sum(r["n"] for r in own) >= F.MIN_KEPT_PROMISES else win
                amount = sum(r["res"] for r in pick)
                want = sum(r["kept"] for r in pick) / amount if own and amount else 0.0
                assert got[gi, bi, mi] == want, (gname, b, m)
    assert (got > 0).sum() > 20 and ((got > 0) & (got < 1)).any()


def test_the_base_sums_resolved_promises_by_unit_bucket_and_due_month() -> None:
    """build_base keeps the resolved promises (cents kept, cents resolved, count) by unit, bucket and due month for
    the due months some month's kept rate reads (the three before each), and which of them each month reads; a
    promise due earlier than any window is left out."""
    import numpy as np

    months = [D(2026, 3, 1), D(2026, 4, 1), D(2026, 5, 1)]
    rows = [("T1", "M1", D(2025, 12, 1), 70, 100, 2), ("T1", "M1", D(2025, 12, 1), 5, 10, 1),
            ("T2", "M2", D(2026, 4, 1), 0, 50, 3), ("T1", "M2", D(2026, 2, 1), 40, 40, 1),
            ("T2", "M1", D(2025, 11, 1), 9, 9, 9)]  # due before every window
    resolved = pl.DataFrame(rows, schema={"unit": pl.String, "bucket": pl.String, "due_month": pl.Date,
                                          "kept": pl.Int64, "res": pl.Int64, "n": pl.Int64}, orient="row")
    pays = pl.DataFrame(schema={"unit": pl.String, "bucket": pl.String, "day": pl.Date, "cents": pl.Int64})
    cuts = pl.DataFrame(schema={"unit": pl.String, "bucket": pl.String, "month": pl.Date, "k_made": pl.Int32,
                                "k_due": pl.Int32, "cents": pl.Int64})
    base = F.build_base(pays, cuts, resolved, months)
    due = [D(2025, 12, 1), D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1), D(2026, 4, 1)]
    assert base.window.tolist() == [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1]]
    u, b = {x: i for i, x in enumerate(base.units)}, {x: i for i, x in enumerate(base.buckets)}
    want = np.zeros((3, len(u), len(b), len(due)))
    want[:, u["T1"], b["M1"], 0] = [75, 110, 3]
    want[:, u["T2"], b["M2"], 4] = [0, 50, 3]
    want[:, u["T1"], b["M2"], 2] = [40, 40, 1]
    assert np.array_equal(base.kept, want)
