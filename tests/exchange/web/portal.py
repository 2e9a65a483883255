"""The portal under test, as the web tests hold it: a client, the world behind it, and signing in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exchange.blobs.local import LocalBlobStore
from tests.factories import PASSWORD, PortalWorld

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf_of(client: TestClient, path: str = "/") -> str:
    page = await (await client.get(path)).text()
    match = CSRF.search(page)
    assert match, page
    return match.group(1)


@dataclass
class Portal:
    client: TestClient
    world: PortalWorld
    maker: async_sessionmaker[AsyncSession]
    data_dir: Path
    blobs: LocalBlobStore  # where the portal keeps sealed files (``PortalDeps.blobs``)

    async def login(self, login: str, client: TestClient | None = None, password: str = PASSWORD) -> str:
        """Sign in on ``client`` (the portal's own by default), with TOTP when the account has one; returns the
        session's CSRF token."""
        client = client or self.client
        client.session.cookie_jar.clear()
        response = await self.post_login(login, password, client)
        assert response.status == 303, await response.text()
        if response.headers["Location"] == "/login/totp":
            response = await client.post(
                "/login/totp",
                data={"csrf_token": await csrf_of(client, "/login/totp"), "code": self.world.code(login)},
                allow_redirects=False,
            )
            assert response.status == 303 and response.headers["Location"] == "/", await response.text()
        return await csrf_of(client)

    async def post_login(
        self, login: str, password: str = PASSWORD, client: TestClient | None = None
    ) -> ClientResponse:
        """One password attempt as a browser makes it: the login page first (for its pre-session CSRF token)."""
        client = client or self.client
        return await client.post(
            "/login",
            data={"login": login, "password": password, "csrf_token": await csrf_of(client, "/login")},
            allow_redirects=False,
        )
