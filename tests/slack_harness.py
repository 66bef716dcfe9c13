"""The real Tocsin service with Slack configured against the fake Slack (fake_slack.py):
settings, samples pushed through the real ingest endpoint, ticks, and waiting for what
the dispatcher delivers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from clocks import OffsetClock
from fake_slack import ADMIN, BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackClient, running_fake_slack

from bot.adapters.console import ConsoleAdapter
from bot.service import Service
from bot.settings import Settings, SlackConfig
from monitors.rules.schema import Rule
from storage.models import IncidentRow

LATENCY = Rule.model_validate(
    {
        "name": "slow-api",
        "metric": "latency",
        "aggregate": "max",
        "window": "1m",
        "interval": "1m",  # ticked by the tests (see SlackWorld.breach)
        "group_by": ["route"],
        "thresholds": {"warning": 500, "critical": 2000},
        "runbook": "https://runbooks.example/slow-api",
    }
)


def slack_settings(database_url: str, fake: FakeSlack, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "http_port": 0,
        "rules": [LATENCY],
        "slack": SlackConfig(channel="C0ALERTS", admins=[ADMIN.id]),
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": fake.api_url,
        "timer_interval": 3600,
    }
    return Settings(**{**values, **overrides})


@dataclass
class SlackWorld:
    service: Service
    fake: FakeSlack
    slack: SlackClient
    http: httpx.AsyncClient
    clock: OffsetClock

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.service.port}"

    async def push(self, route: str, value: float) -> None:
        await self.push_all([route], value)

    async def push_all(self, routes: Sequence[str], value: float) -> None:
        """One request carrying a reading for each route."""
        samples = [{"metric": "latency", "value": value, "labels": {"route": r}} for r in routes]
        response = await self.http.post(f"{self.base}/v1/samples", json={"samples": samples})
        assert response.status_code == 202, response.text

    async def tick(self) -> None:
        core = self.service.core
        await core.engine.tick(core.rulebook.enabled())

    async def breach(self, route: str = "/checkout", value: float = 2500, ticks: int = 2) -> None:
        """Breaching readings a rule interval apart: two open an incident."""
        for _ in range(ticks):
            await self.push(route, value)
            await self.tick()
            self.clock.advance(LATENCY.interval)

    async def incidents(self) -> list[IncidentRow]:
        found = await self.service.core.incidents.list("all", limit=1000)
        return sorted(found, key=lambda incident: incident.id)


async def eventually(check: Callable[[], Any], within: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy (the dispatcher runs on its own)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for the fake Slack to receive it")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def slack_world(
    database_url: str,
    fake: FakeSlack | None = None,
    rules: Sequence[Rule] = (LATENCY,),
    console: ConsoleAdapter | None = None,
    clock: OffsetClock | None = None,
    **overrides: Any,
) -> AsyncIterator[SlackWorld]:
    """The service on ``database_url`` against ``fake`` (a new one by default; pass the
    same one to restart against it), on ``clock`` (a new OffsetClock by default)."""
    async with running_fake_slack(fake) as running:
        settings = slack_settings(database_url, running, rules=list(rules), **overrides)
        clock = clock or OffsetClock()
        running.clock = clock
        service = await Service.create(settings, interactive=False, console=console, clock=clock)
        await service.start()
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                url = f"http://127.0.0.1:{service.port}/slack/events"
                yield SlackWorld(service, running, SlackClient(url, running, http), http, clock)
        finally:
            await service.stop()
