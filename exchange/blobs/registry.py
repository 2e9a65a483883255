"""The blob store the settings name (``[blobs]``), built once at start."""

from __future__ import annotations

from exchange.blobs.local import LocalBlobStore
from exchange.blobs.store import BlobStore
from exchange.settings import Settings


def build_blob_store(settings: Settings) -> BlobStore:
    """The configured backend; the local one keeps its files under ``blobs.root`` or ``DATA_DIR/blobs``."""
    return LocalBlobStore(settings.blobs.root or settings.data_dir / "blobs")
