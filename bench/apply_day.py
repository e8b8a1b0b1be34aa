"""Apply one new day to a copy of a SQLite case database, the way a real source changes overnight (a script).

    python bench/apply_day.py /work/bench-data/scale/bank-copy.sqlite

The new day is the day after the last payment or contact. It gets:
- payments and contacts: the last day's rows again, one day later, with new ids (append-only, ids rising);
- promises: a new pending promise for every promise-to-pay contact of the day (due in 7 days), and the
  pending promises due that day settled (kept when the case paid that day, else broken);
- cases: the nightly update of every active case (days past due + 1, balance less the day's payments,
  updated_at set), as a collection system's batch does.
Prints what it changed as one JSON line. Never run it on a database anyone reads: it writes.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import sys
import time


def _cols(con: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in con.execute(f"PRAGMA table_info({table})")]


def apply_day(path: str) -> dict:
    """Add the next day's events and updates; return the row counts."""
    con = sqlite3.connect(path, isolation_level=None)
    t0 = time.perf_counter()
    con.execute("BEGIN")
    last = max(con.execute("SELECT max(paid_at) FROM payments").fetchone()[0],
               con.execute("SELECT max(contacted_at) FROM contacts").fetchone()[0])
    day0 = dt.date.fromisoformat(last[:10])
    new_day = day0 + dt.timedelta(days=1)
    lo = f"{day0} 00:00:00"
    out: dict = {"day": new_day.isoformat()}
    for table, id_col, ts in (("payments", "payment_id", "paid_at"), ("contacts", "contact_id", "contacted_at")):
        top, first = con.execute(f"SELECT (SELECT max({id_col}) FROM {table}), min({id_col}) FROM {table} "
                                 f"WHERE {ts} >= ?", (lo,)).fetchone()
        cols = _cols(con, table)
        select = ", ".join(
            f"{id_col} - {first} + {top} + 1" if c == id_col
            else f"datetime({ts}, '+1 day') || substr({ts}, 20)" if c == ts else c for c in cols)
        cur = con.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {select} FROM {table} "
                          f"WHERE {ts} >= ? AND {id_col} <= ?", (lo, top))
        out[table] = cur.rowcount
    day_lo = f"{new_day} 00:00:00"
    stamp = f"{new_day} 23:59:59.000000"
    top = con.execute("SELECT coalesce(max(promise_id), 0) FROM promises").fetchone()[0]
    cur = con.execute(
        "INSERT INTO promises (promise_id, case_id, agent_id, promised_at, due_on, amount, status, updated_at) "
        "SELECT ? + row_number() OVER (ORDER BY contact_id), case_id, agent_id, contacted_at, date(contacted_at, "
        "'+7 days'), 500, 'pending', contacted_at FROM contacts WHERE contacted_at >= ? AND outcome = 'ptp' "
        "AND agent_id IS NOT NULL", (top, day_lo))
    out["promises_new"] = cur.rowcount
    cur = con.execute(
        "UPDATE promises SET status = CASE WHEN EXISTS (SELECT 1 FROM payments p WHERE p.case_id = promises.case_id "
        "AND p.paid_at >= ?) THEN 'kept' ELSE 'broken' END, updated_at = ? WHERE due_on = ? AND status = 'pending'",
        (day_lo, stamp, new_day.isoformat()))
    out["promises_settled"] = cur.rowcount
    cur = con.execute(
        "UPDATE cases SET current_dpd = current_dpd + 1, current_balance = max(0, current_balance - coalesce(("
        "SELECT sum(amount) FROM payments p WHERE p.case_id = cases.case_id AND p.paid_at >= ?), 0)), "
        "updated_at = ? WHERE status = 'active'", (day_lo, stamp))
    out["cases_updated"] = cur.rowcount
    con.execute("COMMIT")
    con.close()
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


if __name__ == "__main__":
    print(json.dumps(apply_day(sys.argv[1])))
