"""The Box connector against the Box API emulator: chunked uploads, retries, token expiry, idempotence,
collaborations and purge. The shared contract suite covers the common behaviour of every connector."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import time
from pathlib import Path

import aiohttp
import pytest

from connectors.base import ConnectorError, Grantee, StoredObject, VerificationError
from connectors.box import MIN_CHUNKED_SIZE, BoxConnector
from tests.boxemu import BoxEmulator, RecordedRequest
from tests.services.box import connector_for

FOLDER = "生活保護追加給付_委託先A"
MB = 1024 * 1024


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def calls(emulator: BoxEmulator, method: str, path_end: str) -> list[RecordedRequest]:
    return [r for r in emulator.requests if r.method == method and r.path.endswith(path_end)]


def files_named(emulator: BoxEmulator, name: str) -> list[str]:
    return [f.id for f in emulator.state.files.values() if f.name == name]


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    return write(tmp_path / "package-60mb.zip", os.urandom(60 * MB))


async def test_small_put_uses_one_upload_verified_by_sha1(
    box_connector: BoxConnector, box_emulator: BoxEmulator, tmp_path: Path
) -> None:
    source = write(tmp_path / "small.zip", b"encrypted bytes" * 1000)
    obj = await box_connector.put(FOLDER, "small.zip", source, {"contract": "A"})

    sha1 = hashlib.sha1(source.read_bytes(), usedforsecurity=False).hexdigest()
    assert obj.extra["sha1"] == sha1
    assert obj.size == source.stat().st_size
    (upload,) = calls(box_emulator, "POST", "/api/2.0/files/content")
    assert upload.headers["Content-MD5"] == sha1
    assert not calls(box_emulator, "POST", "/upload_sessions")
    stored = box_emulator.state.files[obj.location]
    assert stored.blob.read_bytes() == source.read_bytes()
    assert box_emulator.state.folders[stored.parent_id].name == FOLDER
    await box_connector.verify(obj, size=source.stat().st_size, sha256=sha256_of(source))


async def test_60mb_package_takes_the_chunked_path(
    box_connector: BoxConnector, box_emulator: BoxEmulator, big_file: Path
) -> None:
    obj = await box_connector.put(FOLDER, big_file.name, big_file, {})

    (session,) = calls(box_emulator, "POST", "/api/2.0/files/upload_sessions")
    assert session.status == 201 and session.body["file_size"] == 60 * MB
    parts = [r for r in box_emulator.requests if r.method == "PUT" and "/upload_sessions/" in r.path]
    assert len(parts) == 8  # 60 MiB in 8 MiB parts
    assert all(r.headers["Digest"].startswith("sha=") for r in parts)
    assert parts[-1].headers["Content-Range"] == f"bytes {56 * MB}-{60 * MB - 1}/{60 * MB}"
    (commit,) = calls(box_emulator, "POST", "/commit")
    whole = base64.b64encode(hashlib.sha1(big_file.read_bytes(), usedforsecurity=False).digest()).decode()
    assert commit.headers["Digest"] == f"sha={whole}"
    assert not calls(box_emulator, "POST", "/api/2.0/files/content")
    assert box_emulator.state.files[obj.location].blob.read_bytes() == big_file.read_bytes()
    await box_connector.verify(obj, size=60 * MB, sha256=sha256_of(big_file))


async def test_second_put_returns_the_first_upload(
    box_connector: BoxConnector, box_emulator: BoxEmulator, tmp_path: Path
) -> None:
    source = write(tmp_path / "p.zip", b"same content")
    first = await box_connector.put(FOLDER, "p.zip", source, {})
    second = await box_connector.put(FOLDER, "p.zip", source, {})

    assert second == first
    assert len(calls(box_emulator, "POST", "/api/2.0/files/content")) == 1
    assert files_named(box_emulator, "p.zip") == [first.location]


async def test_same_name_with_other_content_is_refused(
    box_connector: BoxConnector, box_emulator: BoxEmulator, tmp_path: Path
) -> None:
    first = await box_connector.put(FOLDER, "p.zip", write(tmp_path / "a", b"first"), {})
    with pytest.raises(ConnectorError) as caught:
        await box_connector.put(FOLDER, "P.ZIP", write(tmp_path / "b", b"second"), {})

    assert not caught.value.retryable
    assert "同名" in caught.value.reason_ja
    assert box_emulator.state.files[first.location].blob.read_bytes() == b"first"


@pytest.mark.parametrize(("status", "retry_after"), [(500, None), (503, None), (429, "0")])
async def test_error_storms_are_retried(
    box_connector: BoxConnector, box_emulator: BoxEmulator, tmp_path: Path, status: int, retry_after: str | None
) -> None:
    box_emulator.fail_next(3, status, retry_after=retry_after)
    source = write(tmp_path / "p.zip", b"payload")
    obj = await box_connector.put(FOLDER, "p.zip", source, {})

    assert [r.status for r in box_emulator.requests[:3]] == [status] * 3
    assert box_emulator.state.files[obj.location].sha1 == obj.extra["sha1"]


async def test_retry_after_is_honoured(box_connector: BoxConnector, box_emulator: BoxEmulator, tmp_path: Path) -> None:
    await box_connector.health()
    box_emulator.fail_next(1, 429, retry_after="1", path="/api/2.0/files/content")
    started = time.monotonic()
    await box_connector.put(FOLDER, "p.zip", write(tmp_path / "p.zip", b"x"), {})

    assert time.monotonic() - started >= 1.0
    assert [r.status for r in calls(box_emulator, "POST", "/api/2.0/files/content")] == [429, 201]


async def test_endless_storm_becomes_a_retryable_error(box_emulator: BoxEmulator, tmp_path: Path) -> None:
    connector = connector_for(box_emulator, max_attempts=3)
    box_emulator.fail_next(100, 503, path="/2.0/folders")
    try:
        with pytest.raises(ConnectorError) as caught:
            await connector.put(FOLDER, "p.zip", write(tmp_path / "p.zip", b"x"), {})
    finally:
        await connector.close()

    assert caught.value.retryable
    assert "Box側で一時的な障害" in caught.value.reason_ja
    assert len(calls(box_emulator, "POST", "/2.0/folders")) == 3


async def test_token_expiry_mid_upload_recovers(
    box_connector: BoxConnector, box_emulator: BoxEmulator, big_file: Path
) -> None:
    # folder, preflight, session and two parts pass; the third part meets an expired token.
    box_emulator.expire_tokens(after_requests=5)
    obj = await box_connector.put(FOLDER, big_file.name, big_file, {})

    rejected = [r for r in box_emulator.requests if r.status == 401]
    assert len(rejected) == 1 and rejected[0].method == "PUT" and "/upload_sessions/" in rejected[0].path
    assert box_emulator.state.tokens_issued == 2
    await box_connector.verify(obj, size=60 * MB, sha256=sha256_of(big_file))


async def test_commit_answered_202_is_polled(
    box_connector: BoxConnector, box_emulator: BoxEmulator, big_file: Path
) -> None:
    box_emulator.require_commit_polling(2, retry_after="1")
    obj = await box_connector.put(FOLDER, big_file.name, big_file, {})

    assert [r.status for r in calls(box_emulator, "POST", "/commit")] == [202, 202, 201]
    assert files_named(box_emulator, big_file.name) == [obj.location]


async def test_commit_still_pending_after_all_polls_is_retryable(box_emulator: BoxEmulator, tmp_path: Path) -> None:
    connector = connector_for(box_emulator, max_attempts=3, chunked_threshold=MIN_CHUNKED_SIZE)
    source = write(tmp_path / "p.zip", os.urandom(21 * MB))
    box_emulator.require_commit_polling(3, retry_after="0")
    try:
        with pytest.raises(ConnectorError) as caught:
            await connector.put(FOLDER, "p.zip", source, {})
        assert caught.value.retryable and "確定処理" in caught.value.reason_ja
        assert not files_named(box_emulator, "p.zip")
        obj = await connector.put(FOLDER, "p.zip", source, {})
    finally:
        await connector.close()

    assert [r.status for r in calls(box_emulator, "POST", "/commit")] == [202, 202, 202, 201]
    assert files_named(box_emulator, "p.zip") == [obj.location]


async def test_existing_folder_is_reused_through_the_409_conflict(
    box_connector: BoxConnector, box_emulator: BoxEmulator, tmp_path: Path
) -> None:
    first = await box_connector.put(FOLDER, "a.zip", write(tmp_path / "a", b"a"), {})
    second = await box_connector.put(FOLDER.upper(), "b.zip", write(tmp_path / "b", b"b"), {})

    folder_posts = calls(box_emulator, "POST", "/2.0/folders")
    assert [r.status for r in folder_posts] == [201, 409]
    parents = {box_emulator.state.files[o.location].parent_id for o in (first, second)}
    assert len(parents) == 1
    assert sum(1 for f in box_emulator.state.folders.values() if f.parent_id == "0") == 1


@pytest.mark.parametrize("path", ["/2.0/folders", "/api/2.0/files/content"])
async def test_post_retried_after_the_server_created_the_item_does_not_duplicate(
    box_connector: BoxConnector, box_emulator: BoxEmulator, tmp_path: Path, path: str
) -> None:
    box_emulator.fail_after_handling(1, 500, method="POST", path=path)
    source = write(tmp_path / "p.zip", b"payload")
    obj = await box_connector.put(FOLDER, "p.zip", source, {})

    assert [r.status for r in calls(box_emulator, "POST", path)] == [500, 409]
    assert files_named(box_emulator, "p.zip") == [obj.location]
    assert sum(1 for f in box_emulator.state.folders.values() if f.name == FOLDER) == 1
    await box_connector.verify(obj, size=len(b"payload"), sha256=sha256_of(source))


async def test_commit_retried_after_the_file_was_created_does_not_duplicate(
    box_connector: BoxConnector, box_emulator: BoxEmulator, big_file: Path
) -> None:
    box_emulator.fail_after_handling(1, 500, path="/commit")
    obj = await box_connector.put(FOLDER, big_file.name, big_file, {})

    assert [r.status for r in calls(box_emulator, "POST", "/commit")] == [500, 404]
    assert files_named(box_emulator, big_file.name) == [obj.location]
    assert len(calls(box_emulator, "POST", "/api/2.0/files/upload_sessions")) == 1


async def test_delete_purges_the_trash_and_is_confirmed_by_404(
    box_connector: BoxConnector, box_emulator: BoxEmulator, tmp_path: Path
) -> None:
    obj = await box_connector.put(FOLDER, "p.zip", write(tmp_path / "p.zip", b"payload"), {})
    blob = box_emulator.state.files[obj.location].blob
    await box_connector.delete(obj)

    assert [r.status for r in calls(box_emulator, "DELETE", f"/2.0/files/{obj.location}")] == [204]
    assert [r.status for r in calls(box_emulator, "DELETE", f"/2.0/files/{obj.location}/trash")] == [204]
    assert calls(box_emulator, "GET", f"/2.0/files/{obj.location}")[-1].status == 404
    assert not blob.exists()
    assert not await box_connector.exists(obj)
    await box_connector.delete(obj)


async def test_a_file_left_in_the_trash_still_exists_and_delete_purges_it(
    box_connector: BoxConnector, box_emulator: BoxEmulator, tmp_path: Path
) -> None:
    obj = await box_connector.put(FOLDER, "p.zip", write(tmp_path / "p.zip", b"payload"), {})
    box_emulator.fail_next(5, 500, method="DELETE", path="/trash")
    with pytest.raises(ConnectorError) as caught:
        await box_connector.delete(obj)

    assert caught.value.retryable
    assert box_emulator.state.files[obj.location].item_status == "trashed"
    assert await box_connector.exists(obj)
    with pytest.raises(VerificationError):
        await box_connector.verify(obj, size=7, sha256=obj.sha256 or "")
    await box_connector.delete(obj)
    assert not await box_connector.exists(obj)


async def test_verify_detects_changed_content(
    box_connector: BoxConnector, box_emulator: BoxEmulator, tmp_path: Path
) -> None:
    source = write(tmp_path / "p.zip", b"payload")
    obj = await box_connector.put(FOLDER, "p.zip", source, {})
    stored = box_emulator.state.files[obj.location]
    stored.sha1 = hashlib.sha1(b"tampered", usedforsecurity=False).hexdigest()

    with pytest.raises(VerificationError, match="SHA-1"):
        await box_connector.verify(obj, size=7, sha256=sha256_of(source))
    with pytest.raises(VerificationError, match="大きさ"):
        await box_connector.verify(obj, size=8, sha256=sha256_of(source))
    with pytest.raises(VerificationError, match="SHA-256"):
        await box_connector.verify(obj, size=7, sha256="0" * 64)


async def test_grant_and_revoke_collaborations_by_login(box_connector: BoxConnector, box_emulator: BoxEmulator) -> None:
    box_emulator.add_user("manager@contractor-a.example.jp")
    people = [
        Grantee("p1", "manager@contractor-a.example.jp"),
        Grantee("p2", "Handler@Contractor-A.example.jp"),  # not yet a Box user: a pending invitation
    ]
    await box_connector.grant(FOLDER, people, "viewer")
    await box_connector.grant(FOLDER, people, "viewer")

    collabs = list(box_emulator.state.collaborations.values())
    assert sorted((c.login, c.role) for c in collabs) == sorted((p.login, "viewer") for p in people)
    assert len(calls(box_emulator, "POST", "/2.0/collaborations")) == 2
    statuses = {c["status"] for c in (box_emulator.state.collaboration_json(c) for c in collabs)}
    assert statuses == {"accepted", "pending"}
    posted = [r.body for r in calls(box_emulator, "POST", "/2.0/collaborations")]
    assert all(b["accessible_by"]["type"] == "user" and b["item"]["type"] == "folder" for b in posted)

    await box_connector.grant(FOLDER, people[:1], "editor")
    roles = {c.login: c.role for c in box_emulator.state.collaborations.values()}
    assert roles == {people[0].login: "editor", people[1].login: "viewer"}

    await box_connector.revoke(FOLDER, [Grantee("p2", "handler@contractor-a.example.jp")])
    assert [c.login for c in box_emulator.state.collaborations.values()] == [people[0].login]
    await box_connector.revoke(FOLDER, people)
    await box_connector.revoke(FOLDER, people)
    assert not box_emulator.state.collaborations


async def test_grant_retried_after_the_collaboration_was_created(
    box_connector: BoxConnector, box_emulator: BoxEmulator
) -> None:
    box_emulator.fail_after_handling(1, 500, method="POST", path="/2.0/collaborations")
    await box_connector.grant(FOLDER, [Grantee("p1", "a@example.jp")], "viewer")

    assert [r.status for r in calls(box_emulator, "POST", "/2.0/collaborations")] == [500, 400]
    assert len(box_emulator.state.collaborations) == 1


async def test_no_shared_link_is_ever_requested(
    box_connector: BoxConnector, box_emulator: BoxEmulator, tmp_path: Path, big_file: Path
) -> None:
    small = await box_connector.put(FOLDER, "p.zip", write(tmp_path / "p.zip", b"x"), {})
    large = await box_connector.put(FOLDER, big_file.name, big_file, {})
    await box_connector.grant(FOLDER, [Grantee("p1", "a@example.jp")], "editor")
    await box_connector.revoke(FOLDER, [Grantee("p1", "a@example.jp")])
    for obj in (small, large):
        await box_connector.verify(obj, size=obj.size, sha256=obj.sha256 or "")
        await box_connector.delete(obj)

    assert box_emulator.requests
    for request in box_emulator.requests:
        assert "shared_link" not in f"{request.query} {request.body}"
        assert not (request.method == "PUT" and request.path.startswith(("/2.0/files/", "/2.0/folders/")))


async def test_health_reports_reachability_and_authentication(box_emulator: BoxEmulator) -> None:
    good = connector_for(box_emulator)
    wrong = connector_for(box_emulator, client_secret="not-the-secret")
    try:
        report = await good.health()
        assert report.reachable and report.authenticated
        refused = await wrong.health()
        assert refused.reachable and not refused.authenticated
        assert "認証に失敗" in refused.detail and "not-the-secret" not in refused.detail
        with pytest.raises(ConnectorError) as caught:
            await wrong.grant(FOLDER, [Grantee("p1", "a@example.jp")], "viewer")
        assert not caught.value.retryable
        assert "not-the-secret" not in f"{caught.value} {wrong!r}"
    finally:
        await good.close()
        await wrong.close()


async def test_unreachable_box_is_reported_and_retryable(tmp_path: Path) -> None:
    emulator = BoxEmulator(tmp_path / "gone")
    emulator.stop()  # the port was reserved and is now closed: nothing listens there
    connector = connector_for(emulator, max_attempts=2)
    try:
        report = await connector.health()
        assert not report.reachable and not report.authenticated
        with pytest.raises(ConnectorError) as caught:
            await connector.exists(StoredObject("box-test", FOLDER, "p.zip", "1", 1))
        assert caught.value.retryable
    finally:
        await connector.close()


def test_chunked_threshold_below_box_minimum_is_rejected(box_emulator: BoxEmulator) -> None:
    with pytest.raises(ValueError, match="chunked_threshold"):
        connector_for(box_emulator, chunked_threshold=10 * MB)


async def test_emulator_enforces_upload_session_rules(box_connector: BoxConnector, box_emulator: BoxEmulator) -> None:
    await box_connector.grant(FOLDER, [], "viewer")  # creates the folder and fetches a token
    token = next(iter(box_emulator.state.tokens))
    folder_id = next(f.id for f in box_emulator.state.folders.values() if f.name == FOLDER)
    headers = {"Authorization": f"Bearer {token}"}
    sessions = f"{box_emulator.url}/api/2.0/files/upload_sessions"
    async with aiohttp.ClientSession(headers=headers) as http:
        small = {"folder_id": folder_id, "file_size": 19_999_999, "file_name": "x.zip"}
        async with http.post(sessions, json=small) as response:
            assert response.status == 400
            assert (await response.json())["code"] == "file_size_too_small"
        session_body = {**small, "file_size": 20 * MB}
        async with http.post(sessions, json=session_body) as response:
            assert response.status == 201
            session = await response.json()
        assert session["session_endpoints"]["upload_part"].startswith(box_emulator.url)
        part = b"a" * session["part_size"]
        good_digest = "sha=" + base64.b64encode(hashlib.sha1(part, usedforsecurity=False).digest()).decode()
        url = session["session_endpoints"]["upload_part"]
        misaligned = {"Digest": good_digest, "Content-Range": f"bytes 1-{len(part)}/{20 * MB}"}
        async with http.put(url, data=io.BytesIO(part), headers=misaligned) as response:
            assert response.status == 416
        wrong_digest = {"Digest": "sha=AAAA", "Content-Range": f"bytes 0-{len(part) - 1}/{20 * MB}"}
        async with http.put(url, data=io.BytesIO(part), headers=wrong_digest) as response:
            assert response.status == 412
            error = await response.json()
        assert error["type"] == "error" and error["status"] == 412 and error["request_id"]
        form = aiohttp.FormData()
        form.add_field("file", b"content", filename="x.zip")
        form.add_field("attributes", '{"name": "x.zip", "parent": {"id": "0"}}')
        async with http.post(f"{box_emulator.url}/api/2.0/files/content", data=form) as response:
            assert response.status == 400
            assert (await response.json())["code"] == "metadata_after_file_contents"
