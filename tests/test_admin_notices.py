"""Admins hear in chat about saved rule overrides whose file rule changed (issue 10,
item 5): on Slack as a direct message to each of ``slack.admins``, on Discord in the
alert channel mentioning the admin roles; delivered once through the outbox, and not
repeated at every restart: a notice still true is said again once a day at most."""

from __future__ import annotations

from clocks import OffsetClock
from discord_harness import SLOW_API, eventually, running_service, settings_for
from fake_discord import ADMIN_ROLE_ID, CHANNEL_ID, FakeDiscord
from fake_slack import ADMIN, FakeSlack
from slack_harness import LATENCY, slack_world

from bot.settings import SlackConfig
from monitors.actors import ADMIN as ADMIN_ROLE
from monitors.actors import Actor
from monitors.rules.schema import Rule

ALICE = Actor(id="U0ADMIN", name="alice", surface="slack", roles=frozenset({ADMIN_ROLE}))
OTHER_ADMIN = "U0OTHER"
ADMINS = SlackConfig(channel="C0ALERTS", admins=[ADMIN.id, OTHER_ADMIN])
EDITED = LATENCY.model_copy(update={"window": 120.0})
"""The file's rule, changed (in git, say) after alice saved her threshold over it."""
DAY = 86400.0


def direct_messages(fake: FakeSlack, user: str) -> list[str]:
    return [m["text"] for m in fake.messages.get("D" + user[1:], [])]


async def save_an_override(database_url: str, fake: FakeSlack, rule: Rule) -> None:
    async with slack_world(database_url, fake, rules=(rule,)) as world:
        await world.service.core.rules.set_threshold(rule.name, 900, None, ALICE)


async def test_each_slack_admin_gets_a_direct_message_once_and_again_a_day_later(database_url):
    fake = FakeSlack()
    await save_an_override(database_url, fake, LATENCY)
    assert direct_messages(fake, ADMIN.id) == []  # the file had not changed: nothing to say

    async with slack_world(database_url, fake, rules=(EDITED,), slack=ADMINS) as world:
        (notice,) = world.service.core.admin_notices
        said = await eventually(lambda: direct_messages(fake, ADMIN.id))
        await eventually(lambda: direct_messages(fake, OTHER_ADMIN))
        await world.service.dispatcher.run_once()
    assert said == ["*Tocsin, for admins:* " + notice]
    assert "Rule slow-api: the saved override by alice" in said[0]
    assert "/rule reset slow-api takes the file's" in said[0]
    assert fake.posts("C0ALERTS") == []  # admins only, not the alert channel

    async with slack_world(database_url, fake, rules=(EDITED,), slack=ADMINS) as world:
        assert world.service.core.admin_notices == [notice]  # still true...
        await world.service.dispatcher.run_once()
    assert len(direct_messages(fake, ADMIN.id)) == 1  # ...but said within the day

    a_day_later = OffsetClock()
    a_day_later.advance(DAY + 60)
    async with slack_world(
        database_url, fake, rules=(EDITED,), slack=ADMINS, clock=a_day_later
    ) as world:
        await eventually(lambda: len(direct_messages(fake, ADMIN.id)) == 2)
        await world.service.dispatcher.run_once()
    assert len(direct_messages(fake, OTHER_ADMIN)) == 2


async def test_a_direct_message_whose_answer_was_lost_is_not_sent_twice(database_url):
    fake = FakeSlack()
    await save_an_override(database_url, fake, LATENCY)
    fake.fail("chat.postMessage", lose_answer=True)
    async with slack_world(database_url, fake, rules=(EDITED,), slack=ADMINS) as world:
        await eventually(lambda: len(fake.called("conversations.history")) >= 1)
        await eventually(lambda: direct_messages(fake, OTHER_ADMIN))
        await world.service.dispatcher.run_once()
    assert len(direct_messages(fake, ADMIN.id)) == 1
    assert len(direct_messages(fake, OTHER_ADMIN)) == 1


async def test_discord_admins_hear_of_it_in_the_alert_channel_by_their_role(
    fake_discord: FakeDiscord, database_url: str
) -> None:
    settings = settings_for(fake_discord, database_url)
    async with running_service(settings, fake_discord) as app:
        await app.service.core.rules.set_threshold("slow-api", 900, None, ALICE)
    edited = {**SLOW_API, "window": "10m"}
    edited_settings = settings_for(fake_discord, database_url, rules=(edited,))
    async with running_service(edited_settings, fake_discord) as app:
        (notice,) = await eventually(fake_discord.channel_messages, what="the notice")
        await app.delivered()
    assert notice["content"].startswith(f"<@&{ADMIN_ROLE_ID}> **Tocsin, for admins:** Rule slow")
    mentions = notice["allowed_mentions"]  # the admin role, and no one else
    assert mentions["parse"] == [] and [str(r) for r in mentions["roles"]] == [ADMIN_ROLE_ID]
    assert notice["channel_id"] == CHANNEL_ID
    async with running_service(edited_settings, fake_discord) as app:
        await app.delivered()
    assert len(fake_discord.channel_messages()) == 1  # not again at the next start
