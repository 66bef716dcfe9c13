"""Storm grouping on Discord, through the fake Discord: incidents that open together on a
channel share one message (an embed each, and menus of each incident's actions), a
choice acts on its incident only and the message is redrawn, the menus work after a
restart, a critical incident gets its own message, and a storm never outgrows what
Discord accepts in one message (the fake refuses what Discord refuses)."""

from __future__ import annotations

from typing import Any

from discord_harness import Running, eventually, running_service, settings_for
from discord_payloads import BOB, menu_of
from fake_discord import FakeDiscord, embed_length

from monitors.actors import ADMIN, Actor
from storage.vocabulary import IncidentStatus

EPHEMERAL = 1 << 6
CHANNEL_MESSAGE = 4
ROUTES = ("/a", "/b", "/c")
CAROL = Actor(id="api", name="carol", surface="api", roles=frozenset({ADMIN}))


async def open_together(app: Running, routes: tuple[str, ...], value: float = 900.0) -> list[int]:
    """Breach on every route in the same two ticks: their incidents open at once.
    The clock stays at the second tick, so the storm wait has not run out."""
    for tick in range(2):
        for route in routes:
            await app.push(value, route)
        await app.tick()
        if tick == 0:
            app.clock.advance(3600)  # the rule's interval: each reading counts
    return sorted(i.id for i in await app.incidents() if i.labels.get("route") in routes)


def menus(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message["components"] for c in row["components"] if c["type"] == 3]


def options(message: dict[str, Any]) -> dict[str, str]:
    """Label -> value of every option of the message's menus."""
    return {o["label"]: o["value"] for menu in menus(message) for o in menu["options"]}


def statuses(message: dict[str, Any]) -> list[str]:
    return [
        next(f["value"] for f in embed["fields"] if f["name"] == "Status")
        for embed in message["embeds"]
    ]


def storm_of(fake: FakeDiscord, size: int) -> dict[str, Any] | None:
    """The channel's only message, once it shows ``size`` incidents."""
    messages = fake.channel_messages()
    return messages[0] if len(messages) == 1 and len(messages[0]["embeds"]) == size else None


async def a_storm(app: Running) -> tuple[list[int], dict[str, Any]]:
    """Three incidents opened together, and their message once delivered."""
    ids = await open_together(app, ROUTES)
    storm = await eventually(lambda: storm_of(app.fake, 3), what="one storm message")
    await app.delivered()
    return ids, storm


async def test_incidents_opening_together_share_one_message_with_a_menu_of_their_actions(
    fake_discord: FakeDiscord, database_url: str
) -> None:
    async with running_service(settings_for(fake_discord, database_url), fake_discord) as app:
        (first, second, third), storm = await a_storm(app)

        assert len(fake_discord.channel_messages()) == 1
        assert storm["content"] == "**3 incidents opened together** (3 still firing)"
        assert [embed["title"] for embed in storm["embeds"]] == [
            f"#{i} WARNING slow-api (route={r})"
            for i, r in zip((first, second, third), ROUTES, strict=True)
        ]
        assert menu_of(storm) is not None and len(menus(storm)) == 1
        assert menus(storm)[0]["custom_id"] == f"tocsin:menu:{first}"
        assert options(storm) == {
            f"{action} #{i}": f"tocsin:{code}:{i}{suffix}"
            for i in (first, second, third)
            for action, code, suffix in (
                ("Acknowledge", "ack", ""),
                ("Snooze 1h", "snooze", ":1h"),
                ("Snooze 4h", "snooze", ":4h"),
                ("Resolve", "resolve", ""),
            )
        }
        assert not fake_discord.refused


async def test_choosing_acknowledge_for_one_incident_acknowledges_it_alone(
    fake_discord: FakeDiscord, database_url: str
) -> None:
    async with running_service(settings_for(fake_discord, database_url), fake_discord) as app:
        (first, second, third), storm = await a_storm(app)
        menu = menus(storm)[0]["custom_id"]

        chosen = app.people.choose(BOB, storm, menu, [options(storm)[f"Acknowledge #{second}"]])
        callback = await fake_discord.interact(chosen)
        assert callback.body["type"] == CHANNEL_MESSAGE  # a word to Bob; the storm stays
        assert callback.body["data"]["flags"] & EPHEMERAL
        assert f"Acknowledged #{second}" in callback.body["data"]["content"]
        assert [(await app.incident(i)).status for i in (first, second, third)] == [
            IncidentStatus.OPEN,
            IncidentStatus.ACKNOWLEDGED,
            IncidentStatus.OPEN,
        ]

        await app.delivered()  # the outbox redraws the storm from every incident in it
        assert statuses(storm) == ["open", "acknowledged", "open"]
        assert f"Acknowledge #{second}" not in options(storm)
        assert {f"Acknowledge #{first}", f"Resolve #{second}"} <= set(options(storm))
        # Its thread says which incident each line is about ("\#" is Discord's "#");
        # incidents joining are shown by the edit, not by a line each.
        lines = fake_discord.thread_lines(storm["id"])
        assert [line.split(":")[0] for line in lines] == [f"\\#{second}"]
        assert lines[-1] == f"\\#{second}: Acknowledged by <@{BOB.id}>"
        assert len(fake_discord.channel_messages()) == 1


async def test_a_click_on_a_card_that_has_since_become_a_storm_leaves_the_storm_whole(
    fake_discord: FakeDiscord, database_url: str
) -> None:
    """Someone whose client still shows the first incident's card of one clicks its
    Acknowledge after the card became a storm: the click is answered privately, and
    the storm is not redrawn as that one card."""
    async with running_service(settings_for(fake_discord, database_url), fake_discord) as app:
        (first, _, _), storm = await a_storm(app)
        stale = app.people.click(BOB, storm, f"tocsin:ack:{first}")
        callback = await fake_discord.interact(stale)
        assert callback.body["type"] == CHANNEL_MESSAGE
        assert callback.body["data"]["flags"] & EPHEMERAL
        assert (await app.incident(first)).status == IncidentStatus.ACKNOWLEDGED
        await app.delivered()
        assert statuses(storm) == ["acknowledged", "open", "open"]


async def test_a_storms_menu_works_after_a_restart(
    fake_discord: FakeDiscord, sqlite_url: str
) -> None:
    settings = settings_for(fake_discord, sqlite_url)
    async with running_service(settings, fake_discord) as app:
        (first, second, _), storm = await a_storm(app)

    async with running_service(settings, fake_discord) as app:  # a new Service, same DB
        menu = menus(storm)[0]["custom_id"]
        chosen = app.people.choose(BOB, storm, menu, [f"tocsin:snooze:{first}:4h"])
        assert (await fake_discord.interact(chosen)).body["type"] == CHANNEL_MESSAGE
        assert (await app.incident(first)).snoozed_until is not None
        assert (await app.incident(second)).snoozed_until is None
        await app.delivered()
        assert statuses(storm)[0] == "open, snoozed"


async def test_a_critical_incident_never_joins_a_storm(
    fake_discord: FakeDiscord, database_url: str
) -> None:
    async with running_service(settings_for(fake_discord, database_url), fake_discord) as app:
        await open_together(app, ("/a",))
        await eventually(lambda: storm_of(fake_discord, 1), what="the first message")
        await open_together(app, ("/b",), value=2500)  # within the wait, but critical
        await app.delivered()
        messages = fake_discord.channel_messages()
        assert [len(m["embeds"]) for m in messages] == [1, 1]
        assert messages[1]["embeds"][0]["title"].split()[1] == "CRITICAL"


async def test_a_storm_never_outgrows_one_discord_message(
    fake_discord: FakeDiscord, database_url: str
) -> None:
    """Eleven incidents at once: ten in one message (Discord's most embeds), the
    eleventh in a message of its own; with a long note on every one, each message
    still stays within Discord's 6,000 characters of embeds."""
    routes = tuple(f"/route-{n:02d}" for n in range(11))
    async with running_service(settings_for(fake_discord, database_url), fake_discord) as app:
        ids = await open_together(app, routes)
        await eventually(lambda: len(fake_discord.channel_messages()) == 2, what="two messages")
        await app.delivered()
        for incident_id in ids:
            note = f"rolled back release {incident_id}; " + "details " * 120
            await app.service.core.incidents.resolve(incident_id, CAROL, note)
        await app.delivered()

        storm, alone = fake_discord.channel_messages()
        assert [len(storm["embeds"]), len(alone["embeds"])] == [10, 1]
        assert fake_discord.refused == []  # Discord would have refused an oversized one
        assert sum(embed_length(e) for e in storm["embeds"]) <= 6000
        assert statuses(storm) == ["resolved"] * 10
        assert storm["content"] == "**10 incidents opened together** (0 still firing)"
        assert storm["components"] == []  # nothing left to do
