"""``/rule``: list, show, set, enable, disable, test."""

from __future__ import annotations

from commands.model import Command, Reply
from commands.render import rule_table
from commands.render_rule import number_text, rule_text, threshold_unit, with_unit
from commands.rule_form import rule_form
from monitors.actors import Actor
from monitors.cards import incident_card
from monitors.core import Core
from monitors.formatting import short_time
from monitors.wording import counted


async def list_rules(core: Core, command: Command, actor: Actor) -> Reply:
    rules = core.rulebook.all()
    if not rules:
        return Reply("No rules yet. Add some to the config file, or POST /v1/rules.")
    return Reply(f"{counted(len(rules), 'rule')}:", table=rule_table(rules))


async def show(core: Core, command: Command, actor: Actor) -> Reply:
    rule = core.rules.get(command.args[0])
    origin = core.rulebook.origin(rule.name)
    where = "config file"
    if origin is not None and origin.source == "saved":
        when = short_time(origin.updated_at) if origin.updated_at else "?"
        where = f"saved by {origin.updated_by} at {when} (overrides the config file)"
    return Reply(rule_text(rule, where))


async def set_threshold(core: Core, command: Command, actor: Actor) -> Reply:
    name, value = command.args[0], float(command.args[1])
    level = command.args[2] if len(command.args) > 2 else None
    rule, level, old = await core.rules.set_threshold(name, value, level, actor)
    after = number_text(value)
    if old == value:
        return Reply(f"{rule.name}: the {level} threshold is already {after}; nothing was changed.")
    before = number_text(old) if old is not None else "unset"
    limit = with_unit(after, threshold_unit(rule))
    return Reply(
        f"{rule.name}: {level} threshold {before} -> {after} "
        f"(alerts when {rule.reads()} {rule.op} {limit}). "
        f"Saved; it applies from the next tick and survives restarts."
    )


async def edit(core: Core, command: Command, actor: Actor) -> Reply:
    rule = core.rules.get(command.args[0])
    return Reply(
        f"The editor for {rule.name} is a form in Slack and Discord. Here: "
        f"/rule set {rule.name} THRESHOLD [LEVEL], /rule enable|disable {rule.name}, "
        f"or PATCH /v1/rules/{rule.name}.",
        private=True,
        form=rule_form(rule),
    )


async def enable(core: Core, command: Command, actor: Actor) -> Reply:
    rule, changed = await core.rules.set_enabled(command.args[0], True, actor)
    return Reply(f"{rule.name} is enabled." if changed else f"{rule.name} was already enabled.")


async def disable(core: Core, command: Command, actor: Actor) -> Reply:
    rule, changed = await core.rules.set_enabled(command.args[0], False, actor)
    if not changed:
        return Reply(f"{rule.name} was already disabled.")
    return Reply(
        f"{rule.name} is disabled; its open incidents were resolved. "
        f"/rule enable {rule.name} turns it back on."
    )


async def test(core: Core, command: Command, actor: Actor) -> Reply:
    incident = await core.incidents.test(command.args[0], actor)
    return Reply(
        f"Posted test incident #{incident.id} for {incident.rule}. Resolve it with "
        f"/alerts resolve {incident.id}.",
        cards=(incident_card(incident, core.clock()),),
    )
