"""What a case database holds: per contract table, row count and the span of its main date column."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from queries.source.contract import OPTIONAL_TABLES, TABLES

#: The column that dates each table's rows.
DATE_COLUMN = {
    "cases": "placed_on", "balance_snapshots": "snapshot_on", "contacts": "contacted_at",
    "promises": "promised_at", "payments": "paid_at", "complaints": "received_at", "targets": "month",
}


def database_summary(engine: sa.Engine) -> pl.DataFrame:
    """One row per contract table: table, present, optional, rows, first, last (as ISO text)."""
    present = set(sa.inspect(engine).get_table_names())
    rows = []
    with engine.connect() as conn:
        for t in TABLES:
            row = {"table": t.name, "present": t.name in present, "optional": t.name in OPTIONAL_TABLES,
                   "rows": None, "first": None, "last": None}
            if row["present"]:
                col = DATE_COLUMN.get(t.name)
                cols = [sa.func.count()]
                if col:
                    cols += [sa.func.min(t.c[col]), sa.func.max(t.c[col])]
                res = conn.execute(sa.select(*cols).select_from(t)).one()
                row["rows"] = int(res[0])
                if col:
                    row["first"], row["last"] = (str(v)[:19] if v is not None else None for v in res[1:])
            rows.append(row)
    return pl.DataFrame(rows, schema={"table": pl.String, "present": pl.Boolean, "optional": pl.Boolean,
                                      "rows": pl.Int64, "first": pl.String, "last": pl.String})
