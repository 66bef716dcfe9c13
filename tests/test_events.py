"""POST /v1/events: discrete events open, add to, reopen and resolve incidents at once;
anything wrong is a 400 that records nothing."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from http_harness import Api, serve
from sqlalchemy import func, select

from monitors.sources.events import parse_event_types
from storage.models import EventRow, IncidentEventRow, IncidentRow, OutboxRow


async def post(api: Api, **event: Any) -> tuple[int, dict[str, Any]]:
    response = await api.client.post("/v1/events", json=event)
    return response.status_code, response.json()


async def count(api: Api, table: type) -> int:
    async with api.core.db.read() as session:
        return (await session.execute(select(func.count()).select_from(table))).scalar_one()


async def pages(api: Api) -> list[tuple[int | None, str]]:
    """(incident, event) of every outbox row that pages."""
    async with api.core.db.read() as session:
        rows = await session.scalars(select(OutboxRow).where(OutboxRow.notify.is_(True)))
        return [(row.incident_id, row.event) for row in rows]


async def incident(api: Api, incident_id: int) -> dict[str, Any]:
    return (await api.client.get(f"/v1/alerts/{incident_id}")).json()


OPENAI = {"provider": "openai"}
REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"type": "circuit_breaker_open"},
         "type: 'circuit_breaker_open' is not an event type (did you mean "
         "'circuit_breaker_opened'?)"),
        ({"severity": "error"}, "type: required, one of circuit_breaker_closed"),
        ({"type": 7}, "type: required"),
        ({"type": "quota_exhausted", "labels": {"p": 1}}, "labels.p: must be a string"),
        ({"type": "quota_exhausted", "severity": "fatal"}, "severity: must be one of info"),
        ({"type": "quota_exhausted", "severity": "info"}, "severity: info cannot open an incident"),
        ({"type": "quota_exhausted", "when": "now"}, "when: unknown field"),
        ({"type": "quota_exhausted", "context": [1]}, "context: must be an object"),
    ],
)  # fmt: skip
async def test_a_bad_event_is_refused_and_records_nothing(api, event, error):
    status, body = await post(api, **event)
    assert status == 400
    assert body["error"] == "The event was refused; nothing was recorded."
    assert any(e.startswith(error) for e in body["errors"]), body["errors"]
    assert (await count(api, IncidentRow), await count(api, EventRow)) == (0, 0)


async def test_an_event_that_is_not_json_is_refused(api):
    response = await api.client.post("/v1/events", content=b"{type")
    assert response.status_code == 400 and await count(api, EventRow) == 0


async def test_an_opening_event_opens_and_pages_at_once(api):
    status, body = await post(
        api, type="circuit_breaker_opened", labels=OPENAI, message="5 failures in 10s",
        context={"failures": 5},
    )  # fmt: skip
    assert status == 202 and body["action"] == "opened"
    opened = await incident(api, body["incident"])
    assert (opened["rule"], opened["severity"], opened["status"], opened["kind"]) == (
        "circuit_breaker_opened", "error", "open", "event"
    )  # fmt: skip
    assert opened["labels"] == OPENAI
    assert opened["summary"] == "circuit_breaker_opened: 5 failures in 10s"
    assert await pages(api) == [(body["incident"], "opened")]  # no tick needed


async def test_repeats_add_to_the_count_without_paging_again(api):
    _, first = await post(api, type="rate_limit_exceeded", labels=OPENAI)
    for _ in range(3):
        status, again = await post(api, type="rate_limit_exceeded", labels=OPENAI)
        assert (status, again["action"], again["incident"]) == (202, "repeated", first["incident"])
    _, other = await post(api, type="rate_limit_exceeded", labels={"provider": "anthropic"})
    assert other["action"] == "opened" and other["incident"] != first["incident"]
    async with api.core.db.read() as session:
        row = await session.get(IncidentRow, first["incident"])
        assert row is not None and row.event_count == 4
    assert await pages(api) == [(first["incident"], "opened"), (other["incident"], "opened")]
    assert await count(api, EventRow) == 5


async def test_a_higher_severity_repeat_escalates(api):
    _, first = await post(api, type="provider_unhealthy", labels=OPENAI)
    _, worse = await post(api, type="provider_unhealthy", labels=OPENAI, severity="critical")
    assert worse["action"] == "escalated"
    assert (await incident(api, first["incident"]))["severity"] == "critical"
    assert await pages(api) == [(first["incident"], "opened"), (first["incident"], "escalated")]


async def test_the_pair_resolves_on_the_same_labels_only(api):
    _, opened = await post(api, type="circuit_breaker_opened", labels=OPENAI)
    _, elsewhere = await post(api, type="circuit_breaker_closed", labels={"provider": "other"})
    assert (elsewhere["action"], elsewhere["incident"]) == ("nothing_open", None)
    _, closed = await post(api, type="circuit_breaker_closed", labels=OPENAI, message="ok again")
    assert (closed["action"], closed["incident"]) == ("resolved", opened["incident"])
    resolved = await incident(api, opened["incident"])
    assert (resolved["status"], resolved["resolved_by"]) == ("resolved", "auto")
    assert resolved["timeline"][-1]["detail"] == (
        "Resolved by event circuit_breaker_closed: ok again"
    )
    _, again = await post(api, type="circuit_breaker_closed", labels=OPENAI)
    assert again["action"] == "nothing_open"


async def test_opening_again_within_the_cooldown_reopens_quietly(api):
    _, opened = await post(api, type="circuit_breaker_opened", labels=OPENAI)
    await post(api, type="circuit_breaker_closed", labels=OPENAI)
    api.core.clock.advance(600)  # type: ignore[attr-defined]
    _, flapped = await post(api, type="circuit_breaker_opened", labels=OPENAI)
    assert (flapped["action"], flapped["incident"]) == ("reopened", opened["incident"])
    assert (await incident(api, opened["incident"]))["status"] == "open"
    await post(api, type="circuit_breaker_closed", labels=OPENAI)
    api.core.clock.advance(3601)  # type: ignore[attr-defined]
    _, later = await post(api, type="circuit_breaker_opened", labels=OPENAI)
    assert later["action"] == "opened" and later["incident"] != opened["incident"]
    assert await pages(api) == [(opened["incident"], "opened"), (later["incident"], "opened")]


async def test_a_flood_of_repeats_writes_a_bounded_timeline(api):
    for _ in range(120):
        await post(api, type="rate_limit_exceeded", labels=OPENAI)
    async with api.core.db.read() as session:
        lines = (await session.scalars(select(IncidentEventRow.detail))).all()
    # opened, then 2..10, 20..100 by tens, and 110 is not a line: 1 + 9 + 9 = 19
    assert len(lines) == 19 and lines[-1].startswith("Repeated (100 events so far)")


async def test_record_only_types_are_stored_for_later_and_open_nothing(sqlite_url, clock):
    types = parse_event_types({"deploy": {"record_only": True}, "quota_exhausted": None})
    async with serve(sqlite_url, clock, event_types=types) as api:
        status, body = await post(
            api, type="deploy", labels={"service": "api"}, message="v1.2.3",
            context={"commit": "abc123"},
        )  # fmt: skip
        assert (status, body["action"], body["incident"]) == (202, "recorded", None)
        status, _ = await post(api, type="quota_exhausted")
        assert status == 400  # removed by the config
        listed = (await api.client.get("/v1/events", params={"type": "deploy"})).json()
        (deploy,) = listed["events"]
        assert (deploy["message"], deploy["context"], deploy["labels"]) == (
            "v1.2.3", {"commit": "abc123"}, {"service": "api"}
        )  # fmt: skip
        assert await count(api, IncidentRow) == 0


async def test_event_incidents_survive_a_restart(sqlite_url, clock):
    async with serve(sqlite_url, clock) as api:
        _, opened = await post(api, type="quota_exhausted", labels={"key": "team-a"})
    async with serve(sqlite_url, clock) as api:
        assert (await incident(api, opened["incident"]))["status"] == "open"
        _, repeat = await post(api, type="quota_exhausted", labels={"key": "team-a"})
        assert repeat["action"] == "repeated"


async def test_events_are_counted_in_metrics(api):
    await post(api, type="quota_exhausted")
    await post(api, type="nope")
    text = (await api.client.get("/metrics")).text
    assert 'tocsin_events_total{action="opened",type="quota_exhausted"} 1.0' in text
    assert 'tocsin_events_total{action="refused",type="refused"} 1.0' in text


@pytest.mark.slow
async def test_the_running_service_posts_an_event_s_incident_within_seconds(tmp_path):
    """`run.py` on port 0 (the port it got is read from its start-up line): an event's
    incident reaches the chat (the console) without waiting for any rule's interval."""
    config = tmp_path / "tocsin.yaml"
    config.write_text("timer_interval: 1\nevent_types:\n  deploy: {record_only: true}\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "run.py",
        cwd=REPO,
        env={**os.environ, "TOCSIN_CONFIG": str(config), "TOCSIN_HTTP_PORT": "0",
             "TOCSIN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'tocsin.db'}",
             "COLUMNS": "200"},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    seen: list[str] = []

    async def line_with(pattern: str, within: float) -> re.Match[str]:
        async def scan() -> re.Match[str]:
            while line := (await process.stdout.readline()).decode():  # type: ignore[union-attr]
                seen.append(line)
                if found := re.search(pattern, line):
                    return found
            raise AssertionError("".join(seen))

        return await asyncio.wait_for(scan(), within)

    try:
        port = int((await line_with(r"HTTP on http://127\.0\.0\.1:(\d+)", 30)).group(1))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            response = await client.post(
                "/v1/events",
                json={"type": "circuit_breaker_opened", "labels": {"provider": "openai"},
                      "message": "5 failures in 10s"},
            )  # fmt: skip
            assert response.status_code == 202
            await line_with(r"Opened by event circuit_breaker_opened: 5 failures in 10s", 5)
            deploy = await client.post("/v1/events", json={"type": "deploy"})
            assert deploy.json()["action"] == "recorded"
    finally:
        process.terminate()
        await process.wait()


async def test_acknowledging_says_what_will_resolve_it(api):
    from command_helpers import ALICE

    from commands.dispatch import handle

    _, paired = await post(api, type="circuit_breaker_opened", labels=OPENAI)
    _, alone = await post(api, type="quota_exhausted")
    reply = await handle(api.core, f"/alerts ack {paired['incident']}", ALICE)
    assert "resolves itself when a circuit_breaker_closed event comes" in reply.text
    reply = await handle(api.core, f"/alerts ack {alone['incident']}", ALICE)
    assert f"Nothing resolves it by itself: /alerts resolve {alone['incident']}" in reply.text


async def test_open_repeat_and_resolve_on_each_database(database_url, clock):
    async with serve(database_url, clock) as api:
        _, opened = await post(api, type="provider_unhealthy", labels=OPENAI)
        _, again = await post(api, type="provider_unhealthy", labels=OPENAI)
        _, closed = await post(api, type="provider_recovered", labels=OPENAI)
        assert [opened["action"], again["action"], closed["action"]] == [
            "opened", "repeated", "resolved"
        ]  # fmt: skip
        assert opened["incident"] == again["incident"] == closed["incident"]
        assert await count(api, EventRow) == 3
