"""The e-mail password channel: the password alone, to the person's separate password address.

The message carries no data and no link to it (C-02 (d)); the address is the person's ``password_email``,
kept apart from the address that receives delivery notices, so one compromised mailbox does not hold both.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from exchange.password_release import Released
from exchange.settings import SmtpSettings


class NoPasswordAddress(Exception):
    """The person has no separate password address on record."""


def compose(released: Released, sender: str, ward_name: str) -> EmailMessage:
    recipient = released.person.password_email
    if not recipient:
        raise NoPasswordAddress(f"{released.person.name} has no password e-mail address")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = "【パスワード通知】提供データの開封用パスワード"
    message.set_content(
        f"{released.contract.name}\n"
        f"{released.person.name} 様\n\n"
        "別の機会・別の経路でお届けした暗号化ZIPファイルを開くためのパスワードをお知らせします。\n\n"
        f"パッケージID: {released.package.public_id}\n"
        f"パスワード: {released.password}\n\n"
        "7-Zip で開き、パスワードは大文字・小文字を区別して入力してください。\n"
        "このメールは開封後に削除し、転送・印刷しないでください。\n\n"
        f"{ward_name}\n",
        charset="utf-8",
    )
    return message


async def send(message: EmailMessage, settings: SmtpSettings) -> None:
    password = settings.password.read().get_secret_value() if settings.password is not None else None
    await aiosmtplib.send(
        message,
        hostname=settings.host,
        port=settings.port,
        username=settings.username,
        password=password,
        start_tls=settings.starttls,
        timeout=30,
    )
