"""What the core gives every chat platform: one button vocabulary, routing to targets,
people named by platform id, and a dispatcher woken by any surface's change."""

from __future__ import annotations

import pytest
from command_helpers import ALICE, BOB, fields, incident_for, ok, open_one, push_and_tick, refused
from engine_helpers import incidents as all_incidents
from engine_helpers import open_core, tick
from sqlalchemy import func, select

from commands.actions import card_buttons, decode
from commands.dispatch import run
from commands.model import Command
from commands.parser import CommandError, build
from monitors import mentions
from monitors.actors import ADMIN, Actor
from monitors.incidents.machine import Action
from monitors.routing import CONSOLE_TARGET, Destination, Routing
from storage.models import IncidentEventRow, OutboxRow

# ---------------------------------------------------------------- buttons


@pytest.mark.parametrize(
    ("custom_id", "typed"),
    [
        ("tocsin:ack:42", "/alerts ack 42"),
        ("tocsin:resolve:7", "/alerts resolve 7"),
        ("tocsin:snooze:42:1h", "/alerts snooze 42 1h"),
        ("tocsin:snooze:42:15m", "/alerts snooze 42 15m"),
        ("tocsin:snooze:3:1d", "/alerts snooze 3 1d"),
    ],
)
def test_a_button_id_stands_for_the_command_a_person_types(custom_id, typed):
    button = decode(custom_id)
    assert button.custom_id == custom_id
    assert button.command().raw == typed
    assert button.command() == build(*typed[1:].split(" ", 2)[:2], typed.split()[2:])


@pytest.mark.parametrize(
    ("custom_id", "says"),
    [
        ("tocsin:nuke:1", '"nuke" is not a button action; Tocsin\'s are ack, snooze, resolve'),
        ("tocsin:acknowledge:1", '"acknowledge" is not a button action'),
        ("tocsin:ack:0", "#0 is not an incident id"),
        ("tocsin:ack:99999999999", "is not a Tocsin button"),
        ("tocsin:snooze:4", "snooze needs a duration, e.g. :1h"),
        ("tocsin:ack:4:1h", "ack takes no duration"),
        ("tocsin:snooze:4:soon", "is not a duration"),
        ("tocsin:snooze:4:5", '"5" needs a unit'),
        ("slack:ack:1", "is not a Tocsin button"),
        ("", "is not a Tocsin button"),
    ],
)
def test_a_malformed_button_id_is_refused_with_a_sentence(custom_id, says):
    with pytest.raises(CommandError, match=says.replace("(", r"\(")):
        decode(custom_id)


def test_a_card_offers_the_buttons_its_state_allows():
    open_buttons = card_buttons(5, (Action.ACKNOWLEDGE, Action.SNOOZE, Action.RESOLVE))
    assert [b.custom_id for b in open_buttons] == [
        "tocsin:ack:5",
        "tocsin:snooze:5:15m",
        "tocsin:snooze:5:1h",
        "tocsin:snooze:5:4h",
        "tocsin:snooze:5:1d",
        "tocsin:resolve:5",
    ]
    assert [b.label for b in open_buttons][:2] == ["Acknowledge", "Snooze 15m"]
    assert card_buttons(5, ()) == []


async def test_the_long_name_of_an_action_is_a_reply_not_a_crash(core):
    reply = await run(core, Command("alerts", "acknowledge", ("1",)), ALICE)
    assert not reply.ok and reply.private
    assert reply.text == (
        "There is no command /alerts acknowledge; /help lists them. Nothing was changed."
    )


def test_typed_options_are_checked_as_typed_text_is():
    assert build("silence", "add", ["rule=slow-api", "2h", "db  failover"]).args == (
        "rule=slow-api",
        "2h",
        "db failover",
    )
    with pytest.raises(CommandError, match='"2" needs a unit'):
        build("silence", "add", ["rule=slow-api", "2"])
    with pytest.raises(CommandError, match="missing DURATION"):
        build("alerts", "snooze", ["4"])
    with pytest.raises(CommandError, match="there is no command /alerts nope"):
        build("alerts", "nope", [])


# ---------------------------------------------------------------- routing


def test_destinations_name_targets_and_a_rule_with_none_goes_to_the_defaults():
    routing = Routing(
        {
            "payments-team": Destination(slack="C0PAYMENTS"),
            "db-oncall": Destination(slack="C0DBA", discord=123456789012345678),
            "same-channel": Destination(slack="C0PAYMENTS"),
        },
        defaults=("slack:C0ALERTS", CONSOLE_TARGET),
    )
    assert routing.targets([]) == ("slack:C0ALERTS", "console")
    assert routing.targets(["payments-team"]) == ("slack:C0PAYMENTS",)
    assert routing.targets(["db-oncall", "console"]) == (
        "slack:C0DBA",
        "discord:123456789012345678",
        "console",
    )
    assert routing.targets(["payments-team", "same-channel"]) == ("slack:C0PAYMENTS",)
    assert routing.unknown(["payments-team", "nope", "console"]) == ["nope"]
    assert routing.targets(["since-removed"]) == ("slack:C0ALERTS", "console")


@pytest.mark.parametrize(
    ("spec", "says"),
    [({}, "name a place"), ({"discord": "general"}, "is not a Discord channel id")],
)
def test_a_destination_must_name_a_real_place(spec, says):
    with pytest.raises(ValueError, match=says):
        Destination.model_validate(spec)


async def test_a_rule_posts_to_its_destinations_and_nowhere_else(database_url, clock):
    from monitors.core import Core
    from monitors.rules.schema import Rule

    routing = Routing({"payments-team": Destination(slack="C0PAYMENTS")}, ("slack:C0ALERTS",))
    base = {"metric": "latency", "aggregate": "avg", "window": "30s", "interval": "10s"}
    rules = [
        Rule.model_validate({**base, "name": "everywhere", "thresholds": {"warning": 500}}),
        Rule.model_validate(
            {
                **base,
                "name": "payments",
                "thresholds": {"warning": 500},
                "channels": ["payments-team"],
            }
        ),
    ]
    core = await Core.open(database_url, rules, routing, clock=clock)
    try:
        for _ in range(2):
            await tick(core, clock, 900)
        async with core.db.read() as session:
            rows = (await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all()
        by_rule = {i.id: i.rule for i in await all_incidents(core)}
        assert sorted((by_rule[r.incident_id], r.channel) for r in rows) == [
            ("everywhere", "slack:C0ALERTS"),
            ("payments", "slack:C0PAYMENTS"),
        ]
    finally:
        await core.close()


async def test_a_rule_naming_an_unknown_destination_is_refused_through_chat_and_api(core):
    reply = await run(core, Command("rule", "show", ("slow-api",)), ALICE)
    assert reply.ok
    with pytest.raises(ValueError, match="channels: 'nowhere' is not a destination"):
        await core.rules.update("slow-api", {"channels": ["nowhere"]}, ALICE)
    with pytest.raises(ValueError, match="escalate_to: 'pager' is not a destination"):
        await core.rules.update(
            "slow-api", {"escalate_after": "15m", "escalate_to": ["pager"]}, ALICE
        )
    assert core.rulebook.get("slow-api").channels == ()


def test_check_config_names_the_rule_with_an_unknown_destination(tmp_path, capsys):
    import run as entry

    path = tmp_path / "tocsin.yaml"
    path.write_text(
        "destinations:\n  payments-team: {slack: C0PAYMENTS}\n"
        "rules:\n  - {name: checkout, metric: m, thresholds: {warning: 1}, "
        "channels: [payment-team]}\n"
    )
    assert entry.main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert (
        "rule 'checkout': channels: 'payment-team' is not a destination; define it under "
        "destinations: (defined: console, payments-team; see docs/rules.md)"
    ) in err


# ---------------------------------------------------------------- people


def test_mentions_render_per_platform_and_as_names_elsewhere():
    alice, bob = mentions.token("slack", "U1", "alice"), mentions.token("discord", "42", "bob")
    text = f"Acknowledged by {alice} and {bob}"
    assert mentions.render(text, "slack", lambda uid: f"<@{uid}>") == (
        "Acknowledged by <@U1> and bob"
    )
    assert mentions.render(text, "discord", lambda uid: f"<@{uid}>") == (
        "Acknowledged by alice and <@42>"
    )
    assert mentions.plain(text) == "Acknowledged by alice and bob"


async def test_who_acted_is_kept_by_platform_id_and_a_note_cannot_forge_a_mention(core, clock):
    incident_id = await open_one(core, clock)
    slack_bob = Actor(id="U0BOB", name="bob", surface="slack")
    await ok(core, f"/alerts ack {incident_id}", slack_bob)
    await ok(core, f"/alerts resolve {incident_id} paged {{@slack:U0EVERYONE|x}}", ALICE)
    incident = await incident_for(core, "/checkout")
    assert (incident.acknowledged_by, incident.acknowledged_by_ref) == ("bob", "slack:U0BOB")
    assert (incident.resolved_by, incident.resolved_by_ref) == ("alice", "console:U1")
    _, events = await core.incidents.show(incident.id)
    rendered = [mentions.render(e.detail, "slack", lambda u: f"<@{u}>") for e in events]
    assert rendered[-2] == "Acknowledged by <@U0BOB>"
    assert "<@U0EVERYONE>" not in rendered[-1]


# ---------------------------------------------------------------- waking the dispatcher


async def test_a_change_from_any_surface_wakes_the_dispatcher_after_it_commits(core, clock):
    seen: list[int] = []

    async def count() -> int:
        async with core.db.read() as session:
            return int(await session.scalar(select(func.count()).select_from(OutboxRow)) or 0)

    woken = []
    core.announcer.on_queued(lambda: woken.append(True))
    incident_id = await open_one(core, clock)
    assert len(woken) == 1  # the tick that opened it
    seen.append(await count())
    api_person = Actor(id="api", name="carol", surface="api", roles=frozenset({ADMIN}))
    await core.incidents.acknowledge(int(incident_id), api_person)
    assert len(woken) == 2
    assert await count() == seen[0] + 1  # committed before the wake
    await refused(core, f"/alerts ack {incident_id}", BOB)
    assert len(woken) == 2  # nothing queued, nobody woken


# ---------------------------------------------------------------- silences (trust #2)


async def test_a_silence_hides_a_reopen_too_and_the_list_says_which(core, clock):
    await push_and_tick(core, clock, {"/checkout": 900})
    incident = await incident_for(core, "/checkout")
    reply = await ok(core, "/silence add rule=slow-api 2h maintenance")
    silence_id = reply.text.split()[1]
    before = await _outbox_events(core)
    await ok(core, f"/alerts resolve {incident.id}")
    await push_and_tick(core, clock, {"/checkout": 900})  # breaching again: reopens
    incident = await incident_for(core, "/checkout")
    assert incident.reopen_count == 1
    assert await _outbox_events(core) == before, "nothing announced under the silence"
    listed = await ok(core, "/alerts list")
    assert listed.table[1][3] == f"open, silenced (silence {silence_id})"
    shown = await ok(core, f"/alerts show {incident.id}")
    assert fields(shown.cards[0])["Status"] == f"open, silenced (silence {silence_id})"
    async with core.db.read() as session:
        kinds = [e.kind for e in await session.scalars(select(IncidentEventRow))]
    assert "reopened" in kinds, "the timeline still records it"


async def _outbox_events(core) -> list[str]:
    async with core.db.read() as session:
        return [r.event for r in await session.scalars(select(OutboxRow).order_by(OutboxRow.id))]


async def test_a_shown_incident_that_resolves_under_a_silence_is_updated_when_it_ends(
    database_url, clock
):
    core = await open_core(database_url, clock)
    try:
        for value in (900, 900):
            await tick(core, clock, value)
        silence = await core.silences.add("rule=slow-api", 3600, "", ALICE)
        clock.advance(30)
        for _ in range(3):
            await tick(core, clock, 100)
        (incident,) = await all_incidents(core)
        assert incident.status == "resolved"
        assert await _outbox_events(core) == ["opened"]
        await core.silences.remove(silence.id, ALICE)
        await core.timers.run()
        async with core.db.read() as session:
            rows = (await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all()
        assert [(r.event, r.notify) for r in rows] == [("opened", True), ("silence_ended", False)]
        assert rows[-1].payload["line"] == "Silence ended; it resolved meanwhile"
    finally:
        await core.close()


async def test_the_api_marks_silenced_incidents(api):
    from http_harness import open_incident

    incident_id = await open_incident(api)
    response = await api.client.post(
        "/v1/silences", json={"matchers": "rule=slow-api", "duration": "1h"}
    )
    assert response.status_code == 201, response.text
    silence_id = response.json()["id"]
    (alert,) = (await api.client.get("/v1/alerts")).json()["alerts"]
    assert (alert["silenced"], alert["silenced_by"]) == (True, silence_id)
    detail = (await api.client.get(f"/v1/alerts/{incident_id}")).json()
    assert detail["silenced_by"] == silence_id
