"""``handover keys …`` as an operator runs it (issue 15), on both databases: a new master key, the old one kept for
unsealing, ``keys rotate`` moving every sealed secret to the new key (resumable after a crash or a SIGKILL), ``keys
status``, keys given by environment variables (never printed or logged), and clear errors for bad keys at start."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.admin.asp_credentials import password_aad as credential_aad
from exchange.cli import main
from exchange.identity import totp
from exchange.inbound.return_folders import password_aad as return_aad
from exchange.keys import rotation, sealing
from ledger.db import create_engine, session_factory
from ledger.models.credentials import ProviderCredential
from ledger.models.identity import LoginChallenge, TotpFactor
from ledger.models.packages import Package
from ledger.models.parties import Account
from ledger.models.return_folders import ReturnDelivery
from tests.factories import SealedValue, add_sealed_secrets

ROOT = Path(__file__).parents[2]
COPIES = 3  # of each of the five kinds: 15 sealed secrets
MASTER_ENV = "HANDOVER_MASTER_KEY"


def handover(hub: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange", "--config", str(hub / "hub.toml"), *args],
        cwd=hub,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def cli(hub: Path, *args: str) -> Result:
    """The same command in this process (faster; the working directory is the hub's, as ``hub`` sets it)."""
    return CliRunner().invoke(main, ["--config", str(hub / "hub.toml"), *args])


def configure(hub: Path, db_url: str, keys: str = "", extra: str = "") -> None:
    """The hub's configuration file; ``keys`` is the body of its ``[keys]`` table."""
    text = f'data_dir = "var"\n{extra}[database]\nurl = "{db_url}"\n'
    (hub / "hub.toml").write_text(text + (f"[keys]\n{keys}" if keys else ""), encoding="utf-8")


async def _populate(db_url: str, key_file: Path) -> list[SealedValue]:
    keyring = await asyncio.to_thread(sealing.Keyring.load, key_file)
    engine = create_engine(db_url)
    try:
        async with session_factory(engine).begin() as session:
            return await add_sealed_secrets(session, keyring, COPIES)
    finally:
        await engine.dispose()


async def _opened(session: AsyncSession, keyring: sealing.Keyring) -> dict[tuple[str, str], tuple[bytes, str]]:
    """Every sealed secret, opened with ``keyring`` the way the hub opens it: (table, owner) -> (plain, key id)."""

    def opened(sealed: bytes, aad: bytes) -> tuple[bytes, str]:
        secret = sealing.SealedSecret.from_bytes(sealed)
        return sealing.unseal(keyring, secret, aad), secret.key_id

    found: dict[tuple[str, str], tuple[bytes, str]] = {}
    for owner, sealed, key_id in await session.execute(
        select(Package.public_id, Package.sealed_password, Package.key_id).where(Package.sealed_password.is_not(None))
    ):
        assert sealed is not None
        found["packages", owner] = opened(sealed, owner.encode())
        assert found["packages", owner][1] == key_id
    for owner, sealed, key_id in await session.execute(
        select(Account.public_id, TotpFactor.sealed_secret, TotpFactor.key_id).join(Account)
    ):
        found["totp_factors", owner] = (totp.unseal_secret(keyring, sealed, owner).encode(), key_id)
        assert sealing.SealedSecret.from_bytes(sealed).key_id == key_id
    for owner, sealed in await session.execute(select(Account.public_id, LoginChallenge.pending_secret).join(Account)):
        assert sealed is not None
        found["login_challenges", owner] = opened(sealed, totp.secret_aad(owner))
    for owner, sealed, key_id in await session.execute(
        select(ProviderCredential.public_id, ProviderCredential.sealed_password, ProviderCredential.key_id)
    ):
        found["provider_credentials", owner] = opened(sealed, credential_aad(owner))
        assert found["provider_credentials", owner][1] == key_id
    for owner, sealed, key_id in await session.execute(
        select(ReturnDelivery.public_id, ReturnDelivery.sealed_password, ReturnDelivery.key_id)
    ):
        found["return_deliveries", owner] = opened(sealed, return_aad(owner))
        assert found["return_deliveries", owner][1] == key_id
    return found


async def _open_all(db_url: str, keyring: sealing.Keyring) -> dict[tuple[str, str], tuple[bytes, str]]:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            return await _opened(session, keyring)
    finally:
        await engine.dispose()


def _key_ids(db_url: str, keyring: sealing.Keyring) -> Counter[str]:
    return Counter(key_id for _, key_id in asyncio.run(_open_all(db_url, keyring)).values())


@pytest.fixture
def hub(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised hub (its first master key in var/master.key) holding 15 secrets sealed under that key."""
    monkeypatch.chdir(tmp_path)
    configure(tmp_path, db_url)
    initialised = cli(tmp_path, "init")
    assert initialised.exit_code == 0, initialised.output
    asyncio.run(_populate(db_url, tmp_path / "var" / "master.key"))
    return tmp_path


def test_generate_writes_an_owner_only_key_and_never_overwrites_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hub.toml").write_text('data_dir = "var"\n', encoding="utf-8")
    made = cli(tmp_path, "keys", "generate", "keys/new.key")
    assert made.exit_code == 0, made.output
    key = tmp_path / "keys" / "new.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == sealing.KEY_BYTES
    assert sealing.load_master_key(key).key_id in made.stdout
    before = key.read_bytes()
    again = cli(tmp_path, "keys", "generate", "keys/new.key")
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert key.read_bytes() == before


def test_rotation_moves_every_secret_to_the_new_key_and_the_old_key_can_go(hub: Path, db_url: str) -> None:
    old = sealing.load_master_key(hub / "var" / "master.key")
    assert cli(hub, "keys", "generate", "var/master-2.key").exit_code == 0
    new = sealing.load_master_key(hub / "var" / "master-2.key")
    configure(hub, db_url, 'master = { file = "var/master-2.key" }\nold_masters = [ { file = "var/master.key" } ]\n')
    before = asyncio.run(_open_all(db_url, sealing.Keyring(old)))

    status = cli(hub, "keys", "status")
    assert status.exit_code == 0, status.output
    assert f"current master key: {new.key_id}" in status.stdout and f"old master keys: {old.key_id}" in status.stdout
    assert f"secrets still on old keys: {5 * COPIES} ({old.key_id}: {5 * COPIES})" in status.stdout
    assert "sealed files" in status.stdout and "keep the key that sealed them" in status.stdout

    rotated = cli(hub, "keys", "rotate", "--batch-size", "2")
    assert rotated.exit_code == 0, rotated.output
    assert f"package passwords: {COPIES} of {COPIES} moved" in rotated.stdout
    assert "TOTP secrets being set up: 2 of 3 moved" in rotated.stdout  # progress after each batch of two
    assert f"moved {5 * COPIES} sealed secrets to {new.key_id}" in rotated.stdout
    assert "every sealed secret in the database is on the current key" in rotated.stdout

    # The old key can go: the new key alone opens every secret, unchanged, and each row names the new key.
    after = asyncio.run(_open_all(db_url, sealing.Keyring(new)))
    assert {place: plain for place, (plain, _) in after.items()} == {p: plain for p, (plain, _) in before.items()}
    assert Counter(key_id for _, key_id in after.values()) == Counter({new.key_id: 5 * COPIES})
    configure(hub, db_url, 'master = { file = "var/master-2.key" }\n')
    alone = cli(hub, "keys", "status")
    assert alone.exit_code == 0, alone.output
    assert "old master keys: (none)" in alone.stdout and "on the current key" in alone.stdout
    again = cli(hub, "keys", "rotate")
    assert again.exit_code == 0 and "moved 0 sealed secrets" in again.stdout


async def _rotate_until_stopped(db_url: str, keyring: sealing.Keyring, batches: int) -> int:
    """``rotate`` one row per transaction, stopped by an error after ``batches`` batches (a crash between them)."""
    seen: list[int] = []

    def progress(label: str, moved: int) -> None:
        seen.append(moved)
        if len(seen) == batches:
            raise RuntimeError("stopped half-way")

    engine = create_engine(db_url)
    try:
        with pytest.raises(RuntimeError, match="stopped half-way"):
            await rotation.rotate(session_factory(engine), keyring, batch_rows=1, progress=progress)
    finally:
        await engine.dispose()
    return len(seen)


def test_a_rotation_stopped_half_way_continues_where_it_stopped(hub: Path, db_url: str) -> None:
    old = sealing.load_master_key(hub / "var" / "master.key")
    assert cli(hub, "keys", "generate", "var/master-2.key").exit_code == 0
    new = sealing.load_master_key(hub / "var" / "master-2.key")
    keyring = sealing.Keyring(new, [old])
    assert asyncio.run(_rotate_until_stopped(db_url, keyring, batches=4)) == 4
    assert _key_ids(db_url, keyring) == Counter({new.key_id: 4, old.key_id: 5 * COPIES - 4})

    configure(hub, db_url, 'master = { file = "var/master-2.key" }\nold_masters = [ { file = "var/master.key" } ]\n')
    status = cli(hub, "keys", "status")
    assert f"secrets still on old keys: {5 * COPIES - 4} ({old.key_id}: {5 * COPIES - 4})" in status.stdout
    resumed = cli(hub, "keys", "rotate", "--batch-size", "1")
    assert resumed.exit_code == 0, resumed.output
    assert f"moved {5 * COPIES - 4} sealed secrets" in resumed.stdout
    assert _key_ids(db_url, sealing.Keyring(new)) == Counter({new.key_id: 5 * COPIES})


async def test_a_rotation_killed_with_sigkill_continues_when_run_again(hub: Path, db_url: str) -> None:
    old, new = await asyncio.to_thread(_new_master_key, hub, db_url)
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn, conn.begin():
            if db_url.startswith("postgresql"):
                # Hold the third package's row: the command moves two rows, then waits here until it is killed.
                # (Looked up first: FOR UPDATE with OFFSET would lock the rows it skips as well.)
                third = await conn.scalar(select(Package.id).order_by(Package.id).offset(2).limit(1))
                await conn.execute(select(Package.id).where(Package.id == third).with_for_update())
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "exchange",
                "--config",
                str(hub / "hub.toml"),
                "keys",
                "rotate",
                "--batch-size",
                "1",
                cwd=hub,
                env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            assert process.stdout is not None
            wanted = "package passwords: 2 of" if db_url.startswith("postgresql") else "package passwords: 1 of"
            while wanted not in (line := (await asyncio.wait_for(process.stdout.readline(), 60)).decode()):
                assert line, "the command ended before it moved anything"
            await asyncio.sleep(0.3)
            process.send_signal(signal.SIGKILL)
            assert await process.wait() == -signal.SIGKILL
    finally:
        await engine.dispose()
    keyring = sealing.Keyring(new, [old])
    counts = Counter(key_id for _, key_id in (await _open_all(db_url, keyring)).values())
    assert counts[new.key_id] >= 1
    if db_url.startswith("postgresql"):
        assert counts == Counter({new.key_id: 2, old.key_id: 5 * COPIES - 2})
    resumed = await asyncio.to_thread(handover, hub, "keys", "rotate", "--batch-size", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert f"moved {counts[old.key_id]} sealed secrets" in resumed.stdout
    after = Counter(key_id for _, key_id in (await _open_all(db_url, sealing.Keyring(new))).values())
    assert after == Counter({new.key_id: 5 * COPIES})


def _new_master_key(hub: Path, db_url: str) -> tuple[sealing.MasterKey, sealing.MasterKey]:
    assert cli(hub, "keys", "generate", "var/master-2.key").exit_code == 0
    configure(hub, db_url, 'master = { file = "var/master-2.key" }\nold_masters = [ { file = "var/master.key" } ]\n')
    return sealing.load_master_key(hub / "var" / "master.key"), sealing.load_master_key(hub / "var" / "master-2.key")


def test_keys_from_environment_variables_work_and_are_never_printed(hub: Path, db_url: str) -> None:
    """Several hosts: the operator sets the same variables on each; the key file need not exist on any of them."""
    old_key = hub / "var" / "master.key"
    encoded = base64.b64encode(old_key.read_bytes()).decode()
    signing = (hub / "var" / "ledger-signing.key").read_text(encoding="utf-8").strip()
    old_key.rename(hub / "elsewhere.key")
    (hub / "var" / "ledger-signing.key").unlink()
    configure(
        hub,
        db_url,
        f'master = {{ env = "{MASTER_ENV}" }}\nsigning = {{ env = "HANDOVER_SIGNING_KEY" }}\n',
        extra='[logging]\nlevel = "DEBUG"\n',
    )
    env = {MASTER_ENV: encoded, "HANDOVER_SIGNING_KEY": signing}
    results = [
        handover(hub, "config", "check", env=env),
        status := handover(hub, "keys", "status", env=env),
        handover(hub, "keys", "rotate", env=env),
        checkpoint := handover(hub, "ledger", "checkpoint", env=env),
    ]
    assert all(result.returncode == 0 for result in results), [result.stderr for result in results]
    assert sealing.MasterKey(base64.b64decode(encoded)).key_id in status.stdout
    assert "moved 0 sealed secrets" in results[2].stdout  # already on this key
    assert "— " in checkpoint.stdout  # a signed note
    seed = signing.split("+", 4)[4]  # PRIVATE+KEY+<name>+<id>+<base64 seed>; the seed itself may hold a "+"
    secret_parts = (encoded, encoded[:16], base64.b64decode(encoded).hex()[:16], signing, seed, seed[:16])
    for result in results:
        for number, part in enumerate(secret_parts):
            assert part not in result.stdout + result.stderr, (result.args, number, result.stdout, result.stderr)
    # The hub's own environment prefix does not make HANDOVER_MASTER_KEY a setting: no unknown-key error.
    assert "unknown key" not in results[0].stderr


@pytest.mark.parametrize(
    ("keys", "value", "expected"),
    [
        (f'master = {{ env = "{MASTER_ENV}" }}\n', None, f"keys.master (environment variable {MASTER_ENV}): the"),
        (f'master = {{ env = "{MASTER_ENV}" }}\n', "bm90IGEga2V5", "not a master key; it must hold 32 bytes"),
        (f'master = {{ env = "{MASTER_ENV}" }}\n', base64.b64encode(b"k" * 31).decode(), "not a master key"),
        (f'master = {{ env = "{MASTER_ENV}" }}\n', "@" * 44, "not a master key"),
        ('master = { file = "var/absent.key" }\n', None, "master key file var/absent.key does not exist"),
        ('master = { file = "var/short.key" }\n', None, "must hold exactly 32 bytes"),
        ('master = { file = "var/open.key" }\n', None, "must not be accessible to group or others"),
        ('old_masters = [ { file = "var/open.key" } ]\n', None, "keys.old_masters[0]: master key file var/open.key"),
        ('signing = { env = "HANDOVER_SIGNING_KEY" }\n', "PRIVATE+KEY+x", "keys.signing (environment variable"),
        ('signing = { file = "var/short.key" }\n', None, "keys.signing: the file var/short.key does not hold"),
    ],
)
def test_a_missing_or_malformed_key_stops_the_hub_at_start_with_a_clear_message(
    tmp_path: Path, keys: str, value: str | None, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path}/handover.db"
    configure(tmp_path, url)
    runner = CliRunner()
    config = ["--config", str(tmp_path / "hub.toml")]
    assert runner.invoke(main, [*config, "init"]).exit_code == 0
    (tmp_path / "var" / "short.key").write_bytes(b"x" * 16)
    (tmp_path / "var" / "short.key").chmod(0o600)
    (tmp_path / "var" / "open.key").write_bytes(os.urandom(32))
    (tmp_path / "var" / "open.key").chmod(0o644)
    configure(tmp_path, url, keys)
    env = {MASTER_ENV: value, "HANDOVER_SIGNING_KEY": value} if value is not None else {}
    commands = [["serve", "--port", "0"], ["config", "check"]]
    for command in commands if "signing" in keys else [*commands, ["keys", "status"], ["keys", "rotate"]]:
        result = runner.invoke(main, [*config, *command], env=env)
        assert result.exit_code == 2, (command, result.output)
        assert "the hub's keys cannot be used" in result.stderr and expected in result.stderr, result.stderr
        assert "serving" not in result.stdout
        if value is not None:
            assert value not in result.output
