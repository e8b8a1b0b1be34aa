"""The compliance-weighted scorecard's arithmetic (2011 credit-card measures Art. 66), pinned on hand-made rows with
hand-worked answers and cross-checked against a row-by-row computation on random rows."""

from __future__ import annotations

import random

import polars as pl
import pytest

from queries.dates import previous_period
from queries.views.compliance import weighted_ranks

W = {"recovery": 0.4, "breaches": 0.35, "complaints": 0.25}


def _rows(data: list[tuple[str, float, float, float]]) -> pl.DataFrame:
    return pl.DataFrame([{"who_id": w, "who_name": w.lower(), "team_id": "T", "recovery_rate": r, "breach_rate": b,
                          "complaint_rate": c} for w, r, b, c in data])


def test_hand_worked_ranks_and_the_change_against_recovery_alone() -> None:
    # A recovers most but breaches most; B recovers less and breaks nothing much; C is worst at recovery.
    out = weighted_ranks(_rows([("A", 0.30, 10.0, 5.0), ("B", 0.20, 1.0, 0.0), ("C", 0.10, 5.0, 10.0)]), W)
    got = {r["who_id"]: r for r in out.iter_rows(named=True)}
    # percentiles (1 = best) among three: A recovery 1, breaches 0, complaints .5; B .5, 1, 1; C 0, .5, 0
    assert (got["A"]["p_recovery"], got["A"]["p_breaches"], got["A"]["p_complaints"]) == (1.0, 0.0, 0.5)
    assert (got["B"]["p_recovery"], got["B"]["p_breaches"], got["B"]["p_complaints"]) == (0.5, 1.0, 1.0)
    assert got["A"]["score"] == pytest.approx(0.4 * 1 + 0.35 * 0 + 0.25 * 0.5)  # .525
    assert got["B"]["score"] == pytest.approx(0.4 * 0.5 + 0.35 * 1 + 0.25 * 1)  # .8
    assert got["C"]["score"] == pytest.approx(0.35 * 0.5)  # .175
    assert out.get_column("who_id").to_list() == ["B", "A", "C"]
    assert [(got[w]["rank"], got[w]["recovery_rank"], got[w]["rank_change"]) for w in "ABC"] == \
        [(2, 1, -1), (1, 2, 1), (3, 3, 0)]


def test_compliance_outweighs_recovery_by_default() -> None:
    """Art. 66: the best recoverer with the worst breach and complaint rates does not come first."""
    out = weighted_ranks(_rows([("TOP", 0.9, 50.0, 40.0), ("CLEAN", 0.5, 0.0, 0.0)]), W)
    assert out.get_column("who_id").to_list() == ["CLEAN", "TOP"]
    assert W["breaches"] + W["complaints"] > W["recovery"]


def test_ties_share_a_rank_and_one_row_scores_one() -> None:
    out = weighted_ranks(_rows([("A", 0.2, 3.0, 1.0), ("B", 0.2, 3.0, 1.0)]), W)
    assert out.get_column("rank").to_list() == [1, 1]
    assert out.get_column("p_recovery").to_list() == [0.5, 0.5]  # average rank 1.5: (1.5 − 1) / (2 − 1)
    one = weighted_ranks(_rows([("A", 0.2, 3.0, 1.0)]), W)
    assert one.row(0, named=True)["score"] == 1.0 and one.row(0, named=True)["rank"] == 1


def test_weights_without_complaints_use_the_rest() -> None:
    out = weighted_ranks(_rows([("A", 0.3, 2.0, 0.0), ("B", 0.1, 1.0, 0.0)]), {"recovery": 0.4, "breaches": 0.35})
    a = out.filter(pl.col("who_id") == "A").row(0, named=True)
    assert a["score"] == pytest.approx((0.4 * 1 + 0.35 * 0) / 0.75)


def _pct(values: list[float], i: int, higher_better: bool) -> float:
    """Percentile rank of values[i] (average rank among ties), 1 = best, computed row by row."""
    n = len(values)
    if n == 1:
        return 1.0
    v = values[i] if higher_better else -values[i]
    keyed = [x if higher_better else -x for x in values]
    below = sum(1 for x in keyed if x < v)
    same = sum(1 for x in keyed if x == v)
    return (below + (same + 1) / 2 - 1) / (n - 1)


@pytest.mark.parametrize("seed", range(5))
def test_random_rows_agree_with_a_row_by_row_computation(seed: int) -> None:
    rnd = random.Random(seed)
    n = rnd.randint(2, 30)
    data = [(f"A{i:02d}", rnd.choice([0.0, 0.1, 0.2, rnd.random()]), float(rnd.randint(0, 5)),
             float(rnd.randint(0, 3))) for i in range(n)]
    out = {r["who_id"]: r for r in weighted_ranks(_rows(data), W).iter_rows(named=True)}
    rec, br, co = ([d[k] for d in data] for k in (1, 2, 3))
    scores = {}
    for i, d in enumerate(data):
        s = (W["recovery"] * _pct(rec, i, True) + W["breaches"] * _pct(br, i, False)
             + W["complaints"] * _pct(co, i, False)) / sum(W.values())
        scores[d[0]] = s
        assert out[d[0]]["score"] == pytest.approx(s)
    for i, d in enumerate(data):
        rank = 1 + sum(1 for s in scores.values() if s > scores[d[0]] + 1e-12)
        rrank = 1 + sum(1 for r in rec if r > rec[i])
        assert (out[d[0]]["rank"], out[d[0]]["recovery_rank"]) == (rank, rrank)
        assert out[d[0]]["rank_change"] == rrank - rank


def test_previous_period_has_the_same_length_and_ends_the_day_before() -> None:
    import datetime as dt

    assert previous_period(dt.date(2026, 11, 1), dt.date(2026, 11, 22)) == (dt.date(2026, 10, 10),
                                                                           dt.date(2026, 10, 31))
    assert previous_period(dt.date(2026, 3, 1), dt.date(2026, 3, 1)) == (dt.date(2026, 2, 28), dt.date(2026, 2, 28))
