"""``/v1/destinations``: list (secrets redacted), create (secrets encrypted), delete, and
send a test message. The config file's destinations are listed but cannot be changed
here; created ones are saved in the database and survive restarts."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.http.common import CORE, api_actor, json_response, read_object
from monitors.destinations.admin import DestinationEntry, TestAnswer, redacted
from monitors.formatting import iso


def destination_json(entry: DestinationEntry) -> dict[str, Any]:
    shown: dict[str, Any] = {"name": entry.name, "origin": entry.origin}
    if entry.destination is not None:
        shown.update(redacted(entry.destination))
        shown["targets"] = list(entry.destination.targets(entry.name))
    if entry.created_by:
        shown["created_by"] = entry.created_by
        shown["created_at"] = iso(entry.created_at)
    if entry.problem:
        shown["problem"] = entry.problem
    return shown


def answer_json(answer: TestAnswer) -> dict[str, Any]:
    return {
        "target": answer.target,
        "ok": answer.ok,
        "summary": answer.summary,
        "status": answer.status,
        "body": answer.body,
    }


async def list_destinations(request: web.Request) -> web.Response:
    entries = request.app[CORE].destinations.all()
    return json_response({"destinations": [destination_json(entry) for entry in entries]})


async def show_destination(request: web.Request) -> web.Response:
    entry = request.app[CORE].destinations.get(request.match_info["name"])
    return json_response(destination_json(entry))


async def create_destination(request: web.Request) -> web.Response:
    """``{"name": "ops-hook", "webhook": {"url", "secret", "headers"}}``; 201."""
    core = request.app[CORE]
    entry = await core.destinations.create(await read_object(request), api_actor(request))
    return json_response(
        destination_json(entry),
        status=201,
        headers={"Location": f"/v1/destinations/{entry.name}"},
    )


async def delete_destination(request: web.Request) -> web.Response:
    core = request.app[CORE]
    entry = await core.destinations.delete(request.match_info["name"], api_actor(request))
    return json_response({"deleted": destination_json(entry)})


async def test_destination(request: web.Request) -> web.Response:
    """Send a test message; 200 when every place took it, 502 when one did not."""
    core = request.app[CORE]
    name = request.match_info["name"]
    answers = await core.destinations.test(name, api_actor(request))
    ok = all(answer.ok for answer in answers)
    body = {"destination": name, "ok": ok, "answers": [answer_json(a) for a in answers]}
    return json_response(body, status=200 if ok else 502)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/destinations", list_destinations)
    app.router.add_post("/v1/destinations", create_destination)
    app.router.add_get("/v1/destinations/{name}", show_destination)
    app.router.add_delete("/v1/destinations/{name}", delete_destination)
    app.router.add_post("/v1/destinations/{name}/test", test_destination)
