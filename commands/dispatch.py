"""From a line of text to a Reply: parse, check the role, call the handler, and turn
refusals into a clear message. Platform adapters call ``handle`` (or ``run`` with a
Command built from a button) and render the Reply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from commands import alerts, insight, notify, rules, silences
from commands.help import help_text
from commands.model import Command, Reply
from commands.parser import CommandError, find_spec, parse
from monitors.actors import Actor
from monitors.core import Core
from monitors.errors import ActionError

Handler = Callable[[Core, Command, Actor], Awaitable[Reply]]
READ_ONLY = frozenset(
    {"list", "show", "stats", "backtest", "coach", ""}
)  # refusals of these need no "nothing changed"


async def _help(core: Core, command: Command, actor: Actor) -> Reply:
    return Reply(help_text(command.args[0] if command.args else None), private=True)


HANDLERS: dict[tuple[str, str], Handler] = {
    ("alerts", "list"): alerts.list_alerts,
    ("alerts", "show"): alerts.show,
    ("alerts", "ack"): alerts.ack,
    ("alerts", "snooze"): alerts.snooze,
    ("alerts", "resolve"): alerts.resolve,
    ("alerts", "stats"): insight.stats,
    ("rule", "list"): rules.list_rules,
    ("rule", "show"): rules.show,
    ("rule", "set"): rules.set_threshold,
    ("rule", "edit"): rules.edit,
    ("rule", "enable"): rules.enable,
    ("rule", "disable"): rules.disable,
    ("rule", "reset"): rules.reset,
    ("rule", "test"): rules.test,
    ("rule", "apply"): insight.apply,
    ("rule", "cancel"): insight.cancel,
    ("rule", "backtest"): insight.backtest,
    ("rule", "coach"): insight.coach,
    ("silence", "add"): silences.add,
    ("silence", "list"): silences.list_silences,
    ("silence", "remove"): silences.remove,
    ("notify", "me"): notify.me,
    ("notify", "list"): notify.list_mine,
    ("notify", "off"): notify.off,
    ("notify", "test"): notify.test,
    ("help", ""): _help,
}


async def handle(core: Core, text: str, actor: Actor) -> Reply:
    """Parse and run one command line."""
    try:
        command = parse(text)
    except CommandError as exc:
        return Reply(str(exc), ok=False, private=True)
    return await run(core, command, actor)


async def run(core: Core, command: Command, actor: Actor) -> Reply:
    """Run a parsed command (from text, or from a button)."""
    try:
        spec = find_spec(command.group, command.action)
    except KeyError:
        return Reply(
            f"There is no command /{command.group} {command.action}; /help lists them. "
            "Nothing was changed.",
            ok=False,
            private=True,
        )
    if spec.admin and not actor.is_admin:
        hint = f" {actor.admin_hint}" if actor.admin_hint else ""
        return Reply(
            f"/{spec.group} {spec.action} needs the admin role, which "
            f"{actor.name} does not have; nothing was changed.{hint}",
            ok=False,
            private=True,
        )
    try:
        return await HANDLERS[(command.group, command.action)](core, command, actor)
    except ActionError as exc:
        unchanged = " Nothing was changed." if command.action not in READ_ONLY else ""
        return Reply(f"{exc}{unchanged}", ok=False, private=True)
