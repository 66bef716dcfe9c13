"""What to check first: every rule of the catalogue has a list (monitors/rules/checks.yaml, by
what the rule reads), a rule's own ``checks`` replace it, the card shows it with the
runbook while the incident is open, and bad lists are refused with nothing saved."""

from __future__ import annotations

from pathlib import Path

import pytest
from command_helpers import ALICE, RULES, SLOW_API, fields, ok, open_one
from http_harness import serve

from bot.settings import read_config
from monitors.rules.checks import checks_for, entry_for, table
from monitors.rules.schema import Rule

EXAMPLES = Path(__file__).resolve().parent.parent / "config" / "examples"
CATALOGUE = [
    (path.name, rule) for path in sorted(EXAMPLES.glob("*.yaml")) for rule in read_config(path)[1]
]


@pytest.mark.parametrize(("file", "rule"), CATALOGUE, ids=[r.name for _, r in CATALOGUE])
def test_every_catalogue_rule_has_first_checks(file, rule):
    entry = entry_for(rule.to_json())
    assert entry is not None, f"{file}: {rule.name} has no entry in monitors/rules/checks.yaml"
    assert 2 <= len(checks_for(rule.to_json())) <= 5


def test_the_table_names_each_type_once_and_each_type_is_reached():
    types = [entry.type for entry in table()]
    assert len(types) == len(set(types))
    reached = {entry_for(rule.to_json()).type for _, rule in CATALOGUE}
    reached.add("events")  # pushed events' incidents, not rules
    assert reached == set(types), "an entry no catalogue rule reaches is dead data"


def test_the_seed_rule_reads_as_a_slow_endpoint_and_its_own_checks_win():
    slow = Rule.model_validate(
        {
            "name": "slow-api",
            "metric": "http.request.duration_ms",
            "aggregate": "p95",
            "thresholds": {"warning": 800},
        }
    )
    assert entry_for(slow.to_json()).type == "slow-endpoint"
    own = slow.model_copy(update={"checks": ("Is the cache warm?",)})
    assert checks_for(own.to_json()) == ("Is the cache warm?",)
    assert "checks" not in slow.to_json()  # the default is not written into saved rules


async def test_the_card_shows_the_checks_while_open_and_not_once_resolved(core, clock):
    own = ("Is the cache warm?", "Did the nightly import run long?")
    await core.rules.update("slow-api", {"checks": list(own)}, ALICE)
    incident_id = await open_one(core, clock)
    card = (await ok(core, f"/alerts show {incident_id}")).cards[0]
    shown = fields(card)["Check first"]
    assert shown == "1. Is the cache warm?\n2. Did the nightly import run long?"
    assert card.runbook == SLOW_API.runbook
    resolved = (await ok(core, f"/alerts resolve {incident_id}")).cards[0]
    assert "Check first" not in fields(resolved)


async def test_the_api_lists_the_checks_and_refuses_bad_ones(sqlite_url, clock):
    async with serve(sqlite_url, clock, rules=RULES) as api:
        for bad, words in (
            ({"checks": [""]}, "each check is 1 to 300 characters"),
            ({"checks": ["x" * 301]}, "each check is 1 to 300 characters"),
            ({"checks": [f"check {n}" for n in range(11)]}, "at most 10"),
            ({"checks": "Is the cache warm?"}, "checks"),
        ):
            answer = await api.client.patch("/v1/rules/slow-api", json=bad)
            assert answer.status_code == 400 and words in answer.json()["error"], answer.text
        assert "checks" not in (await api.client.get("/v1/rules/slow-api")).json()
        saved = await api.client.patch("/v1/rules/slow-api", json={"checks": ["Is it Tuesday?"]})
        assert saved.json()["checks"] == ["Is it Tuesday?"]
        incident_id = await open_one(api.core, clock)
        alert = (await api.client.get(f"/v1/alerts/{incident_id}")).json()
        assert alert["checks"] == ["Is it Tuesday?"]
