"""Importer tests: month-end status files into a case database, proven on the public UCI card data."""

from fixtures_app import run_app  # noqa: F401
from fixtures_importer import expected, uci_csv, uci_db, uci_rows  # noqa: F401
