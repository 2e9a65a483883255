"""``handover dummy`` (C-15) and ``handover connectors check``."""

from __future__ import annotations

from pathlib import Path

import click

from connectors.checks import CheckResult, check_all
from connectors.registry import build_connectors
from exchange.cli.setup import CliState, fail, run
from exchange.intake.antivirus import ClamdScanner
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

    @main.group("connectors")
    def connectors() -> None:
        """Delivery endpoints."""

    @connectors.command("check")
    @click.pass_obj
    def check(state: CliState) -> None:
        """Reachability, authentication and jurisdiction of every configured connector."""

        async def go() -> list[CheckResult]:
            built = build_connectors(state.settings.connectors)
            try:
                return await check_all(list(built.values()))
            finally:
                for connector in built.values():
                    await connector.close()

        results = run(go())
        antivirus = state.settings.antivirus
        if antivirus is not None:
            alive = run(ClamdScanner(antivirus.clamd_socket).ping())
            click.echo(f"{'OK' if alive else 'NG'}  antivirus (clamd at {antivirus.clamd_socket})")
            if not alive:
                fail("clamd does not answer: nothing will move until it does")
        for result in results:
            click.echo(
                f"{'OK' if result.ok else 'NG'}  {result.connector} ({result.kind}) reachable={result.reachable} "
                f"auth={result.authenticated} jurisdiction={result.jurisdiction}: {result.detail}"
            )
        if not all(result.ok for result in results):
            fail("some connectors are not usable")
