"""Personal subscriptions (issue 8): ``/notify me``, ``/notify list`` and ``/notify off``
typed in Slack (signed, through the real app) and Discord (through the fake gateway),
and the direct messages that follow, through the real outbox and the fake platforms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from discord_harness import eventually as discord_eventually
from discord_harness import running_service, settings_for
from discord_payloads import BOB, buttons_of
from fake_discord import CHANNEL_ID, FakeDiscord
from fake_slack import ADMIN, MEMBER, SlackUser
from receivers import smtp_server
from slack_harness import LATENCY, SlackWorld, eventually, slack_world
from sqlalchemy import func, select

from bot.settings import EmailConfig
from commands.dispatch import handle
from monitors.actors import ADMIN as ADMIN_ROLE
from monitors.actors import Actor
from monitors.routing import Destination
from storage.models import OutboxRow, SubscriptionRow

SAM_ONE = SlackUser("U0SAMONE", "sam")
SAM_TWO = SlackUser("U0SAMTWO", "sam")
"""Two people with the same display name: subscriptions go by user id."""
ALICE = Actor(id=ADMIN.id, name="alice", surface="slack", roles=frozenset({ADMIN_ROLE}))


def dm(user: SlackUser) -> str:
    """The fake Slack's direct message channel with ``user``."""
    return "D" + user.id[1:]


def actions(message: dict) -> list[str]:
    return [
        element["action_id"]
        for attachment in message.get("attachments") or []
        for block in attachment["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def shown(message: dict) -> str:
    return str(message.get("attachments") or message.get("blocks") or message.get("text"))


async def say(world: SlackWorld, text: str, user: SlackUser = MEMBER) -> dict:
    response = await world.slack.command("/notify", text, user)
    assert response.status_code == 200, response.text
    return response.json()


async def saved(world: SlackWorld) -> int:
    async with world.service.core.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(SubscriptionRow)) or 0)


async def settle(world: SlackWorld) -> None:
    await world.service.dispatcher.run_once()


async def test_a_subscriber_gets_the_incident_as_a_dm_that_the_channel_ack_edits(database_url):
    async with slack_world(database_url) as world:
        answer = await say(world, "me rule=slow-api")
        assert answer["response_type"] == "ephemeral"
        assert answer["text"].startswith("Subscribed you: slow-api: warning and above, by direct")

        await world.breach("/checkout", 2500)
        (direct,) = await eventually(lambda: world.fake.posts(dm(MEMBER)))
        (post,) = await eventually(lambda: world.fake.posts("C0ALERTS"))
        (incident,) = await world.incidents()
        assert world.fake.called("conversations.open")[0]["users"] == MEMBER.id
        assert actions(direct) == actions(post)  # the same buttons: act from the DM
        assert f"tocsin:ack:{incident.id}" in actions(direct)
        assert direct["attachments"] == post["attachments"]

        await world.slack.click(post, f"tocsin:ack:{incident.id}", ADMIN)
        await eventually(lambda: direct.get("edits"))
        assert "Acknowledged by" in shown(direct)
        assert f"tocsin:ack:{incident.id}" not in actions(direct)

        await world.slack.click(direct, f"tocsin:resolve:{incident.id}", MEMBER)  # from the DM
        await eventually(lambda: direct.get("edits") == 2 and post.get("edits") == 2)
        await settle(world)
        assert actions(direct) == [] and actions(post) == []
        assert len(world.fake.posts(dm(MEMBER))) == 1, "edited in place, never posted twice"
        assert len(world.fake.posts(dm(ADMIN))) == 0, "only subscribers hear of it"


async def test_severity_floor_a_warning_stays_out_and_the_escalation_comes_in(sqlite_url):
    async with slack_world(sqlite_url) as world:
        await say(world, "me severity=critical")
        await world.breach("/checkout", 900)  # warning
        await eventually(lambda: world.fake.posts("C0ALERTS"))
        await settle(world)
        assert world.fake.posts(dm(MEMBER)) == []

        await world.breach("/checkout", 2500, ticks=1)  # escalates to critical
        (direct,) = await eventually(lambda: world.fake.posts(dm(MEMBER)))
        assert "CRITICAL" in shown(direct)


async def test_a_channel_that_takes_only_critical_does_not_keep_warnings_from_a_dm(sqlite_url):
    floor = Destination(slack="C0ALERTS", min_severity="critical")
    rule = LATENCY.model_copy(update={"channels": ("oncall",)})
    async with slack_world(sqlite_url, rules=[rule], destinations={"oncall": floor}) as world:
        await say(world, "me rule=slow-api severity=warning")
        await world.breach("/checkout", 900)  # a warning: below the channel's floor
        (direct,) = await eventually(lambda: world.fake.posts(dm(MEMBER)))
        assert "WARNING" in shown(direct)
        await settle(world)
        assert world.fake.posts("C0ALERTS") == []


async def test_a_person_who_cannot_get_dms_does_not_open_an_incident_for_the_team(sqlite_url):
    async with slack_world(sqlite_url) as world:
        await say(world, "me rule=slow-api")
        world.fake.fail("conversations.open", error="user_not_found", times=100)  # left
        await world.breach("/checkout", 2500)
        await eventually(lambda: world.fake.posts("C0ALERTS"))
        await settle(world)
        (incident,) = await world.incidents()  # the page itself; no "delivery failing"
        assert incident.rule == "slow-api"
        assert len(world.fake.posts("C0ALERTS")) == 1


async def test_quiet_hours_keep_a_warning_out_but_never_a_critical(sqlite_url):
    async with slack_world(sqlite_url) as world:
        now = datetime.fromtimestamp(world.clock(), UTC)
        start = (now - timedelta(hours=1)).strftime("%H:%M")
        end = (now + timedelta(hours=2)).strftime("%H:%M")
        answer = await say(world, f"me quiet={start}-{end} tz=UTC")
        assert f"quiet {start}-{end} UTC (critical still comes)" in answer["text"]

        await world.breach("/checkout", 900)  # a warning, during quiet hours
        await eventually(lambda: world.fake.posts("C0ALERTS"))
        await settle(world)
        assert world.fake.posts(dm(MEMBER)) == []  # dropped, not held: see model.py

        await world.breach("/orders", 2500)  # a critical, during quiet hours
        await eventually(lambda: len(world.fake.posts("C0ALERTS")) == 2)
        (direct,) = await eventually(lambda: world.fake.posts(dm(MEMBER)))
        assert "route=/orders" in shown(direct)


async def test_notify_off_stops_them_and_says_what_was_removed(sqlite_url):
    async with slack_world(sqlite_url) as world:
        await say(world, "me rule=slow-api severity=critical")
        await say(world, "me")
        listing = (await say(world, "list"))["text"]
        assert "Your 2 subscriptions:" in listing
        assert "every rule: warning and above" in listing
        assert "slow-api: critical only" in listing

        removed = (await say(world, "off rule=slow-api"))["text"]
        assert removed.startswith("Removed your 1 subscription:") and "slow-api" in removed
        removed = (await say(world, "off"))["text"]
        assert removed.startswith("Removed your 1 subscription:") and "every rule" in removed
        again = (await say(world, "off"))["text"]
        assert again.startswith("You had no subscription; nothing was changed.")
        assert (await say(world, "list"))["text"].startswith("You have no subscriptions.")

        await world.breach("/checkout", 2500)
        await eventually(lambda: world.fake.posts("C0ALERTS"))
        await settle(world)
        assert world.fake.posts(dm(MEMBER)) == []


async def test_repeating_notify_me_for_a_rule_updates_it(sqlite_url):
    async with slack_world(sqlite_url) as world:
        await say(world, "me rule=slow-api severity=critical")
        answer = await say(world, "me rule=Slow-API quiet=22:00-07:00 tz=Europe/Paris")
        assert answer["text"].startswith("Updated your subscription: slow-api: warning and above")
        assert "quiet 22:00-07:00 Europe/Paris" in answer["text"]
        assert await saved(world) == 1


async def test_bad_input_is_refused_with_a_reason_and_nothing_is_saved(sqlite_url):
    refusals = {
        "me rule=slow-apy": "There is no rule named 'slow-apy'. Did you mean slow-api?",
        "me severity=urgent": '"urgent" is not a severity; use warning, error or critical',
        "me quiet=22:00": '"22:00" is not a stretch of time; use HH:MM-HH:MM',
        "me quiet=25:00-07:00": "'25:00' is not a time of day",
        "me quiet=07:00-07:00": "quiet hours start and end at 07:00",
        "me quiet=22:00-07:00 tz=Mars/Olympus": "'Mars/Olympus' is not a time zone",
        "me tz=Europe/Paris": "tz= is the time zone of your quiet hours; give them too",
        "me email=not-an-address": "'not-an-address' is not an email address",
        "me email=sam@example.com": "Tocsin has no mail server configured",
        "me sevrity=critical": "did you mean severity=?",
        # email-dm:ADDRESS must fit the 200 characters a target is stored in
        f"me email={'a' * 64}@{'b' * 60}.{'c' * 60}.{'d' * 60}.com": "Tocsin takes addresses of up",
        "me slow-api": '"slow-api" is not an option',
    }
    async with slack_world(sqlite_url) as world:
        for text, reason in refusals.items():
            answer = (await say(world, text))["text"]
            assert reason in answer, (text, answer)
            assert "nothing was changed" in answer.lower() or "Usage: /notify me" in answer
        assert await saved(world) == 0


async def test_subscriptions_belong_to_a_user_id_not_a_display_name(sqlite_url):
    async with slack_world(sqlite_url) as world:
        await say(world, "me severity=critical", SAM_ONE)
        assert (await say(world, "list", SAM_TWO))["text"].startswith("You have no subscriptions")
        await say(world, "me", SAM_TWO)
        await say(world, "off", SAM_TWO)
        assert "every rule: critical only" in (await say(world, "list", SAM_ONE))["text"]

        await world.breach("/checkout", 2500)
        await eventually(lambda: world.fake.posts(dm(SAM_ONE)))
        await settle(world)
        assert world.fake.posts(dm(SAM_TWO)) == []


async def test_a_silenced_incident_reaches_no_subscriber(sqlite_url):
    async with slack_world(sqlite_url) as world:
        await say(world, "me")
        await world.slack.command("/silence", "add rule=slow-api 2h maintenance", ADMIN)
        await world.breach("/checkout", 2500)
        await settle(world)
        (incident,) = await world.incidents()  # it opened; the silence hides it
        assert incident.severity == "critical"
        assert world.fake.posts("C0ALERTS") == [] and world.fake.posts(dm(MEMBER)) == []
        async with world.service.core.db.read() as session:
            rows = (await session.scalars(select(OutboxRow))).all()
        assert [row.channel for row in rows] == []


async def test_the_console_is_told_dms_need_slack_or_discord(core):
    console = Actor(id="me", name="me", surface="console")
    reply = await handle(core, "/notify me", console)
    assert not reply.ok
    assert reply.text.startswith("Personal subscriptions send direct messages, which need Slack")
    assert "Nothing was changed." in reply.text


async def test_a_discord_subscriber_gets_an_embed_with_buttons_in_a_dm(
    fake_discord: FakeDiscord, sqlite_url: str
) -> None:
    settings = settings_for(fake_discord, sqlite_url)
    async with running_service(settings, fake_discord) as app:
        call = await fake_discord.interact(
            app.people.slash(BOB, "notify", "me", rule="slow-api", severity="critical")
        )
        answer = call.body["data"]["content"]
        assert "Subscribed you: slow-api: critical only, by direct message" in answer

        await app.open_incident(900.0)  # a warning: below bob's floor
        await app.delivered()
        assert fake_discord.direct_messages(BOB.id) == []

        incident = await app.open_incident(2500.0, route="/orders")
        (direct,) = await discord_eventually(
            lambda: fake_discord.direct_messages(BOB.id), what="bob's DM"
        )
        assert direct["guild_id"] is None and direct["channel_id"] != CHANNEL_ID
        assert direct["embeds"][0]["title"].startswith(f"#{incident} CRITICAL slow-api")
        assert f"tocsin:ack:{incident}" in buttons_of(direct).values()

        await fake_discord.interact(app.people.click(BOB, direct, f"tocsin:ack:{incident}"))
        await app.delivered()
        assert "Acknowledged" in str(direct["embeds"])
        assert len(fake_discord.direct_messages(BOB.id)) == 1  # edited, no thread in a DM

        call = await fake_discord.interact(app.people.slash(BOB, "notify", "off"))
        assert call.body["data"]["content"].startswith("Removed your 1 subscription")


async def test_a_subscriber_who_gave_an_address_gets_one_mail_thread(sqlite_url):
    mail = {"host": "127.0.0.1", "from": "tocsin@example.com", "starttls": False}
    async with smtp_server() as mailbox:
        config = EmailConfig.model_validate({**mail, "port": mailbox.port})
        async with slack_world(sqlite_url, email=config) as world:
            answer = await say(world, "me email=Sam@Example.com")
            assert "by email to Sam@example.com" in answer["text"]
            await world.breach("/checkout", 2500)
            (first,) = await eventually(lambda: mailbox.mails)
            (incident,) = await world.incidents()
            await world.service.core.incidents.resolve(incident.id, ALICE, "fixed")
            await eventually(lambda: len(mailbox.mails) == 2)
            await settle(world)
    assert first.recipients == ["Sam@example.com"]
    assert first.message["Subject"] == "[CRITICAL] slow-api route=/checkout"
    assert mailbox.mails[1].message["In-Reply-To"] == first.message["Message-ID"]
    assert world.fake.posts(dm(MEMBER)) == []  # mail instead of a direct message


async def test_a_dm_whose_answer_was_lost_is_not_posted_twice(sqlite_url):
    async with slack_world(sqlite_url) as world:
        await say(world, "me")
        world.fake.fail("chat.postMessage", lose_answer=True, times=2)  # the DM's and the channel's
        await world.breach("/checkout", 2500)
        await eventually(lambda: len(world.fake.called("conversations.history")) >= 2)
        await eventually(lambda: world.fake.posts(dm(MEMBER)) and world.fake.posts("C0ALERTS"))
        await settle(world)
        assert len(world.fake.posts(dm(MEMBER))) == 1
        assert len(world.fake.posts("C0ALERTS")) == 1
