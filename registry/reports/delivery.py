"""E-mail delivery of team reports over SMTP, with retries, recorded in ``report_deliveries``.

Configured by the smtp section of the settings (`registry.core.settings.SmtpSettings`,
``FEATREG_SMTP_*``); without ``FEATREG_SMTP_HOST`` nothing is sent and reports stay in files
and the UI. Deliveries are
recorded in the caller's unit of work (the job or command opens it after the report itself was
committed): a delivery that keeps failing leaves its attempts and last error behind, and a
report already sent to a recipient is not sent again.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.core.settings import SmtpSettings
from registry.store import models as m

__all__ = ["DeliveryResult", "Mail", "SmtpSettings", "build_message", "deliver", "deliver_all",
           "send_message"]

SMTP_TIMEOUT = 30.0
"""Seconds to wait for the mail server at each step of a connection."""


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
    with smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT) as smtp:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.user:
            smtp.login(settings.user, settings.password or "")
        smtp.send_message(message)


@dataclass(frozen=True)
class Mail:
    """One stored report for one recipient."""

    report_id: int
    recipient: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class DeliveryResult:
    report_id: int
    recipient: str
    status: str  # sent | failed
    attempts: int
    error: str | None


def _send_with_retries(settings: SmtpSettings, mail: Mail, sleep: Callable[[float], None]
                       ) -> tuple[int, str | None]:
    """(attempts made, last error or None once sent)."""
    message = build_message(settings, mail.recipient, mail.subject, mail.text, mail.html)
    error: str | None = None
    for attempt in range(settings.attempts):
        if attempt:
            sleep(settings.backoff * 2 ** (attempt - 1))
        try:
            send_message(settings, message)
            return attempt + 1, None
        except (smtplib.SMTPException, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
    return settings.attempts, error


def deliver_all(session: Session, settings: SmtpSettings, mails: list[Mail], *,
                sleep: Callable[[float], None] = time.sleep) -> list[DeliveryResult]:
    """Send each mail that was not sent before (retrying with backoff), then record every
    attempt in ``session``. Mail servers are asked first and the rows written last, so the
    caller's unit of work holds no write lock while they answer."""
    outcomes: dict[tuple[int, str], DeliveryResult] = {}
    attempted: list[tuple[m.ReportDelivery | None, DeliveryResult, datetime]] = []
    for mail in mails:
        key = (mail.report_id, mail.recipient)
        if key in outcomes:
            continue
        row = session.scalars(select(m.ReportDelivery).where(
            m.ReportDelivery.report_id == mail.report_id,
            m.ReportDelivery.recipient == mail.recipient)).one_or_none()
        before = row.attempts if row is not None else 0
        if row is not None and row.status == "sent":
            outcomes[key] = DeliveryResult(*key, "sent", before, None)
            continue
        attempts, error = _send_with_retries(settings, mail, sleep)
        outcomes[key] = DeliveryResult(*key, "sent" if error is None else "failed",
                                       before + attempts, error)
        attempted.append((row, outcomes[key], datetime.now(UTC)))
    for row, outcome, when in attempted:
        if row is None:
            row = m.ReportDelivery(report_id=outcome.report_id, recipient=outcome.recipient)
            session.add(row)
        row.status, row.attempts, row.last_error = outcome.status, outcome.attempts, outcome.error
        row.last_attempt_at = when
        if outcome.error is None:
            row.sent_at = when
    session.flush()
    return [outcomes[(mail.report_id, mail.recipient)] for mail in mails]


def deliver(
    session: Session, settings: SmtpSettings, *, report_id: int, recipient: str,
    subject: str, text: str, html: str, sleep: Callable[[float], None] = time.sleep,
) -> DeliveryResult:
    """Send a stored report to one recipient unless already sent, retrying with backoff."""
    return deliver_all(session, settings, [Mail(report_id, recipient, subject, text, html)],
                       sleep=sleep)[0]
