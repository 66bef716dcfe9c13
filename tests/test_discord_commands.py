"""Slash commands, clicks, the rule modal and autocomplete on Discord, through the fake
Discord: who may do what, clear ephemeral answers to bad ids, and an answer to every
interaction, in time."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from discord_harness import Running, eventually, running_service, settings_for
from discord_payloads import ALICE, BOB, CAROL, carrying
from fake_discord import ADMIN_ROLE_ID, CHANNEL_ID, FakeDiscord
from sqlalchemy import select

from storage.models import AuditRow

MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
EPHEMERAL = 1 << 6


@pytest.fixture
async def app(fake_discord: FakeDiscord, sqlite_url: str) -> AsyncIterator[Running]:
    async with running_service(settings_for(fake_discord, sqlite_url), fake_discord) as running:
        yield running


def readable(text: str) -> str:
    """Text as Discord shows it: markdown escapes (``\\#1``, ``\\_``) hidden."""
    return re.sub(r"\\([^\w\s])", r"\1", text)


def ephemeral_text(body: dict[str, Any]) -> str:
    """The text of an ephemeral answer, as read; fails on any other kind of answer."""
    assert body["type"] == MESSAGE, body
    assert body["data"]["flags"] & EPHEMERAL, body
    return readable(body["data"].get("content") or "")


async def say(app: Running, user: Any, group: str, action: str = "", **options: Any) -> str:
    call = await app.fake.interact(app.people.slash(user, group, action, **options))
    return ephemeral_text(call.body)


async def audit(app: Running) -> list[str]:
    async with app.service.core.db.read() as session:
        return [row.action for row in (await session.scalars(select(AuditRow))).all()]


def warning_threshold(app: Running) -> float:
    rule = app.service.core.rulebook.get("slow-api")
    assert rule is not None
    return rule.thresholds["warning"]


async def test_a_non_admin_is_refused_rule_changes_and_nothing_changes(app: Running) -> None:
    text = await say(app, BOB, "rule", "set", name="slow-api", threshold=1000)
    assert "/rule set needs the admin role" in text
    assert "nothing was changed" in text
    assert f"<@&{ADMIN_ROLE_ID}>" in text and "Manage Server" in text  # how to get it
    assert warning_threshold(app) == 500
    assert await audit(app) == []

    for group, action, options in (
        ("rule", "disable", {"name": "slow-api"}),
        ("rule", "test", {"name": "slow-api"}),
        ("silence", "add", {"matchers": "rule=slow-api", "duration": "2h"}),
    ):
        assert "needs the admin role" in await say(app, BOB, group, action, **options)
    assert app.service.core.rulebook.get("slow-api").enabled
    assert await app.incidents() == []
    assert await audit(app) == []


async def set_rule(app: Running, user: Any, **options: Any) -> str:
    """``/rule set`` then Apply where a preview offers it (see test_rule_preview_chat):
    what Apply answered, else what ``/rule set`` did."""
    call = await app.fake.interact(app.people.slash(user, "rule", "set", **options))
    if not call.body["data"].get("components"):
        return readable(call.body["data"]["content"])
    preview = {**app.fake.message_object(CHANNEL_ID, call.body["data"]), "flags": EPHEMERAL}
    buttons = {
        c["label"]: c["custom_id"] for row in preview["components"] for c in row["components"]
    }
    applied = await app.fake.interact(app.people.click(user, preview, buttons["Apply"]))
    return readable(applied.body["data"]["content"])


async def test_admins_by_role_or_manage_server_change_rules(app: Running) -> None:
    text = await set_rule(app, ALICE, name="slow-api", threshold=1000)
    assert "warning threshold 500 -> 1000" in text
    text = await set_rule(app, CAROL, name="slow-api", threshold=2500.5, level="critical")
    assert "critical threshold 2000 -> 2500.5" in text
    rule = app.service.core.rulebook.get("slow-api")
    assert rule is not None and rule.thresholds == {"warning": 1000, "critical": 2500.5}
    assert await audit(app) == ["rule.set", "rule.set"]


async def test_unknown_resolved_and_malformed_ids_get_a_clear_ephemeral_answer(
    app: Running,
) -> None:
    text = await say(app, BOB, "alerts", "ack", id="999")
    assert text == "There is no incident #999. Nothing was changed."
    text = await say(app, BOB, "alerts", "ack", id="abc")
    assert '"abc" is not an incident id; use the number shown as #42' in text

    incident = await app.open_incident()
    message = await app.posted(incident)
    assert "Resolved" in await say(app, BOB, "alerts", "resolve", id=str(incident), note="fixed")
    for custom_id, expected in (
        (f"tocsin:ack:{incident}", f"#{incident} is resolved (by <@{BOB.id}>"),
        ("tocsin:ack:999", "There is no incident #999. Nothing was changed."),
        ("tocsin:frob:1", '"frob" is not a button action'),
        ("tocsin:ack:99999999999", "is not a Tocsin button"),
        ("someone-else:1", '"someone-else:1" is not a Tocsin button'),
    ):
        click = app.people.click(BOB, carrying(message, custom_id), custom_id)
        assert expected in ephemeral_text((await app.fake.interact(click)).body), custom_id
    gone = app.people.base(2, BOB, {"id": "1", "name": "page-everyone", "type": 1})
    text = ephemeral_text((await app.fake.interact(gone)).body)
    assert text == "That command is not one of Tocsin's any more; /help lists them."
    stale = app.people.choose(BOB, message, f"tocsin:snooze:{incident}", ["tocsin:snooze:7:1h"])
    text = ephemeral_text((await app.fake.interact(stale)).body)
    assert "is not an option of this snooze menu" in text
    assert (await app.incident(incident)).status == "resolved"


async def test_listing_and_showing_answer_ephemerally(app: Running) -> None:
    incident = await app.open_incident(3000)
    await app.posted(incident)
    text = await say(app, BOB, "alerts", "list", severity="critical")  # one option of two
    assert text.startswith("1 critical unresolved incident:")
    assert f"#{incident}" in text and "```" in text
    assert await say(app, BOB, "alerts", "list", severity="warning") == (
        "No warning unresolved incidents."
    )
    call = await app.fake.interact(app.people.slash(BOB, "alerts", "show", id=f"#{incident}"))
    ephemeral_text(call.body)
    shown = call.body["data"]
    assert shown["embeds"][0]["title"].startswith(f"#{incident} CRITICAL")
    assert shown["content"].startswith(f"Timeline of #{incident}:")
    assert "slow-api" in await say(app, BOB, "rule", "list")
    assert "/alerts ack ID" in await say(app, BOB, "help")


async def test_silences_through_discord(app: Running) -> None:
    text = await say(
        app, ALICE, "silence", "add", matchers="rule=slow-api", duration="2h", reason="deploy"
    )
    assert text.startswith("Silence 1")
    assert "rule=slow-api" in await say(app, BOB, "silence", "list")
    assert "Silence 1 (rule=slow-api) ended" in await say(app, ALICE, "silence", "remove", id="1")
    text = await say(app, ALICE, "silence", "add", matchers="env=~(", duration="2h")
    assert "Usage: /silence add" in text


async def test_rule_edit_opens_a_modal_and_a_submission_saves(app: Running) -> None:
    call = await app.fake.interact(app.people.slash(ALICE, "rule", "edit", name="slow-api"))
    assert call.body["type"] == MODAL
    modal = call.body["data"]
    assert modal["custom_id"] == "tocsin:rule-edit:slow-api"
    fields = {label["component"]["custom_id"]: label for label in modal["components"]}
    assert list(fields) == [
        "thresholds",
        "window",
        "interval",
        "breaches_to_open",
        "normals_to_resolve",
    ]
    assert fields["thresholds"]["component"]["value"] == "warning 500, critical 2000"
    assert fields["window"]["label"] == "Window"

    submit = app.people.submit(
        ALICE, modal, {"thresholds": "warning 700, critical 2500", "window": "10m"}
    )
    text = ephemeral_text((await app.fake.interact(submit)).body)
    assert text.startswith("Saved slow-api (")
    rule = app.service.core.rulebook.get("slow-api")
    assert rule is not None
    assert (rule.thresholds, rule.window) == ({"warning": 700, "critical": 2500}, 600)
    assert await audit(app) == ["rule.update"]


async def test_a_bad_rule_form_is_refused_with_the_reasons_and_nothing_is_saved(
    app: Running,
) -> None:
    call = await app.fake.interact(app.people.slash(ALICE, "rule", "edit", name="slow-api"))
    modal = call.body["data"]
    bad = app.people.submit(ALICE, modal, {"window": "soon", "breaches_to_open": "two"})
    text = ephemeral_text((await app.fake.interact(bad)).body)
    assert text.startswith("Nothing was saved.")
    assert "Window:" in text and "Breaches to open: 'two' is not a whole number" in text

    # A form opened by an admin but submitted by someone who is not one.
    forged = app.people.submit(BOB, modal, {"window": "10m"})
    text = ephemeral_text((await app.fake.interact(forged)).body)
    assert "Only admins can change rules" in text and "Nothing was changed." in text

    # Not an admin: no form at all.
    text = await say(app, BOB, "rule", "edit", name="slow-api")
    assert "/rule edit needs the admin role" in text
    rule = app.service.core.rulebook.get("slow-api")
    assert rule is not None and rule.window == 300
    assert await audit(app) == []


async def test_autocomplete_suggests_rules_incidents_and_durations(app: Running) -> None:
    incident = await app.open_incident()

    async def suggest(group: str, action: str, focused: str, **options: Any) -> list[dict]:
        payload = app.people.autocomplete(BOB, group, action, focused, **options)
        call = await app.fake.interact(payload)
        assert call.body["type"] == AUTOCOMPLETE_RESULT
        return call.body["data"]["choices"]

    assert await suggest("rule", "show", "name", name="slo") == [
        {"name": "slow-api", "value": "slow-api"}
    ]
    assert await suggest("rule", "set", "name", name="nothing-like-it") == []
    assert await suggest("alerts", "ack", "id", id="") == [
        {"name": f"#{incident} WARNING slow-api (route=/checkout)", "value": str(incident)}
    ]
    assert await suggest("alerts", "resolve", "id", id="checkout") != []
    durations = [
        c["value"] for c in await suggest("alerts", "snooze", "duration", id="1", duration="h")
    ]
    assert "1h" in durations and "4h" in durations and "15m" not in durations
    assert await suggest("silence", "add", "matchers", matchers="rule") == [
        {"name": "rule=slow-api", "value": "rule=slow-api"}
    ]


async def test_slow_work_is_deferred_then_answered(app: Running) -> None:
    """While the series lock is held (a long tick), a resolve waits: the interaction is
    deferred within Discord's deadline and the answer follows when the work is done."""
    incident = await app.open_incident()
    message = await app.posted(incident)
    core = app.service.core
    async with core.cache.lock:
        click = app.people.click(BOB, message, f"tocsin:resolve:{incident}")
        deferred = await app.fake.interact(click)
        typed = app.people.slash(BOB, "alerts", "resolve", id=str(incident))
        deferred_typed = await app.fake.interact(typed)
    assert deferred.body["type"] == DEFERRED_UPDATE
    assert deferred_typed.body["type"] == DEFERRED_MESSAGE
    assert deferred_typed.body["data"]["flags"] & EPHEMERAL

    edited = await eventually(lambda: app.fake.follow_ups(click["id"]), what="the edit")
    assert edited[0].method == "PATCH" and edited[0].path.endswith("/messages/@original")
    assert edited[0].body["embeds"][0]["color"] == 0x2EB67D
    followed = await eventually(lambda: app.fake.follow_ups(typed["id"]), what="the follow-up")
    assert "is already resolved" in readable(followed[0].body["content"])
    assert followed[0].body["flags"] & EPHEMERAL


async def test_time_queued_before_the_work_counts_toward_the_deadline(app: Running) -> None:
    """An interaction Discord created 2.5 s ago (its id tells) has no time left to
    wait: it is deferred at once rather than after two more seconds."""
    incident = await app.open_incident()
    message = await app.posted(incident)
    click = app.people.click(BOB, message, f"tocsin:resolve:{incident}")
    click["id"] = app.fake.snowflake(at=time.time() - 2.5)
    async with app.service.core.cache.lock:
        deferred = await app.fake.interact(click, within=1.0)
    assert deferred.body["type"] == DEFERRED_UPDATE
    await eventually(lambda: app.fake.follow_ups(click["id"]), what="the edit")


async def test_every_one_of_many_concurrent_interactions_is_answered(app: Running) -> None:
    incidents = [await app.open_alone(900, f"/r{n}") for n in range(5)]
    payloads = [app.people.slash(BOB, "alerts", "list") for _ in range(20)]
    for incident in incidents:
        message = await app.posted(incident)
        payloads.append(app.people.click(BOB, message, f"tocsin:ack:{incident}"))
        payloads.append(app.people.click(ALICE, message, f"tocsin:ack:{incident}"))
    calls = await asyncio.gather(*(app.fake.interact(p) for p in payloads))
    kinds = [call.body["type"] for call in calls]
    assert kinds.count(UPDATE_MESSAGE) == len(incidents)  # one acknowledgement each
    assert kinds.count(MESSAGE) == 20 + len(incidents)  # lists, and "already acknowledged"
