"""``/v1/silences``: list, add, remove."""

from __future__ import annotations

from aiohttp import web

from bot.http.common import CORE, api_actor, json_response, path_id, read_object
from bot.http.serialize import silence_json
from monitors.durations import parse_duration
from monitors.errors import Invalid


async def list_silences(request: web.Request) -> web.Response:
    """Silences in force or still to come."""
    core = request.app[CORE]
    now = core.clock()
    return json_response({"silences": [silence_json(s, now) for s in await core.silences.list()]})


async def add_silence(request: web.Request) -> web.Response:
    """Body ``{"matchers": "rule=slow-api,env=~prod.*", "duration": "2h", "reason": "..."}``;
    ``duration`` is text like ``2h`` or a number of seconds."""
    core = request.app[CORE]
    body = await read_object(request)
    matchers, duration, reason = body.get("matchers"), body.get("duration"), body.get("reason", "")
    if not isinstance(matchers, str):
        raise Invalid('matchers: required, a string like "rule=slow-api,env=~prod.*".')
    if isinstance(duration, bool) or not isinstance(duration, str | int | float):
        raise Invalid('duration: required, like "2h" or a number of seconds.')
    if not isinstance(reason, str):
        raise Invalid("reason: must be a string.")
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise Invalid(f"duration: {exc}") from None
    silence = await core.silences.add(matchers, seconds, reason, api_actor(request))
    return json_response(silence_json(silence, core.clock()), status=201)


async def remove_silence(request: web.Request) -> web.Response:
    core = request.app[CORE]
    silence = await core.silences.remove(path_id(request, "silence"), api_actor(request))
    return json_response(silence_json(silence, core.clock()))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/silences", list_silences)
    app.router.add_post("/v1/silences", add_silence)
    app.router.add_delete("/v1/silences/{id}", remove_silence)
