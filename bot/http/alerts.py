"""``/v1/alerts``: list, show, acknowledge, snooze, resolve."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.http.common import (
    CORE,
    api_actor,
    body_fields,
    finite_number,
    json_response,
    path_id,
    read_object,
)
from bot.http.serialize import incident_detail_json, incident_json
from monitors.durations import parse_duration
from monitors.errors import Invalid
from monitors.rules.schema import LEVELS

STATUSES = ("open", "acknowledged", "resolved", "all")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


SORTS = ("newest", "priority")


def _by_priority(request: web.Request) -> bool:
    """``?sort=priority``: P1 first (newest first within a priority); default newest."""
    sort = request.query.get("sort") or "newest"
    if sort not in SORTS:
        raise Invalid(f"sort {sort!r} is not one of: {', '.join(SORTS)}.")
    return sort == "priority"


def _filters(request: web.Request) -> tuple[str | None, str | None, int]:
    query = request.query
    status = query.get("status") or None
    if status == "unresolved":
        status = None
    elif status is not None and status not in STATUSES:
        raise Invalid(f"status {status!r} is not one of: unresolved, {', '.join(STATUSES)}.")
    severity = query.get("severity") or None
    if severity is not None and severity not in LEVELS:
        raise Invalid(f"severity {severity!r} is not one of: {', '.join(LEVELS)}.")
    raw_limit = query.get("limit") or str(DEFAULT_LIMIT)
    try:
        limit = int(raw_limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit {raw_limit!r} must be a whole number from 1 to {MAX_LIMIT}.")
    return status, severity, limit


async def list_alerts(request: web.Request) -> web.Response:
    """Newest first (or ``?sort=priority``); unresolved unless ``status`` says otherwise."""
    core = request.app[CORE]
    status, severity, limit = _filters(request)
    by_priority = _by_priority(request)
    incidents = await core.incidents.list(status, severity, limit=limit, by_priority=by_priority)
    silenced = await core.incidents.silenced(incidents)
    now = core.clock()
    alerts = [incident_json(i, now, silenced.get(i.id)) for i in incidents]
    return json_response({"alerts": alerts})


async def show_alert(request: web.Request) -> web.Response:
    core = request.app[CORE]
    incident, events = await core.incidents.show(path_id(request, "incident"))
    silenced = await core.incidents.silenced([incident])
    deliveries = await core.incidents.deliveries(incident.id)
    detail = incident_detail_json(
        incident, events, core.clock(), silenced.get(incident.id), deliveries
    )
    return json_response(detail)


async def acknowledge(request: web.Request) -> web.Response:
    core = request.app[CORE]
    incident_id = path_id(request, "incident")
    incident = await core.incidents.acknowledge(incident_id, api_actor(request))
    return json_response(incident_json(incident, core.clock()))


SNOOZE_FIELDS: dict[str, tuple[str, ...]] = {"minutes": (), "duration": ()}
RESOLVE_FIELDS: dict[str, tuple[str, ...]] = {"note": ("notes", "comment")}
"""``notes`` and ``comment`` (Alertmanager's word) are what people type for a note."""


def _snooze_seconds(body: dict[str, Any]) -> float:
    """``{"minutes": 60}`` or ``{"duration": "1h"}`` (text, or a number of seconds), in
    seconds. How long a snooze may be is the core's to say (IncidentActions.snooze)."""
    if "minutes" in body and "duration" in body:
        raise Invalid("Give minutes or duration, not both.")
    if "duration" in body:
        duration = body["duration"]
        if isinstance(duration, bool) or not isinstance(duration, str | int | float):
            raise Invalid('duration: like "2h" or a number of seconds.')
        try:
            return parse_duration(duration)
        except ValueError as exc:
            raise Invalid(f"duration: {exc}") from None
    if "minutes" not in body:
        raise Invalid('minutes: required, e.g. {"minutes": 60} (or {"duration": "1h"}).')
    return finite_number(body["minutes"], "minutes") * 60


async def snooze(request: web.Request) -> web.Response:
    """Body ``{"minutes": 60}`` or ``{"duration": "1h"}``."""
    core = request.app[CORE]
    incident_id = path_id(request, "incident")
    body = body_fields(await read_object(request), SNOOZE_FIELDS, '{"minutes": 60}')
    seconds = _snooze_seconds(body)
    incident = await core.incidents.snooze(incident_id, seconds, api_actor(request))
    return json_response(incident_json(incident, core.clock()))


async def resolve(request: web.Request) -> web.Response:
    """Optional body ``{"note": "..."}`` (also spelt ``notes`` or ``comment``)."""
    core = request.app[CORE]
    incident_id = path_id(request, "incident")
    body = await read_object(request, optional=True)
    body = body_fields(body, RESOLVE_FIELDS, '{"note": "rolled back"}')
    note = body.get("note", "")
    if note is None:
        note = ""
    if not isinstance(note, str):
        raise Invalid("note: must be a string.")
    incident = await core.incidents.resolve(incident_id, api_actor(request), note)
    return json_response(incident_json(incident, core.clock()))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/alerts", list_alerts)
    app.router.add_get("/v1/alerts/{id}", show_alert)
    app.router.add_post("/v1/alerts/{id}/acknowledge", acknowledge)
    app.router.add_post("/v1/alerts/{id}/snooze", snooze)
    app.router.add_post("/v1/alerts/{id}/resolve", resolve)
