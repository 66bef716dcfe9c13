"""``/v1/rules``: list, show, create, change, delete. Changes go through the core's
RuleAdmin, so they are validated, saved in the database, audited and survive restarts."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.http.common import CORE, api_actor, days_param, json_response, read_object
from bot.http.serialize import backtest_json, rule_json
from monitors.backtest.compare import MAX_DAYS
from monitors.core import Core
from monitors.rules.schema import Rule


def _spec(body: dict[str, Any]) -> dict[str, Any]:
    """A rule as sent; ``origin`` (which GET adds) is dropped so a GET can be sent back."""
    return {key: value for key, value in body.items() if key != "origin"}


def _json(core: Core, rule: Rule) -> dict[str, Any]:
    return rule_json(rule, core.rulebook.origin(rule.name))


async def list_rules(request: web.Request) -> web.Response:
    core = request.app[CORE]
    return json_response({"rules": [_json(core, rule) for rule in core.rulebook.all()]})


async def show_rule(request: web.Request) -> web.Response:
    core = request.app[CORE]
    return json_response(_json(core, core.rules.get(request.match_info["name"])))


async def create_rule(request: web.Request) -> web.Response:
    """The full rule as JSON; 201, or 409 if a rule of that name exists."""
    core = request.app[CORE]
    rule = await core.rules.create(_spec(await read_object(request)), api_actor(request))
    return json_response(
        _json(core, rule), status=201, headers={"Location": f"/v1/rules/{rule.name}"}
    )


async def update_rule(request: web.Request) -> web.Response:
    """Only the fields given change; the result is validated as a whole rule."""
    core = request.app[CORE]
    patch = _spec(await read_object(request))
    rule = await core.rules.update(request.match_info["name"], patch, api_actor(request))
    return json_response(_json(core, rule))


async def reset_rule(request: web.Request) -> web.Response:
    """Back to the config file's rule: drops a saved override or undoes a deletion.
    ``{"reset": true, "rule": ...}``; ``"reset": false`` if it already followed the file."""
    core = request.app[CORE]
    rule, changed = await core.rules.reset(request.match_info["name"], api_actor(request))
    return json_response({"reset": changed, "rule": _json(core, rule)})


async def backtest_rule(request: web.Request) -> web.Response:
    """The body is a JSON Merge Patch, as for PATCH (empty: the rule as it is); the
    answer compares what it and today's rule would have opened over the last ``days``.
    Nothing is saved."""
    core = request.app[CORE]
    patch = _spec(await read_object(request, optional=True))
    days = days_param(request, MAX_DAYS, MAX_DAYS, f"; history keeps {MAX_DAYS} days")
    name = request.match_info["name"]
    _, proposed = core.rules.propose(name, patch)
    report = await core.backtest(name, patch, days)
    return json_response(backtest_json(report, proposed))


async def delete_rule(request: web.Request) -> web.Response:
    """Resolves the rule's open incidents; a rule from the file stays deleted."""
    core = request.app[CORE]
    rule = await core.rules.delete(request.match_info["name"], api_actor(request))
    return json_response({"deleted": rule.to_json()})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/rules", list_rules)
    app.router.add_post("/v1/rules", create_rule)
    app.router.add_get("/v1/rules/{name}", show_rule)
    app.router.add_patch("/v1/rules/{name}", update_rule)
    app.router.add_delete("/v1/rules/{name}", delete_rule)
    app.router.add_post("/v1/rules/{name}/reset", reset_rule)
    app.router.add_post("/v1/rules/{name}/backtest", backtest_rule)
