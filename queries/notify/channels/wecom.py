"""WeCom (企业微信) group robot: markdown messages of at most 4,096 UTF-8 bytes, PNG images of at most 2 MB as
base64 with their MD5 (webhook .../cgi-bin/webhook/send?key=…; answer {"errcode": 0, "errmsg": "ok"})."""

from __future__ import annotations

import base64
import hashlib

from queries.notify.channels.base import DeliveryError

KIND = "wecom"
MARKDOWN_LIMIT = 4096
IMAGE_LIMIT = 2 * 1024 * 1024
#: WeCom sends images itself, so charts go as image messages.
IMAGES = True


def markdown(text: str) -> dict:
    """One markdown message (text already within MARKDOWN_LIMIT)."""
    return {"msgtype": "markdown", "markdown": {"content": text}}


def image(png: bytes) -> dict | None:
    """One image message, or None when the image is over the size WeCom accepts."""
    if len(png) > IMAGE_LIMIT:
        return None
    return {"msgtype": "image", "image": {"base64": base64.b64encode(png).decode("ascii"),
                                          "md5": hashlib.md5(png).hexdigest()}}


def prepare(webhook: str, secret: str | None, body: dict, now_s: float) -> tuple[str, dict]:
    """The URL and body to POST (WeCom robots have no signature: the key in the webhook is the secret)."""
    return webhook, body


def check(answer: dict) -> None:
    """DeliveryError unless WeCom accepted the message."""
    if answer.get("errcode") != 0:
        raise DeliveryError(f"WeCom refused the message: errcode {answer.get('errcode')} {answer.get('errmsg', '')}")
