"""Priorities: P1..P4 from the severity and how far past its threshold the value is,
stored with the incident, kept up to date as it escalates, shown on cards and in the
API, and used to sort /alerts list (and the API list on request)."""

from __future__ import annotations

import pytest
from command_helpers import RULES, fields, incident_for, ok, push_and_tick
from http_harness import serve

from monitors.incidents.priority import priority_of
from storage.vocabulary import Priority


@pytest.mark.parametrize(
    ("severity", "value", "threshold", "op", "expected"),
    [
        ("critical", 4000, 2000, ">", "P1"),  # the seed rule: 2x over critical
        ("critical", 3999, 2000, ">", "P2"),
        ("error", 1000, 500, ">", "P2"),
        ("error", 600, 500, ">", "P3"),
        ("warning", 1000, 500, ">=", "P3"),
        ("warning", 900, 500, ">", "P4"),
        ("warning", 40, 100, "<", "P3"),  # half of a floor is 2x past it
        ("warning", 60, 100, "<", "P4"),
        ("error", -100, -50, "<", "P2"),  # a fall of 100% against a limit of -50%
        ("critical", 10, 40, "<>", "P1"),  # an anomaly rule: either side of the band
        ("critical", None, None, ">", "P2"),  # a source down, an event: severity alone
        ("warning", 5, 0, ">", "P4"),  # a threshold of 0: no ratio to speak of
        ("error", -5, 10, ">", "P3"),  # across zero: no ratio either
    ],
)
def test_the_priority_table_row_by_row(severity, value, threshold, op, expected):
    assert priority_of(severity, value, threshold, op) == expected


async def test_an_incident_keeps_its_priority_as_it_escalates_and_falls_back(core_each_db, clock):
    core = core_each_db
    await push_and_tick(core, clock, {"/checkout": 900})  # warning 500: 1.8x
    incident = await incident_for(core, "/checkout")
    assert incident.priority == Priority.P4
    await push_and_tick(core, clock, {"/checkout": 1000}, ticks=1)  # 2x the warning
    assert (await incident_for(core, "/checkout")).priority == Priority.P4  # no new level
    await push_and_tick(core, clock, {"/checkout": 4500}, ticks=1)  # critical 2000: 2.25x
    escalated = await incident_for(core, "/checkout")
    assert (escalated.severity, escalated.priority) == ("critical", Priority.P1)
    await push_and_tick(core, clock, {"/checkout": 900}, ticks=1)  # back to warning, 1.8x
    assert (await incident_for(core, "/checkout")).priority == Priority.P4
    card = (await ok(core, f"/alerts show {incident.id}")).cards[0]
    assert fields(card)["Priority"] == "P4"


async def test_alerts_list_puts_p1_first_though_it_is_older(core, clock):
    await push_and_tick(core, clock, {"/checkout": 4500})  # critical, 2.25x: P1
    await push_and_tick(core, clock, {"/search": 900})  # warning: P4, newer
    await push_and_tick(core, clock, {"/login": 2100})  # critical, 1.05x: P2, newest
    rows = (await ok(core, "/alerts list")).table[1:]
    assert [(row[1], row[5]) for row in rows] == [
        ("P1", "route=/checkout"),
        ("P2", "route=/login"),
        ("P4", "route=/search"),
    ]


async def test_the_api_gives_the_priority_and_sorts_by_it_on_request(database_url, clock):
    async with serve(database_url, clock, rules=RULES) as api:
        for route, value in (("/a", 4500), ("/b", 900)):
            await push_and_tick(api.core, clock, {route: value})
        newest = (await api.client.get("/v1/alerts")).json()["alerts"]
        assert [(a["labels"]["route"], a["priority"]) for a in newest] == [
            ("/b", "P4"),
            ("/a", "P1"),
        ]
        ranked = (await api.client.get("/v1/alerts?sort=priority")).json()["alerts"]
        assert [a["labels"]["route"] for a in ranked] == ["/a", "/b"]
        shown = (await api.client.get(f"/v1/alerts/{ranked[0]['id']}")).json()
        assert shown["priority"] == "P1"
        refused = await api.client.get("/v1/alerts?sort=severity")
        assert refused.status_code == 400
        assert refused.json()["error"] == "sort 'severity' is not one of: newest, priority."
