from __future__ import annotations

import pytest

from commands.dispatch import HANDLERS
from commands.help import help_text
from commands.model import Command
from commands.parser import (
    COMMANDS,
    GROUPS,
    CommandError,
    find_spec,
    parse,
    parse_matchers,
    resolve_group,
    usage,
)

# ---------------------------------------------------------------- good input


@pytest.mark.parametrize(
    ("text", "group", "action", "args"),
    [
        ("/alerts list", "alerts", "list", ()),
        ("/alerts list open", "alerts", "list", ("open",)),
        ("/alerts list critical", "alerts", "list", ("critical",)),
        ("/alerts list open critical", "alerts", "list", ("open", "critical")),
        ("/alerts list Critical ALL", "alerts", "list", ("all", "critical")),
        ("/alerts list acknowledged warning", "alerts", "list", ("acknowledged", "warning")),
        ("/alerts show 42", "alerts", "show", ("42",)),
        ("/alerts show #42", "alerts", "show", ("42",)),
        ("/alerts ack 007", "alerts", "ack", ("7",)),
        ("/alerts snooze 42 1h", "alerts", "snooze", ("42", "1h")),
        ("/alerts snooze 42 90m", "alerts", "snooze", ("42", "1h30m")),
        ("/alerts snooze 42 1.5s", "alerts", "snooze", ("42", "1.5s")),
        ("/alerts resolve 42", "alerts", "resolve", ("42",)),
        ("/alerts resolve 42 rolled back", "alerts", "resolve", ("42", "rolled back")),
        (
            '/alerts resolve 42 "disk swap on db-2"',
            "alerts",
            "resolve",
            ("42", "disk swap on db-2"),
        ),
        ("/alerts resolve 42 it's   fixed", "alerts", "resolve", ("42", "it's fixed")),
        ("/alerts resolve 42 don't page", "alerts", "resolve", ("42", "don't page")),
        ('/alerts resolve 42 a 5" disk', "alerts", "resolve", ("42", 'a 5" disk')),
        ('/alerts resolve 42 ""', "alerts", "resolve", ("42",)),
        ("/rule list", "rule", "list", ()),
        ("/rule show slow-api", "rule", "show", ("slow-api",)),
        ("/rule set slow-api 1000", "rule", "set", ("slow-api", "1000")),
        ("/rule set slow-api 1e3 Critical", "rule", "set", ("slow-api", "1000", "critical")),
        ("/rule set p95.api 0.25 error", "rule", "set", ("p95.api", "0.25", "error")),
        ("/rule set drop -50", "rule", "set", ("drop", "-50")),
        ("/rule enable slow-api", "rule", "enable", ("slow-api",)),
        ("/rule disable slow-api", "rule", "disable", ("slow-api",)),
        ("/rule test slow-api", "rule", "test", ("slow-api",)),
        ("/silence add rule=slow-api 2h", "silence", "add", ("rule=slow-api", "2h")),
        (
            "/silence add rule=slow-api,route=~/api/\\d+,env!=dev 2h deploy of v2",
            "silence",
            "add",
            ("rule=slow-api,route=~/api/\\d+,env!=dev", "2h", "deploy of v2"),
        ),
        (
            '/silence add route="/a b",env=prod 30m "db maintenance"',
            "silence",
            "add",
            ('route="/a b",env=prod', "30m", "db maintenance"),
        ),
        ('/silence add "route=/a b" 1d', "silence", "add", ('route="/a b"', "1d")),
        ("/silence add {rule=x} 1h", "silence", "add", ("rule=x", "1h")),
        ("/silence list", "silence", "list", ()),
        ("/silence remove 3", "silence", "remove", ("3",)),
        ("/help", "help", "", ()),
        ("/help rule", "help", "", ("rule",)),
        ("/help /Alerts", "help", "", ("alerts",)),
        ("/rule help", "help", "", ("rule",)),
    ],
)
def test_parses(text: str, group: str, action: str, args: tuple[str, ...]) -> None:
    assert parse(text) == Command(group, action, args, text)


def test_slash_case_and_whitespace_are_forgiven() -> None:
    assert parse("  ALERTS   Snooze  42\t1H  ") == Command(
        "alerts", "snooze", ("42", "1h"), "ALERTS   Snooze  42\t1H"
    )
    assert parse("/ alerts ack 1").args == ("1",)


def test_normalised_args_parse_again() -> None:
    first = parse('/silence add route="/a b",host=~db-\\d+ 90m "planned work"')
    again = parse(f'/silence add {first.args[0]} {first.args[1]} "{first.args[2]}"')
    assert again.args == first.args
    assert parse_matchers(first.args[0])[0].matches({"route": "/a b", "host": "db-12"})


# ---------------------------------------------------------------- bad input


def _error(text: str) -> str:
    with pytest.raises(CommandError) as info:
        parse(text)
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        # ids
        ("/alerts show abc", ['"abc" is not an incident id', "use the number shown as #42"]),
        ("/alerts ack 0", ['"0" is not an incident id']),
        ("/alerts ack -3", ['"-3" is not an incident id']),
        ("/alerts ack 4.2", ['"4.2" is not an incident id']),
        ("/alerts ack " + "1" * 31, ["is not an incident id"]),
        ("/silence remove x", ['"x" is not a silence id', "/silence list"]),
        # durations
        ("/alerts snooze 42 fast", ["'fast' is not a duration", "like 30s, 15m, 2h or 7d"]),
        ("/alerts snooze 42 0m", ["must be longer than zero"]),
        ("/silence add rule=x soon", ["'soon' is not a duration"]),
        # thresholds and levels
        ("/rule set slow-api fast", ['"fast" is not a number']),
        ("/rule set slow-api 1,000", ['"1,000" is not a number']),
        ("/rule set slow-api nan", ['"nan" is not a finite number']),
        ("/rule set slow-api inf", ['"inf" is not a finite number']),
        ("/rule set slow-api 5 crit", ['"crit" is not a level', "did you mean critical?"]),
        ("/rule set slow-api 5 page", ['"page" is not a level', "warning, error or critical"]),
        # names
        ('/rule enable "slow api"', ['"slow api" is not a rule name']),
        ("/rule disable -x", ['"-x" is not a rule name']),
        ("/rule test " + "a" * 64, ["is not a rule name", "up to 63"]),
        # matchers
        ("/silence add env 1h", ['"env" has no operator']),
        ("/silence add rule=~[ 1h", ['"[" in rule=~... is not a valid regular expression']),
        ("/silence add rule=a,,env=b 1h", ["empty matcher"]),
        # missing and extra
        ("/alerts show", ["missing ID, e.g. 42"]),
        ("/alerts snooze 42", ["missing DURATION, e.g. 30m, 2h or 1d"]),
        ("/alerts resolve", ["missing ID"]),
        ("/rule set slow-api", ["missing THRESHOLD"]),
        ("/rule set", ["missing NAME"]),
        ("/silence add", ["missing MATCHERS"]),
        ("/silence add rule=x", ["missing DURATION"]),
        ("/alerts ack 42 43", ['too many arguments: "43" is not expected']),
        ("/rule list all", ['too many arguments: "all"']),
        ("/rule set slow-api 5 critical now", ['too many arguments: "now"']),
        ("/silence remove 1 2", ['too many arguments: "2"']),
        ("/alerts list open critical x", ['too many arguments: "x"']),
        # alerts list filters
        ("/alerts list opened", ['"opened" is not a status or severity', "did you mean open?"]),
        ("/alerts list acked", ["did you mean acknowledged?"]),
        ("/alerts list open resolved", ["STATUS given twice (open, resolved)"]),
        ("/alerts list error critical", ["SEVERITY given twice (error, critical)"]),
        # quotes
        ('/alerts ack "42', ["unclosed quote"]),
        ('/silence add "rule=x 1h', ["unclosed quote"]),
        # help
        ("/help rules", ['no command group "rules"', "did you mean rule?", "Groups: alerts"]),
        ("/help rule set", ['too many arguments: "set"']),
    ],
)
def test_bad_arguments(text: str, fragments: list[str]) -> None:
    message = _error(text)
    for fragment in fragments:
        assert fragment in message
    spec = find_spec(*parse_head(text))
    assert message.endswith(f"Usage: {spec.usage}")


def parse_head(text: str) -> tuple[str, str]:
    words = text.lstrip("/").split()
    group = words[0].lower()
    return (group, "") if group == "help" else (group, words[1])


def test_empty() -> None:
    assert "empty command" in _error("")
    assert "/help" in _error(" / ")


def test_unknown_group_suggests_and_lists() -> None:
    message = _error("/alert list")
    assert 'unknown command "/alert"; did you mean /alerts?' in message
    assert "Commands: /alerts, /rule, /silence, /notify, /help" in message
    assert "did you mean" not in _error("/zzz")


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("/alerts acknowledge 42", "ack"),
        ("/alerts lst", "list"),
        ("/rule sett x 1", "set"),
        ("/silence rm 3", "remove"),
        ("/silence delete 3", None),
    ],
)
def test_unknown_action_suggests_and_shows_group_usage(text: str, suggestion: str | None) -> None:
    message = _error(text)
    group, action = text.lstrip("/").split()[:2]
    assert f'/{group} has no action "{action}"' in message
    if suggestion:
        assert f"did you mean {suggestion}?" in message
    for spec in COMMANDS:
        if spec.group == group:
            assert spec.usage in message


def test_missing_action_shows_group_usage() -> None:
    message = _error("/rule")
    assert "/rule needs an action" in message
    assert "/rule set NAME THRESHOLD [LEVEL]" in message


# ---------------------------------------------------------------- table and usage


def test_usage_lines() -> None:
    assert usage("alerts", "list") == "/alerts list [STATUS] [SEVERITY]"
    assert usage("alerts", "snooze") == "/alerts snooze ID DURATION"
    assert usage("alerts", "resolve") == "/alerts resolve ID [note...]"
    assert usage("rule", "set") == "/rule set NAME THRESHOLD [LEVEL]"
    assert usage("silence", "add") == "/silence add MATCHERS DURATION [reason...]"
    assert usage("help") == "/help [GROUP]"
    with pytest.raises(KeyError):
        usage("alerts", "nope")


def test_table_shape() -> None:
    keys = [(spec.group, spec.action) for spec in COMMANDS]
    assert len(keys) == len(set(keys))
    assert set(keys) == set(HANDLERS), "every command has a handler, and only those"
    assert {spec.group for spec in COMMANDS} == set(GROUPS)
    resolve = find_spec("alerts", "resolve")
    assert (resolve.min_args, resolve.max_args, resolve.rest_is_text) == (1, None, True)
    rule_set = find_spec("rule", "set")
    assert (rule_set.min_args, rule_set.max_args, rule_set.args_usage) == (
        2,
        3,
        "NAME THRESHOLD [LEVEL]",
    )
    admin = {(s.group, s.action) for s in COMMANDS if s.admin}
    assert admin == {
        ("rule", "set"),
        ("rule", "edit"),
        ("rule", "enable"),
        ("rule", "disable"),
        ("rule", "reset"),
        ("rule", "test"),
        ("rule", "apply"),
        ("rule", "cancel"),
        ("silence", "add"),
        ("silence", "remove"),
        ("notify", "test"),
    }


def test_resolve_group() -> None:
    assert resolve_group(" /Rule ") == "rule"
    with pytest.raises(CommandError, match="Groups: alerts, rule, silence, notify, help"):
        resolve_group("nope")


# ---------------------------------------------------------------- help


def test_help_lists_every_command_with_summary() -> None:
    text = help_text()
    for spec in COMMANDS:
        assert f"{spec.usage} — {spec.summary}" in text
    for title in GROUPS.values():
        assert title in text
    assert "/help GROUP" in text


def test_help_marks_admin_commands() -> None:
    lines = help_text().splitlines()
    set_line = next(line for line in lines if "/rule set" in line)
    show_line = next(line for line in lines if "/rule show" in line)
    assert set_line.endswith("(admins only)")
    assert "admins only" not in show_line


def test_help_one_group() -> None:
    text = help_text("Rule")
    assert "/rule set NAME THRESHOLD [LEVEL]" in text
    assert "/alerts" not in text
    assert "/silence" not in text


def test_help_unknown_group() -> None:
    with pytest.raises(CommandError) as info:
        help_text("alert")
    message = str(info.value)
    assert 'no command group "alert"; did you mean alerts?' in message
    assert "Groups: alerts, rule, silence, notify, help" in message
