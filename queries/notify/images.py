"""A digest's charts, drawn by the dashboard's own Plotly builders and exported as PNG through the system's Chromium.

Plotly's static export uses kaleido, which drives a headless Chrome: Debian's /usr/bin/chromium is found without
settings (BROWSER_PATH overrides it), nothing is downloaded. One browser serves every figure of a run
and a batch of figures renders in `TABS` tabs at once.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import threading

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
#: Figures a tab draws before it is reloaded (see _Browser).
RECYCLE = 50
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
        out.append(("agents", t("n_agents_chart", lang), charts.hbar(
            [f"{a} {n or ''}"[:24] for a, n in zip(board["agent_id"], board["agent_name"], strict=True)],
            [v / div for v in board["collected"].to_list()], lang, f"{t('collected', lang)}{unit}",
            fmt="money", height=max(260, 28 * board.height + 80))))
        out[-1][2].update_layout(margin={"r": 70})  # room for the bar labels, which a page lets overflow
    return out


class _Browser:
    """One kaleido browser for the process, driven from its own event loop in a background thread."""

    def __init__(self, tabs: int) -> None:
        try:
            import kaleido
        except ImportError as exc:
            raise ChartsUnavailable(f"charts need the kaleido package ({exc})") from None

        class Recycling(kaleido.Kaleido):
            """kaleido reloads a tab (re-reading plotly.js) after every figure: measured at 0.6 s of the 0.7 s a
            digest chart took. Reloading after every RECYCLE figures instead keeps memory bounded at a fraction
            of the time. Should kaleido change this private hook, its own behaviour applies again."""

            uses: dict[int, int] = {}

            async def _return_kaleido_tab(self, tab: object) -> None:
                n = self.uses[id(tab)] = self.uses.get(id(tab), 0) + 1
                queue = getattr(self, "tabs_ready", None)
                if n % RECYCLE == 0 or queue is None:
                    await super()._return_kaleido_tab(tab)
                else:
                    await queue.put(tab)

        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="kaleido", daemon=True).start()
        self.browser = Recycling(n=tabs, mathjax=False)
        self.opened: asyncio.Future | None = None
        atexit.register(self.close)

    async def _ready(self) -> None:
        if self.opened is None:  # the first caller opens the browser; the others wait for the same opening
            self.opened = asyncio.ensure_future(self.browser.open())
        try:
            await asyncio.shield(self.opened)
        except Exception as exc:  # noqa: BLE001 - no Chromium, or it would not start: one line
            raise ChartsUnavailable(f"charts could not be drawn: the browser did not start ({exc})") from None

    def submit(self, jobs: list[tuple[dict, dict]]) -> concurrent.futures.Future:
        """Start drawing each (figure dict, options) in the browser's tabs; the future gives the PNGs in order.

        Returns at once, so the caller computes the next digest while the browser draws (it runs in its own
        processes); the browser opens on the first call."""
        async def draw() -> list[bytes]:
            await self._ready()
            return list(await asyncio.gather(*(self.browser.calc_fig(f, opts=o) for f, o in jobs)))

        return asyncio.run_coroutine_threadsafe(draw(), self.loop)

    def close(self) -> None:
        """Close the browser (at exit, or before; once)."""
        if not self.loop.is_running():
            return
        atexit.unregister(self.close)
        if self.opened is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self.browser.close(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)


_browser: _Browser | None = None


def _jobs(figs: list[go.Figure], width: int, height: int | None) -> list[tuple[dict, dict]]:
    return [(f.to_dict(), {"format": "png", "width": width, "height": height or f.layout.height or HEIGHT,
                           "scale": SCALE}) for f in figs]


def start() -> None:
    """Open the process's browser in the background (a digest run does this before computing its numbers)."""
    global _browser
    if _browser is None:
        _browser = _Browser(TABS)
        _browser.submit([])


def submit(figs: list[go.Figure], width: int = WIDTH, height: int | None = None) -> concurrent.futures.Future:
    """Start drawing the figures as PNG; `result(future)` gives their bytes in order."""
    start()
    return _browser.submit(_jobs(figs, width, height))


def result(future: concurrent.futures.Future) -> list[bytes]:
    """The PNGs of a submitted batch; ChartsUnavailable when the browser could not draw them."""
    try:
        return future.result()
    except ChartsUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - the browser died or timed out: one line, no charts
        raise ChartsUnavailable(f"charts could not be drawn: {exc}") from None


def png(figs: list[go.Figure], width: int = WIDTH, height: int | None = None) -> list[bytes]:
    """PNG bytes of each figure, in order, drawn by the process's one browser."""
    return result(submit(figs, width, height)) if figs else []
