"""``/rule``: list, show, set (with a backtest before saving), edit, enable, disable,
reset, test."""

from __future__ import annotations

from commands.actions import proposal_choices
from commands.model import Command, Reply
from commands.render import rule_table
from commands.render_insight import preview_text
from commands.render_rule import number_text, rule_text, threshold_unit, value_text, with_unit
from commands.rule_form import rule_form
from monitors.actors import Actor
from monitors.backtest.compare import MAX_DAYS
from monitors.core import Core
from monitors.formatting import short_time
from monitors.incidents.cards import incident_card
from monitors.insight.proposals import Change
from monitors.insight.words import no_history
from monitors.rules.rulebook import FILE, SAVED, RuleOrigin
from monitors.rules.schema import Rule
from monitors.wording import counted


async def list_rules(core: Core, command: Command, actor: Actor) -> Reply:
    rules = core.rulebook.all()
    if not rules:
        return Reply("No rules yet. Add some to the config file, or POST /v1/rules.")
    return Reply(f"{counted(len(rules), 'rule')}:", table=rule_table(rules))


async def show(core: Core, command: Command, actor: Actor) -> Reply:
    rule = core.rules.get(command.args[0])
    origin = core.rulebook.origin(rule.name) or RuleOrigin(FILE)
    if origin.source == FILE:
        return Reply(rule_text(rule, "config file"))
    when = short_time(origin.updated_at) if origin.updated_at else "?"
    saved = f"saved by {origin.updated_by} at {when}"
    if origin.source == SAVED:
        return Reply(rule_text(rule, f"{saved} (not in the config file)"))
    notes = [
        "differs from the config file in: "
        + "; ".join(
            f"{c.field} (file {_value(c.file)}, saved {_value(c.saved)})" for c in origin.differs
        )
    ]
    if origin.file_changed:
        notes.append("the config file's rule has changed since this was saved")
    notes.append(f"/rule reset {rule.name} returns it to the config file")
    text = rule_text(rule, f"{saved}, overriding the config file's rule")
    return Reply("\n".join([text, *notes]))


def _value(value: object) -> str:
    return "unset" if value is None else value_text(value)


async def set_threshold(core: Core, command: Command, actor: Actor) -> Reply:
    """Checked as saving would check it, then backtested and offered with Apply and
    Cancel; saved at once where there is nothing to show first: a rule that does not
    read pushed samples, or one with no history yet (a preview of nothing would only
    put a click between an admin and the change)."""
    name, value = command.args[0], float(command.args[1])
    level = command.args[2] if len(command.args) > 2 else None
    rule, new, level, old = core.rules.propose_threshold(name, value, level)
    after = number_text(value)
    if new is None:
        return Reply(f"{rule.name}: the {level} threshold is already {after}; nothing was changed.")
    if rule.source != "ingest":
        rule, level, old = await core.rules.set_threshold(name, value, level, actor)
        text = saved_text(rule, level, old, value)
        return Reply(f"{text} (No backtest first: only pushed samples are kept to replay.)")
    report = await core.backtest(rule.name, {"thresholds": {level: value}}, MAX_DAYS)
    if report.history_from is None or not report.samples:
        rule, level, old = await core.rules.set_threshold(name, value, level, actor)
        text = saved_text(rule, level, old, value)
        return Reply(f"{text} (No backtest first: {no_history(rule.metric)}.)")
    before = number_text(old) if old is not None else "unset"
    text = preview_text(f"{rule.name}, {level} {before} -> {after}", report, MAX_DAYS, rule.metric)
    token = await core.proposals.propose(rule, Change(level=level, value=value), actor, text)
    return Reply(text, private=True, choices=proposal_choices(token))


def saved_text(rule: Rule, level: str, old: float | None, value: float) -> str:
    before = number_text(old) if old is not None else "unset"
    after = number_text(value)
    limit = with_unit(after, threshold_unit(rule))
    return (
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


async def reset(core: Core, command: Command, actor: Actor) -> Reply:
    rule, changed = await core.rules.reset(command.args[0], actor)
    if not changed:
        return Reply(f"{rule.name} already follows the config file; nothing was changed.")
    state = "" if rule.enabled else " (disabled there)"
    return Reply(
        f"{rule.name} follows the config file again{state}: the saved version was dropped, "
        "and later edits of the file apply at the next start."
    )


async def test(core: Core, command: Command, actor: Actor) -> Reply:
    incident = await core.incidents.test(command.args[0], actor)
    return Reply(
        f"Posted test incident #{incident.id} for {incident.rule}. Resolve it with "
        f"/alerts resolve {incident.id}.",
        cards=(incident_card(incident, core.clock()),),
    )
