"""The outbox: every message is written here before it is sent, and leaves only once its channel accepted it.

One file per group of messages (a recipient's digest on one channel, in its parts; one alert on one channel),
in `<store>/notify/outbox/`. Delivery goes through a group's messages in order, retrying each with backoff;
after each accepted message the group's `next` is moved on (written atomically), and a group fully sent is
recorded in `sent.jsonl` and removed. So a failed run leaves what it could not send for the next run, a rerun
sends nothing twice (a group already sent or waiting is not added again), and a group's parts stay in order
(once one fails, the rest of that channel waits).
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from queries.errors import DashboardError
from queries.governance.access import EMAIL
from queries.notify.channels.base import DeliveryError

NOTIFY_DIR = "notify"
#: Messages a robot accepts per minute (WeCom and DingTalk allow 20; Feishu 100).
PER_MINUTE = {"wecom": 20, "dingtalk": 20, "feishu": 100}


class OutboxBusy(DashboardError):
    """Another digest or alerts run holds the outbox; exit 1, nothing sent by this one."""


def message_id(*parts: object) -> str:
    """A stable id from what identifies a message (kind, day, channel, recipient, part)."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:24]


@dataclass
class Group:
    """Messages that go out together, in order, on one channel: `body` per message is what the channel sends."""

    group: str  # identity: a group is added once, ever
    kind: str  # "digest" or "alert"
    channel: str
    user: str | None
    role: str
    bodies: list[dict]
    ids: list[str]
    next: int = 0
    attempts: int = 0
    last_error: str | None = None
    created: str = field(default_factory=lambda: dt.datetime.now().isoformat(timespec="seconds"))
    seq: int = 0


@dataclass
class Delivery:
    """What one delivery pass did: groups completed, messages accepted, groups left waiting (with why)."""

    sent_groups: list[str] = field(default_factory=list)
    sent_messages: int = 0
    waiting: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing is left waiting."""
        return not self.waiting


class Outbox:
    """The outbox folder beside the store."""

    def __init__(self, store_dir: Path) -> None:
        self.folder = Path(store_dir) / NOTIFY_DIR
        self.pending_dir = self.folder / "outbox"
        self.ledger = self.folder / "sent.jsonl"

    @contextlib.contextmanager
    def locked(self) -> Iterator[Outbox]:
        """Hold the outbox for this run; OutboxBusy when another run holds it."""
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        with (self.folder / ".lock").open("a") as lk:
            try:
                fcntl.flock(lk, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OutboxBusy(f"another digest or alerts run is using {self.folder}; try again later") from None
            try:
                yield self
            finally:
                fcntl.flock(lk, fcntl.LOCK_UN)

    def _sent_groups(self) -> set[str]:
        if not self.ledger.exists():
            return set()
        return {json.loads(line)["group"] for line in self.ledger.read_text(encoding="utf-8").splitlines() if line}

    def _files(self) -> list[Path]:
        return sorted(self.pending_dir.glob("*.json")) if self.pending_dir.exists() else []

    def pending(self) -> list[Group]:
        """Groups waiting, oldest first."""
        return [Group(**json.loads(p.read_text(encoding="utf-8"))) for p in self._files()]

    def known(self) -> set[str]:
        """Groups already sent or waiting (never added again)."""
        return self._sent_groups() | {g.group for g in self.pending()}

    def add(self, groups: list[Group]) -> list[Group]:
        """Write the groups not known yet; return those written."""
        known = self.known()
        seq = max((g.seq for g in self.pending()), default=0)
        added = []
        for g in groups:
            if g.group in known:
                continue
            seq += 1
            g.seq = seq
            self._write(g)
            known.add(g.group)
            added.append(g)
        return added

    def _path(self, g: Group) -> Path:
        return self.pending_dir / f"{g.seq:08d}-{message_id(g.group)}.json"

    def _write(self, g: Group) -> None:
        path = self._path(g)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(g), ensure_ascii=False), encoding="utf-8")
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        tmp.replace(path)

    def _done(self, g: Group) -> None:
        with self.ledger.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"group": g.group, "channel": g.channel, "messages": len(g.ids),
                                 "at": dt.datetime.now().isoformat(timespec="seconds")}, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._path(g).unlink(missing_ok=True)

    def deliver(self, send: Callable[[str, dict], None], *, retries: int = 3, backoff_s: float = 2.0,
                sleep: Callable[[float], None] = time.sleep,
                on_event: Callable[[Group, str, str | None], None] = lambda g, status, err: None) -> Delivery:
        """Send every waiting group in order: `send(channel, body)` raises DeliveryError when not accepted.

        Each message gets `retries` attempts, `backoff_s`, 2×, 4× … apart; a permanent error (a mail server refusing
        the login) is not tried again, and no other message of its channel is tried in the run. A channel that fails
        holds its remaining groups until the next run (e-mail: that address's). `on_event(group, "sent" | "failed",
        error)` is called per group tried.
        """
        out, blocked, refused = Delivery(), set(), {}
        for g in self.pending():
            lane = f"{g.channel}|{g.user}" if g.channel == EMAIL else g.channel  # a robot's messages keep their order
            if g.channel in refused:  # the channel itself refused (a mail server's login): no recipient is tried
                out.waiting[g.group] = f"not tried in this run: {refused[g.channel]}"
                continue
            if lane in blocked:
                out.waiting[g.group] = "held behind an earlier message on the same channel"
                continue
            error, permanent = None, False
            while g.next < len(g.bodies):
                error, permanent = _attempts(send, g.channel, g.bodies[g.next], retries, backoff_s, sleep)
                g.attempts += 1
                if error:
                    break
                g.next += 1
                out.sent_messages += 1
                g.last_error = None
                if g.next < len(g.bodies):
                    self._write(g)
            if error:
                g.last_error = error
                self._write(g)
                blocked.add(lane)
                if permanent:
                    refused[g.channel] = error
                out.waiting[g.group] = error
                on_event(g, "failed", error)
            else:
                self._done(g)
                out.sent_groups.append(g.group)
                on_event(g, "sent", None)
        return out


def _attempts(send: Callable[[str, dict], None], channel: str, body: dict, retries: int, backoff_s: float,
              sleep: Callable[[float], None]) -> tuple[str | None, bool]:
    """(None, False) when the message was accepted within `retries` attempts, else (the last error, whether it was
    permanent: then it is not tried again)."""
    error = None
    for attempt in range(max(1, retries)):
        if attempt:
            sleep(backoff_s * 2 ** (attempt - 1))
        try:
            send(channel, body)
            return None, False
        except DeliveryError as exc:
            error = str(exc)
            if exc.permanent:
                return error, True
    return error, False


class Pacer:
    """Keeps each robot under its messages-per-minute limit by waiting before a send that would exceed it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.clock, self.sleep = clock, sleep
        self.sent: dict[str, collections.deque] = collections.defaultdict(collections.deque)

    def wait(self, name: str, kind: str) -> None:
        """Block until one more message to robot `name` stays within its kind's limit."""
        limit, q = PER_MINUTE.get(kind, 20), self.sent[name]
        now = self.clock()
        while q and now - q[0] >= 60:
            q.popleft()
        if len(q) >= limit:
            self.sleep(60 - (now - q[0]))
            q.popleft()
        q.append(self.clock())
