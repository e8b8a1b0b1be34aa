"""The digest and alerts runs behind the command line: choose recipients, build, write to the outbox, deliver, audit.

Exit codes a scheduler can alert on (queries.errors): 0 everything delivered; 1 something waits in the outbox
(or the data cannot be had); 2 bad input (nothing sent); 3 delivered, but from a store older than its maximum
age (the messages say so).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from dashboard.i18n import t
from queries.errors import EXIT_FAILED, EXIT_OK, EXIT_STALE, UserError
from queries.filters import Scope
from queries.governance import audit
from queries.governance.access import (
    EMAIL,
    NOTIFY_LANGS,
    ROLES,
    Access,
    AccessError,
    load_access,
)
from queries.metrics.registry import METRICS
from queries.notify import alerts as alert_rules
from queries.notify import images, render
from queries.notify.config import ROBOT_KINDS, Channels, ConfigError
from queries.notify.courier import Courier, Outgoing, group
from queries.notify.digest import Digest, Recipient, build, link, recipient, stale_notes
from queries.notify.outbox import Delivery, Group, Outbox, message_id
from queries.settings import Settings
from queries.store import Store

FORMATS = ("html", "markdown", "xlsx")
#: Dashboard page per metric family (the module a metric is declared in), for an alert's link.
PAGE_OF = {"recovery": "daily", "contact": "agents", "complaints": "complaints", "portfolio": "aging"}


class NotifyInput(UserError):
    """Bad input to digest or alerts; exit 2, nothing sent."""


@dataclass
class Run:
    """What a run needs: settings, the store, the access file, the channels, where to print, how to wait."""

    settings: Settings
    store: Store
    access: Access | None
    channels: Channels
    out: IO[str]
    err: IO[str]
    sleep: Callable[[float], None] = time.sleep

    def stale(self, day: dt.date) -> bool:
        """True when the store is older than its maximum age or its data stops before `day`."""
        return bool(stale_notes(self.store, day, "en", self.settings.store_max_age_s))

    def audit(self, **entry: object) -> None:
        """One audit entry beside the store."""
        audit.record(self.settings.store_dir, **entry)


def load_access_file(settings: Settings) -> Access | None:
    """The access file, or None when none is configured; NotifyInput when it is wrong."""
    if settings.access_file is None:
        return None
    try:
        return load_access(settings.access_file)
    except AccessError as exc:
        raise NotifyInput(str(exc)) from None


def default_day(tz: str = "Asia/Shanghai") -> dt.date:
    """The day a morning run reports on: yesterday in the centre's time zone (CASES_TZ), whatever the server's."""
    return dt.datetime.now(ZoneInfo(tz)).date() - dt.timedelta(days=1)


# ---------------------------------------------------------------- digest


def recipients(run: Run, user: str | None, role: str | None, team: str | None, lang: str | None,
               sending: bool) -> list[Recipient]:
    """The recipients chosen by --user or --role/--team (every subscriber when neither), checked."""
    if role is not None and role not in ROLES:
        raise NotifyInput(f"--role {role!r}; use one of {', '.join(ROLES)}")
    teams = set(run.store.frame("teams").get_column("team_id").to_list())
    if team is not None and team not in teams:
        raise NotifyInput(f"unknown team {team!r}")
    access = run.access
    if access is None:
        if user or sending:
            raise NotifyInput("--user and --send need an access file with subscriptions (CASES_ACCESS_FILE)")
        scope = Scope(teams=frozenset({team}) if team else None, role=role or "executive")
        if scope.role == "team_lead" and not team:
            raise NotifyInput("--role team_lead needs --team")
        return [Recipient(None, scope, lang or "zh")]
    if user:
        key = user.strip().lower()
        scope = access.scope_for(key)
        if scope is None:
            raise NotifyInput(f"user {user!r} is not in the access file")
        if sending and key not in access.subscriptions:
            raise NotifyInput(f"user {user!r} has no digest subscription in the access file")
        chosen = [recipient(key, scope, access.subscriptions.get(key))]
    else:
        chosen = []
        for key, scope in access.users.items():
            if role and scope.role != role:
                continue
            if team and scope.teams is not None and team not in scope.teams:
                continue
            if (sending or not (role or team)) and key not in access.subscriptions:
                continue
            chosen.append(recipient(key, scope, access.subscriptions.get(key)))
        if not chosen:
            raise NotifyInput("no recipient: nobody in the access file matches (with a digest subscription)")
    if lang:
        chosen = [replace(r, lang=lang) for r in chosen]
    if sending:
        for r in chosen:
            for c in r.channels:
                try:
                    run.channels.check(c, f"{run.settings.access_file}: user {r.user!r}: digest.channels")
                except ConfigError as exc:
                    raise NotifyInput(str(exc)) from None
    return chosen


def _build(run: Run, chosen: list[Recipient], day: dt.date,
           wants_charts: Callable[[Recipient], bool]) -> tuple[list[Digest], list[list[render.Chart]]]:
    """Every recipient's digest and charts. The browser draws one digest's charts (in its own processes) while
    the next digest's numbers are computed. Without a browser the digests go out without charts, with a warning."""
    s = run.settings
    digests, pending = [], []
    drawing = any(wants_charts(r) for r in chosen)
    try:
        if drawing:
            images.start()
    except images.ChartsUnavailable as exc:
        run.err.write(f"warning: {exc}; the digests go out without charts\n")
        drawing = False
    for r in chosen:
        d = build(run.store, r, day, dashboard_url=s.dashboard_url, max_age_s=s.store_max_age_s)
        spec = images.figures(d) if drawing and wants_charts(r) else []
        digests.append(d)
        pending.append((spec, images.submit([f for _, _, f in spec]) if spec else None))
    charts: list[list[render.Chart]] = []
    for d, (spec, future) in zip(digests, pending, strict=True):
        try:
            pngs = images.result(future) if future is not None and drawing else []
        except images.ChartsUnavailable as exc:
            run.err.write(f"warning: {exc}; the digests go out without charts\n")
            drawing, pngs = False, []
        stamp = f"{d.day:%Y%m%d}"
        charts.append([render.Chart(f"{cid}-{stamp}@digest", title, png)
                       for (cid, title, _), png in zip(spec, pngs, strict=False)])
    return digests, charts


def _needs_charts(r: Recipient, channels: Channels) -> bool:
    return any(c == EMAIL or ROBOT_KINDS[channels.robots[c].kind].IMAGES for c in r.channels)


def _outgoing(d: Digest, charts: list[render.Chart]) -> Outgoing:
    lang = d.recipient.lang
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", d.recipient.user or "digest")
    return Outgoing(render.subject(d), render.markdown(d), render.html(d, charts), lang, tuple(charts),
                    (f"digest_{d.day.isoformat()}_{name}.xlsx", render.xlsx(d)), t("n_charts_linked", lang))


def digest_groups(run: Run, d: Digest, charts: list[render.Chart]) -> list[Group]:
    """The outbox groups of one digest, one per channel of its recipient."""
    r, msg = d.recipient, _outgoing(d, charts)
    scope = "all" if r.scope.teams is None else "+".join(sorted(r.scope.teams))
    out = []
    for c in r.channels:
        key = f"{d.day.isoformat()}:{r.scope.role}:{scope}:{r.lang}" if c != EMAIL else d.day.isoformat()
        out.append(group("digest", key, c, r.user, r.scope.role, msg, run.channels))
    return out


def _print(run: Run, digests: list[Digest], fmt: str, out_path: Path | None, charts: list[list[render.Chart]]) -> None:
    if fmt == "xlsx" and out_path is None:
        raise NotifyInput("--format xlsx needs --out PATH")
    many = len(digests) > 1
    if out_path is not None and many:
        out_path.mkdir(parents=True, exist_ok=True)
    for d, ch in zip(digests, charts, strict=True):
        if fmt == "xlsx":
            body: bytes | str = render.xlsx(d)
        elif fmt == "html":  # one file: the charts inline as data: URLs instead of cid: parts
            body = render.html(d, ch)
            for c in ch:
                body = body.replace(f"cid:{c.cid}", "data:image/png;base64," + base64.b64encode(c.png).decode())
        else:
            body = render.markdown(d, charts_attached=False)
        if out_path is None:
            run.out.write(body + ("\n\n---\n\n" if many else "\n"))
            continue
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", d.recipient.user or "digest")
        path = out_path / f"digest_{d.day.isoformat()}_{name}.{'md' if fmt == 'markdown' else fmt}" if many \
            else out_path
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body, encoding="utf-8")


def deliver(run: Run, outbox: Outbox) -> Delivery:
    """Send everything waiting in the outbox (this run's and earlier runs'), auditing each group."""
    s = run.settings

    def on_event(g: Group, status: str, error: str | None) -> None:
        run.audit(user=g.user or "-", role=g.role, action="delivery", page=g.kind,
                  detail={"channel": g.channel, "message": message_id(g.group), "status": status,
                          "messages": len(g.bodies), "sent": g.next, "error": error})

    return outbox.deliver(Courier(run.channels).send, retries=s.notify_retries, backoff_s=s.notify_backoff_s,
                          sleep=run.sleep, on_event=on_event)


def _finish(run: Run, day: dt.date, delivery: Delivery | None) -> int:
    if delivery is not None:
        run.out.write(f"sent: {delivery.sent_messages} message(s) in {len(delivery.sent_groups)} group(s)\n")
        for g, why in delivery.waiting.items():
            run.err.write(f"waiting in the outbox (next run retries): {g.split(':')[0]} on "
                          f"{g.split(':')[-2] or g.split(':')[-1]}: {why}\n")
        if not delivery.ok:
            return EXIT_FAILED
    if run.stale(day):
        for n in stale_notes(run.store, day, "en", run.settings.store_max_age_s):
            run.err.write(f"warning: {n}\n")
        return EXIT_STALE
    return EXIT_OK


def digest(run: Run, *, user: str | None = None, role: str | None = None, team: str | None = None,
           day: dt.date | None = None, lang: str | None = None, fmt: str = "html", send: bool = False,
           dry_run: bool = False, out_path: Path | None = None) -> int:
    """The digest command: print the chosen recipients' digests, or send them to their subscribed channels."""
    if fmt not in FORMATS:
        raise NotifyInput(f"--format {fmt!r}; use one of {', '.join(FORMATS)}")
    if lang is not None and lang not in NOTIFY_LANGS:
        raise NotifyInput(f"--lang {lang!r}; use one of {', '.join(NOTIFY_LANGS)}")
    day = day or default_day(run.settings.timezone)
    sending = send or dry_run
    chosen = recipients(run, user, role, team, lang, sending)
    s = run.settings
    if not sending:
        digests, charts = _build(run, chosen, day, lambda r: fmt == "html")
        _print(run, digests, fmt, out_path, charts)
        return _finish(run, day, None)
    digests, charts = _build(run, chosen, day, lambda r: _needs_charts(r, run.channels))
    groups = [g for d, ch in zip(digests, charts, strict=True) for g in digest_groups(run, d, ch)]
    if dry_run:
        for g in groups:
            size = sum(len(str(b)) for b in g.bodies)
            run.out.write(f"would send: digest for {g.user} on {g.channel}: {len(g.bodies)} message(s), "
                          f"{size:,} characters\n")
        return _finish(run, day, None)
    with Outbox(s.store_dir).locked() as outbox:
        added = outbox.add(groups)
        for d in digests:
            f = {"start": d.day.replace(day=1).isoformat(), "end": d.day.isoformat(), "teams": list(d.team_ids)}
            run.audit(user=d.recipient.user or "-", role=d.recipient.scope.role, action="digest", page="digest",
                      filters=f, detail={"day": d.day.isoformat(), "channels": list(d.recipient.channels)})
        skipped = len(groups) - len(added)
        if skipped:
            run.out.write(f"already sent or waiting: {skipped} group(s), not sent again\n")
        delivery = deliver(run, outbox)
    return _finish(run, day, delivery)


# ---------------------------------------------------------------- alerts


def alerts(run: Run, *, rules_path: Path | None = None, day: dt.date | None = None, dry_run: bool = False,
           now: dt.datetime | None = None) -> int:
    """The alerts command: evaluate every rule on the store, fire what is new, deliver, audit."""
    path = rules_path or run.settings.alerts_file
    if path is None:
        raise NotifyInput("no rules file: set CASES_ALERTS_FILE, write .streamlit/alerts.toml, or pass --rules")
    rules = alert_rules.load_rules(path, run.store, run.access, run.channels)
    day, now = day or default_day(run.settings.timezone), now or dt.datetime.now()
    for r in rules:
        for u in r.recipients:
            lang, chans = alert_rules.recipients_channels(r, u, run.access)
            for c in chans:
                try:
                    run.channels.check(c, f"{path}: rule {r.name!r}: channels (of recipient {u!r})")
                except ConfigError as exc:
                    raise NotifyInput(str(exc)) from None
    state = alert_rules.State(run.settings.store_dir)
    groups: list[Group] = []
    notes_by_lang = {lang: stale_notes(run.store, day, lang, run.settings.store_max_age_s) for lang in NOTIFY_LANGS}
    for r in rules:
        per_user = {}
        cache: dict[Scope, list] = {}
        for u in r.recipients:
            scope = run.access.scope_for(u)
            if scope not in cache:
                cache[scope] = alert_rules.evaluate(run.store, r, scope, day)
            per_user[u] = cache[scope]
        every = {f.ident: f for fs in per_user.values() for f in fs}
        decisions = {i: state.decide(r, f, now) for i, f in every.items()}
        fired = {i for i, d in decisions.items() if d == "fire"}
        counts = {k: sum(1 for d in decisions.values() if d == k) for k in ("fire", "repeat", "throttled")}
        run.out.write(f"rule {r.name}: {len(every)} row(s) meet the condition; {counts['fire']} fire, "
                      f"{counts['repeat']} already sent for this period, {counts['throttled']} throttled\n")
        if dry_run:
            for i in sorted(fired):
                run.out.write(f"  would fire: {i} = {every[i].value:g}\n")
            continue
        for i in sorted(fired):
            f = every[i]
            state.fired(f, now)
            run.audit(user="-", role="-", action="alert", page=r.name,
                      filters={"start": f.start.isoformat(), "end": f.end.isoformat(), **r.filters},
                      detail={"metric": r.metric, "column": r.column, "key": dict(f.key), "value": f.value,
                              "comparison": r.comparison, "threshold": r.threshold})
        for u, fs in per_user.items():
            mine = [f for f in fs if f.ident in fired]
            if not mine:
                continue
            lang, chans = alert_rules.recipients_channels(r, u, run.access)
            scope = run.access.scope_for(u)
            teams = tuple(sorted(scope.teams)) if scope.teams is not None else ()
            page = PAGE_OF.get(METRICS[r.metric].function.__module__.rsplit(".", 1)[-1], "daily")
            url = link(run.settings.dashboard_url, page, mine[0].start, mine[0].end, lang, teams)
            msg = Outgoing(*alert_rules.message(run.store, r, mine, lang, url, notes_by_lang[lang]), lang)
            key = f"{r.name}:{mine[0].end.isoformat()}:" + message_id(*sorted(f.ident for f in mine))
            groups += [group("alert", key, c, u, scope.role, msg, run.channels) for c in chans]
    if dry_run:
        return _finish(run, day, None)
    with Outbox(run.settings.store_dir).locked() as outbox:
        outbox.add(groups)  # before the state: a firing remembered is always in the outbox or sent
        state.save()
        delivery = deliver(run, outbox)
    return _finish(run, day, delivery)
