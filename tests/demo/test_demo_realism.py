"""The demo centre must behave like a real collection centre; a regression in realism fails here."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest
from fixtures_demo import AS_OF

from queries.dates import month_start
from queries.demo import SCALES, generate
from queries.demo.calendar import SPRING_FESTIVAL
from queries.demo.people import id_number_ok, luhn_ok

RIGHT_PARTY = ["rpc", "ptp", "refused", "dispute", "hardship", "callback"]


def bucket(col: str) -> pl.Expr:
    """M0 … M7+ from DPD with the default bounds, written out plainly."""
    d = pl.col(col)
    return (pl.when(d <= 0).then(pl.lit("M0")).when(d <= 30).then(pl.lit("M1")).when(d <= 60).then(pl.lit("M2"))
            .when(d <= 90).then(pl.lit("M3")).when(d <= 120).then(pl.lit("M4")).when(d <= 150).then(pl.lit("M5"))
            .when(d <= 180).then(pl.lit("M6")).otherwise(pl.lit("M7+")))


@pytest.fixture(scope="module")
def t(demo_portfolio):  # noqa: ANN001, ANN201
    return demo_portfolio.tables


@pytest.fixture(scope="module")
def transitions(t) -> pl.DataFrame:  # noqa: ANN001
    """Every case in a snapshot joined to its bucket at the next snapshot ('closed' if absent)."""
    s = t["balance_snapshots"].with_columns(bucket("dpd").alias("b"))
    days = sorted(s["snapshot_on"].unique().to_list())
    nxt = {a: b for a, b in zip(days[:-1], days[1:], strict=True)}
    frm = s.filter(pl.col("snapshot_on") != days[-1]).with_columns(
        pl.col("snapshot_on").replace_strict(nxt, return_dtype=pl.Date).alias("next_on"))
    to = s.select(pl.col("snapshot_on").alias("next_on"), "case_id", pl.col("b").alias("to"))
    return frm.join(to, on=["next_on", "case_id"], how="left").with_columns(pl.col("to").fill_null("closed"))


def _rate(tr: pl.DataFrame, frm: str, to: str, weight: str | None = None) -> float:
    sub = tr.filter(pl.col("b") == frm)
    w = sub[weight] if weight else pl.Series([1] * sub.height)
    return float(w.filter(sub["to"] == to).sum() / w.sum())


def test_history_covers_thirteen_months_up_to_as_of(t) -> None:  # noqa: ANN001
    snaps = t["balance_snapshots"]["snapshot_on"].unique()
    assert snaps.len() >= 13
    assert snaps.min() <= month_start(AS_OF, -12) - dt.timedelta(days=1)
    end = dt.datetime.combine(AS_OF, dt.time(23, 59, 59))
    # Events start in the first month (complaints are rare, so within its month rather than its first week).
    for name, col, within in (("payments", "paid_at", 7), ("contacts", "contacted_at", 7),
                              ("promises", "promised_at", 7), ("complaints", "received_at", 31)):
        assert t[name][col].max() <= end, name
        assert t[name][col].min() < dt.datetime.combine(month_start(AS_OF, -12) + dt.timedelta(days=within),
                                                        dt.time()), name
    assert t["cases"].height == SCALES["demo"].cases
    assert t["agents"].height == SCALES["demo"].agents
    assert t["teams"].height == 8 and (t["teams"]["channel"] == "agency").sum() == 2


def test_roll_rates_are_in_realistic_ranges(transitions) -> None:  # noqa: ANN001
    for weight in (None, "balance_cents"):
        assert 0.20 <= _rate(transitions, "M1", "M2", weight) <= 0.40
        assert 0.60 <= _rate(transitions, "M3", "M4", weight) <= 0.85


def test_some_cases_cure_settle_go_legal_or_are_written_off(t, transitions) -> None:  # noqa: ANN001
    assert _rate(transitions, "M1", "M0") > 0.2
    assert _rate(transitions, "M4", "M0") > 0.0
    statuses = dict(t["cases"].group_by("status").len().iter_rows())
    for status in ("active", "paid_off", "settled", "legal", "written_off"):
        assert statuses.get(status, 0) > 0.01 * t["cases"].height, status


def test_repayment_likelihood_falls_with_bucket(t) -> None:  # noqa: ANN001
    s = t["balance_snapshots"].with_columns(bucket("dpd").alias("b"),
                                            (pl.col("snapshot_on") + dt.timedelta(days=1)).alias("month"))
    paid = t["payments"].select("case_id", pl.col("paid_at").dt.date().dt.truncate("1mo").alias("month")).unique()
    share = (s.join(paid.with_columns(pl.lit(True).alias("paid")), on=["case_id", "month"], how="left")
             .group_by("b").agg(pl.col("paid").fill_null(False).mean()).sort("b"))
    p = dict(share.iter_rows())
    chain = ["M1", "M2", "M3", "M4", "M6", "M7+"]
    assert all(p[a] > p[b] for a, b in zip(chain[:-1], chain[1:], strict=True)), p


def test_agents_differ_in_skill_and_style(t) -> None:  # noqa: ANN001
    att = t["contacts"].filter(pl.col("channel").is_in(["call", "visit"]))
    per_agent = (att.group_by("agent_id").agg(
        pl.len().alias("attempts"),
        (pl.col("contacted_at").dt.hour().is_in([22, 23, 0, 1, 2, 3, 4, 5, 6, 7])
         & ~pl.col("debtor_consent_after_hours")).sum().alias("after_hours"),
        (pl.col("party") == "third_party").sum().alias("third_party"))
        .join(t["payments"].group_by("agent_id").agg(pl.col("amount_cents").sum().alias("cents")), on="agent_id")
        .join(t["complaints"].group_by("agent_id").agg(pl.len().alias("complaints")), on="agent_id", how="left")
        .with_columns(pl.col("complaints").fill_null(0), (pl.col("cents") / pl.col("attempts")).alias("yield_"))
        .sort("after_hours", descending=True))
    # Results per attempt spread widely: some agents are far more effective than others.
    assert per_agent["yield_"].quantile(0.9) > 2 * per_agent["yield_"].quantile(0.1)
    # Busy but ineffective: above-median effort with bottom-quartile yield.
    busy = per_agent.filter((pl.col("attempts") > pl.col("attempts").median())
                            & (pl.col("yield_") < pl.col("yield_").quantile(0.25)))
    assert busy.height >= 3
    # A few aggressive agents make most after-hours calls and draw more complaints per attempt.
    top = per_agent.head(max(3, per_agent.height // 10))
    rest = per_agent.slice(top.height)
    assert top["after_hours"].sum() > 0.5 * per_agent["after_hours"].sum()
    assert top["third_party"].sum() / top["attempts"].sum() > 1.5 * rest["third_party"].sum() / rest["attempts"].sum()
    # about 50 complaints at demo scale: over seeds 7–15 this ratio spread 1.0–5.1 before the generator streamed
    # (1.6–4.1 after): 2× failed on the seed's luck, 1.5× is what ~50 complaints can show
    assert top["complaints"].sum() / top["attempts"].sum() > 1.5 * rest["complaints"].sum() / rest["attempts"].sum()


def test_payments_follow_weekdays_pay_days_and_spring_festival(t) -> None:  # noqa: ANN001
    days = pl.date_range(month_start(AS_OF, -12), AS_OF, "1d", eager=True).alias("day")
    daily = (pl.DataFrame(days).join(t["payments"].group_by(pl.col("paid_at").dt.date().alias("day")).len(),
                                     on="day", how="left")
             .with_columns(pl.col("len").fill_null(0), pl.col("day").dt.weekday().alias("wd"),
                           pl.col("day").dt.day().alias("dom")))
    weekday = daily.filter(pl.col("wd") <= 5)
    assert daily.filter(pl.col("wd") == 7)["len"].mean() < 0.6 * weekday["len"].mean()
    pay_day = weekday.filter(pl.col("dom").is_in([10, 15]))["len"].mean()
    plain = weekday.filter(~pl.col("dom").is_in([5, 6, 10, 11, 15, 16, 25, 26]) & (pl.col("dom") < 28))["len"].mean()
    assert pay_day > 1.2 * plain
    fest = SPRING_FESTIVAL[2026]
    festival = daily.filter(pl.col("day").is_between(fest, fest + dt.timedelta(days=6)))["len"].mean()
    january = daily.filter(pl.col("day").is_between(dt.date(2026, 1, 5), dt.date(2026, 1, 30)))["len"].mean()
    assert festival < 0.5 * january


def test_ptp_kept_rate_and_contact_funnel(t) -> None:  # noqa: ANN001
    st = t["promises"].filter(pl.col("status") != "pending")["status"]
    kept = (st == "kept").sum() / st.len()
    assert 0.45 <= kept <= 0.65
    assert (t["promises"]["status"] == "pending").sum() > 0
    att = t["contacts"].filter(pl.col("channel").is_in(["call", "visit"]))
    rpc = att.filter((pl.col("party") == "debtor") & pl.col("outcome").is_in(RIGHT_PARTY))
    assert 0.15 < rpc.height / att.height < 0.45
    assert 0.1 < (att["outcome"] == "ptp").sum() / rpc.height < 0.5
    # Every promise is backed by a PTP contact at the moment it was made.
    ptp = att.filter(pl.col("outcome") == "ptp").select("case_id", pl.col("contacted_at").alias("promised_at"))
    assert t["promises"].join(ptp, on=["case_id", "promised_at"], how="anti").height == 0


def test_complaints_are_a_few_per_ten_thousand_worked_cases(t) -> None:  # noqa: ANN001
    att = t["contacts"].filter(pl.col("channel").is_in(["call", "visit"]))
    worked = att.select("case_id", pl.col("contacted_at").dt.truncate("1mo").alias("m")).unique().height
    per_10k = t["complaints"].height / worked * 10_000
    assert 1.0 <= per_10k <= 10.0, per_10k
    src = t["complaints"]["source"]
    assert (src == "regulator_12378").sum() >= 3
    assert (t["complaints"]["status"] == "open").sum() > 0
    resolved = t["complaints"].filter(pl.col("status") == "resolved")
    assert (resolved["resolved_at"] > resolved["received_at"]).all()
    assert t["complaints"].filter(pl.col("status") == "open")["substantiated"].null_count() == \
        (t["complaints"]["status"] == "open").sum()


def test_some_teams_meet_targets_and_some_miss(t) -> None:  # noqa: ANN001
    collected = (t["payments"].join(t["agents"].select("agent_id", "team_id"), on="agent_id")
                 .group_by("team_id", pl.col("paid_at").dt.date().dt.truncate("1mo").alias("month"))
                 .agg(pl.col("amount_cents").sum()))
    done = t["targets"].filter(pl.col("month") < month_start(AS_OF)).join(collected, on=["team_id", "month"])
    met = done.with_columns((pl.col("amount_cents") >= pl.col("target_amount_cents")).alias("met"))
    assert 0.2 < met["met"].mean() < 0.8
    per_team = met.group_by("team_id").agg(pl.col("met").mean())
    assert (per_team["met"] >= 0.6).any() and (per_team["met"] <= 0.4).any()


def test_personal_data_is_fake_but_well_formed(t) -> None:  # noqa: ANN001
    cases = t["cases"]
    assert all(id_number_ok(x) for x in cases["id_number"].head(2000))
    assert all(luhn_ok(x) for x in cases["account_no"].head(2000))
    assert cases["account_no"].n_unique() == cases.height
    assert cases["phone"].str.contains(r"^1[3-9]\d{9}$").all()
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", n) for n in cases["customer_name"])
    assert cases["region"].n_unique() >= 25  # provinces


def test_events_are_consistent_with_cases(t) -> None:  # noqa: ANN001
    placed = t["cases"].select("case_id", "placed_on", "phone")
    for name, col in (("payments", "paid_at"), ("contacts", "contacted_at"), ("promises", "promised_at")):
        early = t[name].join(placed, on="case_id").filter(pl.col(col).dt.date() < pl.col("placed_on"))
        assert early.height == 0, name
    debtor_calls = t["contacts"].filter((pl.col("channel") == "call") & (pl.col("party") == "debtor"))
    assert (debtor_calls.join(placed, on="case_id")["phone_no"] == debtor_calls.join(placed, on="case_id")["phone"]).all()
    snaps = t["balance_snapshots"]
    assert snaps.select("snapshot_on", "case_id").is_unique().all()
    assert (snaps["balance_cents"] >= 0).all()
    assert (t["payments"]["amount_cents"] > 0).all()
    ids = t["contacts"]["contact_id"]
    assert ids.is_sorted() and t["contacts"]["contacted_at"].is_sorted()  # append-only: ids rise with time


def test_volume_per_case_extrapolates_to_bank_scale(t) -> None:  # noqa: ANN001
    per_case_year = 12 / 13 / t["cases"].height * SCALES["bank"].cases
    attempts = t["contacts"].filter(pl.col("channel").is_in(["call", "visit"])).height * per_case_year
    payments = t["payments"].height * per_case_year
    assert 15e6 <= attempts <= 25e6, attempts
    assert 2.2e6 <= payments <= 4e6, payments


def test_same_seed_same_data_other_seed_other_data(demo_portfolio) -> None:  # noqa: ANN001
    again = generate("demo", seed=7, as_of=AS_OF)
    for name, df in demo_portfolio.tables.items():
        assert df.equals(again.tables[name]), name
    other = generate("demo", seed=8, as_of=AS_OF)
    assert not other.tables["payments"].equals(demo_portfolio.tables["payments"])
