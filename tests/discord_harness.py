"""The real service with Discord configured against the fake Discord: Settings as an
operator writes them, samples pushed through the real ingest endpoint, ticks of the real
engine, and reads of what the fake received."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from clocks import OffsetClock
from discord_payloads import Interactions
from fake_discord import ADMIN_ROLE_ID, CHANNEL_ID, GUILD_ID, FakeDiscord
from sqlalchemy import select

from bot.service import Service
from bot.settings import DiscordConfig, Settings
from monitors.rules.schema import Rule
from storage.models import IncidentRow, MessageRow, OutboxRow

METRIC = "http.request.duration_ms"
SLOW_API = {
    "name": "slow-api",
    "metric": METRIC,
    "aggregate": "max",
    "window": "5m",
    "interval": "1h",  # the tests tick by hand; the scheduler stays out of the way
    "group_by": ["route"],
    "thresholds": {"warning": 500, "critical": 2000},
    "runbook": "https://runbooks.example/slow-api",
}
T = TypeVar("T")
REPO = Path(__file__).resolve().parent.parent
PROCESS_CONFIG = """
timer_interval: 1
discord:
  channel_id: 123456789012345678
  guild_ids: [234567890123456789]
  admin_role_ids: [345678901234567890]
rules:
  - name: fast-api
    metric: latency
    aggregate: max
    window: 2s
    interval: 1s
    group_by: [route]
    thresholds: {warning: 500}
"""
"""A config as an operator writes it, with the ``discord:`` keys exactly as documented."""


async def eventually(probe: Callable[[], T], within: float = 10.0, what: str = "") -> T:
    """``probe()`` once it is truthy; fails after ``within`` seconds."""
    until = time.monotonic() + within
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > until:
            raise AssertionError(f"timed out waiting for {what or probe}")
        await asyncio.sleep(0.02)


def card_message(
    fake: FakeDiscord, incident_id: int, channel: str = CHANNEL_ID
) -> dict[str, Any] | None:
    """The message in ``channel`` that shows incident ``incident_id``, if posted."""
    for message in fake.channel_messages(channel):
        embeds = message.get("embeds") or []
        if embeds and embeds[0]["title"].removeprefix("[TEST] ").startswith(f"#{incident_id} "):
            return message
    return None


def settings_for(
    fake: FakeDiscord,
    database_url: str,
    guild_ids: Sequence[str] = (GUILD_ID,),
    rules: Sequence[dict[str, Any]] = (SLOW_API,),
    **extra: Any,
) -> Settings:
    return Settings(
        database_url=database_url,
        http_host="127.0.0.1",
        http_port=0,
        discord_token=fake.token,
        discord_api_url=fake.api_url,
        discord_gateway_url=fake.gateway_url,
        discord=DiscordConfig(
            channel_id=CHANNEL_ID, guild_ids=list(guild_ids), admin_role_ids=[ADMIN_ROLE_ID]
        ),
        rules=[Rule.model_validate(rule) for rule in rules],
        **extra,
    )


@dataclass
class Running:
    fake: FakeDiscord
    service: Service
    http: httpx.AsyncClient
    people: Interactions
    clock: OffsetClock

    async def push(self, value: float, route: str = "/checkout") -> None:
        sample = {"metric": METRIC, "value": value, "labels": {"route": route}}
        response = await self.http.post("/v1/samples", json={"samples": [sample]})
        assert response.status_code == 202, response.text

    async def tick(self) -> None:
        core = self.service.core
        await core.engine.tick(core.rulebook.enabled())

    async def open_incident(
        self, value: float = 900.0, route: str = "/checkout", rule: str = "slow-api"
    ) -> int:
        """Two breaching ticks: the incident opens on the second; returns the id of
        ``rule``'s incident on ``route``."""
        for _ in range(2):
            await self.push(value, route)
            await self.tick()
            self.clock.advance(3600)  # the rule's interval: each reading counts
        found = await self.incidents()
        return max(i.id for i in found if i.labels.get("route") == route and i.rule == rule)

    async def open_alone(self, value: float = 900.0, route: str = "/checkout") -> int:
        """``open_incident``, then wait until it is delivered: the next incident opens
        an interval after its message, so it gets a message of its own, not a storm."""
        incident = await self.open_incident(value, route)
        await self.delivered()
        return incident

    async def posted(self, incident_id: int, within: float = 10.0) -> dict[str, Any]:
        """The channel message showing ``incident_id``, once it has been posted."""
        return await eventually(
            lambda: self.message_of(incident_id), within, f"incident #{incident_id} posted"
        )

    def message_of(self, incident_id: int, channel: str = CHANNEL_ID) -> dict[str, Any] | None:
        return card_message(self.fake, incident_id, channel)

    async def delivered(self) -> None:
        """Until every outbox row is delivered (or parked)."""
        until = time.monotonic() + 15
        while await self.pending():
            assert time.monotonic() < until, "the outbox never emptied"
            await asyncio.sleep(0.05)

    async def pending(self) -> list[OutboxRow]:
        async with self.service.core.db.read() as session:
            rows = await session.scalars(
                select(OutboxRow).where(
                    OutboxRow.delivered_at.is_(None), OutboxRow.available_at < 1e17
                )
            )
            return list(rows.all())

    async def outbox(self) -> list[OutboxRow]:
        async with self.service.core.db.read() as session:
            return list((await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all())

    async def incidents(self) -> list[IncidentRow]:
        async with self.service.core.db.read() as session:
            rows = await session.scalars(select(IncidentRow).order_by(IncidentRow.id))
            return list(rows.all())

    async def incident(self, incident_id: int) -> IncidentRow:
        return next(i for i in await self.incidents() if i.id == incident_id)

    async def message_refs(self) -> dict[tuple[int, str], str]:
        async with self.service.core.db.read() as session:
            rows = (await session.scalars(select(MessageRow))).all()
            return {(r.incident_id, r.channel): r.message_ref for r in rows}


@asynccontextmanager
async def running_service(settings: Settings, fake: FakeDiscord) -> AsyncIterator[Running]:
    """Service.create + start against the fake; stopped on exit."""
    fake.disconnected()
    clock = OffsetClock()
    service = await Service.create(settings, interactive=False, clock=clock)
    try:
        await service.start()
        await fake.wait_connected()
        (discord_platform,) = [p for p in service.platforms if p.platform == "discord"]
        client = discord_platform.client
        await eventually(client.is_ready, what="the Discord client to be ready")
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{service.port}", timeout=30
        ) as http:
            yield Running(fake, service, http, Interactions(fake), clock)
    finally:
        await service.stop()


@dataclass
class ServiceProcess:
    """``python run.py`` configured for the fake Discord through the environment, as an
    operator would (DISCORD_TOKEN and the two URL settings), asked for HTTP port 0; its
    output is read all along, so it never blocks on a full pipe."""

    process: asyncio.subprocess.Process
    database_url: str
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls,
        fake: FakeDiscord,
        directory: Path,
        config: str = PROCESS_CONFIG,
        database_url: str | None = None,
    ) -> ServiceProcess:
        """Start it with ``config`` in ``directory``, on ``database_url`` (default: a
        SQLite file there)."""
        path = directory / "tocsin.yaml"
        path.write_text(config)
        database_url = database_url or f"sqlite+aiosqlite:///{directory / 'tocsin.db'}"
        environment = {
            **os.environ,
            "TOCSIN_DATABASE_URL": database_url,
            "TOCSIN_CONFIG": str(path),
            "TOCSIN_HTTP_PORT": "0",
            "DISCORD_TOKEN": fake.token,
            "TOCSIN_DISCORD_API_URL": fake.api_url,
            "TOCSIN_DISCORD_GATEWAY_URL": fake.gateway_url,
        }
        fake.disconnected()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "run.py",
            cwd=REPO,
            env=environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        running = cls(process, database_url)
        running.reader = asyncio.ensure_future(running._read())
        return running

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.lines.append(line.decode(errors="replace"))

    async def port(self) -> int:
        """The HTTP port the service reports it got."""

        def reported() -> int | None:
            for line in self.lines:
                found = re.search(r"Tocsin is up: .* HTTP on http://127\.0\.0\.1:(\d+)", line)
                if found:
                    return int(found[1])
            assert self.process.returncode is None, "".join(self.lines)
            return None

        return await eventually(reported, 30, "the service to start")

    async def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), 30)
        await self._drained()
        return code

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        await self._drained()

    async def _drained(self) -> None:
        if self.reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
