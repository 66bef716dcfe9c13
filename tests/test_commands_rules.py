"""``/rule``: list, show, set, enable, disable, test, through ``commands.dispatch.handle``
with a real Core. Everything that changes a rule runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from command_helpers import (
    BOB,
    fields,
    incident_for,
    incidents,
    ok,
    open_core,
    open_one,
    push_and_tick,
    refused,
    set_rule,
    sqlite_url,
    table_ids,
)

from monitors.core import Core
from monitors.rules.schema import Rule

THRESHOLDS = {"warning": 500.0, "critical": 2000.0}


# ---------------------------------------------------------------- list and show


async def test_list_shows_every_rule_with_its_thresholds(core):
    reply = await ok(core, "/rule list")
    assert reply.text == "2 rules:"
    header, *rows = reply.table
    assert header == ("Name", "State", "Measures", "Thresholds", "Every")
    assert rows == [
        ("error-rate", "enabled", "count of api.errors over 5m", "error > 10", "1m"),
        (
            "slow-api",
            "enabled",
            "avg of api.latency over 1m",
            "warning > 500, critical > 2000",
            "1m",
        ),
    ]


async def test_show_gives_the_whole_rule_and_where_it_comes_from(core):
    reply = await ok(core, "/rule show slow-api")
    lines = reply.text.splitlines()
    assert lines[0] == "slow-api: API latency"
    assert lines[1] == "origin: config file"
    assert "  metric: api.latency" in lines
    assert "  window: 1m" in lines
    assert "  breaches_to_open: 2" in lines
    assert "  runbook: https://wiki.example/slow-api" in lines


async def test_show_writes_every_field_as_in_the_rule_file(tmp_path, clock):
    """Not Python's {'warning': 1000000.0}, ('queue',), True or 1e+06; op goes with the
    thresholds; fields that do not apply (source, baseline_window of a static rule) or
    are empty (where, runbook) are left out."""
    rule = Rule(
        name="big-queue",
        description="Queue depth",
        metric="queue.depth",
        match={"service": "jobs", "region": "eu-1"},
        aggregate="max",
        window="15m",
        group_by=("queue",),
        thresholds={"warning": 1_000_000, "critical": 2.5e6},
        cooldown=0,
        escalate_after="30m",
        escalate_to=("oncall",),
        channels=("ops", "alerts"),
        enabled=False,
    )
    core = await Core.open(await sqlite_url(tmp_path), (rule,), clock=clock)
    try:
        reply = await ok(core, "/rule show big-queue")
    finally:
        await core.close()
    assert reply.text.splitlines() == [
        "big-queue (disabled): Queue depth",
        "origin: config file",
        "  metric: queue.depth",
        "  match: {service: jobs, region: eu-1}",
        "  aggregate: max",
        "  window: 15m",
        "  group_by: [queue]",
        "  min_samples: 1",
        "  interval: 1m",
        "  thresholds: warning > 1000000, critical > 2500000",
        "  breaches_to_open: 2",
        "  normals_to_resolve: 3",
        "  cooldown: 0 (never reopens)",
        "  no_data: keep",
        "  on_error: keep",
        "  source_errors_to_alert: 3",
        "  repeat_interval: 4h",
        "  escalate_after: 30m",
        "  escalate_to: [oncall]",
        "  channels: [ops, alerts]",
        "  max_per_hour: 10",
        "  enabled: false",
    ]


async def test_show_reads_like_yaml_for_the_everyday_rule(core):
    lines = (await ok(core, "/rule show slow-api")).text.splitlines()
    assert "  thresholds: warning > 500, critical > 2000" in lines
    assert "  group_by: [route]" in lines
    assert "  enabled: true" in lines
    assert not any(line.startswith(("  op:", "  source:", "  baseline_window:")) for line in lines)
    assert not any(mark in line for line in lines for mark in ("'", "True", "(", ".0,")), lines


async def test_show_unknown_rule_names_the_known_ones(core):
    reply = await refused(core, "/rule show latency")
    assert "There is no rule named 'latency'. Rules: error-rate, slow-api." in reply.text


async def test_a_rule_name_in_capitals_names_the_lower_case_rule(core):
    """Rule names are lower-case: /rule show Slow-API shows slow-api."""
    assert (await ok(core, "/rule show Slow-API")).text.startswith("slow-api: API latency")


@pytest.mark.parametrize(
    ("text", "says", "never"),
    [
        # "NOSUCH" used to get 'did you mean nosuch?', a rule that does not exist either
        ("/rule enable NOSUCH", "There is no rule named 'nosuch'. Rules:", "did you mean"),
        ("/rule disable slow-ap", "There is no rule named 'slow-ap'. Did you mean slow-api?", ""),
        ("/rule show eror-rate", "Did you mean error-rate?", ""),
    ],
)
async def test_an_unknown_rule_suggests_only_rules_that_exist(core, text, says, never):
    reply = await refused(core, text)
    assert says in reply.text
    assert not never or never not in reply.text.lower()


@pytest.mark.parametrize(
    ("text", "says", "usage"),
    [
        ("/rule show", "missing NAME, e.g. slow-api", "Usage: /rule show NAME"),
        ("/rule show slow api", 'too many arguments: "api"', "Usage: /rule show NAME"),
        ("/rule list all", 'too many arguments: "all"', "Usage: /rule list"),
    ],
)
async def test_malformed_read_commands_are_refused_with_usage(core, text, says, usage):
    reply = await refused(core, text)
    assert says in reply.text
    assert reply.text.endswith(usage)


# ---------------------------------------------------------------- set


async def test_set_changes_the_threshold_the_next_tick_uses(core_each_db, clock):
    core = core_each_db
    reply = await set_rule(core, "/rule set slow-api 1000")
    assert reply.text.startswith(
        "slow-api: warning threshold 500 -> 1000 (alerts when avg of api.latency > 1000). "
    )
    assert core.rulebook.get("slow-api").thresholds == {"warning": 1000, "critical": 2000}
    await push_and_tick(core, clock, {"/checkout": 900})
    assert await incidents(core) == [], "900 is under the new threshold of 1000"
    await push_and_tick(core, clock, {"/checkout": 1200})
    (incident,) = await incidents(core)
    assert incident.threshold == 1000
    shown = await ok(core, f"/alerts show {incident.id}")
    assert fields(shown.cards[0])["Value"] == "1,200 (threshold > 1,000, 20% over)"


async def test_set_a_named_level(core_each_db):
    reply = await set_rule(core_each_db, "/rule set slow-api 3000 CRITICAL")
    assert reply.text.startswith("slow-api: critical threshold 2000 -> 3000")
    assert core_each_db.rulebook.get("slow-api").thresholds == {
        "warning": 500,
        "critical": 3000,
    }


async def test_set_a_level_the_rule_did_not_have(core_each_db):
    reply = await set_rule(core_each_db, "/rule set slow-api 1000 error")
    assert reply.text.startswith("slow-api: error threshold unset -> 1000")
    assert (await ok(core_each_db, "/rule list")).table[2][3] == (
        "warning > 500, error > 1000, critical > 2000"
    )


async def test_set_survives_a_restart(core_each_db, clock, database_url):
    await set_rule(core_each_db, "/rule set slow-api 1000")
    await core_each_db.close()
    again = await open_core(database_url, clock)
    try:
        assert again.rulebook.get("slow-api").thresholds == {"warning": 1000, "critical": 2000}
        shown = await ok(again, "/rule show slow-api")
        listed = await ok(again, "/rule list")
    finally:
        await again.close()
    assert shown.text.splitlines()[1].startswith("origin: saved by alice (console) at ")
    assert shown.text.splitlines()[1].endswith(", overriding the config file's rule")
    assert listed.table[2][3] == "warning > 1000, critical > 2000"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/rule set slow-api fast", '"fast" is not a number'),
        ("/rule set slow-api inf", '"inf" is not a finite number'),
        ("/rule set slow-api nan", '"nan" is not a finite number'),
        (
            "/rule set slow-api 1000 urgent",
            '"urgent" is not a level; use warning, error or critical',
        ),
        ("/rule set slow-api", "missing THRESHOLD, e.g. 500"),
        ("/rule set", "missing NAME, e.g. slow-api"),
        ("/rule set slow-api 1000 critical now", 'too many arguments: "now" is not expected'),
    ],
)
async def test_set_with_malformed_arguments_is_refused_with_usage(core, text, says):
    reply = await refused(core, text)
    assert says in reply.text
    assert reply.text.endswith("Usage: /rule set NAME THRESHOLD [LEVEL]")
    assert core.rulebook.get("slow-api").thresholds == THRESHOLDS


async def test_set_unknown_rule_names_the_known_ones(core):
    reply = await refused(core, "/rule set unknown 5")
    assert "There is no rule named 'unknown'. Rules: error-rate, slow-api." in reply.text
    assert core.rulebook.get("unknown") is None


async def test_set_that_breaks_the_threshold_order_is_refused(core_each_db):
    await refused_for_order(core_each_db, "/rule set slow-api 5 critical")


@pytest.mark.parametrize("text", ["/rule set slow-api 2500", "/rule set slow-api 5 error"])
async def test_other_settings_that_break_the_order_are_refused(core, text):
    await refused_for_order(core, text)


async def refused_for_order(core, text):
    """Refused, saying why; the rule in memory is still the file's (the database is
    checked by ``refused``)."""
    reply = await refused(core, text)
    assert "thresholds: with op '>' they must increase from warning to critical" in reply.text
    assert reply.text.endswith("slow-api has warning > 500, critical > 2000. Nothing was changed.")
    assert core.rulebook.get("slow-api").thresholds == THRESHOLDS
    assert core.rulebook.origin("slow-api").source == "file"


async def test_set_without_the_admin_role_is_refused(core_each_db, clock, database_url):
    reply = await refused(core_each_db, "/rule set slow-api 1000", BOB)
    assert reply.text == (
        "/rule set needs the admin role, which bob does not have; nothing was changed."
    )
    assert core_each_db.rulebook.get("slow-api").thresholds == THRESHOLDS
    await core_each_db.close()
    again = await open_core(database_url, clock)
    try:
        assert again.rulebook.get("slow-api").thresholds == THRESHOLDS
    finally:
        await again.close()


@pytest.mark.parametrize(
    "text", ["/rule enable slow-api", "/rule disable slow-api", "/rule test slow-api"]
)
async def test_other_rule_changes_need_the_admin_role_too(core, text):
    reply = await refused(core, text, BOB)
    assert "needs the admin role, which bob does not have; nothing was changed." in reply.text
    assert core.rulebook.get("slow-api").enabled


# ---------------------------------------------------------------- enable and disable


async def test_disable_resolves_the_rules_open_incidents_and_stops_evaluating(core_each_db, clock):
    core = core_each_db
    incident_id = await open_one(core, clock)
    reply = await ok(core, "/rule disable slow-api")
    assert reply.text == (
        "slow-api is disabled; its open incidents were resolved. "
        "/rule enable slow-api turns it back on."
    )
    assert (await ok(core, "/alerts list")).text == "No unresolved incidents."
    shown = await ok(core, f"/alerts show {incident_id}")
    assert shown.cards[0].status == "resolved"
    assert shown.text.splitlines()[-1].endswith("Resolved: rule slow-api was disabled by alice")
    assert (await ok(core, "/rule list")).table[2][1] == "disabled"
    await push_and_tick(core, clock, {"/search": 900})
    assert [i.id for i in await incidents(core)] == [int(incident_id)], "disabled: no new ones"


async def test_disable_twice_says_it_already_was(core):
    await ok(core, "/rule disable slow-api")
    reply = await ok(core, "/rule disable slow-api")
    assert reply.text == "slow-api was already disabled."


async def test_enable_turns_evaluation_back_on(core_each_db, clock):
    core = core_each_db
    assert (await ok(core, "/rule enable slow-api")).text == "slow-api was already enabled."
    await ok(core, "/rule disable slow-api")
    reply = await ok(core, "/rule enable slow-api")
    assert reply.text == "slow-api is enabled."
    assert (await ok(core, "/rule list")).table[2][1] == "enabled"
    await push_and_tick(core, clock, {"/search": 900})
    assert (await incident_for(core, "/search")).status == "open"


async def test_enable_or_disable_an_unknown_rule(core):
    for action in ("enable", "disable"):
        reply = await refused(core, f"/rule {action} nope")
        assert "There is no rule named 'nope'. Rules: error-rate, slow-api." in reply.text


# ---------------------------------------------------------------- test incidents


async def test_test_posts_a_clearly_marked_test_incident(core_each_db, clock):
    core = core_each_db
    reply = await ok(core, "/rule test slow-api")
    (card,) = reply.cards
    assert card.test is True
    assert "[TEST]" in card.title
    assert "slow-api" in card.title
    assert card.footer == "Test incident: no one is paged for it."
    assert fields(card)["Value"] == "none, a test (threshold > 2,000)"  # not "no data"
    assert reply.text == (
        f"Posted test incident #{card.incident_id} for slow-api. "
        f"Resolve it with /alerts resolve {card.incident_id}."
    )
    listed = await ok(core, "/alerts list")
    assert listed.table[1][0] == f"#{card.incident_id}"
    assert listed.table[1][3] == "open (test)"
    shown = await ok(core, f"/alerts show {card.incident_id}")
    assert shown.text.splitlines()[-1].endswith("Test incident raised by alice")
    await ok(core, f"/alerts resolve {card.incident_id}")
    assert table_ids(await ok(core, "/alerts list")) == []


async def test_test_of_an_unknown_rule(core):
    reply = await refused(core, "/rule test nope")
    assert "There is no rule named 'nope'." in reply.text
