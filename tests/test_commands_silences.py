"""``/silence``: add, list, remove, through ``commands.dispatch.handle`` with a real Core."""

from __future__ import annotations

import pytest
from command_helpers import (
    BOB,
    incident_for,
    ok,
    push_and_tick,
    refused,
    table_ids,
)

from monitors.formatting import short_time
from storage.repositories import OutboxRepository


async def outbox_for(core, incident_id: int) -> list[str]:
    async with core.db.transaction() as session:
        rows = await OutboxRepository(session).for_incident(incident_id)
    return [row.event for row in rows]


# ---------------------------------------------------------------- add


async def test_add_mutes_matching_incidents_but_they_are_still_tracked(core_each_db, clock):
    core = core_each_db
    until = short_time(clock() + 7200)
    reply = await ok(core, "/silence add rule=slow-api 2h deploy of v2.3")
    assert reply.text.startswith(f"Silence 1 on rule=slow-api until {until}.")
    assert "/silence remove 1 ends it early." in reply.text
    await push_and_tick(core, clock, {"/checkout": 900})
    incident = await incident_for(core, "/checkout")
    assert table_ids(await ok(core, "/alerts list")) == [f"#{incident.id}"]
    assert await outbox_for(core, incident.id) == [], "silenced: nothing is posted"


async def test_incidents_the_silence_does_not_match_are_still_posted(core_each_db, clock):
    core = core_each_db
    await ok(core, "/silence add rule=slow-api,route=/search 2h")
    await push_and_tick(core, clock, {"/checkout": 900, "/search": 900})
    assert await outbox_for(core, (await incident_for(core, "/search")).id) == []
    assert await outbox_for(core, (await incident_for(core, "/checkout")).id) == ["opened"]


async def test_a_test_incident_card_keeps_updating_under_a_silence(core_each_db):
    """A silence that starts after /rule test used to freeze the posted [TEST] card at
    'open': acknowledge and resolve wrote no messages, and nothing announced it later."""
    core = core_each_db
    card = (await ok(core, "/rule test slow-api")).cards[0]
    await ok(core, "/silence add rule=slow-api 2h maintenance")
    await ok(core, f"/alerts ack {card.incident_id}")
    await ok(core, f"/alerts resolve {card.incident_id}")
    assert await outbox_for(core, card.incident_id) == ["opened", "acknowledged", "resolved"]


async def test_add_without_the_admin_role_is_refused(core):
    reply = await refused(core, "/silence add rule=slow-api 2h deploy", BOB)
    assert reply.text == (
        "/silence add needs the admin role, which bob does not have; nothing was changed."
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/silence add slow-api 2h", '"slow-api" has no operator; write label=value'),
        ("/silence add rule=~[ 2h", "is not a valid regular expression"),
        ("/silence add rule=slow-api", "missing DURATION, e.g. 30m, 2h or 1d"),
        ("/silence add", "missing MATCHERS, e.g. rule=slow-api,env!=dev"),
        ("/silence add rule=slow-api forever", "'forever' is not a duration"),
        ("/silence add rule=slow-api 0s", "'0s' must be longer than zero"),
        ('/silence add "rule=slow-api 2h', "unclosed quote"),
    ],
)
async def test_add_with_malformed_arguments_is_refused_with_usage(core, text, says):
    reply = await refused(core, text)
    assert says in reply.text
    assert reply.text.endswith("Usage: /silence add MATCHERS DURATION [reason...]")


async def test_add_longer_than_the_maximum_is_refused(core):
    reply = await refused(core, "/silence add rule=slow-api 31d")
    assert reply.text == "A silence lasts at most 30d. Nothing was changed."


async def test_a_reason_past_500_characters_is_refused_not_cut_short(core):
    """A pasted log used to be kept, silently cut to 500 characters."""
    reply = await refused(core, "/silence add rule=slow-api 2h " + "x" * 3000)
    assert reply.text == (
        "A silence's reason is at most 500 characters; this one has 3,000. "
        "Link to the details instead. Nothing was changed."
    )
    await ok(core, "/silence add rule=slow-api 2h " + "x" * 500)
    assert (await ok(core, "/silence list")).table[1][-1] == "x" * 500


# ---------------------------------------------------------------- list


async def test_list_with_no_silences_says_so(core):
    reply = await ok(core, "/silence list")
    assert reply.text == "No active or upcoming silences."
    assert not reply.table


async def test_list_shows_active_silences_until_they_end(core, clock):
    await ok(core, "/silence add rule=slow-api 2h deploy")
    await ok(core, '/silence add "route=~/admin/.*" 30m')
    clock.advance(600)
    reply = await ok(core, "/silence list")
    assert reply.text == "2 silences:"
    header, *rows = reply.table
    assert header == ("ID", "Matchers", "Until", "Left", "By", "Reason")
    by_id = {row[0]: row for row in rows}
    assert by_id["1"][1:] == (
        "rule=slow-api",
        short_time(clock() - 600 + 7200),
        "1h50m",
        "alice (console)",
        "deploy",
    )
    assert by_id["2"][1] == "route=~/admin/.*"
    assert by_id["2"][3:] == ("20m", "alice (console)", "-")
    clock.advance(3600)
    reply = await ok(core, "/silence list")
    assert (reply.text, table_ids(reply)) == ("1 silence:", ["1"])
    clock.advance(3600)
    assert (await ok(core, "/silence list")).text == "No active or upcoming silences."


async def test_list_takes_no_arguments(core):
    reply = await refused(core, "/silence list all")
    assert 'too many arguments: "all" is not expected' in reply.text
    assert reply.text.endswith("Usage: /silence list")


# ---------------------------------------------------------------- remove


async def test_remove_ends_the_silence_and_twice_is_refused(core_each_db):
    core = core_each_db
    await ok(core, "/silence add rule=slow-api 2h deploy")
    reply = await ok(core, "/silence remove 1")
    assert reply.text.startswith("Silence 1 (rule=slow-api) ended.")
    assert (await ok(core, "/silence list")).text == "No active or upcoming silences."
    again = await refused(core, "/silence remove 1")
    assert again.text == "Silence 1 has already ended. Nothing was changed."


async def test_after_remove_new_incidents_are_posted_again(core_each_db, clock):
    core = core_each_db
    await ok(core, "/silence add rule=slow-api 2h")
    await ok(core, "/silence remove 1")
    await push_and_tick(core, clock, {"/checkout": 900})
    assert await outbox_for(core, (await incident_for(core, "/checkout")).id) == ["opened"]


async def test_remove_a_silence_that_ran_out_is_refused(core, clock):
    await ok(core, "/silence add rule=slow-api 1h")
    clock.advance(3601)
    reply = await refused(core, "/silence remove 1")
    assert reply.text == "Silence 1 has already ended. Nothing was changed."


async def test_remove_unknown_silence(core):
    reply = await refused(core, "/silence remove 42")
    assert reply.text == "There is no silence 42. Nothing was changed."


async def test_remove_without_the_admin_role_is_refused(core_each_db):
    await ok(core_each_db, "/silence add rule=slow-api 2h")
    reply = await refused(core_each_db, "/silence remove 1", BOB)
    assert "/silence remove needs the admin role" in reply.text
    assert table_ids(await ok(core_each_db, "/silence list")) == ["1"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/silence remove one", '"one" is not a silence id; use the number shown by /silence list'),
        ("/silence remove", "missing ID, e.g. 3"),
        ("/silence remove 1 2", 'too many arguments: "2" is not expected'),
    ],
)
async def test_remove_with_a_malformed_id_is_refused_with_usage(core, text, says):
    reply = await refused(core, text)
    assert says in reply.text
    assert reply.text.endswith("Usage: /silence remove ID")
