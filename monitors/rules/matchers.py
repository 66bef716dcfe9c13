"""Alertmanager-style label matchers, as silences use them.

``rule=slow-api,route=~/api/.*,env!=dev`` is three matchers joined by commas; all of them
must match. Operators: ``=`` (equal), ``!=`` (not equal), ``=~`` (regular expression, full
match) and ``!~`` (regular expression must not fully match). A label the incident does not
have counts as the empty string, so ``env!=dev`` matches an incident without ``env``.

A value may be written in double quotes when it holds a comma, a space or a quote:
``reason="a, b"``; inside the quotes ``\\"`` is a quote and ``\\\\`` a backslash, any other
backslash is kept as written (so ``"\\d+"`` is the regex ``\\d+``). The whole list may be
wrapped in braces, as Alertmanager writes it: ``{rule="slow-api", env!="dev"}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, cast

__all__ = ["OPS", "MatchOp", "Matcher", "MatcherError", "format_matchers", "parse_matchers"]

MatchOp = Literal["=", "!=", "=~", "!~"]
OPS: tuple[str, ...] = ("=", "!=", "=~", "!~")
HOW = "write label=value, label!=value, label=~regex or label!~regex, joined by commas"

_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_MATCHER = re.compile(
    r'\s*(?P<label>[^,=!~"]*?)\s*(?P<op>=~|!~|!=|=)\s*'
    rf"(?P<value>{_QUOTED}|[^,]*?)\s*(?:,|\Z)"
)
_NEEDS_QUOTES = re.compile(r'[\s,"]|^[\'~]')  # a=~x would read back as a regex


class MatcherError(ValueError):
    """Raised for text that is not a list of matchers; the message says what is wrong."""


@dataclass(frozen=True)
class Matcher:
    """One label condition: ``label op value``."""

    label: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not _LABEL.fullmatch(self.label):
            raise MatcherError(f'"{self.label}" is not a label name; {_LABEL_RULE}')
        if self.op not in OPS:
            raise MatcherError(f'"{self.op}" is not a matcher operator; use {", ".join(OPS)}')
        regex = _compile(self) if self.op in ("=~", "!~") else None
        object.__setattr__(self, "_regex", regex)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher; a missing label counts as ``""``."""
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f"{self.label}{self.op}{_quote_if_needed(self.value)}"


_LABEL_RULE = "use letters, digits, '_', '.' and '-', starting with a letter or '_'"


def _compile(matcher: Matcher) -> re.Pattern[str]:
    try:
        return re.compile(matcher.value)
    except re.error as exc:
        raise MatcherError(
            f'"{matcher.value}" in {matcher.label}{matcher.op}... is not a valid '
            f"regular expression: {exc}"
        ) from None


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """Parse ``rule=slow-api,env!=dev`` into matchers, or raise :class:`MatcherError`."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1].strip()
    if not body:
        raise MatcherError(f"no matchers given; {HOW}, e.g. rule=slow-api,env!=dev")
    matchers: list[Matcher] = []
    pos = 0
    while pos < len(body):
        found = _MATCHER.match(body, pos)
        if found is None:
            raise MatcherError(_why_not(_segment(body, pos)))
        matchers.append(_build(found))
        pos = found.end()
        if body[found.end() - 1] == "," and pos == len(body):
            raise MatcherError(f'"{text.strip()}" ends with a comma; remove it or add a matcher')
    return tuple(matchers)


def format_matchers(matchers: Iterable[Matcher]) -> str:
    """The text :func:`parse_matchers` reads back to the same matchers."""
    return ",".join(str(m) for m in matchers)


def _build(found: re.Match[str]) -> Matcher:
    label, op, raw = found["label"], found["op"], found["value"]
    written = found[0].strip().rstrip(",").strip()
    if not label:
        raise MatcherError(f'"{written}" has no label name before "{op}"; {HOW}')
    if not _LABEL.fullmatch(label):
        raise MatcherError(f'"{label}" is not a label name; {_LABEL_RULE}')
    return Matcher(label, cast(MatchOp, op), _unquote(raw, written))


def _unquote(raw: str, written: str) -> str:
    if not raw.startswith('"'):
        return raw
    if re.fullmatch(_QUOTED, raw):
        return re.sub(r'\\(["\\])', r"\1", raw[1:-1])
    if re.match(_QUOTED, raw):
        raise MatcherError(f'"{written}" has text after the closing quote')
    raise MatcherError(f'"{written}" has an unclosed quote')


def _quote_if_needed(value: str) -> str:
    if not _NEEDS_QUOTES.search(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _segment(body: str, pos: int) -> str:
    return body[pos:].split(",", 1)[0].strip()


def _why_not(segment: str) -> str:
    if not segment:
        return f"empty matcher (two commas in a row?); {HOW}"
    if not re.search(r"[=!~]", segment):
        return f'"{segment}" has no operator; {HOW}'
    return f'"{segment}" is not a matcher; {HOW}'
