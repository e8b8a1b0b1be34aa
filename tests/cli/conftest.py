"""Command-line tests (report)."""
