"""The alert and silence endpoints refuse fields they do not know (with the spelling
they do know) instead of dropping them, and take the spellings people use."""

from __future__ import annotations

import pytest
from http_harness import open_incident

from monitors.formatting import iso


async def stored(api) -> tuple[list[dict], list[dict]]:
    alerts = (await api.client.get("/v1/alerts", params={"status": "all"})).json()["alerts"]
    silences = (await api.client.get("/v1/silences")).json()["silences"]
    return alerts, silences


# --- snooze -------------------------------------------------------------------------------


async def test_a_snooze_with_an_unknown_field_is_refused_not_half_taken(api):
    """{"minutes": 5, "mins": 500} used to snooze for 5 minutes and drop "mins"."""
    incident_id = await open_incident(api)
    before = await stored(api)
    response = await api.client.post(
        f"/v1/alerts/{incident_id}/snooze", json={"minutes": 5, "mins": 500}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == (
        "mins: unknown field (did you mean 'minutes'?). Fields: minutes, duration; "
        'e.g. {"minutes": 60}.'
    )
    assert await stored(api) == before


async def test_a_snooze_may_be_a_duration(api, clock):
    incident_id = await open_incident(api)
    url = f"/v1/alerts/{incident_id}/snooze"
    both = await api.client.post(url, json={"minutes": 60, "duration": "1h"})
    assert both.status_code == 400 and "not both" in both.json()["error"]
    too_long = await api.client.post(url, json={"duration": "8d"})
    assert too_long.json()["error"] == "Snooze for between 1m and 7d; 8d is not."
    snoozed = await api.client.post(url, json={"duration": "90m"})
    assert snoozed.status_code == 200, snoozed.text
    assert snoozed.json()["snoozed_until"] == iso(clock.now + 5400)


# --- resolve ------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["note", "notes", "comment"])
async def test_a_resolve_note_is_kept_under_the_names_people_type(api, field):
    """{"notes": ...} used to resolve and lose the note."""
    incident_id = await open_incident(api)
    url = f"/v1/alerts/{incident_id}/resolve"
    response = await api.client.post(url, json={field: "rolled back v2.3"})
    assert response.status_code == 200, response.text
    assert response.json()["resolve_note"] == "rolled back v2.3"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"nite": "x"}, "nite: unknown field (did you mean 'note'?)"),
        ({"note": "a", "notes": "b"}, "note and notes are the same field; give one"),
        ({"resolution": "x"}, "resolution: unknown field (check the spelling)"),
    ],
)
async def test_a_resolve_with_an_unknown_field_changes_nothing(api, body, says):
    incident_id = await open_incident(api)
    before = await stored(api)
    response = await api.client.post(f"/v1/alerts/{incident_id}/resolve", json=body)
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]
    assert "Fields: note" in response.json()["error"]
    assert await stored(api) == before


# --- silences -----------------------------------------------------------------------------


async def test_a_silence_can_start_later(api, clock):
    """{"starts_at": ...} used to be dropped: the silence started at once."""
    start = clock.now + 3600
    response = await api.client.post(
        "/v1/silences",
        json={"matchers": "rule=slow-api", "duration": "2h", "starts_at": iso(start)},
    )
    assert response.status_code == 201, response.text
    silence = response.json()
    assert (silence["starts_at"], silence["ends_at"]) == (iso(start), iso(start + 7200))
    assert silence["active"] is False
    clock.advance(3600)
    (listed,) = (await api.client.get("/v1/silences")).json()["silences"]
    assert listed["active"] is True


async def test_a_silence_takes_alertmanagers_spellings_and_an_end_time(api, clock):
    start, end = clock.now + 600, clock.now + 4200
    response = await api.client.post(
        "/v1/silences",
        json={
            "matchers": "rule=slow-api",
            "startsAt": iso(start),
            "endsAt": iso(end),
            "comment": "maintenance",
        },
    )
    assert response.status_code == 201, response.text
    silence = response.json()
    assert (silence["starts_at"], silence["ends_at"]) == (iso(start), iso(end))
    assert silence["reason"] == "maintenance"


async def test_a_start_already_past_means_now(api, clock):
    response = await api.client.post(
        "/v1/silences",
        json={"matchers": "rule=slow-api", "ends_at": clock.now + 3600, "starts_at": 0},
    )
    assert response.status_code == 201, response.text
    assert response.json()["starts_at"] == iso(clock.now)
    assert response.json()["active"] is True


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"duration": "2h", "start": "x"}, "start: unknown field (did you mean 'starts_at'?)"),
        ({"duration": "2h", "until": "x"}, "until: unknown field (check the spelling)"),
        ({"duration": "2h", "reason": "a", "comment": "b"}, "the same field; give one"),
        ({"duration": "2h", "ends_at": "2027-01-15T10:00:00Z"}, "duration or ends_at, not both"),
        ({"ends_at": "yesterday"}, "ends_at: 'yesterday' is not an RFC 3339 timestamp"),
        ({"ends_at": "2027-01-15T10:00:00"}, "needs a UTC offset"),
        ({"ends_at": 1_000}, "ends_at: 1970-01-01T00:16:40Z is not after the start"),
        ({"duration": "2h", "starts_at": 4_000_000_000}, "is more than a year ahead"),
        ({"duration": "2h", "starts_at": True}, "starts_at: must be epoch seconds or an RFC"),
        ({}, "duration: required (or ends_at)"),
    ],
)
async def test_a_silence_with_bad_or_unknown_fields_is_refused(api, extra, says):
    before = await stored(api)
    response = await api.client.post("/v1/silences", json={"matchers": "rule=slow-api", **extra})
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]
    assert await stored(api) == before
