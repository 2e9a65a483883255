"""Pure contract rules: period and purpose (C-20), sub-contract chain (C-06), jurisdiction (C-14).

The functions work on small frozen facts, not database rows, so that they are testable without a database;
the hub builds :class:`ContractFacts` from its models. Each check returns None or raises
:class:`~policies.errors.PolicyRefusal` with a Japanese reason the ward's staff can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ledger.jurisdiction import is_domestic
from ledger.wareki import to_wareki
from policies.errors import PolicyRefusal, RefusalCode
from policies.jp import wareki_with_iso


@dataclass(frozen=True)
class SubcontractApproval:
    """The ward's written approval (承諾) of a sub-contract: who, when, which document, and any revocation."""

    approved_by: str
    approved_at: datetime
    document_ref: str
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class ConnectorFacts:
    """A delivery endpoint of the route and the jurisdiction whose law applies to it (``jp`` = Japan)."""

    name: str
    jurisdiction: str


@dataclass(frozen=True)
class ContractFacts:
    """What the rules need to know about one contract (ward → contractor, or contractor → sub-contractor).

    ``parent`` is the contract a sub-contract hangs under (None for a ward's own contract);
    ``password_delay`` is the minimum time after delivery before a password may be released without a
    receipt (None: only a receipt releases it).
    """

    public_id: str
    program_code: str
    start: date
    end: date
    allowed_items: frozenset[str]
    allowed_channels: frozenset[str]
    connectors: tuple[ConnectorFacts, ...] = ()
    parent: ContractFacts | None = None
    subcontract_approval: SubcontractApproval | None = None
    password_delay: timedelta | None = None
    name: str = ""

    @property
    def label(self) -> str:
        """How staff know the contract: its name, or its id when no name was given."""
        return self.name or self.public_id


def _chain(contract: ContractFacts) -> list[ContractFacts]:
    chain = [contract]
    while chain[-1].parent is not None:
        chain.append(chain[-1].parent)
    return chain


def check_period(contract: ContractFacts, today: date) -> None:
    """Refuse unless ``today`` is within the contract's period and within every parent contract's period."""
    for link in _chain(contract):
        if not link.start <= today <= link.end:
            raise PolicyRefusal(
                RefusalCode.OUTSIDE_PERIOD,
                f"契約「{link.label}」の契約期間外です（契約期間: {to_wareki(link.start)}〜{to_wareki(link.end)}、"
                f"本日: {wareki_with_iso(today)}）。期間外の提供はできません。",
            )


def check_program(contract: ContractFacts, program_code: str) -> None:
    """Refuse unless the contract (and every parent) was made for ``program_code``: no use for another purpose."""
    for link in _chain(contract):
        if link.program_code != program_code:
            raise PolicyRefusal(
                RefusalCode.WRONG_PROGRAM,
                f"契約「{link.label}」は業務「{link.program_code}」のための契約です。"
                f"業務「{program_code}」のデータは提供できません（目的外利用の禁止）。",
            )


def check_channel(contract: ContractFacts, channel: str) -> None:
    """Refuse a delivery channel that the contract does not list."""
    if channel not in contract.allowed_channels:
        allowed = "、".join(sorted(contract.allowed_channels)) or "なし"
        raise PolicyRefusal(
            RefusalCode.CHANNEL_NOT_ALLOWED,
            f"契約「{contract.label}」では「{channel}」による提供は認められていません"
            f"（認められている経路: {allowed}）。",
        )


def check_subcontract_chain(contract: ContractFacts, now: datetime) -> None:
    """Refuse unless every sub-contract in the chain is approved (before ``now``, not revoked) and receives
    only items its parent contract may receive (C-06)."""
    for link in _chain(contract):
        parent = link.parent
        if parent is None:
            return
        approval = link.subcontract_approval
        if approval is None or approval.approved_at > now:
            raise PolicyRefusal(
                RefusalCode.SUBCONTRACT_UNAPPROVED,
                f"再委託契約「{link.label}」について区の承諾が記録されていません。承諾前の提供はできません。",
            )
        if approval.revoked_at is not None and approval.revoked_at <= now:
            raise PolicyRefusal(
                RefusalCode.SUBCONTRACT_REVOKED,
                f"再委託契約「{link.label}」の承諾（{approval.document_ref}）は取り消されています。",
            )
        beyond = sorted(link.allowed_items - parent.allowed_items)
        if beyond:
            names = "、".join(f"「{item}」" for item in beyond)
            raise PolicyRefusal(
                RefusalCode.SUBCONTRACT_ITEMS,
                f"再委託契約「{link.label}」の提供項目 {names} は、元の契約「{parent.label}」の"
                "提供項目に含まれていません。",
            )


def check_jurisdiction(contract: ContractFacts) -> None:
    """Refuse unless the route has connectors and every one is under Japanese law (C-14)."""
    if not contract.connectors:
        raise PolicyRefusal(
            RefusalCode.NO_CONNECTOR,
            f"契約「{contract.label}」の提供経路に接続先が設定されていません。",
        )
    foreign = [c for c in contract.connectors if not is_domestic(c.jurisdiction)]
    if foreign:
        names = "、".join(f"「{c.name}」（{c.jurisdiction or '未申告'}）" for c in foreign)
        raise PolicyRefusal(
            RefusalCode.JURISDICTION,
            f"国内法が適用される環境であることが確認できない接続先があります: {names}。",
        )
