"""The rules and silences API against a real server: CRUD, validation, restarts."""

from __future__ import annotations

import pytest
from http_harness import SLOW_API, open_incident, serve

from monitors.formatting import iso

NEW_RULE = {
    "name": "queue-depth",
    "metric": "queue_depth",
    "aggregate": "max",
    "window": "10m",
    "thresholds": {"warning": 100, "critical": 1000},
    "group_by": ["queue"],
}


async def test_rules_crud_survives_a_restart(database_url, clock):
    async with serve(database_url, clock) as api:
        created = await api.client.post("/v1/rules", json=NEW_RULE)
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["name"] == "queue-depth" and body["window"] == "10m"
        assert body["origin"] == {
            "source": "saved",
            "updated_by": "api (api)",
            "updated_at": iso(clock.now),
        }
        assert created.headers["Location"] == "/v1/rules/queue-depth"

        duplicate = await api.client.post("/v1/rules", json=NEW_RULE)
        assert duplicate.status_code == 409
        assert "exists already" in duplicate.json()["error"]

        clock.advance(60)
        patched = await api.client.patch(
            "/v1/rules/queue-depth",
            json={"thresholds": {"warning": 200, "critical": 2000}, "interval": "30s"},
            headers={"X-Tocsin-Actor": "carol"},
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["thresholds"] == {"warning": 200.0, "critical": 2000.0}
        assert patched.json()["metric"] == "queue_depth"  # untouched fields stay
        assert patched.json()["origin"]["updated_by"] == "carol (api)"

        deleted = await api.client.delete("/v1/rules/slow-api")  # a rule from the file
        assert deleted.status_code == 200
        assert deleted.json()["deleted"]["name"] == "slow-api"
        assert (await api.client.get("/v1/rules/slow-api")).status_code == 404

    # A new process on the same database, with the same rule file.
    async with serve(database_url, clock, rules=[SLOW_API]) as api:
        names = [r["name"] for r in (await api.client.get("/v1/rules")).json()["rules"]]
        assert names == ["queue-depth"]
        rule = (await api.client.get("/v1/rules/queue-depth")).json()
        assert rule["thresholds"] == {"warning": 200.0, "critical": 2000.0}
        assert rule["interval"] == "30s"
        assert rule["origin"]["source"] == "saved"
        assert api.core.rulebook.get("queue-depth") is not None

        gone = await api.client.delete("/v1/rules/queue-depth")
        assert gone.status_code == 200

    async with serve(database_url, clock) as api:
        assert (await api.client.get("/v1/rules")).json() == {"rules": []}


async def test_rule_list_and_show(api):
    listed = await api.client.get("/v1/rules")
    assert listed.status_code == 200
    rules = listed.json()["rules"]
    assert [r["name"] for r in rules] == ["slow-api"]
    assert rules[0]["origin"] == {"source": "file"}
    assert rules[0]["thresholds"] == {"warning": 500.0, "critical": 2000.0}

    shown = await api.client.get("/v1/rules/slow-api")
    assert shown.status_code == 200
    assert shown.json() == rules[0]

    missing = await api.client.get("/v1/rules/nope")
    assert missing.status_code == 404
    assert "no rule named 'nope'" in missing.json()["error"]


async def test_a_rule_from_get_can_be_sent_back(api):
    rule = (await api.client.get("/v1/rules/slow-api")).json()
    rule["runbook"] = "https://wiki.example.com/slow-api"
    patched = await api.client.patch("/v1/rules/slow-api", json=rule)
    assert patched.status_code == 200, patched.text
    assert patched.json()["runbook"] == "https://wiki.example.com/slow-api"
    assert patched.json()["origin"]["source"] == "override"


async def test_bad_rule_requests(api):
    no_thresholds = {k: v for k, v in NEW_RULE.items() if k != "thresholds"}
    invalid = await api.client.post("/v1/rules", json=no_thresholds)
    assert invalid.status_code == 400
    assert "thresholds" in invalid.json()["error"]

    typo = await api.client.post("/v1/rules", json={**NEW_RULE, "treshold": 5})
    assert typo.status_code == 400
    assert "treshold" in typo.json()["error"]

    bad_name = await api.client.post("/v1/rules", json={**NEW_RULE, "name": "Bad Name!"})
    assert bad_name.status_code == 400
    assert "name" in bad_name.json()["error"]

    for body in (b"not json", b"[]", b""):
        response = await api.client.post("/v1/rules", content=body)
        assert response.status_code == 400, body

    bad_window = await api.client.patch("/v1/rules/slow-api", json={"window": "soon"})
    assert bad_window.status_code == 400
    assert "window" in bad_window.json()["error"]
    rename = await api.client.patch("/v1/rules/slow-api", json={"name": "fast-api"})
    assert rename.status_code == 400
    assert "renamed" in rename.json()["error"]
    upside_down = await api.client.patch(
        "/v1/rules/slow-api", json={"thresholds": {"warning": 3000, "critical": 10}}
    )
    assert upside_down.status_code == 400
    assert (await api.client.get("/v1/rules/slow-api")).json()["thresholds"]["warning"] == 500

    assert (await api.client.patch("/v1/rules/nope", json={"window": "1m"})).status_code == 404
    assert (await api.client.delete("/v1/rules/nope")).status_code == 404


async def test_disabling_a_rule_resolves_its_incidents(api):
    incident_id = await open_incident(api)
    patched = await api.client.patch("/v1/rules/slow-api", json={"enabled": False})
    assert patched.status_code == 200
    assert patched.json()["enabled"] is False
    incident = (await api.client.get(f"/v1/alerts/{incident_id}")).json()
    assert incident["status"] == "resolved"
    assert incident["resolve_note"] == "rule disabled"


# --- silences -----------------------------------------------------------------------------


async def test_silences(api, clock):
    assert (await api.client.get("/v1/silences")).json() == {"silences": []}

    added = await api.client.post(
        "/v1/silences",
        json={"matchers": "rule=slow-api,env=~prod.*", "duration": "2h", "reason": "deploy"},
        headers={"X-Tocsin-Actor": "dave"},
    )
    assert added.status_code == 201, added.text
    silence = added.json()
    assert silence["matchers"] == "rule=slow-api,env=~prod.*"
    assert silence["starts_at"] == iso(clock.now)
    assert silence["ends_at"] == iso(clock.now + 7200)
    assert silence["reason"] == "deploy"
    assert silence["created_by"] == "dave (api)"
    assert silence["active"] is True

    seconds = await api.client.post("/v1/silences", json={"matchers": "env=dev", "duration": 600})
    assert seconds.status_code == 201
    assert seconds.json()["ends_at"] == iso(clock.now + 600)

    listed = (await api.client.get("/v1/silences")).json()["silences"]
    assert [s["id"] for s in listed] == [silence["id"], seconds.json()["id"]]

    removed = await api.client.delete(f"/v1/silences/{silence['id']}")
    assert removed.status_code == 200
    assert removed.json()["removed_by"] == "api (api)"
    assert removed.json()["active"] is False
    again = await api.client.delete(f"/v1/silences/{silence['id']}")
    assert again.status_code == 409
    assert "already ended" in again.json()["error"]
    assert (await api.client.delete("/v1/silences/999")).status_code == 404
    assert (await api.client.delete("/v1/silences/abc")).status_code == 400
    listed = (await api.client.get("/v1/silences")).json()["silences"]
    assert [s["id"] for s in listed] == [seconds.json()["id"]]


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"duration": "2h"}, "matchers"),
        ({"matchers": "rule=slow-api"}, "duration"),
        ({"matchers": "", "duration": "2h"}, "matchers"),
        ({"matchers": "no operator", "duration": "2h"}, "operator"),
        ({"matchers": "rule=slow-api", "duration": "soon"}, "duration"),
        ({"matchers": "rule=slow-api", "duration": "-5m"}, "duration"),
        ({"matchers": "rule=slow-api", "duration": [1]}, "duration"),
        ({"matchers": "rule=slow-api", "duration": "90d"}, "at most"),
        ({"matchers": "rule=slow-api", "duration": "1h", "reason": 7}, "reason"),
    ],
)
async def test_bad_silences(api, body, mentions):
    response = await api.client.post("/v1/silences", json=body)
    assert response.status_code == 400, response.text
    assert mentions in response.json()["error"]


# --- PATCH is a JSON Merge Patch (RFC 7396) -------------------------------------------------


async def test_patching_one_level_keeps_the_others(api):
    patched = await api.client.patch("/v1/rules/slow-api", json={"thresholds": {"warning": 600}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["thresholds"] == {"warning": 600.0, "critical": 2000.0}


async def test_null_removes_a_level_or_restores_a_default(api):
    patched = await api.client.patch(
        "/v1/rules/slow-api",
        json={"thresholds": {"warning": 800, "critical": None}, "runbook": "https://rb/x"},
    )
    assert patched.json()["thresholds"] == {"warning": 800.0}
    assert patched.json()["runbook"] == "https://rb/x"
    restored = await api.client.patch("/v1/rules/slow-api", json={"runbook": None})
    assert restored.json()["runbook"] == ""
    emptied = await api.client.patch("/v1/rules/slow-api", json={"thresholds": {"warning": None}})
    assert emptied.status_code == 400
    assert "thresholds" in emptied.json()["error"]
    assert api.core.rulebook.get("slow-api").thresholds == {"warning": 800.0}


async def test_a_patch_that_changes_nothing_saves_nothing(api):
    """Saving would pin the rule over the config file's: later edits to the file would
    no longer apply to it."""
    for patch in ({}, {"thresholds": {"warning": 500}}, {"window": "5m"}):
        response = await api.client.patch("/v1/rules/slow-api", json=patch)
        assert response.status_code == 200, response.text
        assert response.json()["origin"] == {"source": "file"}
    assert (await api.client.get("/v1/rules/slow-api")).json()["origin"] == {"source": "file"}
