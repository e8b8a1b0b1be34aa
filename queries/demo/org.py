"""The demo collection centre's organisation: teams, agents, their skill and style, and seats."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from queries.dates import month_start
from queries.demo.people import chinese_names

STAGES = ("early", "mid", "agency")  # early: M0–M1, mid: M2–M3, agency: M4 and later
STAGE_SHARE = (0.45, 0.30, 0.25)  # share of seats per stage, by workload
SITES = ("上海", "成都", "武汉", "西安", "合肥", "长沙", "天津", "大连", "南京", "郑州")
AGENCIES = (
    ("华信资产管理有限公司", "深圳"), ("中诚信合商务咨询有限公司", "广州"), ("鼎盛金融外包服务有限公司", "杭州"),
    ("恒泰信用管理有限公司", "济南"), ("瑞丰商务服务有限公司", "重庆"),
)
# style: (share, skill range, effort multiplier)
STYLES = {
    "effective": (0.22, (1.15, 1.40), 1.0),
    "steady": (0.50, (0.90, 1.10), 1.0),
    "busy_ineffective": (0.16, (0.55, 0.80), 1.7),
    "aggressive": (0.12, (0.95, 1.15), 2.0),
}


@dataclass
class Organisation:
    """Teams and agents tables plus per-seat arrays the simulation needs."""

    teams: pl.DataFrame
    agents: pl.DataFrame
    seat_stage: np.ndarray  # stage index per seat
    seat_agent: np.ndarray  # (seats, months) agent index holding the seat that month
    agent_skill: np.ndarray  # per agent index
    agent_effort: np.ndarray
    agent_aggressive: np.ndarray  # bool
    agent_busy: np.ndarray  # bool: busy but ineffective, many broken promises
    agent_ids: np.ndarray  # str per agent index
    agent_team: np.ndarray  # team index per agent index
    team_bias: np.ndarray  # > 1: the team tends to beat its target


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def build_organisation(rng: np.random.Generator, n_teams: int, n_agency_teams: int, n_agents: int,
                       months: list[dt.date]) -> Organisation:
    """Teams per stage, seats per team, agents (with leavers and their successors) per seat."""
    n_inhouse = n_teams - n_agency_teams
    n_early = (n_inhouse + 1) // 2
    team_stage = [0] * n_early + [1] * (n_inhouse - n_early) + [2] * n_agency_teams
    n_seats = round(n_agents / 1.1)
    n_leavers = n_agents - n_seats
    stage_seats = [max(round(n_seats * s), sum(1 for t in team_stage if t == i) * 2)
                   for i, s in enumerate(STAGE_SHARE)]
    stage_seats[0] += n_seats - sum(stage_seats)

    team_rows, seat_team = [], []
    for stage in range(3):
        stage_teams = [i for i, t in enumerate(team_stage) if t == stage]
        for team_idx, size in zip(stage_teams, _split(stage_seats[stage], len(stage_teams)), strict=True):
            seat_team += [team_idx] * size
    seat_team_arr = np.array(seat_team)
    seat_stage = np.array([team_stage[t] for t in seat_team])

    # Seats keep their first agent unless that agent leaves at a month end; a successor takes over.
    n_months = len(months)
    leaver_seats = rng.choice(n_seats, size=n_leavers, replace=False) if n_leavers else np.array([], int)
    leave_month = rng.integers(1, max(n_months - 1, 2), size=n_leavers)
    seat_agent = np.repeat(np.arange(n_seats)[:, None], n_months, axis=1)
    agent_seat = list(range(n_seats))
    hired = [None] * n_seats
    left = [None] * n_seats
    first = months[0]
    for k, (seat, lm) in enumerate(zip(leaver_seats, leave_month, strict=True)):
        successor = n_seats + k
        agent_seat.append(int(seat))
        left[seat] = month_start(months[lm], 1) - dt.timedelta(days=1)
        hired.append(month_start(months[lm], 1) - dt.timedelta(days=int(rng.integers(7, 21))))
        left.append(None)
        seat_agent[seat, lm + 1:] = successor
    n_all = len(agent_seat)
    for i in range(n_seats):
        hired[i] = first - dt.timedelta(days=int(rng.integers(60, 1500)))

    agent_team = seat_team_arr[np.array(agent_seat)]
    style_names = list(STYLES)
    style = rng.choice(len(style_names), size=n_all, p=[STYLES[s][0] for s in style_names])
    # Every centre has a few aggressive agents; make sure the demo shows some.
    n_aggr = max(3, round(n_all * STYLES["aggressive"][0]))
    aggr_idx = style_names.index("aggressive")
    if (style == aggr_idx).sum() < n_aggr:
        others = np.flatnonzero(style != aggr_idx)
        style[rng.choice(others, size=n_aggr - (style == aggr_idx).sum(), replace=False)] = aggr_idx
    lo = np.array([STYLES[style_names[s]][1][0] for s in style])
    hi = np.array([STYLES[style_names[s]][1][1] for s in style])
    skill = lo + (hi - lo) * rng.random(n_all)
    effort = np.array([STYLES[style_names[s]][2] for s in style])
    successors = np.arange(n_all) >= n_seats
    skill[successors] *= 0.85  # new hires start weaker
    team_factor = rng.uniform(0.9, 1.1, n_teams)
    skill = skill * team_factor[agent_team]

    agent_ids = np.array([f"A{i + 1:04d}" for i in range(n_all)])
    names = chinese_names(rng, n_all)
    agents = pl.DataFrame({
        "agent_id": agent_ids,
        "agent_name": names,
        "team_id": [f"T{t + 1:02d}" for t in agent_team],
        "hired_on": hired,
        "left_on": left,
    }, schema_overrides={"hired_on": pl.Date, "left_on": pl.Date})

    agency_pick = rng.permutation(len(AGENCIES))
    counters = {0: 0, 1: 0, 2: 0}
    for t, stage in enumerate(team_stage):
        counters[stage] += 1
        n = counters[stage]
        lead = next(int(a) for a in range(n_seats) if seat_team[a] == t and left[a] is None)
        if stage < 2:
            site = SITES[(t // 2) % len(SITES)]
            name = f"{site}{'早期' if stage == 0 else '中期'}催收{n}组"
            team_rows.append((f"T{t + 1:02d}", name, site, "in_house", None, agent_ids[lead]))
        else:
            agency, city = AGENCIES[agency_pick[(n - 1) % len(AGENCIES)]]
            short = agency[:2]
            name = f"{short}委外{(n - 1) // len(AGENCIES) + 1}组"
            team_rows.append((f"T{t + 1:02d}", name, city, "agency", agency, agent_ids[lead]))
    teams = pl.DataFrame(team_rows, schema=dict.fromkeys(["team_id", "team_name", "site", "channel", "agency_name",
                                                          "lead_agent_id"], pl.String), orient="row")
    return Organisation(
        teams=teams, agents=agents, seat_stage=seat_stage, seat_agent=seat_agent,
        agent_skill=skill, agent_effort=effort,
        agent_aggressive=style == aggr_idx, agent_busy=style == style_names.index("busy_ineffective"),
        agent_ids=agent_ids, agent_team=agent_team,
        # Spread evenly, so every centre has teams that beat their targets and teams that miss.
        team_bias=rng.permutation(np.linspace(0.88, 1.12, n_teams)),
    )
