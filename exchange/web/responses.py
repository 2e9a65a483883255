"""Response helpers shared by the portal's handlers."""

from __future__ import annotations

from urllib.parse import quote


def content_disposition(name: str, fallback: str) -> str:
    """An attachment named ``name`` (RFC 5987), with an ASCII ``fallback`` for old clients."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"
