"""The importer's errors: each one line naming the file, the line and the column; exit code 2, nothing written."""

from __future__ import annotations

from queries.errors import UserError


class ImportStatusError(UserError):
    """The import cannot go ahead; the message names the file, line and column and says what is wrong."""


class MappingError(ImportStatusError):
    """The mapping file is wrong (not TOML, an unknown key, a value of the wrong kind, a month listed twice)."""


class FileProblem(ImportStatusError):
    """A status file cannot be read as a table: empty, not CSV or Excel, wrong encoding, a missing column."""


class BadRows(ImportStatusError):
    """More rows than --max-bad-rows allows could not be read; the message shows the first and the count."""
