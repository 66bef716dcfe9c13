"""``GET /v1/stats``: incident statistics over the last days (monitors.insight.stats)."""

from __future__ import annotations

from aiohttp import web

from bot.http.common import CORE, days_param, json_response
from monitors.insight.stats import MAX_DAYS

DEFAULT_DAYS = 7


async def stats(request: web.Request) -> web.Response:
    core = request.app[CORE]
    found = await core.stats(days_param(request, MAX_DAYS, DEFAULT_DAYS))
    return json_response(found.to_json())


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/stats", stats)
