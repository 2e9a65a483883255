"""``handover health``: whether processes of each role are alive and progressing, read from their heartbeat rows.

Made for processes without a listener (``serve --role worker`` or ``scheduler``), and for a monitoring system: the
exit status is 0 when every role asked about has a live process whose loops are well, 1 otherwise. The lines are
for operators (Japanese, with the English gist in brackets).
"""

from __future__ import annotations

import sys
from datetime import timedelta

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exchange.cli.setup import CliState, with_sessions
from exchange.heartbeats import RoleCheck, check_roles, failing_components, live_processes
from exchange.roles import ALL_ROLES, ROLE_NAMES_JA, UnknownRole, parse_roles
from ledger.models.base import utcnow
from ledger.models.processes import ProcessHeartbeat
from ledger.wareki import format_jst


def _process_line(process: ProcessHeartbeat) -> str:
    ago = max(int((utcnow() - process.last_beat).total_seconds()), 0)
    return (
        f"  {process.host} pid {process.pid}（{', '.join(process.roles)}）"
        f" 開始 {format_jst(process.started_at, seconds=True)}、最終応答 {ago}秒前"
    )


def _report(check: RoleCheck, within: int) -> list[str]:
    label = f"{ROLE_NAMES_JA[check.role]}（{check.role}）"
    if check.ok:
        lines = [f"{label}: 正常 — 稼働中のプロセス {len(check.progressing)} 件 [ok: {len(check.progressing)} live]"]
        return lines + [_process_line(process) for process in check.progressing]
    if not check.alive:
        return [
            f"{label}: 異常 — {within}秒以内に応答したプロセスがありません。"
            f"`handover serve --role {check.role}` が動いているか確認してください。"
            f" [no {check.role} process beat within {within} s]"
        ]
    lines = [
        f"{label}: 異常 — プロセスは動いていますが、処理が失敗を繰り返しています。詳細はログを参照してください。"
        f" [{check.role} processes are alive but their loops are failing]"
    ]
    for process in check.alive:
        lines.append(_process_line(process))
        for name, state in failing_components(process, check.role).items():
            lines.append(f"    {name}: {state.get('error') or '失敗中'}（{state.get('since_jst', '')}から）")
    return lines


def register(main: click.Group) -> None:
    @main.command("health")
    @click.option(
        "--role",
        "roles",
        multiple=True,
        metavar="ROLE[,ROLE…]",
        help=f"Roles to check: {', '.join(ALL_ROLES)}; comma-separated or repeated (default: all three).",
    )
    @click.option(
        "--within",
        type=click.IntRange(min=1),
        default=None,
        help="A process is alive if it beat within this many seconds (default: three heartbeat intervals).",
    )
    @click.pass_obj
    def health(state: CliState, roles: tuple[str, ...], within: int | None) -> None:
        """Whether a live process runs each role; exit status 1 when one has none (for monitoring)."""
        state.secrets_needed = False  # only the database is read
        try:
            chosen = parse_roles(roles) or ALL_ROLES
        except UnknownRole as exc:
            raise click.BadParameter(str(exc), param_hint="'--role'") from None
        window = within or max(int(3 * state.settings.serve.heartbeat_seconds), 1)

        async def work(sessions: async_sessionmaker[AsyncSession]) -> list[ProcessHeartbeat]:
            async with sessions() as session:
                return await live_processes(session, timedelta(seconds=window))

        checks = check_roles(with_sessions(state, work), chosen)
        for check in checks:
            for line in _report(check, window):
                click.echo(line)
        if not all(check.ok for check in checks):
            sys.exit(1)
