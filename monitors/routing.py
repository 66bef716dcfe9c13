"""Where incidents go: destinations named in the config, each pointing at places on chat
platforms (targets), and the default targets for rules that name none.

A target is a string: ``slack:C0ALERTS``, ``discord:123456789012345678`` or ``console``;
email and webhooks are named after their destination (``email:oncall-mail``,
``webhook:ops-hook``): the addresses, URL and secret live with the destination.
Outbox rows and message references are kept per target, so two destinations that point
at the same Slack channel share one message, and each platform's adapter delivers the
targets of its platform."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitors.destinations.specs import WebhookSpec, recipients
from monitors.digests import DigestSchedule, parse_digest
from monitors.quiet_hours import QuietHours
from monitors.rules.schema import LEVELS, Count


class Platform(StrEnum):
    CONSOLE = "console"
    SLACK = "slack"
    DISCORD = "discord"
    EMAIL = "email"
    WEBHOOK = "webhook"


CONSOLE_TARGET = Platform.CONSOLE.value
CONSOLE_DESTINATION = "console"
"""A destination every config has: the terminal Tocsin runs in."""


def target(platform: Platform, place: str = "") -> str:
    return f"{platform.value}:{place}" if place else platform.value


def split_target(text: str) -> tuple[str, str]:
    """``slack:C0ALERTS`` -> (``slack``, ``C0ALERTS``); ``console`` -> (``console``, "")."""
    platform, _, place = text.partition(":")
    return platform, place


def severity_rank(severity: str) -> int:
    """warning < error < critical; anything else ranks below them all."""
    return LEVELS.index(severity) if severity in LEVELS else -1


class Destination(BaseModel):
    """One named destination: ``{slack: C0PAYMENTS}``, ``{discord: 1234...}``,
    ``{email: [oncall@example.com]}``, ``{webhook: {url, secret}}``, or several."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slack: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_#.-]{1,80}$")
    """A Slack channel id (``C0PAYMENTS``); the app must be a member of the channel."""
    discord: str | None = None
    """A Discord channel id (a number, e.g. ``123456789012345678``)."""
    console: bool = False
    email: tuple[str, ...] | None = None
    """Addresses that get one mail thread per incident (the ``email:`` server sends)."""
    webhook: WebhookSpec | None = None
    """A URL that gets a signed JSON POST per incident change."""
    min_severity: str | None = None
    """Incidents below this level are not sent here; one escalating past it is."""
    max_per_hour: Count | None = None
    """New messages an hour to each of its places, all rules together; None: no cap."""
    quiet_hours: QuietHours | None = None
    """When only critical incidents open here; the rest are held for the digest."""
    digest: str | None = None
    """``daily HH:MM`` (in the quiet hours' time zone, else UTC) or ``hourly``: when
    what was held is listed. Without it, at the end of the quiet hours."""

    @field_validator("email", mode="before")
    @classmethod
    def _addresses(cls, value: object) -> object:
        return None if value is None else recipients(value)

    @field_validator("min_severity")
    @classmethod
    def _level(cls, value: str | None) -> str | None:
        if value is not None and value not in LEVELS:
            raise ValueError(f"{value!r} is not a severity; use {', '.join(LEVELS)}")
        return value

    @field_validator("max_per_hour", mode="before")
    @classmethod
    def _whole(cls, value: object) -> object:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{value!r} is not a whole number of messages; e.g. max_per_hour: 20")
        return value

    @field_validator("max_per_hour")
    @classmethod
    def _cap(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= 10_000:
            raise ValueError(
                f"{value} is not a cap; give the most new messages an hour, "
                "from 0 (no cap) to 10000"
            )
        return value

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        return None if value is None else parse_digest(value)

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
        if not (self.slack or self.discord or self.console or self.email or self.webhook):
            raise ValueError(
                "name a place, e.g. {slack: C0PAYMENTS}, {discord: 1234...}, "
                "{email: [oncall@example.com]} or {webhook: {url: ..., secret: ...}}"
            )
        return self

    @model_validator(mode="after")
    def _digest_after_quiet(self) -> Destination:
        schedule = self.digest_schedule()
        quiet = self.quiet_hours
        if quiet is not None and schedule is not None and schedule.at is not None:
            at = datetime.combine(date(2026, 1, 1), schedule.at, tzinfo=quiet.zone)
            if quiet.contains(at):
                raise ValueError(
                    f"the digest at {schedule.at.strftime('%H:%M')} falls in the quiet hours "
                    f"({quiet.describe()}) and could not be posted; choose a time outside "
                    f"them, e.g. daily {quiet.end}"
                )
        return self

    def digest_schedule(self) -> DigestSchedule | None:
        """When what this destination held is listed: its ``digest``, or the end of its
        quiet hours; None when it holds nothing."""
        zone = self.quiet_hours.timezone if self.quiet_hours else "UTC"
        if self.digest is not None:
            return DigestSchedule.parse(self.digest, zone)
        if self.quiet_hours is not None:
            return DigestSchedule.daily(self.quiet_hours.end, zone)
        return None

    def holds(self, moment: datetime) -> bool:
        """Whether non-critical incidents opening at ``moment`` are held for the digest
        rather than posted: during the quiet hours; always, with a digest and no quiet
        hours (a digest-only destination)."""
        if self.quiet_hours is not None:
            return self.quiet_hours.contains(moment)
        return self.digest is not None

    @property
    def has_quiet(self) -> bool:
        """Whether it ever holds anything (quiet hours or a digest)."""
        return self.quiet_hours is not None or self.digest is not None

    def targets(self, name: str) -> tuple[str, ...]:
        """Its targets; ``name`` (the destination's own) names its email and webhook."""
        places = [
            target(Platform.SLACK, self.slack) if self.slack else "",
            target(Platform.DISCORD, self.discord) if self.discord else "",
            CONSOLE_TARGET if self.console else "",
            target(Platform.EMAIL, name) if self.email else "",
            target(Platform.WEBHOOK, name) if self.webhook else "",
        ]
        return tuple(place for place in places if place)

    def admits(self, severity: str) -> bool:
        """Whether an incident of ``severity`` is at or above ``min_severity``."""
        floor = self.min_severity
        return floor is None or severity_rank(severity) >= severity_rank(floor)


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
                places = destination.targets(name) if destination else ()
            found.extend(place for place in places if place not in found)
        return tuple(found) or self.defaults

    def admits(self, names: Sequence[str], place: str, severity: str) -> bool:
        """Whether ``place``, reached through the destinations ``names``, takes an
        incident of ``severity``: yes if one of them that leads there has no floor or
        one at or below it (and for the default targets, which have none)."""
        leading = [destination for _, destination in self.leading(names, place)]
        return not leading or any(d.admits(severity) for d in leading)

    def leading(self, names: Sequence[str], place: str) -> list[tuple[str, Destination]]:
        """Of the destinations ``names``, those that lead to ``place``, each once."""
        found = []
        for name in dict.fromkeys(names):
            destination = self.destinations.get(name)
            if destination is not None and place in destination.targets(name):
                found.append((name, destination))
        return found

    def cap(self, names: Sequence[str], place: str) -> tuple[str, int] | None:
        """The destination cap (``max_per_hour``) on ``place`` for an incident routed
        through ``names``: the smallest of the leading destinations' (a place's
        messages are shared, so the strictest owner wins), with its destination."""
        caps = [
            (destination.max_per_hour, name)
            for name, destination in self.leading(names, place)
            if destination.max_per_hour
        ]
        if not caps:
            return None
        limit, name = min(caps)
        return name, limit
