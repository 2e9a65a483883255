"""``handover connectors check``: reachability, authentication and jurisdiction of every connector."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from connectors.base import Connector, ConnectorError, HealthReport


@dataclass(frozen=True)
class CheckResult:
    connector: str
    kind: str
    reachable: bool
    authenticated: bool
    jurisdiction: str
    jurisdiction_ok: bool
    detail: str

    @property
    def ok(self) -> bool:
        return self.reachable and self.authenticated and self.jurisdiction_ok


async def _health(connector: Connector, limit_seconds: float) -> HealthReport:
    try:
        return await asyncio.wait_for(connector.health(), limit_seconds)
    except TimeoutError:
        return HealthReport(False, False, f"{limit_seconds:g} 秒以内に応答がありません。health check timed out")
    except ConnectorError as exc:
        return HealthReport(False, False, exc.reason_ja)
    except Exception as exc:  # a check must still report every other endpoint, whatever one of them raises
        return HealthReport(False, False, f"確認中にエラーが発生しました。{type(exc).__name__}: {exc}")


async def check_one(connector: Connector, *, limit_seconds: float = 30.0) -> CheckResult:
    report = await _health(connector, limit_seconds)
    place = f"{connector.jurisdiction.country}/{connector.jurisdiction.region}"
    detail = report.detail
    if not connector.jurisdiction.is_japan:
        detail = f"国内法が適用されない法域（{place}）です（C-14）。jurisdiction is not jp. {detail}"
    return CheckResult(
        connector=connector.name,
        kind=connector.kind,
        reachable=report.reachable,
        authenticated=report.authenticated,
        jurisdiction=place,
        jurisdiction_ok=connector.jurisdiction.is_japan,
        detail=detail,
    )


async def check_all(connectors: Iterable[Connector], *, limit_seconds: float = 30.0) -> list[CheckResult]:
    """Check every connector concurrently; one slow or failing endpoint never hides the others' results."""
    return list(await asyncio.gather(*(check_one(c, limit_seconds=limit_seconds) for c in connectors)))
