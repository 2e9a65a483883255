"""The contract every connector honours, run against each implementation with a real endpoint."""

from __future__ import annotations

import pytest

from connectors.base import Connector, ConnectorError, Grantee, VerificationError
from tests.factories import PackageFile

FOLDER = "委託先A_生活保護追加給付"
NAME = "生活保護追加給付_20261125.zip"
HANDLERS = [Grantee("p-1", "handler1@contractor-a.example.jp"), Grantee("p-2", "handler2@contractor-a.example.jp")]


@pytest.fixture(params=["local", "sftp", "media", "box", "s3"])
def connector(request: pytest.FixtureRequest) -> Connector:
    fixture: Connector = request.getfixturevalue(f"{request.param}_connector")
    return fixture


@pytest.fixture(params=["local", "sftp", "media", "s3"])
def own_connector(request: pytest.FixtureRequest) -> Connector:
    """Connectors that also refuse a different file under an existing name (Box may version instead)."""
    fixture: Connector = request.getfixturevalue(f"{request.param}_connector")
    return fixture


async def test_put_then_verify(connector: Connector, package: PackageFile) -> None:
    stored = await connector.put(FOLDER, NAME, package.path, {"program": "生活保護追加給付"})
    assert (stored.connector, stored.folder, stored.name, stored.size) == (connector.name, FOLDER, NAME, package.size)
    await connector.verify(stored, size=package.size, sha256=package.sha256)
    assert await connector.exists(stored)


async def test_verify_with_wrong_hash_fails(connector: Connector, package: PackageFile) -> None:
    stored = await connector.put(FOLDER, NAME, package.path, {})
    with pytest.raises(VerificationError):
        await connector.verify(stored, size=package.size, sha256="0" * 64)


async def test_verify_with_wrong_size_fails(connector: Connector, package: PackageFile) -> None:
    stored = await connector.put(FOLDER, NAME, package.path, {})
    with pytest.raises(VerificationError):
        await connector.verify(stored, size=package.size + 1, sha256=package.sha256)


async def test_put_twice_with_same_content_is_idempotent(connector: Connector, package: PackageFile) -> None:
    first = await connector.put(FOLDER, NAME, package.path, {})
    second = await connector.put(FOLDER, NAME, package.path, {})
    assert second.location == first.location
    await connector.delete(first)
    assert not await connector.exists(second)


async def test_put_different_content_under_same_name_refused(
    own_connector: Connector, package: PackageFile, other_package: PackageFile
) -> None:
    stored = await own_connector.put(FOLDER, NAME, package.path, {})
    with pytest.raises(ConnectorError) as caught:
        await own_connector.put(FOLDER, NAME, other_package.path, {})
    assert not caught.value.retryable
    await own_connector.verify(stored, size=package.size, sha256=package.sha256)


async def test_grant_and_revoke_are_idempotent(connector: Connector, package: PackageFile) -> None:
    await connector.put(FOLDER, NAME, package.path, {})
    await connector.grant(FOLDER, HANDLERS, "viewer")
    await connector.grant(FOLDER, HANDLERS, "viewer")
    await connector.revoke(FOLDER, HANDLERS)
    await connector.revoke(FOLDER, HANDLERS)


async def test_delete_then_exists_is_false_and_delete_twice_is_fine(connector: Connector, package: PackageFile) -> None:
    stored = await connector.put(FOLDER, NAME, package.path, {})
    await connector.delete(stored)
    assert not await connector.exists(stored)
    await connector.delete(stored)
    assert not await connector.exists(stored)


async def test_verify_after_delete_fails(connector: Connector, package: PackageFile) -> None:
    stored = await connector.put(FOLDER, NAME, package.path, {})
    await connector.delete(stored)
    with pytest.raises(VerificationError):
        await connector.verify(stored, size=package.size, sha256=package.sha256)


async def test_locate_finds_what_put_stored_and_nothing_else(
    connector: Connector, package: PackageFile, other_package: PackageFile
) -> None:
    """After a lost answer the hub asks where the object is; what it finds verifies against the package."""
    assert await connector.locate(FOLDER, NAME, package.path) is None, "no folder yet"
    stored = await connector.put(FOLDER, NAME, package.path, {})
    assert await connector.locate(FOLDER, "other.zip", package.path) is None, "folder there, file not"
    found = await connector.locate(FOLDER, NAME, package.path)
    assert found is not None
    assert (found.connector, found.folder, found.name, found.location) == (
        stored.connector,
        FOLDER,
        NAME,
        stored.location,
    )
    await connector.verify(found, size=package.size, sha256=package.sha256)
    # Looked up against other content, the object found does not verify.
    mismatched = await connector.locate(FOLDER, NAME, other_package.path)
    assert mismatched is not None
    with pytest.raises(VerificationError):
        await connector.verify(mismatched, size=other_package.size, sha256=other_package.sha256)
    await connector.delete(stored)
    assert await connector.locate(FOLDER, NAME) is None


async def test_path_escape_refused(own_connector: Connector, package: PackageFile) -> None:
    for folder, name in (("..", NAME), (FOLDER, "../escape.zip"), (FOLDER, "")):
        with pytest.raises(ConnectorError) as caught:
            await own_connector.put(folder, name, package.path, {})
        assert not caught.value.retryable


async def test_health_ok(connector: Connector) -> None:
    report = await connector.health()
    assert report.reachable and report.authenticated, report.detail


def test_jurisdiction_is_jp(connector: Connector) -> None:
    assert connector.jurisdiction.is_japan
