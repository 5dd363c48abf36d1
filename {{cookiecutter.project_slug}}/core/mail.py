"""Sending e-mail behind one small interface; development and tests log instead of sending."""

from dataclasses import dataclass, field
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


class MailSender(Protocol):
    async def send(self, mail: Mail) -> None: ...


class LoggingMailSender:
    """Writes each mail to the log. Replace it with an SMTP or API client in `get_mail_sender`."""

    async def send(self, mail: Mail) -> None:
        log.info("mail not sent (development sender)", to=mail.to, subject=mail.subject)


@dataclass
class RecordingMailSender:
    """Keeps what it was asked to send: for tests."""

    sent: list[Mail] = field(default_factory=list)

    async def send(self, mail: Mail) -> None:
        self.sent.append(mail)


_sender: MailSender = LoggingMailSender()


def get_mail_sender() -> MailSender:
    return _sender


def use_mail_sender(sender: MailSender) -> MailSender:
    """Make `sender` the one jobs use; returns the previous one (tests put it back)."""
    global _sender
    previous, _sender = _sender, sender
    return previous
