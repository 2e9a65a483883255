"""Outgoing e-mail over SMTP: one small sender for notices, reminders and password e-mails."""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from exchange.settings import SmtpSettings


class Mailer(Protocol):
    async def send(self, to: Sequence[str], subject: str, body: str) -> None: ...


class SmtpMailer:
    def __init__(self, smtp: SmtpSettings) -> None:
        self.smtp = smtp

    async def send(self, to: Sequence[str], subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.smtp.sender
        message["To"] = ", ".join(to)
        message["Subject"] = subject
        message.set_content(body, charset="utf-8")
        password = self.smtp.password.read().get_secret_value() if self.smtp.password else None
        await aiosmtplib.send(
            message,
            hostname=self.smtp.host,
            port=self.smtp.port,
            username=self.smtp.username,
            password=password,
            start_tls=self.smtp.starttls,
            timeout=30,
        )
