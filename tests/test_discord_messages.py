"""Incident messages on Discord, through the fake Discord: posted once as a coloured embed
with buttons, edited in place with a line in a thread, working buttons after a restart,
rate limits waited out, lost answers not doubled, and commands synced at start."""

from __future__ import annotations

import asyncio
import time

import pytest
from discord_harness import SLOW_API, running_service, settings_for
from discord_payloads import BOB, buttons_of, menu_of
from fake_discord import CHANNEL_ID, GUILD_ID, FakeDiscord
from sqlalchemy import select

from bot.service import Service
from bot.settings import CannotStart
from commands.actions import SNOOZE_CHOICES
from commands.parser import COMMANDS
from monitors.actors import SYSTEM
from monitors.routing import Destination
from storage.models import OutboxRow

WARNING_YELLOW, CRITICAL_RED, RESOLVED_GREEN = 0xECB22E, 0xE01E5A, 0x2EB67D
SILENT = 1 << 12  # SUPPRESS_NOTIFICATIONS
EPHEMERAL = 1 << 6
UPDATE_MESSAGE = 7
TARGET = f"discord:{CHANNEL_ID}"


def fields(message: dict) -> dict[str, str]:
    return {field["name"]: field["value"] for field in message["embeds"][0]["fields"]}


async def test_an_incident_from_ingested_samples_is_posted_once_with_colour_and_buttons(
    fake_discord: FakeDiscord, database_url: str
) -> None:
    async with running_service(settings_for(fake_discord, database_url), fake_discord) as app:
        incident = await app.open_incident(900)
        message = await app.posted(incident)
        await app.push(900)  # still breaching: nothing new to post
        await app.tick()
        await app.delivered()

        assert len(fake_discord.channel_messages()) == 1
        embed = message["embeds"][0]
        assert embed["title"] == f"#{incident} WARNING slow-api (route=/checkout)"
        assert embed["color"] == WARNING_YELLOW
        assert embed["url"] == SLOW_API["runbook"]
        opened_at = int((await app.incident(incident)).opened_at)
        assert f"<t:{opened_at}:" in embed["description"]  # each reader's own clock
        assert fields(message)["Value"] == "900 (threshold > 500, 80% over)"
        assert fields(message)["Status"] == "open"
        assert buttons_of(message) == {
            "Acknowledge": f"tocsin:ack:{incident}",
            "Resolve": f"tocsin:resolve:{incident}",
            "Runbook": SLOW_API["runbook"],
        }
        menu = menu_of(message)
        assert menu is not None and menu["custom_id"] == f"tocsin:snooze:{incident}"
        assert [o["value"] for o in menu["options"]] == [
            f"tocsin:snooze:{incident}:{d}" for d in SNOOZE_CHOICES
        ]
        assert message["content"].startswith("Opened")
        assert not message["flags"] & SILENT  # a new incident notifies
        assert message["allowed_mentions"] == {"parse": ["users"]}  # never @everyone
        assert (await app.message_refs())[(incident, TARGET)] == f"{CHANNEL_ID}:{message['id']}"
        # Connected as the issue asks: commands in the configured guild, guild intent only.
        assert fake_discord.commands["global"] == []  # all of them in the guild only
        assert fake_discord.commands[GUILD_ID]
        assert fake_discord.identifies[-1]["intents"] == 1


async def test_the_acknowledge_button_edits_the_message_and_adds_a_thread_line(
    fake_discord: FakeDiscord, database_url: str
) -> None:
    async with running_service(settings_for(fake_discord, database_url), fake_discord) as app:
        incident = await app.open_incident(900)
        message = await app.posted(incident)

        ack = app.people.click(BOB, message, f"tocsin:ack:{incident}")
        callback = await fake_discord.interact(ack)
        assert callback.body["type"] == UPDATE_MESSAGE
        shown = callback.body["data"]
        assert {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}[
            "Acknowledged by"
        ] == f"<@{BOB.id}>"
        assert "Acknowledge" not in buttons_of(shown)
        stored = await app.incident(incident)
        assert (stored.status, stored.acknowledged_by_ref) == ("acknowledged", f"discord:{BOB.id}")

        await app.delivered()
        assert fake_discord.thread_lines(message["id"]) == [f"Acknowledged by <@{BOB.id}>"]
        line = fake_discord.channel_messages(message["id"])[0]
        assert line["flags"] & SILENT and line["allowed_mentions"] == {"parse": []}
        assert fields(message)["Status"] == "acknowledged"  # the outbox edit, in place
        assert len(fake_discord.channel_messages()) == 1
        assert len(fake_discord.threads) == 1


async def test_escalation_and_resolution_recolour_the_same_message(
    fake_discord: FakeDiscord, sqlite_url: str
) -> None:
    async with running_service(settings_for(fake_discord, sqlite_url), fake_discord) as app:
        incident = await app.open_incident(900)
        message = await app.posted(incident)
        await app.push(3000)
        await app.tick()
        await app.delivered()
        assert message["embeds"][0]["color"] == CRITICAL_RED
        assert message["embeds"][0]["title"].startswith(f"#{incident} CRITICAL")
        escalated = fake_discord.channel_messages(message["id"])[-1]
        assert "critical" in escalated["content"].lower()
        assert not escalated["flags"] & SILENT  # an escalation notifies

        resolve = app.people.click(BOB, message, f"tocsin:resolve:{incident}")
        assert (await fake_discord.interact(resolve)).body["type"] == UPDATE_MESSAGE
        await app.delivered()
        assert message["embeds"][0]["color"] == RESOLVED_GREEN
        assert buttons_of(message) == {"Runbook": SLOW_API["runbook"]}  # nothing to click
        assert menu_of(message) is None
        assert fake_discord.thread_lines(message["id"])[-1] == f"Resolved by <@{BOB.id}>"
        assert len(fake_discord.channel_messages()) == 1


async def test_buttons_keep_working_after_a_restart(
    fake_discord: FakeDiscord, sqlite_url: str
) -> None:
    settings = settings_for(fake_discord, sqlite_url)
    async with running_service(settings, fake_discord) as app:
        incident = await app.open_incident(900)
        message = await app.posted(incident)
        await app.delivered()

    async with running_service(settings, fake_discord) as app:  # a new Service, same DB
        snooze = app.people.choose(
            BOB, message, f"tocsin:snooze:{incident}", [f"tocsin:snooze:{incident}:4h"]
        )
        assert (await fake_discord.interact(snooze)).body["type"] == UPDATE_MESSAGE
        stored = await app.incident(incident)
        assert stored.snoozed_until is not None
        assert stored.snoozed_until == pytest.approx(app.clock() + 4 * 3600, abs=30)

        ack = app.people.click(BOB, message, f"tocsin:ack:{incident}")
        assert (await fake_discord.interact(ack)).body["type"] == UPDATE_MESSAGE
        assert (await app.incident(incident)).status == "acknowledged"
        await app.delivered()
        lines = fake_discord.thread_lines(message["id"])
        assert lines[0].startswith(f"Snoozed by <@{BOB.id}> for 4h")
        assert lines[1] == f"Acknowledged by <@{BOB.id}>"
        assert len(fake_discord.channel_messages()) == 1


async def test_a_rate_limit_storm_is_waited_out_and_every_message_arrives_once(
    fake_discord: FakeDiscord, sqlite_url: str
) -> None:
    # 12 answers of 429 to posts: discord.py waits each out and tries again, five times
    # per request; then the outbox row is retried after Discord's Retry-After.
    fake_discord.fail("POST", rf"/channels/{CHANNEL_ID}/messages", 429, times=12, retry_after=0.01)
    fake_discord.fail("PATCH", rf"/channels/{CHANNEL_ID}/messages/\d+", 429, times=7)
    async with running_service(settings_for(fake_discord, sqlite_url), fake_discord) as app:
        routes = ("/a", "/b", "/c")
        incidents = [await app.open_alone(900, route) for route in routes]
        await app.delivered()
        for incident in incidents:  # acknowledged through the API: edits to deliver
            response = await app.http.post(f"/v1/alerts/{incident}/acknowledge")
            assert response.status_code == 200, response.text
        await app.delivered()

        messages = fake_discord.channel_messages()
        assert sorted(m["embeds"][0]["title"].split()[0] for m in messages) == [
            f"#{i}" for i in incidents
        ]
        for incident in incidents:
            message = app.message_of(incident)
            assert message is not None and fields(message)["Status"] == "acknowledged"
            assert len(fake_discord.thread_lines(message["id"])) == 1
        posts = fake_discord.calls_to("POST", rf"/channels/{CHANNEL_ID}/messages")
        assert len(posts) == 12 + 3  # every 429 was answered, and each post went through
        nonces: dict[str, set[str]] = {}
        for post in posts:
            nonces.setdefault(post.body["embeds"][0]["title"], set()).add(post.body["nonce"])
        assert all(len(same) == 1 for same in nonces.values())  # one nonce per message
        rows = await app.outbox()
        assert max(row.attempts for row in rows) >= 2  # the outbox retried, durably
        assert all(row.delivered_at and row.last_error is None for row in rows)


async def test_a_lost_answer_leaves_one_message_and_one_thread(
    fake_discord: FakeDiscord, sqlite_url: str
) -> None:
    # Discord creates the message, then the answer is lost (500): the retry carries the
    # same nonce with enforce_nonce, and Discord returns the message it made.
    fake_discord.fail("POST", rf"/channels/{CHANNEL_ID}/messages", 500, after_effect=True)
    fake_discord.fail("POST", r"/channels/\d+/messages/\d+/threads", 500, after_effect=True)
    async with running_service(settings_for(fake_discord, sqlite_url), fake_discord) as app:
        incident = await app.open_incident(900)
        message = await app.posted(incident)
        await app.delivered()
        ack = app.people.click(BOB, message, f"tocsin:ack:{incident}")
        await fake_discord.interact(ack)
        await app.delivered()

    posts = fake_discord.calls_to("POST", rf"/channels/{CHANNEL_ID}/messages")
    assert len(posts) == 2
    assert posts[0].body["nonce"] == posts[1].body["nonce"]
    assert posts[0].body["enforce_nonce"] is True
    assert len(fake_discord.channel_messages()) == 1
    assert len(fake_discord.calls_to("POST", r"/channels/\d+/messages/\d+/threads")) == 2
    assert fake_discord.thread_lines(message["id"]) == [f"Acknowledged by <@{BOB.id}>"]


async def test_an_unknown_channel_is_given_up_with_the_reason_and_blocks_nothing(
    fake_discord: FakeDiscord, sqlite_url: str
) -> None:
    elsewhere = {**SLOW_API, "name": "slow-elsewhere", "channels": ["nowhere"]}
    settings = settings_for(
        fake_discord,
        sqlite_url,
        rules=(SLOW_API, elsewhere),
        destinations={"nowhere": Destination(discord="999999999999999999")},
    )
    async with running_service(settings, fake_discord) as app:
        incident = await app.open_incident(900)
        await app.posted(incident)
        await app.delivered()
        rows = {row.channel: row for row in await app.outbox()}
        lost = rows["discord:999999999999999999"]
        assert lost.delivered_at is None and lost.available_at >= 1e17  # parked
        assert "Unknown Channel" in (lost.last_error or "")
        assert "discord.channel_id" in (lost.last_error or "")
        assert len(fake_discord.calls_to("POST", r"/channels/999999999999999999/messages")) == 1
        assert rows[TARGET].delivered_at is not None


async def test_commands_are_synced_globally_when_no_guild_is_configured(
    fake_discord: FakeDiscord, sqlite_url: str
) -> None:
    settings = settings_for(fake_discord, sqlite_url, guild_ids=())
    async with running_service(settings, fake_discord):
        pass
    assert set(fake_discord.commands) == {"global"}
    assert not fake_discord.calls_to("PUT", r"/applications/\d+/guilds/\d+/commands")


async def test_configuring_a_guild_removes_the_commands_once_synced_globally(
    fake_discord: FakeDiscord, sqlite_url: str
) -> None:
    async with running_service(settings_for(fake_discord, sqlite_url, guild_ids=()), fake_discord):
        pass
    assert fake_discord.commands["global"]  # a first run without guild_ids
    async with running_service(settings_for(fake_discord, sqlite_url), fake_discord):
        pass
    assert fake_discord.commands["global"] == []  # else each would show twice in the guild
    assert {c["name"] for c in fake_discord.commands[GUILD_ID]} >= {"alerts", "rule"}


async def test_every_command_of_the_table_is_a_discord_command(
    fake_discord: FakeDiscord, sqlite_url: str
) -> None:
    async with running_service(settings_for(fake_discord, sqlite_url), fake_discord):
        pass
    synced = {c["name"]: c for c in fake_discord.commands[GUILD_ID]}
    for spec in COMMANDS:
        command = synced[spec.group]
        if spec.action:
            actions = {o["name"]: o for o in command["options"]}
            options = actions[spec.action].get("options", [])
        else:
            options = command.get("options", [])
        required = [o["name"] for o in options if o.get("required")]
        assert len(required) == spec.min_args, (spec.usage, required)
        assert len(options) == len(spec.args), (spec.usage, options)
        assert all(len(o["description"]) <= 100 for o in options)
    assert all(c["contexts"] == [0] for c in synced.values())  # guilds only, not DMs


async def test_a_refused_token_stops_the_start_with_the_setting_named(
    fake_discord: FakeDiscord, sqlite_url: str
) -> None:
    settings = settings_for(fake_discord, sqlite_url).model_copy(
        update={"discord_token": "not-the-token"}
    )
    service = await Service.create(settings, interactive=False)
    try:
        with pytest.raises(CannotStart, match="DISCORD_TOKEN"):
            await service.start()
    finally:
        await service.stop()
    assert not fake_discord.commands and not fake_discord.identifies


async def test_discord_being_down_at_start_does_not_stop_the_service(sqlite_url: str) -> None:
    """Nothing listens at the configured URLs: the service starts anyway, and what is to
    be posted waits in the outbox with the reason, until Discord can be reached."""
    gone = await FakeDiscord().start()
    settings = settings_for(gone, sqlite_url)
    await gone.close()
    service = await Service.create(settings, interactive=False)
    try:
        await service.start()
        core = service.core
        await core.incidents.test("slow-api", SYSTEM)
        service.dispatcher.wake()

        async def waiting_row() -> str:
            async with core.db.read() as session:
                row = (await session.scalars(select(OutboxRow))).one()
                return row.last_error or ""

        until = time.monotonic() + 10
        while "not logged in to Discord" not in await waiting_row():
            assert time.monotonic() < until, await waiting_row()
            await asyncio.sleep(0.05)
    finally:
        await service.stop()
