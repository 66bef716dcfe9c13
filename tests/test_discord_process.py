"""`python run.py` with Discord configured as an operator configures it (DISCORD_TOKEN, the
two URL settings, the ``discord:`` keys exactly as the issue writes them), killed with
SIGKILL after posting an incident, restarted: the old message's button still works and
nothing is posted twice."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from discord_harness import eventually
from discord_payloads import BOB, Interactions, buttons_of
from fake_discord import CHANNEL_ID, FakeDiscord
from sqlalchemy import select

from storage.db import Database
from storage.models import IncidentRow, MessageRow

REPO = Path(__file__).resolve().parent.parent
CONFIG = """
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
    thresholds: {warning: 500}
"""
UPDATE_MESSAGE = 7


@dataclass
class Process:
    """One run of run.py; its output is read all along, so it never blocks on a pipe."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.lines.append(line.decode(errors="replace"))

    async def port(self) -> int:
        """The HTTP port the service reports it got (it was asked for port 0)."""

        def reported() -> int | None:
            for line in self.lines:
                found = re.search(r"Tocsin is up: .* HTTP on http://127\.0\.0\.1:(\d+)", line)
                if found:
                    return int(found[1])
            assert self.process.returncode is None, "".join(self.lines)
            return None

        return await eventually(reported, 30, "the service to start")

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()


async def start(tmp_path: Path, fake: FakeDiscord) -> Process:
    config = tmp_path / "tocsin.yaml"
    config.write_text(CONFIG)
    environment = {
        **os.environ,
        "TOCSIN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'tocsin.db'}",
        "TOCSIN_CONFIG": str(config),
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
    running = Process(process)
    running.reader = asyncio.ensure_future(running.read())
    return running


async def message_refs(tmp_path: Path) -> list[str]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tocsin.db'}")
    try:
        async with db.read() as session:
            return [row.message_ref for row in (await session.scalars(select(MessageRow))).all()]
    finally:
        await db.close()


async def push_until_posted(port: int, fake: FakeDiscord) -> dict:
    body = {"samples": [{"metric": "latency", "value": 900}]}
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(150):
            response = await client.post(f"http://127.0.0.1:{port}/v1/samples", json=body)
            assert response.status_code == 202
            if fake.channel_messages():
                return fake.channel_messages()[0]
            await asyncio.sleep(0.2)
    raise AssertionError("the incident was never posted")


@pytest.mark.slow
async def test_a_button_on_a_message_posted_before_kill_9_works_after_restart(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    first = await start(tmp_path, fake_discord)
    try:
        port = await first.port()
        await fake_discord.wait_connected(30)
        message = await push_until_posted(port, fake_discord)
        await eventually(lambda: fake_discord.commands, what="the commands synced")
        ref = f"{CHANNEL_ID}:{message['id']}"
        until = asyncio.get_running_loop().time() + 15
        while ref not in await message_refs(tmp_path):  # else its row waits out a lease
            assert asyncio.get_running_loop().time() < until, "the message ref was never stored"
            await asyncio.sleep(0.05)
    finally:
        await first.kill()

    second = await start(tmp_path, fake_discord)
    try:
        await second.port()
        await fake_discord.wait_connected(30)
        click = Interactions(fake_discord).click(BOB, message, buttons_of(message)["Acknowledge"])
        callback = await fake_discord.interact(click, within=15)
        assert callback.body["type"] == UPDATE_MESSAGE
        await eventually(lambda: fake_discord.thread_lines(message["id"]), 15, "the thread line")
        second.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.process.wait(), 30) == 0, "".join(second.lines)
    finally:
        await second.kill()
        for run in (first, second):
            if run.reader is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await run.reader

    assert fake_discord.thread_lines(message["id"]) == [f"Acknowledged by <@{BOB.id}>"]
    assert len(fake_discord.channel_messages(CHANNEL_ID)) == 1  # not posted again
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tocsin.db'}")
    try:
        async with db.read() as session:
            incidents = (await session.scalars(select(IncidentRow))).all()
        assert [(i.status, i.acknowledged_by_ref) for i in incidents] == [
            ("acknowledged", f"discord:{BOB.id}")
        ]
    finally:
        await db.close()
