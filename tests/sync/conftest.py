"""Sync and store tests: incremental and full syncs, reconciliation, faults, on every backend."""

from fixtures_store import fresh_source, handmade_source  # noqa: F401
