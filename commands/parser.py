"""The platform-neutral command text parser: ``/alerts snooze 42 1h`` -> :class:`Command`.

:data:`COMMANDS` is the single source of the command set: parsing, usage lines in error
messages and the help text are all derived from it.

Tokens are separated by whitespace. A token may be quoted with double quotes (inside them
``\\"`` is a quote and ``\\\\`` a backslash) or start with a single quote; a double-quoted
part may also sit inside a word (``reason="a b"``). Unlike a shell, a backslash outside quotes
is kept as written, so regexes such as ``route=~/api/\\d+`` survive, and an apostrophe inside
a word (``it's``) is just a character. The free-text argument (a note or reason) is the rest
of the line: quoted or not, its words are joined by single spaces; if it has an unbalanced
quote it is taken as typed.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from commands.model import Command
from monitors.backtest.compare import MAX_DAYS as BACKTEST_DAYS
from monitors.destinations.specs import email_address
from monitors.durations import format_duration, parse_duration
from monitors.insight.stats import MAX_DAYS as STATS_DAYS
from monitors.quiet_hours import parse_clock, parse_timezone
from monitors.rules.matchers import Matcher, format_matchers, parse_matchers
from monitors.rules.schema import LEVELS, NAME_PATTERN

__all__ = [
    "COMMANDS",
    "GROUPS",
    "SEVERITIES",
    "STATUSES",
    "Arg",
    "CommandError",
    "CommandSpec",
    "Matcher",
    "build",
    "find_spec",
    "group_specs",
    "parse",
    "parse_matchers",
    "resolve_group",
    "usage",
]

STATUSES: tuple[str, ...] = ("open", "acknowledged", "resolved", "all")
TOKEN_PATTERN = r"[A-Za-z0-9_-]{16,64}"
"""A proposal's token (monitors.insight.proposals): what Apply and Cancel carry."""
SEVERITIES: tuple[str, ...] = LEVELS
MAX_ID_DIGITS = 30
"""Longer is no number anyone copied from a list (and int() refuses past 4,300 digits);
whether a shorter one names an incident is the core's to say."""


class CommandError(ValueError):
    """Bad command text. The message is shown to the user as is: what was wrong, then
    the correct usage."""


@dataclass(frozen=True)
class Arg:
    """One argument of a command: ``name`` as shown in usage, ``kind`` picks the check."""

    name: str
    kind: str
    optional: bool = False
    rest: bool = False
    """Free text taking the rest of the line (a note or reason)."""

    @property
    def usage(self) -> str:
        text = f"{self.name}..." if self.rest else self.name
        return f"[{text}]" if self.optional else text


@dataclass(frozen=True)
class CommandSpec:
    """One command. ``any_order`` lets the (optional) arguments come in any order, each
    word going to the first argument that accepts it."""

    group: str
    action: str
    args: tuple[Arg, ...]
    summary: str
    admin: bool = False
    any_order: bool = False

    @property
    def args_usage(self) -> str:
        return " ".join(arg.usage for arg in self.args)

    @property
    def usage(self) -> str:
        """The full usage line, e.g. ``/alerts snooze ID DURATION``."""
        return " ".join(part for part in (f"/{self.group}", self.action, self.args_usage) if part)

    @property
    def min_args(self) -> int:
        return sum(1 for arg in self.args if not arg.optional)

    @property
    def max_args(self) -> int | None:
        """The most argument words accepted; None when the last is free text."""
        return None if self.rest_is_text else len(self.args)

    @property
    def rest_is_text(self) -> bool:
        return bool(self.args) and self.args[-1].rest


_ID = Arg("ID", "incident_id")
_SILENCE_ID = Arg("ID", "silence_id")
_NAME = Arg("NAME", "rule_name")
_DURATION = Arg("DURATION", "duration")
_TOKEN = Arg("TOKEN", "token")

GROUPS: dict[str, str] = {
    "alerts": "Incidents",
    "rule": "Alert rules",
    "silence": "Silences, to mute notifications during maintenance",
    "notify": "Notifications: your own direct messages of incidents, and testing destinations",
    "help": "Help",
}

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "alerts",
        "list",
        (Arg("STATUS", "status", optional=True), Arg("SEVERITY", "severity", optional=True)),
        "List incidents; STATUS is open, acknowledged, resolved or all (default: open and "
        "acknowledged), SEVERITY is warning, error or critical (either order)",
        any_order=True,
    ),
    CommandSpec("alerts", "show", (_ID,), "Show one incident and its timeline"),
    CommandSpec("alerts", "ack", (_ID,), "Acknowledge an incident: you are on it"),
    CommandSpec(
        "alerts",
        "snooze",
        (_ID, _DURATION),
        "Mute an incident's pages and reminders for a while, e.g. 30m or 2h",
    ),
    CommandSpec(
        "alerts",
        "resolve",
        (_ID, Arg("note", "text", optional=True, rest=True)),
        "Resolve an incident, with an optional note",
    ),
    CommandSpec(
        "alerts",
        "stats",
        (Arg("DAYS", "stats_days", optional=True),),
        "Incidents over the last days (default 7d): per rule, time to acknowledge and to "
        "resolve, flapping, peak hours, the noisiest rules and the ones that never fired",
    ),
    CommandSpec("rule", "list", (), "List alert rules and their thresholds"),
    CommandSpec("rule", "show", (_NAME,), "Show one rule in full"),
    CommandSpec(
        "rule",
        "set",
        (_NAME, Arg("THRESHOLD", "threshold"), Arg("LEVEL", "level", optional=True)),
        "Change a rule's threshold (with history, a backtest of the change first, with "
        "Apply and Cancel); "
        "LEVEL is warning, error or critical (default: the rule's lowest level)",
        admin=True,
    ),
    CommandSpec(
        "rule",
        "edit",
        (_NAME,),
        "Edit a rule's thresholds, window and counters in a form (Slack and Discord)",
        admin=True,
    ),
    CommandSpec("rule", "enable", (_NAME,), "Turn a rule on", admin=True),
    CommandSpec("rule", "disable", (_NAME,), "Turn a rule off", admin=True),
    CommandSpec(
        "rule",
        "reset",
        (_NAME,),
        "Return a rule to the config file's version, dropping changes saved in chat or the API",
        admin=True,
    ),
    CommandSpec(
        "rule", "test", (_NAME,), "Post a clearly marked test incident for a rule", admin=True
    ),
    CommandSpec(
        "rule",
        "apply",
        (_TOKEN,),
        "Save a change shown with Apply (by /rule set or /rule coach)",
        admin=True,
    ),
    CommandSpec(
        "rule", "cancel", (_TOKEN,), "Drop a change shown with Apply; nothing is saved", admin=True
    ),
    CommandSpec(
        "rule",
        "backtest",
        (_NAME, Arg("DAYS", "backtest_days", optional=True)),
        "What a rule would have opened over the last days of pushed samples (default 7d)",
    ),
    CommandSpec(
        "rule",
        "coach",
        (_NAME, Arg("DAYS", "backtest_days", optional=True)),
        "How to make a noisy rule quieter, each proposal checked by backtest",
    ),
    CommandSpec(
        "silence",
        "add",
        (Arg("MATCHERS", "matchers"), _DURATION, Arg("reason", "text", optional=True, rest=True)),
        "Silence matching incidents for a while, e.g. rule=slow-api,env!=dev 2h deploy",
        admin=True,
    ),
    CommandSpec("silence", "list", (), "List active and upcoming silences"),
    CommandSpec("silence", "remove", (_SILENCE_ID,), "End a silence now", admin=True),
    CommandSpec(
        "notify",
        "me",
        (
            Arg("rule=NAME", "rule_option", optional=True),
            Arg("severity=LEVEL", "severity_option", optional=True),
            Arg("quiet=HH:MM-HH:MM", "quiet_option", optional=True),
            Arg("tz=ZONE", "tz_option", optional=True),
            Arg("email=ADDRESS", "email_option", optional=True),
        ),
        "Get incidents as your own direct messages (or email); of one rule or all, at or "
        "above a severity, with quiet hours when only critical comes; again for the same "
        "rule updates it; e.g. /notify me rule=slow-api severity=critical quiet=22:00-07:00 "
        "tz=Europe/Paris",
        any_order=True,
    ),
    CommandSpec("notify", "list", (), "List your own subscriptions"),
    CommandSpec(
        "notify",
        "off",
        (Arg("rule=NAME", "rule_option", optional=True),),
        "Stop your subscription to one rule, or all of them",
        any_order=True,
    ),
    CommandSpec(
        "notify",
        "test",
        (Arg("NAME", "destination"),),
        "Send a test message to a destination and show what it answered",
        admin=True,
    ),
    CommandSpec(
        "help", "", (Arg("GROUP", "group", optional=True),), "Show the commands, or one group"
    ),
)

_BY_KEY: dict[tuple[str, str], CommandSpec] = {(c.group, c.action): c for c in COMMANDS}


# ---------------------------------------------------------------- public helpers


def find_spec(group: str, action: str = "") -> CommandSpec:
    """The spec for ``group action``; KeyError if there is none."""
    try:
        return _BY_KEY[(group, action)]
    except KeyError:
        raise KeyError(f"no command /{group} {action}".rstrip()) from None


def usage(group: str, action: str = "") -> str:
    """The usage line of one command, e.g. ``/alerts snooze ID DURATION``."""
    return find_spec(group, action).usage


def group_specs(group: str) -> tuple[CommandSpec, ...]:
    return tuple(spec for spec in COMMANDS if spec.group == group)


def resolve_group(text: str) -> str:
    """Normalise a group name (``Rule``, ``/rule``) or raise CommandError listing groups."""
    name = text.strip().lstrip("/").lower()
    if name in GROUPS:
        return name
    listing = "Groups: " + ", ".join(GROUPS)
    raise CommandError(f'no command group "{text}"{_did_you_mean(name, GROUPS)}\n{listing}')


def parse(text: str) -> Command:
    """Turn a line typed in chat into a Command, or raise CommandError."""
    raw = text.strip()
    tokens = _tokenize(raw.removeprefix("/").lstrip())
    if not tokens:
        raise CommandError("empty command; type /help to see what I can do")
    group = _group(tokens[0].raw)
    if group == "help":
        return _bind(find_spec("help"), tokens[1:], raw)
    if len(tokens) == 1:
        raise CommandError(f"/{group} needs an action\n{_group_usage(group)}")
    action = tokens[1].raw.lower()
    if action == "help":  # "/rule help" is "/help rule"
        return _bind(find_spec("help"), [_Token(group, 0, 0, True), *tokens[2:]], raw)
    return _bind(_action(group, action), tokens[2:], raw)


def build(group: str, action: str, values: Sequence[str]) -> Command:
    """A Command from separate argument values (a button, a platform's typed options),
    each checked as it would be when typed; the free-text argument may hold spaces."""
    spec = _BY_KEY.get((group, action))
    if spec is None:
        raise CommandError(f"there is no command /{group} {action}".rstrip())
    values = [value for value in values if value is not None]
    fixed = [arg for arg in spec.args if not arg.rest]
    if len(values) < spec.min_args:
        missing = fixed[len(values)]
        raise _fail(spec, f"missing {missing.name}{_example(missing)}")
    if spec.max_args is not None and len(values) > spec.max_args:
        raise _fail(spec, f'too many arguments: "{values[spec.max_args]}" is not expected')
    checked = []
    if spec.any_order:  # each value to the argument that accepts it, as typed words go
        pairs = [(_accepting_arg(spec, value.strip()), value) for value in values]
    else:
        pairs = list(zip(spec.args, values, strict=False))
    for arg, value in pairs:
        if arg.rest:
            text = " ".join(value.split())
            if text:
                checked.append(text)
            continue
        try:
            checked.append(_KINDS[arg.kind].check(value.strip()))
        except ValueError as exc:
            raise _fail(spec, str(exc)) from None
    raw = " ".join(part for part in (f"/{group}", action, *map(_quoted, checked)) if part)
    return Command(group, action, tuple(checked), raw)


def _quoted(value: str) -> str:
    if value and not any(ch.isspace() or ch == '"' for ch in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    raw: str
    start: int
    end: int
    closed: bool

    @property
    def value(self) -> str:
        return _unquote(self.raw)


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return tokens
        end, closed = _scan_token(text, pos)
        tokens.append(_Token(text[pos:end], pos, end, closed))
        pos = end


def _opens_quote(text: str, pos: int, start: int) -> bool:
    return text[pos] == '"' or (text[pos] == "'" and pos == start)


def _scan_token(text: str, start: int) -> tuple[int, bool]:
    """End of the token at ``start`` and whether its quotes are balanced."""
    pos = start
    while pos < len(text) and not text[pos].isspace():
        if _opens_quote(text, pos, start):
            close = _closing_quote(text, pos)
            if close < 0:
                return len(text), False
            pos = close
        pos += 1
    return pos, True


def _closing_quote(text: str, pos: int) -> int:
    quote = text[pos]
    pos += 1
    while pos < len(text):
        if quote == '"' and text[pos] == "\\":
            pos += 2
            continue
        if text[pos] == quote:
            return pos
        pos += 1
    return -1


def _unquote(raw: str) -> str:
    parts = []
    pos = 0
    while pos < len(raw):
        if _opens_quote(raw, pos, 0):
            close = _closing_quote(raw, pos)
            inner = raw[pos + 1 : close]
            parts.append(re.sub(r'\\(["\\])', r"\1", inner) if raw[pos] == '"' else inner)
            pos = close + 1
        else:
            parts.append(raw[pos])
            pos += 1
    return "".join(parts)


# ---------------------------------------------------------------- group and action


def _group(word: str) -> str:
    group = word.lower()
    if group in GROUPS:
        return group
    commands = "Commands: " + ", ".join(f"/{g}" for g in GROUPS)
    hint = _did_you_mean(group, GROUPS, prefix="/")
    raise CommandError(f'unknown command "/{word}"{hint}\n{commands}')


def _action(group: str, action: str) -> CommandSpec:
    spec = _BY_KEY.get((group, action))
    if spec is not None:
        return spec
    actions = [s.action for s in group_specs(group)]
    hint = _did_you_mean(action, actions)
    raise CommandError(f'/{group} has no action "{action}"{hint}\n{_group_usage(group)}')


def _group_usage(group: str) -> str:
    return "Usage:\n" + "\n".join(f"  {spec.usage}" for spec in group_specs(group))


def _did_you_mean(word: str, choices: Iterable[str], prefix: str = "") -> str:
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    close = close or [c for c in options if word and (c.startswith(word) or word.startswith(c))]
    return f"; did you mean {prefix}{close[0]}?" if close else ""


# ---------------------------------------------------------------- arguments


def _fail(spec: CommandSpec, problem: str) -> CommandError:
    return CommandError(f"{problem}\nUsage: {spec.usage}")


def _bind(spec: CommandSpec, tokens: list[_Token], raw: str) -> Command:
    bind = _bind_any_order if spec.any_order else _bind_in_order
    args = bind(spec, tokens)
    return Command(spec.group, spec.action, args, raw)


def _bind_in_order(spec: CommandSpec, tokens: list[_Token]) -> tuple[str, ...]:
    fixed = [arg for arg in spec.args if not arg.rest]
    words = tokens[: len(fixed)]
    _check_quotes(spec, words if spec.rest_is_text else tokens)
    if len(words) < spec.min_args:
        missing = fixed[len(words)]
        raise _fail(spec, f"missing {missing.name}{_example(missing)}")
    if not spec.rest_is_text and len(tokens) > len(fixed):
        extra = " ".join(t.raw for t in tokens[len(fixed) :])
        raise _fail(spec, f'too many arguments: "{extra}" is not expected')
    values = [_check(spec, arg, token) for arg, token in zip(fixed, words, strict=False)]
    note = _free_text(tokens[len(fixed) :]) if spec.rest_is_text else ""
    return (*values, note) if note else tuple(values)


def _bind_any_order(spec: CommandSpec, tokens: list[_Token]) -> tuple[str, ...]:
    _check_quotes(spec, tokens)
    if len(tokens) > len(spec.args):
        extra = " ".join(t.raw for t in tokens[len(spec.args) :])
        raise _fail(spec, f'too many arguments: "{extra}" is not expected')
    filled: dict[Arg, str] = {}
    for token in tokens:
        arg = _accepting_arg(spec, token.value)
        if arg in filled:
            given = f"{filled[arg]}, {token.value}"
            raise _fail(spec, f"{arg.name} given twice ({given}); pick one")
        filled[arg] = _check(spec, arg, token)
    return tuple(filled[arg] for arg in spec.args if arg in filled)


def _accepting_arg(spec: CommandSpec, word: str) -> Arg:
    keyed = [arg for arg in spec.args if _KINDS[arg.kind].key]
    if keyed:  # key=value options: the key picks the argument, its check the value
        return _keyed_arg(spec, keyed, word)
    for arg in spec.args:
        try:
            _KINDS[arg.kind].check(word)
        except ValueError:
            continue
        return arg
    names = " or ".join(arg.name for arg in spec.args)
    choices = [c for arg in spec.args for c in _KINDS[arg.kind].choices]
    allowed = "; ".join(f"{arg.name} is {_or_list(_KINDS[arg.kind].choices)}" for arg in spec.args)
    hint = _did_you_mean(word.lower(), choices)
    raise _fail(spec, f'"{word}" is not a {names.lower()}{hint}\n{allowed}')


def _keyed_arg(spec: CommandSpec, keyed: list[Arg], word: str) -> Arg:
    key, _, _value = word.partition("=")
    for arg in keyed:
        if _KINDS[arg.kind].key == key.strip().lower():
            return arg
    keys = [f"{_KINDS[arg.kind].key}=" for arg in keyed]
    hint = _did_you_mean(f"{key.strip().lower()}=", keys)
    raise _fail(spec, f'"{word[:80]}" is not an option (use {_or_list(tuple(keys))}){hint}')


def _check_quotes(spec: CommandSpec, tokens: list[_Token]) -> None:
    for token in tokens:
        if not token.closed:
            raise _fail(spec, f"unclosed quote in {token.raw}")


def _check(spec: CommandSpec, arg: Arg, token: _Token) -> str:
    kind = _KINDS[arg.kind]
    text = token.raw if kind.raw else token.value
    try:
        return kind.check(text)
    except ValueError as exc:
        raise _fail(spec, str(exc)) from None


def _free_text(tokens: list[_Token]) -> str:
    if all(token.closed for token in tokens):
        return " ".join(" ".join(token.value.split()) for token in tokens).strip()
    return " ".join(" ".join(token.raw for token in tokens).split())


def _example(arg: Arg) -> str:
    example = _KINDS[arg.kind].example
    return f", e.g. {example}" if example else ""


def _or_list(words: tuple[str, ...]) -> str:
    return ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else "".join(words)


# ---------------------------------------------------------------- argument kinds


@dataclass(frozen=True)
class _Kind:
    check: Callable[[str], str]
    example: str = ""
    choices: tuple[str, ...] = ()
    raw: bool = False
    """Hand the token over with its quotes (the matcher syntax has its own)."""
    key: str = ""
    """A ``key=value`` option: the word's key picks the argument (``severity=critical``)."""


def _positive_id(text: str, what: str, where: str) -> str:
    found = re.fullmatch(rf"#?(\d{{1,{MAX_ID_DIGITS}}})", text)
    if not found or int(found[1]) == 0:
        raise ValueError(f'"{text[:40]}" is not {what} id; {where}')
    return str(int(found[1]))


def _incident_id(text: str) -> str:
    return _positive_id(text, "an incident", "use the number shown as #42")


def _silence_id(text: str) -> str:
    return _positive_id(text, "a silence", "use the number shown by /silence list")


def _duration(text: str) -> str:
    number = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", number):  # parse_duration would read seconds
        raise ValueError(f'"{number}" needs a unit, e.g. {number}m, {number}h or {number}d')
    seconds = parse_duration(text)  # DurationError is a ValueError with the message we want
    canonical = format_duration(seconds)
    try:
        exact = parse_duration(canonical) == seconds
    except ValueError:  # rounds to zero, e.g. 0.2ms
        exact = False
    return canonical if exact else text.strip().lower()


def _threshold(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f'"{text}" is not a number') from None
    if not math.isfinite(value):
        raise ValueError(f'"{text}" is not a finite number')
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _choice(text: str, choices: tuple[str, ...], what: str) -> str:
    word = text.lower()
    if word in choices:
        return word
    hint = _did_you_mean(word, choices)
    raise ValueError(f'"{text}" is not {what}; use {_or_list(choices)}{hint}')


def _level(text: str) -> str:
    return _choice(text, LEVELS, "a level")


def _status(text: str) -> str:
    return _choice(text, STATUSES, "a status")


def _severity(text: str) -> str:
    return _choice(text, SEVERITIES, "a severity")


def _rule_name(text: str) -> str:
    """Names are lower-case, so ``Slow-API`` names slow-api. Whether such a rule exists
    is the core's to say (with a suggestion from the rules there are)."""
    name = text.lower()
    if re.fullmatch(NAME_PATTERN, name):
        return name
    raise ValueError(
        f'"{text}" is not a rule name; names are lowercase letters, digits, '
        f'".", "_" and "-" (up to 63), like slow-api'
    )


def _destination(text: str) -> str:
    if re.fullmatch(NAME_PATTERN, text):
        return text
    raise ValueError(
        f'"{text}" is not a destination name; names are lowercase letters, digits, '
        '".", "_" and "-", like ops-hook (GET /v1/destinations lists them)'
    )


def _matchers(text: str) -> str:
    """The syntax only; what a silence may match is the core's to say (SilenceAdmin)."""
    if text[:1] in ("'", '"'):  # the whole list quoted: "rule=slow api,env=prod"
        text = _unquote(text)
    return format_matchers(parse_matchers(text))  # MatcherError is a ValueError


def _text(text: str) -> str:
    return text


def _days(text: str, most: int) -> str:
    found = re.fullmatch(r"(\d{1,4})d?", text.strip().lower())
    if found is None or not 1 <= int(found[1]) <= most:
        raise ValueError(f'"{text}" is not a number of days from 1d to {most}d, e.g. 7d')
    return f"{int(found[1])}d"


def _backtest_days(text: str) -> str:
    return _days(text, BACKTEST_DAYS)


def _stats_days(text: str) -> str:
    return _days(text, STATS_DAYS)


def _token(text: str) -> str:
    if re.fullmatch(TOKEN_PATTERN, text):
        return text
    raise ValueError(f'"{text[:80]}" is not a proposal token; copy it from the message')


def _option(key: str, check: Callable[[str], str]) -> Callable[[str], str]:
    """The check of a ``key=value`` option: the value checked, kept as ``key=value``."""

    def checked(text: str) -> str:
        name, equals, value = text.partition("=")
        if name.strip().lower() != key or not equals or not value.strip():
            raise ValueError(f'"{text[:80]}" is not {key}=...; e.g. {_OPTION_EXAMPLES[key]}')
        return f"{key}={check(value.strip())}"

    return checked


def _rule_or_all(text: str) -> str:
    return "all" if text.lower() == "all" else _rule_name(text)


def _quiet_span(text: str) -> str:
    start, dash, end = text.partition("-")
    if not dash:
        raise ValueError(f'"{text}" is not a stretch of time; use HH:MM-HH:MM, e.g. 22:00-07:00')
    return f"{parse_clock(start).strftime('%H:%M')}-{parse_clock(end).strftime('%H:%M')}"


def _zone_name(text: str) -> str:
    parse_timezone(text)
    return text


MAX_PERSONAL_ADDRESS = 191
"""An address becomes the target ``email-dm:ADDRESS``, and targets are stored in 200
characters."""


def _address(text: str) -> str:
    address = email_address(text)
    if len(address) > MAX_PERSONAL_ADDRESS:
        raise ValueError(
            f"that address is {len(address)} characters long; Tocsin takes addresses of "
            f"up to {MAX_PERSONAL_ADDRESS}"
        )
    return address


_OPTION_EXAMPLES = {
    "rule": "rule=slow-api (or rule=all)",
    "severity": "severity=critical",
    "quiet": "quiet=22:00-07:00",
    "tz": "tz=Europe/Paris",
    "email": "email=alice@example.com",
}

_KINDS: dict[str, _Kind] = {
    "incident_id": _Kind(_incident_id, "42"),
    "silence_id": _Kind(_silence_id, "3"),
    "duration": _Kind(_duration, "30m, 2h or 1d"),
    "threshold": _Kind(_threshold, "500"),
    "level": _Kind(_level, choices=LEVELS),
    "status": _Kind(_status, choices=STATUSES),
    "severity": _Kind(_severity, choices=SEVERITIES),
    "rule_name": _Kind(_rule_name, "slow-api"),
    "destination": _Kind(_destination, "ops-hook"),
    "matchers": _Kind(_matchers, "rule=slow-api,env!=dev", raw=True),
    "text": _Kind(_text),
    "backtest_days": _Kind(_backtest_days, "7d"),
    "stats_days": _Kind(_stats_days, "7d"),
    "token": _Kind(_token),
    "group": _Kind(resolve_group, "rule"),
    "rule_option": _Kind(_option("rule", _rule_or_all), _OPTION_EXAMPLES["rule"], key="rule"),
    "severity_option": _Kind(
        _option("severity", _severity), _OPTION_EXAMPLES["severity"], key="severity"
    ),
    "quiet_option": _Kind(_option("quiet", _quiet_span), _OPTION_EXAMPLES["quiet"], key="quiet"),
    "tz_option": _Kind(_option("tz", _zone_name), _OPTION_EXAMPLES["tz"], key="tz"),
    "email_option": _Kind(_option("email", _address), _OPTION_EXAMPLES["email"], key="email"),
}
