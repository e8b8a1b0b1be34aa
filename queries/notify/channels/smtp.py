"""E-mail over SMTP: an HTML body with the charts inline (multipart/related, cid: links), a plain-text
alternative, the Excel file attached; STARTTLS or implicit TLS and login from the configuration."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate

from queries.notify.channels.base import TIMEOUT_S, DeliveryError

XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
TLS_MODES = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class Smtp:
    """An SMTP server: where, how (tls: starttls, ssl or none), who logs in, and the sender address."""

    host: str
    port: int = 587
    tls: str = "starttls"
    username: str | None = None
    password: str | None = None
    sender: str = "collections-dashboard@localhost"


def mime(sender: str, to: str, subject: str, text: str, html: str | None = None,
         images: list[tuple[str, bytes]] = (), attachment: tuple[str, bytes] | None = None,
         message_id: str | None = None) -> bytes:
    """The e-mail as bytes: text, HTML with `images` (content id, PNG) inline, and the attachment (name, xlsx)."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Date"] = sender, to, subject, formatdate(localtime=True)
    if message_id:
        msg["Message-ID"] = f"<{message_id}@collections-dashboard>"
    msg.set_content(text, cte="quoted-printable")  # 8bit would send the HTML's long lines as they are (RFC 5321)
    if html is not None:
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
        related = msg.get_payload()[1]
        for cid, png in images:
            related.add_related(png, "image", "png", cid=f"<{cid}>", filename=f"{cid.split('@')[0]}.png")
    if attachment is not None:
        name, data = attachment
        msg.add_attachment(data, maintype=XLSX[0], subtype=XLSX[1], filename=name)
    return msg.as_bytes(policy=policy.SMTP)  # CRLF line ends: sendmail passes bytes on as they are


def send(server: Smtp, to: str, data: bytes) -> None:
    """Hand one e-mail to the server; DeliveryError (one line, no password) when it does not accept it."""
    try:
        if server.tls == "ssl":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT_S,
                                                  context=ssl.create_default_context())
        else:
            conn = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_S)
        with conn:
            if server.tls == "starttls":
                conn.starttls(context=ssl.create_default_context())
            if server.username:
                conn.login(server.username, server.password or "")
            refused = conn.sendmail(server.sender, [to], data)
    except (smtplib.SMTPException, OSError) as exc:
        # a login refused for good (5xx) is not retried within the run: the same password fails again, and each
        # failure counts towards the mailbox's lockout (454, a temporary failure, is)
        refused = isinstance(exc, smtplib.SMTPAuthenticationError) and exc.smtp_code >= 500
        raise DeliveryError(f"mail server {server.host}:{server.port}: {str(exc).splitlines()[0][:200]}",
                            permanent=refused) from None
    if refused:
        raise DeliveryError(f"mail server {server.host}:{server.port} refused {to}")
