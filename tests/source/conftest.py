"""Case database tests: read-only engines and the contract doctor, on every backend."""

from fixtures_demo import shared_small_source  # noqa: F401
from fixtures_store import fresh_source  # noqa: F401
