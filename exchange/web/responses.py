"""Response helpers shared by the portal's handlers."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter


def content_disposition(name: str, fallback: str) -> str:
    """An attachment named ``name`` (RFC 5987), with an ASCII ``fallback`` for old clients."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


class StreamedFileResponse(web.FileResponse):
    """A file response the handler streams itself (to learn whether the transfer ended complete).

    aiohttp prepares a returned response again; ``FileResponse.prepare`` would reopen and resend the file.
    """

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        if self.prepared:
            return None
        return await super().prepare(request)
