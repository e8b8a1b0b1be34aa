"""The 合规监控 · Compliance page's compositions and its drill-down to the breaching contacts, and the
compliance-weighted scorecard (2011 credit-card measures Art. 66).

Figures come from the registry's compliance metrics (queries.metrics.compliance) on the store; the contacts behind
a figure are keyed in the store (`breach_contacts`) and read from the case database by primary key, scoped and
masked as every drill-down is. Callers pass filters already narrowed to the viewer's scope (queries.views.scoped).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, replace

import polars as pl
import sqlalchemy as sa

from queries.compliance.rules import CONTACT_CHECKS, PARAMS, RulePack
from queries.dates import previous_period
from queries.filters import Filters, Scope
from queries.governance.masking import mask_frame, may_reveal
from queries.metrics.base import (
    MetricError,
    MetricUnavailable,
    allowed_agents,
    before_compliance,
    filter_frame,
    require,
)
from queries.metrics.compliance import agency_status, skipped_rows, unavailable_checks
from queries.metrics.registry import compute
from queries.source import contract as S
from queries.store import Store

#: The contact columns a breach list shows (phone_no is personal data: masked unless the viewer may see it).
CONTACT_COLUMNS = ("contact_id", "contacted_at", "case_id", "agent_id", "channel", "party", "outcome", "duration_s",
                   "phone_no")
MAX_PAGE_SIZE = 200
#: Levels the scorecard and the breach ranking are computed at.
LEVELS = ("agent", "team", "agency")
#: The scorecard's components (the rule pack's weight names): the column each ranks, and whether higher is better.
SCORE_PARTS = {"recovery": ("recovery_rate", True), "breaches": ("breach_rate", False),
               "complaints": ("complaint_rate", False)}


@dataclass(frozen=True)
class BreachPage:
    """One page of breaching contacts: the contacts (masked as the viewer requires) with the checks each broke and
    the rules that judged them, and how many breaching contacts the selection holds in all."""

    rows: pl.DataFrame
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.page_size))


def _checks(checks: tuple[str, ...] | None) -> tuple[str, ...]:
    if not checks:
        return CONTACT_CHECKS
    bad = [c for c in checks if c not in CONTACT_CHECKS]
    if bad:
        raise ValueError(f"unknown check {bad[0][:40]!r}; use one of {', '.join(CONTACT_CHECKS)}")
    return tuple(checks)


def breach_keys(store: Store, f: Filters, checks: tuple[str, ...] | None = None, limit: int = 50,
                offset: int = 0) -> tuple[pl.DataFrame, int]:
    """One page of the breaching contacts behind a figure, one row per contact, newest first: day, contact_id,
    case_id, agent_id, bucket, checks (list), rule_ids (list); and how many contacts there are in all.

    A contact that broke several of `checks` is one row (it is one breaching contact in the `breaches` figure
    counted for any check), so the total equals the figure clicked: per check, or for any check.
    """
    wanted = _checks(checks)
    empty = pl.DataFrame(schema={"day": pl.Date, "contact_id": pl.Int64, "case_id": pl.Int64, "agent_id": pl.String,
                                 "bucket": pl.String, "checks": pl.List(pl.String), "rule_ids": pl.List(pl.String)})
    if f.nothing:
        return empty, 0
    if not (store.path / "breach_contacts").is_dir():
        raise before_compliance()
    lf = store.scan("breach_contacts", f.start, f.end)
    plain = replace(f, products=(), regions=())  # the compliance figures have no product or region
    lf = filter_frame(store, lf, plain).filter(pl.col("check").is_in(list(wanted)))
    # one read of the day files: the count and the page come from the same collected rows
    per_contact = lf.group_by("contact_id").agg(
        pl.col("day").first(), pl.col("case_id").first(), pl.col("agent_id").first(), pl.col("bucket").first(),
        pl.col("check").unique().sort().alias("checks"), pl.col("rule_id").unique().sort().alias("rule_ids")
    ).collect()
    page = per_contact.sort(["day", "contact_id"], descending=True).slice(offset, limit).select(empty.columns)
    return page.cast(empty.schema), per_contact.height


def breach_contacts(store: Store, engine: sa.Engine, scope: Scope, f: Filters, checks: tuple[str, ...] | None = None,
                    page: int = 1, page_size: int = 50, reveal_pii: bool = False) -> BreachPage:
    """One page of the breaching contacts behind a figure, read from the case database by contact_id (primary
    key) and masked unless the viewer may see personal data; `f` is already narrowed to the scope."""
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    page = max(1, int(page))
    keys, total = breach_keys(store, f, checks, page_size, (page - 1) * page_size)
    rows = _contact_rows(engine, store, f, keys)
    return BreachPage(mask_frame(rows, may_reveal(scope, reveal_pii)), total, page, page_size)


def iter_breach_contacts(store: Store, engine: sa.Engine, scope: Scope, f: Filters,
                         checks: tuple[str, ...] | None = None, reveal_pii: bool = False, batch: int = 5_000,
                         limit: int = 200_000) -> Iterator[pl.DataFrame]:
    """Every breaching contact behind a figure (up to `limit`), in the page's order, as masked frames of `batch`
    rows: the keys are read from the store once, the contacts from the case database `batch` ids at a time."""
    keys, _ = breach_keys(store, f, checks, limit, 0)
    reveal = may_reveal(scope, reveal_pii)
    for lo in range(0, keys.height, batch):
        yield mask_frame(_contact_rows(engine, store, f, keys.slice(lo, batch)), reveal)


_ROW_SCHEMA = {"contact_id": pl.Int64, "contacted_at": pl.Datetime("us"), "case_id": pl.Int64, "agent_id": pl.String,
               "channel": pl.String, "party": pl.String, "outcome": pl.String, "duration_s": pl.Int64,
               "phone_no": pl.String, "customer_name": pl.String}


def _contact_rows(engine: sa.Engine, store: Store, f: Filters, keys: pl.DataFrame) -> pl.DataFrame:
    """The keyed contacts as the case database has them, with the case's customer and the checks each broke."""
    out_schema = {**_ROW_SCHEMA, "team_id": pl.String, "checks": pl.List(pl.String), "rule_ids": pl.List(pl.String)}
    if keys.height == 0:
        return pl.DataFrame(schema=out_schema)
    k, c = S.contacts.c, S.cases.c
    q = (sa.select(*[k[n] for n in CONTACT_COLUMNS], c.customer_name)
         .join_from(S.contacts, S.cases, c.case_id == k.case_id)
         .where(k.contact_id.in_(keys.get_column("contact_id").to_list())))
    with engine.connect() as conn:  # by primary key only: an agent condition here makes planners use its index
        df = pl.read_database(q, conn, infer_schema_length=None)
    agents = allowed_agents(store, f)
    if agents is not None:  # the keys were scoped in the store; the rows read are checked against the scope too
        df = df.filter(pl.col("agent_id").cast(pl.String).is_in(agents))
    at = df.get_column("contacted_at")
    df = df.with_columns(
        (pl.col("contacted_at").cast(pl.String).str.to_datetime(strict=False) if at.dtype == pl.String
         else pl.col("contacted_at").cast(pl.Datetime("us"))).alias("contacted_at"),
        *[pl.col(n).cast(t, strict=False) for n, t in _ROW_SCHEMA.items() if n != "contacted_at"])
    teams = store.frame("agents").select("agent_id", "team_id")
    return (keys.select("contact_id", "checks", "rule_ids")
            .join(df.select(list(_ROW_SCHEMA)), on="contact_id", how="inner")
            .join(teams, on="agent_id", how="left")
            .sort(["contacted_at", "contact_id"], descending=True)
            .select(list(out_schema)))


# ---------------------------------------------------------------- figures


def breach_kpis(store: Store, f: Filters) -> pl.DataFrame:
    """Breaches per check in the period and the period before it of equal length: check, numerator,
    denominator, value (per 1,000), prev_numerator, prev_value, change (relative change of the count)."""
    now = compute("breaches", store, f, ("check",))
    p0, p1 = previous_period(f.start, f.end)
    before = compute("breaches", store, f.with_dates(p0, p1), ("check",)).select(
        "check", pl.col("numerator").alias("prev_numerator"), pl.col("value").alias("prev_value"))
    out = pl.DataFrame({"check": list(CONTACT_CHECKS)}).join(now, on="check", how="left").join(
        before, on="check", how="left")
    return out.with_columns(
        pl.when(pl.col("prev_numerator") > 0).then(pl.col("numerator") / pl.col("prev_numerator") - 1)
        .otherwise(None).alias("change"))


def breach_ranking(store: Store, f: Filters, level: str) -> pl.DataFrame:
    """Breaching contacts per 1,000 attempts by agent, team or agency (agency teams only), highest first:
    who_id, who_name, (for agents) team_id, numerator, denominator, value."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}")
    key = "agent_id" if level == "agent" else "team_id"
    df = compute("breaches", store, f, (key,)).filter(pl.col("denominator") > 0)
    names = _names(store, level)
    if level == "agency":
        df = df.join(names.select("who_id"), left_on=key, right_on="who_id", how="semi")
    return (df.rename({key: "who_id"}).join(names, on="who_id", how="left")
            .sort(["value", "numerator", "who_id"], descending=[True, True, False])
            .select("who_id", "who_name", *(("team_id",) if level == "agent" else ()), "numerator", "denominator",
                    "value"))


def _names(store: Store, level: str) -> pl.DataFrame:
    """who_id, who_name, team_id for agents, teams or agency teams."""
    if level == "agent":
        return store.frame("agents").select(pl.col("agent_id").alias("who_id"), pl.col("agent_name").alias("who_name"),
                                            "team_id")
    teams = store.frame("teams")
    if level == "agency":
        teams = teams.filter(pl.col("channel") == "agency")
    name = (pl.col("agency_name").fill_null(pl.col("team_name")) if level == "agency" and "agency_name" in teams.columns
            else pl.col("team_name"))
    return teams.select(pl.col("team_id").alias("who_id"), name.alias("who_name"), "team_id")


def complaints_deadline(store: Store, f: Filters) -> pl.DataFrame:
    """Complaints received in the period against their legal deadline, late ones first: complaint_id, case_id,
    received_at, category, source, status, agent_id, team_id, decided_days (days to decision; for an open one, its
    age at the period's end), deadline_days, late, after_breach."""
    require(store, "complaints")
    df = store.frame("complaints")
    if "late" not in df.columns:
        raise before_compliance()
    df = filter_frame(store, df, f)
    age = (pl.lit(f.end) - pl.col("day")).dt.total_days()
    teams = store.frame("agents").select("agent_id", "team_id")
    return (df.join(teams, on="agent_id", how="left")
            .with_columns(pl.col("decided_days").fill_null(age).cast(pl.Int64).alias("decided_days"))
            .select("complaint_id", "case_id", "received_at", "category", "source", "status", "agent_id", "team_id",
                    "decided_days", pl.col("deadline_days").cast(pl.Int64), "late", "after_breach")
            .sort(["late", "decided_days", "complaint_id"], descending=[True, True, False]))


def agencies(store: Store, f: Filters, pack: RulePack) -> pl.DataFrame:
    """Agency teams within the filters with their whitelisting and yearly evaluation at the period's end
    (queries.metrics.compliance.agency_status), the problem ones first."""
    df = agency_status(store, f.end, pack)
    agents = allowed_agents(store, f)
    if agents is not None or f.teams:
        visible = store.frame("agents").filter(pl.col("agent_id").is_in(agents)) if agents is not None else None
        keep = set(f.teams) if visible is None else set(visible.get_column("team_id").to_list())
        df = df.filter(pl.col("team_id").is_in(list(keep)))
    bad = pl.col("not_whitelisted").fill_null(False) | pl.col("evaluation_overdue").fill_null(False)
    return df.sort([bad, "team_id"], descending=[True, False])


def missing_parts(store: Store) -> dict[str, tuple[str, ...]]:
    """Checks the source cannot support → the optional contract parts it lacks (the page explains each)."""
    return unavailable_checks(store)


def skipped(store: Store) -> dict[str, int]:
    """Rows the checks skipped for an unexpected optional value, by column (the page says how many)."""
    return skipped_rows(store)


def caps(pack: RulePack, day: dt.date) -> dict[str, int]:
    """The call caps in force on `day` (the strictest of the rules): unanswered per phone-day, connected per
    case-day; a cap with no rule in force is left out."""
    out = {}
    for check, key in (("unanswered_cap", "max_per_phone_day"), ("connected_cap", "max_per_case_day")):
        p = pack.params(check, day)
        if p is not None:
            out[check] = int(p[key])  # type: ignore[arg-type]
    return out


# ---------------------------------------------------------------- the compliance-weighted scorecard (Art. 66)


def _pct_rank(col: str, higher_better: bool) -> pl.Expr:
    """Percentile rank 0…1 of a column where 1 is best (ties share their average rank; one row scores 1)."""
    e = pl.col(col) if higher_better else -pl.col(col)
    n = pl.col(col).count()
    return pl.when(n > 1).then((e.rank("average") - 1) / (n - 1)).otherwise(1.0)


def scorecard(store: Store, f: Filters, weights: dict[str, float] | tuple[tuple[str, float], ...],
              level: str = "agent") -> pl.DataFrame:
    """The compliance-weighted scorecard: per agent (or agency team), the percentile ranks of recovery rate (higher
    is better), breaches per 1,000 attempts and complaints per 10,000 worked cases (lower is better), the score
    Σ weight × percentile rank ÷ Σ weights, the rank by that score, the recovery-only rank and the change
    (recovery-only rank − weighted rank: positive = moves up when compliance counts).

    Columns: who_id, who_name, team_id, recovery_rate, breach_rate, complaint_rate, p_recovery, p_breaches,
    p_complaints, score, rank, recovery_rank, rank_change. Only agents (agencies) with attempts in the period
    are ranked; a missing component (no complaints table) is left out and the weights of the rest used.
    """
    if level not in ("agent", "agency"):
        raise ValueError(f"unknown level {level!r}")
    key = "agent_id" if level == "agent" else "team_id"
    base = compute("breaches", store, f, (key,)).filter(pl.col("denominator") > 0).select(
        pl.col(key).alias("who_id"), pl.col("value").alias("breach_rate"))
    rec = compute("recovery_rate", store, f, (key,)).select(pl.col(key).alias("who_id"),
                                                             pl.col("value").alias("recovery_rate"))
    try:
        comp = compute("complaint_rate", store, f, (key,)).select(pl.col(key).alias("who_id"),
                                                                   pl.col("value").alias("complaint_rate"))
        parts = dict(weights)
    except (MetricUnavailable, MetricError):
        comp = pl.DataFrame(schema={"who_id": pl.String, "complaint_rate": pl.Float64})
        parts = {k: v for k, v in dict(weights).items() if k != "complaints"}
    names = _names(store, level)
    df = (base.join(names, on="who_id", how="inner" if level == "agency" else "left")
          .join(rec, on="who_id", how="left").join(comp, on="who_id", how="left")
          .with_columns(pl.col("recovery_rate").fill_null(0.0), pl.col("complaint_rate").fill_null(0.0)))
    if df.height == 0:
        return df.with_columns(*[pl.lit(None, pl.Float64).alias(c) for c in
                                 ("p_recovery", "p_breaches", "p_complaints", "score")],
                               *[pl.lit(None, pl.Int64).alias(c) for c in ("rank", "recovery_rank", "rank_change")])
    return weighted_ranks(df, parts)


def weighted_ranks(df: pl.DataFrame, weights: dict[str, float]) -> pl.DataFrame:
    """The scorecard's arithmetic on rows of (who_id, recovery_rate, breach_rate, complaint_rate): percentile ranks
    p_recovery, p_breaches, p_complaints (1 = best), score = Σ weight × p ÷ Σ weights (over the parts weighted),
    rank by score (ties share the best rank), recovery_rank by recovery rate alone and rank_change = recovery_rank −
    rank; sorted by rank."""
    df = df.with_columns(*[_pct_rank(col, up).alias(f"p_{p}") for p, (col, up) in SCORE_PARTS.items()])
    total = sum(weights.values()) or 1.0
    score = pl.sum_horizontal([pl.col(f"p_{p}") * w for p, w in weights.items()]) / total
    df = df.with_columns(score.alias("score"))
    df = df.with_columns(
        pl.col("score").rank("min", descending=True).cast(pl.Int64).alias("rank"),
        pl.col("recovery_rate").rank("min", descending=True).cast(pl.Int64).alias("recovery_rank"))
    return (df.with_columns((pl.col("recovery_rank") - pl.col("rank")).alias("rank_change"))
            .sort(["rank", "who_id"])
            .select("who_id", "who_name", "team_id", "recovery_rate", "breach_rate", "complaint_rate", "p_recovery",
                    "p_breaches", "p_complaints", "score", "rank", "recovery_rank", "rank_change"))


def rule_labels(pack: RulePack, start: dt.date, end: dt.date, lang: str) -> dict[str, tuple[str, ...]]:
    """Per check, the labels of the rules that judged it in [start, end] ("title · article (version)")."""
    return {c: tuple(r.label(lang) for r in pack.judged_by(c, start, end)) for c in
            (*CONTACT_CHECKS, "agency_evaluation", "complaint_deadline", "scorecard")}


def rule_label_of(pack: RulePack, lang: str) -> dict[str, str]:
    """Every rule id → its label, for the rule column of the breach list."""
    return {r.rule_id: r.label(lang) for r in pack.rules}


def rules_frame(pack: RulePack, lang: str) -> pl.DataFrame:
    """Every rule of the pack, for the glossary: check, rule (title · article (version)), rule_id, effective_from,
    effective_to, figures ("key = value; …"), file, house (a centre's own rule)."""
    return pl.DataFrame([{
        "check": r.check, "rule": r.label(lang), "rule_id": r.rule_id, "effective_from": r.effective_from,
        "effective_to": r.effective_to, "figures": "; ".join(f"{k} = {r.param(k)}" for k in PARAMS[r.check]),
        "file": r.file, "house": r.house} for r in sorted(pack.rules, key=lambda r: (r.check, r.effective_from))],
        schema={"check": pl.String, "rule": pl.String, "rule_id": pl.String, "effective_from": pl.Date,
                "effective_to": pl.Date, "figures": pl.String, "file": pl.String, "house": pl.Boolean})

