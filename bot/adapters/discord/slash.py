"""The slash commands: ``/alerts``, ``/rule``, ``/silence``, ``/notify`` and ``/help``, with typed
options and autocomplete, one Discord command per row of commands.parser.COMMANDS.

Each callback only hands its options, in the order of the command table, to
Interactions.command, which checks them as typed text would be checked and runs the
core's handler; summaries come from the same table."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import Choice

from bot.adapters.discord import autocomplete
from bot.adapters.discord.interactions import Interactions
from commands.parser import GROUPS, SEVERITIES, STATUSES, find_spec
from monitors.rules.schema import LEVELS

MAX_DESCRIPTION = 100
IN_GUILDS = app_commands.AppCommandContext(guild=True)
"""Where the commands are offered: servers, not direct messages (admins are server roles)."""
Interaction = discord.Interaction[Any]


def summary(group: str, action: str = "") -> str:
    """The command table's summary, up to its first ``;`` (Discord allows 100 characters)."""
    return find_spec(group, action).summary.split("; ")[0][:MAX_DESCRIPTION]


def words(values: tuple[str, ...]) -> list[Choice[str]]:
    return [Choice(name=value, value=value) for value in values]


INCIDENT = "The incident's number, e.g. 42"
RULE = "The rule's name, e.g. slow-api"
DURATION = "How long, e.g. 30m, 2h or 1d"
BACKTEST_DAYS = "How many days of history to replay, 1d to 7d (default 7d)"


class AlertCommands(app_commands.Group, name="alerts", description=GROUPS["alerts"]):
    def __init__(self, interactions: Interactions) -> None:
        super().__init__(guild_only=True, allowed_contexts=IN_GUILDS)
        self.interactions = interactions

    @app_commands.command(name="list", description=summary("alerts", "list"))
    @app_commands.describe(
        status="open, acknowledged, resolved or all (default: open and acknowledged)",
        severity="Only this severity",
    )
    @app_commands.choices(status=words(STATUSES), severity=words(SEVERITIES))
    async def list_alerts(
        self, interaction: Interaction, status: str | None = None, severity: str | None = None
    ) -> None:
        await self.interactions.command(interaction, "alerts", "list", (status, severity))

    @app_commands.command(name="show", description=summary("alerts", "show"))
    @app_commands.rename(incident="id")
    @app_commands.describe(incident=INCIDENT)
    async def show(self, interaction: Interaction, incident: str) -> None:
        await self.interactions.command(interaction, "alerts", "show", (incident,))

    @app_commands.command(name="ack", description=summary("alerts", "ack"))
    @app_commands.rename(incident="id")
    @app_commands.describe(incident=INCIDENT)
    async def ack(self, interaction: Interaction, incident: str) -> None:
        await self.interactions.command(interaction, "alerts", "ack", (incident,))

    @app_commands.command(name="snooze", description=summary("alerts", "snooze"))
    @app_commands.rename(incident="id")
    @app_commands.describe(incident=INCIDENT, duration=DURATION)
    async def snooze(self, interaction: Interaction, incident: str, duration: str) -> None:
        await self.interactions.command(interaction, "alerts", "snooze", (incident, duration))

    @app_commands.command(name="resolve", description=summary("alerts", "resolve"))
    @app_commands.rename(incident="id")
    @app_commands.describe(incident=INCIDENT, note="What was done, for the timeline")
    async def resolve(
        self, interaction: Interaction, incident: str, note: str | None = None
    ) -> None:
        await self.interactions.command(interaction, "alerts", "resolve", (incident, note))

    @app_commands.command(name="stats", description=summary("alerts", "stats"))
    @app_commands.describe(days="How many days back, e.g. 7d (default 7d)")
    async def stats(self, interaction: Interaction, days: str | None = None) -> None:
        await self.interactions.command(interaction, "alerts", "stats", (days,))

    @show.autocomplete("incident")
    async def _any_incident(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        return await autocomplete.incidents(self.interactions.core, current, "all")

    @ack.autocomplete("incident")
    @snooze.autocomplete("incident")
    @resolve.autocomplete("incident")
    async def _open_incident(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        return await autocomplete.incidents(self.interactions.core, current)

    @snooze.autocomplete("duration")
    async def _duration(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        return autocomplete.durations(current)


class RuleCommands(app_commands.Group, name="rule", description=GROUPS["rule"]):
    def __init__(self, interactions: Interactions) -> None:
        super().__init__(guild_only=True, allowed_contexts=IN_GUILDS)
        self.interactions = interactions

    async def _run(self, interaction: Interaction, action: str, *values: str | None) -> None:
        await self.interactions.command(interaction, "rule", action, values)

    @app_commands.command(name="list", description=summary("rule", "list"))
    async def list_rules(self, interaction: Interaction) -> None:
        await self._run(interaction, "list")

    @app_commands.command(name="show", description=summary("rule", "show"))
    @app_commands.describe(name=RULE)
    async def show(self, interaction: Interaction, name: str) -> None:
        await self._run(interaction, "show", name)

    @app_commands.command(name="set", description=summary("rule", "set"))
    @app_commands.describe(
        name=RULE,
        threshold="The new threshold, in the rule's unit",
        level="warning, error or critical (default: the rule's lowest level)",
    )
    @app_commands.choices(level=words(LEVELS))
    async def set_threshold(
        self, interaction: Interaction, name: str, threshold: float, level: str | None = None
    ) -> None:
        await self._run(interaction, "set", name, repr(threshold), level)

    @app_commands.command(name="edit", description=summary("rule", "edit"))
    @app_commands.describe(name=RULE)
    async def edit(self, interaction: Interaction, name: str) -> None:
        await self._run(interaction, "edit", name)

    @app_commands.command(name="reset", description=summary("rule", "reset"))
    @app_commands.describe(name=RULE)
    async def reset(self, interaction: Interaction, name: str) -> None:
        await self._run(interaction, "reset", name)

    @app_commands.command(name="enable", description=summary("rule", "enable"))
    @app_commands.describe(name=RULE)
    async def enable(self, interaction: Interaction, name: str) -> None:
        await self._run(interaction, "enable", name)

    @app_commands.command(name="disable", description=summary("rule", "disable"))
    @app_commands.describe(name=RULE)
    async def disable(self, interaction: Interaction, name: str) -> None:
        await self._run(interaction, "disable", name)

    @app_commands.command(name="test", description=summary("rule", "test"))
    @app_commands.describe(name=RULE)
    async def test(self, interaction: Interaction, name: str) -> None:
        await self._run(interaction, "test", name)

    @app_commands.command(name="apply", description=summary("rule", "apply"))
    @app_commands.describe(token="The token under the change, as its Apply button carries it")
    async def apply(self, interaction: Interaction, token: str) -> None:
        await self._run(interaction, "apply", token)

    @app_commands.command(name="cancel", description=summary("rule", "cancel"))
    @app_commands.describe(token="The token under the change, as its Cancel button carries it")
    async def cancel(self, interaction: Interaction, token: str) -> None:
        await self._run(interaction, "cancel", token)

    @app_commands.command(name="backtest", description=summary("rule", "backtest"))
    @app_commands.describe(name=RULE, days=BACKTEST_DAYS)
    async def backtest(self, interaction: Interaction, name: str, days: str | None = None) -> None:
        await self._run(interaction, "backtest", name, days)

    @app_commands.command(name="coach", description=summary("rule", "coach"))
    @app_commands.describe(name=RULE, days=BACKTEST_DAYS)
    async def coach(self, interaction: Interaction, name: str, days: str | None = None) -> None:
        await self._run(interaction, "coach", name, days)

    @show.autocomplete("name")
    @set_threshold.autocomplete("name")
    @backtest.autocomplete("name")
    @coach.autocomplete("name")
    @edit.autocomplete("name")
    @reset.autocomplete("name")
    @enable.autocomplete("name")
    @disable.autocomplete("name")
    @test.autocomplete("name")
    async def _rule_name(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        return autocomplete.rule_names(self.interactions.core, current)


class SilenceCommands(app_commands.Group, name="silence", description=GROUPS["silence"]):
    def __init__(self, interactions: Interactions) -> None:
        super().__init__(guild_only=True, allowed_contexts=IN_GUILDS)
        self.interactions = interactions

    @app_commands.command(name="add", description=summary("silence", "add"))
    @app_commands.describe(
        matchers="Label matchers, e.g. rule=slow-api,route=~/api/.*,env!=dev",
        duration=DURATION,
        reason="Why, for the people the silence hides incidents from",
    )
    async def add(
        self, interaction: Interaction, matchers: str, duration: str, reason: str | None = None
    ) -> None:
        values = (matchers, duration, reason)
        await self.interactions.command(interaction, "silence", "add", values)

    @app_commands.command(name="list", description=summary("silence", "list"))
    async def list_silences(self, interaction: Interaction) -> None:
        await self.interactions.command(interaction, "silence", "list")

    @app_commands.command(name="remove", description=summary("silence", "remove"))
    @app_commands.rename(silence="id")
    @app_commands.describe(silence="The silence's number, as /silence list shows it")
    async def remove(self, interaction: Interaction, silence: str) -> None:
        await self.interactions.command(interaction, "silence", "remove", (silence,))

    @add.autocomplete("matchers")
    async def _matchers(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        return autocomplete.matchers(self.interactions.core, current)

    @add.autocomplete("duration")
    async def _duration(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        return autocomplete.durations(current)

    @remove.autocomplete("silence")
    async def _silence(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        return await autocomplete.silences(self.interactions.core, current)


class NotifyCommands(app_commands.Group, name="notify", description=GROUPS["notify"]):
    def __init__(self, interactions: Interactions) -> None:
        super().__init__(guild_only=True, allowed_contexts=IN_GUILDS)
        self.interactions = interactions

    @app_commands.command(name="me", description=summary("notify", "me"))
    @app_commands.describe(
        rule="Only this rule's incidents (default: every rule)",
        severity="Only at or above this severity (default: warning, so all)",
        quiet="Your quiet hours, when only critical comes, e.g. 22:00-07:00",
        tz="The time zone of your quiet hours, e.g. Europe/Paris (default UTC)",
        email="Mail to this address instead of direct messages",
    )
    @app_commands.choices(severity=words(SEVERITIES))
    async def me(
        self,
        interaction: Interaction,
        rule: str | None = None,
        severity: str | None = None,
        quiet: str | None = None,
        tz: str | None = None,
        email: str | None = None,
    ) -> None:
        given = {"rule": rule, "severity": severity, "quiet": quiet, "tz": tz, "email": email}
        values = tuple(f"{key}={value}" for key, value in given.items() if value is not None)
        await self.interactions.command(interaction, "notify", "me", values)

    @app_commands.command(name="list", description=summary("notify", "list"))
    async def list_mine(self, interaction: Interaction) -> None:
        await self.interactions.command(interaction, "notify", "list")

    @app_commands.command(name="off", description=summary("notify", "off"))
    @app_commands.describe(rule="Stop only this rule's subscription (default: all of yours)")
    async def off(self, interaction: Interaction, rule: str | None = None) -> None:
        values = (f"rule={rule}",) if rule is not None else ()
        await self.interactions.command(interaction, "notify", "off", values)

    @me.autocomplete("rule")
    @off.autocomplete("rule")
    async def _rule_name(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        return autocomplete.rule_names(self.interactions.core, current)

    @app_commands.command(name="test", description=summary("notify", "test"))
    @app_commands.describe(name="A destination's name, as the config or the API names it")
    async def test(self, interaction: Interaction, name: str) -> None:
        await self.interactions.command(interaction, "notify", "test", (name,))


def help_command(interactions: Interactions) -> app_commands.Command[Any, Any, None]:
    topics = tuple(group for group in GROUPS if group != "help")

    @app_commands.command(name="help", description=summary("help"))
    @app_commands.describe(group="Only this group's commands")
    @app_commands.choices(group=words(topics))
    @app_commands.guild_only()
    async def show_help(interaction: Interaction, group: str | None = None) -> None:
        await interactions.command(interaction, "help", "", (group,))

    return show_help


def command_tree_entries(
    interactions: Interactions,
) -> list[app_commands.Group | app_commands.Command[Any, Any, None]]:
    return [
        AlertCommands(interactions),
        RuleCommands(interactions),
        SilenceCommands(interactions),
        NotifyCommands(interactions),
        help_command(interactions),
    ]
