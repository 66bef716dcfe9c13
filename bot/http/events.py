"""``POST /v1/events``: discrete events (a circuit breaker opened, a quota ran out) that
open or resolve incidents at once; ``GET /v1/events``: the ones received lately.

An event with an unknown or missing ``type``, or any other problem, is refused with 400
(every problem named) and nothing is recorded."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.http.common import CORE, METRICS, error_response, json_response, read_json
from monitors.errors import Invalid
from monitors.formatting import iso
from monitors.sources.events import EventInvalid, parse_event
from storage.models import EventRow

MAX_LIST = 500


async def post_event(request: web.Request) -> web.Response:
    """``{"type", "severity", "labels", "message", "context"}`` -> 202
    ``{"event": id, "type", "action", "incident": id | null}``."""
    core, metrics = request.app[CORE], request.app[METRICS]
    doc = await read_json(request)
    try:
        event = parse_event(doc, core.events.types)
    except EventInvalid as exc:
        metrics.count_event("refused", "refused")
        return error_response(
            400, "The event was refused; nothing was recorded.", errors=exc.errors
        )
    outcome = await core.events.receive(event)
    metrics.count_event(outcome.type, outcome.action)
    return json_response(outcome.to_json(), status=202)


def event_json(row: EventRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "severity": row.severity,
        "labels": dict(row.labels or {}),
        "message": row.message,
        "context": row.context,
        "received_at": iso(row.received_at),
        "action": row.action,
        "incident": row.incident_id,
    }


async def list_events(request: web.Request) -> web.Response:
    """``?type=&since_minutes=60&limit=100``: newest first."""
    core = request.app[CORE]
    kind = request.query.get("type") or None
    if kind is not None and kind not in core.events.types:
        raise Invalid(f"type: '{kind[:100]}' is not an event type.")
    minutes = _whole(request.query.get("since_minutes", "60"), "since_minutes", 1, 90 * 1440)
    limit = _whole(request.query.get("limit", "100"), "limit", 1, MAX_LIST)
    rows = await core.events.recent(core.clock() - minutes * 60, kind, limit)
    return json_response({"events": [event_json(row) for row in rows]})


def _whole(raw: str, name: str, low: int, high: int) -> int:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not low <= int(raw) <= high:
        raise Invalid(f"{name}: a whole number from {low} to {high}.")
    return int(raw)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/events", post_event)
    app.router.add_get("/v1/events", list_events)
