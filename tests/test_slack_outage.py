"""Slack answers 500 for a minute, then recovers (issue 8): nothing is lost, nothing is
posted twice, the changes made meanwhile are shown, and the outage itself was an
incident people could see."""

from __future__ import annotations

import asyncio
import json

from fake_slack import FakeSlack
from slack_harness import SlackWorld, eventually, slack_world
from sqlalchemy import select, update

from monitors.actors import ADMIN as ADMIN_ROLE
from monitors.actors import Actor
from monitors.health.delivery import RULE as DELIVERY_RULE
from storage.models import OutboxRow
from storage.vocabulary import IncidentStatus

CAROL = Actor(id="api", name="carol", surface="api", roles=frozenset({ADMIN_ROLE}))
OUTAGE = 60.0


def shown(message: dict) -> str:
    return json.dumps(message.get("attachments") or message.get("blocks") or [])


async def wait_out(world: SlackWorld, done, step: float = 5.0, limit: float = 900.0) -> float:
    """Move the clock on ``step`` seconds at a time, letting the dispatcher retry, until
    ``done()``; returns the clock seconds that took."""
    moved = 0.0
    while not done():
        assert moved < limit, "deliveries did not catch up after the outage"
        world.clock.advance(step)
        moved += step
        world.service.dispatcher.wake()
        await asyncio.sleep(0.05)
    return moved


async def test_a_minute_of_500s_loses_nothing_and_doubles_nothing(database_url):
    fake = FakeSlack()
    down = True
    fake.outage = lambda: down
    async with slack_world(database_url, fake) as world:
        for route in ("/a", "/b", "/c"):
            await world.breach(route)  # critical: each its own message
        acked, resolved, untouched = await world.incidents()
        await world.service.core.incidents.acknowledge(acked.id, CAROL)
        await world.service.core.incidents.resolve(resolved.id, CAROL, "rolled back")
        assert fake.posts("C0ALERTS") == []  # every attempt so far got a 500

        back_at = world.clock() + OUTAGE  # the minute starts now
        fake.outage = lambda: world.clock() < back_at
        down = False

        def caught_up() -> bool:
            posts = fake.posts("C0ALERTS")
            return len(posts) == 3 and all(
                "Acknowledged by" in shown(p) or "Resolved" in shown(p) or "/c" in shown(p)
                for p in posts
            )

        await wait_out(world, caught_up)
        await world.service.dispatcher.run_once()  # whatever else is due, then look

        posts = fake.posts("C0ALERTS")
        by_incident = {p["metadata"]["event_payload"]["incident"]: p for p in posts}
        assert sorted(by_incident) == [acked.id, resolved.id, untouched.id]  # once each
        assert "Acknowledged by" in shown(by_incident[acked.id])
        assert "Resolved" in shown(by_incident[resolved.id])
        assert "rolled back" in json.dumps(fake.replies(by_incident[resolved.id]["ts"]))
        for post in posts:  # each thread line arrived once
            lines = [reply.get("text") for reply in fake.replies(post["ts"])]
            assert len(lines) == len(set(lines)), lines

        everything = await world.service.core.incidents.list("all", limit=100)
        (outage,) = [i for i in everything if i.rule == DELIVERY_RULE]
        assert outage.labels["target"] == "slack:C0ALERTS"
        assert outage.status == IncidentStatus.RESOLVED  # the next success closed it
        metrics = (await world.http.get(f"{world.base}/metrics")).text
        assert "tocsin_outbox_pending 0.0" in metrics


async def test_once_slack_answers_again_what_waited_for_it_goes_at_once(database_url):
    fake = FakeSlack()
    down = True
    fake.outage = lambda: down
    async with slack_world(database_url, fake) as world:
        await world.breach("/a")
        await world.breach("/b")
        first, second = await world.incidents()
        async with world.service.core.db.transaction() as session:
            later = world.clock() + 3600  # as if its backoff had grown to an hour
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.incident_id == second.id, OutboxRow.delivered_at.is_(None))
                .values(available_at=later, claimed_by=None)
            )
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.incident_id == first.id, OutboxRow.delivered_at.is_(None))
                .values(available_at=world.clock(), claimed_by=None)
            )
        down = False
        world.service.dispatcher.wake()
        posts = await eventually(lambda: len(fake.posts("C0ALERTS")) == 2 and fake.posts())
        assert {p["metadata"]["event_payload"]["incident"] for p in posts} == {
            first.id,
            second.id,
        }


async def test_a_new_incidents_post_after_an_outage_also_frees_what_waited(database_url):
    fake = FakeSlack()
    down = True
    fake.outage = lambda: down
    async with slack_world(database_url, fake) as world:
        await world.breach("/a")
        (first,) = await world.incidents()

        async def failed_once() -> bool:
            async with world.service.core.db.read() as session:
                rows = (await session.scalars(select(OutboxRow))).all()
            return any(row.last_error and row.claimed_by is None for row in rows)

        for _ in range(200):  # until its first attempt has failed and been put back
            if await failed_once():
                break
            await asyncio.sleep(0.05)
        async with world.service.core.db.transaction() as session:
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.incident_id == first.id, OutboxRow.delivered_at.is_(None))
                .values(available_at=world.clock() + 3600)  # as if backing off for an hour
            )
        down = False
        await world.breach("/b")  # Slack is back: the first thing to succeed is /b's post
        posts = await eventually(lambda: len(fake.posts("C0ALERTS")) == 2 and fake.posts())
        assert {p["metadata"]["event_payload"]["incident"] for p in posts} >= {first.id}
