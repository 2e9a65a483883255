"""The split-password rule (C-02): data and its password reach the recipient on separate occasions.

A package's password is released only (a) to a manager or handler designated on the receiving contract and
(b) after the recipient acknowledged receipt of the data or after the contract's minimum delay since delivery.
An out-of-period contract gets no password. The package's own state (not delivered, erased, frozen by an
incident, revoked) is decided before this rule, by the caller, in the same way as for every other use of a
package (``exchange.delivery.package_state``), so it is not an input here.

The rule does not yet refuse a password channel the data also used: the data channels it is given are connector
kinds (``local``, ``sftp``, ``box``, ``media``) and password channels are ``notice``, ``portal`` and ``email``,
two vocabularies with no member in common, so such a comparison could never refuse anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from policies.errors import PolicyRefusal, RefusalCode
from policies.rules import ContractFacts, check_period

RELEASED = "password.released"
DESIGNATED_ROLES = frozenset({"manager", "handler"})


@dataclass(frozen=True)
class Designation:
    """A person designated on a contract (取扱責任者 = ``manager``, 取扱者 = ``handler``)."""

    person_id: str
    contract_id: str
    role: str


@dataclass(frozen=True)
class ReleaseRequest:
    """Someone asks for a delivered package's password over ``password_channel``.

    ``data_channels`` are the connector kinds the data went (or goes) through, not yet compared (see the module
    docstring); ``delivered_at`` is when the data reached the recipient (None: not yet); ``today`` is the JST
    day for the contract period.
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
    """The answer: ``allowed`` with ``code`` and a Japanese reason; when allowed, the channel to send it on.

    ``retry_at`` tells a refused caller when the delay will have passed (None when waiting cannot help).
    """

    allowed: bool
    code: str
    reason_ja: str
    channel: str | None = None
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
        if request.delivered_at is None:
            return _refuse(RefusalCode.NOT_DELIVERED, "データがまだ届いていないため、パスワードは通知できません。")
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
        )
