"""Charts as Plotly draws them in Chromium: every tick label reads its tick's value, no two labels of an axis
are the same ("1%" four times on a 0–2 % axis, "11-02" twice over three days, 0 1 1 2 万元), and a team's pace
label is not crossed by its marks.

The chart builders' figures are drawn one after another in one Chromium page by the Plotly.js of the `plotly`
package (4.1; the dashboard's Streamlit draws with 4.2), and each axis's ticks are read from Plotly's own layout
(`_fullLayout.<axis>._vals`: the value and the text of every tick it drew).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sys
from pathlib import Path

import plotly
import polars as pl
import pytest

from dashboard import charts

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from screenshots import CHROMIUM  # noqa: E402

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}: test skipped")

#: Draw a figure (its JSON) in the page's one div and return each axis's ticks as Plotly drew them.
DRAW = """async (spec) => { const gd = document.getElementById('g');
    await Plotly.newPlot(gd, spec.data, spec.layout); const out = {};
    for (const [k, ax] of Object.entries(gd._fullLayout)) if (/^[xy]axis\\d*$/.test(k) && ax._vals)
        out[k] = ax._vals.map(v => [v.x, v.text]);
    return out; }"""
SI = {"k": 1e3, "M": 1e6, "G": 1e9, "": 1.0}


@pytest.fixture(scope="module")
def page(chrome, tmp_path_factory):  # noqa: ANN001, ANN201
    """One page holding Plotly.js and an empty div; each figure is drawn in it in turn (loading the 4.8 MB script
    once, not per figure)."""
    folder = tmp_path_factory.mktemp("ticks")
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", folder / "plotly.min.js")
    (folder / "ticks.html").write_text('<html><body><div id="g"></div><script src="plotly.min.js"></script>'
                                       "</body></html>", encoding="utf-8")
    page = chrome.new_page(viewport={"width": 1280, "height": 900})
    page.goto((folder / "ticks.html").as_uri())
    page.wait_for_function("() => window.Plotly")
    return page


def ticks(page, fig, width: int = 1100) -> dict[str, list[tuple[float, str]]]:  # noqa: ANN001
    """Each axis of `fig` as Plotly drew it at `width` px: (value, label) per tick."""
    fig.update_layout(width=width)
    return {k: [(x, text) for x, text in v] for k, v in page.evaluate(DRAW, json.loads(fig.to_json())).items()}


def number(label: str) -> float:
    """The value a numeric tick label reads: "1.5%" 0.015, "¥1.5k" 1500, "2,000" 2000, "−0.5" −0.5."""
    m = re.fullmatch(r"(?P<sign>[−-]?)¥?(?P<n>[\d,]*\.?\d+)(?P<si>[kMG]?)(?P<pct>%?)", label.strip())
    assert m, label
    v = float(m["n"].replace(",", "")) * SI[m["si"]] / (100 if m["pct"] else 1)
    return -v if m["sign"] else v


def assert_reads_its_value(axis: list[tuple[float, str]]) -> None:
    labels = [text for _, text in axis]
    assert len(labels) >= 2 and len(set(labels)) == len(labels), labels
    for x, text in axis:
        assert number(text) == pytest.approx(x, rel=1e-9, abs=1e-12), (x, text)


def test_small_rates_and_amounts_read_their_values(page) -> None:  # noqa: ANN001
    # M1 recovered 1.8 % of ¥5,000 in three days: the rate axis steps 0.2–0.5 %, the money axis 0.1 万 or ¥100
    df = pl.DataFrame({"bucket": ["M1", "M2", "M3"], "collected": [900.0, 2400.0, 5000.0],
                       "rate": [0.004, 0.012, 0.018]})
    for lang in ("zh", "en"):
        fig = charts.bars_with_rate(df, lang, "bucket", df["bucket"].to_list(), "collected", "rate", "回收率")
        drawn = ticks(page, fig)
        assert_reads_its_value(drawn["yaxis"])
        assert_reads_its_value(drawn["yaxis2"])
        assert any(0 < x < 0.01 for x, _ in drawn["yaxis2"])  # steps below one per cent were drawn
        if lang == "zh":
            assert any(0 < x < 1 for x, _ in drawn["yaxis"])  # steps below one 万 were drawn


def test_rates_up_to_all_and_large_amounts_keep_plain_labels(page) -> None:  # noqa: ANN001
    df = pl.DataFrame({"bucket": ["M1", "M2"], "collected": [12_345_678.0, 98_765_432.0], "rate": [0.2, 0.95]})
    drawn = ticks(page, charts.bars_with_rate(df, "zh", "bucket", ["M1", "M2"], "collected", "rate", "r"))
    assert_reads_its_value(drawn["yaxis"])
    assert_reads_its_value(drawn["yaxis2"])
    assert all(re.fullmatch(r"\d+%", text) for _, text in drawn["yaxis2"])  # 20 %, 40 %…: no decimals
    assert any("," in text for _, text in drawn["yaxis"])  # 万元 grouped by thousands: 2,000
    drawn = ticks(page, charts.bars_with_rate(df, "en", "bucket", ["M1", "M2"], "collected", "rate", "r"))
    assert_reads_its_value(drawn["yaxis"])
    assert all(text.endswith("M") or number(text) == 0 for _, text in drawn["yaxis"])  # ¥20M, not ¥20,000,000


@pytest.mark.parametrize("n_days", [1, 2, 3, 7, 9, 10, 16, 31])
def test_a_day_axis_ticks_whole_days_once_each(page, n_days: int) -> None:  # noqa: ANN001
    days = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(n_days)]
    df = pl.DataFrame({"day": days, "collected": [1.0e5] * n_days,
                       "cumulative": [1.0e5 * (i + 1) for i in range(n_days)], "target": [None] * n_days},
                      schema_overrides={"target": pl.Float64})
    for lang, width in (("zh", 1100), ("en", 1100), ("zh", 330)):
        xs = ticks(page, charts.daily(df, lang), width)["xaxis"]
        labels = [text for _, text in xs]
        assert len(set(labels)) == len(labels), (n_days, lang, width, labels)
        assert all(x % charts.DAY_MS == 0 for x, _ in xs), (n_days, labels)  # at midnight: on the bars
        if n_days < 10:  # the axis ticks from the first day (Plotly's own weekly ticks fall on Sundays)
            assert min(dt.datetime.fromtimestamp(x / 1000, dt.UTC).date() for x, _ in xs) == days[0], labels


@pytest.mark.parametrize(("n_weeks", "every"), [(1, 1), (3, 1), (8, 1), (9, 2), (16, 2), (47, 6)])
def test_a_week_axis_ticks_on_the_weeks_mondays(page, n_weeks: int, every: int) -> None:  # noqa: ANN001
    weeks = [dt.date(2026, 1, 5) + dt.timedelta(weeks=i) for i in range(n_weeks)]  # Mondays
    df = pl.DataFrame({"week": weeks, "numerator": [5] * n_weeks, "regulator_12378": [1] * n_weeks,
                       "value": [1.2] * n_weeks})
    for width in (1100, 330):
        xs = ticks(page, charts.weekly(df, "zh"), width)["xaxis"]
        drawn = [dt.datetime.fromtimestamp(x / 1000, dt.UTC).date() for x, _ in xs]
        # every `every`-th Monday from the first, each of the data's (Plotly may add one past the last bar)
        assert all((d - weeks[0]).days % (7 * every) == 0 for d in drawn), (n_weeks, width, drawn)
        assert set(weeks[::every]) <= set(drawn), (n_weeks, width, [text for _, text in xs])
        assert [text for _, text in xs] == [f"{d:%m-%d}" for d in drawn]


def test_english_amounts_below_a_yuan_read_as_yuan(page) -> None:  # noqa: ANN001
    # SI suffixes below one read as thousandths: ¥500m for half a yuan
    df = pl.DataFrame({"bucket": ["M1", "M2"], "collected": [0.4, 2.6], "rate": [0.01, 0.02]})
    drawn = ticks(page, charts.bars_with_rate(df, "en", "bucket", ["M1", "M2"], "collected", "rate", "r"))
    assert_reads_its_value(drawn["yaxis"])
    assert any(0 < x < 1 for x, _ in drawn["yaxis"]) and not any(t.endswith("m") for _, t in drawn["yaxis"])


#: Draw a figure and return the boxes of its bars' text labels and of its scatter marks, in page pixels.
BOXES = """async (spec) => { const gd = document.getElementById('g');
    await Plotly.newPlot(gd, spec.data, spec.layout);
    const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
    return {labels: Array.from(gd.querySelectorAll('.barlayer .bartext, .annotation-text'))
                .map(e => [e.textContent, box(e)]),
            marks: Array.from(gd.querySelectorAll('.scatterlayer .points path')).map(box),
            figure: box(gd.querySelector('.main-svg'))}; }"""


@pytest.mark.parametrize("width", [1100, 330])
def test_a_teams_pace_label_is_not_crossed_by_its_pace_or_target_mark(page, width: int) -> None:  # noqa: ANN001
    # expected-by-today marks just past each bar's end and targets a little further: where a label outside the
    # bar's end used to sit (a phone read "78%" struck through)
    df = pl.DataFrame({"team_id": ["T01", "T02", "T03", "T04", "T05"],
                       "team_name": ["早期一组", "早期二组", "中期组", "委外", "委外二组"],
                       "collected": [170_000.0, 165_000.0, 140_000.0, 65_000.0, 12_000.0],
                       "expected": [150_000.0, 182_000.0, 126_000.0, 83_000.0, 16_000.0],
                       "target": [210_000.0, 260_000.0, 165_000.0, 120_000.0, 30_000.0]})
    df = df.with_columns((pl.col("collected") / pl.col("target")).alias("achievement"),
                         (pl.col("collected") / pl.col("expected")).alias("pace"))
    fig = charts.team_pace(df, "zh")
    fig.update_layout(width=width)
    drawn = page.evaluate(BOXES, json.loads(fig.to_json()))
    shown = sorted(text for text, box in drawn["labels"] if box[2] > box[0])
    # the long bars' labels are drawn, and none is crossed by a mark (below)
    assert {"111%", "113%", "91%"} <= set(shown) <= {"111%", "113%", "78%", "91%", "75%"}, shown
    assert shown == ["111%", "113%", "75%", "78%", "91%"], shown  # every team's, the short bar's too
    assert all(box[2] <= drawn["figure"][2] for _, box in drawn["labels"]), drawn  # none cut off at the edge
    assert len(drawn["marks"]) == 10  # a pace mark and a target mark per team
    for text, (left, top, right, bottom) in drawn["labels"]:
        if right <= left:  # hidden
            continue
        # a mark of the label's own row (its middle within the label's height) running through the label
        crossed = [m for m in drawn["marks"] if m[0] < right and left < m[2] and top < (m[1] + m[3]) / 2 < bottom]
        assert not crossed, (width, text, (left, top, right, bottom), crossed)
