"""A real Tocsin HTTP server on 127.0.0.1 (port 0) over a real Core, and an httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from bot.http.app import build_app
from bot.http.server import start_server, stop_server
from bot.metrics import Metrics
from monitors.core import Core
from monitors.rules.schema import Rule

TOKEN = "s3cret-token"
SLOW_API = Rule.model_validate(
    {
        "name": "slow-api",
        "metric": "http_request_duration_ms",
        "aggregate": "avg",
        "window": "5m",
        "interval": "1m",
        "group_by": ["route"],
        "thresholds": {"warning": 500, "critical": 2000},
    }
)


@dataclass
class Api:
    core: Core
    client: httpx.AsyncClient
    metrics: Metrics
    port: int

    async def push(self, *samples: dict[str, Any]) -> httpx.Response:
        return await self.client.post("/v1/samples", json={"samples": list(samples)})

    async def tick(self) -> None:
        await self.core.engine.tick(self.core.rulebook.enabled())


@asynccontextmanager
async def serve(
    database_url: str,
    clock: Any,
    *,
    token: str | None = TOKEN,
    rules: Sequence[Rule] = (SLOW_API,),
    send_token: bool = True,
    **core_options: Any,
) -> AsyncIterator[Api]:
    """Core + app + server + client; everything is closed on exit. ``core_options`` go
    to ``Core.open`` (event_types, environment)."""
    core = await Core.open(database_url, file_rules=rules, clock=clock, **core_options)
    metrics = Metrics(core)
    core.engine.on_tick = metrics.observe_tick
    try:
        app = build_app(core, api_token=token, metrics=metrics)
        runner, port = await start_server(app, "127.0.0.1", 0, token)
        try:
            headers = {"Authorization": f"Bearer {token}"} if token and send_token else {}
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30
            ) as client:
                yield Api(core, client, metrics, port)
        finally:
            await stop_server(runner)
    finally:
        await core.close()


async def open_incident(api: Api, route: str = "/checkout", value: float = 900.0) -> int:
    """Two breaching ticks a minute apart for ``route``; returns the incident id."""
    for _ in range(2):
        response = await api.push(
            {"metric": SLOW_API.metric, "value": value, "labels": {"route": route}}
        )
        assert response.status_code == 202, response.text
        await api.tick()
        api.core.clock.advance(60)  # type: ignore[attr-defined]
    alerts = (await api.client.get("/v1/alerts", params={"status": "all"})).json()["alerts"]
    ids = [a["id"] for a in alerts if a["labels"].get("route") == route]
    assert ids, alerts
    return ids[0]
