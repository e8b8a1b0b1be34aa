"""Every table of the analytics store, once: what it holds, where it lives and which metric family reads it.

Three kinds of table:
- in memory: dimensions and rollups without product and region (day × agent × bucket …), loaded when the
  dashboard opens a store version — except the day-level ones kept one file per month, which are read a month at a
  time when a period asks and kept in a bounded cache (queries.store.versions.PAGED); day-level ones also get a
  derived month view (`<name>_m`), held;
- on disk: the full grain (with product and region, or one row per case), scanned only when a query needs it;
  most are partitioned, one Parquet file per day or month;
- base: the sync's own state (cases, promises, snapshots, per-day id ranges), never read by metrics.

Distinct-case counts (paying accounts, worked cases) are answered from the case sets of queries.store.casesets
(casesets/<family>/YYYY-MM.parquet), not from tables listed here.
"""

from __future__ import annotations

from dataclasses import dataclass

MEMORY, DISK, BASE = "memory", "disk", "base"


@dataclass(frozen=True)
class StoreTable:
    """One store table: name, where it lives, partitioning, the metric family it serves, and its grain."""

    name: str
    where: str
    doc: str
    partition: str | None = None  # "day" | "month": one file per day/month in name/
    family: str | None = None  # the metric family (queries.metrics.base.rows) this table answers
    grain: str | None = None  # "fine" (product, region) | "coarse" (without them) for a family's tables
    month_view: bool = False  # a derived month-level view `<name>_m` is built when loaded


TABLES: tuple[StoreTable, ...] = (
    StoreTable("teams", MEMORY, "teams dimension"),
    StoreTable("agents", MEMORY, "agents dimension"),
    StoreTable("targets", MEMORY, "monthly team targets (absent when the source has none)"),
    StoreTable("agency_fees", MEMORY, "agency teams' commission rates by effective day (absent when the source "
               "has none)"),
    StoreTable("complaints", MEMORY, "one row per complaint, no personal data, with bucket/product/region"),
    StoreTable("payments_agent", MEMORY, "day × agent × opening bucket: n, cents, opening_cents", "month",
               "payments", "coarse", True),
    StoreTable("payments_daily", DISK, "day × agent × bucket × product × region", "day", "payments", "fine"),
    StoreTable("contacts_agent", MEMORY, "day × agent × bucket: contact sums, after_hours", "month", "contacts",
               "coarse", True),
    StoreTable("contacts_daily", DISK, "day × agent × bucket × product × region: contact sums", "day", "contacts",
               "fine"),
    StoreTable("calls_agent", MEMORY, "day × agent × bucket: case_days with a call, breaches", "month", "calls",
               "coarse", True),
    StoreTable("call_case_days", DISK, "day × case: calls, connected calls, max unanswered per phone, agent",
               "day", "calls", "fine"),
    StoreTable("promises_agent", MEMORY, "due day × status × agent × bucket: n, cents", "month", "promises",
               "coarse", True),
    StoreTable("promises_daily", DISK, "due day × status × agent × bucket × product × region", "month", "promises",
               "fine"),
    StoreTable("promise_pipeline", MEMORY, "due day × day made (before the due month: its eve) × agent × bucket: "
               "n, cents (the landing forecast's promise pipeline)", "month"),
    StoreTable("opening_agent", MEMORY, "month × agent × bucket: n, cents (recovery-rate denominators)", None,
               "opening", "coarse"),
    StoreTable("opening", DISK, "the same with product and region", None, "opening", "fine"),
    StoreTable("balance_agent", MEMORY, "snapshot × agent × bucket: n, cents", None, "balance", "coarse"),
    StoreTable("balance_by_bucket", DISK, "the same with product and region", None, "balance", "fine"),
    StoreTable("roll_agent", MEMORY, "snapshot × agent × from/to bucket: n, cents", None, "roll", "coarse"),
    StoreTable("roll", DISK, "the same with product and region", None, "roll", "fine"),
    StoreTable("liquidation_agent", MEMORY, "placed month × months since × agent × bucket: cents", None,
               "liquidation", "coarse"),
    StoreTable("paid_case_days", DISK, "day × case: payments n, cents paid (read by the sync's agency stage: "
               "payments while held)", "day"),
    StoreTable("agency_cells", MEMORY, "holder × team × bucket × placement month × months since (0: the "
               "placements): placed, cents, paid, fee (commission in 1/10,000 cent), rec, tra (queries.sync.agency)"),
    StoreTable("agency_placements", DISK, "one row per placement with a holder: case_id, holder, kind, team_id, "
               "bucket, start, cents, last (its last month-end held), next_kind (the next holder's kind) (the agency "
               "drill-down's case ids; an incremental sync's placements when the snapshots are unchanged)"),
    StoreTable("agency_case_paid", DISK, "placement × months since: payments while held, n, cents and fee (1/10,000 cent), one "
               "file per payment month (the agency drill-down's amounts; an incremental sync writes the new days' "
               "months only)", "month"),
    StoreTable("liquidation_daily", DISK, "day × placed month × months since × case agent × placed bucket × "
               "product × region", "day", "liquidation", "fine"),
    StoreTable("placements_agent", MEMORY, "placed month × agent × bucket: n, cents", None, "placements", "coarse"),
    StoreTable("placements", DISK, "the same with product and region", None, "placements", "fine"),
    StoreTable("compliance_agent", MEMORY, "day × agent × bucket: attempts, connected calls, third-party contacts, "
               "robot attempts, breaching contacts per check (b_<check>) and for any check (b_any), rows skipped",
               "month"),
    StoreTable("attempt_ordinal_agent", MEMORY, "day × agent × bucket × attempt ordinal in its case-day (1…7, 7 = "
               "7th and later): attempts, rpc", "month"),
    StoreTable("breach_contacts", DISK, "one row per (breaching contact, check): day, contact_id, case_id, agent_id, "
               "bucket, check, rule_id (drill-down keys into the case database)", "day"),
    StoreTable("contacts_hourly", DISK, "day × hour × agent (RPC heatmap, after-hours with other rules)", "day"),
    StoreTable("base/cases", BASE, "cases as last read (sync state)"),
    StoreTable("base/promises", BASE, "promises as last read, attached, by due month (sync state)", "month"),
    StoreTable("base/payments_days", BASE, "per-day payment id range and count"),
    StoreTable("base/contacts_days", BASE, "per-day contact id range and count"),
)
BY_NAME: dict[str, StoreTable] = {t.name: t for t in TABLES}

#: Source event table → the in-memory rollup that has rows exactly when the source table had any (a database
#: made from month-end status files has no contacts, promises or complaints: Store.holds tells).
HOLDS: dict[str, str] = {"payments": "payments_agent", "contacts": "contacts_agent", "promises": "promises_agent",
                         "complaints": "complaints"}
#: Tables the dashboard holds in memory (loaded by Store.open).
ROLLUPS: tuple[str, ...] = tuple(t.name for t in TABLES if t.where == MEMORY)
#: Full-grain tables scanned from disk only when a query needs them.
SCANNED: tuple[str, ...] = tuple(t.name for t in TABLES if t.where == DISK)
#: Tables written as one file per day or month in a folder of their name.
PARTITIONED: dict[str, str] = {t.name: t.partition for t in TABLES if t.partition}
#: Additive columns of the rollups (summed when a month view or a coarser table is made).
SUMMABLE = frozenset({
    "n", "cents", "opening_cents", "attempts", "connected", "rpc", "ptp", "messages", "after_hours",
    "case_days", "breaches",
    # compliance (queries.sync.compliance)
    "connected_calls", "third_party_contacts", "robot_attempts", "skipped",
    "b_quiet_hours", "b_unanswered_cap", "b_connected_cap", "b_third_party", "b_during_plan", "b_unrecorded",
    "b_agency_not_allowed", "b_any",
})


def month_view_name(name: str) -> str:
    """The name of a day-level rollup's month view (the rollup summed by month, held by a Store)."""
    return f"{name}_m"


def _family(name: str, grain: str) -> str:
    return next(t.name for t in TABLES if t.family == name and t.grain == grain)


#: metric family → (full-grain table on disk, in-memory table without product/region, its month view or None)
FAMILIES: dict[str, tuple[str, str, str | None]] = {
    fam: (_family(fam, "fine"), _family(fam, "coarse"),
          month_view_name(_family(fam, "coarse")) if BY_NAME[_family(fam, "coarse")].month_view else None)
    for fam in dict.fromkeys(t.family for t in TABLES if t.family)
}
#: fine table → its coarse twin (the same rollup without product and region)
COARSE: dict[str, str] = {fine: coarse for fine, coarse, _ in FAMILIES.values()}
