"""Chunked upload sessions: create, upload parts, list parts, commit (optionally polled with 202), abort."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.boxemu.files import FILE_MINI
from tests.boxemu.folders import invalid_name, json_body
from tests.boxemu.state import BoxState, Part, UploadSession, box_error, select_fields, state_of

routes = web.RouteTableDef()
# Box's documented lower limit for upload sessions.
MIN_SESSION_FILE_SIZE = 20_000_000
SESSIONS = "/api/2.0/files/upload_sessions"
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def session_json(request: web.Request, session: UploadSession) -> dict[str, Any]:
    # Absolute endpoints: the SDK follows them as given, so they must lead back to this emulator.
    base = f"{request.url.origin()}{SESSIONS}/{session.id}"
    return {
        "id": session.id,
        "type": "upload_session",
        "session_expires_at": session.expires_at,
        "part_size": session.part_size,
        "total_parts": session.total_parts,
        "num_parts_processed": len(session.parts),
        "session_endpoints": {
            "upload_part": base,
            "commit": f"{base}/commit",
            "abort": base,
            "list_parts": f"{base}/parts",
            "status": base,
            "log_event": f"{base}/log",
        },
    }


def b64_sha1(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


@routes.post(SESSIONS)
async def create_session(request: web.Request) -> web.Response:
    state = state_of(request)
    body = await json_body(request)
    if body is None:
        return box_error(400, "bad_request", "Bad Request")
    if "folder_id" not in body:
        return box_error(400, "missing_destination", "No folder_id was provided")
    if "file_size" not in body:
        return box_error(400, "missing_file_size", "file_size was not provided")
    if "file_name" not in body:
        return box_error(400, "missing_file_name", "file_name was not provided")
    file_size = body["file_size"]
    if not isinstance(file_size, int) or isinstance(file_size, bool) or file_size < 0:
        return box_error(400, "invalid_file_size", "file_size is not a valid number")
    if file_size < MIN_SESSION_FILE_SIZE:
        return box_error(400, "file_size_too_small", "file_size is below the minimum for upload sessions")
    problem = invalid_name(body["file_name"])
    if problem is not None:
        return problem
    folder_id = str(body["folder_id"])
    if folder_id not in state.folders:
        return box_error(404, "invalid_parameter", "The folder_id does not exist or is not accessible")
    existing = state.child_named(folder_id, body["file_name"])
    if existing is not None:
        return state.name_in_use(existing)
    session_id = secrets.token_hex(16).upper()
    directory = state.storage / "sessions" / session_id
    directory.mkdir()
    expires = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0).isoformat()
    session = UploadSession(session_id, folder_id, body["file_name"], file_size, state.part_size, directory, expires)
    state.sessions[session_id] = session
    return web.json_response(session_json(request, session), status=201)


def _session(request: web.Request) -> UploadSession | None:
    return state_of(request).sessions.get(request.match_info["session_id"])


@routes.put(SESSIONS + "/{session_id}")
async def upload_part(request: web.Request) -> web.Response:
    session = _session(request)
    if session is None:
        return box_error(404, "not_found", "Upload session not found")
    digest = request.headers.get("Digest", "")
    if not digest.startswith("sha="):
        return box_error(400, "bad_request", "The Digest header with a SHA-1 digest is required")
    match = _RANGE.fullmatch(request.headers.get("Content-Range", ""))
    if match is None:
        return box_error(400, "bad_request", "The Content-Range header is required")
    first, last, total = (int(group) for group in match.groups())
    expected_last = min(first + session.part_size, session.file_size) - 1
    if total != session.file_size or first % session.part_size or last != expected_last:
        return box_error(416, "requested_range_not_satisfiable", "The content range does not fit the session")
    path = session.directory / f"{first:020d}.part"
    sha1 = hashlib.sha1(usedforsecurity=False)
    size = 0
    incoming = path.with_suffix(".incoming")
    with incoming.open("wb") as out:
        async for chunk in request.content.iter_chunked(1024 * 1024):
            sha1.update(chunk)
            out.write(chunk)
            size += len(chunk)
    if size != last - first + 1:
        incoming.unlink()
        return box_error(416, "requested_range_not_satisfiable", "The body length does not match the range")
    if digest != f"sha={b64_sha1(sha1.hexdigest())}":
        incoming.unlink()
        return box_error(412, "precondition_failed", "The digest does not match the uploaded part")
    earlier = session.parts.get(first)
    if earlier is not None:
        incoming.unlink()
        if earlier.sha1 != sha1.hexdigest():
            return box_error(409, "conflict", "The range overlaps a part already uploaded")
        return web.json_response({"part": earlier.as_json()})
    incoming.replace(path)
    part = Part(secrets.token_hex(4).upper(), first, size, sha1.hexdigest(), path)
    session.parts[first] = part
    return web.json_response({"part": part.as_json()})


@routes.get(SESSIONS + "/{session_id}")
async def get_session(request: web.Request) -> web.Response:
    session = _session(request)
    if session is None:
        return box_error(404, "not_found", "Upload session not found")
    return web.json_response(session_json(request, session))


@routes.delete(SESSIONS + "/{session_id}")
async def abort_session(request: web.Request) -> web.Response:
    session = state_of(request).sessions.pop(request.match_info["session_id"], None)
    if session is None:
        return box_error(404, "not_found", "Upload session not found")
    shutil.rmtree(session.directory)
    return web.Response(status=204)


@routes.get(SESSIONS + "/{session_id}/parts")
async def list_parts(request: web.Request) -> web.Response:
    session = _session(request)
    if session is None:
        return box_error(404, "not_found", "Upload session not found")
    offset = int(request.query.get("offset", "0"))
    limit = int(request.query.get("limit", "1000"))
    if offset > 10_000:
        return box_error(400, "bad_request", "offset must not exceed 10000")
    parts = [session.parts[key].as_json() for key in sorted(session.parts)]
    return web.json_response(
        {
            "total_count": len(parts),
            "limit": limit,
            "offset": offset,
            "order": [{"by": "offset", "direction": "ASC"}],
            "entries": parts[offset : offset + limit],
        }
    )


def _parts_problem(session: UploadSession, listed: object) -> str | None:
    if not isinstance(listed, list) or not listed:
        return "parts is required"
    expected = [session.parts[key] for key in sorted(session.parts)]
    if len(listed) != len(expected) or len(expected) != session.total_parts:
        return "The parts do not cover the whole file"
    for given, part in zip(sorted(listed, key=lambda p: p.get("offset", -1)), expected, strict=True):
        if (given.get("part_id"), given.get("offset"), given.get("size")) != (part.part_id, part.offset, part.size):
            return f"Part {given.get('part_id')} does not match an uploaded part"
        if given.get("sha1") not in (None, part.sha1):
            return f"Part {part.part_id} has another SHA-1"
    return None


def _assemble(state: BoxState, session: UploadSession) -> tuple[Path, str]:
    """Join the parts into one blob; returns it with its hex SHA-1."""
    blob = state.storage / "incoming" / session.id
    sha1 = hashlib.sha1(usedforsecurity=False)
    with blob.open("wb") as out:
        for key in sorted(session.parts):
            with session.parts[key].path.open("rb") as part:
                while block := part.read(1024 * 1024):
                    sha1.update(block)
                    out.write(block)
    return blob, sha1.hexdigest()


@routes.post(SESSIONS + "/{session_id}/commit")
async def commit(request: web.Request) -> web.Response:
    state = state_of(request)
    session = _session(request)
    if session is None:
        return box_error(404, "not_found", "Upload session not found")
    digest = request.headers.get("Digest", "")
    if not digest.startswith("sha="):
        return box_error(400, "bad_request", "The Digest header with the whole file's SHA-1 is required")
    body = await json_body(request)
    problem = _parts_problem(session, body.get("parts") if body else None)
    if problem is not None:
        return box_error(400, "bad_request", problem)
    with state.lock:
        polling = state.commit_polls > 0
        if polling:
            state.commit_polls -= 1
    if polling:
        return web.Response(status=202, headers={"Retry-After": state.commit_retry_after})
    existing = state.child_named(session.folder_id, session.file_name)
    if existing is not None:
        return state.name_in_use(existing)
    blob, sha1 = _assemble(state, session)
    if digest != f"sha={b64_sha1(sha1)}":
        blob.unlink()
        return box_error(400, "digest_mismatch", "File digest was incorrect")
    stored = state.add_file(session.file_name, session.folder_id, blob, session.file_size, sha1)
    del state.sessions[session.id]
    shutil.rmtree(session.directory)
    body = {"total_count": 1, "entries": [select_fields(state.file_full(stored), request, FILE_MINI)]}
    return web.json_response(body, status=201)
