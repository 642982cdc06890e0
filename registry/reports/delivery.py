"""E-mail delivery of team reports over SMTP, with retries, recorded in ``report_deliveries``.

Configured by ``FEATREG_SMTP_*`` variables (`SmtpSettings.from_env`); without
``FEATREG_SMTP_HOST`` nothing is sent and reports stay in files and the UI. Deliveries are
recorded in the caller's unit of work (the job or command opens it after the report itself was
committed): a delivery that keeps failing leaves its attempts and last error behind, and a
report already sent to a recipient is not sent again.
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
from sqlalchemy.orm import Session

from registry.core.settings import SettingsError
from registry.store import models as m

__all__ = ["DeliveryResult", "Mail", "SmtpSettings", "build_message", "deliver", "deliver_all",
           "send_message"]


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
