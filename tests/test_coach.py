"""Noise coaching and the weekly noise report: a day of a noisy rule, run through the
real engine (pushed samples, ticks, a person acknowledging the incidents that matter),
then coached by backtests over the same samples; the report goes out once a week,
once, through the outbox, whatever restarts happen."""

from __future__ import annotations

import datetime as dt

import pytest
from command_helpers import ALICE, BOB, RULES, SLOW_API, ok, refused
from discord_harness import running_service, settings_for
from rich.console import Console
from slack_harness import eventually, slack_world
from sqlalchemy import select

from bot.adapters.console import ConsoleAdapter
from bot.delivery.dispatcher import Dispatcher
from monitors.core import Core
from monitors.insight.coach import candidates
from monitors.insight.report import NoiseReport, NoiseReportConfig, due
from monitors.rules.schema import Rule
from monitors.windows.store import Sample
from storage.models import OutboxRow, ReportRow

MINUTE = 60.0
SPIKES = [30 + 100 * n for n in range(12)]
"""Minutes of the day when a 3-minute spike to 800 starts: it opens an incident (two
breaches) that resolves by itself, unacknowledged."""
LONG = [1200, 1300]
"""Minutes when a 20-minute slowdown to 900 starts: someone acknowledges it. Each comes
more than the rule's cooldown (1h) after the one before, so none reopens another."""


def value_at(minute: int) -> float:
    if any(start <= minute < start + 3 for start in SPIKES):
        return 800.0
    if any(start <= minute < start + 20 for start in LONG):
        return 900.0
    return 100.0


async def noisy_day(core: Core, clock) -> None:
    """A day of slow-api on /a, a sample and a tick a minute; the long incidents are
    acknowledged five minutes after they open."""
    start = clock()
    for minute in range(1, 24 * 60 + 1):
        clock.now = start + minute * MINUTE
        core.ingest([Sample(SLOW_API.metric, value_at(minute), {"route": "/a"}, clock())], clock())
        await core.engine.tick(core.rulebook.enabled(), now=clock())
        if any(minute == begin + 6 for begin in LONG):
            (incident,) = await core.incidents.list("open")
            await core.incidents.acknowledge(incident.id, ALICE)


@pytest.fixture
async def noisy(core, clock) -> Core:
    await noisy_day(core, clock)
    return core


def test_the_candidates_are_small_steps_of_each_kind():
    labels = [c.label for c in candidates(SLOW_API)]
    assert labels == [
        "breaches_to_open 3",
        "breaches_to_open 4",
        "warning 620",
        "warning 750",
        "window 2m",
        "window 3m",
    ]
    floor = Rule.model_validate(
        {"name": "f", "metric": "rps", "op": "<", "thresholds": {"warning": 10}, "window": "30m"}
    )
    assert [c.label for c in candidates(floor)][2:] == ["warning 8", "warning 6.7", "window 1h"]


async def test_a_noisy_rule_gets_a_concrete_change_checked_by_backtest(noisy, clock):
    coaching = await noisy.coach("slow-api", 1)
    assert (coaching.stats.opened, coaching.stats.self_resolved) == (14, 12)
    assert coaching.noisy and coaching.replayed == 14 and coaching.acknowledged == 2
    by_label = {t.candidate.label: (t.opened, t.missed) for t in coaching.trials}
    assert by_label["breaches_to_open 4"] == (2, 0)
    assert by_label["warning 750"] == (14, 0)  # 800 still breaches
    assert coaching.best.candidate.label == "breaches_to_open 4"

    reply = await ok(noisy, "/rule coach slow-api 1d")
    assert reply.text.startswith(
        "slow-api opened 14 times over the last day, 12 resolved by themselves within 4m "
        "unacknowledged: breaches_to_open 4 would have opened 2 (missing none of the 2 that "
        "were acknowledged, opening +2m later); today's rule replayed opens 14."
    )
    assert reply.table[0] == ("Change", "Would open", "Missed acknowledged", "Time to open")
    assert [c.label for c in reply.choices] == ["Apply", "Cancel"]
    applied = await ok(noisy, next(c.typed for c in reply.choices if c.verb == "apply"))
    assert applied.text.startswith("slow-api: breaches_to_open 4. Saved")
    assert noisy.rulebook.get("slow-api").breaches_to_open == 4


async def test_a_member_sees_the_advice_without_buttons_and_cannot_apply_it(noisy):
    reply = await ok(noisy, "/rule coach slow-api 1d", BOB)
    assert "breaches_to_open 4 would have opened 2" in reply.text and not reply.choices
    assert "needs the admin role" in (await refused(noisy, "/rule apply " + "A" * 22, BOB)).text


async def test_a_quiet_rule_is_not_coached(core, clock):
    reply = await ok(core, "/rule coach slow-api")
    assert reply.text == "slow-api opened no incidents over the last 7 days: nothing to coach."
    assert not reply.choices


@pytest.mark.parametrize(
    ("now", "key", "at"),
    [
        ("2027-01-18T09:00:00", "noise:2027-W03", "2027-01-18T09:00:00"),  # Monday 09:00
        ("2027-01-18T08:59:59", "noise:2027-W02", "2027-01-11T09:00:00"),  # not yet: last week's
        ("2027-01-23T22:00:00", "noise:2027-W03", "2027-01-18T09:00:00"),  # Saturday
    ],
)
def test_which_report_is_due(now, key, at):
    def epoch(text: str) -> float:
        return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()

    assert due(NoiseReportConfig(), epoch(now)) == (key, epoch(at))


async def outbox_reports(core: Core) -> list[OutboxRow]:
    async with core.db.read() as session:
        query = select(OutboxRow).where(OutboxRow.event == "report")
        return list((await session.scalars(query)).all())


async def test_the_weekly_report_is_written_once_across_restarts(sqlite_url, clock):
    core = await Core.open(sqlite_url, RULES, clock=clock)
    try:
        await noisy_day(core, clock)
        written = await NoiseReport(core, NoiseReportConfig()).run()
        assert written is not None and written.sent
        assert [c.rule.name for c in written.coached] == ["slow-api"]
        (row,) = await outbox_reports(core)
        assert row.channel == "console" and row.incident_id is None and row.notify
        card = row.payload["card"]
        assert card["title"] == "Noise report: 1 rule could be quieter"
        assert card["fields"][0][0] == "slow-api"
        assert "breaches_to_open" in card["fields"][0][1]
        assert await NoiseReport(core, NoiseReportConfig()).run() is None  # once a week
    finally:
        await core.close()
    core = await Core.open(sqlite_url, RULES, clock=clock)  # a restart: not sent again
    try:
        assert await NoiseReport(core, NoiseReportConfig()).run() is None
        assert len(await outbox_reports(core)) == 1
        clock.advance(7 * 86400)  # next week: nothing noisy in the 7 days before it
        quiet = await NoiseReport(core, NoiseReportConfig()).run()
        assert quiet is not None and not quiet.sent
        async with core.db.read() as session:
            assert len((await session.scalars(select(ReportRow))).all()) == 2
        assert len(await outbox_reports(core)) == 1
    finally:
        await core.close()


async def test_a_report_that_was_never_written_is_written_late_not_skipped(sqlite_url, clock):
    """A crash while the report was being computed leaves no row: the next check, after
    the restart, writes it."""
    core = await Core.open(sqlite_url, RULES, clock=clock)
    try:
        await noisy_day(core, clock)
    finally:
        await core.close()
    clock.advance(3600)
    core = await Core.open(sqlite_url, RULES, clock=clock)
    try:
        written = await NoiseReport(core, NoiseReportConfig()).run()
        assert written is not None and written.sent
    finally:
        await core.close()


async def test_the_report_is_delivered_like_any_message(core, clock):
    await noisy_day(core, clock)
    await NoiseReport(core, NoiseReportConfig()).run()
    console = ConsoleAdapter(Console(width=300))
    with console.console.capture() as shown:
        assert await Dispatcher(core.db, [console], core.clock).run_once() >= 1
    text = shown.get()
    assert "Noise report: 1 rule could be quieter" in text
    assert "/rule coach NAME shows a rule's change with Apply" in text
    (row,) = await outbox_reports(core)
    assert row.delivered_at is not None


async def test_a_disabled_report_writes_nothing(core, clock):
    await noisy_day(core, clock)
    assert await NoiseReport(core, NoiseReportConfig(enabled=False)).run() is None
    assert await outbox_reports(core) == []


async def test_the_report_reaches_slack_and_discord_channels(sqlite_url, fake_discord):
    async with slack_world(sqlite_url) as world:
        core = world.service.core
        coaching = await core.coach("slow-api")
        await NoiseReport(core, NoiseReportConfig()).write("noise:test", core.clock(), [coaching])
        (post,) = await eventually(lambda: world.fake.posts("C0ALERTS"))
        assert "Noise report: 1 rule could be quieter" in post["text"]
        assert post["attachments"][0]["blocks"][1]["fields"][0]["text"].startswith("*slow-api*")
    settings = settings_for(fake_discord, sqlite_url.replace("tocsin.db", "discord.db"))
    async with running_service(settings, fake_discord) as app:
        core = app.service.core
        coaching = await core.coach("slow-api")
        await NoiseReport(core, NoiseReportConfig()).write("noise:test", core.clock(), [coaching])

        def posted() -> list:
            return [
                m
                for m in app.fake.channel_messages()
                if m["embeds"] and m["embeds"][0]["title"].startswith("Noise report")
            ]

        (message,) = await eventually(posted)
        assert message["embeds"][0]["fields"][0]["name"] == "slow-api"
        assert message["components"] == []  # nothing to click on a report


async def test_a_report_key_is_written_once_on_either_database(core_each_db):
    core = core_each_db
    coaching = await core.coach("slow-api")
    report = NoiseReport(core, NoiseReportConfig())
    first = await report.write("noise:2027-W03", core.clock(), [coaching])
    assert first is not None and first.sent
    assert await report.write("noise:2027-W03", core.clock(), [coaching]) is None
    assert len(await outbox_reports(core)) == 1
