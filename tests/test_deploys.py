"""Deploy correlation: deploys pushed as events (the shipped record-only ``deploy``
type); an incident that opens within ``deploy_window`` after a deploy of its service
says so on its card, in its timeline and in the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from http_harness import Api, serve

from bot.settings import read_config
from monitors.incidents.cards import incident_card
from monitors.rules.rulefile import RuleFileInvalid
from monitors.rules.schema import Rule
from storage.repositories import IncidentRepository

API_RULE = Rule.model_validate(
    {
        "name": "slow-api",
        "metric": "latency",
        "match": {"service": "api"},
        "aggregate": "max",
        "window": "1m",
        "interval": "1m",
        "group_by": ["route"],
        "thresholds": {"warning": 500},
    }
)
DISK_RULE = Rule.model_validate(  # no service: reads every sample of its metric
    {"name": "disk", "metric": "disk", "aggregate": "max", "thresholds": {"warning": 90}}
)


async def deploy(api: Api, **labels: str) -> int:
    answer = await api.client.post(
        "/v1/events", json={"type": "deploy", "labels": labels, "message": "rolling"}
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["action"], body["incident"]) == ("recorded", None)
    return body["event"]


async def breach(api: Api, clock, metric: str = "latency", **labels: str) -> dict:
    """Two breaching readings a minute apart; the alert that opened, from the API."""
    for _ in range(2):
        sample = {"metric": metric, "value": 2000, "labels": labels}
        assert (await api.push(sample)).status_code == 202
        await api.core.engine.tick(api.core.rulebook.enabled(), now=clock())
        clock.advance(60)
    (alert,) = (await api.client.get("/v1/alerts")).json()["alerts"]
    return (await api.client.get(f"/v1/alerts/{alert['id']}")).json()


async def test_an_incident_opening_after_a_deploy_of_its_service_says_so(database_url, clock):
    async with serve(database_url, clock, rules=[API_RULE]) as api:
        event = await deploy(api, service="api", version="1.42")
        clock.advance(3 * 60)
        alert = await breach(api, clock, service="api", route="/orders")  # opens 4 min after
        note = "started 4 min after deploy api 1.42"
        assert alert["deploy"] == {"event": event, "note": note}
        opened = alert["timeline"][0]["detail"]
        assert opened.startswith("Opened after 2 consecutive breaches") and opened.endswith(
            f"; {note}"
        )
        async with api.core.db.read() as session:
            incident = await IncidentRepository(session).get(alert["id"])
        assert dict(incident_card(incident, clock()).fields)["Deploy"] == note


@pytest.mark.parametrize(
    ("labels", "minutes", "expected"),
    [
        ({"service": "checkout", "version": "7"}, 3, None),  # another service
        ({"service": "api", "version": "1.42"}, 30, None),  # outside the 30m window
        ({"version": "2027.1"}, 3, "started 4 min after deploy 2027.1"),  # the whole system
        ({}, 0, "started 1 min after a deploy"),
    ],
)
async def test_which_deploys_go_with_an_incident(database_url, clock, labels, minutes, expected):
    async with serve(database_url, clock, rules=[API_RULE]) as api:
        await deploy(api, **labels)
        clock.advance(minutes * 60)
        alert = await breach(api, clock, service="api", route="/orders")
        assert (alert["deploy"] or {}).get("note") == expected


async def test_an_incident_with_no_service_goes_with_any_service_s_deploy(sqlite_url, clock):
    async with serve(sqlite_url, clock, rules=[DISK_RULE]) as api:
        await deploy(api, service="api", version="1.41")
        clock.advance(60)
        await deploy(api, service="worker", version="9")
        clock.advance(60)
        alert = await breach(api, clock, metric="disk", host="db1")
        assert alert["deploy"]["note"] == "started 2 min after deploy worker 9"  # the latest


async def test_an_event_incident_after_a_deploy_says_so_too(sqlite_url, clock):
    async with serve(sqlite_url, clock, rules=[API_RULE]) as api:
        await deploy(api, service="api", version="1.42")
        clock.advance(45)
        answer = await api.client.post(
            "/v1/events",
            json={"type": "high_error_rate", "labels": {"service": "api"}, "message": "5%"},
        )
        incident = answer.json()["incident"]
        alert = (await api.client.get(f"/v1/alerts/{incident}")).json()
        assert alert["deploy"]["note"] == "started 45 s after deploy api 1.42"
        assert alert["timeline"][0]["detail"].endswith("; started 45 s after deploy api 1.42")


async def test_a_deploy_window_of_0_turns_it_off(sqlite_url, clock):
    async with serve(sqlite_url, clock, rules=[API_RULE], deploy_window=0) as api:
        await deploy(api, service="api", version="1.42")
        alert = await breach(api, clock, service="api", route="/orders")
        assert alert["deploy"] is None
        assert "after deploy" not in alert["timeline"][0]["detail"]


def test_deploy_window_and_retention_are_config_keys(tmp_path: Path):
    good = tmp_path / "good.yaml"
    good.write_text("deploy_window: 10m\nretention: 30d\nrules: []\n")
    settings, _ = read_config(good)
    assert (settings.deploy_window, settings.retention) == (600, 30 * 86400)
    bad = tmp_path / "bad.yaml"
    bad.write_text("deploy_window: soon\nretention: 0\nrules: []\n")
    with pytest.raises(RuleFileInvalid) as refused:
        read_config(bad)
    text = str(refused.value)
    assert "line 1" in text and "deploy_window" in text
    assert "line 2" in text and "retention" in text
