"""Who may see what: the access file maps each user to a role and, for team leads, their teams.

    # .streamlit/access.toml (or CASES_ACCESS_FILE)
    [users."li.ming@bank.example"]
    role = "team_lead"
    teams = ["T01", "T02"]

    [users."wang.fang@bank.example"]
    role = "compliance"

A user may subscribe to the daily digest (queries.notify), in a `digest` table of known keys only:

    [users."li.ming@bank.example".digest]
    lang = "zh"                          # zh (default) or en
    channels = ["email", "t01-group"]    # "email" = this address; other names: robots configured in
                                         # .streamlit/secrets.toml [notify.robots.NAME] or CASES_NOTIFY_ROBOTS
    teams = ["T01"]                      # optional: narrows the digest, never wider than the user's scope

Alert rules (docs/notifications.md) send to the same channels and language.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from queries.errors import UserError
from queries.filters import Scope

ROLES = ("executive", "manager", "team_lead", "compliance")
#: Languages a digest or an alert is written in.
NOTIFY_LANGS = ("zh", "en")
#: The channel name that means "e-mail to the user's own address" (other names are configured robots).
EMAIL = "email"
_DIGEST_KEYS = ("lang", "channels", "teams")


class AccessError(UserError):
    """The access file is unreadable or wrong; the message names the user or line."""


@dataclass(frozen=True)
class Subscription:
    """A user's daily digest: language, channels (names), and the teams it narrows to (None = the whole scope)."""

    lang: str = "zh"
    channels: tuple[str, ...] = (EMAIL,)
    teams: frozenset[str] | None = None


@dataclass(frozen=True)
class Access:
    """The parsed access file: user (lower-case) → Scope, and user → digest Subscription for subscribers."""

    users: dict[str, Scope]
    subscriptions: dict[str, Subscription] = field(default_factory=dict)

    def scope_for(self, user: str | None) -> Scope | None:
        """The user's scope, or None when the user is unknown (who then sees no data)."""
        if not user:
            return None
        return self.users.get(user.strip().lower())


#: The keys a user's table may hold; anything else (a misspelt `team = [...]`) is an error, never ignored.
USER_KEYS = ("role", "teams", "digest")
TOP_KEYS = ("users",)


def _line_of(text: str, *needles: str) -> int | None:
    """The first line (1-based) holding all the needles in order, for error messages."""
    for n, line in enumerate(text.splitlines(), start=1):
        pos = 0
        for needle in needles:
            pos = line.find(needle, pos)
            if pos < 0:
                break
        else:
            return n
    return None


def _key_line(text: str, table_line: int | None, key: str) -> int | None:
    """The line of `key = …` in the table whose header is on `table_line` (anywhere when that is unknown)."""
    lines = text.splitlines()
    for n in range(table_line or 0, len(lines)):
        stripped = lines[n].strip()
        if table_line and stripped.startswith("["):
            break
        if stripped.split("=", 1)[0].strip().strip('"') == key:
            return n + 1
    return None


def _where(source: str, line: int | None) -> str:
    return f"{source}, line {line}" if line else source


def parse_access(text: str, source: str = "access file") -> Access:
    """Parse access TOML strictly: known keys only, a known role for everyone, teams as a list (empty = none),
    a team lead with their teams, and no two users whose e-mails differ only in case."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AccessError(f"{source}: not valid TOML ({exc})") from None
    for key in data:
        if key not in TOP_KEYS:
            raise AccessError(f"{_where(source, _line_of(text, key))}: unknown key {key!r}; use [users.\"…\"]")
    users = data.get("users")
    if not isinstance(users, dict) or not users:
        raise AccessError(f"{source}: no [users.\"…\"] entries")
    out: dict[str, Scope] = {}
    first_line: dict[str, int | None] = {}
    subs: dict[str, Subscription] = {}
    for user, entry in users.items():
        line = _line_of(text, "users", user)
        where = _where(source, line)
        if not isinstance(entry, dict):
            raise AccessError(f"{where}: user {user!r} must be a table with role (and teams)")
        unknown = [k for k in entry if k not in USER_KEYS]
        if unknown:
            raise AccessError(f"{_where(source, _key_line(text, line, unknown[0]))}: user {user!r} has an unknown "
                              f"key {unknown[0]!r}; use {', '.join(USER_KEYS)}")
        role = entry.get("role")
        if role not in ROLES:
            raise AccessError(f"{where}: user {user!r} has role {role!r}; use one of {', '.join(ROLES)}")
        teams = entry.get("teams")
        if teams is not None and (not isinstance(teams, list) or not all(isinstance(t, str) for t in teams)):
            raise AccessError(f"{where}: user {user!r}: teams must be a list of team ids")
        if role == "team_lead" and teams is None:
            raise AccessError(f"{where}: team lead {user!r} needs teams = [\"…\"]")
        key = user.strip().lower()
        if key in out:
            raise AccessError(f"{where}: user {user!r} is already listed (line {first_line[key]}) in other "
                              "letter case; e-mails are compared without case, so list each person once")
        first_line[key] = line
        out[key] = Scope(teams=frozenset(teams) if teams is not None else None, role=role)
        if "digest" in entry:
            subs[key] = _subscription(entry["digest"], out[key], f"{where}: user {user!r}: digest")
    return Access(out, subs)


def _subscription(entry: object, scope: Scope, where: str) -> Subscription:
    """One user's `digest` table, every key checked; AccessError naming the key otherwise."""
    if not isinstance(entry, dict):
        raise AccessError(f"{where} must be a table (lang, channels, teams)")
    unknown = [k for k in entry if k not in _DIGEST_KEYS]
    if unknown:
        raise AccessError(f"{where}: unknown key {unknown[0]!r}; use {', '.join(_DIGEST_KEYS)}")
    lang = entry.get("lang", "zh")
    if lang not in NOTIFY_LANGS:
        raise AccessError(f"{where}: lang {lang!r}; use one of {', '.join(NOTIFY_LANGS)}")
    channels = entry.get("channels", [EMAIL])
    if (not isinstance(channels, list) or not channels
            or not all(isinstance(c, str) and c.strip() for c in channels)):
        raise AccessError(f"{where}: channels must be a non-empty list of channel names")
    teams = entry.get("teams")
    if teams is not None:
        if not isinstance(teams, list) or not teams or not all(isinstance(t, str) for t in teams):
            raise AccessError(f"{where}: teams must be a list of team ids")
        outside = [t for t in teams if scope.teams is not None and t not in scope.teams]
        if outside:
            raise AccessError(f"{where}: team {outside[0]!r} is outside the user's teams")
    return Subscription(lang=lang, channels=tuple(dict.fromkeys(c.strip() for c in channels)),
                        teams=frozenset(teams) if teams else None)


def load_access(path: Path) -> Access:
    """Read and parse the access file at `path`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise AccessError(f"cannot read access file {path}: {exc.strerror}") from None
    return parse_access(text, str(path))
