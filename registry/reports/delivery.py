"""E-mail delivery of team reports over SMTP, with retries, recorded in ``report_deliveries``.

Configured by ``FEATREG_SMTP_*`` variables (`SmtpSettings.from_env`); without
``FEATREG_SMTP_HOST`` nothing is sent and reports stay in files and the UI. Each attempt is
recorded in its own transaction, so a delivery that keeps failing leaves its attempts and last
error behind; the report itself was stored before any attempt.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.core.settings import SettingsError
from registry.store import models as m
from registry.store.db import session_scope

__all__ = ["DeliveryResult", "SmtpSettings", "build_message", "deliver", "send_message"]


def _flag(raw: str, variable: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{variable}={raw!r} is not true or false")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    user: str | None = None
    password: str | None = None
    sender: str = "featreg@localhost"
    starttls: bool = False
    attempts: int = 3
    backoff: float = 2.0
    """Seconds before the second attempt; doubled before each further one."""
    timeout: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
        environ = os.environ if environ is None else environ
        host = environ.get("FEATREG_SMTP_HOST", "").strip()
        if not host:
            return None
        starttls = _flag(environ.get("FEATREG_SMTP_STARTTLS", ""), "FEATREG_SMTP_STARTTLS")
        numbers: dict[str, float] = {}
        for key, variable, default in (("port", "FEATREG_SMTP_PORT", 587 if starttls else 25),
                                       ("attempts", "FEATREG_SMTP_ATTEMPTS", 3),
                                       ("backoff", "FEATREG_SMTP_BACKOFF", 2.0)):
            raw = environ.get(variable)
            try:
                numbers[key] = float(raw) if raw is not None else float(default)
            except ValueError:
                raise SettingsError(f"{variable}={raw!r} is not a number") from None
        if numbers["attempts"] < 1 or numbers["backoff"] < 0:
            raise SettingsError("FEATREG_SMTP_ATTEMPTS must be at least 1 and "
                                "FEATREG_SMTP_BACKOFF not negative")
        return cls(host=host, port=int(numbers["port"]),
                   user=environ.get("FEATREG_SMTP_USER") or None,
                   password=environ.get("FEATREG_SMTP_PASSWORD") or None,
                   sender=environ.get("FEATREG_SMTP_FROM") or "featreg@localhost",
                   starttls=starttls, attempts=int(numbers["attempts"]),
                   backoff=numbers["backoff"])

    @staticmethod
    def documentation() -> list[tuple[str, str, str]]:
        return [
            ("FEATREG_SMTP_HOST", "(none)", "SMTP server; unset means no e-mail delivery."),
            ("FEATREG_SMTP_PORT", "25 (587 with STARTTLS)", "SMTP port."),
            ("FEATREG_SMTP_USER", "(none)", "Login user, if the server needs one."),
            ("FEATREG_SMTP_PASSWORD", "(none)", "Login password."),
            ("FEATREG_SMTP_FROM", "featreg@localhost", "Sender address of report e-mails."),
            ("FEATREG_SMTP_STARTTLS", "false", "Upgrade the connection with STARTTLS."),
            ("FEATREG_SMTP_ATTEMPTS", "3", "Attempts per recipient before a delivery is "
             "recorded as failed."),
            ("FEATREG_SMTP_BACKOFF", "2", "Seconds before the second attempt, doubled before "
             "each further one."),
        ]


def build_message(settings: SmtpSettings, recipient: str, subject: str, text: str,
                  html: str) -> EmailMessage:
    """A multipart/alternative e-mail: the Markdown as text, the HTML page as HTML."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.sender, recipient, subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send_message(settings: SmtpSettings, message: EmailMessage) -> None:
    """Send one message; raises smtplib.SMTPException or OSError on failure."""
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.user:
            smtp.login(settings.user, settings.password or "")
        smtp.send_message(message)


@dataclass(frozen=True)
class DeliveryResult:
    report_id: int
    recipient: str
    status: str  # sent | failed
    attempts: int
    error: str | None


def _delivery_row(sessions: sessionmaker[Session], report_id: int, recipient: str
                  ) -> tuple[int, str, int]:
    with session_scope(sessions) as session:
        row = session.scalars(select(m.ReportDelivery).where(
            m.ReportDelivery.report_id == report_id,
            m.ReportDelivery.recipient == recipient)).one_or_none()
        if row is None:
            row = m.ReportDelivery(report_id=report_id, recipient=recipient, status="pending",
                                   attempts=0)
            session.add(row)
            session.flush()
        return row.id, row.status, row.attempts


def deliver(
    sessions: sessionmaker[Session], settings: SmtpSettings, *, report_id: int, recipient: str,
    subject: str, text: str, html: str, sleep: Callable[[float], None] = time.sleep,
) -> DeliveryResult:
    """Send a stored report to one recipient unless already sent, retrying with backoff."""
    row_id, status, attempts = _delivery_row(sessions, report_id, recipient)
    if status == "sent":
        return DeliveryResult(report_id, recipient, "sent", attempts, None)
    message = build_message(settings, recipient, subject, text, html)
    error: str | None = None
    for attempt in range(settings.attempts):
        if attempt:
            sleep(settings.backoff * 2 ** (attempt - 1))
        try:
            send_message(settings, message)
            error = None
        except (smtplib.SMTPException, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        attempts += 1
        with session_scope(sessions) as session:
            row = session.get_one(m.ReportDelivery, row_id)
            row.attempts, row.last_attempt_at = attempts, datetime.now(UTC)
            row.last_error = error
            row.status = "sent" if error is None else "failed"
            if error is None:
                row.sent_at = row.last_attempt_at
        if error is None:
            return DeliveryResult(report_id, recipient, "sent", attempts, None)
    return DeliveryResult(report_id, recipient, "failed", attempts, error)
