"""Case database tests: read-only engines and the contract doctor, on every backend."""

from fixtures_store import fresh_source  # noqa: F401
