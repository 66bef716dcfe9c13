"""``/v1/silences``: list, add, remove."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.http.common import CORE, api_actor, body_fields, json_response, path_id, read_object
from bot.http.serialize import silence_json
from monitors.durations import parse_duration
from monitors.errors import Invalid
from monitors.formatting import iso
from monitors.timestamps import parse_timestamp


async def list_silences(request: web.Request) -> web.Response:
    """Silences in force or still to come."""
    core = request.app[CORE]
    now = core.clock()
    return json_response({"silences": [silence_json(s, now) for s in await core.silences.list()]})


SILENCE_FIELDS: dict[str, tuple[str, ...]] = {
    "matchers": (),
    "duration": (),
    "starts_at": ("startsAt",),
    "ends_at": ("endsAt",),
    "reason": ("comment",),
}
"""Alertmanager's spellings (``startsAt``, ``endsAt``, ``comment``) are taken too."""
EXAMPLE = '{"matchers": "rule=slow-api", "duration": "2h", "reason": "deploy"}'
MAX_LEAD = 365 * 86400.0
"""A silence starts within a year: further ahead is a mistake (a year typed wrong)."""


def _time(body: dict[str, Any], field: str) -> float | None:
    if body.get(field) is None:
        return None
    try:
        return parse_timestamp(body[field])
    except ValueError as exc:
        raise Invalid(f'{field}: {exc}, e.g. "2027-01-15T08:00:00Z".') from None


def _span(body: dict[str, Any], now: float) -> tuple[float, float]:
    """(start, seconds): from ``starts_at`` (default now; a start already past means
    now, as in Alertmanager) and ``duration`` or ``ends_at``."""
    start = _time(body, "starts_at")
    if start is not None and start > now + MAX_LEAD:
        raise Invalid(f"starts_at: {iso(start)} is more than a year ahead.")
    start = now if start is None else max(start, now)
    end = _time(body, "ends_at")
    duration = body.get("duration")
    if end is not None and duration is not None:
        raise Invalid("Give duration or ends_at, not both.")
    if end is not None:
        if end <= start:
            raise Invalid(f"ends_at: {iso(end)} is not after the start, {iso(start)}.")
        return start, end - start
    if isinstance(duration, bool) or not isinstance(duration, str | int | float):
        raise Invalid('duration: required (or ends_at), like "2h" or a number of seconds.')
    try:
        return start, parse_duration(duration)
    except ValueError as exc:
        raise Invalid(f"duration: {exc}") from None


async def add_silence(request: web.Request) -> web.Response:
    """Body ``{"matchers": "rule=slow-api,env=~prod.*", "duration": "2h", "reason": "..."}``;
    ``duration`` is text like ``2h`` or a number of seconds; ``ends_at`` may stand for
    it, and ``starts_at`` schedules the silence for later (RFC 3339 or epoch seconds)."""
    core = request.app[CORE]
    body = body_fields(await read_object(request), SILENCE_FIELDS, EXAMPLE)
    matchers, reason = body.get("matchers"), body.get("reason") or ""
    if not isinstance(matchers, str):
        raise Invalid('matchers: required, a string like "rule=slow-api,env=~prod.*".')
    if not isinstance(reason, str):
        raise Invalid("reason: must be a string.")
    start, seconds = _span(body, core.clock())
    silence = await core.silences.add(matchers, seconds, reason, api_actor(request), start)
    return json_response(silence_json(silence, core.clock()), status=201)


async def remove_silence(request: web.Request) -> web.Response:
    core = request.app[CORE]
    silence = await core.silences.remove(path_id(request, "silence"), api_actor(request))
    return json_response(silence_json(silence, core.clock()))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/silences", list_silences)
    app.router.add_post("/v1/silences", add_silence)
    app.router.add_delete("/v1/silences/{id}", remove_silence)
