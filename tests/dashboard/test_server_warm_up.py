"""`collections-dashboard run` warms the server up before the first viewer: the real command, a real server, Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float) -> str:
    """The server log once it contains `text` (fails when the server exits or the time is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = path.read_text(errors="replace")
        if text in log:
            return log
        if proc.poll() is not None:
            pytest.fail(f"the server exited:\n{log[-2000:]}")
        time.sleep(0.2)
    pytest.fail(f"no '{text}' in the server log within {timeout} s:\n{path.read_text(errors='replace')[-2000:]}")


def _audit_lines(store: Path) -> list[str]:
    return [ln for f in sorted((store / "audit").glob("*.jsonl")) for ln in f.read_text().splitlines() if ln]


def test_run_warms_up_before_the_first_view_without_auditing(app_source, chrome, tmp_path) -> None:
    from screenshots import free_port, new_page, open_page

    url, store = app_source
    own = tmp_path / "store"
    shutil.copytree(store, own)
    before = _audit_lines(own)  # the shared store's log holds other tests' views
    port = free_port()
    env = {**os.environ, "CASES_DB_URL": url, "CASES_STORE_DIR": str(own), "CASES_DATA_DIR": str(tmp_path),
           "CASES_STORE_MAX_AGE_S": "1e12", "CASES_ALLOW_DEMO_MODE": "1"}
    cli = Path(sys.executable).with_name("collections-dashboard")
    log = tmp_path / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(cli), "run", "--server.port", str(port), "--server.headless", "true",
                                 "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        text = _wait_for(log, "warm-up done", proc, 180)
        version = (own / "CURRENT").read_text().strip()
        assert f"store {version}" in text  # the store was opened, before any session
        assert _audit_lines(own) == before  # the warm-up is no view: nothing audited, nothing refused
        page = new_page(chrome)
        views: list[str] = []
        try:
            open_page(page, f"http://127.0.0.1:{port}", "daily")
            # the view is audited when its run ends, which may follow the heading: wait with the page still open
            deadline = time.monotonic() + 30
            while not views and time.monotonic() < deadline:
                views = _audit_lines(own)[len(before):]
                time.sleep(0.1)
        finally:
            page.context.close()
        assert len(views) == 1 and '"view"' in views[0]  # the first real view is audited as usual
    finally:
        proc.terminate()
        proc.wait(20)
    # the command is the server (it execs it): stopping the command stops the server, none is left serving
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _listening(port):
        time.sleep(0.2)
    assert not _listening(port), "the server outlived `collections-dashboard run`"


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
