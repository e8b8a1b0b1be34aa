"""One rounding rule for every shown number: half away from zero at the digits shown (四舍五入, as Excel's ROUND
does), the same on a card, in a table (as text or as a number the browser formats), in a chart's hover, in a
message and in an export."""

from __future__ import annotations

import random
import re
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest

from dashboard.components import delta_style, table
from dashboard.exports import NUMBER_FORMATS, Column, typed
from dashboard.format import (
    change,
    cny,
    fixed,
    fixed_expr,
    num,
    pct,
    pp,
    rounded_expr,
    units,
)


@pytest.mark.parametrize(("shown", "want"), [
    (pct(247 / 2000), "12.4%"),  # 12.35 %: a person, Excel and 四舍五入 all say 12.4 (Python's format says 12.3)
    (pct(1 / 2000), "0.1%"),  # 0.05 %
    (pct(49 / 400), "12.3%"),  # 12.25 %, a tie the float holds exactly: up, not to the even 12.2
    (pct(-1 / 2500), "0.0%"),  # −0.04 %: rounds to zero, and zero has no sign
    (pct(0.12345, 2), "12.35%"),
    (pp(247 / 2000 - 0.1), "+2.4 pp"),  # 12.35 % − 10 % = 2.35 pp
    (pp(-0.0004), "+0.0 pp"),
    (pp(-0.0235), "-2.4 pp"),  # away from zero on the negative side too
    (change(-0.1235), "-12.4%"),
    (cny(123_450, "zh"), "¥12.35万"),  # 12.345 万
    (cny(12_345, "zh"), "¥1.23万"),
    (cny(1234.5, "zh"), "¥1,235"),
    (cny(-0.3, "zh"), "¥0"),  # no minus on a zero
    (cny(-12_345_678, "zh"), "-¥1,234.57万"),
    (cny(999_999_995, "zh"), "¥10.00亿"),
    (cny(1_234_500, "en"), "¥1.23M"),  # 1.2345 M
    (cny(1_235_000, "en"), "¥1.24M"),  # 1.235 M
    (num(2.5), "3"),
    (num(-2.5), "-3"),
    (num(1_234_567.125, 2), "1,234,567.13"),
    (num(None), "—"),
    (pct(float("nan")), "—"),
])
def test_hand_worked_values(shown: str, want: str) -> None:
    assert shown == want


def _ratios(n: int, seed: int) -> list[tuple[int, int]]:
    """Counts over denominators below 10⁶, as the metrics divide them; many land on a tie at one decimal of a percent
    (a denominator of 2,000 does for every odd count of 0.5 ‰)."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        base = rnd.choice([2, 8, 40, 200, 400, 2000, 8000, 20_000, 999_983])
        d = base * rnd.randint(1, 999_999 // base)
        out.append((rnd.randint(-d // 4, d), d))
    return out


def test_a_rate_is_shown_as_exact_arithmetic_rounds_it_half_up() -> None:
    """The independent computation: the count ratio in exact decimals, times 100, ROUND_HALF_UP at one decimal."""
    wrong = []
    for k, d in _ratios(20_000, 1):
        exact = (Decimal(k) / Decimal(d) * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
        want = f"{exact:.1f}%".replace("-0.0%", "0.0%")
        if pct(k / d) != want:
            wrong.append((k, d, pct(k / d), want))
    assert not wrong, wrong[:5]


def test_money_in_wan_is_shown_as_exact_arithmetic_rounds_it_half_up() -> None:
    """Amounts in cents (ties at every half fen of ¥万: 12,345,000 cents is ¥12.345万), as the cards show them."""
    rnd = random.Random(2)
    for _ in range(20_000):
        step = rnd.choice([1, 10, 5000])
        cents = rnd.randint(10**6 // step, (10**10 - 1) // step) * step
        exact = (Decimal(cents) / Decimal(10**6)).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert cny(cents / 100, "zh") == f"¥{exact:,.2f}万", cents


def test_polars_and_python_give_the_same_digits() -> None:
    """fixed_expr (tables as text) and rounded_expr (tables as numbers, exports) against fixed and units, on ties,
    float noise on both sides of them, negatives, zeros and large values."""
    rnd = random.Random(3)
    values = [0.0, -0.0, 0.05, -0.05, 0.15, 0.25, 2.5, -2.5, 12.35, 1e9 + 0.5, -1e-9]
    for k, d in _ratios(5_000, 4):
        values.append(k / d * 100)
    values += [rnd.uniform(-1e6, 1e6) for _ in range(5_000)]
    values += [v + e for v in (0.05, 12.35, 123.45) for e in (-1e-12, 1e-12, -1e-7, 1e-7)]
    df = pl.DataFrame({"v": values})
    for digits in (0, 1, 2):
        got = df.select(fixed_expr(pl.col("v"), digits).alias("t"), fixed_expr(pl.col("v"), digits, plus=True)
                        .alias("p"), rounded_expr(pl.col("v"), digits).alias("r"),
                        fixed_expr(pl.col("v"), digits, plus=True, grouped=True).alias("g"))
        want_t = [fixed(v, digits) for v in values]
        want_p = [fixed(v, digits, plus=True) for v in values]
        want_r = [units(v, digits) / 10**digits for v in values]
        assert got.get_column("t").to_list() == want_t
        assert got.get_column("p").to_list() == want_p
        assert got.get_column("g").to_list() == [fixed(v, digits, grouped=True, plus=True) for v in values]
        assert got.get_column("r").to_list() == want_r
        # the number a table hands the browser formats to the same digits (Python's %-format stands in for the
        # browser's: the value is already rounded, so no formatter's own tie rule comes into it)
        assert [f"{r:.{digits}f}".replace("-0", "0") if r == 0 else f"{r:.{digits}f}"
                for r in got.get_column("r").to_list()] == want_t


def test_a_card_and_a_table_read_the_same_for_every_rate() -> None:
    """A rate's card (pct), its table cell as text (a column with a gap) and as a number the browser formats with
    "%.1f%%" (a column without): the same digits — before, the three could disagree on a tie (12.35 %: 12.3 on the
    card, 12.4 in the table)."""
    ratios = _ratios(3_000, 5)
    rates = [k / d for k, d in ratios]
    whole = table(pl.DataFrame({"r": rates}), "zh", kinds={"r": "rate"}).frame.get_column("r").to_list()
    gapped = table(pl.DataFrame({"r": [*rates, None]}), "zh", kinds={"r": "rate"}).frame.get_column("r").to_list()
    cards = [pct(r) for r in rates]
    assert [f"{v:.1f}%" for v in whole] == cards
    assert gapped[:-1] == cards and gapped[-1] == ""
    # an infinite value is a gap too: an empty cell, not "None" (the column then shown as text)
    assert table(pl.DataFrame({"r": [247 / 2000, float("inf")]}), "zh", kinds={"r": "rate"}).frame.get_column(
        "r").to_list() == ["12.4%", ""]


def test_a_tables_money_and_numbers_have_thousands_separators_as_the_cards() -> None:
    """¥1,234.57万 in a table as on a card (the table read ¥1234.57万), whether the column is shown as text (it has
    a gap) or as numbers the browser formats (printf with ",": Streamlit's thousands separator)."""
    money = [12_345_678.9, -98_765_432.1, 999.0]
    gapped = table(pl.DataFrame({"m": [*money, None], "x": [1234567.891, 12.5, -1000.0, None]}), "zh",
                   kinds={"m": "money", "x": "number"}).frame
    assert gapped.get_column("m").to_list() == ["¥1,234.57万", "¥-9,876.54万", "¥0.10万", ""]
    assert [cny(v, "zh") for v in money[:2]] == ["¥1,234.57万", "-¥9,876.54万"]
    assert gapped.get_column("x").to_list() == ["1,234,567.89", "12.50", "-1,000.00", ""]
    whole = table(pl.DataFrame({"m": money, "x": [1.0, 2.0, 3.0]}), "zh", kinds={"m": "money", "x": "number"})
    assert whole.config["m"]["type_config"]["format"] == "¥%,.2f万"
    assert whole.config["x"]["type_config"]["format"] == "%,.2f"
    assert whole.formats["m"](1234.567) == "¥1,234.57万"  # the Styler's text, for tables with shaded cells


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_money_columns_largest_value_reads_as_on_a_card(lang: str) -> None:
    """One scale rule for cards and table columns: the English table showed ¥54.5K beside a card's ¥54,480. A
    column never goes to ¥亿/¥B, where its smaller amounts would read ¥0.00亿."""
    def cells(values: list[float]) -> list[list[str]]:
        """A column's cells as text, as numbers the browser formats, and through the Styler's formats."""
        text = table(pl.DataFrame({"m": [*values, None]}), lang, kinds={"m": "money"})
        whole = table(pl.DataFrame({"m": values}), lang, kinds={"m": "money"})
        fmt = whole.config["m"]["type_config"]["format"]
        digits = int(re.search(r"\.(\d)f", fmt).group(1))
        browser = [fmt.replace(f"%,.{digits}f", f"{v:,.{digits}f}") for v in whole.frame.get_column("m")]
        return [text.frame.get_column("m").to_list()[:-1], browser, [whole.formats["m"](v) for v in
                                                                     whole.frame.get_column("m")]]

    for v in [0.0, 999.4, 9_999.5, 54_480.0, 999_999.4, 999_999.6, 1e6, 8_234_567.0, 99_994_999.0]:
        assert {c[0] for c in cells([v])} == {cny(v, lang)}, (lang, v)
    big = [2.1e9, 3e6, 4.9e4]
    want = {"zh": ["¥210,000.00万", "¥300.00万", "¥4.90万"], "en": ["¥2,100.00M", "¥3.00M", "¥0.05M"]}[lang]
    assert cells(big) == [want] * 3
    assert cny(2.1e9, lang) == {"zh": "¥21.00亿", "en": "¥2.10B"}[lang]  # a card keeps its larger unit


def test_an_export_holds_the_rounded_points_and_cents() -> None:
    """pp to two decimals of a point and money to the cent, by the same rule, and Excel shows them with those
    digits (a pp format of one decimal would round 1.25 again, to 1.3, beside a card's +1.2 pp)."""
    df = pl.DataFrame({"d": [0.00125, -0.00125, 0.0012349], "m": [10.005, -10.005, 2.675]})
    out = typed(df, [Column("d", "d", "pp"), Column("m", "m", "money")], "zh")
    assert out.get_column("d").to_list() == [0.13, -0.13, 0.12]
    assert out.get_column("m").to_list() == [10.01, -10.01, 2.68]
    assert NUMBER_FORMATS["pp"].startswith('+0.00" pp"') and NUMBER_FORMATS["money"].endswith("0.00")


@pytest.mark.parametrize(("delta", "want"), [
    (pp(-0.0004), ("off", "off")),  # −0.04 pp shows +0.0 pp: neither a rise nor a fall
    (change(0.0004), ("off", "off")),
    (f"{change(-0.0004)} 环比", ("off", "off")),
    (pp(0.0006), ("inverse", "auto")),
    (change(-0.1), ("inverse", "auto")),
    ("+10.0%", ("inverse", "auto")),
    (None, ("inverse", "auto")),
])
def test_a_change_shown_as_zero_has_no_arrow(delta: str | None, want: tuple[str, str]) -> None:
    assert delta_style(delta, "inverse", "auto") == want


def test_a_charts_hover_shows_the_cards_digits() -> None:
    """The rate a line's hover shows is the card's text, not Plotly's own format of the float (which rounds
    12.35 % down)."""
    import datetime as dt

    from dashboard import charts

    months = [dt.date(2026, 9, 1), dt.date(2026, 10, 1)]
    df = pl.DataFrame({"month": months, "collected": [123_450.0, 1_000.0], "recovery_rate": [247 / 2000, 49 / 400]})
    rate = charts.monthly(df, "zh").data[1]
    assert list(rate.hovertext) == ["12.4%", "12.3%"] and "%{hovertext}" in rate.hovertemplate
    assert ":." not in rate.hovertemplate  # no number format of Plotly's own
    line = charts.lines(df.with_columns(pl.lit("a").alias("s")), "zh", "month", "recovery_rate", "s", "r").data[0]
    assert list(line.hovertext) == ["12.4%", "12.3%"] and ":." not in line.hovertemplate
