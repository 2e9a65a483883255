"""The split-password rule (C-02): data and its password reach the recipient on separate occasions.

A package's password is released only (a) over a channel the data did not use, (b) to a manager or handler
designated on the receiving contract, (c) after the recipient acknowledged receipt of the data or after the
contract's minimum delay since delivery, and (d) never together with the data: an allowed decision carries the
obligations the caller must honour. An out-of-period contract gets no password. The package's own state (not
delivered, erased, frozen by an incident, revoked) is decided before this rule, by the caller, in the same way
as for every other use of a package (``exchange.delivery.package_state``), so it is not an input here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from policies.errors import PolicyRefusal, RefusalCode
from policies.rules import ContractFacts, check_period

RELEASED = "password.released"
DESIGNATED_ROLES = frozenset({"manager", "handler"})


class Obligation(StrEnum):
    """What the caller must do when a release is allowed."""

    SEPARATE_MESSAGE = "separate_message"
    """Send the password alone: never attached to, embedded in or sent in the same message as the data."""
    RECORD_RELEASE = "record_release"
    """Write the release (who, when, which channel) to the handover register."""


@dataclass(frozen=True)
class Designation:
    """A person designated on a contract (取扱責任者 = ``manager``, 取扱者 = ``handler``)."""

    person_id: str
    contract_id: str
    role: str


@dataclass(frozen=True)
class ReleaseRequest:
    """Someone asks for a delivered package's password over ``password_channel``.

    ``data_channels`` are the channels the data went through; ``delivered_at`` is when the data reached the
    recipient; ``today`` is the JST day for the contract period.
    """

    contract: ContractFacts
    recipient_id: str
    designations: tuple[Designation, ...]
    password_channel: str
    data_channels: frozenset[str]
    delivered_at: datetime
    acknowledged_at: datetime | None
    now: datetime
    today: date


@dataclass(frozen=True)
class ReleaseDecision:
    """The answer: ``allowed`` with ``code`` and a Japanese reason; when allowed, where and how to send.

    ``retry_at`` tells a refused caller when the delay will have passed (None when waiting cannot help).
    """

    allowed: bool
    code: str
    reason_ja: str
    channel: str | None = None
    obligations: tuple[Obligation, ...] = ()
    retry_at: datetime | None = None


def _refuse(code: RefusalCode, reason: str, retry_at: datetime | None = None) -> ReleaseDecision:
    return ReleaseDecision(allowed=False, code=code, reason_ja=reason, retry_at=retry_at)


class SplitPasswordRule:
    """Decides password releases; stateless, so one instance serves the whole hub."""

    def decide(self, request: ReleaseRequest) -> ReleaseDecision:
        try:
            check_period(request.contract, request.today)
        except PolicyRefusal as refusal:
            return _refuse(refusal.code, refusal.reason)
        if not self._designated(request):
            return _refuse(
                RefusalCode.NOT_DESIGNATED,
                f"契約「{request.contract.label}」の取扱責任者・取扱者として届け出られていない方には"
                "パスワードを通知できません。",
            )
        if request.password_channel in request.data_channels:
            return _refuse(
                RefusalCode.SAME_CHANNEL,
                f"パスワードはデータと別の経路で通知する必要があります（「{request.password_channel}」は"
                "データの提供に使った経路です）。",
            )
        return self._timing(request, request.delivered_at)

    @staticmethod
    def _designated(request: ReleaseRequest) -> bool:
        return any(
            d.person_id == request.recipient_id
            and d.contract_id == request.contract.public_id
            and d.role in DESIGNATED_ROLES
            for d in request.designations
        )

    @staticmethod
    def _timing(request: ReleaseRequest, delivered_at: datetime) -> ReleaseDecision:
        acknowledged = request.acknowledged_at
        if acknowledged is not None and delivered_at <= acknowledged <= request.now:
            reason = "データの受領確認後のため、パスワードを別の経路で通知します。"
        else:
            delay = request.contract.password_delay
            if delay is None:
                return _refuse(
                    RefusalCode.TOO_EARLY,
                    "データの受領確認がまだのため、パスワードは通知できません。先に受領確認をしてください。",
                )
            ready_at = delivered_at + delay
            if request.now < ready_at:
                return _refuse(
                    RefusalCode.TOO_EARLY,
                    "データの受領確認がなく、提供後の待機時間も経過していないため、パスワードはまだ通知できません。",
                    retry_at=ready_at,
                )
            reason = "提供後の待機時間が経過したため、パスワードを別の経路で通知します。"
        return ReleaseDecision(
            allowed=True,
            code=RELEASED,
            reason_ja=reason,
            channel=request.password_channel,
            obligations=(Obligation.SEPARATE_MESSAGE, Obligation.RECORD_RELEASE),
        )
