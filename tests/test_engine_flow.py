"""The engine end to end on a real database (SQLite and PostgreSQL): pushed samples,
ticks at explicit times, and what a user would see in incidents, timelines and the
outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from engine_helpers import ALICE, FailingSource, incidents, open_core, outbox, tick, timeline
from sqlalchemy import select

from monitors.core import Core
from storage.models import OutboxRow


@pytest.fixture
async def core(database_url, clock) -> AsyncIterator[Core]:
    core = await open_core(database_url, clock)
    yield core
    await core.close()


async def test_opens_on_the_second_breaching_tick_and_pages_once(core, clock):
    await tick(core, clock, 900)
    assert await incidents(core) == []
    await tick(core, clock, 900)
    (incident,) = await incidents(core)
    assert (incident.status, incident.severity, incident.value) == ("open", "warning", 900)
    assert incident.threshold == 500 and incident.rule_snapshot["name"] == "slow-api"
    assert await outbox(core) == [("opened", True)]
    await tick(core, clock, 900)
    assert len(await incidents(core)) == 1 and len(await outbox(core)) == 1


async def test_resolves_itself_after_three_normal_ticks_even_when_acknowledged(core, clock):
    for value in (900, 900):
        await tick(core, clock, value)
    (incident,) = await incidents(core)
    await core.incidents.acknowledge(incident.id, ALICE)
    clock.advance(30)  # the breaching samples leave the 30 s window
    for expected in ("acknowledged", "acknowledged", "resolved"):
        await tick(core, clock, 100)
        (incident,) = await incidents(core)
        assert incident.status == expected
    assert incident.resolved_by == "auto"
    assert await timeline(core, incident.id) == ["opened", "acknowledged", "resolved"]


async def test_a_restart_between_two_breaches_keeps_the_count(database_url, clock):
    core = await open_core(database_url, clock)
    await tick(core, clock, 900)
    await core.close()
    core = await open_core(database_url, clock)  # a new process on the same database
    try:
        await tick(core, clock, 900)
        assert [i.status for i in await incidents(core)] == ["open"]
    finally:
        await core.close()


async def test_cooldown_reopens_the_same_incident_without_a_new_page(core, clock):
    await breach_then_recover(core, clock)
    for value in (900, 900):
        await tick(core, clock, value)
    (incident,) = await incidents(core)
    assert (incident.status, incident.reopen_count) == ("open", 1)
    assert await outbox(core) == [("opened", True), ("resolved", False), ("reopened", False)]


async def breach_then_recover(core, clock) -> None:
    """Two breaching ticks (opens, or reopens), three normal ones (resolves), then long
    enough for the normal samples to leave the 30 s window."""
    for value in (900, 900):
        await tick(core, clock, value)
    clock.advance(30)
    for _ in range(3):
        await tick(core, clock, 100)
    clock.advance(30)


async def test_a_reopen_says_how_many_times_never_an_incident_number(core, clock):
    """A reopen's count read as an incident ("reopened (#2)"): it is an ordinal now."""
    for _episode in range(2):
        await breach_then_recover(core, clock)
    for value in (900, 900):
        await tick(core, clock, value)
    (incident,) = await incidents(core)
    _, events = await core.incidents.show(incident.id)
    lines = [e.detail for e in events if e.kind == "reopened"]
    assert [line.split(":")[0] for line in lines] == [
        "Breaching again within the cooldown, reopened for the 1st time",
        "Breaching again within the cooldown, reopened for the 2nd time",
    ]
    assert not any("#" in line for line in lines)


async def test_cooldown_zero_opens_a_new_incident_that_pages(database_url, clock):
    core = await open_core(database_url, clock, cooldown=0)
    try:
        await breach_then_recover(core, clock)
        for value in (900, 900):
            await tick(core, clock, value)
        assert [(i.status, i.reopen_count) for i in await incidents(core)] == [
            ("resolved", 0),
            ("open", 0),
        ]
        assert [event for event, _ in await outbox(core)] == ["opened", "resolved", "opened"]
    finally:
        await core.close()


async def test_escalation_pages_and_de_escalation_edits(core, clock):
    for value in (900, 900, 5000):
        await tick(core, clock, value)
    clock.advance(30)
    await tick(core, clock, 900)
    (incident,) = await incidents(core)
    assert incident.severity == "warning"
    assert await outbox(core) == [("opened", True), ("escalated", True), ("deescalated", False)]


async def test_manual_resolve_then_breaching_again_needs_two_breaches(core, clock):
    for value in (900, 900):
        await tick(core, clock, value)
    (first,) = await incidents(core)
    await core.incidents.resolve(first.id, ALICE, "restarted the pods")
    await tick(core, clock, 900)
    assert (await incidents(core))[0].status == "resolved"
    await tick(core, clock, 900)
    (again,) = await incidents(core)  # within the cooldown: the same incident reopens
    assert (again.id, again.status, again.reopen_count) == (first.id, "open", 1)


async def test_snooze_quiets_reminders_and_the_end_of_it_is_announced(core, clock):
    for value in (900, 900):
        await tick(core, clock, value)
    (incident,) = await incidents(core)
    await core.incidents.snooze(incident.id, 3600, ALICE)
    clock.advance(3600)
    await core.timers.run()
    events = await outbox(core)
    assert events[-1] == ("snooze_ended", True)
    assert ("reminder", True) not in events  # it was snoozed, not forgotten


async def test_reminder_after_repeat_interval_while_unacknowledged(core, clock):
    for value in (900, 900):
        await tick(core, clock, value)
    await core.timers.run()
    assert ("reminder", True) not in await outbox(core)
    clock.advance(3600)
    await core.timers.run()
    assert (await outbox(core))[-1] == ("reminder", True)


async def test_repeat_interval_zero_sends_no_reminders(database_url, clock):
    core = await open_core(database_url, clock, repeat_interval="0s")
    try:
        for value in (900, 900):
            await tick(core, clock, value)
        for _ in range(3):
            clock.advance(86400)
            await core.timers.run()
        assert await outbox(core) == [("opened", True)]
    finally:
        await core.close()


async def test_a_silence_hides_a_new_incident_until_it_is_removed(core, clock):
    silence = await core.silences.add("rule=slow-api", 7200, "deploy", ALICE)
    for value in (900, 900):
        await tick(core, clock, value)
    (incident,) = await incidents(core)
    assert incident.suppressed and await outbox(core) == []  # tracked, not shown
    await core.silences.remove(silence.id, ALICE)
    await core.timers.run()
    assert await outbox(core) == [("silence_ended", True)]


async def test_escalate_after_posts_to_the_escalation_channel(database_url, clock):
    core = await open_core(database_url, clock, escalate_after="15m", escalate_to=["sre-leads"])
    try:
        for value in (900, 900):
            await tick(core, clock, value)
        clock.advance(15 * 60)
        await core.timers.run()
        async with core.db.transaction() as session:
            rows = (await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all()
        assert [(r.event, r.channel) for r in rows][-1] == ("escalated", "slack:C0SRE")
    finally:
        await core.close()


async def test_a_failing_source_raises_one_source_down_incident_and_resolves_it(core, clock):
    working = core.engine.sources["ingest"]
    core.engine.sources["ingest"] = FailingSource()
    for _ in range(4):
        await tick(core, clock, None)
    (down,) = await incidents(core)
    assert (down.kind, down.status) == ("source_down", "open")
    assert "connection refused" in down.summary
    core.engine.sources["ingest"] = working
    await tick(core, clock, 100)
    (down,) = await incidents(core)
    assert down.status == "resolved"


async def test_disabling_a_rule_resolves_its_open_incidents(core, clock):
    for value in (900, 900):
        await tick(core, clock, value)
    await core.rules.set_enabled("slow-api", False, ALICE)
    (incident,) = await incidents(core)
    assert (incident.status, incident.resolve_note) == ("resolved", "rule disabled")
    await tick(core, clock, 900)
    await tick(core, clock, 900)
    assert len(await incidents(core)) == 1  # a disabled rule is not evaluated


async def test_a_test_incident_leaves_the_series_alone(core, clock):
    test = await core.incidents.test("slow-api", ALICE)
    assert test.test
    await tick(core, clock, 900)
    await tick(core, clock, 900)
    assert [i.test for i in await incidents(core)] == [True, False]
