"""The aiohttp application: routes plus one middleware for auth and JSON errors.

Every ``/v1`` call needs ``Authorization: Bearer <TOCSIN_API_TOKEN>`` when a token is
set (without one the server only listens on loopback, see :mod:`bot.http.server`).
``/healthz`` and ``/metrics`` need no token. Every error is JSON ``{"error": ...}``;
the core's refusals keep their sentence and their status (400, 403, 404, 409)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.http import alerts, destinations, events, ingest, ops, rules, silences, stats
from bot.http.common import API_TOKEN, CORE, MAX_BODY, METRICS, error_response, too_large
from bot.metrics import Metrics
from monitors.core import Core
from monitors.errors import ActionError
from monitors.mentions import plain

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
INGEST_PATH = "/v1/samples"


def _is_api(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def _authorized(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(errors="surrogateescape"), token.encode())


def _unauthorized(request: web.Request) -> web.Response:
    sent = "Authorization" in request.headers
    challenge = 'Bearer realm="tocsin"' + (', error="invalid_token"' if sent else "")
    message = (
        "The bearer token is wrong."
        if sent
        else "Authentication required: send Authorization: Bearer <TOCSIN_API_TOKEN>."
    )
    return error_response(401, message, headers={"WWW-Authenticate": challenge})


def _from_http_error(exc: web.HTTPException) -> web.Response:
    """aiohttp's own errors (unknown route, wrong method, body too large) as JSON."""
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        exc = too_large()
    message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
    keep = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "www-authenticate")}
    return error_response(exc.status, message, headers=keep or None)


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = request.app[API_TOKEN]
    response: web.StreamResponse
    try:
        if _is_api(request.path) and token is not None and not _authorized(request, token):
            response = _unauthorized(request)
        else:
            response = await handler(request)
    except ActionError as exc:
        response = error_response(exc.status, plain(str(exc)))
    except web.HTTPException as exc:
        response = _from_http_error(exc)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        response = error_response(500, "Internal error; the server log has the details.")
    if request.path == INGEST_PATH:
        request.app[METRICS].count_ingest_request(response.status)
    return response


def build_app(core: Core, *, api_token: str | None, metrics: Metrics) -> web.Application:
    """The application for ``core``; ``api_token`` None means no auth (loopback only)."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[api_middleware])
    app[CORE] = core
    app[METRICS] = metrics
    app[API_TOKEN] = api_token or None
    for module in (ops, ingest, events, alerts, rules, silences, destinations, stats):
        module.add_routes(app)
    return app
