"""The REST API against a real server on 127.0.0.1: auth, ingest, alerts, health, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from http_harness import SLOW_API, TOKEN, open_incident, serve
from sqlalchemy.ext.asyncio import create_async_engine

from bot.http.app import build_app
from bot.http.server import start_server, stop_server
from bot.metrics import Metrics
from monitors.core import Core
from monitors.formatting import iso

METRIC = SLOW_API.metric


# --- auth and listening -------------------------------------------------------------------


async def test_v1_needs_the_bearer_token(sqlite_url, clock):
    async with serve(sqlite_url, clock, send_token=False) as api:
        missing = await api.client.get("/v1/alerts")
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert "error" in missing.json()

        for header in (
            "Bearer wrong",
            f"Basic {TOKEN}",
            "Bearer",
            f"Bearer {TOKEN}x",
            "Bearer é".encode(),
            b"Bearer \xff",
        ):
            wrong = await api.client.get("/v1/alerts", headers={"Authorization": header})
            assert wrong.status_code == 401, header
            assert wrong.headers["WWW-Authenticate"].startswith("Bearer")

        ingest = await api.client.post("/v1/samples", json={"samples": []})
        assert ingest.status_code == 401
        unknown = await api.client.get("/v1/nothing-here")
        assert unknown.status_code == 401  # no probing of the API without the token

        good = await api.client.get("/v1/alerts", headers={"Authorization": f"Bearer {TOKEN}"})
        assert good.status_code == 200
        assert good.json() == {"alerts": []}

        assert (await api.client.get("/healthz")).status_code == 200
        assert (await api.client.get("/metrics")).status_code == 200


async def test_without_a_token_loopback_serves_as_the_admin_api_actor(sqlite_url, clock):
    async with serve(sqlite_url, clock, token=None) as api:
        assert (await api.client.get("/v1/rules")).status_code == 200
        incident_id = await open_incident(api)
        acked = await api.client.post(f"/v1/alerts/{incident_id}/acknowledge")
        assert acked.status_code == 200
        assert acked.json()["acknowledged_by"] == "api"


async def test_refuses_to_listen_on_all_interfaces_without_a_token(sqlite_url, clock):
    core = await Core.open(sqlite_url, file_rules=[SLOW_API], clock=clock)
    try:
        open_app = build_app(core, api_token=None, metrics=Metrics(core))
        for host in ("0.0.0.0", "::", "", "192.0.2.10"):
            with pytest.raises(ValueError, match="TOCSIN_API_TOKEN must be set to listen on"):
                await start_server(open_app, host, 0, None)
        with pytest.raises(
            ValueError, match=r"TOCSIN_API_TOKEN must be set to listen on 0\.0\.0\.0"
        ):
            await start_server(open_app, "0.0.0.0", 0, None)
        # A token given to the server but not to the app would leave the API open.
        with pytest.raises(ValueError, match="TOCSIN_API_TOKEN"):
            await start_server(open_app, "0.0.0.0", 0, TOKEN)

        guarded = build_app(core, api_token=TOKEN, metrics=Metrics(core))
        runner, port = await start_server(guarded, "0.0.0.0", 0, TOKEN)
        try:
            assert port > 0
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                assert (await client.get("/v1/alerts")).status_code == 401
        finally:
            await stop_server(runner)
    finally:
        await core.close()


# --- ingest -------------------------------------------------------------------------------


async def test_ingested_samples_reach_the_engine_and_open_an_incident(database_url, clock):
    async with serve(database_url, clock) as api:
        first = await api.push(
            {"metric": METRIC, "value": 900, "labels": {"route": "/checkout"}},
            {"metric": METRIC, "value": 950.5, "labels": {"route": "/checkout"}, "ts": clock.now},
        )
        assert first.status_code == 202
        assert first.json() == {"accepted": 2, "dropped": 0}
        await api.tick()
        assert (await api.client.get("/v1/alerts")).json() == {"alerts": []}  # one breach

        clock.advance(60)
        rfc3339 = datetime.fromtimestamp(clock.now - 5, UTC).isoformat().replace("+00:00", "Z")
        second = await api.push(
            {"metric": METRIC, "value": 1000, "labels": {"route": "/checkout"}, "ts": rfc3339}
        )
        assert second.status_code == 202
        assert second.json()["accepted"] == 1
        await api.tick()

        alerts = (await api.client.get("/v1/alerts")).json()["alerts"]
        assert len(alerts) == 1
        alert = alerts[0]
        assert alert["rule"] == "slow-api"
        assert alert["status"] == "open"
        assert alert["severity"] == "warning"
        assert alert["labels"] == {"route": "/checkout"}
        assert alert["value"] == pytest.approx((900 + 950.5 + 1000) / 3)
        assert alert["threshold"] == 500
        assert alert["opened_at"] == iso(clock.now)
        assert alert["opened_at"].endswith("Z")
        assert alert["acknowledged_by"] is None
        assert alert["resolved_at"] is None
        assert alert["snoozed_until"] is None
        assert alert["test"] is False and alert["kind"] == "metric"
        assert alert["reopen_count"] == 0


async def test_ingest_refuses_bad_items_and_accepts_none(api):
    response = await api.push(
        {"metric": METRIC, "value": 900, "labels": {"route": "/checkout"}},
        {"metric": METRIC, "value": "slow", "labels": {"route": "/checkout"}},
        {"value": 3, "labels": {"route": 5}},
        {"metric": METRIC, "value": 1, "ts": "yesterday"},
    )
    assert response.status_code == 400
    body = response.json()
    assert "none" in body["error"]
    errors = body["errors"]
    assert any(e.startswith("samples[1].value") for e in errors)
    assert any(e.startswith("samples[2].metric") for e in errors)
    assert any(e.startswith("samples[2].labels.route") for e in errors)
    assert any(e.startswith("samples[3].ts") for e in errors)
    assert not any(e.startswith("samples[0]") for e in errors)
    assert api.core.store.stats()["samples_stored"] == 0

    await api.tick()
    assert api.core.cache.series_of("slow-api") == []


@pytest.mark.parametrize(
    "body",
    [b"not json", b"", b"[1, 2]", b'{"samples": 3}', b'{"metrics": []}'],
)
async def test_ingest_refuses_malformed_bodies(api, body):
    response = await api.client.post(
        "/v1/samples", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"]


async def test_ingest_accepts_json_sent_with_another_content_type(api):
    response = await api.client.post(
        "/v1/samples",
        content=b'{"samples": [{"metric": "jobs", "value": 1}]}',
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 202
    assert response.json()["accepted"] == 1


async def test_ingest_refuses_bodies_over_one_mebibyte(api):
    sample = b'{"metric": "m", "value": 1.0, "labels": {"route": "/a"}},'
    items = sample * (1024 * 1024 // len(sample) + 10)
    body = b'{"samples": [' + items.rstrip(b",") + b"]}"
    assert len(body) > 1024 * 1024

    sized = await api.client.post("/v1/samples", content=body)
    assert sized.status_code == 413
    assert "1 MiB" in sized.json()["error"]

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    chunked = await api.client.post("/v1/samples", content=chunks())
    assert chunked.status_code == 413
    assert "error" in chunked.json()
    assert api.core.store.stats()["samples_stored"] == 0

    small = await api.push({"metric": "m", "value": 1})
    assert small.status_code == 202


# --- alerts -------------------------------------------------------------------------------


async def test_alert_filters(api):
    warning = await open_incident(api, "/a", 900)
    critical = await open_incident(api, "/b", 3000)
    await api.client.post(f"/v1/alerts/{warning}/acknowledge")

    async def ids(**params: str) -> list[int]:
        response = await api.client.get("/v1/alerts", params=params)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["alerts"]]

    assert await ids() == [critical, warning]  # unresolved, newest first
    assert await ids(status="unresolved") == [critical, warning]
    assert await ids(severity="critical") == [critical]
    assert await ids(severity="warning") == [warning]
    assert await ids(status="acknowledged") == [warning]
    assert await ids(status="open") == [critical]
    assert await ids(status="resolved") == []
    assert await ids(limit="1") == [critical]

    await api.client.post(f"/v1/alerts/{critical}/resolve")
    assert await ids() == [warning]
    assert await ids(status="resolved") == [critical]
    assert await ids(status="all") == [critical, warning]
    assert await ids(status="all", severity="critical") == [critical]

    bad_status = await api.client.get("/v1/alerts", params={"status": "firing"})
    assert bad_status.status_code == 400
    for allowed in ("open", "acknowledged", "resolved", "all"):
        assert allowed in bad_status.json()["error"]
    bad_severity = await api.client.get("/v1/alerts", params={"severity": "meh"})
    assert bad_severity.status_code == 400
    assert "warning, error, critical" in bad_severity.json()["error"]
    for limit in ("0", "-1", "many", "100000"):
        response = await api.client.get("/v1/alerts", params={"limit": limit})
        assert response.status_code == 400, limit


async def test_show_alert_with_its_timeline(api):
    incident_id = await open_incident(api)
    response = await api.client.get(f"/v1/alerts/{incident_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == incident_id and body["status"] == "open"
    assert [e["kind"] for e in body["timeline"]] == ["opened"]
    event = body["timeline"][0]
    assert set(event) == {"at", "kind", "actor", "detail"}
    assert event["at"] == body["opened_at"]

    missing = await api.client.get("/v1/alerts/999")
    assert missing.status_code == 404
    assert "#999" in missing.json()["error"]
    assert (await api.client.get("/v1/alerts/99999999999999")).status_code == 404
    not_a_number = await api.client.get("/v1/alerts/abc")
    assert not_a_number.status_code == 400
    assert "error" in not_a_number.json()


async def test_acknowledge_snooze_resolve_and_refusals(api, clock):
    incident_id = await open_incident(api)
    url = f"/v1/alerts/{incident_id}"
    alice = {"X-Tocsin-Actor": "alice"}

    acked = await api.client.post(f"{url}/acknowledge", headers=alice)
    assert acked.status_code == 200
    assert acked.json()["status"] == "acknowledged"
    assert acked.json()["acknowledged_by"] == "alice"
    assert acked.json()["acknowledged_at"] == iso(clock.now)

    again = await api.client.post(f"{url}/acknowledge")
    assert again.status_code == 409
    assert again.json()["error"] == f"#{incident_id} is already acknowledged by alice."

    for body in ({}, {"minutes": "soon"}, {"minutes": 0}, {"minutes": True}, [60]):
        refused = await api.client.post(f"{url}/snooze", json=body)
        assert refused.status_code == 400, body
        assert "error" in refused.json()
    no_body = await api.client.post(f"{url}/snooze")
    assert no_body.status_code == 400
    too_long = await api.client.post(f"{url}/snooze", json={"minutes": 60 * 24 * 365})
    assert too_long.status_code == 400
    assert "Snooze for between" in too_long.json()["error"]

    snoozed = await api.client.post(f"{url}/snooze", json={"minutes": 60})
    assert snoozed.status_code == 200
    assert snoozed.json()["snoozed_until"] == iso(clock.now + 3600)
    assert snoozed.json()["snoozed"] is True

    not_json = await api.client.post(f"{url}/resolve", content=b"{oops")
    assert not_json.status_code == 400
    bad_note = await api.client.post(f"{url}/resolve", json={"note": 5})
    assert bad_note.status_code == 400

    resolved = await api.client.post(
        f"{url}/resolve", json={"note": "rolled back"}, headers={"X-Tocsin-Actor": "bob"}
    )
    assert resolved.status_code == 200
    body = resolved.json()
    assert body["status"] == "resolved"
    assert body["resolved_by"] == "bob"
    assert body["resolve_note"] == "rolled back"
    assert body["resolved_at"] == iso(clock.now)

    for action in ("acknowledge", "resolve"):
        refused = await api.client.post(f"{url}/{action}")
        assert refused.status_code == 409, action
        assert f"#{incident_id}" in refused.json()["error"]
    snooze_resolved = await api.client.post(f"{url}/snooze", json={"minutes": 60})
    assert snooze_resolved.status_code == 409

    shown = (await api.client.get(url)).json()
    assert [e["kind"] for e in shown["timeline"]] == [
        "opened",
        "acknowledged",
        "snoozed",
        "resolved",
    ]
    assert shown["timeline"][1]["actor"] == "alice (api)"
    assert shown["timeline"][3]["actor"] == "bob (api)"

    for action in ("acknowledge", "resolve"):
        assert (await api.client.post(f"/v1/alerts/4242/{action}")).status_code == 404
        assert (await api.client.post(f"/v1/alerts/x/{action}")).status_code == 400
    unknown = await api.client.post("/v1/alerts/4242/snooze", json={"minutes": 60})
    assert unknown.status_code == 404


async def test_resolved_incident_is_persisted(database_url, clock):
    async with serve(database_url, clock) as api:
        incident_id = await open_incident(api)
        response = await api.client.post(f"/v1/alerts/{incident_id}/resolve")
        assert response.status_code == 200
    async with serve(database_url, clock) as api:
        shown = (await api.client.get(f"/v1/alerts/{incident_id}")).json()
        assert shown["status"] == "resolved"
        assert shown["resolved_by"] == "api"


# --- health, metrics, unknown routes ------------------------------------------------------


async def test_healthz(api):
    response = await api.client.get("/healthz", headers={"Authorization": ""})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"

    real = api.core.db.engine
    broken = create_async_engine("sqlite+aiosqlite:////nonexistent-dir/nowhere/tocsin.db")
    api.core.db.engine = broken
    try:
        down = await api.client.get("/healthz")
    finally:
        api.core.db.engine = real
        await broken.dispose()
    assert down.status_code == 503
    assert down.json()["database"] == "error"
    assert "error" in down.json()


async def test_metrics(api):
    await open_incident(api)
    await api.client.post("/v1/samples", content=b"nope")
    response = await api.client.get("/metrics", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert "tocsin_ticks_total 2.0" in text
    assert "tocsin_tick_duration_seconds_count 2.0" in text
    assert 'tocsin_incidents{status="open"} 1.0' in text
    assert 'tocsin_incidents{status="resolved"} 0.0' in text
    assert 'tocsin_rules{state="enabled"} 1.0' in text
    assert 'tocsin_rules{state="disabled"} 0.0' in text
    assert 'tocsin_ingest_samples_total{result="accepted"} 2.0' in text
    assert 'tocsin_ingest_requests_total{code="202"} 2.0' in text
    assert 'tocsin_ingest_requests_total{code="400"} 1.0' in text
    assert "tocsin_outbox_pending 1.0" in text  # the opened incident's page
    assert "tocsin_series 1.0" in text  # the /checkout series
    assert "tocsin_window_series 1.0" in text


async def test_unknown_routes_and_methods_answer_json(api):
    missing = await api.client.get("/v1/nothing")
    assert missing.status_code == 404
    assert "error" in missing.json()
    wrong_method = await api.client.delete("/v1/alerts")
    assert wrong_method.status_code == 405
    assert "error" in wrong_method.json()
    assert "GET" in wrong_method.headers["Allow"]
