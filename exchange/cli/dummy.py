"""``handover dummy``: realistic dummy records (no real people) for trials and tests (C-15)."""

from __future__ import annotations

from pathlib import Path

import click

from exchange.cli.setup import fail
from policies.dummy import UnknownProgramError, write_dummy_csv


def register(main: click.Group) -> None:
    @main.command("dummy")
    @click.option("--program", required=True, help="Program code, e.g. seikatsu-hogo-tsuika.")
    @click.option("--rows", type=click.IntRange(min=1), required=True)
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
    @click.option("--encoding", type=click.Choice(["utf-8-sig", "utf-8", "cp932"]), default="utf-8-sig")
    @click.option("--seed", type=int, default=0, help="Same seed, same records.")
    def dummy(program: str, rows: int, out: Path, encoding: str, seed: int) -> None:
        """Write realistic dummy records (no real people) for tests and contractor trials."""
        try:
            written = write_dummy_csv(program, rows, out, encoding=encoding, seed=seed)
        except UnknownProgramError as exc:
            fail(str(exc))
        click.echo(f"{written} dummy records written to {out} ({encoding})")
