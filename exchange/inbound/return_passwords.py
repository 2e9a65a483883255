"""The password of a ZIP in a return folder: staff confirm the ZIP arrived, then pick its password up on another
occasion and channel, under the same split-password rule as an outbound package (C-02, ``policies.split_password``).

The rule is asked as for a package, with the ward's side as the recipient: the people entitled are the staff of
the section that owns the contract (for a return they are who a designation is for a package); the data went by the
ward's own folder (``outbox``), so the portal's pick-up page or a printed notice are other channels; the folder's
``password_channels`` bind every path; the receipt (or the contract's delay since delivery) makes the occasion.
Every decision is a register line and the password is unsealed only after an allowed one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from exchange.contract_facts import contract_facts
from exchange.inbound.return_folders import password_aad
from exchange.keys import sealing
from exchange.passwords.release import PasswordRefused
from ledger.documents.letters import Detail, Letter, ValueStyle, render_letter
from ledger.models.base import utcnow
from ledger.models.contracts import Contract, Program
from ledger.models.inbound import InboundFile
from ledger.models.parties import Party, PartyKind, Person, PersonRole
from ledger.models.return_folders import ReturnDelivery, ReturnFolder
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import jst_date
from policies import split_password as rule
from policies.channels import DataChannel, PasswordChannel

__all__ = ["PasswordChannel", "PasswordRefused", "acknowledge", "notice_pdf", "release"]

NOTICE_STEPS: Final = (
    "本通知書のパスワードは、返送フォルダに置かれた暗号化ZIPファイルを開くためのものです。"
    "本通知書をZIPファイルと同じフォルダや同じ場所に保管しないでください。",
    "ZIPファイルは 7-Zip で開いてください。パスワードは大文字・小文字を区別して入力してください。",
    "使用後は裁断等により復元できない方法で廃棄してください。紛失した場合は直ちに情報システム担当へ連絡してください。",
)


def _label(person: Person) -> str:
    return f"{person.name}（{person.code}）"


async def acknowledge(session: AsyncSession, delivery: ReturnDelivery, staff: Person, contract: Contract) -> bool:
    """Record that ``staff`` found the ZIP in the return folder; the first receipt stands (True when it is this)."""
    if delivery.acknowledged_at is not None:
        return False
    delivery.acknowledged_at, delivery.acknowledged_by_id = utcnow(), staff.id
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.INBOUND_RETURN_ACKNOWLEDGED,
            category=Category.RECEIVED,
            content=f"返送フォルダのファイルの受領確認（{delivery.zip_name}）",
            contract_id=contract.public_id,
            handler_from="system",
            handler_to=_label(staff),
            channel="return_folder",
            details={"return": delivery.public_id},
        ),
    )
    return True


async def _entitled(session: AsyncSession, staff: Person, contract: Contract) -> bool:
    program = await session.get(Program, contract.program_id)
    party = await session.get(Party, staff.party_id)
    assert program is not None and party is not None  # enforced by the foreign keys
    return party.kind is PartyKind.WARD and staff.role is PersonRole.STAFF and staff.section == program.section


async def release(
    session: AsyncSession,
    delivery: ReturnDelivery,
    staff: Person,
    channel: PasswordChannel,
    *,
    keyring: sealing.Keyring,
    now: datetime | None = None,
) -> str:
    """Decide, record, and (when allowed) unseal a return ZIP's password for ``staff``; raises PasswordRefused after
    recording a refusal (the caller commits either way)."""
    moment = now or utcnow()
    upload = await session.get(InboundFile, delivery.inbound_file_id)
    folder = await session.get(ReturnFolder, delivery.return_folder_id)
    assert upload is not None and folder is not None  # enforced by the foreign keys
    contract = await session.get(Contract, upload.contract_id)
    assert contract is not None
    entitled = (rule.Designation(staff.public_id, contract.public_id, "handler"),)
    request = rule.ReleaseRequest(
        contract=await contract_facts(session, contract),
        recipient_id=staff.public_id,
        designations=entitled if await _entitled(session, staff, contract) else (),
        password_channel=channel,
        data_channels=frozenset({DataChannel.OUTBOX}),
        delivered_at=delivery.delivered_at,
        acknowledged_at=delivery.acknowledged_at,
        now=moment,
        today=jst_date(moment),
        allowed_channels=frozenset(folder.password_channels),
    )
    decision = rule.SplitPasswordRule().decide(request)
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.PASSWORD_RELEASED if decision.allowed else RegisterKind.PASSWORD_REFUSED,
            category=Category.PASSWORD_NOTICE if decision.allowed else Category.REFUSED,
            content=("返送ファイルのパスワード通知" if decision.allowed else "返送ファイルのパスワード通知の拒否")
            + f"（{delivery.zip_name}）",
            contract_id=contract.public_id,
            handler_from="system",
            handler_to=_label(staff),
            channel=channel.value,
            details={"return": delivery.public_id, "code": str(decision.code), "reason": decision.reason_ja},
        ),
    )
    if not decision.allowed:
        raise PasswordRefused(decision)
    sealed = sealing.SealedSecret.from_bytes(delivery.sealed_password)
    return sealing.unseal(keyring, sealed, password_aad(delivery.public_id)).decode()


def notice_pdf(delivery: ReturnDelivery, contract: Contract, staff: Person, section: str, password: str) -> bytes:
    """The printed notice (パスワード通知書) of a return ZIP's password, addressed to the member of staff; blocking
    (fonts are read), so call it off the event loop. It is returned, never stored: it holds a secret."""
    return render_letter(
        Letter(
            issued_on=jst_date(utcnow()),
            addressees=(f"{section}　{staff.name}　様",),
            issuer="個人情報受渡しハブ（handover）",
            title="パスワード通知書（返送ファイル）",
            lead="返送フォルダに配置した暗号化ZIPファイルのパスワードを通知します。",
            details=(
                Detail("契約名", contract.name),
                Detail("ファイル名", delivery.zip_name, ValueStyle.IDENTIFIER),
                Detail("パスワード", password, ValueStyle.SECRET),
            ),
            steps_heading="取扱いについて",
            steps=NOTICE_STEPS,
            subject=f"返送ファイル {delivery.public_id}",
        )
    )
