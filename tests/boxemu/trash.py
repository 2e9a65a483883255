"""Trashed files: inspect and purge for good."""

from __future__ import annotations

from aiohttp import web

from tests.boxemu.files import FILE_MINI
from tests.boxemu.state import box_error, select_fields, state_of

routes = web.RouteTableDef()


@routes.get("/2.0/files/{file_id}/trash")
async def get_trashed_file(request: web.Request) -> web.Response:
    state = state_of(request)
    stored = state.files.get(request.match_info["file_id"])
    if stored is None or stored.trashed_at is None:
        return box_error(404, "not_found", "Not Found")
    return web.json_response(select_fields(state.file_full(stored), request, FILE_MINI))


@routes.delete("/2.0/files/{file_id}/trash")
async def purge_file(request: web.Request) -> web.Response:
    state = state_of(request)
    stored = state.files.get(request.match_info["file_id"])
    if stored is None or stored.trashed_at is None:
        return box_error(404, "not_found", "Not Found")
    del state.files[stored.id]
    stored.blob.unlink()
    for collab_id in [c.id for c in state.collaborations.values() if c.item_id == stored.id]:
        del state.collaborations[collab_id]
    return web.Response(status=204)
