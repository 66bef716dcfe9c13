"""``/alerts``: list, show, ack, snooze, resolve, through ``commands.dispatch.handle`` with
a real Core and incidents opened by the engine from pushed samples."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from command_helpers import (
    ALICE,
    BOB,
    fields,
    ok,
    open_core,
    open_one,
    push_and_tick,
    refused,
    table_ids,
    three_incidents,
)

from monitors.formatting import short_time


@pytest.fixture
async def ids(core, clock) -> dict[str, str]:
    return await three_incidents(core, clock)


# ---------------------------------------------------------------- list


async def test_list_with_no_incidents_says_so(core):
    reply = await ok(core, "/alerts list")
    assert reply.text == "No unresolved incidents."
    assert not reply.table


async def test_list_without_arguments_shows_open_and_acknowledged(core_each_db, clock):
    core = core_each_db
    ids = await three_incidents(core, clock)
    reply = await ok(core, "/alerts list")
    assert reply.text.startswith("2 unresolved incidents:")
    header, *rows = reply.table
    assert header[:4] == ("ID", "Priority", "Severity", "Status")
    by_id = {row[0]: row for row in rows}
    assert set(by_id) == {f"#{ids['/checkout']}", f"#{ids['/search']}"}
    checkout = by_id[f"#{ids['/checkout']}"]
    assert checkout[1:6] == ("P2", "critical", "open", "slow-api", "route=/checkout")
    assert checkout[6] == "2,500"
    assert by_id[f"#{ids['/search']}"][3] == "acknowledged"


@pytest.mark.parametrize(
    ("text", "routes"),
    [
        ("/alerts list open", ["/checkout"]),
        ("/alerts list acknowledged", ["/search"]),
        ("/alerts list resolved", ["/login"]),
        ("/alerts list all", ["/login", "/search", "/checkout"]),
        ("/alerts list critical", ["/checkout"]),
        ("/alerts list warning", ["/search"]),
        ("/alerts list all warning", ["/login", "/search"]),
        ("/alerts list warning all", ["/login", "/search"]),
        ("/alerts list resolved warning", ["/login"]),
        ("/alerts list WARNING Resolved", ["/login"]),
    ],
)
async def test_list_filters_by_status_and_severity_in_either_order(core, ids, text, routes):
    reply = await ok(core, text)
    assert sorted(table_ids(reply)) == sorted(f"#{ids[route]}" for route in routes)


async def test_list_with_nothing_matching_names_the_filter(core, ids):
    reply = await ok(core, "/alerts list critical resolved")
    assert reply.text == "No critical resolved incidents."


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/alerts list bogus", '"bogus" is not a status or severity'),
        ("/alerts list opne", "did you mean open?"),
        ("/alerts list critcal", "did you mean critical?"),
        ("/alerts list open resolved", "STATUS given twice (open, resolved); pick one"),
        ("/alerts list open critical now", 'too many arguments: "now" is not expected'),
    ],
)
async def test_list_with_a_bad_filter_is_refused_with_usage(core, ids, text, says):
    reply = await refused(core, text)
    assert says in reply.text
    assert "Usage: /alerts list [STATUS] [SEVERITY]" in reply.text


# ---------------------------------------------------------------- show


async def test_show_gives_the_card_and_the_timeline(core, ids):
    incident_id = ids["/search"]
    reply = await ok(core, f"/alerts show {incident_id}")
    (card,) = reply.cards
    assert card.incident_id == int(incident_id)
    assert card.title == f"#{incident_id} WARNING slow-api (route=/search)"
    assert card.status == "acknowledged"
    shown = fields(card)
    assert shown["Value"] == "900 (threshold > 500, 80% over)"
    assert shown["Acknowledged by"] == "bob"
    assert card.runbook == "https://wiki.example/slow-api"
    assert card.actions == ("snooze", "resolve")
    timeline = reply.text.splitlines()
    assert timeline[0] == f"Timeline of #{incident_id}:"
    assert "Opened after 2 consecutive breaches: 900 > 500" in timeline[1]
    assert timeline[2].endswith("Acknowledged by bob")


async def test_show_accepts_the_id_as_printed(core, ids):
    reply = await ok(core, f"/alerts show #{ids['/checkout']}")
    assert reply.cards[0].incident_id == int(ids["/checkout"])


async def test_show_unknown_incident(core, ids):
    reply = await refused(core, "/alerts show 999")
    assert "There is no incident #999." in reply.text
    reply = await refused(core, "/alerts ack 99999999999")  # past the id column's range
    assert reply.text == "There is no incident #99999999999. Nothing was changed."


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/alerts show abc", '"abc" is not an incident id; use the number shown as #42'),
        ("/alerts show 0", '"0" is not an incident id'),
        ("/alerts show -1", '"-1" is not an incident id'),
        ("/alerts show " + "9" * 31, '"' + "9" * 31 + '" is not an incident id'),
        ("/alerts show", "missing ID, e.g. 42"),
        ("/alerts show 1 2", 'too many arguments: "2" is not expected'),
    ],
)
async def test_show_with_a_malformed_id_is_refused_with_usage(core, text, says):
    reply = await refused(core, text)
    assert says in reply.text
    assert reply.text.endswith("Usage: /alerts show ID")


# ---------------------------------------------------------------- ack


async def test_ack_marks_the_incident_acknowledged_by_whoever_typed_it(core, clock):
    incident_id = await open_one(core, clock)
    reply = await ok(core, f"/alerts ack {incident_id}", BOB)
    assert f"Acknowledged #{incident_id}" in reply.text
    (card,) = reply.cards
    assert card.status == "acknowledged"
    assert fields(card)["Acknowledged by"] == "bob"
    assert "acknowledge" not in card.actions
    assert table_ids(await ok(core, "/alerts list acknowledged")) == [f"#{incident_id}"]
    assert table_ids(await ok(core, "/alerts list open")) == []


async def test_ack_twice_says_who_already_has_it(core_each_db, clock):
    core = core_each_db
    incident_id = await open_one(core, clock)
    await ok(core, f"/alerts ack {incident_id}", BOB)
    reply = await refused(core, f"/alerts ack {incident_id}", ALICE)
    assert f"#{incident_id} is already acknowledged by bob." in reply.text
    assert reply.text.endswith("Nothing was changed.")


async def test_ack_a_resolved_incident_is_refused(core, ids):
    reply = await refused(core, f"/alerts ack {ids['/login']}")
    assert "is resolved (by alice at " in reply.text
    assert "); there is nothing to acknowledge." in reply.text


async def test_ack_unknown_or_malformed_id(core):
    assert "There is no incident #7." in (await refused(core, "/alerts ack 7")).text
    reply = await refused(core, "/alerts ack seven")
    assert '"seven" is not an incident id' in reply.text
    assert "Usage: /alerts ack ID" in reply.text


# ---------------------------------------------------------------- snooze


async def test_snooze_for_an_hour(core_each_db, clock):
    core = core_each_db
    incident_id = await open_one(core, clock)
    until = short_time(clock() + 3600)
    reply = await ok(core, f"/alerts snooze {incident_id} 1h")
    assert f"Snoozed #{incident_id} for 1h (until {until})" in reply.text
    (card,) = reply.cards
    assert card.status == "open"
    assert fields(card)["Snoozed until"] == until
    shown = await ok(core, f"/alerts show {incident_id}")
    assert fields(shown.cards[0])["Snoozed until"] == until
    assert f"Snoozed by alice for 1h, until {until}" in shown.text


async def test_a_snoozed_incident_says_so_and_until_when_in_list_show_and_card(core, clock):
    """At 3 a.m. a plain "open" reads as "nobody has looked at it"."""
    incident_id = await open_one(core, clock)
    clock.advance(30)
    until = clock() + 3600
    await ok(core, f"/alerts snooze {incident_id} 1h")
    hhmm = datetime.fromtimestamp(until, UTC).strftime("%H:%M")
    listed = await ok(core, "/alerts list")
    assert listed.table[1][3] == f"open, snoozed until {hhmm} UTC"
    assert (await ok(core, "/alerts list open")).table[1][3] == f"open, snoozed until {hhmm} UTC"
    (card,) = (await ok(core, f"/alerts show {incident_id}")).cards
    assert fields(card)["Status"] == "open, snoozed"
    assert fields(card)["Snoozed until"] == short_time(until)
    await ok(core, f"/alerts ack {incident_id}", BOB)
    acked = (await ok(core, "/alerts list")).table[1][3]
    assert acked == f"acknowledged, snoozed until {hhmm} UTC"
    clock.advance(3600)
    assert (await ok(core, "/alerts list")).table[1][3] == "acknowledged", "the snooze is over"
    (card,) = (await ok(core, f"/alerts show {incident_id}")).cards
    assert fields(card)["Status"] == "acknowledged"
    assert "Snoozed until" not in fields(card)


async def test_a_snooze_that_ends_on_another_day_gives_the_date(core, clock):
    incident_id = await open_one(core, clock)
    until = clock() + 86400
    await ok(core, f"/alerts snooze {incident_id} 1d")
    day = datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%d %H:%M")
    assert (await ok(core, "/alerts list")).table[1][3] == f"open, snoozed until {day} UTC"


@pytest.mark.parametrize(
    ("duration", "says"),
    [
        ("soon", "'soon' is not a duration; use a number with a unit"),
        ("0s", "'0s' must be longer than zero"),
        ("-5m", "is not a duration"),
    ],
)
async def test_snooze_with_a_malformed_duration_is_refused_with_usage(core, clock, duration, says):
    incident_id = await open_one(core, clock)
    reply = await refused(core, f"/alerts snooze {incident_id} {duration}")
    assert says in reply.text
    assert "Usage: /alerts snooze ID DURATION" in reply.text


@pytest.mark.parametrize("duration", ["30d", "8d", "30s"])
async def test_snooze_outside_the_allowed_range_is_refused(core, clock, duration):
    incident_id = await open_one(core, clock)
    reply = await refused(core, f"/alerts snooze {incident_id} {duration}")
    assert f"Snooze for between 1m and 7d; {duration} is not." in reply.text


async def test_a_huge_snooze_is_refused_without_float_noise(core, clock):
    """999999999999999999999d used to read back as 1000000000000000003106d21h24m16s."""
    incident_id = await open_one(core, clock)
    reply = await refused(core, f"/alerts snooze {incident_id} 999999999999999999999d")
    assert "Snooze for between 1m and 7d; 1e+21d is not." in reply.text


async def test_snooze_without_a_duration_shows_usage(core, clock):
    incident_id = await open_one(core, clock)
    reply = await refused(core, f"/alerts snooze {incident_id}")
    assert "missing DURATION, e.g. 30m, 2h or 1d" in reply.text
    assert "Usage: /alerts snooze ID DURATION" in reply.text


async def test_snooze_a_resolved_incident_is_refused(core, ids):
    reply = await refused(core, f"/alerts snooze {ids['/login']} 1h")
    assert "is resolved (by alice at " in reply.text
    assert "); there is nothing to snooze." in reply.text


# ---------------------------------------------------------------- resolve


async def test_resolve_with_a_note_shows_it_in_the_timeline(core_each_db, clock):
    core = core_each_db
    incident_id = await open_one(core, clock)
    reply = await ok(core, f"/alerts resolve {incident_id} rolled back   the deploy")
    assert f"Resolved #{incident_id}." in reply.text
    (card,) = reply.cards
    assert card.status == "resolved"
    assert card.actions == ()
    assert fields(card)["Note"] == "rolled back the deploy"
    shown = await ok(core, f"/alerts show {incident_id}")
    assert shown.cards[0].status == "resolved"
    assert shown.text.splitlines()[-1].endswith("Resolved by alice: rolled back the deploy")
    assert table_ids(await ok(core, "/alerts list")) == []
    assert table_ids(await ok(core, "/alerts list resolved")) == [f"#{incident_id}"]


async def test_resolve_survives_a_restart(core_each_db, clock, database_url):
    core = core_each_db
    incident_id = await open_one(core, clock)
    await ok(core, f"/alerts resolve {incident_id}", BOB)
    again = await open_core(database_url, clock)
    try:
        shown = await ok(again, f"/alerts show {incident_id}")
    finally:
        await again.close()
    assert shown.cards[0].status == "resolved"
    assert fields(shown.cards[0])["Resolved"].startswith("by bob after")


async def test_resolve_twice_is_refused(core, clock):
    incident_id = await open_one(core, clock)
    await ok(core, f"/alerts resolve {incident_id}", BOB)
    reply = await refused(core, f"/alerts resolve {incident_id} again")
    assert f"#{incident_id} is already resolved (by bob at" in reply.text


async def test_resolved_incident_that_keeps_breaching_reopens(core_each_db, clock):
    core = core_each_db
    incident_id = await open_one(core, clock)
    await ok(core, f"/alerts resolve {incident_id} thought it was fixed")
    await push_and_tick(core, clock, {"/checkout": 900})
    assert table_ids(await ok(core, "/alerts list open")) == [f"#{incident_id}"]
    shown = await ok(core, f"/alerts show {incident_id}")
    assert "reopened" in shown.text.splitlines()[-1]
    assert fields(shown.cards[0])["Reopened"] == "1 time"


async def test_resolve_unknown_or_malformed_id(core):
    assert "There is no incident #5." in (await refused(core, "/alerts resolve 5 note")).text
    reply = await refused(core, "/alerts resolve")
    assert "missing ID" in reply.text
    assert "Usage: /alerts resolve ID [note...]" in reply.text
