"""From a rendered message to what each channel sends (the outbox's bodies), and sending one body.

E-mail gets the HTML with inline charts and the attachment; WeCom gets markdown split to its size limit and the
charts as image messages; DingTalk and Feishu get markdown split to theirs, the charts reached through the
dashboard link. A robot body is stored unsigned: the signature is made when it is sent (it holds the time).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

from queries.governance.access import EMAIL
from queries.notify.channels import smtp
from queries.notify.channels.base import DeliveryError, post_json
from queries.notify.config import ROBOT_KINDS, Channels
from queries.notify.outbox import Group, Pacer, message_id
from queries.notify.render import Chart, split


@dataclass(frozen=True)
class Outgoing:
    """A message ready for any channel: title, markdown (robots), HTML and charts (e-mail), an attachment."""

    title: str
    markdown: str
    html: str
    lang: str
    charts: tuple[Chart, ...] = ()
    attachment: tuple[str, bytes] | None = None
    #: the line robots that cannot show images add when there are charts ("charts: open the dashboard")
    charts_linked: str = ""


def group(kind: str, key: str, channel: str, user: str, role: str, msg: Outgoing, channels: Channels) -> Group:
    """The outbox group that carries `msg` on `channel` for `user` (e-mail goes to that address).

    A robot's group does not name the user: the same message for two users on one robot goes out once.
    """
    to = user
    ident = f"{kind}:{key}:{channel}:{to if channel == EMAIL else ''}"
    if channel == EMAIL:
        mid = message_id(ident, 0)
        data = smtp.mime(channels.smtp.sender, to, msg.title, msg.markdown, msg.html,
                         [(c.cid, c.png) for c in msg.charts], msg.attachment, message_id=mid)
        bodies = [{"to": to, "mime": base64.b64encode(data).decode("ascii")}]
    else:
        robot = channels.robots[channel]
        mod = ROBOT_KINDS[robot.kind]
        text = msg.markdown
        if msg.charts and not mod.IMAGES and msg.charts_linked:
            text = f"{text}\n\n{msg.charts_linked}"
        parts = split(text, mod.MARKDOWN_LIMIT, msg.lang)
        bodies = [mod.markdown(p) if robot.kind == "wecom" else mod.markdown(p, msg.title) for p in parts]
        if mod.IMAGES:
            bodies += [b for b in (mod.image(c.png) for c in msg.charts) if b is not None]
    return Group(group=ident, kind=kind, channel=channel, user=user, role=role, bodies=bodies,
                 ids=[message_id(ident, i) for i in range(len(bodies))])


class Courier:
    """Sends one outbox body on its channel, keeping each robot within its rate limit."""

    def __init__(self, channels: Channels, pacer: Pacer | None = None) -> None:
        self.channels, self.pacer = channels, pacer or Pacer()

    def send(self, channel: str, body: dict) -> None:
        """Deliver `body`; DeliveryError when the channel is gone from the configuration or refuses it."""
        if channel == EMAIL:
            if self.channels.smtp is None:
                raise DeliveryError("no SMTP server is configured any more", permanent=True)
            smtp.send(self.channels.smtp, body["to"], base64.b64decode(body["mime"]))
            return
        robot = self.channels.robots.get(channel)
        if robot is None:
            raise DeliveryError(f"robot {channel!r} is not configured any more", permanent=True)
        mod = ROBOT_KINDS[robot.kind]
        self.pacer.wait(robot.name, robot.kind)
        url, signed = mod.prepare(robot.webhook, robot.secret, body, time.time())
        mod.check(post_json(url, signed))
