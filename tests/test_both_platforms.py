"""Slack and Discord configured together, each against its fake: an incident opened by
ingested samples is posted once to each, and what is done on one platform shows on the
other (issue 7: both configured at once)."""

from __future__ import annotations

from html import unescape

from discord_harness import eventually, running_service, settings_for
from discord_payloads import BOB
from fake_discord import FakeDiscord
from fake_slack import ADMIN, BOT_TOKEN, SIGNING_SECRET, running_fake_slack

from bot.settings import SlackConfig

SLACK_CHANNEL = "C0ALERTS"
UPDATE_MESSAGE = 7


def slack_text(message: dict) -> str:
    """Everything the Slack message shows, as text."""
    (attachment,) = message["attachments"]
    parts = []
    for block in attachment["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts.extend(field["text"] for field in block.get("fields", []))
    return unescape("\n".join(parts))


async def test_an_incident_reaches_both_and_an_acknowledgement_on_discord_shows_on_slack(
    fake_discord: FakeDiscord, database_url: str
) -> None:
    async with running_fake_slack() as slack:
        settings = settings_for(
            fake_discord,
            database_url,
            slack=SlackConfig(channel=SLACK_CHANNEL, admins=[ADMIN.id]),
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=slack.api_url,
        )
        async with running_service(settings, fake_discord) as app:
            assert {p.platform for p in app.service.platforms} == {"slack", "discord"}
            incident = await app.open_incident(900)
            on_discord = await app.posted(incident)
            (on_slack,) = await eventually(lambda: slack.posts(SLACK_CHANNEL), what="a Slack post")
            await app.delivered()
            assert len(fake_discord.channel_messages()) == 1
            assert len(slack.posts()) == 1
            assert f"#{incident} WARNING slow-api" in slack_text(on_slack)

            ack = app.people.click(BOB, on_discord, f"tocsin:ack:{incident}")
            assert (await fake_discord.interact(ack)).body["type"] == UPDATE_MESSAGE
            await app.delivered()

            # Slack shows who by name: a Discord user is no one Slack could mention.
            assert on_slack.get("edits") == 1
            assert "*Acknowledged by*\nBob" in slack_text(on_slack)
            lines = [reply["text"] for reply in slack.replies(on_slack["ts"])]
            assert lines == ["Acknowledged by Bob"]
            assert fake_discord.thread_lines(on_discord["id"]) == [f"Acknowledged by <@{BOB.id}>"]
            assert len(slack.posts()) == 1 and len(fake_discord.channel_messages()) == 1
