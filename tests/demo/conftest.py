"""Demo generator tests: in-memory centres and databases on every backend."""

from fixtures_store import fresh_source  # noqa: F401
