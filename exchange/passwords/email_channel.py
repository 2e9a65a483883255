"""The e-mail password channel: the password alone, to the person's separate password address.

The message carries no data and no link to it (C-02 (d)); the address is the person's ``password_email``,
kept apart from the address that receives delivery notices, so one compromised mailbox does not hold both.
"""

from __future__ import annotations

from exchange.duties.mail import Mailer
from exchange.passwords.release import Released

SUBJECT = "【パスワード通知】提供データの開封用パスワード"


class NoPasswordAddress(Exception):
    """The person has no separate password address on record."""


def body(released: Released, ward_name: str) -> str:
    return (
        f"{released.contract.name}\n"
        f"{released.person.name} 様\n\n"
        "別の機会・別の経路でお届けした暗号化ZIPファイルを開くためのパスワードをお知らせします。\n\n"
        f"パッケージID: {released.package.public_id}\n"
        f"パスワード: {released.password}\n\n"
        "7-Zip で開き、パスワードは大文字・小文字を区別して入力してください。\n"
        "このメールは開封後に削除し、転送・印刷しないでください。\n\n"
        f"{ward_name}\n"
    )


async def send_password(released: Released, mailer: Mailer, ward_name: str) -> str:
    """Send and return the address it went to."""
    recipient = released.person.password_email
    if not recipient:
        raise NoPasswordAddress(f"{released.person.name} has no password e-mail address")
    await mailer.send([recipient], SUBJECT, body(released, ward_name))
    return recipient
