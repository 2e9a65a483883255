"""The ``blobs.clean`` duty: run by the duty runner (and by ``handover duties run``), it removes what puts killed
mid-way left in the blob store."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.s3_objects import MIN_PART_SIZE
from exchange.blobs.local import LocalBlobStore
from exchange.blobs.s3 import S3BlobStore
from exchange.blobs.store import BlobStore
from exchange.cli import duties, setup
from exchange.duties.scheduler import DUTIES_BY_NAME, DutyRunner
from ledger.files import TEMP_SUFFIX
from tests.clock import Clock, jst
from tests.exchange.helpers import duty_context
from tests.services.moto_s3 import MotoS3


def _old_temp_files(root: Path) -> None:
    """What a hub killed in the middle of two puts leaves: temp files, one two days old and one just written."""
    root.mkdir(parents=True, exist_ok=True)
    old = root / f".p-1.zip.0123456789abcdef{TEMP_SUFFIX}"
    old.write_bytes(b"half")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    (root / f".p-2.zip.fedcba9876543210{TEMP_SUFFIX}").write_bytes(b"running")


async def test_the_duty_removes_old_leftovers_of_a_local_store(db_engine: AsyncEngine, tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    await asyncio.to_thread(_old_temp_files, root / "packages")
    store: BlobStore = await asyncio.to_thread(LocalBlobStore, root)
    await _run_and_expect(db_engine, tmp_path, store, removed=1)
    left = await asyncio.to_thread(lambda: sorted(p.name for p in (root / "packages").iterdir()))
    assert left == [f".p-2.zip.fedcba9876543210{TEMP_SUFFIX}"], "a young temp file may be a put still running"


async def test_the_duty_aborts_abandoned_multipart_uploads_on_s3(
    db_engine: AsyncEngine, tmp_path: Path, moto_s3: MotoS3, s3_bucket: str
) -> None:
    client = moto_s3.client()
    # moto dates every upload 2010-11-10, so all three are old here; the age limit is shown on the local store.
    for key in ("hub-a/packages/p-1.zip", "hub-a/uploads/u-1", "other-hub/packages/p-9.zip"):
        await asyncio.to_thread(client.create_multipart_upload, Bucket=s3_bucket, Key=key)
    store = S3BlobStore(moto_s3.endpoint(s3_bucket), prefix="hub-a", part_size=MIN_PART_SIZE)
    try:
        await _run_and_expect(db_engine, tmp_path, store, removed=2)
    finally:
        await store.close()
    uploads = (await asyncio.to_thread(client.list_multipart_uploads, Bucket=s3_bucket)).get("Uploads", [])
    assert [upload["Key"] for upload in uploads] == ["other-hub/packages/p-9.zip"], "only the store's own prefix"


async def _run_and_expect(engine: AsyncEngine, tmp_path: Path, store: BlobStore, *, removed: int) -> None:
    clock = Clock(jst(2026, 9, 1, 3))
    ctx = dataclasses.replace(await duty_context(engine, tmp_path, clock), blobs=store)
    runner = DutyRunner(ctx, (DUTIES_BY_NAME["blobs.clean"],))
    run = await runner.run_if_due("blobs.clean")
    assert run is not None and run.ok, run and run.result
    assert run.result == {"removed": removed}
    assert await runner.run_if_due("blobs.clean") is None, "daily: not due again the same day"


def test_blobs_clean_is_a_daily_duty() -> None:
    duty = DUTIES_BY_NAME["blobs.clean"]
    assert duty.every.days == 1


def test_staff_run_it_from_the_command_line_on_the_configured_s3_store(
    tmp_path: Path, db_url: str, moto_s3: MotoS3, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``handover duties run blobs.clean`` with ``[blobs]`` set by environment (secrets by reference)."""
    for name, value in {
        "HANDOVER_DATA_DIR": str(tmp_path / "var"),
        "HANDOVER_DATABASE__URL": db_url,
        "HANDOVER_BLOBS__KIND": "s3",
        "HANDOVER_BLOBS__BUCKET": s3_bucket,
        "HANDOVER_BLOBS__PREFIX": "hub-a",
        "HANDOVER_BLOBS__REGION": moto_s3.region,
        "HANDOVER_BLOBS__ENDPOINT_URL": moto_s3.endpoint_url,
        "HANDOVER_BLOBS__ACCESS_KEY_ID__ENV": "TEST_S3_KEY_ID",
        "HANDOVER_BLOBS__SECRET_ACCESS_KEY__ENV": "TEST_S3_SECRET",
        "TEST_S3_KEY_ID": moto_s3.access_key_id,
        "TEST_S3_SECRET": moto_s3.secret_access_key,
    }.items():
        monkeypatch.setenv(name, value)
    moto_s3.client().create_multipart_upload(Bucket=s3_bucket, Key="hub-a/packages/p-1.zip")

    @click.group()
    @click.pass_context
    def main(ctx: click.Context) -> None:
        ctx.obj = setup.CliState(None)

    duties.register(main)
    result = CliRunner().invoke(main, ["duties", "run", "blobs.clean"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "blobs.clean: {'removed': 1}"
    assert moto_s3.client().list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
