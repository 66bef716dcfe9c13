"""What every handler shares: app keys, JSON in and out, the acting API actor."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from aiohttp import web

from bot.metrics import Metrics
from monitors.actors import ADMIN, RESERVED_NAMES, Actor
from monitors.core import Core
from monitors.errors import Invalid, NotFound

MAX_BODY = 1024 * 1024
"""Largest request body accepted (1 MiB); bigger ones get 413."""
MAX_ID_DIGITS = 30
ACTOR_HEADER = "X-Tocsin-Actor"
MAX_ACTOR_NAME = 64

CORE: web.AppKey[Core] = web.AppKey("core", Core)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
API_TOKEN: web.AppKey[str | None] = web.AppKey("api_token")


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, headers=headers, content_type="application/json"
    )


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    """Every error the API gives: ``{"error": message, ...extra}``."""
    return json_response({"error": message, **extra}, status=status, headers=headers)


def too_large() -> web.HTTPRequestEntityTooLarge:
    return web.HTTPRequestEntityTooLarge(
        max_size=MAX_BODY, actual_size=MAX_BODY + 1, text="Request body is larger than 1 MiB."
    )


async def read_body(request: web.Request) -> bytes:
    """The raw body, refusing (413) anything over :data:`MAX_BODY`, chunked or not."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise too_large()
    try:
        return await request.read()  # stops at the app's client_max_size
    except web.HTTPRequestEntityTooLarge:
        raise too_large() from None


async def read_json(request: web.Request, *, optional: bool = False) -> Any:
    """The JSON body; an empty body is ``{}`` when ``optional``, else 400."""
    body = await read_body(request)
    if not body.strip():
        if optional:
            return {}
        raise Invalid("A JSON body is required.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"The body is not valid JSON: {exc}") from None


async def read_object(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    doc = await read_json(request, optional=optional)
    if not isinstance(doc, dict):
        raise Invalid("The body must be a JSON object.")
    return doc


def body_fields(
    body: dict[str, Any], fields: Mapping[str, Sequence[str]], example: str
) -> dict[str, Any]:
    """``body`` with each field under its own name. ``fields`` maps each field to the
    other spellings people use for it (``{"note": ("notes", "comment")}``). Unknown
    fields are refused, each with the closest known spelling, rather than dropped (a
    dropped ``starts_at`` starts the silence now); two spellings of one field are
    refused too. ``example`` is a whole valid body, for the message."""
    spelling = {name: name for name in fields} | {
        alias: name for name, aliases in fields.items() for alias in aliases
    }
    problems = []
    found: dict[str, tuple[str, Any]] = {}
    for key, value in body.items():
        name = spelling.get(key)
        if name is None:
            close = difflib.get_close_matches(key, list(spelling), n=1, cutoff=0.6)
            hint = f"did you mean '{spelling[close[0]]}'?" if close else "check the spelling"
            problems.append(f"{key}: unknown field ({hint})")
        elif name in found:
            problems.append(f"{found[name][0]} and {key} are the same field; give one")
        else:
            found[name] = (key, value)
    if problems:
        raise Invalid(f"{'; '.join(problems)}. Fields: {', '.join(fields)}; e.g. {example}.")
    return {name: value for name, (_, value) in found.items()}


def path_id(request: web.Request, what: str) -> int:
    """The ``{id}`` of the path: 400 if not a whole number. Whether it names anything
    (ids past the columns' range name nothing) is the core's to say: 404."""
    raw = request.match_info["id"]
    # Only plain ASCII digits: int() would also take "+1", " 1", "1_0" (10) and other
    # scripts' digits, and act on an incident the caller never named.
    if not (raw.isascii() and raw.isdigit()):
        article = "an" if what[:1] in "aeiou" else "a"
        raise Invalid(f"{raw!r} is not {article} {what} id; ids are whole numbers.")
    if len(raw) > MAX_ID_DIGITS:  # far out of range, and int() refuses over 4,300 digits
        raise NotFound(f"There is no {what} #{raw[:20]}...")
    return int(raw)


def finite_number(value: Any, field: str) -> float:
    """A JSON number as a float (an int past float range is refused as not finite)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(f'{field}: must be a number, e.g. {{"{field}": 60}}.')
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise Invalid(f'{field}: must be a finite number, e.g. {{"{field}": 60}}.')
    return number


def api_actor(request: web.Request) -> Actor:
    """The API acts as the admin "api" actor; ``X-Tocsin-Actor`` may name the person
    (shown in timelines), never grant roles."""
    raw = request.headers.get(ACTOR_HEADER, "")
    name = "".join(ch for ch in raw if ch.isprintable()).strip()[:MAX_ACTOR_NAME]
    if name.lower() in RESERVED_NAMES:
        raise Invalid(f"{ACTOR_HEADER}: '{name}' is Tocsin's own name; name a person.")
    return Actor(id="api", name=name or "api", surface="api", roles=frozenset({ADMIN}))


def days_param(request: web.Request, most: int, default: int, why: str = "") -> float:
    """``?days=7`` (or ``7d``): a number of days from above 0 to ``most``; 400 else."""
    raw = request.query.get("days", str(default)).strip().lower().removesuffix("d")
    try:
        days = float(raw)
    except ValueError:
        days = -1.0
    if not 0 < days <= most:
        raise Invalid(f"days: give 1 to {most} (e.g. ?days={default}){why}.")
    return days
