"""Digest and alert tests: a store copy per test, a real SMTP server, local robot endpoints."""

from fixtures_notify import mailbox, robots, settings, store_dir  # noqa: F401
