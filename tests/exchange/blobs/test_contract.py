"""The promises of ``exchange/blobs/store.py``, kept by every backend: a local folder, S3 (moto in server mode) on a
plain bucket and on a versioned one. Each backend also says how to look behind the store's back (``Backend``)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.s3_objects import MIN_PART_SIZE
from exchange.blobs.local import LocalBlobStore
from exchange.blobs.s3 import S3BlobStore
from exchange.blobs.store import CHUNK_BYTES, BlobCorrupt, BlobMissing, BlobStore
from ledger.files import TEMP_SUFFIX
from tests.services.moto_s3 import MotoS3

ROOT = Path(__file__).resolve().parents[3]
MiB = 1024 * 1024
PREFIX = "hub-a"


@dataclass
class Backend:
    """A store and how a test reaches behind it: overwrite a blob's bytes, count what an unfinished put left
    (temp files or multipart uploads), leave such a thing behind, count the versions a key still has."""

    store: BlobStore
    overwrite: Callable[[str, bytes], Awaitable[None]]
    leftovers: Callable[[], Awaitable[int]]
    abandon_put: Callable[[str], Awaitable[None]]
    versions: Callable[[str], Awaitable[int]]
    memory_args: list[str]


def local_backend(root: Path) -> Backend:
    store = LocalBlobStore(root)

    async def overwrite(key: str, data: bytes) -> None:
        await asyncio.to_thread(store.path_of(key).write_bytes, data)

    async def leftovers() -> int:
        return len([p for p in await asyncio.to_thread(lambda: list(root.rglob(f".*{TEMP_SUFFIX}")))])

    async def abandon_put(key: str) -> None:
        await asyncio.to_thread((root / f".{key.replace('/', '_')}.0123456789abcdef{TEMP_SUFFIX}").write_bytes, b"x")

    async def versions(key: str) -> int:
        return int(await asyncio.to_thread(store.path_of(key).exists))

    return Backend(store, overwrite, leftovers, abandon_put, versions, ["local", str(root / "memory")])


def s3_backend(moto: MotoS3, bucket: str) -> Backend:
    store = S3BlobStore(moto.endpoint(bucket), prefix=PREFIX, part_size=MIN_PART_SIZE)
    client = moto.client()

    async def overwrite(key: str, data: bytes) -> None:
        # Keeps the stored hash: only reading the bytes can tell.
        head = await asyncio.to_thread(client.head_object, Bucket=bucket, Key=f"{PREFIX}/{key}")
        await asyncio.to_thread(
            client.put_object, Bucket=bucket, Key=f"{PREFIX}/{key}", Body=data, Metadata=head["Metadata"]
        )

    async def leftovers() -> int:
        answer = await asyncio.to_thread(client.list_multipart_uploads, Bucket=bucket)
        return len(answer.get("Uploads", []))

    async def abandon_put(key: str) -> None:
        await asyncio.to_thread(client.create_multipart_upload, Bucket=bucket, Key=f"{PREFIX}/{key}")

    async def versions(key: str) -> int:
        answer = await asyncio.to_thread(client.list_object_versions, Bucket=bucket, Prefix=f"{PREFIX}/{key}")
        return len(answer.get("Versions", [])) + len(answer.get("DeleteMarkers", []))

    return Backend(store, overwrite, leftovers, abandon_put, versions, ["s3", moto.endpoint_url, bucket])


@pytest.fixture(params=["local", "s3", "s3_versioned"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "local":
        made = await asyncio.to_thread(local_backend, tmp_path / "blobs")  # makes the folder
    else:
        moto: MotoS3 = request.getfixturevalue("moto_s3")
        bucket: str = request.getfixturevalue("s3_versioned_bucket" if request.param == "s3_versioned" else "s3_bucket")
        made = s3_backend(moto, bucket)
    yield made
    await made.store.close()


async def chunks_of(data: bytes, size: int = MiB) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def read_all(store: BlobStore, key: str, start: int = 0) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, start=start)])


SMALL = "区民 太郎,新宿区\n".encode() * 100
LARGE = os.urandom(12 * MiB + 12345)  # three parts of 5 MiB, the last one short


async def test_put_and_read_back_small_and_multipart(backend: Backend) -> None:
    store = backend.store
    small = await store.put("packages/p-1.zip", chunks_of(SMALL))
    assert (small.key, small.size, small.sha256) == ("packages/p-1.zip", len(SMALL), sha(SMALL))
    large = await store.put("packages/p-2.zip", chunks_of(LARGE))
    assert (large.size, large.sha256) == (len(LARGE), sha(LARGE))
    assert await read_all(store, "packages/p-1.zip") == SMALL
    assert await read_all(store, "packages/p-2.zip") == LARGE
    # Large chunks (a download writes, a copy hands a thread, one at a time), not the socket's slivers.
    sizes = [len(chunk) async for chunk in store.read("packages/p-2.zip")]
    assert all(CHUNK_BYTES <= size < 2 * CHUNK_BYTES for size in sizes[:-1]) and 0 < sizes[-1] < 2 * CHUNK_BYTES
    assert await store.size("packages/p-2.zip") == len(LARGE)
    assert await store.verify("packages/p-2.zip", sha(LARGE)) == len(LARGE)
    assert await backend.leftovers() == 0
    assert await backend.versions("packages/p-2.zip") == 1, "the hash is attached without leaving a second version"


async def test_put_file_and_empty_blob(backend: Backend, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    await asyncio.to_thread(source.write_bytes, LARGE[: 6 * MiB])
    info = await backend.store.put_file("media/disc-1.iso", source)
    assert (info.size, info.sha256) == (6 * MiB, sha(LARGE[: 6 * MiB]))
    empty = await backend.store.put("reports/empty.csv", chunks_of(b""))
    assert (empty.size, empty.sha256) == (0, sha(b""))
    assert await read_all(backend.store, "reports/empty.csv") == b""


async def test_put_replaces_what_was_there(backend: Backend) -> None:
    await backend.store.put("uploads/u-1", chunks_of(b"first"))
    await backend.store.put("uploads/u-1", chunks_of(b"second"))
    assert await read_all(backend.store, "uploads/u-1") == b"second"
    assert await backend.store.verify("uploads/u-1", sha(b"second")) == 6


async def test_read_from_an_offset(backend: Backend) -> None:
    await backend.store.put("packages/p-3.zip", chunks_of(LARGE))
    offset = 7 * MiB + 3
    assert await read_all(backend.store, "packages/p-3.zip", offset) == LARGE[offset:]
    assert await read_all(backend.store, "packages/p-3.zip", len(LARGE)) == b""


async def test_a_missing_blob(backend: Backend, tmp_path: Path) -> None:
    assert await backend.store.size("packages/none.zip") is None
    with pytest.raises(BlobMissing):
        await read_all(backend.store, "packages/none.zip")
    with pytest.raises(BlobMissing):
        await backend.store.verify("packages/none.zip", sha(b""))
    with pytest.raises(BlobMissing):
        await backend.store.fetch_to("packages/none.zip", tmp_path / "out.zip", sha(b""))
    assert not await asyncio.to_thread((tmp_path / "out.zip").exists)


async def test_verify_refuses_changed_bytes(backend: Backend) -> None:
    await backend.store.put("certificates/c-1.pdf", chunks_of(SMALL))
    assert await backend.store.verify("certificates/c-1.pdf", sha(SMALL)) == len(SMALL)
    await backend.overwrite("certificates/c-1.pdf", SMALL.replace(b"\n", b"!"))
    with pytest.raises(BlobCorrupt):
        await backend.store.verify("certificates/c-1.pdf", sha(SMALL))


async def test_fetch_to_checks_the_hash_and_leaves_no_file_on_mismatch(backend: Backend, tmp_path: Path) -> None:
    await backend.store.put("media/disc-2.iso", chunks_of(LARGE))
    out = tmp_path / "out"
    await asyncio.to_thread(out.mkdir)
    good = out / "good.iso"
    await backend.store.fetch_to("media/disc-2.iso", good, sha(LARGE))
    assert await asyncio.to_thread(good.read_bytes) == LARGE
    with pytest.raises(BlobCorrupt):
        await backend.store.fetch_to("media/disc-2.iso", out / "bad.iso", sha(b"something else"))
    await backend.overwrite("media/disc-2.iso", LARGE[::-1])
    with pytest.raises(BlobCorrupt):
        await backend.store.fetch_to("media/disc-2.iso", out / "bad.iso", sha(LARGE))
    assert await asyncio.to_thread(lambda: sorted(p.name for p in out.iterdir())) == ["good.iso"]


async def test_delete_is_verified_and_removes_every_version(backend: Backend) -> None:
    await backend.store.put("packages/p-4.zip", chunks_of(b"one"))
    await backend.store.put("packages/p-4.zip", chunks_of(b"two"))  # a second version on a versioned bucket
    await backend.store.delete("packages/p-4.zip")
    assert await backend.store.size("packages/p-4.zip") is None
    assert await backend.versions("packages/p-4.zip") == 0
    await backend.store.delete("packages/p-4.zip")  # deleting a missing key is not an error
    with pytest.raises(BlobMissing):
        await read_all(backend.store, "packages/p-4.zip")


async def test_keys_by_prefix(backend: Backend) -> None:
    for key in ("packages/a.zip", "packages/b.zip", "uploads/u-9", "packages-old/c.zip"):
        await backend.store.put(key, chunks_of(key.encode()))
    assert sorted([key async for key in backend.store.keys("packages/")]) == ["packages/a.zip", "packages/b.zip"]
    assert len([key async for key in backend.store.keys()]) == 4


async def test_a_failed_put_leaves_nothing_visible(backend: Backend) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield LARGE[: 6 * MiB]  # more than a part: a multipart upload has started
        yield LARGE[6 * MiB : 11 * MiB]
        raise OSError("the source went away")

    with pytest.raises(OSError, match="went away"):
        await backend.store.put("uploads/u-2", failing())
    assert await backend.store.size("uploads/u-2") is None
    assert [key async for key in backend.store.keys()] == []
    assert await backend.leftovers() == 0


async def test_a_cancelled_put_leaves_nothing_visible(backend: Backend) -> None:
    started = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield LARGE[: 6 * MiB]
        started.set()
        await asyncio.Event().wait()  # never more
        yield b""

    task = asyncio.create_task(backend.store.put("uploads/u-3", slow()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await backend.store.size("uploads/u-3") is None
    assert await backend.leftovers() == 0


async def test_clean_incomplete_removes_only_old_leftovers(backend: Backend) -> None:
    await backend.abandon_put("uploads/u-4")
    assert await backend.leftovers() == 1
    if backend.store.kind == "local":
        # moto answers every upload's ``Initiated`` as 2010-11-10, so on S3 only the removal can be shown here.
        assert await backend.store.clean_incomplete(3600) == 0, "a young leftover may be a put still running"
    await asyncio.sleep(1.2)
    assert await backend.store.clean_incomplete(0.5) == 1
    assert await backend.leftovers() == 0
    assert await backend.store.size("uploads/u-4") is None


async def test_invalid_keys_are_refused(backend: Backend, tmp_path: Path) -> None:
    for key in ("", "/abs", "../up", "a/../b", "a//b", ".hidden", "a b", "ä"):
        with pytest.raises(ValueError, match="not a blob key"):
            await backend.store.put(key, chunks_of(b"x"))
        with pytest.raises(ValueError, match="not a blob key"):
            await backend.store.size(key)
    assert [key async for key in backend.store.keys()] == []


async def test_memory_stays_flat_while_putting_and_reading_64_mib(backend: Backend) -> None:
    completed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tests.exchange.blobs.memory_child", *backend.memory_args, "64"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    peaks = json.loads(completed.stdout.strip().splitlines()[-1])
    assert peaks["size"] == 64 * MiB
    limit = 4 * MIN_PART_SIZE  # a few part sizes, whatever the object's size
    assert peaks["put_peak"] < limit, peaks
    assert peaks["read_peak"] < limit, peaks
