"""``/rule set`` in Slack and Discord: the backtest comes back with Apply and Cancel
buttons; clicking Apply saves (and replaces the preview with what was saved), Cancel
changes nothing, and a member who is not an admin is refused. Through the protocol-level
fakes: signed Slack requests and Discord gateway interactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from html import unescape
from typing import Any

import pytest
from command_helpers import snapshot
from discord_harness import Running, running_service, settings_for
from discord_payloads import ALICE, BOB
from fake_discord import CHANNEL_ID, FakeDiscord
from fake_slack import ADMIN, MEMBER
from slack_harness import eventually, slack_world

from monitors.core import Core

MESSAGE, UPDATE_MESSAGE = 4, 7
EPHEMERAL = 1 << 6


async def unchanged_but_proposals(core: Core, before: dict[str, Any]) -> bool:
    after = await snapshot(core)
    return {t: r for t, r in after.items() if t != "proposals"} == {
        t: r for t, r in before.items() if t != "proposals"
    }


# ---------------------------------------------------------------- Slack


def slack_choice(answer: dict[str, Any], verb: str) -> str:
    (block,) = [b for b in answer["blocks"] if b.get("block_id") == "tocsin:choices"]
    return next(
        e["action_id"] for e in block["elements"] if e["action_id"].startswith(f"tocsin:{verb}:")
    )


def as_message(answer: dict[str, Any]) -> dict[str, Any]:
    """The ephemeral message Slack shows for the answer (it has no ts of its own)."""
    return {**answer, "ts": "1700000000.000100", "channel": "C0ALERTS"}


async def test_slack_apply_saves_the_change_and_replaces_the_preview(sqlite_url):
    async with slack_world(sqlite_url) as world:
        await world.push("/checkout", 100)  # some history: else it saves at once
        core = world.service.core
        answer = (await world.slack.command("/rule", "set slow-api 1000", ADMIN)).json()
        assert answer["response_type"] == "ephemeral"
        assert "slow-api, warning 500 -&gt; 1000:" in answer["text"]
        buttons = [b["text"]["text"] for b in answer["blocks"][-1]["elements"]]
        assert buttons == ["Apply", "Cancel"]
        assert core.rulebook.get("slow-api").thresholds["warning"] == 500
        await world.slack.click(as_message(answer), slack_choice(answer, "apply"), ADMIN)
        (replaced,) = await eventually(lambda: world.fake.responses)
        assert replaced["replace_original"] is True
        assert "warning threshold 500 -> 1000" in unescape(replaced["text"])
        assert "blocks" in replaced and not any(
            b.get("block_id") == "tocsin:choices" for b in replaced["blocks"]
        )
        assert core.rulebook.get("slow-api").thresholds["warning"] == 1000


async def test_slack_cancel_changes_nothing(sqlite_url):
    async with slack_world(sqlite_url) as world:
        await world.push("/checkout", 100)  # some history: else it saves at once
        core = world.service.core
        answer = (await world.slack.command("/rule", "set slow-api 1000", ADMIN)).json()
        before = await snapshot(core)
        await world.slack.click(as_message(answer), slack_choice(answer, "cancel"), ADMIN)
        (replaced,) = await eventually(lambda: world.fake.responses)
        assert replaced["text"] == "Cancelled: slow-api stays as it is; nothing was saved."
        assert await unchanged_but_proposals(core, before)
        assert core.rulebook.get("slow-api").thresholds["warning"] == 500


async def test_slack_a_member_clicking_apply_is_refused(sqlite_url):
    async with slack_world(sqlite_url) as world:
        await world.push("/checkout", 100)  # some history: else it saves at once
        core = world.service.core
        answer = (await world.slack.command("/rule", "set slow-api 1000", ADMIN)).json()
        before = await snapshot(core)
        await world.slack.click(as_message(answer), slack_choice(answer, "apply"), MEMBER)
        (word,) = await eventually(lambda: world.fake.called("chat.postEphemeral"))
        assert "/rule apply needs the admin role, which bob does not have" in word["text"]
        assert not world.fake.responses  # the admin's preview and its buttons stay
        assert await snapshot(core) == before
        await world.slack.click(as_message(answer), slack_choice(answer, "apply"), ADMIN)
        await eventually(lambda: world.fake.responses)  # still good for the admin
        assert core.rulebook.get("slow-api").thresholds["warning"] == 1000


# ---------------------------------------------------------------- Discord


@pytest.fixture
async def app(fake_discord: FakeDiscord, sqlite_url: str) -> AsyncIterator[Running]:
    async with running_service(settings_for(fake_discord, sqlite_url), fake_discord) as running:
        await running.push(100)  # some history: else /rule set saves at once
        yield running


async def discord_preview(app: Running) -> dict[str, Any]:
    """``/rule set slow-api 1000`` by Alice: the ephemeral answer as a message."""
    call = await app.fake.interact(
        app.people.slash(ALICE, "rule", "set", name="slow-api", threshold=1000)
    )
    assert call.body["type"] == MESSAGE and call.body["data"]["flags"] & EPHEMERAL
    data = call.body["data"]
    assert data["content"].startswith("slow-api, warning 500 -> 1000:")
    return {**app.fake.message_object(CHANNEL_ID, data), "flags": EPHEMERAL}


def discord_choice(message: dict[str, Any], verb: str) -> str:
    ids = [c["custom_id"] for row in message["components"] for c in row["components"]]
    labels = [c["label"] for row in message["components"] for c in row["components"]]
    assert labels == ["Apply", "Cancel"]
    return next(i for i in ids if i.startswith(f"tocsin:{verb}:"))


async def test_discord_apply_saves_the_change_and_replaces_the_preview(app: Running):
    preview = await discord_preview(app)
    assert app.service.core.rulebook.get("slow-api").thresholds["warning"] == 500
    click = app.people.click(ALICE, preview, discord_choice(preview, "apply"))
    call = await app.fake.interact(click)
    assert call.body["type"] == UPDATE_MESSAGE
    assert "warning threshold 500 -> 1000" in call.body["data"]["content"]
    assert call.body["data"]["components"] == []  # the buttons are spent
    assert app.service.core.rulebook.get("slow-api").thresholds["warning"] == 1000


async def test_discord_cancel_changes_nothing(app: Running):
    preview = await discord_preview(app)
    before = await snapshot(app.service.core)
    call = await app.fake.interact(
        app.people.click(ALICE, preview, discord_choice(preview, "cancel"))
    )
    assert call.body["type"] == UPDATE_MESSAGE
    assert call.body["data"]["content"] == "Cancelled: slow-api stays as it is; nothing was saved."
    assert await unchanged_but_proposals(app.service.core, before)


async def test_discord_a_member_clicking_apply_is_refused(app: Running):
    preview = await discord_preview(app)
    before = await snapshot(app.service.core)
    call = await app.fake.interact(app.people.click(BOB, preview, discord_choice(preview, "apply")))
    assert call.body["type"] == MESSAGE and call.body["data"]["flags"] & EPHEMERAL
    assert "/rule apply needs the admin role" in call.body["data"]["content"]
    assert await snapshot(app.service.core) == before
