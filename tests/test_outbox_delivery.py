"""The outbox dispatcher: at least once, in order per incident and channel, edits find
their message, failures back off (or wait for Retry-After), nothing is dropped."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.adapters.base import Delivery, DeliveryError
from bot.delivery.dispatcher import PARKED, Dispatcher
from monitors.actors import ADMIN, Actor
from storage.models import OutboxRow
from storage.repositories import OutboxRepository

ALICE = Actor("alice", "alice", "console", frozenset({ADMIN}))


class Recorder:
    """A chat platform stand-in: records what it was asked to post or edit."""

    max_group = 1

    def __init__(self, platform: str = "console") -> None:
        self.platform = platform
        self.seen: list[Delivery] = []
        self.fail_with: Exception | None = None

    async def deliver(self, delivery: Delivery) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.seen.append(delivery)
        return delivery.message_ref or f"msg-{delivery.card.incident_id}"


async def rows(core) -> list[OutboxRow]:
    async with core.db.read() as session:
        return list((await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all())


async def test_first_event_posts_and_later_events_edit_that_message(core_each_db, clock):
    core, platform = core_each_db, Recorder()
    dispatcher = Dispatcher(core.db, [platform], clock)
    incident = await core.incidents.test("slow-api", ALICE)
    await core.incidents.acknowledge(incident.id, ALICE)
    assert await dispatcher.run_once() == 2
    post, edit = platform.seen
    # a test incident is posted, without a ping (its card says no one is paged)
    assert (post.event, post.message_ref, post.notify) == ("opened", None, False)
    assert (edit.event, edit.message_ref, edit.notify) == ("acknowledged", "msg-1", False)
    assert edit.card.status == "acknowledged"
    assert all(row.delivered_at is not None for row in await rows(core))
    assert await dispatcher.run_once() == 0  # delivered once, not again


async def test_a_failure_backs_off_and_keeps_later_updates_behind_it(core, clock):
    platform = Recorder()
    dispatcher = Dispatcher(core.db, [platform], clock)
    incident = await core.incidents.test("slow-api", ALICE)
    await core.incidents.acknowledge(incident.id, ALICE)
    platform.fail_with = ConnectionError("platform unreachable")
    assert await dispatcher.run_once() == 0
    first, second = await rows(core)
    assert "platform unreachable" in first.last_error and first.delivered_at is None
    assert first.available_at > clock.now  # backed off
    assert second.attempts == 0  # never tried before the one ahead of it
    platform.fail_with = None
    clock.advance(600)
    assert await dispatcher.run_once() == 2
    assert [d.event for d in platform.seen] == ["opened", "acknowledged"]


async def test_retry_after_is_honoured_and_a_permanent_error_parks_the_row(core, clock):
    platform = Recorder()
    dispatcher = Dispatcher(core.db, [platform], clock)
    await core.incidents.test("slow-api", ALICE)
    platform.fail_with = DeliveryError("rate limited", retry_after=30)
    await dispatcher.run_once()
    (row,) = await rows(core)
    assert row.available_at == pytest.approx(clock.now + 30)
    platform.fail_with = DeliveryError("channel not found", permanent=True)
    clock.advance(31)
    await dispatcher.run_once()
    (row,) = await rows(core)
    assert row.available_at == PARKED and "channel not found" in row.last_error
    async with core.db.read() as session:
        assert await OutboxRepository(session).pending_count() == 1  # visible, not lost


async def test_a_claimed_row_whose_delivery_never_finished_goes_out_again(core, clock):
    """A crash between claiming and marking delivered: at least once."""
    platform = Recorder()
    await core.incidents.test("slow-api", ALICE)
    async with core.db.transaction() as session:
        (_claimed,) = await OutboxRepository(session).claim(clock.now, lease=30)
    dispatcher = Dispatcher(core.db, [platform], clock)
    assert await dispatcher.run_once() == 0  # still leased to the dead dispatcher
    clock.advance(31)
    assert await dispatcher.run_once() == 1
    assert platform.seen[0].event == "opened"


async def test_a_target_no_adapter_serves_stays_pending_with_a_reason(core, clock):
    dispatcher = Dispatcher(core.db, [Recorder(platform="slack")], clock)
    await core.incidents.test("slow-api", ALICE)
    assert await dispatcher.run_once() == 0
    (row,) = await rows(core)
    assert row.delivered_at is None
    assert "console: that platform is not configured" in row.last_error


async def test_an_update_waits_for_the_row_a_dead_dispatcher_left_leased(core_each_db, clock):
    """kill -9 between claiming 'opened' and marking it delivered, then an acknowledgement:
    the edit used to go out first, as a new message, and the stale 'open' card 30 s later
    (on a platform that edits by reference, over the acknowledged one)."""
    core, platform = core_each_db, Recorder()
    incident = await core.incidents.test("slow-api", ALICE)
    async with core.db.transaction() as session:  # the dead dispatcher's claim
        (_claimed,) = await OutboxRepository(session).claim(clock.now, lease=30)
    await core.incidents.acknowledge(incident.id, ALICE)
    dispatcher = Dispatcher(core.db, [platform], clock)
    assert await dispatcher.run_once() == 0  # nothing overtakes the leased row
    clock.advance(31)
    assert await dispatcher.run_once() == 2
    assert [(d.event, d.message_ref) for d in platform.seen] == [
        ("opened", None),
        ("acknowledged", "msg-1"),
    ]


async def test_an_update_waits_while_the_row_ahead_of_it_backs_off(core, clock):
    """The second failure of a row backs off longer than a released row waits: the row
    behind it used to go out first."""
    platform = Recorder()
    incident = await core.incidents.test("slow-api", ALICE)
    await core.incidents.acknowledge(incident.id, ALICE)
    dispatcher = Dispatcher(core.db, [platform], clock)
    platform.fail_with = ConnectionError("platform unreachable")
    for _ in range(6):
        await dispatcher.run_once()
        clock.advance(1)
    first, second = await rows(core)
    assert first.attempts >= 3 and second.attempts == 0  # never tried ahead of the first
    platform.fail_with = None
    clock.advance(600)
    assert await dispatcher.run_once() == 2
    assert [d.event for d in platform.seen] == ["opened", "acknowledged"]


async def test_a_parked_row_does_not_hold_back_the_updates_behind_it(core, clock):
    platform = Recorder()
    dispatcher = Dispatcher(core.db, [platform], clock)
    incident = await core.incidents.test("slow-api", ALICE)
    platform.fail_with = DeliveryError("channel not found", permanent=True)
    assert await dispatcher.run_once() == 0
    await core.incidents.acknowledge(incident.id, ALICE)
    platform.fail_with = None
    assert await dispatcher.run_once() == 1
    assert [d.event for d in platform.seen] == ["acknowledged"]
