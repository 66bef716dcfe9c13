"""``/alerts stats``, ``/rule backtest``, ``/rule coach``, and Apply / Cancel of a rule
change shown before it is saved (``/rule apply``, ``/rule cancel``)."""

from __future__ import annotations

from commands.actions import proposal_choices
from commands.model import Command, Reply
from commands.render_insight import (
    backtest_table,
    backtest_text,
    stats_table,
    stats_text,
    trials_table,
)
from commands.rules import saved_text
from monitors.actors import Actor
from monitors.backtest.compare import MAX_DAYS
from monitors.core import Core
from monitors.insight.proposals import Applied, Change
from monitors.insight.words import coaching_text
from monitors.rules.schema import Rule

STATS_DAYS = 7


def days_of(command: Command, position: int, default: float) -> float:
    """The ``DAYS`` argument (``7d``, checked by the parser), or ``default``."""
    return float(command.args[position][:-1]) if len(command.args) > position else default


async def stats(core: Core, command: Command, actor: Actor) -> Reply:
    found = await core.stats(days_of(command, 0, STATS_DAYS))
    return Reply(stats_text(found), table=stats_table(found))


async def backtest(core: Core, command: Command, actor: Actor) -> Reply:
    rule = core.rules.get(command.args[0])
    days = days_of(command, 1, MAX_DAYS)
    if rule.source != "ingest":
        return Reply(_not_replayable(rule), private=True)
    report = await core.backtest(rule.name, None, days)
    actual = await core.opened_by(rule.name, report.start)
    text = backtest_text(rule.name, report, days, rule.metric, actual)
    return Reply(text, table=backtest_table(report, core.clock()))


def _not_replayable(rule: Rule) -> str:
    return (
        f"{rule.name} reads {rule.source}, and only pushed samples are kept to replay, so "
        "it cannot be backtested."
    )


async def coach(core: Core, command: Command, actor: Actor) -> Reply:
    rule = core.rules.get(command.args[0])
    coaching = await core.coach(rule.name, days_of(command, 1, MAX_DAYS))
    text = coaching_text(coaching)
    best = coaching.best
    if best is None or not actor.is_admin:
        return Reply(text, table=trials_table(coaching))
    change = Change(patch=dict(best.candidate.patch))
    token = await core.proposals.propose(rule, change, actor, text)
    return Reply(
        f"{text} Apply saves {best.candidate.label}; Cancel leaves {rule.name} as it is.",
        private=True,
        table=trials_table(coaching),
        choices=proposal_choices(token),
    )


async def apply(core: Core, command: Command, actor: Actor) -> Reply:
    applied = await core.proposals.apply(command.args[0], actor)
    return Reply(applied_text(applied))


def applied_text(applied: Applied) -> str:
    rule, change = applied.rule, applied.change
    if change.patch is None:
        assert change.level is not None and change.value is not None
        return saved_text(rule, change.level, applied.old, change.value)
    fields = ", ".join(f"{key} {value}" for key, value in _flat(change.patch))
    return f"{rule.name}: {fields}. Saved; it applies from the next tick and survives restarts."


def _flat(patch: dict[str, object], prefix: str = "") -> list[tuple[str, object]]:
    """``{"thresholds": {"warning": 900}}`` -> ``[("warning", 900)]``."""
    out: list[tuple[str, object]] = []
    for key, value in patch.items():
        if isinstance(value, dict):
            out.extend(_flat(value, prefix))
        else:
            out.append((f"{prefix}{key}", value))
    return out


async def cancel(core: Core, command: Command, actor: Actor) -> Reply:
    name = await core.proposals.cancel(command.args[0], actor)
    return Reply(f"Cancelled: {name} stays as it is; nothing was saved.")
