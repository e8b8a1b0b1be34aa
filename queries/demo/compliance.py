"""The demo centre's compliance record (DESIGN §3b, §4b): the optional contract parts, filled the way a real centre
fills them, and the breaches real centres commit.

Runs after everything else is drawn (its own random stream, so the other tables stay as they were):
- agencies: whitelisted years ago, except one whitelisted only nine months before the as-of day (it kept
  working before); evaluated within the year, except one whose last evaluation is over 14 months old;
- robot dialling: a share of the early-stage teams' calls are made by the predictive dialler (`is_robot`);
- recordings: connected calls carry a recording key, except a few, more often for aggressive agents and for
  the late-whitelisted agency;
- that agency also calls early in the morning, before 08:00, as the aggressive agents call after hours;
- negotiated repayment plans for cases that pleaded hardship; most agents stop calling a case with an active
  plan, aggressive agents keep calling.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

#: share of an early-stage team's calls made by the dialler
ROBOT_SHARE = 0.35
#: connected calls without a recording: everyone, aggressive agents, the late-whitelisted agency
UNRECORDED = (0.01, 0.08, 0.20)
#: share of the late-whitelisted agency's calls moved to after hours
AGENCY_AFTER_HOURS = 0.05
#: attempts during an active plan that a non-aggressive agent does not make (they stop calling)
PLAN_RESPECT = 0.9
#: share of cases that pleaded hardship which agree a plan
PLAN_TAKE_UP = 0.15


def add_compliance(sim: Any, out: Any) -> None:  # noqa: ANN401 - the simulation and its Portfolio
    """Add teams.whitelisted_on / evaluated_on, contacts.is_robot / recording_id and repayment_plans."""
    rng = np.random.default_rng([sim.scale.cases, 45251])
    as_of, first = sim.as_of, sim.months[0]
    teams = out.tables["teams"]
    agency = sorted(teams.filter(pl.col("channel") == "agency").get_column("team_id").to_list())
    inhouse = sorted(teams.filter(pl.col("channel") == "in_house").get_column("team_id").to_list())
    late_agency = agency[-1] if agency else None
    overdue_agency = agency[0] if agency else None
    white, evaluated = {}, {}
    for t in agency:
        white[t] = first - dt.timedelta(days=int(rng.integers(365, 4 * 365)))
        evaluated[t] = as_of - dt.timedelta(days=int(rng.integers(20, 300)))
    if late_agency is not None:
        white[late_agency] = as_of - dt.timedelta(days=270)
    if overdue_agency is not None:
        evaluated[overdue_agency] = as_of - dt.timedelta(days=430)
    out.tables["teams"] = teams.with_columns(
        pl.col("team_id").replace_strict(white, default=None, return_dtype=pl.Date).alias("whitelisted_on"),
        pl.col("team_id").replace_strict(evaluated, default=None, return_dtype=pl.Date).alias("evaluated_on"))

    org = sim.org
    agents = pl.DataFrame({"agent_id": org.agent_ids, "aggressive": org.agent_aggressive,
                           "team_id": [f"T{t + 1:02d}" for t in org.agent_team]})
    early = set(inhouse[: (len(inhouse) + 1) // 2])
    agents = agents.with_columns(pl.col("team_id").is_in(list(early)).alias("robot_team"),
                                 (pl.col("team_id") == late_agency).alias("late_agency"))
    c = out.tables["contacts"].join(agents.drop("team_id"), on="agent_id", how="left")
    n = c.height
    call = pl.col("channel") == "call"
    connected = call & ~pl.col("outcome").is_in(["no_answer", "busy", "wrong_number"])
    u1, u2, u3 = (pl.Series(rng.random(n)) for _ in range(3))
    # the late-whitelisted agency calls after hours too: a few calls moved to 06:30–08:00 the same day (earlier
    # than drawn, so nothing moves past the case's last update; promise calls stay at their promise's time)
    late_hours = pl.Series(rng.integers(6 * 3600 + 1800, 8 * 3600, n)).cast(pl.Int64)
    move = (call & pl.col("late_agency") & (pl.col("outcome") != "ptp") & (pl.lit(u3) < AGENCY_AFTER_HOURS)
            & (pl.col("contacted_at").dt.hour() >= 8))
    c = c.with_columns(
        pl.when(move).then(pl.col("contacted_at").dt.truncate("1d") + pl.duration(seconds=pl.lit(late_hours)))
        .otherwise(pl.col("contacted_at")).alias("contacted_at"),
        pl.when(move).then(False).otherwise(pl.col("debtor_consent_after_hours")).alias("debtor_consent_after_hours"),
        pl.when(call).then(pl.col("robot_team") & (pl.lit(u1) < ROBOT_SHARE)).otherwise(None).alias("is_robot"))
    miss = pl.when(pl.col("late_agency")).then(UNRECORDED[2]).when(pl.col("aggressive")).then(UNRECORDED[1]) \
        .otherwise(UNRECORDED[0])
    plans = _plans(rng, out, as_of)
    # during an active plan most agents stop calling; aggressive ones do not
    during = c.select("case_id", "contacted_at").with_row_index("_r").join(
        plans.select("case_id", "agreed_on", "ended_on"), on="case_id", how="inner").filter(
        (pl.col("contacted_at").dt.date() > pl.col("agreed_on"))
        & (pl.col("ended_on").is_null() | (pl.col("contacted_at").dt.date() < pl.col("ended_on"))))
    rows = during.get_column("_r").unique()
    drop = c.with_row_index("_r").filter(
        pl.col("_r").is_in(rows.implode()) & pl.col("channel").is_in(["call", "visit"]) & ~pl.col("aggressive")
        & (pl.col("outcome") != "ptp") & (pl.lit(u2) < PLAN_RESPECT)).get_column("_r")  # promises keep their call
    c = c.with_row_index("_r").filter(~pl.col("_r").is_in(drop.implode())).drop("_r")
    u1 = pl.Series(rng.random(c.height))
    c = c.with_columns(pl.when(connected & ~(pl.lit(u1) < miss)).then(
        pl.format("REC{}", pl.col("contact_id"))).otherwise(None).alias("recording_id"))
    cols = [*out.tables["contacts"].columns, "is_robot", "recording_id"]
    c = c.select(cols).drop("contact_id").sort("contacted_at", "case_id")
    out.tables["contacts"] = c.select(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("contact_id"), pl.all())
    out.tables["repayment_plans"] = plans


def _plans(rng: np.random.Generator, out: Any, as_of: dt.date) -> pl.DataFrame:  # noqa: ANN401
    """Repayment plans of cases that pleaded hardship: agreed on the day of their last hardship contact."""
    hard = out.tables["contacts"].filter(pl.col("outcome") == "hardship").group_by("case_id").agg(
        pl.col("contacted_at").max().dt.date().alias("agreed_on"), pl.col("agent_id").last())
    hard = hard.sort("case_id")
    hard = hard.filter(pl.Series(rng.random(hard.height)) < PLAN_TAKE_UP)
    cases = out.tables["cases"].select("case_id", "status", "placed_balance_cents")
    p = hard.join(cases, on="case_id", how="left")
    k = p.height
    months = pl.Series(rng.integers(3, 25, k))
    ends = pl.Series(rng.integers(20, 150, k))
    fate = pl.Series(rng.choice(3, size=k, p=[0.55, 0.35, 0.10]))  # active, broken, cancelled
    end = pl.col("agreed_on") + pl.duration(days=pl.lit(ends))
    closed = pl.col("status").is_in(["paid_off", "settled"])
    status = (pl.when(closed).then(pl.lit("completed")).when(pl.lit(fate) == 0).then(pl.lit("active"))
              .when(end > as_of).then(pl.lit("active")).when(pl.lit(fate) == 1).then(pl.lit("broken"))
              .otherwise(pl.lit("cancelled")))
    p = p.with_columns(status.alias("status"), months.alias("months"))
    p = p.with_columns(pl.when(pl.col("status") == "active").then(None)
                       .otherwise(pl.min_horizontal(end, pl.lit(as_of))).alias("ended_on"))
    return p.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("plan_id"), "case_id", "agent_id", "agreed_on",
        pl.col("months").cast(pl.Int32),
        (pl.col("placed_balance_cents") // pl.col("months")).cast(pl.Int64).alias("monthly_amount_cents"),
        "status", "ended_on",
        pl.coalesce(pl.col("ended_on"), pl.col("agreed_on")).cast(pl.Datetime("us")).dt.offset_by("18h")
        .alias("updated_at"))
