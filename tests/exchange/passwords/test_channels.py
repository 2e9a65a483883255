"""Releasing passwords over the e-mail and notice channels, through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import email
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import select

from exchange.duties.mail import SmtpMailer
from exchange.hub import HubServices
from exchange.passwords import email_channel as password_email
from exchange.passwords.release import PasswordChannel, PasswordRefused, release
from exchange.settings import SmtpSettings
from ledger.models import Package, PasswordRelease, Person, RouteTarget
from ledger.models.base import utcnow
from policies.dummy import write_dummy_csv
from tests.exchange.helpers import ledger_kinds, packages, process, route_dir
from tests.services import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpSettings, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpSettings(host="127.0.0.1", port=port, sender="hub@ward.example"), inbox
    controller.stop()


async def delivered_package(hub: HubServices) -> Package:
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(write_dummy_csv, "seikatsu-hogo-tsuika", 5, folder / "a.csv", encoding="cp932")
    await process(hub)
    [package] = await packages(hub)
    return package


async def person(hub: HubServices, code: str) -> Person:
    async with hub.sessions() as session:
        return (await session.execute(select(Person).where(Person.code == code))).scalar_one()


async def allow_channels(hub: HubServices, package: Package, channels: list[str]) -> None:
    async with hub.sessions() as session:
        row = await session.get(Package, package.id)
        assert row is not None and row.route_target_id is not None
        target = await session.get(RouteTarget, row.route_target_id)
        assert target is not None
        target.password_channels = channels
        await session.commit()


async def test_route_allowing_only_notice_refuses_portal_and_email(hub: HubServices) -> None:
    package = await delivered_package(hub)
    await allow_channels(hub, package, ["notice"])
    manager = await person(hub, "a-manager")
    later = utcnow() + timedelta(hours=25)  # past the demo contract's delay: only the channel can refuse
    async with hub.sessions() as session:
        row = await session.get(Package, package.id)
        assert row is not None
        for channel in (PasswordChannel.PORTAL, PasswordChannel.EMAIL):
            with pytest.raises(PasswordRefused) as refused:
                await release(
                    session, row, manager, channel, keyring=hub.keyring, connector_kinds=hub.connector_kinds, now=later
                )
            assert refused.value.decision.code == "password.channel_not_allowed"
            assert "認められていません" in refused.value.decision.reason_ja
        released = await release(
            session,
            row,
            manager,
            PasswordChannel.NOTICE,
            keyring=hub.keyring,
            connector_kinds=hub.connector_kinds,
            now=later,
        )
        assert released.channel == PasswordChannel.NOTICE
        await session.commit()
    async with hub.sessions() as session:
        decisions = [(r.allowed, r.channel) for r in (await session.execute(select(PasswordRelease))).scalars()]
    assert decisions == [(False, "portal"), (False, "email"), (True, "notice")]
    assert (await ledger_kinds(hub))[-3:] == ["password.refused", "password.refused", "password.released"]


async def test_email_carries_the_password_alone_after_receipt(
    hub: HubServices, smtp: tuple[SmtpSettings, Inbox], tmp_path: Path
) -> None:
    settings, inbox = smtp
    package = await delivered_package(hub)
    handler = await person(hub, "a-handler")
    await allow_channels(hub, package, ["notice", "email"])  # the demo route allows notice and portal only
    async with hub.sessions() as session:
        row = await session.get(Package, package.id)
        assert row is not None
        with pytest.raises(PasswordRefused) as refused:
            await release(
                session, row, handler, PasswordChannel.EMAIL, keyring=hub.keyring, connector_kinds=hub.connector_kinds
            )
        assert "受領確認" in refused.value.decision.reason_ja
        await session.commit()
        row.acknowledged_at = utcnow()
        released = await release(
            session, row, handler, PasswordChannel.EMAIL, keyring=hub.keyring, connector_kinds=hub.connector_kinds
        )
        await password_email.send_password(released, SmtpMailer(settings), "見本区")
        await session.commit()

    [message] = inbox.messages
    assert message["To"] == "handler-pw@contractor-a.example"
    assert not message.is_multipart(), "no attachment: the data never travels with its password"
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert released.password in body.decode("utf-8")
    assert package.zip_name not in body.decode("utf-8"), "nothing that locates the data travels with the password"
    async with hub.sessions() as session:
        decisions = [(r.allowed, r.channel) for r in (await session.execute(select(PasswordRelease))).scalars()]
    assert decisions == [(False, "email"), (True, "email")]
    assert (await ledger_kinds(hub))[-2:] == ["password.refused", "password.released"]


async def test_delay_releases_without_receipt_and_outsiders_never(hub: HubServices) -> None:
    package = await delivered_package(hub)
    outsider = await person(hub, "b-handler")  # designated on the printer's sub-contract, not on s1-main
    manager = await person(hub, "a-manager")
    async with hub.sessions() as session:
        row = await session.get(Package, package.id)
        assert row is not None
        later = utcnow() + timedelta(hours=25)  # the demo contract's delay is 24 hours
        with pytest.raises(PasswordRefused) as refused:
            await release(
                session,
                row,
                outsider,
                PasswordChannel.NOTICE,
                keyring=hub.keyring,
                connector_kinds=hub.connector_kinds,
                now=later,
            )
        assert refused.value.decision.code == "password.not_designated"
        released = await release(
            session,
            row,
            manager,
            PasswordChannel.NOTICE,
            keyring=hub.keyring,
            connector_kinds=hub.connector_kinds,
            now=later,
        )
        assert len(released.password) == 24
        assert released.password not in repr(released)
