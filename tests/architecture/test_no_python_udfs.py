"""No Python UDFs in Polars expressions: they deadlocked the server under concurrent sessions.

Found by the 20-session load test (bench/load_sessions.py): every thread of the server waited for the GIL.
Polars ran `map_elements` lambdas on its worker threads, which need the GIL, while another session's thread
held the GIL waiting for those same workers (st.dataframe → DataFrame.to_pandas). Native expressions never
need the GIL on the workers, so the cycle cannot form.
"""

from __future__ import annotations

import ast
from pathlib import Path

import polars as pl
import pytest

from dashboard.i18n import _VALUES, value, values_expr

ROOT = Path(__file__).resolve().parents[2]
UDF_METHODS = {"map_elements", "map_batches", "map_groups", "map_rows"}


def _udf_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [f"{path.relative_to(ROOT)}:{node.lineno} .{node.func.attr}()"
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in UDF_METHODS]


def test_the_dashboard_and_queries_hold_no_python_udfs() -> None:
    files = [*(ROOT / "queries").rglob("*.py"), *(ROOT / "dashboard").rglob("*.py"), ROOT / "streamlit_app.py"]
    assert len(files) > 20
    found = [hit for f in files for hit in _udf_calls(f)]
    assert not found, f"Python UDFs in Polars expressions (use native expressions): {found}"


def test_the_udf_finder_finds_one(tmp_path: Path) -> None:
    bad = ROOT / "tests" / "_udf_sample.py"
    bad.write_text("import polars as pl\nx = pl.col('a').map_elements(str, return_dtype=pl.String)\n")
    try:
        assert _udf_calls(bad) == ["tests/_udf_sample.py:2 .map_elements()"]
    finally:
        bad.unlink()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_values_expr_translates_like_value(lang: str) -> None:
    keys = [*_VALUES, None, "not_a_known_value", ""]
    got = pl.DataFrame({"v": keys}, schema={"v": pl.String}).select(values_expr("v", lang))["v"].to_list()
    assert got == [value(k, lang) for k in keys]
    assert got[keys.index(None)] == "—"
    assert got[keys.index("not_a_known_value")] == "not_a_known_value"
