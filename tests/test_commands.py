"""Through ``commands.dispatch``: help, unknown commands, empty input, buttons, and the audit
log the changing commands leave. The per-group commands are in test_commands_alerts.py,
test_commands_rules.py and test_commands_silences.py."""

from __future__ import annotations

import pytest
from command_helpers import (
    ALICE,
    BOB,
    audit_log,
    ok,
    open_one,
    refused,
    set_rule,
)

from commands.actions import decode
from commands.dispatch import run
from commands.model import Command
from commands.parser import COMMANDS
from monitors.mentions import plain

# ---------------------------------------------------------------- help


async def test_help_lists_every_command_and_marks_the_admin_ones(core):
    reply = await ok(core, "/help")
    assert reply.private
    lines = reply.text.splitlines()
    assert lines[0] == "Tocsin commands:"
    for spec in COMMANDS:
        (line,) = [x for x in lines if x.strip().startswith(f"{spec.usage} — ")]
        assert line.endswith("(admins only)") == spec.admin, line
    assert lines[-1] == "Type /help GROUP for one group (alerts, rule, silence, notify, help)."


@pytest.mark.parametrize("text", ["/help rule", "/help /Rule", "/rule help", "help rule"])
async def test_help_for_one_group(core, text):
    reply = await ok(core, text)
    lines = reply.text.splitlines()
    assert lines[0] == "Alert rules (/rule)"
    assert [line.split(" — ")[0].strip() for line in lines[1:]] == [
        "/rule list",
        "/rule show NAME",
        "/rule set NAME THRESHOLD [LEVEL]",
        "/rule edit NAME",
        "/rule enable NAME",
        "/rule disable NAME",
        "/rule reset NAME",
        "/rule test NAME",
        "/rule apply TOKEN",
        "/rule cancel TOKEN",
        "/rule backtest NAME [DAYS]",
        "/rule coach NAME [DAYS]",
    ]


async def test_help_says_what_alerts_list_shows_by_default_and_reads_plainly(core):
    """Found at the console: the default of /alerts list was not said, the silence
    heading had two pairs of brackets, and "(1h)" after snooze read like a default."""
    text = (await ok(core, "/help")).text
    assert "(default: open and acknowledged)" in text
    assert "Silences, to mute notifications during maintenance (/silence)" in text
    assert ") (/" not in text
    assert "for a while, e.g. 30m or 2h" in text


async def test_help_for_an_unknown_group_lists_the_groups(core):
    reply = await refused(core, "/help nope")
    assert reply.text == (
        'no command group "nope"\nGroups: alerts, rule, silence, notify, help\nUsage: /help [GROUP]'
    )


async def test_help_suggests_the_group_meant(core):
    reply = await refused(core, "/help rules")
    assert 'no command group "rules"; did you mean rule?' in reply.text


# ---------------------------------------------------------------- unknown and empty


@pytest.mark.parametrize(
    ("text", "first_line"),
    [
        ("/alert list", 'unknown command "/alert"; did you mean /alerts?'),
        ("/silences list", 'unknown command "/silences"; did you mean /silence?'),
        ("/deploy now", 'unknown command "/deploy"'),
    ],
)
async def test_unknown_group_lists_the_commands(core, text, first_line):
    reply = await refused(core, text)
    assert reply.text.splitlines() == [
        first_line,
        "Commands: /alerts, /rule, /silence, /notify, /help",
    ]


async def test_unknown_action_suggests_one_and_shows_the_groups_usage(core):
    reply = await refused(core, "/alerts acknowledge 4")
    assert reply.text.splitlines() == [
        '/alerts has no action "acknowledge"; did you mean ack?',
        "Usage:",
        "  /alerts list [STATUS] [SEVERITY]",
        "  /alerts show ID",
        "  /alerts ack ID",
        "  /alerts snooze ID DURATION",
        "  /alerts resolve ID [note...]",
        "  /alerts stats [DAYS]",
    ]


async def test_unknown_action_without_a_close_match(core):
    reply = await refused(core, "/silence xyzzy")
    assert reply.text.startswith('/silence has no action "xyzzy"\nUsage:')
    assert "  /silence add MATCHERS DURATION [reason...]" in reply.text.splitlines()


async def test_group_without_an_action_shows_its_usage(core):
    reply = await refused(core, "/rule")
    assert reply.text.startswith("/rule needs an action\nUsage:\n  /rule list\n")


@pytest.mark.parametrize("text", ["", "   ", "/", " / "])
async def test_empty_input_points_at_help(core, text):
    reply = await refused(core, text)
    assert reply.text == "empty command; type /help to see what I can do"


async def test_commands_are_case_insensitive_and_the_slash_is_optional(core, clock):
    incident_id = await open_one(core, clock)
    reply = await ok(core, f"ALERTS Show {incident_id}")
    assert reply.cards[0].incident_id == int(incident_id)


# ---------------------------------------------------------------- buttons


async def test_a_button_reaches_the_same_handler_as_the_command(core, clock):
    incident_id = await open_one(core, clock)
    button = decode(f"tocsin:ack:{incident_id}")
    reply = await run(core, button.command(), BOB)
    assert reply.ok
    assert reply.cards[0].status == "acknowledged"
    again = await run(core, Command("alerts", "ack", (incident_id,)), ALICE)
    assert not again.ok
    assert f"#{incident_id} is already acknowledged by bob." in plain(again.text)


async def test_an_admin_button_is_refused_to_non_admins(core):
    reply = await run(core, Command("rule", "disable", ("slow-api",)), BOB)
    assert not reply.ok
    assert "needs the admin role" in reply.text
    assert core.rulebook.get("slow-api").enabled


# ---------------------------------------------------------------- audit


async def test_changes_are_audited_with_who_did_what(core_each_db, clock):
    core = core_each_db
    incident_id = await open_one(core, clock)
    await ok(core, f"/alerts ack {incident_id}", BOB)
    await ok(core, f"/alerts snooze {incident_id} 1h", BOB)
    await ok(core, f"/alerts resolve {incident_id} fixed", BOB)
    await set_rule(core, "/rule set slow-api 1000")
    await ok(core, "/rule test slow-api")
    await ok(core, "/rule disable slow-api")
    await ok(core, "/rule enable slow-api")
    await ok(core, "/silence add rule=slow-api 2h deploy")
    await ok(core, "/silence remove 1")
    entries = await audit_log(core)
    assert [(actor, action) for actor, action, _ in entries] == [
        ("bob (slack)", "incident.acknowledged"),
        ("bob (slack)", "incident.snoozed"),
        ("bob (slack)", "incident.resolved"),
        ("alice (console)", "rule.set"),
        ("alice (console)", "incident.opened"),
        ("alice (console)", "rule.test"),
        ("alice (console)", "rule.disable"),
        ("alice (console)", "rule.enable"),
        ("alice (console)", "silence.add"),
        ("alice (console)", "silence.remove"),
    ]
    targets = [target for _, _, target in entries]
    assert targets[:4] == [f"#{incident_id}"] * 3 + ["slow-api"]
    assert targets[5:] == ["slow-api"] * 3 + ["silence 1"] * 2
