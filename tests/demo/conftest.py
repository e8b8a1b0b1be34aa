"""Demo generator tests: in-memory centres and databases on every backend."""

from fixtures_demo import demo_centre_db, demo_centre_store, demo_portfolio, small_portfolio  # noqa: F401
from fixtures_store import fresh_source  # noqa: F401
