"""``/notify``: a person's own subscriptions (``me``, ``list``, ``off``), and ``test NAME``
to send a test message to a destination and show its answer."""

from __future__ import annotations

from commands.model import Command, Reply
from monitors.actors import Actor
from monitors.core import Core
from monitors.subscriptions.admin import SubscribeRequest
from monitors.subscriptions.model import Subscription
from monitors.wording import counted

OFF_HINT = "/notify off rule=NAME stops one, /notify off all of them."


def options(command: Command) -> dict[str, str]:
    """``("rule=slow-api", "severity=critical")`` -> ``{"rule": "slow-api", ...}`` (the
    parser checked each)."""
    return dict(arg.partition("=")[::2] for arg in command.args)


async def me(core: Core, command: Command, actor: Actor) -> Reply:
    given = options(command)
    quiet = given.get("quiet")
    request = SubscribeRequest(
        rule=given.get("rule"),
        severity=given.get("severity"),
        quiet=tuple(quiet.split("-", 1)) if quiet else None,  # type: ignore[arg-type]
        timezone=given.get("tz"),
        email=given.get("email"),
    )
    subscription, replaced = await core.subscriptions.subscribe(actor, request)
    verb = "Updated your subscription" if replaced else "Subscribed you"
    return Reply(
        f"{verb}: {subscription.describe()}. {_how(subscription)} /notify list shows your "
        f"subscriptions; {OFF_HINT}",
        private=True,
    )


def _how(subscription: Subscription) -> str:
    if subscription.email:
        return "New incidents, and what happens to them, come by mail."
    return (
        "New incidents come to you in a direct message, with the same buttons as the "
        "channel's, and the message follows what happens to them."
    )


async def list_mine(core: Core, command: Command, actor: Actor) -> Reply:
    mine = await core.subscriptions.of(actor)
    if not mine:
        return Reply(
            "You have no subscriptions. /notify me subscribes you to every rule; "
            "e.g. /notify me rule=slow-api severity=critical for one.",
            private=True,
        )
    lines = [f"• {subscription.describe()}" for subscription in mine]
    head = f"Your {counted(len(mine), 'subscription')}:"
    return Reply("\n".join([head, *lines, OFF_HINT]), private=True)


async def off(core: Core, command: Command, actor: Actor) -> Reply:
    rule = options(command).get("rule")
    gone = await core.subscriptions.unsubscribe(actor, rule)
    if not gone:
        what = {None: "", "all": " to every rule"}.get(rule, f" to {rule}")
        return Reply(
            f"You had no subscription{what}; nothing was changed. /notify list shows yours.",
            ok=False,
            private=True,
        )
    lines = [f"• {subscription.describe()}" for subscription in gone]
    head = f"Removed your {counted(len(gone), 'subscription')}:"
    return Reply("\n".join([head, *lines]), private=True)


async def test(core: Core, command: Command, actor: Actor) -> Reply:
    name = command.args[0]
    answers = await core.destinations.test(name, actor)
    lines = [f"{'ok' if a.ok else 'FAILED'} {a.target}: {a.summary}" for a in answers]
    if all(answer.ok for answer in answers):
        head = f"Test message sent to {name}; it was accepted:"
    else:
        head = f"Test message to {name}: not every place accepted it:"
    return Reply("\n".join([head, *lines]), ok=all(a.ok for a in answers), private=True)
