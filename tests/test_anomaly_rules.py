"""Anomaly rules through the real engine and database: learning reads as no data, a
departure opens an incident that says where the normal band was, a restart keeps
judging, and a rule that reads something else learns afresh."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from engine_helpers import ALICE, incidents, open_core, tick
from http_harness import serve
from sqlalchemy import func, select

from bot.settings import read_config
from monitors.anomaly.model import LEARNING
from storage.models import AnomalyModelRow

ANOMALY = {"threshold_type": "anomaly", "thresholds": {"warning": 1}, "op": "<>", "window": "10s"}


def calm(seed: int = 7):
    rng = random.Random(seed)
    return lambda: rng.gauss(200, 10)


async def learn(core, clock, ticks: int = LEARNING + 100, seed: int = 7) -> None:
    value = calm(seed)
    for _ in range(ticks):
        await tick(core, clock, value())


async def saved_models(core) -> int:
    async with core.db.read() as session:
        return await session.scalar(select(func.count()).select_from(AnomalyModelRow))


async def test_learning_reads_as_no_data_then_a_departure_opens_an_incident(database_url, clock):
    core = await open_core(database_url, clock, **ANOMALY)
    try:
        for value in (200, 5000, 5000, 1, 1):  # wild, but the model is still learning
            await tick(core, clock, value)
        assert await incidents(core) == []
        await learn(core, clock)
        assert await incidents(core) == []
        await tick(core, clock, 2000)
        await tick(core, clock, 2000)
        (incident,) = await incidents(core)
        assert (incident.status, incident.severity, incident.value) == ("open", "warning", 2000)
        assert 200 < incident.threshold < 2000  # the upper edge of the normal band
        assert "2,000 above the normal band" in incident.summary
    finally:
        await core.close()


async def test_a_rule_watching_one_side_ignores_the_other(database_url, clock):
    core = await open_core(database_url, clock, **{**ANOMALY, "op": ">"})
    try:
        await learn(core, clock)
        for _ in range(3):
            await tick(core, clock, 2)  # far below: not what this rule watches
        assert await incidents(core) == []
        for _ in range(2):
            await tick(core, clock, 2000)
        assert len(await incidents(core)) == 1
    finally:
        await core.close()


async def test_a_restart_keeps_judging_instead_of_learning_again(database_url, clock):
    core = await open_core(database_url, clock, **ANOMALY)
    await learn(core, clock)
    await core.close()  # saves the models
    core = await open_core(database_url, clock, **ANOMALY)
    try:
        assert await saved_models(core) == 1
        await tick(core, clock, 2000)
        await tick(core, clock, 2000)
        assert len(await incidents(core)) == 1  # judged at once, not "learning"
    finally:
        await core.close()


async def test_models_are_saved_by_the_periodic_flush_too(sqlite_url, clock):
    core = await open_core(sqlite_url, clock, **ANOMALY)
    try:
        await learn(core, clock, ticks=20)
        assert await saved_models(core) == 0
        assert await core.anomalies.flush() == 1
        assert await saved_models(core) == 1
        assert await core.anomalies.flush() == 0  # nothing learned since
    finally:
        await core.close()


async def test_reading_another_aggregate_learns_afresh(sqlite_url, clock):
    core = await open_core(sqlite_url, clock, **ANOMALY)
    try:
        await learn(core, clock)
        await core.rules.update("slow-api", {"aggregate": "max"}, ALICE)
        for _ in range(5):
            await tick(core, clock, 2000)
        assert await incidents(core) == []  # a new model: learning again
    finally:
        await core.close()


async def test_deleting_the_rule_deletes_its_models(sqlite_url, clock):
    core = await open_core(sqlite_url, clock, **ANOMALY)
    try:
        await learn(core, clock, ticks=20)
        await core.anomalies.flush()
        await core.rules.delete("slow-api", ALICE)
        assert await saved_models(core) == 0
        assert core.anomalies.model(("slow-api", "-")) is None
    finally:
        await core.close()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"op": ">="}, "op", "anomaly rules take '>'"),
        ({"thresholds": {"warning": 0.5}}, "thresholds", "multiples of the normal band"),
        ({"sensitivity": 20}, "sensitivity", "is more than 10"),
        ({"threshold_type": "static", "sensitivity": 2}, "sensitivity", "only anomaly rules"),
    ],
)
async def test_bad_anomaly_rules_are_refused_and_nothing_is_saved(
    sqlite_url, clock, change, field, words
):
    rule = {"name": "odd-latency", "metric": "latency", **ANOMALY, **change}
    if rule["threshold_type"] == "static":
        rule["op"] = ">"
    async with serve(sqlite_url, clock) as api:
        answer = await api.client.post("/v1/rules", json=rule)
        assert answer.status_code == 400
        assert field in answer.json()["error"] and words in answer.json()["error"]
        assert (await api.client.get("/v1/rules/odd-latency")).status_code == 404


async def test_an_anomaly_rule_needs_nothing_but_its_type(sqlite_url, clock):
    async with serve(sqlite_url, clock) as api:
        answer = await api.client.post(
            "/v1/rules",
            json={"name": "odd-latency", "metric": "latency", "threshold_type": "anomaly"},
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert (body["op"], body["thresholds"], body["sensitivity"]) == (
            "<>",
            {"warning": 1.0},
            None,
        )


def test_the_recommended_anomaly_rule_reads_metric_value():
    _, rules = read_config(Path(__file__).parent.parent / "config/examples/anomaly.yaml")
    assert [(r.metric, r.threshold_type, r.op) for r in rules] == [("value", "anomaly", "<>")]
