"""Packages packed before they lived in the blob store, moved into it (``handover packages adopt-store``).

Until migration 0018 a package's ZIP lay in the packing host's store folder,
``DATA_DIR/store/<intake>/claim-<n>/<public id>.zip``, and the row held that absolute path; the migration gave
every row its key (``packages/<public id>.zip``) instead, but cannot reach the files (it knows the database, not
where the blobs are kept). This moves them, on the host whose data directory holds them: each ZIP named after a
package not yet erased is read through SHA-256, stored under the package's key when its bytes are the recorded
ones, and removed from the old folder; a blob already there and as recorded is kept as it is. A file whose bytes
differ from the record, or that names no package, stays where it is and is reported for the operator.
Running it again is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exchange.blobs.store import CHUNK_BYTES, BlobCorrupt, BlobMissing, BlobStore
from ledger.models.packages import Package, PackageStatus


@dataclass
class Adoption:
    """What one run did: the packages now in the blob store, and the files it left for the operator."""

    adopted: list[str] = field(default_factory=list)
    mismatched: list[Path] = field(default_factory=list)
    unknown: list[Path] = field(default_factory=list)


async def adopt_store(sessions: async_sessionmaker[AsyncSession], blobs: BlobStore, store_dir: Path) -> Adoption:
    """Move every package ZIP under ``store_dir`` (the old store folder) into ``blobs``."""
    done = Adoption()
    for path in await asyncio.to_thread(lambda: sorted(store_dir.glob("*/claim-*/*.zip"))):
        async with sessions() as session:
            package = await session.scalar(select(Package).where(Package.public_id == path.stem))
        if package is None or package.status == PackageStatus.DELETED:
            done.unknown.append(path)
            continue
        if not await _stored(blobs, package):
            if await asyncio.to_thread(_sha256, path) != package.sha256:
                done.mismatched.append(path)
                continue
            kept = await blobs.put_file(package.blob_key, path)
            if kept.sha256 != package.sha256:  # the file changed while it was read: leave it for another run
                await blobs.delete(package.blob_key)
                done.mismatched.append(path)
                continue
        await asyncio.to_thread(_remove, path, store_dir)
        done.adopted.append(package.public_id)
    return done


async def _stored(blobs: BlobStore, package: Package) -> bool:
    """True when the package's blob is already there with the recorded bytes."""
    try:
        await blobs.verify(package.blob_key, package.sha256)
    except (BlobMissing, BlobCorrupt):
        return False
    return True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _remove(path: Path, store_dir: Path) -> None:
    """Remove the adopted file, then its claim and intake folders once they are empty."""
    path.unlink(missing_ok=True)
    for folder in (path.parent, path.parent.parent):
        if folder != store_dir:
            with contextlib.suppress(OSError):
                folder.rmdir()
