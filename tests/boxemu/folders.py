"""Folders: create (with the 409 ``item_name_in_use`` conflict) and get."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.boxemu.state import Folder, box_error, select_fields, state_of

routes = web.RouteTableDef()
FOLDER_MINI = ("type", "id", "sequence_id", "etag", "name")


async def json_body(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except json.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def invalid_name(name: object) -> web.Response | None:
    """Box's naming rules for folders and files, as the OpenAPI description of POST /folders states them."""
    if not isinstance(name, str) or not name:
        return box_error(400, "bad_request", "Bad Request", context_info={"errors": [{"name": "name"}]})
    if len(name) > 255:
        return box_error(400, "item_name_too_long", "Item name too long")
    printable = all(ch.isprintable() for ch in name)
    if not printable or "/" in name or "\\" in name or name.endswith(" ") or name in (".", ".."):
        return box_error(400, "item_name_invalid", "Item name invalid")
    return None


@routes.post("/2.0/folders")
async def create_folder(request: web.Request) -> web.Response:
    state = state_of(request)
    body = await json_body(request)
    if body is None or not isinstance(body.get("parent"), dict) or "id" not in body["parent"]:
        return box_error(400, "bad_request", "Bad Request")
    name = body.get("name")
    problem = invalid_name(name)
    if problem is not None:
        return problem
    assert isinstance(name, str)
    parent_id = str(body["parent"]["id"])
    if parent_id not in state.folders:
        return box_error(404, "not_found", "Not Found")
    existing = state.child_named(parent_id, name)
    if existing is not None:
        return state.name_in_use(existing)
    folder = Folder(state.new_id(), name, parent_id)
    state.folders[folder.id] = folder
    return web.json_response(select_fields(state.folder_full(folder), request, FOLDER_MINI), status=201)


@routes.get("/2.0/folders/{folder_id}")
async def get_folder(request: web.Request) -> web.Response:
    state = state_of(request)
    folder = state.folders.get(request.match_info["folder_id"])
    if folder is None:
        return box_error(404, "not_found", "Not Found")
    return web.json_response(select_fields(state.folder_full(folder), request, FOLDER_MINI))
