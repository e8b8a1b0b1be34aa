"""The demo centre's compliance record (DESIGN §3b, §4b): the optional contract parts, filled the way a real centre
fills them, and the breaches real centres commit.

Drawn month by month alongside the simulation (its own random streams, so the other tables stay as they were):
- agencies: whitelisted years ago, except one whitelisted only nine months before the as-of day (it kept
  working before); evaluated within the year, except one whose last evaluation is over 14 months old;
- robot dialling: a share of the early-stage teams' calls are made by the predictive dialler (`is_robot`);
- recordings: connected calls carry a recording key, except a few, more often for aggressive agents and for
  the late-whitelisted agency;
- that agency also calls early in the morning, before 08:00, as the aggressive agents call after hours;
- negotiated repayment plans for some cases that plead hardship, agreed on the day of their last hardship contact
  in the first month they plead it; most agents stop calling a case with an active plan, aggressive agents keep
  calling.
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


class Compliance:
    """The compliance draws of one simulation: team columns, each month's contacts, the plans (O(cases) state)."""

    def __init__(self, sim: Any) -> None:  # noqa: ANN401 - the simulation (queries.demo.simulate._Sim)
        self.seed, self.as_of, self.first = sim.seed, sim.as_of, sim.months[0]
        org = sim.org
        teams = org.teams
        self.agency = sorted(teams.filter(pl.col("channel") == "agency").get_column("team_id").to_list())
        inhouse = sorted(teams.filter(pl.col("channel") == "in_house").get_column("team_id").to_list())
        late_agency = self.agency[-1] if self.agency else None
        early = set(inhouse[: (len(inhouse) + 1) // 2])
        team_ids = pl.Series([f"T{t + 1:02d}" for t in org.agent_team])
        self.agents = pl.DataFrame({"agent_id": org.agent_ids, "aggressive": org.agent_aggressive,
                                    "robot_team": team_ids.is_in(list(early)), "late_agency": team_ids == late_agency})
        self.rng = np.random.default_rng([sim.seed, 2, 0])
        n = sim.scale.cases
        self.takes_plan = self.rng.random(n) < PLAN_TAKE_UP  # whether the case agrees a plan once it pleads hardship
        self.agreed = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
        self.plan_end = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
        self.plan_fate = np.zeros(n, np.int8)  # active, broken, cancelled
        self.plan_months = np.zeros(n, np.int32)
        self.plan_agent = np.full(n, "", dtype=org.agent_ids.dtype)

    def teams(self, teams: pl.DataFrame) -> pl.DataFrame:
        """Add teams.whitelisted_on / evaluated_on to the agencies."""
        rng, as_of = self.rng, self.as_of
        white, evaluated = {}, {}
        for t in self.agency:
            white[t] = self.first - dt.timedelta(days=int(rng.integers(365, 4 * 365)))
            evaluated[t] = as_of - dt.timedelta(days=int(rng.integers(20, 300)))
        if self.agency:
            white[self.agency[-1]] = as_of - dt.timedelta(days=270)
            evaluated[self.agency[0]] = as_of - dt.timedelta(days=430)
        return teams.with_columns(
            pl.col("team_id").replace_strict(white, default=None, return_dtype=pl.Date).alias("whitelisted_on"),
            pl.col("team_id").replace_strict(evaluated, default=None, return_dtype=pl.Date).alias("evaluated_on"))

    def month(self, m: int, contacts: pl.DataFrame, first_id: int) -> pl.DataFrame:
        """One month's contacts with is_robot / recording_id and the breaches, in time order, ids from `first_id`.

        The month's frame is the generator's largest: it is copied once (one gather that drops and orders the rows)
        and the caller keeps no other reference to it.
        """
        rng = np.random.default_rng([self.seed, 2, m + 1])
        columns = contacts.columns
        n = contacts.height
        u1, u2, u3 = (pl.Series(rng.random(n)) for _ in range(3))
        # the late-whitelisted agency calls after hours too: a few calls moved to 06:30–08:00 the same day (earlier
        # than drawn, so nothing moves past the case's last update; promise calls stay at their promise's time)
        late_hours = pl.Series(rng.integers(6 * 3600 + 1800, 8 * 3600, n)).cast(pl.Int64)
        self._new_plans(rng, contacts)
        # during an active plan most agents stop calling; aggressive ones do not; promises keep their call (a moved
        # call keeps its day, so this is read before the move)
        case0 = contacts.get_column("case_id").to_numpy() - 1
        day = contacts.get_column("contacted_at").to_numpy().astype("datetime64[D]")
        agreed, end = self.agreed[case0], self.plan_end[case0]
        during = ~np.isnat(agreed) & (day > agreed) & ((self.plan_fate[case0] == 0) | (day < end))
        del case0, day, agreed, end
        c = contacts.join(self.agents, on="agent_id", how="left")
        del contacts
        call = pl.col("channel") == "call"
        move = (call & pl.col("late_agency") & (pl.col("outcome") != "ptp") & (pl.lit(u3) < AGENCY_AFTER_HOURS)
                & (pl.col("contacted_at").dt.hour() >= 8))
        c = c.with_columns(
            pl.when(move).then(pl.col("contacted_at").dt.truncate("1d") + pl.duration(seconds=pl.lit(late_hours)))
            .otherwise(pl.col("contacted_at")).alias("contacted_at"),
            pl.when(move).then(False).otherwise(pl.col("debtor_consent_after_hours"))
            .alias("debtor_consent_after_hours"),
            pl.when(call).then(pl.col("robot_team") & (pl.lit(u1) < ROBOT_SHARE)).otherwise(None).alias("is_robot"))
        drop = c.select(pl.lit(pl.Series(during)) & pl.col("channel").is_in(["call", "visit"]) & ~pl.col("aggressive")
                        & (pl.col("outcome") != "ptp") & (pl.lit(u2) < PLAN_RESPECT)).to_series().to_numpy()
        kept = np.flatnonzero(~drop)
        times = c.get_column("contacted_at").to_numpy().view(np.int64)[kept]
        kept = kept[np.lexsort((c.get_column("case_id").to_numpy()[kept], times))]  # stable: ties keep their order
        del times, drop
        c = c[pl.Series(kept)]
        c = c.with_columns(pl.int_range(first_id, first_id + pl.len(), dtype=pl.Int64).alias("contact_id"))
        connected = call & ~pl.col("outcome").is_in(["no_answer", "busy", "wrong_number"])
        miss = pl.when(pl.col("late_agency")).then(UNRECORDED[2]).when(pl.col("aggressive")).then(UNRECORDED[1]) \
            .otherwise(UNRECORDED[0])
        u1 = pl.Series(rng.random(c.height))
        c = c.with_columns(pl.when(connected & ~(pl.lit(u1) < miss)).then(
            pl.format("REC{}", pl.col("contact_id"))).otherwise(None).alias("recording_id"))
        return c.select("contact_id", *columns, "is_robot", "recording_id")

    def _new_plans(self, rng: np.random.Generator, contacts: pl.DataFrame) -> None:
        """Plans agreed this month: cases that plead hardship for the first time and take one up."""
        hard = contacts.filter(pl.col("outcome") == "hardship").group_by("case_id").agg(
            pl.col("contacted_at").max().dt.date().alias("agreed_on"),
            pl.col("agent_id").sort_by("contacted_at").last()).sort("case_id")
        idx = hard.get_column("case_id").to_numpy() - 1
        new = self.takes_plan[idx] & np.isnat(self.agreed[idx])
        idx, k = idx[new], int(new.sum())
        self.agreed[idx] = hard.get_column("agreed_on").to_numpy()[new]
        self.plan_agent[idx] = hard.get_column("agent_id").to_numpy()[new]
        self.plan_months[idx] = rng.integers(3, 25, k)
        self.plan_end[idx] = self.agreed[idx] + rng.integers(20, 150, k).astype("timedelta64[D]")
        self.plan_fate[idx] = rng.choice(3, size=k, p=[0.55, 0.35, 0.10])

    def plans(self, cases: pl.DataFrame) -> pl.DataFrame:
        """The repayment_plans table, by case, once the cases' final status is known."""
        idx = np.flatnonzero(~np.isnat(self.agreed))
        p = pl.DataFrame({"case_id": idx + 1, "agent_id": self.plan_agent[idx], "agreed_on": self.agreed[idx],
                          "months": self.plan_months[idx], "fate": self.plan_fate[idx],
                          "end": self.plan_end[idx]}).join(
            cases.select("case_id", "status", "placed_balance_cents"), on="case_id", how="left")
        as_of, fate, end = self.as_of, pl.col("fate"), pl.col("end")
        closed = pl.col("status").is_in(["paid_off", "settled"])
        status = (pl.when(closed).then(pl.lit("completed")).when(fate == 0).then(pl.lit("active"))
                  .when(end > as_of).then(pl.lit("active")).when(fate == 1).then(pl.lit("broken"))
                  .otherwise(pl.lit("cancelled")))
        p = p.with_columns(status.alias("status"))
        p = p.with_columns(pl.when(pl.col("status") == "active").then(None)
                           .otherwise(pl.min_horizontal(end, pl.lit(as_of))).alias("ended_on"))
        return p.select(
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("plan_id"), "case_id", "agent_id", "agreed_on",
            pl.col("months").cast(pl.Int32),
            (pl.col("placed_balance_cents") // pl.col("months")).cast(pl.Int64).alias("monthly_amount_cents"),
            "status", "ended_on",
            pl.coalesce(pl.col("ended_on"), pl.col("agreed_on")).cast(pl.Datetime("us")).dt.offset_by("18h")
            .alias("updated_at"))
