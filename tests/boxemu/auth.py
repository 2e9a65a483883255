"""OAuth2 token endpoint (Client Credentials Grant) and bearer-token checks."""

from __future__ import annotations

from aiohttp import web

from tests.boxemu.state import box_error, state_of

routes = web.RouteTableDef()


def oauth_error(error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=400)


@routes.post("/oauth2/token")
async def token(request: web.Request) -> web.Response:
    state = state_of(request)
    form = await request.post()
    if form.get("grant_type") != "client_credentials":
        return oauth_error("unsupported_grant_type", "Grant type is not supported by this emulator")
    if form.get("client_id") != state.client_id or form.get("client_secret") != state.client_secret:
        return oauth_error("invalid_client", "The client credentials are invalid")
    subject_type = form.get("box_subject_type")
    subject_id = form.get("box_subject_id")
    if subject_type not in ("enterprise", "user") or not subject_id:
        return oauth_error("invalid_request", "box_subject_type and box_subject_id are required")
    if subject_type == "enterprise" and subject_id != state.enterprise_id:
        return oauth_error("invalid_grant", "Grant credentials are invalid")
    access_token, ttl = state.issue_token()
    return web.json_response(
        {"access_token": access_token, "expires_in": ttl, "restricted_to": [], "token_type": "bearer"}
    )


def unauthorized() -> web.Response:
    # Box's 401 names the problem in WWW-Authenticate; the SDK reacts by fetching a new token.
    return box_error(
        401,
        "unauthorized",
        "Unauthorized",
        headers={
            "WWW-Authenticate": 'Bearer realm="Service", error="invalid_token", '
            'error_description="The access token provided is invalid."'
        },
    )


def authorized(request: web.Request) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return scheme == "Bearer" and state_of(request).token_valid(value)
