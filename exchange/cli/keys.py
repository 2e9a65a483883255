"""``handover keys generate|status|rotate``: master key files, which key seals what, and moving the sealed secrets
in the database to the current key (README "Keys": the rotation procedure for one or several hosts)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exchange.cli.setup import CliState, fail, with_sessions
from exchange.keys import rotation, sealing, sources

SEALED_FILES_NOTE = (
    "sealed files (uploads, quarantined drops, reference extracts, inspection attachments) keep the key that"
    " sealed them until they are deleted: keep an old key in keys.old_masters until then"
)


def _keyring(state: CliState) -> sealing.Keyring:
    try:
        return sources.hub_keyring(state.settings)
    except sources.KeyUnavailable as exc:
        fail("the hub's keys cannot be used:", [str(exc)])


def _census(state: CliState) -> dict[str, Counter[str]]:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Counter[str]]:
        async with sessions() as session:
            return await rotation.census(session)

    return with_sessions(state, work)


def _on_old_keys(counts: dict[str, Counter[str]], current: str) -> Counter[str]:
    remaining: Counter[str] = Counter()
    for by_key in counts.values():
        remaining.update({key_id: n for key_id, n in by_key.items() if key_id != current})
    return remaining


def _describe(key_id: str, keyring: sealing.Keyring) -> str:
    if key_id == keyring.current.key_id:
        return f"{key_id} (current)"
    return key_id if key_id in keyring.key_ids else f"{key_id} (NOT CONFIGURED: cannot be opened)"


def _print_remaining(counts: dict[str, Counter[str]], keyring: sealing.Keyring) -> None:
    remaining = _on_old_keys(counts, keyring.current.key_id)
    if remaining:
        listed = ", ".join(f"{_describe(key_id, keyring)}: {n}" for key_id, n in sorted(remaining.items()))
        click.echo(f"secrets still on old keys: {remaining.total()} ({listed}); run `handover keys rotate`")
    else:
        click.echo("every sealed secret in the database is on the current key")
    click.echo(SEALED_FILES_NOTE)


def register(main: click.Group) -> None:
    @main.group("keys")
    @click.pass_obj
    def keys_group(state: CliState) -> None:
        """Master keys: make one, see which key seals what, rotate."""
        state.secrets_needed = False  # no connector is opened

    @keys_group.command("generate")
    @click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
    def generate(file: Path) -> None:
        """Write a new random master key to FILE (mode 0600); an existing file is never overwritten."""
        file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            key = sealing.create_master_key(file)
        except FileExistsError:
            fail(f"{file} already exists; a key file is never overwritten")
        click.echo(f"created master key {file} (mode 0600), key id {key.key_id}")

    @keys_group.command("status")
    @click.pass_obj
    def status(state: CliState) -> None:
        """Which master key each sealed secret in the database is under."""
        keyring = _keyring(state)
        counts = _census(state)
        click.echo(f"current master key: {keyring.current.key_id}")
        old = sorted(keyring.key_ids - {keyring.current.key_id})
        click.echo(f"old master keys: {', '.join(old) if old else '(none)'}")
        for label, by_key in counts.items():
            listed = ", ".join(f"{_describe(key_id, keyring)}: {n}" for key_id, n in sorted(by_key.items()))
            click.echo(f"  {label}: {listed or 'none'}")
        _print_remaining(counts, keyring)

    @keys_group.command("rotate")
    @click.option(
        "--batch-size",
        type=click.IntRange(1, 10_000),
        default=rotation.BATCH_ROWS,
        show_default=True,
        help="Rows per transaction.",
    )
    @click.pass_obj
    def rotate(state: CliState, batch_size: int) -> None:
        """Move every secret sealed in the database to the current master key (safe to stop and run again)."""
        keyring = _keyring(state)
        current = keyring.current.key_id
        before = _census(state)
        totals = {label: _on_old_keys({label: by_key}, current).total() for label, by_key in before.items()}
        click.echo(f"moving sealed secrets to master key {current}")

        def progress(label: str, moved: int) -> None:
            click.echo(f"  {label}: {moved} of {totals[label]} moved")

        async def work(sessions: async_sessionmaker[AsyncSession]) -> rotation.RotationResult:
            return await rotation.rotate(sessions, keyring, batch_rows=batch_size, progress=progress)

        result = with_sessions(state, work)
        click.echo(f"moved {result.moved.total()} sealed secrets to {current}")
        _print_remaining(_census(state), keyring)
        if result.failures:
            click.echo(f"error: {len(result.failures)} sealed secrets could not be moved:", err=True)
            for failure in result.failures:
                click.echo(f"  - {failure.label}, row {failure.row_id}: {failure.reason}", err=True)
            sys.exit(1)
