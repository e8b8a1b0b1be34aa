"""What every channel shares: the delivery error, and a JSON POST to a robot's webhook."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

#: Seconds a robot or mail server may take to answer one request.
TIMEOUT_S = 10.0


class DeliveryError(Exception):
    """A message was not accepted; the message is one line (no secrets: webhook keys are left out). `permanent`:
    trying again in the same run cannot help (a refused login), so the message waits for the next run at once."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def post_json(url: str, body: dict, timeout: float = TIMEOUT_S) -> dict:
    """POST `body` as UTF-8 JSON and return the JSON answer; DeliveryError on a network error or a non-200 status."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8"})
    host = urllib.request.urlparse(url).netloc
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"{host} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{host} unreachable: {reason}") from None
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        raise DeliveryError(f"{host} answered something that is not JSON") from None


def utf8_len(text: str) -> int:
    """Size of `text` in UTF-8 bytes (the unit the robots' limits are in)."""
    return len(text.encode("utf-8"))
