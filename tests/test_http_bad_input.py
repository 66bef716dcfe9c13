"""Bad input the API used to take (or answer badly), against a real server on loopback
and real SQLite: every test here failed before its fix."""

from __future__ import annotations

import httpx
import pytest
from http_harness import SLOW_API, open_incident, serve

from bot.http.app import build_app
from bot.http.server import start_server, stop_server
from bot.metrics import Metrics
from monitors.core import Core
from storage.db import Database
from storage.repositories import RuleRepository

METRIC = SLOW_API.metric


# --- rule durations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "says"),
    [
        ("1000000000000d", "longer than 365d"),  # was 500 *after* saving; then no restart
        (1e20, "longer than 365d"),
        (0.0001, "shorter than 1s"),  # was saved as "0ms", which fails to load
        ("500ms", "shorter than 1s"),
    ],
)
async def test_rule_interval_out_of_range_is_refused_and_not_saved(
    database_url, clock, interval, says
):
    async with serve(database_url, clock) as api:
        patched = await api.client.patch("/v1/rules/slow-api", json={"interval": interval})
        assert patched.status_code == 400, patched.text
        error = patched.json()["error"]
        assert "interval" in error and says in error
        created = await api.client.post(
            "/v1/rules",
            json={
                "name": "fast",
                "metric": "m",
                "interval": interval,
                "thresholds": {"warning": 1},
            },
        )
        assert created.status_code == 400, created.text
        assert (await api.client.get("/v1/rules/slow-api")).json()["interval"] == "1m"
    async with serve(database_url, clock) as api:
        assert api.core.rulebook.load_errors == []
        names = [r["name"] for r in (await api.client.get("/v1/rules")).json()["rules"]]
        assert names == ["slow-api"]
        assert api.core.rulebook.get("slow-api").interval == 60.0


async def test_a_fractional_duration_reads_back_and_survives_a_restart(database_url, clock):
    async with serve(database_url, clock) as api:
        patched = await api.client.patch(
            "/v1/rules/slow-api", json={"interval": "1500ms", "window": 90.25}
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["interval"] == "1.5s"  # was "2s": not what was saved
        assert patched.json()["window"] == "90.25s"
    async with serve(database_url, clock) as api:
        rule = api.core.rulebook.get("slow-api")
        assert (rule.interval, rule.window) == (1.5, 90.25)
        sent_back = (await api.client.get("/v1/rules/slow-api")).json()
        assert (await api.client.patch("/v1/rules/slow-api", json=sent_back)).status_code == 200


async def test_a_saved_rule_the_scheduler_cannot_plan_does_not_stop_the_start(database_url, clock):
    """A database written by an older version may hold such a rule: it is reported and
    skipped, and the scheduler starts (it used to raise OverflowError at every start)."""
    db = Database(database_url)
    await db.migrate()
    spec = {**SLOW_API.to_json(), "name": "forever", "interval": "1000000000000d"}
    async with db.transaction() as session:
        await RuleRepository(session).save("forever", spec, clock.now, "api")
    await db.close()

    core = await Core.open(database_url, file_rules=[SLOW_API], clock=clock)
    try:
        assert core.rulebook.get("forever") is None
        assert any("forever" in e and "interval" in e for e in core.rulebook.load_errors)
        scheduler = core.scheduler()
        scheduler.start()
        try:
            assert list(scheduler.planned()) == ["rules@60.0#0/1"]
        finally:
            await scheduler.stop()
    finally:
        await core.close()


async def test_a_saved_rule_that_no_longer_validates_can_be_replaced(database_url, clock):
    """What the start-up warning tells the operator to do actually works, and lasts."""
    db = Database(database_url)
    await db.migrate()
    spec = {**SLOW_API.to_json(), "name": "fast", "interval": "500ms"}  # valid once
    async with db.transaction() as session:
        await RuleRepository(session).save("fast", spec, clock.now, "api")
    await db.close()
    async with serve(database_url, clock) as api:
        (warning,) = api.core.rulebook.load_errors
        assert "POST /v1/rules a corrected rule of that name" in warning
        fixed = await api.client.post("/v1/rules", json={**spec, "interval": "1s"})
        assert fixed.status_code == 201, fixed.text
    async with serve(database_url, clock) as api:
        assert api.core.rulebook.load_errors == []
        assert api.core.rulebook.get("fast").interval == 1.0


@pytest.mark.parametrize(
    "patch",
    [
        {"thresholds": {"warning": True}},  # was taken as a threshold of 1
        {"thresholds": {"warning": 600, "critical": False}},
        {"breaches_to_open": True},
        {"normals_to_resolve": True},
    ],
)
async def test_true_is_not_a_number_in_a_rule(api, patch):
    response = await api.client.patch("/v1/rules/slow-api", json=patch)
    assert response.status_code == 400, response.text
    assert "not a number" in response.json()["error"]
    rule = (await api.client.get("/v1/rules/slow-api")).json()
    assert rule["thresholds"] == {"warning": 500.0, "critical": 2000.0}
    assert (rule["breaches_to_open"], rule["normals_to_resolve"]) == (2, 3)
    assert rule["origin"] == {"source": "file"}  # nothing saved


@pytest.mark.parametrize(
    ("patch", "says"),
    [
        ({"enabled": "off"}, "enabled: 'off' is not true or false"),  # was taken as false
        ({"enabled": 0}, "enabled: 0 is not true or false"),
        ({"breaches_to_open": "3"}, "breaches_to_open: '3' is not a number"),  # was taken as 3
        ({"thresholds": {"warning": "600"}}, "thresholds.warning: '600' is not a number"),
        ({"min_samples": 2.5}, "min_samples: 2.5 is not a whole number"),
        ({"op": "=>"}, "op: '=>' is not one of >, <, >=, <=, <>; did you mean '>='?"),
    ],
)
async def test_rule_fields_are_strict_in_the_api(api, patch, says):
    """A string is not a number nor a boolean, as true is not a threshold: one strictness."""
    response = await api.client.patch("/v1/rules/slow-api", json=patch)
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]
    assert "Input should" not in response.json()["error"]
    rule = (await api.client.get("/v1/rules/slow-api")).json()
    assert (rule["enabled"], rule["breaches_to_open"]) == (True, 2)
    assert rule["origin"]["source"] == "file"  # nothing saved


# --- ids in paths -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["+1", "%201", "1%20", "%D9%A1", "01_", "1_0", "%EF%BC%91"])
async def test_an_id_is_plain_digits_or_refused(api, raw):
    incident_id = await open_incident(api)
    assert incident_id == 1
    shown = await api.client.get(f"/v1/alerts/{raw}")
    assert shown.status_code == 400, shown.text
    assert "is not an incident id" in shown.json()["error"]
    acked = await api.client.post(f"/v1/alerts/{raw}/acknowledge")
    assert acked.status_code == 400, acked.text
    assert (await api.client.get("/v1/alerts/1")).json()["status"] == "open"  # untouched
    silence = await api.client.delete(f"/v1/silences/{raw}")
    assert silence.status_code == 400
    assert "is not a silence id" in silence.json()["error"]


async def test_out_of_range_ids_read_like_the_others(api):
    for raw in ("0", "99999999999999"):
        response = await api.client.get(f"/v1/alerts/{raw}")
        assert response.status_code == 404
        assert response.json()["error"] == f"There is no incident #{int(raw)}."
    huge = await api.client.get("/v1/alerts/" + "9" * 5000)  # int() refuses > 4,300 digits
    assert huge.status_code == 404, huge.text
    negative = await api.client.get("/v1/alerts/-1")
    assert negative.status_code == 400  # not a whole number: not "There is no incident -1."


# --- snooze and silences ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "shown"),
    [
        (1e300, "6.94444e+296d"),
        (10**30, "6.94444e+26d"),
        (0.5, "30s"),
        (10081, "7d1m"),
        (-5, "-300s"),
    ],
)
async def test_snooze_out_of_range_is_refused_in_the_cores_words(api, minutes, shown):
    """The API turns minutes into a duration; the bounds and their wording are the
    core's, as in chat (tests/test_one_wording.py)."""
    incident_id = await open_incident(api)
    response = await api.client.post(f"/v1/alerts/{incident_id}/snooze", json={"minutes": minutes})
    assert response.status_code == 400
    assert response.json()["error"] == f"Snooze for between 1m and 7d; {shown} is not."
    shown_alert = (await api.client.get(f"/v1/alerts/{incident_id}")).json()
    assert shown_alert["snoozed_until"] is None


@pytest.mark.parametrize("duration", [0.001, 1, "30s", "500ms"])
async def test_a_silence_shorter_than_a_minute_is_refused(api, duration):
    response = await api.client.post(
        "/v1/silences", json={"matchers": "rule=slow-api", "duration": duration}
    )
    assert response.status_code == 400, response.text  # was 201, ended on creation
    assert "at least 1m" in response.json()["error"]
    assert (await api.client.get("/v1/silences")).json() == {"silences": []}


# --- ingest -------------------------------------------------------------------------------


async def test_ingest_names_the_items_holding_nan_or_infinity(api):
    """What Python's json.dumps sends for float("nan"): the items are named, as the
    contract says, instead of "not valid JSON (unexpected character ... char 60)"."""
    body = (
        b'{"samples": [{"metric": "m", "value": 1},'
        b' {"metric": "m", "value": NaN},'
        b' {"metric": "m", "value": -Infinity},'
        b' {"metric": "m", "value": 1e400},'
        b' {"metric": "m", "value": 2, "ts": NaN}]}'
    )
    response = await api.client.post("/v1/samples", content=body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors == [
        "samples[1].value: must be a finite number",
        "samples[2].value: must be a finite number",
        "samples[3].value: must be a finite number",
        "samples[4].ts: must be epoch seconds or an RFC 3339 string",
    ]
    assert api.core.store.stats()["samples_stored"] == 0

    huge = b'{"samples": [{"metric": "m", "value": 1' + b"0" * 400 + b"}]}"
    refused = await api.client.post("/v1/samples", content=huge)  # was 500 (OverflowError)
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0] == "samples[0].value: must be a finite number"

    still_bad = await api.client.post("/v1/samples", content=b'{"samples": [NaN')
    assert still_bad.status_code == 400
    assert still_bad.json()["errors"][0].startswith("body: not valid JSON")


# --- what the incident says ---------------------------------------------------------------


async def test_the_summary_follows_escalation(api, clock):
    incident_id = await open_incident(api, value=900)
    response = await api.push(
        {"metric": METRIC, "value": 100_000, "labels": {"route": "/checkout"}}
    )
    assert response.status_code == 202
    await api.tick()
    alert = (await api.client.get(f"/v1/alerts/{incident_id}")).json()
    assert alert["severity"] == "critical" and alert["threshold"] == 2000
    # It used to keep saying "900 > 500" next to a critical value and threshold.
    assert alert["summary"].startswith(f"{alert['value']:,.0f} > 2,000"), alert["summary"]


# --- listening ----------------------------------------------------------------------------


async def test_the_bracketed_ipv6_loopback_is_accepted_and_served(sqlite_url, clock):
    core = await Core.open(sqlite_url, file_rules=[SLOW_API], clock=clock)
    try:
        app = build_app(core, api_token=None, metrics=Metrics(core))
        runner, port = await start_server(app, "[::1]", 0, None)  # was "Name not known"
        try:
            async with httpx.AsyncClient(base_url=f"http://[::1]:{port}") as client:
                assert (await client.get("/healthz")).status_code == 200
        finally:
            await stop_server(runner)
    finally:
        await core.close()


# --- who acted --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["auto", "Auto", "tocsin"])
async def test_a_person_cannot_act_under_tocsins_own_name(api, name):
    """'resolved by auto' reads 'resolved automatically' on the card: a caller naming
    itself so made a hand resolve look like the readings had recovered."""
    incident_id = await open_incident(api)
    response = await api.client.post(
        f"/v1/alerts/{incident_id}/resolve", headers={"X-Tocsin-Actor": name}
    )
    assert response.status_code == 400
    assert "Tocsin's own name" in response.json()["error"]
    assert (await api.client.get(f"/v1/alerts/{incident_id}")).json()["status"] == "open"
