"""The rule editor as a form: ``/rule edit NAME`` opens it as a modal in Slack and
Discord. The platforms only lay the fields out; what they hold, how their text is read
and which field an error belongs to is decided here, once.

Five text fields (Discord's modals take five) and an enabled switch (Slack shows it as a
checkbox; on Discord ``/rule enable|disable`` does that)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from commands.render_rule import number_text
from monitors.actors import Actor
from monitors.core import Core
from monitors.durations import DurationError, format_duration, parse_duration
from monitors.rules.admin import RuleInvalid
from monitors.rules.schema import LEVELS, Rule

THRESHOLDS, WINDOW, INTERVAL, BREACHES, NORMALS, ENABLED = (
    "thresholds",
    "window",
    "interval",
    "breaches_to_open",
    "normals_to_resolve",
    "enabled",
)
_LEVEL = re.compile(r"([A-Za-z]+)\s*[:=]?\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")


@dataclass(frozen=True)
class FormField:
    key: str
    label: str
    value: str
    hint: str
    switch: bool = False
    """A yes/no field (enabled); the others are single-line text."""
    max_length: int = 100


@dataclass(frozen=True)
class RuleForm:
    """The editor for one rule, filled with its current values."""

    rule: str
    title: str
    fields: tuple[FormField, ...]

    @property
    def text_fields(self) -> tuple[FormField, ...]:
        return tuple(f for f in self.fields if not f.switch)


@dataclass
class FormErrors(Exception):
    """Field key -> what is wrong with it; nothing was saved."""

    errors: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return "; ".join(f"{key}: {reason}" for key, reason in self.errors.items())


def rule_form(rule: Rule) -> RuleForm:
    levels = ", ".join(f"{lv} {number_text(rule.thresholds[lv])}" for lv in rule.levels)
    return RuleForm(
        rule=rule.name,
        title=f"Edit {rule.name}"[:24],  # Slack's modal titles stop at 24 characters
        fields=(
            FormField(THRESHOLDS, f"Thresholds ({rule.op})", levels, "warning 800, critical 2000"),
            FormField(WINDOW, "Window", format_duration(rule.window), "5m"),
            FormField(INTERVAL, "Evaluate every", format_duration(rule.interval), "30s"),
            FormField(BREACHES, "Breaches to open", str(rule.breaches_to_open), "2"),
            FormField(NORMALS, "Normal readings to resolve", str(rule.normals_to_resolve), "3"),
            FormField(ENABLED, "Enabled", "yes" if rule.enabled else "no", "", switch=True),
        ),
    )


def _thresholds(text: str) -> dict[str, float | None]:
    """``warning 800, critical 2000`` -> a merge patch that also removes unnamed levels."""
    found = _LEVEL.findall(text)
    leftover = _LEVEL.sub("", text).replace(",", " ").replace(";", " ").strip()
    if leftover or not found:
        raise ValueError("write levels and numbers, e.g. warning 800, critical 2000")
    patch: dict[str, float | None] = dict.fromkeys(LEVELS)
    for word, number in found:
        level = word.lower()
        if level not in LEVELS:
            raise ValueError(f"'{word}' is not a level; use warning, error or critical")
        patch[level] = float(number)
    return patch


def _duration(text: str) -> str:
    try:
        return format_duration(parse_duration(text.strip()))
    except DurationError as exc:
        raise ValueError(str(exc)) from None


def _count(text: str) -> int:
    if not text.strip().isdigit():
        raise ValueError(f"'{text.strip()}' is not a whole number")
    return int(text)


def _switch(text: str) -> bool:
    word = text.strip().lower()
    if word in ("yes", "true", "on", "enabled", "1"):
        return True
    if word in ("no", "false", "off", "disabled", "0"):
        return False
    raise ValueError("answer yes or no")


_READERS = {
    THRESHOLDS: _thresholds,
    WINDOW: _duration,
    INTERVAL: _duration,
    BREACHES: _count,
    NORMALS: _count,
    ENABLED: _switch,
}


def form_patch(values: Mapping[str, str]) -> dict[str, Any]:
    """The merge patch a submitted form stands for (fields left out are unchanged);
    FormErrors naming each field that cannot be read."""
    patch: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, text in values.items():
        reader = _READERS.get(key)
        if reader is None:
            errors[key] = "not a field of the rule editor"
            continue
        try:
            patch[key] = reader(text)
        except ValueError as exc:
            errors[key] = str(exc)
    if errors:
        raise FormErrors(errors)
    return patch


def _field_of(path: str) -> str:
    """The form field a validation error belongs to (``thresholds.warning`` ->
    ``thresholds``); errors about other fields go to the thresholds field."""
    head = path.split(".")[0]
    return head if head in _READERS else THRESHOLDS


async def submit(core: Core, rule_name: str, values: Mapping[str, str], actor: Actor) -> Rule:
    """Validate and save a submitted form as one rule change (audited, admins only).
    FormErrors when a field is wrong, with nothing saved."""
    patch = form_patch(values)
    try:
        return await core.rules.update(rule_name, patch, actor)
    except RuleInvalid as exc:
        errors: dict[str, str] = {}
        for problem in exc.problems:
            errors.setdefault(_field_of(problem.field), problem.reason)
        raise FormErrors(errors) from None
