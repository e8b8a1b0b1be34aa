"""The dashboard server: Streamlit's own `streamlit run`, plus a warm-up that loads the page modules, Plotly and
the store as soon as the server listens, so the first viewer does not wait for them.

Streamlit has no server-start hook (an app's code runs only when a session runs it), so `collections-dashboard
run` starts this module instead of `streamlit run`: the warm-up runs on a thread of the server process once
Streamlit's runtime has started (so it never keeps the port closed), and records nothing in the audit log (no
viewer, no view).
A session arriving before it has finished waits on the same locks (imports, the store's cache) instead of
doing the work twice.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
log = logging.getLogger("collections.dashboard")


def _server_started(wait_s: float) -> bool:
    """Wait until Streamlit's runtime has started (its port is open); False when it did not within wait_s."""
    from streamlit import runtime
    from streamlit.runtime.runtime import Runtime, RuntimeState

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if runtime.exists() and Runtime.instance().state != RuntimeState.INITIAL:
            return True
        time.sleep(0.05)
    return False


def warm_up(wait_s: float = 120.0) -> str:
    """Once the server listens (the warm-up never delays it): import what the pages use, draw one Plotly figure,
    open the store and build its shared figures (dashboard.data.warm_up); one line saying what was done and when."""
    _server_started(wait_s)
    t0 = time.perf_counter()
    import numpy  # noqa: F401 - first, as streamlit_app.py does (complete modules for Plotly)
    import pandas  # noqa: F401

    from dashboard import (  # noqa: F401
        audit,
        charts,
        components,
        data,
        exports,
        links,
        overview,
        session,
        sidebar,
    )

    charts.warm()
    imported = time.perf_counter() - t0
    version = data.warm_up()
    return (f"warm-up done in {time.perf_counter() - t0:.2f} s (imports and Plotly {imported:.2f} s; "
            f"store {version or 'not available'})")


def _warm() -> None:
    try:
        line = warm_up()
    except Exception:
        log.exception("warm-up failed; the first view loads what it needs itself")
    else:  # the tests read this line: the warm-up ran before any session
        print(f"collections-dashboard: {line}", file=sys.stderr, flush=True)


def main(args: list[str] | None = None) -> int:
    """`streamlit run streamlit_app.py [args]` with the warm-up started beside it."""
    threading.Thread(target=_warm, name="warm-up", daemon=True).start()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if args is None else args)]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
