"""Feishu (飞书) custom bot: a message card whose body is a markdown element (a custom bot has no markdown message
type of its own, and cannot upload images: charts are reached through the dashboard link). A request body may
not exceed 20 KB, so markdown is kept under 16,000 UTF-8 bytes.

With signature verification (签名校验) the body carries `timestamp` (seconds) and `sign`:
Base64(HmacSHA256(key=f"{timestamp}\\n{secret}", message=b"")). Answer: {"code": 0, "msg": "success"}.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from queries.notify.channels.base import DeliveryError

KIND = "feishu"
MARKDOWN_LIMIT = 16000
BODY_LIMIT = 20 * 1024
IMAGES = False
_HEADING = re.compile(r"^#{1,6} +(.*)$", re.MULTILINE)


def markdown(text: str, title: str, template: str = "blue") -> dict:
    """One card: `title` in its header, the markdown (headings as bold lines, which cards render) in its body."""
    body = _HEADING.sub(r"**\1**", text)
    return {"msg_type": "interactive", "card": {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": title}, "template": template},
        "elements": [{"tag": "markdown", "content": body}]}}


def sign(secret: str, timestamp_s: int) -> str:
    """The signature of a request made at `timestamp_s`."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def prepare(webhook: str, secret: str | None, body: dict, now_s: float) -> tuple[str, dict]:
    """The URL and body (with timestamp and sign when the bot has a secret) to POST."""
    if not secret:
        return webhook, body
    ts = int(now_s)
    return webhook, {"timestamp": str(ts), "sign": sign(secret, ts), **body}


def check(answer: dict) -> None:
    """DeliveryError unless Feishu accepted the message (older answers say StatusCode instead of code)."""
    code = answer.get("code", answer.get("StatusCode"))
    if code != 0:
        raise DeliveryError(f"Feishu refused the message: code {code} {answer.get('msg', '')}")
