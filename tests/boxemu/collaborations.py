"""Collaborations: create for a user by login, list a folder's, change the role, remove."""

from __future__ import annotations

from aiohttp import web

from tests.boxemu.folders import json_body
from tests.boxemu.state import Collaboration, box_error, now_iso, state_of

routes = web.RouteTableDef()
ROLES = ("editor", "viewer", "previewer", "uploader", "previewer uploader", "viewer uploader", "co-owner")


@routes.post("/2.0/collaborations")
async def create_collaboration(request: web.Request) -> web.Response:
    state = state_of(request)
    body = await json_body(request)
    if body is None:
        return box_error(400, "bad_request", "Bad Request")
    item, grantee, role = body.get("item"), body.get("accessible_by"), body.get("role")
    if not isinstance(item, dict) or not isinstance(grantee, dict) or role not in ROLES:
        return box_error(400, "bad_request", "Bad Request")
    item_type, item_id = item.get("type"), str(item.get("id"))
    known = state.folders if item_type == "folder" else state.files if item_type == "file" else None
    if known is None or item_id not in known:
        return box_error(404, "not_found", "Not Found")
    if grantee.get("type") != "user":
        return box_error(400, "bad_request", "This emulator supports collaborations with users only")
    login = grantee.get("login")
    if not isinstance(login, str) or "@" not in login:
        return box_error(400, "bad_request", "accessible_by.login must be an e-mail address")
    for collab in state.collaborations.values():
        if collab.item_id == item_id and collab.login.casefold() == login.casefold():
            return box_error(400, "user_already_collaborator", "User is already a collaborator")
    # A login Box does not know yet becomes a pending invitation, as on the real service.
    collab = Collaboration(state.new_id(), str(item_type), item_id, login, state.users.get(login.casefold()), role)
    state.collaborations[collab.id] = collab
    return web.json_response(state.collaboration_json(collab), status=201)


@routes.get("/2.0/folders/{folder_id}/collaborations")
async def folder_collaborations(request: web.Request) -> web.Response:
    state = state_of(request)
    folder_id = request.match_info["folder_id"]
    if folder_id not in state.folders:
        return box_error(404, "not_found", "Not Found")
    limit = int(request.query.get("limit", "100"))
    start = int(request.query.get("marker") or "0")
    found = [c for c in state.collaborations.values() if c.item_type == "folder" and c.item_id == folder_id]
    page = found[start : start + limit]
    next_marker = str(start + limit) if start + limit < len(found) else None
    return web.json_response(
        {
            "limit": limit,
            "next_marker": next_marker,
            "prev_marker": None,
            "entries": [state.collaboration_json(c) for c in page],
        }
    )


@routes.get("/2.0/collaborations/{collaboration_id}")
async def get_collaboration(request: web.Request) -> web.Response:
    state = state_of(request)
    collab = state.collaborations.get(request.match_info["collaboration_id"])
    if collab is None:
        return box_error(404, "not_found", "Not Found")
    return web.json_response(state.collaboration_json(collab))


@routes.put("/2.0/collaborations/{collaboration_id}")
async def update_collaboration(request: web.Request) -> web.Response:
    state = state_of(request)
    collab = state.collaborations.get(request.match_info["collaboration_id"])
    if collab is None:
        return box_error(404, "not_found", "Not Found")
    body = await json_body(request)
    if body is None or body.get("role") not in (*ROLES, "owner"):
        return box_error(400, "bad_request", "Bad Request")
    collab.role = body["role"]
    collab.modified_at = now_iso()
    return web.json_response(state.collaboration_json(collab))


@routes.delete("/2.0/collaborations/{collaboration_id}")
async def delete_collaboration(request: web.Request) -> web.Response:
    state = state_of(request)
    if state.collaborations.pop(request.match_info["collaboration_id"], None) is None:
        return box_error(404, "not_found", "Not Found")
    return web.Response(status=204)
