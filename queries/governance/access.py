"""Who may see what: the access file maps each user to a role and, for team leads, their teams.

    # .streamlit/access.toml (or CASES_ACCESS_FILE)
    [users."li.ming@bank.example"]
    role = "team_lead"
    teams = ["T01", "T02"]

    [users."wang.fang@bank.example"]
    role = "compliance"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from queries.errors import UserError
from queries.filters import Scope

ROLES = ("executive", "manager", "team_lead", "compliance")


class AccessError(UserError):
    """The access file is unreadable or wrong; the message names the user or line."""


@dataclass(frozen=True)
class Access:
    """The parsed access file: user (lower-case) → Scope."""

    users: dict[str, Scope]

    def scope_for(self, user: str | None) -> Scope | None:
        """The user's scope, or None when the user is unknown (who then sees no data)."""
        if not user:
            return None
        return self.users.get(user.strip().lower())


def parse_access(text: str, source: str = "access file") -> Access:
    """Parse access TOML; every user needs a known role, and a team lead at least one team."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AccessError(f"{source}: not valid TOML ({exc})") from None
    users = data.get("users")
    if not isinstance(users, dict) or not users:
        raise AccessError(f"{source}: no [users.\"…\"] entries")
    out: dict[str, Scope] = {}
    for user, entry in users.items():
        if not isinstance(entry, dict):
            raise AccessError(f"{source}: user {user!r} must be a table with role (and teams)")
        role = entry.get("role")
        if role not in ROLES:
            raise AccessError(f"{source}: user {user!r} has role {role!r}; use one of {', '.join(ROLES)}")
        teams = entry.get("teams")
        if teams is not None and (not isinstance(teams, list) or not all(isinstance(t, str) for t in teams)):
            raise AccessError(f"{source}: user {user!r}: teams must be a list of team ids")
        if role == "team_lead" and not teams:
            raise AccessError(f"{source}: team lead {user!r} needs teams = [\"…\"]")
        out[user.strip().lower()] = Scope(teams=frozenset(teams) if teams else None, role=role)
    return Access(out)


def load_access(path: Path) -> Access:
    """Read and parse the access file at `path`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise AccessError(f"cannot read access file {path}: {exc.strerror}") from None
    return parse_access(text, str(path))
