"""Request timings from a Python web app to Tocsin, in two lines.

ASGI (FastAPI, Starlette, Django's ASGI handler)::

    from bot.middleware import TocsinASGIMiddleware
    app = TocsinASGIMiddleware(app, url="http://tocsin:8080", labels={"service": "api"})

WSGI (Flask, Django)::

    from bot.middleware import TocsinWSGIMiddleware
    app.wsgi_app = TocsinWSGIMiddleware(app.wsgi_app, url="http://tocsin:8080")

Every request becomes a request event (``POST /v1/samples``, ``kind: request``) with
its route, method, status and duration. Events are queued in memory and sent in
batches by a background thread, off the request path: when Tocsin is slow or down, or
the queue is full, events are dropped and counted (``Pusher.dropped``), never waited
for. The module uses the standard library only, so it can be copied into an app."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any

log = logging.getLogger("tocsin.middleware")

Event = dict[str, Any]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

NO_ANSWER = 499
"""Status recorded when the app never answered (the client went away)."""


class Pusher:
    """Sends events to Tocsin in batches from a daemon thread; ``push`` never blocks.

    ``dropped`` counts events that were not delivered: the queue was full, Tocsin refused
    or did not answer a batch, or a batch came while Tocsin was backing off after a
    failure (1 s, doubling to 60 s)."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_queue: int = 10_000,
        timeout: float = 2.0,
    ) -> None:
        self.endpoint = url.rstrip("/") + "/v1/samples"
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.timeout = timeout
        self.sent = 0
        self.dropped = 0
        self._queue: queue.Queue[Event] = queue.Queue(maxsize=max_queue)
        self._counts = threading.Lock()
        self._backoff = 0.0
        self._quiet_until = 0.0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tocsin-pusher", daemon=True)
        self._thread.start()

    def push(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._count_dropped(1)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was sent or dropped; False if it took too long."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (for up to ``timeout`` seconds), then stop the thread."""
        self.flush(timeout)
        self._stopping.set()
        self._thread.join(timeout)

    def _count_dropped(self, n: int) -> None:
        with self._counts:
            self.dropped += n

    def _run(self) -> None:
        while not self._stopping.is_set():
            batch = self._take()
            if batch:
                self._send(batch)
                for _ in batch:
                    self._queue.task_done()

    def _take(self) -> list[Event]:
        try:
            batch = [self._queue.get(timeout=self.flush_interval)]
        except queue.Empty:
            return []
        while len(batch) < self.batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _send(self, batch: list[Event]) -> None:
        if time.monotonic() < self._quiet_until:  # Tocsin failed lately: do not pile up
            self._count_dropped(len(batch))
            return
        body = json.dumps({"samples": batch}).encode()
        request = urllib.request.Request(self.endpoint, body, self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                answer.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self._count_dropped(len(batch))
            self._backoff = min(max(self._backoff * 2, 1.0), 60.0)
            self._quiet_until = time.monotonic() + self._backoff
            log.warning("Tocsin did not take %d events (%s); dropped", len(batch), exc)
            return
        self._backoff = 0.0
        with self._counts:
            self.sent += len(batch)


def request_event(
    route: str, method: str, status: int, started: float, labels: dict[str, str]
) -> Event:
    return {
        "kind": "request",
        "route": route,
        "method": method,
        "status": status,
        "duration_ms": (time.perf_counter() - started) * 1000.0,
        "labels": labels,
        "ts": time.time(),
    }


def _asgi_route(scope: Scope) -> str:
    template = getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) else scope.get("path", "/")


def _wsgi_route(environ: dict[str, Any]) -> str:
    rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
    template = getattr(rule, "rule", None)
    return template if isinstance(template, str) else environ.get("PATH_INFO", "/") or "/"


class _Timing:
    """What both middlewares hold: the app, the pusher, the labels every event carries,
    and how a request names its route (``route``, else ``default_route``)."""

    default_route: Callable[[Any], str]

    def __init__(
        self,
        app: Any,
        url: str = "http://127.0.0.1:8080",
        token: str | None = None,
        *,
        labels: dict[str, str] | None = None,
        route: Callable[[Any], str] | None = None,
        pusher: Pusher | None = None,
        **options: Any,
    ) -> None:
        self.app = app
        self.pusher = pusher or Pusher(url, token, **options)
        self.labels = dict(labels or {})
        self.route = route or self.default_route


class TocsinASGIMiddleware(_Timing):
    """Times every HTTP request of an ASGI app. ``route(scope)`` names the route; the
    default is the framework's route template when it sets ``scope["route"]``
    (Starlette, FastAPI), else the path (mind ids in paths: one series each)."""

    default_route = staticmethod(_asgi_route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = NO_ANSWER

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        except Exception:
            status = 500 if status == NO_ANSWER else status
            raise
        finally:
            method = scope.get("method", "GET")
            event = request_event(self.route(scope), method, status, started, self.labels)
            self.pusher.push(event)


class TocsinWSGIMiddleware(_Timing):
    """Times every request of a WSGI app, up to the end of its response body.
    ``route(environ)`` names the route; the default is Flask's (Werkzeug's) URL rule
    when there is one, else ``PATH_INFO``."""

    default_route = staticmethod(_wsgi_route)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        status = [NO_ANSWER]

        def timed_start(code: str, headers: list[Any], exc_info: Any = None) -> Any:
            status[0] = int(code.split(" ", 1)[0])
            return start_response(code, headers, exc_info)

        def record() -> None:
            method = environ.get("REQUEST_METHOD", "GET")
            event = request_event(self.route(environ), method, status[0], started, self.labels)
            self.pusher.push(event)

        try:
            body = self.app(environ, timed_start)
        except Exception:
            status[0] = 500
            record()
            raise
        return _ClosingBody(body, record)


class _ClosingBody:
    """The app's body, passed through; the request is recorded when the server closes it."""

    def __init__(self, body: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self.body = body
        self.on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.on_close()
