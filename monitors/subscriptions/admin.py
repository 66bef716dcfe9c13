"""The verbs behind ``/notify me``, ``/notify list`` and ``/notify off``: a person's own
subscriptions, by their platform and user id (never their display name)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from monitors.actors import Actor
from monitors.errors import Invalid
from monitors.quiet_hours import QuietHours
from monitors.rules.admin import RuleAdmin
from monitors.subscriptions.model import DIRECT, Subscription
from storage.db import Database
from storage.repositories import SubscriptionRepository
from storage.repositories.subscriptions import EVERY_RULE

ALL_RULES = "all"
"""``rule=all``: every rule (the default)."""
NEEDS_A_PLATFORM = (
    "Personal subscriptions send direct messages, which need Slack or Discord: "
    "type /notify me there"
)


@dataclass(frozen=True)
class SubscribeRequest:
    """What ``/notify me`` asked for, each part checked for its form by the parser."""

    rule: str | None = None
    severity: str | None = None
    quiet: tuple[str, str] | None = None
    """(start, end), ``HH:MM`` each."""
    timezone: str | None = None
    email: str | None = None


class SubscriptionAdmin:
    def __init__(
        self,
        db: Database,
        rules: RuleAdmin,
        clock: Callable[[], float],
        email_enabled: Callable[[], bool] = lambda: False,
    ) -> None:
        self.db = db
        self.rules = rules
        self.clock = clock
        self.email_enabled = email_enabled

    @staticmethod
    def _person(actor: Actor) -> tuple[str, str]:
        if actor.surface not in DIRECT:
            raise Invalid(NEEDS_A_PLATFORM)
        return actor.surface, actor.id

    async def subscribe(self, actor: Actor, request: SubscribeRequest) -> tuple[Subscription, bool]:
        """Save the actor's subscription (replacing theirs to the same rule); returns it
        and whether it replaced one. Refused, saving nothing, for a rule that does not
        exist, quiet hours that are no stretch of time, a time zone without quiet hours,
        or an address when no mail server is configured."""
        platform, user_id = self._person(actor)
        rule = None if request.rule in (None, ALL_RULES) else request.rule
        if rule is not None:
            rule = self.rules.get(rule).name  # NotFound, with a suggestion
        quiet = self._quiet(request)
        if request.email and not self.email_enabled():
            raise Invalid(
                "Tocsin has no mail server configured (email: in the config), so it cannot "
                "email you; leave out email= to get direct messages"
            )
        subscription = Subscription(
            platform=platform,
            user_id=user_id,
            name=actor.name,
            rule=rule,
            min_severity=request.severity or "warning",
            quiet=quiet,
            email=request.email,
        )
        async with self.db.transaction() as session:
            replaced = await SubscriptionRepository(session).save(
                platform,
                user_id,
                rule or EVERY_RULE,
                self.clock(),
                display_name=actor.name,
                min_severity=subscription.min_severity,
                quiet_hours=quiet.model_dump() if quiet else None,
                email=request.email,
            )
        return subscription, replaced

    @staticmethod
    def _quiet(request: SubscribeRequest) -> QuietHours | None:
        if request.quiet is None:
            if request.timezone:
                raise Invalid(
                    "tz= is the time zone of your quiet hours; give them too, "
                    f"e.g. quiet=22:00-07:00 tz={request.timezone}"
                )
            return None
        start, end = request.quiet
        try:
            return QuietHours(start=start, end=end, timezone=request.timezone or "UTC")
        except ValidationError as exc:
            reasons = "; ".join(
                str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()
            )
            raise Invalid(f"Those quiet hours do not work: {reasons}") from None

    async def of(self, actor: Actor) -> list[Subscription]:
        platform, user_id = self._person(actor)
        async with self.db.read() as session:
            rows = await SubscriptionRepository(session).of(platform, user_id)
        return [Subscription.from_row(row) for row in rows]

    async def unsubscribe(self, actor: Actor, rule: str | None = None) -> list[Subscription]:
        """Remove the actor's subscription to ``rule`` (``all``: the one to every rule),
        or with None every one of theirs; returns what was removed."""
        platform, user_id = self._person(actor)
        key = EVERY_RULE if rule == ALL_RULES else rule
        async with self.db.transaction() as session:
            gone = await SubscriptionRepository(session).remove(platform, user_id, key)
        return [Subscription.from_row(row) for row in gone]
