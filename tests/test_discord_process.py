"""`python run.py` with Discord configured as an operator configures it (DISCORD_TOKEN, the
two URL settings, the ``discord:`` keys exactly as the issue writes them), killed with
SIGKILL after posting an incident, restarted: the old message's button still works and
nothing is posted twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from discord_harness import ServiceProcess, eventually
from discord_payloads import BOB, Interactions, buttons_of
from fake_discord import CHANNEL_ID, FakeDiscord
from sqlalchemy import select

from storage.db import Database
from storage.models import IncidentRow, MessageRow

UPDATE_MESSAGE = 7


async def message_refs(database_url: str) -> list[str]:
    db = Database(database_url)
    try:
        async with db.read() as session:
            return [row.message_ref for row in (await session.scalars(select(MessageRow))).all()]
    finally:
        await db.close()


async def push_until_posted(port: int, fake: FakeDiscord) -> dict:
    body = {"samples": [{"metric": "latency", "value": 900, "labels": {"route": "/a"}}]}
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
    first = await ServiceProcess.start(fake_discord, tmp_path)
    try:
        port = await first.port()
        await fake_discord.wait_connected(30)
        message = await push_until_posted(port, fake_discord)
        ref = f"{CHANNEL_ID}:{message['id']}"
        until = asyncio.get_running_loop().time() + 15
        while ref not in await message_refs(first.database_url):  # else its row waits a lease
            assert asyncio.get_running_loop().time() < until, "the message ref was never stored"
            await asyncio.sleep(0.05)
    finally:
        await first.kill()

    second = await ServiceProcess.start(fake_discord, tmp_path)
    try:
        await second.port()
        await fake_discord.wait_connected(30)
        click = Interactions(fake_discord).click(BOB, message, buttons_of(message)["Acknowledge"])
        callback = await fake_discord.interact(click, within=15)
        assert callback.body["type"] == UPDATE_MESSAGE
        await eventually(lambda: fake_discord.thread_lines(message["id"]), 15, "the thread line")
        assert await second.terminate() == 0, "".join(second.lines)
    finally:
        await second.kill()

    assert fake_discord.thread_lines(message["id"]) == [f"Acknowledged by <@{BOB.id}>"]
    assert len(fake_discord.channel_messages(CHANNEL_ID)) == 1  # not posted again
    db = Database(second.database_url)
    try:
        async with db.read() as session:
            incidents = (await session.scalars(select(IncidentRow))).all()
        assert [(i.status, i.acknowledged_by_ref) for i in incidents] == [
            ("acknowledged", f"discord:{BOB.id}")
        ]
    finally:
        await db.close()
