"""Where incidents go: destinations named in the config, each pointing at places on chat
platforms (targets), and the default targets for rules that name none.

A target is a string: ``slack:C0ALERTS``, ``discord:123456789012345678`` or ``console``.
Outbox rows and message references are kept per target, so two destinations that point
at the same Slack channel share one message, and each platform's adapter delivers the
targets of its platform."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Platform(StrEnum):
    CONSOLE = "console"
    SLACK = "slack"
    DISCORD = "discord"


CONSOLE_TARGET = Platform.CONSOLE.value
CONSOLE_DESTINATION = "console"
"""A destination every config has: the terminal Tocsin runs in."""


def target(platform: Platform, place: str = "") -> str:
    return f"{platform.value}:{place}" if place else platform.value


def split_target(text: str) -> tuple[str, str]:
    """``slack:C0ALERTS`` -> (``slack``, ``C0ALERTS``); ``console`` -> (``console``, "")."""
    platform, _, place = text.partition(":")
    return platform, place


class Destination(BaseModel):
    """One named destination: ``{slack: C0PAYMENTS}``, ``{discord: 1234...}``, or both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slack: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_#.-]{1,80}$")
    """A Slack channel id (``C0PAYMENTS``); the app must be a member of the channel."""
    discord: str | None = None
    """A Discord channel id (a number, e.g. ``123456789012345678``)."""
    console: bool = False

    @field_validator("discord", mode="before")
    @classmethod
    def _snowflake(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("a Discord channel id is a number, e.g. 123456789012345678")
        if isinstance(value, int):
            value = str(value)
        if isinstance(value, str) and not value.isdigit():
            raise ValueError(f"{value!r} is not a Discord channel id; use its number")
        return value

    @model_validator(mode="after")
    def _somewhere(self) -> Destination:
        if not self.targets():
            raise ValueError("name a place, e.g. {slack: C0PAYMENTS} or {discord: 1234...}")
        return self

    def targets(self) -> tuple[str, ...]:
        places = [
            target(Platform.SLACK, self.slack) if self.slack else "",
            target(Platform.DISCORD, self.discord) if self.discord else "",
            CONSOLE_TARGET if self.console else "",
        ]
        return tuple(place for place in places if place)


@dataclass(frozen=True)
class Routing:
    """Destination names to targets. ``defaults`` are the targets of a rule whose
    ``channels`` is empty (the Slack and Discord alert channels, and the console)."""

    destinations: Mapping[str, Destination] = field(default_factory=dict)
    defaults: tuple[str, ...] = (CONSOLE_TARGET,)

    def names(self) -> list[str]:
        return sorted({CONSOLE_DESTINATION, *self.destinations})

    def unknown(self, names: Iterable[str]) -> list[str]:
        known = set(self.names())
        return [name for name in names if name not in known]

    def elsewhere(self, target: str) -> tuple[str, ...]:
        """The default targets but ``target`` (which fails), and the console."""
        others = [place for place in self.defaults if place != target]
        return tuple(dict.fromkeys([*others, CONSOLE_TARGET]))

    def targets(self, names: Sequence[str] = ()) -> tuple[str, ...]:
        """The targets of ``names`` in order, each once; the defaults for none. Names
        no longer configured (a saved rule's, after a config change) are skipped; if
        none is left, the defaults keep the incident from going nowhere."""
        found: list[str] = []
        for name in names:
            if name == CONSOLE_DESTINATION:
                places: tuple[str, ...] = (CONSOLE_TARGET,)
            else:
                destination = self.destinations.get(name)
                places = destination.targets() if destination else ()
            found.extend(place for place in places if place not in found)
        return tuple(found) or self.defaults
