"""The dispatcher under the conditions an operator meets: a crashed process's claims
taken over within seconds, two live processes never delivering one row twice, a slow
target not holding back the others, backoff with full jitter, and failures that people
see: on the incident, in /metrics, and as a "delivery failing" incident."""

from __future__ import annotations

import asyncio

import pytest
from command_helpers import ALICE, RULES, ok
from http_harness import open_incident
from sqlalchemy import select

from bot.adapters.base import Delivery, DeliveryError
from bot.delivery.dispatcher import LEASE, Dispatcher, backoff
from monitors.core import Core
from monitors.routing import Routing
from storage.db import Database
from storage.models import OutboxRow
from storage.repositories import OutboxRepository
from storage.vocabulary import IncidentKind, IncidentStatus


class Recorder:
    """A platform stand-in that records what it was asked to post or edit."""

    max_group = 1

    def __init__(self, platform: str = "console") -> None:
        self.platform = platform
        self.seen: list[Delivery] = []
        self.fail_with: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def deliver(self, delivery: Delivery) -> str:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        self.seen.append(delivery)
        return delivery.message_ref or f"msg-{delivery.card.incident_id}"


async def outbox(core: Core) -> list[OutboxRow]:
    async with core.db.read() as session:
        return list((await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all())


async def delivery_failing(core: Core) -> list:
    return [i for i in await core.incidents.list() if i.kind == IncidentKind.DELIVERY_FAILING]


def test_backoff_has_full_jitter():
    """Anywhere from 0 to the cap: equal jitter never went below half of it."""
    assert backoff(4, rng=lambda: 0.0) == 0.0
    assert backoff(4, rng=lambda: 0.5) == 4.0
    assert backoff(4, rng=lambda: 0.999) == pytest.approx(7.992)
    assert backoff(40, rng=lambda: 0.999) == pytest.approx(299.7)


async def test_a_dead_dispatchers_claims_are_taken_over_within_the_lease(core_each_db, clock):
    core, platform = core_each_db, Recorder()
    await core.incidents.test("slow-api", ALICE)
    async with core.db.transaction() as session:  # claimed by a process that then died
        await OutboxRepository(session).claim(clock.now, lease=LEASE, owner="dead:1:x")
    restarted = Dispatcher(core.db, [platform], clock, owner="new:2:y")
    assert await restarted.run_once() == 0
    clock.advance(LEASE + 0.1)  # seconds, not the old 30 s
    assert await restarted.run_once() == 1


async def test_a_live_dispatchers_heartbeat_keeps_its_claims(core_each_db, clock):
    core, platform = core_each_db, Recorder()
    await core.incidents.test("slow-api", ALICE)
    async with core.db.transaction() as session:
        await OutboxRepository(session).claim(clock.now, lease=LEASE, owner="alive:1:x")
    other = Dispatcher(core.db, [platform], clock, owner="other:2:y")
    for _ in range(3):  # the owner beats every few seconds while it works
        clock.advance(LEASE * 0.8)
        async with core.db.transaction() as session:
            await OutboxRepository(session).renew("alive:1:x", clock.now + LEASE)
        assert await other.run_once() == 0
    clock.advance(LEASE + 0.1)  # the beats stop: it died
    assert await other.run_once() == 1


@pytest.mark.postgres
async def test_two_live_dispatchers_never_deliver_the_same_row(postgres_database_url, clock):
    database_url = postgres_database_url
    core = await Core.open(database_url, clock=clock, file_rules=RULES)
    second = Database(database_url)  # its own connections, as another process has
    try:
        for _ in range(120):
            await core.incidents.test("slow-api", ALICE)
        one, two = Recorder(), Recorder()
        first_dispatcher = Dispatcher(core.db, [one], clock, owner="one", batch=7)
        second_dispatcher = Dispatcher(second, [two], clock, owner="two", batch=7)
        await asyncio.gather(first_dispatcher.run_once(), second_dispatcher.run_once())
        ids = [d.card.incident_id for d in one.seen + two.seen]
        assert sorted(ids) == sorted(set(ids)) and len(ids) == 120
        assert one.seen and two.seen, "both took part"
    finally:
        await second.close()
        await core.close()


async def test_a_slow_target_does_not_hold_back_the_others(tmp_path, clock):
    routing = Routing(defaults=("slack:C0SLOW", "console"))
    core = await Core.open(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", RULES, routing, clock)
    slow, fast = Recorder("slack"), Recorder("console")
    slow.gate = asyncio.Event()  # Slack hangs
    dispatcher = Dispatcher(core.db, [slow, fast], clock, poll_interval=0.01)
    running = asyncio.ensure_future(dispatcher.run())
    try:
        first = await core.incidents.test("slow-api", ALICE)
        second = await core.incidents.test("slow-api", ALICE)
        for _ in range(200):
            if len(fast.seen) == 2:
                break
            await asyncio.sleep(0.01)
        assert [d.card.incident_id for d in fast.seen] == [first.id, second.id]
        assert slow.seen == []
        slow.gate.set()
        for _ in range(200):
            if len(slow.seen) == 2:
                break
            await asyncio.sleep(0.01)
        assert [d.card.incident_id for d in slow.seen] == [first.id, second.id]
    finally:
        dispatcher.stop()
        await running
        await core.close()


async def test_a_target_that_keeps_failing_opens_an_incident_posted_elsewhere(tmp_path, clock):
    routing = Routing(defaults=("slack:C0GONE", "console"))
    core = await Core.open(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", RULES, routing, clock)
    slack, console = Recorder("slack"), Recorder("console")
    dispatcher = Dispatcher(core.db, [slack, console], clock, health=core.delivery_health)
    try:
        incident = await core.incidents.test("slow-api", ALICE)
        slack.fail_with = ConnectionError("Slack unreachable")
        for _ in range(5):
            await dispatcher.run_once()
            clock.advance(400)
        (alarm,) = await delivery_failing(core)
        assert alarm.labels == {"target": "slack:C0GONE"}
        assert "Messages to slack:C0GONE failed 5 times in a row" in alarm.summary
        posted = [d for d in console.seen if d.card.incident_id == alarm.id]
        assert posted and posted[0].notify, "paged on the console, not on the failing Slack"
        slack.fail_with = None
        clock.advance(400)
        await dispatcher.run_once()
        assert slack.seen[0].card.incident_id == incident.id
        alarm, _ = await core.incidents.show(alarm.id)
        assert alarm.status == IncidentStatus.RESOLVED and alarm.resolved_by == "auto"
        assert all(d.target != "slack:C0GONE" for d in slack.seen if d.card.incident_id == alarm.id)
    finally:
        await core.close()


async def test_a_permanent_failure_opens_the_incident_at_once_and_shows_on_the_alert(core, clock):
    console = Recorder("console")
    dispatcher = Dispatcher(core.db, [console], clock, health=core.delivery_health)
    incident = await core.incidents.test("slow-api", ALICE)
    console.fail_with = DeliveryError("Slack: channel_not_found", permanent=True)
    await dispatcher.run_once()
    (alarm,) = await delivery_failing(core)
    assert "cannot succeed: Slack: channel_not_found" in alarm.summary
    shown = await ok(core, f"/alerts show {incident.id}")
    assert "Delivery:\n  console: failed after 1 attempt (opened): DeliveryError: Slack: " in (
        shown.text
    )


async def test_the_api_and_metrics_show_failed_deliveries(api):
    incident_id = await open_incident(api)
    platform = Recorder("console")
    platform.fail_with = DeliveryError("Slack: not_in_channel", permanent=True)
    dispatcher = Dispatcher(api.core.db, [platform], api.core.clock)
    api.metrics.dispatcher = dispatcher
    await dispatcher.run_once()
    detail = (await api.client.get(f"/v1/alerts/{incident_id}")).json()
    (delivery,) = detail["deliveries"]
    assert delivery["status"] == "failed" and "not_in_channel" in delivery["error"]
    assert delivery["target"] == "console" and delivery["event"] == "opened"
    metrics = (await api.client.get("/metrics")).text
    assert "tocsin_outbox_failed 1.0" in metrics
    assert 'tocsin_delivery_failures_total{outcome="given_up",platform="console"} 1.0' in metrics
