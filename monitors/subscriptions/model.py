"""A subscription, where it is delivered, and whether one announcement goes there.

The verdict is a small table, pure and clock-injected, as monitors.incidents.machine's:

| the person's place already shows the incident | the event pages | sent | pings |
|---|---|---|---|
| yes | - | always (their message stays up to date) | if it pages, unless quiet and not critical |
| no | yes | if at or above their severity, and (not quiet, or critical) | yes |
| no | no | never (a quiet edit of a message they never got) | - |

During quiet hours a page below critical is dropped, not held: the person's direct
message is a heads-up beside the channel message, which did go out; held until the
morning it would arrive about an incident that may be long over, and one still firing
pages again (a reminder, an escalation) and reaches them then."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from monitors.quiet_hours import QuietHours
from monitors.routing import Platform, severity_rank
from storage.models import SubscriptionRow
from storage.repositories.subscriptions import EVERY_RULE

CRITICAL = "critical"


class PersonalPlatform(StrEnum):
    """The platform part of a person's target: ``slack-dm:U123``, ``discord-dm:1234``,
    ``email-dm:alice@example.com``."""

    SLACK_DM = "slack-dm"
    DISCORD_DM = "discord-dm"
    EMAIL_DM = "email-dm"


DELIVERED_BY: dict[str, str] = {
    PersonalPlatform.SLACK_DM: Platform.SLACK,
    PersonalPlatform.DISCORD_DM: Platform.DISCORD,
    PersonalPlatform.EMAIL_DM: Platform.EMAIL,
}
"""Which adapter delivers a personal target: the platform's own."""
DIRECT: dict[str, PersonalPlatform] = {
    Platform.SLACK: PersonalPlatform.SLACK_DM,
    Platform.DISCORD: PersonalPlatform.DISCORD_DM,
}
"""The platforms whose people can get direct messages."""


def delivered_by(platform: str) -> str:
    """``slack-dm`` -> ``slack``; any other platform is its own."""
    return DELIVERED_BY.get(platform, platform)


def is_personal(platform: str) -> bool:
    return platform in DELIVERED_BY


@dataclass(frozen=True)
class Subscription:
    platform: str
    user_id: str
    name: str
    rule: str | None
    """None: every rule."""
    min_severity: str = "warning"
    quiet: QuietHours | None = None
    email: str | None = None

    @classmethod
    def from_row(cls, row: SubscriptionRow) -> Subscription:
        return cls(
            platform=row.platform,
            user_id=row.user_id,
            name=row.display_name,
            rule=None if row.rule == EVERY_RULE else row.rule,
            min_severity=row.min_severity,
            quiet=QuietHours(**row.quiet_hours) if row.quiet_hours else None,
            email=row.email,
        )

    @property
    def target(self) -> str:
        """Where it is delivered: their mailbox if they gave one, else a direct message."""
        if self.email:
            return f"{PersonalPlatform.EMAIL_DM}:{self.email}"
        return f"{DIRECT[Platform(self.platform)]}:{self.user_id}"

    def covers(self, rule: str) -> bool:
        return self.rule is None or self.rule == rule

    def describe(self) -> str:
        """``slow-api, critical and above, by direct message, quiet 22:00-07:00 UTC``."""
        what = self.rule or "every rule"
        floor = (
            "critical only" if self.min_severity == CRITICAL else (f"{self.min_severity} and above")
        )
        how = f"by email to {self.email}" if self.email else "by direct message"
        quiet = f", quiet {self.quiet.describe()} (critical still comes)" if self.quiet else ""
        return f"{what}: {floor}, {how}{quiet}"


@dataclass(frozen=True)
class Send:
    notify: bool
    """Ping the person (a new direct message, or a page), or edit quietly."""


def verdict(
    subscription: Subscription, *, severity: str, page: bool, following: bool, now: float
) -> Send | None:
    """Whether one announcement of an incident of ``severity`` goes to the person (see
    the table above); None: not to them."""
    quiet = subscription.quiet is not None and subscription.quiet.contains(
        datetime.fromtimestamp(now, UTC)
    )
    may_ping = severity == CRITICAL or not quiet
    if following:
        return Send(notify=page and may_ping)
    high_enough = severity_rank(severity) >= severity_rank(subscription.min_severity)
    if page and high_enough and may_ping:
        return Send(notify=True)
    return None
