"""Files: preflight check, multipart upload (``attributes`` before ``file``), get and delete (to the trash)."""

from __future__ import annotations

import hashlib
import json
import secrets

from aiohttp import BodyPartReader, web

from tests.boxemu.folders import invalid_name, json_body
from tests.boxemu.state import box_error, now_iso, select_fields, state_of

routes = web.RouteTableDef()
FILE_MINI = ("type", "id", "sequence_id", "etag", "name", "sha1", "file_version")


@routes.route("OPTIONS", "/2.0/files/content")
async def preflight(request: web.Request) -> web.Response:
    state = state_of(request)
    body = await json_body(request)
    if body is None:
        return box_error(400, "bad_request", "Bad Request")
    parent = body.get("parent")
    parent_id = str(parent.get("id")) if isinstance(parent, dict) else None
    if parent_id is None or parent_id not in state.folders:
        return box_error(404, "not_found", "Not Found")
    name = body.get("name")
    problem = invalid_name(name)
    if problem is not None:
        return problem
    assert isinstance(name, str)
    existing = state.child_named(parent_id, name)
    if existing is not None:
        return state.name_in_use(existing)
    upload_url = f"{request.url.origin()}/api/2.0/files/content?upload_session_id={secrets.token_hex(16)}"
    return web.json_response({"upload_url": upload_url, "upload_token": None})


@routes.post("/api/2.0/files/content")
async def upload(request: web.Request) -> web.Response:
    state = state_of(request)
    reader = await request.multipart()
    first = await reader.next()
    if not isinstance(first, BodyPartReader) or first.name != "attributes":
        return box_error(400, "metadata_after_file_contents", "The attributes part must come before the file part")
    try:
        attributes = json.loads(await first.text())
    except json.JSONDecodeError:
        return box_error(400, "bad_request", "Bad Request")
    file_part = await reader.next()
    if not isinstance(file_part, BodyPartReader) or file_part.name != "file":
        return box_error(400, "bad_request", "Bad Request")
    incoming = state.storage / "incoming" / secrets.token_hex(8)
    digest = hashlib.sha1(usedforsecurity=False)
    size = 0
    with incoming.open("wb") as out:
        while chunk := await file_part.read_chunk(1024 * 1024):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    response = _refusal(request, attributes, digest.hexdigest())
    if response is not None:
        incoming.unlink()
        return response
    stored = state.add_file(attributes["name"], str(attributes["parent"]["id"]), incoming, size, digest.hexdigest())
    body = {"total_count": 1, "entries": [select_fields(state.file_full(stored), request, FILE_MINI)]}
    return web.json_response(body, status=201)


def _refusal(request: web.Request, attributes: object, sha1: str) -> web.Response | None:
    state = state_of(request)
    if not isinstance(attributes, dict) or not isinstance(attributes.get("parent"), dict):
        return box_error(400, "bad_request", "Bad Request")
    problem = invalid_name(attributes.get("name"))
    if problem is not None:
        return problem
    parent_id = str(attributes["parent"].get("id"))
    if parent_id not in state.folders:
        return box_error(404, "not_found", "Not Found")
    claimed = request.headers.get("Content-MD5")
    if claimed is not None and claimed.lower() != sha1:
        return box_error(400, "bad_request", "The specified Content-MD5 did not match what we received")
    existing = state.child_named(parent_id, attributes["name"])
    if existing is not None:
        return state.name_in_use(existing)
    return None


@routes.get("/2.0/files/{file_id}")
async def get_file(request: web.Request) -> web.Response:
    """Box still answers for a file in the trash (``item_status: trashed``) until it is purged."""
    state = state_of(request)
    stored = state.files.get(request.match_info["file_id"])
    if stored is None:
        return box_error(404, "not_found", "Not Found")
    return web.json_response(select_fields(state.file_full(stored), request, FILE_MINI))


@routes.delete("/2.0/files/{file_id}")
async def delete_file(request: web.Request) -> web.Response:
    state = state_of(request)
    stored = state.files.get(request.match_info["file_id"])
    if stored is None or stored.trashed_at is not None:
        return box_error(404, "not_found", "Not Found")
    stored.trashed_at = now_iso()
    return web.Response(status=204)
