"""The rotation reminder for login details received from providers (C-22): a ward notice when one falls due.

Staff are told two weeks before ``rotate_due_on`` and again once it has passed; each notice is written once per
record and occasion (``exchange.duties.notices``), so the daily run does not repeat it. The notice goes to the
section of the member of staff who received the details (and to the admin and compliance, as ward notices do).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exchange.admin.asp_credentials import current
from exchange.duties.mail import Mailer
from exchange.duties.notices import NewNotice, NoticeKind, notify, send_emails
from ledger.models.duties import NoticeAudience
from ledger.wareki import jst_date, to_wareki

WARN_BEFORE: Final = timedelta(days=14)


async def remind(sessions: async_sessionmaker[AsyncSession], now: datetime, *, mailer: Mailer | None) -> dict[str, Any]:
    today = jst_date(now)
    due: list[str] = []
    new: list[NewNotice] = []
    async with sessions() as session, session.begin():
        for row in await current(session):
            if today < row.rotate_due_on - WARN_BEFORE:
                continue
            due.append(row.public_id)
            overdue = today > row.rotate_due_on
            when = to_wareki(row.rotate_due_on)
            message = (
                f"{row.provider}（{row.name}）のログイン用パスワードの変更期限（{when}）を過ぎています。"
                if overdue
                else f"{row.provider}（{row.name}）のログイン用パスワードの変更期限は{when}です。"
            ) + "変更後の情報を受け取ったら「handover admin asp-credentials record」で記録してください。"
            notice = await notify(
                session,
                kind=NoticeKind.CREDENTIAL_ROTATION,
                subject_id=row.public_id,
                occasion=f"{row.rotate_due_on.isoformat()}:{'overdue' if overdue else 'soon'}",
                audience=NoticeAudience.WARD,
                message_ja=message,
                subject=f"パスワード変更期限のお知らせ（{row.name}）",
            )
            if notice is not None:
                new.append(notice)
    sent = await send_emails(sessions, new, mailer)
    return {"due": due, "notices": len(new), "emailed": sent}
