"""Masking of personal data holds at every identifier length: the usual forms for the usual lengths (张*丰,
138****5678, 110105********1234, ****1234), and never more than half of a shorter value (a 9-character
passport number came out whole before)."""

from __future__ import annotations

import polars as pl
import pytest

from queries.governance.masking import PII_COLUMNS, mask_frame, mask_value


def _shown(original: str, masked: str) -> int:
    """Characters of the original that survive in the masked value (stars hide the rest)."""
    return sum(1 for ch in masked if ch != "*")


#: kind → (the length from which the usual form applies, characters that form always hides at that length)
USUAL = {"name": (3, 1), "phone": (11, 4), "id_number": (15, 5), "account": (12, 8)}


@pytest.mark.parametrize("column", sorted(PII_COLUMNS))
@pytest.mark.parametrize("length", range(1, 21))
def test_no_identifier_length_comes_out_whole(column: str, length: int) -> None:
    value = "".join("ABCDEFGHJKLMNPQRSTUVWXYZ"[i % 24] for i in range(length))
    masked = mask_value(column, value)
    shown = _shown(value, masked)
    assert masked != value and "*" in masked
    usual_from, hidden = USUAL[PII_COLUMNS[column]]
    if length < usual_from:
        assert shown <= length // 2, (column, value, masked)  # a short value: at most half of it
    else:
        assert length - shown >= hidden, (column, value, masked)


def test_the_usual_forms_are_kept() -> None:
    df = pl.DataFrame({"customer_name": ["张三", "张三丰", "欧阳娜娜"], "phone": ["13812345678"] * 3,
                       "id_number": ["110105199001011234", "E12345678", "A"],
                       "account_no": ["6222000012341234", "1234", "12"]})
    out = mask_frame(df)
    assert out["customer_name"].to_list() == ["张*", "张*丰", "欧**娜"]
    assert out["phone"].to_list() == ["138****5678"] * 3
    assert out["id_number"].to_list() == ["110105********1234", "E1*****78", "*"]
    assert out["account_no"].to_list() == ["****1234", "****4", "****"]
    assert mask_frame(df, reveal=True).equals(df)
