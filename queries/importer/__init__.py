"""`import-status`: a case database from month-end account status files (CSV or Excel, long or wide) and a
mapping file (docs/import-status.md), written through the same bulk, all-or-nothing path as `demo-db`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from queries.importer.errors import (
    BadRows,
    FileProblem,
    ImportStatusError,
    MappingError,
)
from queries.importer.frames import ERRORS, contract_frames, duplicates, plan, read_part
from queries.importer.mapping import Mapping, load_mapping
from queries.importer.parse import read_table, temp_dir
from queries.importer.summary import ImportSummary, summarize
from queries.source.write import open_target

__all__ = ["BadRows", "FileProblem", "ImportStatusError", "ImportSummary", "Mapping", "MappingError",
           "import_status", "load_mapping", "read_status_files"]


def read_status_files(files: Sequence[str | Path], mapping: Mapping,
                      say: Callable[[str], None] = lambda _m: None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every file's account-months (file, line, key, month, dpd, balance_cents, credit, payment_cents, outcome,
    product, region) and every bad cell (file, line, column, value, problem), in file and line order."""
    names = [str(f) for f in files]
    parsed, errors = [], []
    with temp_dir() as tmp:
        for i, f in enumerate(files):
            path = Path(f)
            chosen: dict = {}

            def pick(header: list[str], path: Path = path, chosen: dict = chosen) -> list[str]:
                cols, parts = plan(mapping, header, str(path), mapping.header_row)
                chosen["parts"] = parts
                return cols

            table = read_table(path, mapping, pick, Path(tmp))
            if table.frame.height == 0:
                raise FileProblem(f"{path} line {table.header_line + 1} column 1: no data rows after the header")
            for part in chosen["parts"]:
                out, errs = read_part(table, i, part, mapping)
                parsed.append(out)
                errors.append(errs.with_columns(pl.lit(i, pl.UInt16).alias("file_no")))
            del table
    data = pl.concat(parsed, how="vertical_relaxed")
    dup = duplicates(data, names, mapping)
    if dup.height:
        file_no = {n: i for i, n in enumerate(names)}
        dup = dup.with_columns(pl.col("file").replace_strict(file_no, return_dtype=pl.UInt16).alias("file_no"))
        errors.append(dup)
    err = pl.concat(errors, how="vertical_relaxed") if errors else pl.DataFrame(schema=ERRORS)
    err = err.unique(["file_no", "line", "column"], keep="first").sort("file_no", "line", "column")
    return data, err


def import_status(files: Sequence[str | Path], url: str, mapping_path: str | Path, replace: bool = False,
                  max_bad_rows: int = 0, progress: Callable[[str], None] | None = None) -> ImportSummary:
    """Read the files with the mapping, and write cases, balance_snapshots and payments (every other contract table
    empty, one 'unassigned' team and agent) to `url`. Refuses (ImportStatusError, nothing written) on a bad
    mapping or file, or when more than `max_bad_rows` rows cannot be read."""
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    mapping = load_mapping(mapping_path)
    if not files:
        raise ImportStatusError("give at least one month-end status file")
    if max_bad_rows < 0:
        raise ImportStatusError(f"--max-bad-rows must be 0 or more, not {max_bad_rows}")
    with open_target(url, replace, ImportStatusError) as target:
        data, err = read_status_files(files, mapping, say)
        bad = err.select("file_no", "line").unique(maintain_order=True)
        if bad.height > max_bad_rows:
            e = err.row(0, named=True)
            more = f"; {bad.height:,} bad rows in all" if bad.height > 1 else ""
            allow = f" (--max-bad-rows allows {max_bad_rows:,})" if max_bad_rows else \
                " (--max-bad-rows N imports without up to N bad rows)"
            raise BadRows(f"{e['file']} line {e['line']} column {e['column']}: {e['problem']}: '{e['value']}'"
                          f"{more}; nothing written{allow}")
        say(f"read {data.height:,} account-months from {len(files)} file(s)")
        good = data.join(bad.rename({"file_no": "file"}), on=["file", "line"], how="anti") if bad.height else data
        del data
        if good.height == 0:
            raise BadRows(f"{files[0]} line {mapping.header_row + 1} column 1: no row could be read; nothing written")
        frames = contract_frames(good, mapping)
        say(f"writing {frames['cases'].height:,} cases, {frames['balance_snapshots'].height:,} snapshot rows, "
            f"{frames['payments'].height:,} payments to {target.label}")
        target.write(frames, say)
        label = None
        if mapping.outcome is not None:
            label = f"{mapping.outcome_label} ({mapping.outcome} = {' or '.join(mapping.outcome_positive)})"
        bad_rows = [{k: r[k] for k in ("file", "line", "column", "value", "problem")} for r in err.iter_rows(named=True)]
        return summarize(target.label, [str(f) for f in files], frames, good, bad_rows, label,
                         mapping.outcome_positive, time.perf_counter() - t0)
