"""A digest's charts, drawn by the dashboard's own Plotly builders and exported as PNG through the system's Chromium.

Plotly's static export uses kaleido, which drives a headless Chrome: Debian's /usr/bin/chromium is found without
settings (BROWSER_PATH overrides it), nothing is downloaded. One browser serves every figure of a run
(kaleido's sync server); a batch of figures renders in `TABS` tabs at once.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import plotly.graph_objects as go
import polars as pl

from dashboard import charts
from dashboard.format import money_axis
from dashboard.i18n import t
from queries.errors import DataUnavailable
from queries.notify.digest import Digest

WIDTH, HEIGHT, SCALE = 760, 360, 1.5
#: Browser tabs rendering at once (kaleido's n).
TABS = 2
#: Agents in the agents chart.
AGENT_BARS = 10


class ChartsUnavailable(DataUnavailable):
    """The charts cannot be drawn (no Chromium, kaleido missing or failing); the digest goes out without them."""


def figures(d: Digest) -> list[tuple[str, str, go.Figure]]:
    """(content id, title, figure) of the digest's two or three charts: daily vs target, by team (when the digest
    covers more than one team), the top agents."""
    lang = d.recipient.lang
    out = []
    if d.series.height:
        out.append(("daily", t("c_daily", lang), charts.daily(d.series, lang)))
    teams = d.teams.filter(pl.col("collected") > 0)
    if teams.height > 1:
        out.append(("teams", t("c_by_team", lang), charts.bars_with_rate(
            teams, lang, "team_id", teams["team_id"].to_list(), "collected", "achievement", t("achievement", lang),
            "team_id", target_col="target")))
    if d.top.height:
        board = d.top.vstack(d.bottom).unique("agent_id").sort("rank").head(AGENT_BARS)
        div, unit = money_axis(lang)
        out.append(("agents", t("n_top", lang), charts.hbar(
            [f"{a} {n or ''}"[:24] for a, n in zip(board["agent_id"], board["agent_name"], strict=True)],
            [v / div for v in board["collected"].to_list()], lang, f"{t('collected', lang)}{unit}",
            fmt="money", height=max(260, 28 * board.height + 80))))
        out[-1][2].update_layout(margin={"r": 70})  # room for the bar labels, which a page lets overflow
    return out


_started = False


def _start() -> None:
    global _started
    if _started:
        return
    try:
        import kaleido
    except ImportError as exc:
        raise ChartsUnavailable(f"charts need the kaleido package ({exc})") from None
    kaleido.start_sync_server(n=TABS, mathjax=False, silence_warnings=True)
    _started = True


def png(figs: list[go.Figure], width: int = WIDTH, height: int | None = None) -> list[bytes]:
    """PNG bytes of each figure, in order, rendered in one batch by the shared browser."""
    if not figs:
        return []
    _start()
    import kaleido

    with tempfile.TemporaryDirectory(prefix="digest-charts-") as tmp:
        paths = [Path(tmp) / f"{i}.png" for i in range(len(figs))]
        jobs = [{"fig": f.to_dict(), "path": str(p),
                 "opts": {"format": "png", "width": width, "height": height or f.layout.height or HEIGHT,
                          "scale": SCALE}} for f, p in zip(figs, paths, strict=True)]
        try:
            errors = kaleido.write_fig_from_object_sync(jobs, cancel_on_error=False)
        except Exception as exc:  # noqa: BLE001 - the browser could not start or died: one line, no charts
            raise ChartsUnavailable(f"charts could not be drawn: {exc}") from None
        if errors:
            raise ChartsUnavailable(f"charts could not be drawn: {errors[0]}")
        return [p.read_bytes() for p in paths]
