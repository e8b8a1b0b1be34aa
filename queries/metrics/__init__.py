"""Metric layer: one function per metric, declared beside it (declare.metric); Filters in, a Polars frame out.

Each metric reads the analytics store only, never the case database. `registry` lists them all.
"""

from queries.metrics.base import MetricError, MetricUnavailable
from queries.metrics.complaints import complaint_rate
from queries.metrics.contact import (
    after_hours_rate,
    contact_rate,
    over_frequency,
    ptp_kept_rate,
    ptp_rate,
    rpc_rate,
)
from queries.metrics.portfolio import bucket_balance, cure_rate, roll_rate
from queries.metrics.recovery import (
    collected,
    liquidation,
    paying_accounts,
    recovery_rate,
    target_achievement,
)

__all__ = [
    "MetricError", "MetricUnavailable", "after_hours_rate", "bucket_balance", "collected",
    "complaint_rate", "contact_rate", "cure_rate", "liquidation", "over_frequency", "paying_accounts",
    "ptp_kept_rate", "ptp_rate", "recovery_rate", "roll_rate", "rpc_rate", "target_achievement",
]
