"""``handover connectors check``: reachability, authentication and jurisdiction of every endpoint, and clamd."""

from __future__ import annotations

import click

from connectors.checks import CheckResult, check_all
from connectors.registry import build_connectors
from exchange.cli.setup import CliState, fail, run
from exchange.intake.antivirus import ClamdScanner


def register(main: click.Group) -> None:
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
