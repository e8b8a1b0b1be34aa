"""A minimal Streamlit websocket client: one session, one script run, as the browser does it."""

from __future__ import annotations

import asyncio
import time

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


async def view(ws_url: str, page: str, query: str, timeout: float, user: str | None = None,
                expect: str | None = None, header: str = "X-Load-User") -> tuple[float, str | None]:
    """Open one session on `page?query` as `user`; seconds until script_finished, and an error if any.

    With `expect`, the view is an error unless a heading containing that text was rendered.
    """
    t0 = time.perf_counter()
    headings: list[str] = []
    # No client keepalive pings: browsers send none, and a busy server answering them late is not an error.
    async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=timeout,
                                  ping_interval=None,
                                  additional_headers={header: user} if user else None) as ws:
        msg = BackMsg()
        msg.rerun_script.query_string = query
        msg.rerun_script.page_name = page
        await ws.send(msg.SerializeToString())
        seen: list[str] = []
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout)
            except TimeoutError:
                return time.perf_counter() - t0, f"no message for {timeout:.0f} s after {len(seen)} ({seen[-3:]})"
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            seen.append(kind if kind != "script_finished" else f"finished:{fwd.script_finished}")
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                el = fwd.delta.new_element
                if el.WhichOneof("type") == "exception":
                    return time.perf_counter() - t0, f"exception: {el.exception.message[:120]}"
                if el.WhichOneof("type") == "heading":
                    headings.append(el.heading.body)
            if kind == "page_not_found":
                return time.perf_counter() - t0, f"page not found: {page}"
            if kind == "script_finished":
                if expect is not None and not any(expect in h for h in headings):
                    return time.perf_counter() - t0, f"'{expect}' not rendered (headings: {headings[:2]})"
                return time.perf_counter() - t0, None
