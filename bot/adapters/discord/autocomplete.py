"""Suggestions while a person types an option: rule names, incident ids labelled with
what they are, silences, durations. Each answers from the core's own verbs."""

from __future__ import annotations

from collections.abc import Iterable

from discord.app_commands import Choice

from commands.actions import SNOOZE_CHOICES
from monitors.core import Core
from monitors.formatting import short_time
from monitors.incidents.cards import incident_title

MAX_CHOICES = 25
MAX_NAME = 100
DURATIONS = ("30m", *SNOOZE_CHOICES, "2h", "8h", "3d")
SEARCH_INCIDENTS = 200


def _fits(current: str, *texts: str) -> bool:
    needle = current.strip().lstrip("#").lower()
    return not needle or any(needle in text.lower() for text in texts)


def _choices(pairs: Iterable[tuple[str, str]]) -> list[Choice[str]]:
    found = []
    for name, value in pairs:
        found.append(Choice(name=name[:MAX_NAME], value=value))
        if len(found) == MAX_CHOICES:
            break
    return found


def rule_names(core: Core, current: str) -> list[Choice[str]]:
    rules = sorted(core.rulebook.all(), key=lambda rule: rule.name)
    return _choices((r.name, r.name) for r in rules if _fits(current, r.name))


async def incidents(core: Core, current: str, status: str | None = None) -> list[Choice[str]]:
    """``#42 CRITICAL slow-api (route=/x)`` for each incident whose id or title holds
    what was typed; unresolved ones unless ``status`` says otherwise (``all``). A
    suggestion only: a person may type any id, and the command checks it."""
    found = await core.incidents.list(status, None, limit=SEARCH_INCIDENTS)
    titles = ((incident_title(i), str(i.id)) for i in found)
    return _choices((title, number) for title, number in titles if _fits(current, title))


async def silences(core: Core, current: str) -> list[Choice[str]]:
    rows = await core.silences.list()
    labels = ((f"{s.id}: {s.matchers} until {short_time(s.ends_at)}", str(s.id)) for s in rows)
    return _choices((label, number) for label, number in labels if _fits(current, label))


def durations(current: str) -> list[Choice[str]]:
    return _choices((d, d) for d in DURATIONS if _fits(current, d))


def matchers(core: Core, current: str) -> list[Choice[str]]:
    """``rule=NAME`` for each rule (a person may still type any matchers)."""
    rules = sorted(core.rulebook.all(), key=lambda rule: rule.name)
    return _choices((f"rule={r.name}",) * 2 for r in rules if _fits(current, f"rule={r.name}"))
