"""One vocabulary for the ways data and passwords reach a person, so "the same channel" can be decided (C-02).

A package's data channels are the kind of the connector that delivered it (``local`` is the ward's ``outbox``, ``sftp``,
``box``, ``media``, ``s3``) and ``portal`` once anyone downloaded it from the portal. An API download counts as
``portal`` too: the API is the portal's own door, the same account and second factor reaching the same store, so a
password picked up on the portal page after an API download would travel with the data just as after a page download.
Password channels are ``notice`` (printed), ``portal`` (the pick-up page) and ``email``; the one name the two share,
``portal``, is the one a password may not take when the data took it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class DataChannel(StrEnum):
    OUTBOX = "outbox"  # the ward's own share (connector kind ``local``): staff carry or burn what lands there
    SFTP = "sftp"
    BOX = "box"
    MEDIA = "media"  # a DVD handed over in person
    S3 = "s3"  # an S3 bucket the contractor reads with its own credentials
    PORTAL = "portal"  # a portal page or API download


class PasswordChannel(StrEnum):
    NOTICE = "notice"  # printed パスワード通知書, handed over or sent by registered mail
    PORTAL = "portal"  # the portal's own pick-up page, after login with a second factor
    EMAIL = "email"  # an e-mail to the person's separate password address


# What a person reads for each password channel (refusals name the channel in Japanese, never by its code).
PASSWORD_CHANNEL_LABELS = {
    PasswordChannel.NOTICE: "印刷した通知書",
    PasswordChannel.PORTAL: "ポータル",
    PasswordChannel.EMAIL: "電子メール",
}

_OF_KIND = {
    "local": DataChannel.OUTBOX,
    "sftp": DataChannel.SFTP,
    "box": DataChannel.BOX,
    "media": DataChannel.MEDIA,
    "s3": DataChannel.S3,
}


def of_connector_kind(kind: str) -> DataChannel:
    """The data channel of a connector kind (``connectors.registry`` knows exactly these kinds)."""
    return _OF_KIND[kind]


def shared(password: PasswordChannel, data: Iterable[DataChannel]) -> bool:
    """True when the password would go the way the data went."""
    return any(channel.value == password.value for channel in data)
