"""DingTalk (钉钉) custom robot: markdown messages ({"msgtype": "markdown", "markdown": {"title", "text"}}).

With the robot's signed-request option (加签) each request carries `timestamp` (milliseconds) and `sign` in the
query: Base64(HmacSHA256(key=secret, message=f"{timestamp}\\n{secret}")), URL-encoded. A custom robot cannot
upload images, so charts are reached through the dashboard link. Messages are kept under 15,000 UTF-8 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

from queries.notify.channels.base import DeliveryError

KIND = "dingtalk"
MARKDOWN_LIMIT = 15000
IMAGES = False


def markdown(text: str, title: str) -> dict:
    """One markdown message; `title` is what the chat list shows."""
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


def sign(secret: str, timestamp_ms: int) -> str:
    """The signature of a request made at `timestamp_ms` (Base64, before URL encoding)."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def prepare(webhook: str, secret: str | None, body: dict, now_s: float) -> tuple[str, dict]:
    """The URL (signed when the robot has a secret) and body to POST."""
    if not secret:
        return webhook, body
    ts = int(now_s * 1000)
    query = urllib.parse.urlencode({"timestamp": ts, "sign": sign(secret, ts)})
    return f"{webhook}{'&' if '?' in webhook else '?'}{query}", body


def check(answer: dict) -> None:
    """DeliveryError unless DingTalk accepted the message."""
    if answer.get("errcode") != 0:
        raise DeliveryError(f"DingTalk refused the message: errcode {answer.get('errcode')} "
                            f"{answer.get('errmsg', '')}")
