"""Sync: extract from the case database by watermark, build rollups, reconcile, swap the store in.

Stages, one module each: context (run state and the attach engine), events (reading append-only tables by
id), cases (dimensions, cases, snapshots and their rollups), payments, agency (the placement vintages),
contacts, mutable (promises and complaints), tables (writing rollups into the new version), reconcile, run
(run_sync), child (safe and out-of-process syncs).
"""

from queries.sync.reconcile import reconcile
from queries.sync.run import RECONCILE_DAYS, SyncResult, run_sync

__all__ = ["RECONCILE_DAYS", "SyncResult", "reconcile", "run_sync"]
