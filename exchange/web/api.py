"""The portal's JSON API under /api/v1 for automation: bearer tokens, the same policy as the pages.

Password pick-up is deliberately not offered here: it needs an interactive login with a second factor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from sqlalchemy import select

from exchange.delivery.package_state import PackageState, package_state
from exchange.identity import api_tokens, lockout
from exchange.identity import audit_log as audit
from exchange.identity.audit_log import AuditAction
from exchange.identity.authorisation import Action, decide, load_principal, network_allows
from exchange.web import sessions
from exchange.web.context import SESSIONS, Page, error_page, source_ip, transaction
from exchange.web.contractor_packages import acknowledge_or_deny, serve_download
from exchange.web.guards import authorised_package, my_contracts, public_id_param
from ledger.models.base import utcnow
from ledger.models.packages import Package


@asynccontextmanager
async def api_page(request: web.Request) -> AsyncIterator[Page]:
    ip = source_ip(request)
    now = utcnow()
    maker = request.app[SESSIONS]
    header = request.headers.get("Authorization", "")
    token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
    # The API's own address bucket: bad tokens from an office never lock that office out of the login page.
    bucket = lockout.api_address_bucket(ip)
    async with maker() as session, transaction(session):
        if await lockout.locked(maker, [bucket], now) is not None:
            audit.record(session, audit.ANONYMOUS, ip, AuditAction.API_LOCKED, "denied")
            await session.commit()
            raise error_page(request, 429, "認証の失敗が続いたため、一時的に利用できません。")
        account = await api_tokens.authenticate(session, token, now)
        if account is None:
            await session.rollback()
            lockout.record_attempt(session, account_id=None, source_ip=ip, succeeded=False, now=now)
            audit.record(session, audit.ANONYMOUS, ip, AuditAction.API_AUTH_FAILED, "failed")
            await session.commit()
            await lockout.reserve(maker, [bucket], now)
            raise error_page(request, 401, "認証トークンが正しくないか、有効期限が切れています。")
        principal = await load_principal(session, account)
        # An API token is its own login occasion; API downloads are audited like portal downloads.
        ctx = Page(request, session, principal, "", ip, sessions.occasion("api", api_tokens.digest(token)))
        network = network_allows(principal, ip)
        if not network.allowed:
            await ctx.deny(AuditAction.API_NETWORK, network)
        yield ctx


def _package_json(package: Package, contract_public_id: str) -> dict[str, Any]:
    return {
        "id": package.public_id,
        "contract_id": contract_public_id,
        "name": package.zip_name,
        "size": package.size,
        "sha256": package.sha256,
        "delivered_at": package.delivered_at.isoformat() if package.delivered_at else None,
        "acknowledged_at": package.acknowledged_at.isoformat() if package.acknowledged_at else None,
        "download_count": package.download_count,
        "download_limit": package.download_limit,
        "frozen": package.frozen_at is not None,
        "state": package_state(package).value,
    }


async def list_packages(request: web.Request) -> web.StreamResponse:
    async with api_page(request) as ctx:
        items = []
        for contract, scope in await my_contracts(ctx):
            packages = (
                await ctx.session.execute(
                    select(Package)
                    .where(Package.contract_id == contract.id, Package.delivered_at.is_not(None))
                    .order_by(Package.id)
                )
            ).scalars()
            items += [
                _package_json(p, contract.public_id)
                for p in packages
                if decide(ctx.principal, Action.PACKAGE_VIEW, scope, p).allowed
            ]
        ctx.audit(AuditAction.API_PACKAGES_LIST, detail={"count": len(items)})
        return web.json_response({"packages": items})


async def get_package(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "package_id")
    async with api_page(request) as ctx:
        package, contract, _scope = await authorised_package(ctx, Action.PACKAGE_VIEW, public_id)
        ctx.audit(AuditAction.API_PACKAGE_VIEW, object_type="package", object_id=public_id)
        return web.json_response(_package_json(package, contract.public_id))


async def package_content(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "package_id")
    async with api_page(request) as ctx:
        return await serve_download(ctx, public_id)


async def acknowledge(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "package_id")
    async with api_page(request) as ctx:
        package, contract, _scope = await authorised_package(ctx, Action.PACKAGE_ACKNOWLEDGE, public_id)
        first = await acknowledge_or_deny(ctx, package, contract.public_id, public_id)
        ctx.audit(
            Action.PACKAGE_ACKNOWLEDGE, object_type="package", object_id=public_id, detail={"first": first, "api": True}
        )
        return web.json_response(_package_json(package, contract.public_id))


def _id_param() -> dict[str, Any]:
    return {"name": "package_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}


PACKAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "contract_id": {"type": "string", "format": "uuid"},
        "name": {"type": "string"},
        "size": {"type": "integer"},
        "sha256": {"type": "string"},
        "delivered_at": {"type": "string", "format": "date-time", "nullable": True},
        "acknowledged_at": {"type": "string", "format": "date-time", "nullable": True},
        "download_count": {"type": "integer"},
        "download_limit": {"type": "integer"},
        "frozen": {"type": "boolean"},
        "state": {
            "type": "string",
            "enum": [state.value for state in PackageState],
            "description": "available 以外では、ダウンロード・パスワード等が拒否される理由（消去・凍結・取消し等）",
        },
    },
}
_ERRORS = {
    "401": {"description": "トークンがない・正しくない・期限切れ"},
    "403": {"description": "権限がない・接続元が許可されていない・回数上限・凍結・提供取消し・消去済み"},
    "404": {"description": "見つからない（他の事業者のパッケージを含む）"},
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "handover portal API",
        "version": "1.0.0",
        "description": (
            "委託先が受け取るパッケージの一覧・ダウンロード・受領確認。パスワードの受取りはAPIでは提供しない。"
        ),
    },
    "servers": [{"url": "/api/v1"}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Package": PACKAGE_SCHEMA},
    },
    "security": [{"bearer": []}],
    "paths": {
        "/packages": {
            "get": {
                "summary": "自分あてのパッケージ一覧",
                "operationId": "listPackages",
                "responses": {
                    "200": {
                        "description": "一覧",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "packages": {"type": "array", "items": {"$ref": "#/components/schemas/Package"}}
                                    },
                                }
                            }
                        },
                    },
                    **_ERRORS,
                },
            }
        },
        "/packages/{package_id}": {
            "get": {
                "summary": "パッケージの情報",
                "operationId": "getPackage",
                "parameters": [_id_param()],
                "responses": {
                    "200": {
                        "description": "情報",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Package"}}},
                    },
                    **_ERRORS,
                },
            }
        },
        "/packages/{package_id}/content": {
            "get": {
                "summary": "ダウンロード（Range対応。先頭からの取得は回数に数え、中断した転送の再開だけは数えない）",
                "operationId": "downloadPackage",
                "parameters": [_id_param(), {"name": "Range", "in": "header", "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "ZIP", "content": {"application/zip": {}}},
                    "206": {"description": "部分", "content": {"application/zip": {}}},
                    "416": {"description": "Range がデータの範囲外"},
                    "503": {"description": "データファイルが保管領域にない・記録と一致しない（理由は error）"},
                    **_ERRORS,
                },
            }
        },
        "/packages/{package_id}/acknowledge": {
            "post": {
                "summary": "受領確認",
                "operationId": "acknowledgePackage",
                "parameters": [_id_param()],
                "responses": {
                    "200": {
                        "description": "確認済み",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Package"}}},
                    },
                    **_ERRORS,
                },
            }
        },
    },
}


async def openapi(request: web.Request) -> web.StreamResponse:
    return web.json_response(OPENAPI)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/api/v1/packages", list_packages)
    app.router.add_get("/api/v1/packages/{package_id}", get_package)
    app.router.add_get("/api/v1/packages/{package_id}/content", package_content)
    app.router.add_post("/api/v1/packages/{package_id}/acknowledge", acknowledge)
