"""``POST /v1/samples``: services push measurements into the window store.

All or nothing: one bad item refuses the whole body (400, every problem named), so a
client never has to guess which of its samples were kept."""

from __future__ import annotations

import orjson
from aiohttp import web

from bot.http.common import CORE, METRICS, error_response, json_response, read_body
from monitors.sources.pushed import IngestError, parse_samples


def _item_count(body: bytes) -> int:
    """How many samples a refused body held (for the rejected-samples counter)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 0
    items = doc.get("samples") if isinstance(doc, dict) else None
    return len(items) if isinstance(items, list) else 0


async def post_samples(request: web.Request) -> web.Response:
    """``{"samples": [{"metric", "value", "labels", "ts"}]}`` -> 202 ``{"accepted": N}``.

    ``ts`` is epoch seconds or RFC 3339 (default: now). ``dropped`` counts valid samples
    the store could not keep (older than it holds, or over its series limit)."""
    core, metrics = request.app[CORE], request.app[METRICS]
    body = await read_body(request)
    now = core.clock()
    try:
        samples = parse_samples(body, now)
    except IngestError as exc:
        metrics.count_samples(0, _item_count(body))
        return error_response(
            400, "The samples were refused; none was accepted.", errors=exc.errors
        )
    kept = core.ingest(samples, now)
    metrics.count_samples(kept, len(samples) - kept)
    return json_response({"accepted": kept, "dropped": len(samples) - kept}, status=202)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/samples", post_samples)
