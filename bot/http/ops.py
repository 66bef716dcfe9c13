"""``/healthz`` and ``/metrics``: how the monitor itself is monitored. Neither needs the
API token, so load balancers and Prometheus can reach them; they reveal counts, never
incident or rule contents."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy import text

from bot.http.common import CORE, METRICS, json_response
from monitors.formatting import iso

log = logging.getLogger(__name__)
HEALTH_TIMEOUT = 5.0


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers ``SELECT 1``, 503 otherwise. ``status`` is
    ``behind`` (still 200: Tocsin works, late) while rule ticks start later than
    ``behind_after``; ``schedule`` says by how much."""
    core = request.app[CORE]
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT), core.db.read() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not healthy", with the reason
        log.warning("health check: database failed: %s", exc)
        return json_response(
            {
                "status": "unavailable",
                "database": "error",
                "error": f"database: {type(exc).__name__}: {exc}"[:500],
            },
            status=503,
        )
    stats, health = core.engine.stats, core.health
    return json_response(
        {
            "status": "behind" if health.behind else "ok",
            "database": "ok",
            "rules": len(core.rulebook.all()),
            "ticks": stats.ticks,
            "last_tick_seconds": stats.last_duration,
            "schedule": {
                "behind": health.behind,
                "lag_seconds": round(health.lag, 3),
                "behind_after_seconds": health.behind_after,
            },
            "time": iso(core.clock()),
        }
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format; database-backed values stay at their last reading
    when the database does not answer."""
    registry = request.app[METRICS]
    try:
        await registry.refresh()
    except Exception as exc:  # serve the last values rather than nothing
        log.warning("metrics: database values not refreshed: %s", exc)
    return web.Response(body=registry.render(), headers={"Content-Type": registry.content_type})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
