"""SQLAlchemy Core tables of the case data contract (docs/case-data-contract.md) and its enumerations."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

ID = sa.String(16)
MONEY = sa.Numeric(14, 2)
PHONE = sa.String(20)
# Chinese text needs 4-byte UTF-8 on MySQL/MariaDB.
_OPTS = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}

TEAM_CHANNELS = ("in_house", "agency")
CASE_STATUSES = ("active", "paid_off", "settled", "legal", "written_off", "recalled")
CONTACT_CHANNELS = ("call", "sms", "email", "letter", "visit")
CONTACT_PARTIES = ("debtor", "third_party", "none")
CONTACT_OUTCOMES = (
    "no_answer", "busy", "wrong_number", "third_party", "rpc",
    "ptp", "refused", "dispute", "hardship", "callback",
)
PROMISE_STATUSES = ("pending", "kept", "partial", "broken")
PAYMENT_METHODS = ("bank_transfer", "app", "wechat_pay", "alipay", "counter", "auto_debit")
COMPLAINT_SOURCES = ("hotline", "regulator_12378", "branch", "online", "social_media", "letter")
COMPLAINT_CATEGORIES = (
    "harassment", "third_party_disclosure", "abusive_language", "excessive_contact",
    "after_hours_contact", "misinformation", "privacy", "fee_dispute", "other",
)
COMPLAINT_SEVERITIES = ("low", "medium", "high")
COMPLAINT_STATUSES = ("open", "resolved")

teams = sa.Table(
    "teams", metadata,
    sa.Column("team_id", ID, primary_key=True),
    sa.Column("team_name", sa.String(64), nullable=False),
    sa.Column("site", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("agency_name", sa.String(64)),
    sa.Column("lead_agent_id", ID),
    sa.Column("whitelisted_on", sa.Date),  # optional (§3b): agency entered the issuer's whitelist
    sa.Column("evaluated_on", sa.Date),  # optional (§3b): agency's latest yearly evaluation
    **_OPTS,
)

agents = sa.Table(
    "agents", metadata,
    sa.Column("agent_id", ID, primary_key=True),
    sa.Column("agent_name", sa.String(32), nullable=False),
    sa.Column("team_id", ID, nullable=False),
    sa.Column("hired_on", sa.Date, nullable=False),
    sa.Column("left_on", sa.Date),
    sa.Index("ix_agents_team", "team_id"),
    **_OPTS,
)

cases = sa.Table(
    "cases", metadata,
    sa.Column("case_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("account_no", sa.String(32), nullable=False),
    sa.Column("customer_name", sa.String(32), nullable=False),
    sa.Column("phone", PHONE, nullable=False),
    sa.Column("id_number", sa.String(18), nullable=False),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("placed_on", sa.Date, nullable=False),
    sa.Column("placed_balance", MONEY, nullable=False),
    sa.Column("placed_dpd", sa.Integer, nullable=False),
    sa.Column("current_dpd", sa.Integer, nullable=False),
    sa.Column("current_balance", MONEY, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("agent_id", ID),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_cases_agent_status", "agent_id", "status"),
    sa.Index("ix_cases_placed_on", "placed_on"),
    sa.Index("ix_cases_updated_at", "updated_at"),
    **_OPTS,
)

balance_snapshots = sa.Table(
    "balance_snapshots", metadata,
    sa.Column("snapshot_on", sa.Date, primary_key=True),
    sa.Column("case_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("dpd", sa.Integer, nullable=False),
    sa.Column("balance", MONEY, nullable=False),
    sa.Column("agent_id", ID),
    sa.Index("ix_snapshots_case", "case_id", "snapshot_on"),
    sa.Index("ix_snapshots_agent", "agent_id", "snapshot_on"),
    **_OPTS,
)

contacts = sa.Table(
    "contacts", metadata,
    sa.Column("contact_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("case_id", sa.BigInteger, nullable=False),
    sa.Column("agent_id", ID, nullable=False),
    sa.Column("contacted_at", sa.DateTime, nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("party", sa.String(12), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("duration_s", sa.Integer, nullable=False),
    sa.Column("phone_no", PHONE),
    sa.Column("debtor_consent_after_hours", sa.Boolean, nullable=False),
    sa.Column("is_robot", sa.Boolean),  # optional (§3b): an automated call; NULL = false
    sa.Column("recording_id", sa.String(64)),  # optional (§3b): the call recording's key; NULL = not recorded
    sa.Index("ix_contacts_case_time", "case_id", "contacted_at"),
    sa.Index("ix_contacts_agent_time", "agent_id", "contacted_at"),
    sa.Index("ix_contacts_time", "contacted_at"),
    **_OPTS,
)

promises = sa.Table(
    "promises", metadata,
    sa.Column("promise_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("case_id", sa.BigInteger, nullable=False),
    sa.Column("agent_id", ID, nullable=False),
    sa.Column("promised_at", sa.DateTime, nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_promises_case", "case_id", "promised_at"),
    sa.Index("ix_promises_agent_due", "agent_id", "due_on"),
    sa.Index("ix_promises_due", "due_on"),
    sa.Index("ix_promises_updated_at", "updated_at"),
    **_OPTS,
)

payments = sa.Table(
    "payments", metadata,
    sa.Column("payment_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("case_id", sa.BigInteger, nullable=False),
    sa.Column("agent_id", ID),
    sa.Column("paid_at", sa.DateTime, nullable=False),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Index("ix_payments_case_time", "case_id", "paid_at"),
    sa.Index("ix_payments_agent_time", "agent_id", "paid_at"),
    sa.Index("ix_payments_time", "paid_at"),
    **_OPTS,
)

complaints = sa.Table(
    "complaints", metadata,
    sa.Column("complaint_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("case_id", sa.BigInteger, nullable=False),
    sa.Column("agent_id", ID),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("category", sa.String(24), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("resolved_at", sa.DateTime),
    sa.Column("substantiated", sa.Boolean),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_complaints_case", "case_id", "received_at"),
    sa.Index("ix_complaints_agent_time", "agent_id", "received_at"),
    sa.Index("ix_complaints_time", "received_at"),
    sa.Index("ix_complaints_updated_at", "updated_at"),
    **_OPTS,
)

targets = sa.Table(
    "targets", metadata,
    sa.Column("month", sa.Date, primary_key=True),
    sa.Column("team_id", ID, primary_key=True),
    sa.Column("target_amount", MONEY, nullable=False),
    **_OPTS,
)

PLAN_STATUSES = ("active", "completed", "broken", "cancelled")

repayment_plans = sa.Table(  # optional (§3b): negotiated instalment plans (协商还款 / 个性化分期)
    "repayment_plans", metadata,
    sa.Column("plan_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("case_id", sa.BigInteger, nullable=False),
    sa.Column("agent_id", ID),
    sa.Column("agreed_on", sa.Date, nullable=False),
    sa.Column("months", sa.Integer, nullable=False),
    sa.Column("monthly_amount", MONEY, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("ended_on", sa.Date),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_plans_case", "case_id", "agreed_on"),
    sa.Index("ix_plans_updated_at", "updated_at"),
    **_OPTS,
)

agency_fees = sa.Table(  # optional: each agency team's commission rate (佣金比例) from a day on
    "agency_fees", metadata,
    sa.Column("team_id", ID, primary_key=True),
    sa.Column("effective_from", sa.Date, primary_key=True),
    sa.Column("rate", sa.Numeric(6, 4), nullable=False),  # share of the amount collected, 0–1 (0.18 = 18%)
    **_OPTS,
)

#: Tables in load order; every one but the optional ones must exist in a source.
TABLES: tuple[sa.Table, ...] = (
    teams, agents, cases, balance_snapshots, contacts, promises, payments, complaints, targets, repayment_plans,
    agency_fees,
)
OPTIONAL_TABLES: frozenset[str] = frozenset({"targets", "repayment_plans", "agency_fees"})
#: Optional columns of required tables (DESIGN §3b): a source without them works, the checks needing them say so.
OPTIONAL_COLUMNS: dict[str, frozenset[str]] = {
    "contacts": frozenset({"is_robot", "recording_id"}),
    "teams": frozenset({"whitelisted_on", "evaluated_on"}),
}

#: Columns holding personal data (★ in the contract), by table, with the kind of masking each needs
#: (queries.governance.masking): never shown or exported unmasked unless the viewer's role allows it.
PII_COLUMNS: dict[str, dict[str, str]] = {
    "cases": {"account_no": "account", "customer_name": "name", "phone": "phone", "id_number": "id_number"},
    "contacts": {"phone_no": "phone"},
}
