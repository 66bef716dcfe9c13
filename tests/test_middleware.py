"""The ASGI and WSGI middleware push request events to a real Tocsin server, in batches,
and drop (counting) rather than wait when Tocsin is down or hangs."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from http_harness import serve

from bot.middleware import Pusher, TocsinASGIMiddleware, TocsinWSGIMiddleware
from monitors.rules.schema import Rule

LATENCY = Rule.model_validate(
    {
        "name": "api-latency",
        "metric": "http.request.duration_ms",
        "aggregate": "count",
        "group_by": ["route", "status", "outcome"],
        "window": "5m",
        "thresholds": {"warning": 1000},
    }
)


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["path"] == "/boom":
        raise RuntimeError("boom")
    scope["route"] = SimpleNamespace(path="/items/{id}")  # as Starlette's router does
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    status = "503 Service Unavailable" if environ["PATH_INFO"] == "/down" else "200 OK"
    start_response(status, [("Content-Type", "text/plain")])
    return [b"ok"]


async def call_asgi(app: TocsinASGIMiddleware, path: str) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": "GET", "path": path}, receive, send)


def call_wsgi(app: TocsinWSGIMiddleware, path: str) -> None:
    environ: dict[str, Any] = {"PATH_INFO": path}
    setup_testing_defaults(environ)
    body = app(environ, lambda status, headers, exc_info=None: None)
    b"".join(body)
    body.close()  # type: ignore[attr-defined]  # the server closes the body; then it is timed


async def counts(api: Any) -> dict[tuple[str, str, str], float]:
    (reading,) = (await api.core.engine.sources["ingest"].fetch([LATENCY], time.time())).values()
    return {
        (d["route"], d["status"], d["outcome"]): s.value
        for s in reading.series
        if (d := dict(s.labels))
    }


async def test_asgi_requests_reach_tocsin_with_route_template_and_status(sqlite_url):
    async with serve(sqlite_url, time.time, rules=[LATENCY]) as api:
        app = TocsinASGIMiddleware(asgi_app, api.client.base_url.__str__(), "s3cret-token")
        for i in range(3):
            await call_asgi(app, f"/items/{i}")
        with pytest.raises(RuntimeError):
            await call_asgi(app, "/boom")
        assert await asyncio.to_thread(app.pusher.flush)  # the server shares this loop
        assert await counts(api) == {
            ("/items/{id}", "201", "ok"): 3,
            ("/boom", "500", "error"): 1,
        }
        assert (app.pusher.sent, app.pusher.dropped) == (4, 0)
        app.pusher.close()


async def test_wsgi_requests_reach_tocsin(sqlite_url):
    async with serve(sqlite_url, time.time, rules=[LATENCY], token=None) as api:
        app = TocsinWSGIMiddleware(wsgi_app, str(api.client.base_url), labels={"service": "web"})
        call_wsgi(app, "/home")
        call_wsgi(app, "/down")
        assert await asyncio.to_thread(app.pusher.flush)
        assert await counts(api) == {("/home", "200", "ok"): 1, ("/down", "503", "error"): 1}
        app.pusher.close()


def test_tocsin_down_drops_and_counts_without_blocking_the_app():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        app = TocsinWSGIMiddleware(wsgi_app, f"http://127.0.0.1:{port}", flush_interval=0.05)
        for _ in range(20):
            call_wsgi(app, "/home")
        assert app.pusher.flush()
        assert (app.pusher.sent, app.pusher.dropped) == (0, 20)
        app.pusher.close()


@pytest.fixture
def hanging_server() -> Iterator[int]:
    """Accepts connections and never answers, as a wedged Tocsin would."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(100)
        yield server.getsockname()[1]


def test_a_hanging_tocsin_fills_the_queue_and_the_rest_is_dropped(hanging_server):
    pusher = Pusher(f"http://127.0.0.1:{hanging_server}", max_queue=10, batch_size=5, timeout=1)
    app = TocsinWSGIMiddleware(wsgi_app, pusher=pusher)
    for _ in range(200):  # would take 40 s if each batch were waited for
        call_wsgi(app, "/home")
    assert pusher.dropped >= 185  # only the queue (10) and one batch in flight (5) wait
    assert pusher.flush(timeout=10)
    assert (pusher.sent, pusher.dropped) == (0, 200)
    pusher.close()
