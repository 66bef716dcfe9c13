"""A check that chat and the API share lives once, in the core, and reads the same from
both: what a silence may match, which ids name anything, how long a snooze may be, and
a name that is taken. The API only turns its units (minutes) into the core's."""

from __future__ import annotations

import pytest
from http_harness import Api, open_incident

from commands.dispatch import handle
from monitors.actors import ADMIN, Actor

ALICE = Actor(id="U1", name="alice", surface="console", roles=frozenset({ADMIN}))
UNCHANGED = " Nothing was changed."


async def said_in_chat(api: Api, text: str) -> str:
    reply = await handle(api.core, text, ALICE)
    assert not reply.ok, reply.text
    assert reply.text.endswith(UNCHANGED), reply.text
    return reply.text.removesuffix(UNCHANGED)


def said_by_api(response, status: int) -> str:
    assert response.status_code == status, response.text
    return response.json()["error"]


@pytest.mark.parametrize("matchers", ["env!=dev", "rule=~.*", "route=~.*,env!=prod"])
async def test_a_silence_of_everything_is_refused_in_the_same_words(api: Api, matchers):
    chat = await said_in_chat(api, f"/silence add {matchers} 2h")
    body = {"matchers": matchers, "duration": "2h"}
    over_http = said_by_api(await api.client.post("/v1/silences", json=body), 400)
    assert chat == over_http
    assert "would silence every incident; add a matcher that needs a label value" in chat
    assert (await api.client.get("/v1/silences")).json()["silences"] == []


async def test_an_id_past_the_columns_range_names_nothing_in_the_same_words(api: Api):
    big = 99_999_999_999  # more than PostgreSQL's INTEGER holds
    chat = await said_in_chat(api, f"/alerts ack {big}")
    over_http = said_by_api(await api.client.post(f"/v1/alerts/{big}/acknowledge"), 404)
    assert chat == over_http == f"There is no incident #{big}."
    chat = await said_in_chat(api, f"/silence remove {big}")
    over_http = said_by_api(await api.client.delete(f"/v1/silences/{big}"), 404)
    assert chat == over_http == f"There is no silence {big}."


@pytest.mark.parametrize(
    ("typed", "body"),
    [
        ("8d", {"minutes": 8 * 24 * 60}),
        ("8d", {"duration": "8d"}),
        ("30s", {"minutes": 0.5}),
        ("30s", {"duration": 30}),
    ],
)
async def test_snooze_bounds_read_the_same_from_chat_and_the_api(api: Api, typed, body):
    incident_id = await open_incident(api)
    chat = await said_in_chat(api, f"/alerts snooze {incident_id} {typed}")
    url = f"/v1/alerts/{incident_id}/snooze"
    over_http = said_by_api(await api.client.post(url, json=body), 400)
    assert chat == over_http == f"Snooze for between 1m and 7d; {typed} is not."
    assert (await api.client.get(f"/v1/alerts/{incident_id}")).json()["snoozed_until"] is None


async def test_a_rule_name_that_is_taken_says_how_to_change_the_rule(api: Api):
    """Refused before the fields are read: a taken name is the news, not a typo in them."""
    body = {"name": "slow-api", "metric": "m", "thresholds": {"warning": "high"}}
    over_http = said_by_api(await api.client.post("/v1/rules", json=body), 409)
    assert over_http == (
        "A rule named 'slow-api' exists already; change it instead "
        "(PATCH /v1/rules/slow-api, /rule set or /rule edit)."
    )
