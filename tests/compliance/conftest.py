"""Compliance tests: the rule pack, each check at its boundaries, breach counts against raw rows."""

from fixtures_store import fresh_source  # noqa: F401
