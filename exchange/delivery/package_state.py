"""A package's standing, decided in one place for every path that shows it or hands it over.

The portal pages, the API, the command line and the password release all ask ``refusal(package, use)``, so a
package that is not delivered, erased, frozen or revoked is refused the same uses with the same Japanese reason
wherever someone asks:

==============  ======  ========  ===========  ========
state           view    download  acknowledge  password
==============  ======  ========  ===========  ========
erased          no      no        no           no
not delivered   no      no        no           no
frozen          yes     no        no           no
revoked         yes     no        yes          no
==============  ======  ========  ===========  ========

A frozen package stays visible because the recipient must be able to see what the incident concerns; a revoked
one can still be acknowledged because receipt that already happened is a fact the register should hold.
When several marks apply, the first in the table wins: erasure is final whatever happened before it (the
retention sweep also erases packages whose delivery never succeeded), and a package that never reached the
recipient is that, and nothing else, to them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from ledger.models.packages import Package, PackageStatus


class PackageState(enum.StrEnum):
    AVAILABLE = "available"
    ERASED = "erased"  # crypto-erased by the retention sweep (消去)
    NOT_DELIVERED = "not_delivered"  # sealed, or its delivery is still failing: the recipient has nothing yet
    FROZEN = "frozen"  # held as evidence by an incident (C-18)
    REVOKED = "revoked"  # withdrawn by ward staff (提供の取消し)


class Use(enum.StrEnum):
    """What someone wants to do with a package."""

    VIEW = "view"
    DOWNLOAD = "download"
    ACKNOWLEDGE = "acknowledge"
    PASSWORD = "password"  # noqa: S105 - a use, not a secret


_EVERY_USE = frozenset(Use)
_STOPS: Mapping[PackageState, frozenset[Use]] = {
    PackageState.AVAILABLE: frozenset(),
    PackageState.ERASED: _EVERY_USE,
    PackageState.NOT_DELIVERED: _EVERY_USE,
    PackageState.FROZEN: _EVERY_USE - {Use.VIEW},
    PackageState.REVOKED: frozenset({Use.DOWNLOAD, Use.PASSWORD}),
}
_REASONS: Mapping[PackageState, str] = {
    PackageState.ERASED: "このデータは保存期間を過ぎたため消去済みです。",
    PackageState.NOT_DELIVERED: "このデータはまだ届いていません。",
    PackageState.FROZEN: (
        "事故対応のためこのデータは凍結されています。"
        "区の指示があるまで、ダウンロード・受領確認・パスワードの受取りはできません。"
    ),
    PackageState.REVOKED: "区がこのデータの提供を取り消しました。区の担当者に連絡してください。",
}


class PackageRefused(Exception):
    """A package use refused: ``code`` (stable, ASCII) for the audit log, ``reason_ja`` for the person."""

    def __init__(self, code: str, reason_ja: str) -> None:
        super().__init__(reason_ja)
        self.code = code
        self.reason_ja = reason_ja


@dataclass(frozen=True)
class StateRefusal:
    state: PackageState

    @property
    def code(self) -> str:
        return f"package.{self.state.value}"

    @property
    def reason_ja(self) -> str:
        return _REASONS[self.state]

    def error(self) -> PackageRefused:
        return PackageRefused(self.code, self.reason_ja)


def package_state(package: Package) -> PackageState:
    """The one reading of a package row's marks (see the module docstring for the precedence)."""
    if package.status == PackageStatus.DELETED or package.deleted_at is not None:
        return PackageState.ERASED
    if package.delivered_at is None:
        return PackageState.NOT_DELIVERED
    if package.frozen_at is not None:
        return PackageState.FROZEN
    if package.revoked_at is not None:
        return PackageState.REVOKED
    return PackageState.AVAILABLE


def refusal(package: Package, use: Use) -> StateRefusal | None:
    """Why the package's state stops ``use``, or None when it does not."""
    state = package_state(package)
    return StateRefusal(state) if use in _STOPS[state] else None


def require(package: Package, use: Use) -> None:
    """Raise PackageRefused when the package's state stops ``use``."""
    refused = refusal(package, use)
    if refused is not None:
        raise refused.error()
