"""The standing hostile suite: a case database whose every text column holds hostile values."""

from fixtures_app import app_store, run_app  # noqa: F401
from fixtures_hostile import hostile_source  # noqa: F401
