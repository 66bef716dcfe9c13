"""Engine semantics at the edges (DESIGN.md "Incident semantics"), each shown
end to end on a real database: pushed samples, ticks at explicit times, timers, and what
a user would see in incidents and the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from command_helpers import fields
from engine_helpers import ALICE, RULE, FailingSource, incidents, open_core, outbox, tick

from monitors.core import Core
from monitors.incidents.cards import incident_card
from monitors.mentions import plain
from monitors.windows.store import Sample


@pytest.fixture
async def core(database_url, clock) -> AsyncIterator[Core]:
    core = await open_core(database_url, clock)
    yield core
    await core.close()


# ------------------------------------------------------------ silences


async def test_an_incident_first_shown_by_an_escalation_gets_its_reminders(core, clock):
    """Opened under a silence of the warning level, it escalates out of the silence and
    pages; from then on it is a shown, unacknowledged incident and must be reminded."""
    await core.silences.add("rule=slow-api,severity=warning", 7200, "noisy", ALICE)
    for value in (900, 900):
        await tick(core, clock, value)
    (incident,) = await incidents(core)
    assert incident.suppressed and await outbox(core) == []
    await tick(core, clock, 5000)  # critical: the silence no longer covers it
    assert await outbox(core) == [("escalated", True)]
    (incident,) = await incidents(core)
    assert not incident.suppressed  # it has been shown
    clock.advance(3600)
    await core.timers.run()
    assert (await outbox(core))[-1] == ("reminder", True)


async def test_a_hidden_incident_that_reopens_after_the_silence_pages(core, clock):
    """Opened and auto-resolved while silenced (never shown), it breaches again after the
    silence ended and within the cooldown: nobody has ever been told, so it must page,
    and later be reminded, not slip in as a quiet edit of a message that does not exist."""
    silence = await core.silences.add("rule=slow-api", 600, "deploy", ALICE)
    for value in (900, 900):
        await tick(core, clock, value)
    clock.advance(30)
    for _ in range(3):
        await tick(core, clock, 100)
    (incident,) = await incidents(core)
    assert incident.status == "resolved" and await outbox(core) == []
    clock.advance(600)  # the silence ends
    assert silence.ends_at <= clock.now
    await core.timers.run()
    for value in (900, 900):
        await tick(core, clock, value)
    (incident,) = await incidents(core)
    assert (incident.status, incident.reopen_count) == ("open", 1)
    assert await outbox(core) == [("reopened", True)]
    clock.advance(3600)
    await core.timers.run()
    assert (await outbox(core))[-1] == ("reminder", True)


async def test_a_silence_removed_before_it_starts_announces_nothing(core, clock):
    for value in (900, 900):
        await tick(core, clock, value)
    await core.incidents.acknowledge((await incidents(core))[0].id, ALICE)
    before = await outbox(core)
    later = await core.silences.add(
        "rule=slow-api", 3600, "tomorrow's deploy", ALICE, starts_at=clock.now + 86400
    )
    await core.silences.remove(later.id, ALICE)
    await core.timers.run()
    assert await outbox(core) == before  # it never silenced anything


# ------------------------------------------------------------ snooze


async def test_snooze_quiets_reminders_while_it_lasts(core, clock):
    """test_engine_flow's snooze test only runs the timers once the snooze is over, when
    the snooze-ended page resets the reminder clock: it would pass without snoozes."""
    for value in (900, 900):
        await tick(core, clock, value)
    (incident,) = await incidents(core)
    await core.incidents.snooze(incident.id, 3 * 3600, ALICE)
    clock.advance(2 * 3600)  # past repeat_interval (1h), still snoozed
    await core.timers.run()
    assert [event for event, _ in await outbox(core)] == ["opened", "snoozed"]


async def test_an_auto_resolved_incident_is_no_longer_snoozed(core, clock):
    """A manual resolve clears the snooze; the automatic one did not, so the resolved
    card went on saying "Snoozed until ...", and a reopen inherited the old snooze."""
    for value in (900, 900):
        await tick(core, clock, value)
    (incident,) = await incidents(core)
    await core.incidents.snooze(incident.id, 86400, ALICE)
    clock.advance(30)
    for _ in range(3):
        await tick(core, clock, 100)
    (incident,) = await incidents(core)
    assert incident.status == "resolved"
    assert incident.snoozed_until is None


# ------------------------------------------------------------ no data


async def test_no_data_alerting_keeps_the_level_of_a_firing_incident(database_url, clock):
    """no_data=alerting counts a gap as a breach; it must not de-escalate a critical
    incident to warning (with a "no data > no data" line) because samples stopped."""
    core = await open_core(database_url, clock, no_data="alerting")
    try:
        for value in (5000, 5000):
            await tick(core, clock, value)
        (incident,) = await incidents(core)
        assert incident.severity == "critical"
        clock.advance(30)  # samples stop: no data
        await tick(core, clock, None)
        (incident,) = await incidents(core)
        assert incident.severity == "critical"
        assert [e for e, _ in await outbox(core)] == ["opened"]
    finally:
        await core.close()


async def test_a_series_missing_after_a_restart_reads_no_data(database_url, clock):
    """A series that sent nothing for longer than the window journal keeps (twice the
    longest window) is not in the store after a restart, so the source does not list it
    at all; it must still read "no data", so that the rule's no_data policy (here: ok)
    resolves the incident instead of leaving it open forever."""
    grouped = {"no_data": "ok", "group_by": ["route"]}
    core = await open_core(database_url, clock, **grouped)
    for _ in range(2):
        now = clock.advance(10)
        core.store.add_many([Sample("latency", 900, {"route": "/pay"}, now)], now=now)
        await core.engine.tick(core.rulebook.enabled(), now=now)
    assert [i.labels for i in await incidents(core)] == [{"route": "/pay"}]
    await core.close()
    clock.advance(120)  # down for two minutes: the journal keeps one (2 x 30s, at least 60s)
    core = await open_core(database_url, clock, **grouped)
    assert core.store.stats()["series"] == 0
    try:
        for _ in range(3):
            await tick(core, clock, None)
        (incident,) = await incidents(core)
        assert (incident.status, incident.resolved_by) == ("resolved", "auto")
    finally:
        await core.close()


# ------------------------------------------------------------ disabling a rule


async def test_a_rule_disabled_in_the_file_resolves_its_incidents_at_start(database_url, clock):
    """Disabling through chat/API resolves the rule's incidents. Disabling it in the rule
    file and restarting left them open for ever, re-announced every repeat_interval."""
    core = await open_core(database_url, clock)
    for value in (900, 900):
        await tick(core, clock, value)
    await core.close()
    core = await open_core(database_url, clock, enabled=False)
    try:
        (incident,) = await incidents(core)
        assert incident.status == "resolved"
        clock.advance(3600)
        await core.timers.run()
        assert ("reminder", True) not in await outbox(core)
    finally:
        await core.close()


async def test_a_restart_with_the_same_rules_leaves_incidents_alone(database_url, clock):
    core = await open_core(database_url, clock, group_by=["route", "status"])
    for value in (900, 900):
        await tick(core, clock, value)
    await core.close()
    core = await open_core(database_url, clock, group_by=["status", "route"])  # same series
    try:
        (incident,) = await incidents(core)
        assert (incident.status, incident.resolve_note) == ("open", None)
        await tick(core, clock, 900)  # still the same series: no second incident
        assert len(await incidents(core)) == 1
    finally:
        await core.close()


@pytest.mark.parametrize("changed", [{"group_by": ["route", "status"]}, {"metric": "other"}])
async def test_a_rule_reading_other_series_after_a_file_edit_resolves_at_start(
    database_url, clock, changed
):
    """Its old series would never be read again, so their incidents could never resolve."""
    core = await open_core(database_url, clock, group_by=["route"])
    for value in (900, 900):
        await tick(core, clock, value)
    await core.close()
    core = await open_core(database_url, clock, **{"group_by": ["route"], **changed})
    try:
        (incident,) = await incidents(core)
        assert (incident.status, incident.resolve_note) == ("resolved", "rule changed")
        _, events = await core.incidents.show(incident.id)
        assert events[-1].detail == "Resolved: rule slow-api was changed in the rule file"
        assert core.cache.series_of("slow-api") == []
    finally:
        await core.close()


async def test_changing_what_a_rule_reads_resolves_its_incidents_but_a_threshold_does_not(
    database_url, clock
):
    core = await open_core(database_url, clock, group_by=["route"])
    try:
        for value in (900, 900):
            await tick(core, clock, value)
        await core.rules.update("slow-api", {"thresholds": {"warning": 600}}, ALICE)
        (incident,) = await incidents(core)
        assert incident.status == "open"
        await core.rules.update("slow-api", {"group_by": ["service"]}, ALICE)
        (incident,) = await incidents(core)
        assert (incident.status, incident.resolved_by) == ("resolved", "alice")
        _, events = await core.incidents.show(incident.id)
        assert plain(events[-1].detail) == "Resolved: rule slow-api was changed by alice"
    finally:
        await core.close()


async def test_a_saved_rule_that_no_longer_validates_keeps_its_incidents(database_url, clock):
    """A rule saved through the API with interval 500ms (allowed before rule durations
    started at 1s) is ignored at start-up. Its incidents were resolved "removed in the
    rule file" and its series forgotten, though nobody removed anything."""
    from storage.repositories import RuleRepository

    core = await Core.open(database_url, [], clock=clock)
    await core.rules.create({**RULE, "name": "saved-api"}, ALICE)
    for value in (900, 900):
        await tick(core, clock, value)
    async with core.db.transaction() as session:
        spec = {**core.rulebook.get("saved-api").to_json(), "interval": "500ms"}
        await RuleRepository(session).save("saved-api", spec, clock.now, "old-version")
    await core.close()
    core = await Core.open(database_url, [], clock=clock)
    try:
        assert core.rulebook.get("saved-api") is None and core.rulebook.load_errors
        (incident,) = await incidents(core)
        assert (incident.status, incident.resolve_note) == ("open", None)
    finally:
        await core.close()


# ------------------------------------------------------------ reopen and escalate_after


async def test_a_reopened_incident_is_not_escalated_for_time_it_was_resolved(database_url, clock):
    """escalate_after is about time spent unacknowledged. An incident acknowledged at once,
    resolved, and reopened 40 minutes later within the cooldown was escalated on the
    next timer pass, "Unacknowledged for 40m", seconds after the reopen."""
    core = await open_core(database_url, clock, escalate_after="15m", escalate_to=["sre-leads"])
    try:
        for value in (900, 900):
            await tick(core, clock, value)
        (incident,) = await incidents(core)
        await core.incidents.acknowledge(incident.id, ALICE)
        await core.incidents.resolve(incident.id, ALICE)
        clock.advance(40 * 60)
        for value in (900, 900):
            await tick(core, clock, value)
        (incident,) = await incidents(core)
        assert (incident.status, incident.reopen_count) == ("open", 1)
        await core.timers.run()
        assert ("escalated", True) not in await outbox(core)
    finally:
        await core.close()


async def test_a_reopen_re_arms_escalation_and_delays_the_reminder(database_url, clock):
    """Escalated once, resolved, reopened quietly within the cooldown: the new episode
    escalates again after escalate_after, and no reminder comes straight after the reopen."""
    core = await open_core(
        database_url, clock, escalate_after="15m", escalate_to=["sre-leads"], repeat_interval="1h"
    )
    try:
        for value in (900, 900):
            await tick(core, clock, value)
        clock.advance(16 * 60)
        await core.timers.run()
        (incident,) = await incidents(core)
        await core.incidents.resolve(incident.id, ALICE)
        clock.advance(50 * 60)  # past the first page's repeat_interval, within the cooldown
        for value in (900, 900):
            await tick(core, clock, value)
        await core.timers.run()
        events = [event for event, _ in await outbox(core)]
        assert events == ["opened", "escalated", "resolved", "reopened"]
        clock.advance(16 * 60)
        await core.timers.run()
        assert [event for event, _ in await outbox(core)][-1] == "escalated"
    finally:
        await core.close()


# ------------------------------------------------------------ source down, by hand


async def test_a_source_down_incident_resolved_by_hand_is_not_raised_again_until_it_recovers(
    core, clock
):
    """A gap in the transition tests: resolving the meta-incident by hand while the source
    is still down must not open another one each tick; a later outage opens a new one."""
    working = core.engine.sources["ingest"]
    core.engine.sources["ingest"] = FailingSource()
    for _ in range(3):
        await tick(core, clock, None)
    (down,) = await incidents(core)
    await core.incidents.resolve(down.id, ALICE, "known outage")
    for _ in range(5):
        await tick(core, clock, None)
    assert [(i.kind, i.status) for i in await incidents(core)] == [("source_down", "resolved")]
    core.engine.sources["ingest"] = working
    await tick(core, clock, 100)
    core.engine.sources["ingest"] = FailingSource()
    for _ in range(3):
        await tick(core, clock, None)
    assert [i.status for i in await incidents(core)] == ["resolved", "open"]


# ------------------------------------------------------------ percent change


async def test_a_percent_change_incident_says_what_changed(database_url, clock):
    core = await open_core(
        database_url,
        clock,
        threshold_type="percent_change",
        thresholds={"warning": 50},
        breaches_to_open=1,
    )
    try:
        now = clock.advance(10)
        core.store.add_many([Sample("latency", 100, {}, now - k) for k in range(3)], now=now)
        now = clock.advance(30)  # the next window: 250, +150 %
        core.store.add_many([Sample("latency", 250, {}, now - k) for k in range(3)], now=now)
        await core.engine.tick(core.rulebook.enabled(), now=now)
        (incident,) = await incidents(core)
        assert incident.summary == (
            "+150% > +50% (change in avg of latency against the previous window)"
        )
        assert (incident.value, incident.threshold) == (150.0, 50.0)
        card = fields(incident_card(incident, now))
        assert card["Value"] == "+150% (threshold > +50%, +100 points)"  # was "250 (> 50)"
        assert card["Metric"] == "change in avg of latency over 30s against the previous 30s"
    finally:
        await core.close()


async def test_a_share_of_samples_incident_says_percent(database_url, clock):
    """percent_where values are percentages of samples: the card said "50 (threshold > 2)"."""
    core = await open_core(
        database_url,
        clock,
        aggregate="percent_where",
        where={"status": "5.."},
        thresholds={"warning": 2},
        breaches_to_open=1,
    )
    try:
        now = clock.advance(10)
        statuses = ["200", "503", "200", "500"]
        core.store.add_many(
            [Sample("latency", 100, {"status": s}, now - k) for k, s in enumerate(statuses)],
            now=now,
        )
        await core.engine.tick(core.rulebook.enabled(), now=now)
        (incident,) = await incidents(core)
        assert incident.summary == "50% > 2% (percent_where of latency)"
        assert fields(incident_card(incident, now))["Value"] == "50% (threshold > 2%, +48 points)"
    finally:
        await core.close()
