"""The contacts stage's read alone, as a full sync does it (a script, not a test): every contact row through the
sync's own select, chunked reader (two connections) and row preparation, with the compliance stage's optional
columns; prints wall and CPU seconds per million rows and the machine's load.

    python bench/bench_contact_read.py --source /work/bench-data/bank.sqlite [--rows 6000000] [--rounds 3]
    python bench/bench_contact_read.py --source postgresql+psycopg://postgres@127.0.0.1:5432/cd_bench

CPU is this process's only: on PostgreSQL or MySQL the select's expressions run in the server's process.

Run it with each tree's own Python, alternating, to compare two commits side by side on a noisy machine.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import load, machine  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="SQLite case database file, or a database URL (read only)")
    ap.add_argument("--rows", type=int, default=0, help="read contact ids up to the first id + this (0: all)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    import sqlalchemy as sa

    from queries.compliance.rules import load_pack
    from queries.source import contract as S
    from queries.source.reader import Reader
    from queries.sync import compliance
    from queries.sync.contacts import contact_select, prepare_contacts
    from queries.sync.context import CONTACT_SCHEMA
    from queries.sync.events import read_events

    url = args.source if "://" in args.source else f"sqlite:///{Path(args.source).resolve()}"
    optional = {"contacts.is_robot", "contacts.recording_id"}
    channels = compliance.exempt_channels(load_pack())
    col = S.contacts.c.contact_id
    print("machine:", machine(), "| tree:", Path(sys.prefix).parent)

    class Ctx:
        """The two readers a sync context gives read_events."""

        def __init__(self) -> None:
            self.reader, self._second = Reader(url), None

        def second_reader(self) -> Reader:
            self._second = self._second or Reader(url)
            return self._second

        def close(self) -> None:
            for r in (self.reader, self._second):
                if r is not None:
                    r.close()

    walls, cpus = [], []
    for _ in range(args.rounds):
        ctx = Ctx()
        select = contact_select(optional, ctx.reader.kind, channels)
        lo = ctx.reader.scalar(sa.select(sa.func.min(col))) - 1
        hi = ctx.reader.scalar(sa.select(sa.func.max(col)))
        if args.rows:
            hi = min(hi, lo + args.rows)
        before = load()
        r0, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        rows = sum(prepare_contacts(c).height for c in read_events(ctx, S.contacts, "contact_id", select,
                                                                     CONTACT_SCHEMA, lo, hi))
        wall, r1 = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF)
        ctx.close()
        cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
        walls.append(wall / rows * 1e6)
        cpus.append(cpu / rows * 1e6)
        print(f"{rows:,} rows: {wall:.1f} s wall, CPU {cpu:.1f} s; {before} before, {load()} after", flush=True)
    print(f"median per million rows: {statistics.median(walls):.3f} s wall, {statistics.median(cpus):.3f} s CPU")


if __name__ == "__main__":
    main()
