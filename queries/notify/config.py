"""Where messages go: the SMTP server and the named group robots, from .streamlit/secrets.toml or the environment.

    # .streamlit/secrets.toml
    [notify.smtp]
    host = "smtp.bank.example"
    port = 587
    tls = "starttls"                  # starttls, ssl or none
    username = "dashboard"
    password = "…"
    sender = "催收看板 <dashboard@bank.example>"

    [notify.robots.t01-group]
    kind = "wecom"                    # wecom, dingtalk or feishu
    webhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"
    secret = "…"                      # DingTalk 加签 / Feishu 签名校验 secret, when the robot has one

The environment overrides the file: CASES_SMTP_URL (smtp://user:pass@host:587?tls=starttls&from=…, or
smtps://… for implicit TLS) and CASES_NOTIFY_ROBOTS (JSON: {"name": {"kind", "webhook", "secret"}}).
Secrets never live in the alert rules file or the access file: those name channels only.
"""

from __future__ import annotations

import json
import tomllib
import urllib.parse
from dataclasses import dataclass, field

from queries.errors import UserError
from queries.governance.access import EMAIL
from queries.notify.channels import dingtalk, feishu, wecom
from queries.notify.channels.smtp import TLS_MODES, Smtp
from queries.settings import Settings

#: Robot kind → the module that writes and checks its messages.
ROBOT_KINDS = {m.KIND: m for m in (wecom, dingtalk, feishu)}
_ROBOT_KEYS = ("kind", "webhook", "secret")
_SMTP_KEYS = ("host", "port", "tls", "username", "password", "sender")


class ConfigError(UserError):
    """The channel configuration is wrong; the message names where and which key."""


@dataclass(frozen=True)
class Robot:
    """A group robot: its name (as the access and rules files write it), kind, webhook and optional secret."""

    name: str
    kind: str
    webhook: str
    secret: str | None = None

    def __repr__(self) -> str:  # webhooks and secrets are credentials: never in logs or messages
        return f"Robot({self.name!r}, {self.kind!r})"


@dataclass(frozen=True)
class Channels:
    """Every configured channel: e-mail (when an SMTP server is set) and the robots by name."""

    smtp: Smtp | None = None
    robots: dict[str, Robot] = field(default_factory=dict)

    def names(self) -> tuple[str, ...]:
        """Channel names a subscription or a rule may use."""
        return ((EMAIL,) if self.smtp else ()) + tuple(self.robots)

    def check(self, name: str, where: str) -> None:
        """ConfigError unless `name` is a configured channel."""
        if name == EMAIL and self.smtp is None:
            raise ConfigError(f"{where}: channel 'email' needs an SMTP server ([notify.smtp] in "
                              ".streamlit/secrets.toml or CASES_SMTP_URL)")
        if name != EMAIL and name not in self.robots:
            raise ConfigError(f"{where}: unknown channel {name!r}; configured: {', '.join(self.names()) or 'none'}")


def _robot(name: str, entry: object, where: str) -> Robot:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: robot {name!r} must be a table with kind and webhook")
    unknown = [k for k in entry if k not in _ROBOT_KEYS]
    if unknown:
        raise ConfigError(f"{where}: robot {name!r}: unknown key {unknown[0]!r}; use {', '.join(_ROBOT_KEYS)}")
    kind, hook = entry.get("kind"), entry.get("webhook")
    if kind not in ROBOT_KINDS:
        raise ConfigError(f"{where}: robot {name!r}: kind {kind!r}; use one of {', '.join(ROBOT_KINDS)}")
    if not isinstance(hook, str) or not hook.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: robot {name!r}: webhook must be an http(s) URL")
    secret = entry.get("secret")
    if secret is not None and not isinstance(secret, str):
        raise ConfigError(f"{where}: robot {name!r}: secret must be text")
    if name == EMAIL:
        raise ConfigError(f"{where}: 'email' is the e-mail channel's name; give the robot another")
    return Robot(name, kind, hook, secret or None)


def _smtp_table(entry: object, where: str) -> Smtp:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: [notify.smtp] must be a table")
    unknown = [k for k in entry if k not in _SMTP_KEYS]
    if unknown:
        raise ConfigError(f"{where}: [notify.smtp]: unknown key {unknown[0]!r}; use {', '.join(_SMTP_KEYS)}")
    if not isinstance(entry.get("host"), str) or not entry["host"]:
        raise ConfigError(f"{where}: [notify.smtp] needs host")
    tls = entry.get("tls", "starttls")
    if tls not in TLS_MODES:
        raise ConfigError(f"{where}: [notify.smtp] tls {tls!r}; use one of {', '.join(TLS_MODES)}")
    port = entry.get("port", 465 if tls == "ssl" else 587)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"{where}: [notify.smtp] port must be a port number")
    return Smtp(entry["host"], port, tls, entry.get("username"), entry.get("password"),
                entry.get("sender") or f"collections-dashboard@{entry['host']}")


def smtp_from_url(url: str) -> Smtp:
    """An SMTP server from smtp://user:pass@host:port?tls=starttls|none&from=… (smtps:// for implicit TLS)."""
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("smtp", "smtps") or not u.hostname:
        raise ConfigError("CASES_SMTP_URL must look like smtp://user:password@host:587?from=sender@example")
    q = urllib.parse.parse_qs(u.query)
    tls = "ssl" if u.scheme == "smtps" else q.get("tls", ["starttls"])[0]
    if tls not in TLS_MODES:
        raise ConfigError(f"CASES_SMTP_URL: tls={tls!r}; use one of {', '.join(TLS_MODES)}")
    try:
        port = u.port or (465 if tls == "ssl" else 587)
    except ValueError:
        raise ConfigError("CASES_SMTP_URL: the port is not a number") from None
    user = urllib.parse.unquote(u.username) if u.username else None
    password = urllib.parse.unquote(u.password) if u.password else None
    return Smtp(u.hostname, port, tls, user, password, q.get("from", [f"collections-dashboard@{u.hostname}"])[0])


def load_channels(settings: Settings) -> Channels:
    """The configured channels: secrets file first, then the environment's CASES_SMTP_URL and CASES_NOTIFY_ROBOTS."""
    smtp, robots = None, {}
    if settings.secrets_file is not None:
        where = str(settings.secrets_file)
        try:
            data = tomllib.loads(settings.secrets_file.read_text(encoding="utf-8")).get("notify", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{where}: cannot read ({exc})") from None
        if "smtp" in data:
            smtp = _smtp_table(data["smtp"], where)
        robots = {name: _robot(name, e, where) for name, e in (data.get("robots") or {}).items()}
    if settings.smtp_url:
        smtp = smtp_from_url(settings.smtp_url)
    if settings.notify_robots:
        try:
            env = json.loads(settings.notify_robots)
        except ValueError:
            raise ConfigError("CASES_NOTIFY_ROBOTS is not JSON") from None
        if not isinstance(env, dict):
            raise ConfigError("CASES_NOTIFY_ROBOTS must be a JSON object of robots by name")
        robots |= {name: _robot(name, e, "CASES_NOTIFY_ROBOTS") for name, e in env.items()}
    return Channels(smtp, robots)
