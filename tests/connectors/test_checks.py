"""``check_all`` reports each connector's reachability, authentication and jurisdiction."""

from __future__ import annotations

import asyncio
from pathlib import Path

from connectors.base import HealthReport, Jurisdiction
from connectors.checks import check_all
from connectors.local import LocalConnector
from tests.factories import TOKYO
from tests.services.sshd import SshdServer, sftp_connector_for


class _SlowLocal(LocalConnector):
    async def health(self) -> HealthReport:
        await asyncio.sleep(10)
        return await super().health()


class _BrokenLocal(LocalConnector):
    async def health(self) -> HealthReport:
        raise RuntimeError("SDK bug")


async def test_check_all_reports_every_connector(tmp_path: Path, sshd_server: SshdServer) -> None:
    local = LocalConnector("outbox", TOKYO, root=tmp_path)
    foreign = LocalConnector("abroad", Jurisdiction("us", "us-east-1"), root=tmp_path)
    sftp_ok = sftp_connector_for(sshd_server)
    results = await check_all(
        [
            local,
            foreign,
            sftp_ok,
            _SlowLocal("slow", TOKYO, root=tmp_path),
            _BrokenLocal("broken", TOKYO, root=tmp_path),
        ],
        limit_seconds=1,
    )
    by_name = {r.connector: r for r in results}
    assert [r.connector for r in results] == ["outbox", "abroad", "sftp-test", "slow", "broken"]
    assert by_name["outbox"].ok and by_name["outbox"].jurisdiction == "jp/tokyo"
    assert by_name["sftp-test"].ok and by_name["sftp-test"].kind == "sftp"
    assert not by_name["abroad"].ok and not by_name["abroad"].jurisdiction_ok
    assert by_name["abroad"].reachable and "C-14" in by_name["abroad"].detail
    assert not by_name["slow"].ok and "応答がありません" in by_name["slow"].detail
    assert not by_name["broken"].ok and "RuntimeError: SDK bug" in by_name["broken"].detail


async def test_check_all_reports_a_stopped_sftp_server(sshd_server: SshdServer) -> None:
    connector = sftp_connector_for(sshd_server)
    sshd_server.stop()
    [result] = await check_all([connector])
    assert not result.ok and not result.reachable and result.jurisdiction_ok
    assert "接続できません" in result.detail
