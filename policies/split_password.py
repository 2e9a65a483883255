"""The split-password rule (C-02): data and its password reach the recipient on separate occasions.

A package's password is released only (a) to a manager or handler designated on the receiving contract and
(b) after the recipient acknowledged receipt of the data or after the contract's minimum delay since delivery.
An out-of-period contract gets no password. The package's own state (not delivered, erased, frozen by an
incident, revoked) is decided before this rule, by the caller, in the same way as for every other use of a
package (``exchange.delivery.package_state``), so it is not an input here.

The route target the package was made for lists the password channels the ward allows for that recipient
(``allowed_channels``); a channel outside that list is refused before anything else, on every release path.

Another occasion means another occasion: a password asked for in the very login session (or with the very API
token) that downloaded the data is refused (``same_session``), whatever the delay or the receipt; the person signs
out and comes back in a new login.

Another channel means another channel: a password is refused on a channel the data used (``policies.channels``:
data downloaded from the portal or the API gets its password by notice or e-mail, never on the portal).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from policies.channels import PASSWORD_CHANNEL_LABELS, DataChannel, PasswordChannel, shared
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

    ``data_channels`` are the ways the data went (its connector's kind, and the portal once downloaded);
    ``delivered_at`` is when the data reached the recipient (None: not yet); ``today`` is the JST
    day for the contract period.
    """

    contract: ContractFacts
    recipient_id: str
    designations: tuple[Designation, ...]
    password_channel: PasswordChannel
    data_channels: frozenset[DataChannel]
    delivered_at: datetime
    acknowledged_at: datetime | None
    now: datetime
    today: date
    # The route target's ``password_channels``; None only for a package made without a route target.
    allowed_channels: frozenset[str] | None = None
    # The data was downloaded in the login session (or with the API token) that now asks for the password.
    same_session: bool = False


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
        if request.allowed_channels is not None and request.password_channel not in request.allowed_channels:
            return _refuse(
                RefusalCode.CHANNEL_REFUSED,
                "この提供先には、この経路でパスワードを通知することは認められていません"
                f"（認められている経路: {'、'.join(sorted(request.allowed_channels)) or 'なし'}）。",
            )
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
        # The channel first: its refusal names the ways that remain, while logging in again would not help.
        if shared(request.password_channel, request.data_channels):
            return _refuse(
                RefusalCode.SAME_CHANNEL,
                f"データを受け取った経路（{PASSWORD_CHANNEL_LABELS[request.password_channel]}）と同じ経路では、パスワードは通知できません。"
                "印刷した通知書や電子メールなど、別の経路で受け取ってください。",
            )
        # A second, independent guard: whatever channels a ward's route allows, the login that fetched the data
        # is never the occasion that gets its password.
        if request.same_session:
            return _refuse(
                RefusalCode.SAME_SESSION,
                "データをダウンロードしたのと同じログインの中では、パスワードは受け取れません。"
                "いったんログアウトし、別の機会に改めてログインしてから受け取ってください。",
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
        )
