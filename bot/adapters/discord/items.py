"""The buttons and the snooze menu on an incident message, as discord.py ``DynamicItem``s.

Their custom ids are the core's button vocabulary (commands.actions): ``tocsin:ack:42``,
``tocsin:resolve:42``, and a menu ``tocsin:snooze:42`` whose options are the full
``tocsin:snooze:42:1h`` ids. The template regexes match them on any message, so a
click on a message posted before a restart reaches the same handler: the state lives in
the id and the database, nothing in memory."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

import discord

from bot.adapters.discord.rendering import web_link
from commands.actions import CHOICE_LABELS, PREFIX, Button, Choice, card_buttons
from commands.parser import TOKEN_PATTERN
from monitors.incidents.cards import IncidentCard
from monitors.incidents.machine import Action

BUTTON_TEMPLATE = rf"{PREFIX}:(?:ack|resolve):[0-9]+"
SNOOZE_TEMPLATE = rf"{PREFIX}:snooze:(?P<incident>[0-9]+)"
MENU_TEMPLATE = rf"{PREFIX}:menu:(?P<first>[0-9]+)"
"""A storm message's menu of several incidents' actions (bot.adapters.discord.storm)."""
CHOICE_TEMPLATE = rf"{PREFIX}:(?:{'|'.join(CHOICE_LABELS)}):{TOKEN_PATTERN}"
TEMPLATES = tuple(
    re.compile(template)
    for template in (BUTTON_TEMPLATE, SNOOZE_TEMPLATE, MENU_TEMPLATE, CHOICE_TEMPLATE)
)
"""What a DynamicItem here answers; other component ids get an answer from the client."""
STYLES = {
    Action.ACKNOWLEDGE: discord.ButtonStyle.primary,
    Action.RESOLVE: discord.ButtonStyle.success,
}


class ClickHandler(Protocol):
    async def click(
        self,
        interaction: discord.Interaction[Any],
        custom_id: str,
        chosen: Sequence[str] | None = None,
    ) -> None: ...


def handler_of(interaction: discord.Interaction[Any]) -> ClickHandler:
    """What handles clicks for the client that received ``interaction``."""
    handler = getattr(interaction.client, "tocsin", None)
    if handler is None:
        raise TypeError("this interaction did not reach Tocsin's Discord client")
    return handler


def snooze_menu_id(incident_id: int) -> str:
    return f"{PREFIX}:snooze:{incident_id}"


def group_menu_id(first_incident: int) -> str:
    return f"{PREFIX}:menu:{first_incident}"


def is_group_menu(custom_id: str) -> bool:
    return re.fullmatch(MENU_TEMPLATE, custom_id) is not None


def handled_here(custom_id: str) -> bool:
    return any(template.fullmatch(custom_id) for template in TEMPLATES)


class CardButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=BUTTON_TEMPLATE):
    """Acknowledge or Resolve. The id is decoded when clicked, not here, so a malformed
    one still gets an answer."""

    def __init__(self, custom_id: str, label: str, style: discord.ButtonStyle) -> None:
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=custom_id), row=0)

    @classmethod
    def of(cls, button: Button) -> CardButton:
        return cls(button.custom_id, button.label, STYLES[button.action])

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Button[Any],
        match: re.Match[str],
    ) -> CardButton:
        return cls(match.string, item.label or "", item.style)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await handler_of(interaction).click(interaction, self.custom_id)


class SnoozeMenu(discord.ui.DynamicItem[discord.ui.Select[Any]], template=SNOOZE_TEMPLATE):
    """Snooze for one of the card's lengths; each option's value is a full button id."""

    def __init__(self, custom_id: str, options: list[discord.SelectOption]) -> None:
        super().__init__(
            discord.ui.Select(custom_id=custom_id, placeholder="Snooze…", options=options),
            row=1,
        )

    @classmethod
    def of(cls, incident_id: int, buttons: list[Button]) -> SnoozeMenu:
        options = [discord.SelectOption(label=b.label, value=b.custom_id) for b in buttons]
        return cls(snooze_menu_id(incident_id), options)

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Select[Any],
        match: re.Match[str],
    ) -> SnoozeMenu:
        return cls(match.string, list(item.options))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await handler_of(interaction).click(interaction, self.custom_id, self.item.values)


class ChoiceButton(CardButton, template=CHOICE_TEMPLATE):
    """Apply or Cancel of a proposed rule change, on the reply that proposed it; the id
    carries the proposal's token only (what it applies is kept by the core). It works
    as a card's buttons do (rebuilt from its id, clicked through the client's handler);
    only its ids and its look differ."""

    @classmethod
    def of_choice(cls, choice: Choice) -> ChoiceButton:
        style = discord.ButtonStyle.success if choice.primary else discord.ButtonStyle.secondary
        return cls(choice.custom_id, choice.label, style)


def choices_view(choices: Sequence[Choice]) -> discord.ui.View | None:
    if not choices:
        return None
    view = discord.ui.View(timeout=None)
    for choice in choices:
        view.add_item(ChoiceButton.of_choice(choice))
    return view


def card_view(card: IncidentCard) -> discord.ui.View | None:
    """The card's buttons (row 1, with the runbook link) and snooze menu (row 2); None
    when nothing is left to click."""
    buttons = card_buttons(card.incident_id, card.actions)
    view = discord.ui.View(timeout=None)
    for button in buttons:
        if button.action is not Action.SNOOZE:
            view.add_item(CardButton.of(button))
    link = web_link(card.runbook)
    if link:
        view.add_item(discord.ui.Button(label="Runbook", url=link, row=0))
    snoozes = [b for b in buttons if b.action is Action.SNOOZE]
    if snoozes:
        view.add_item(SnoozeMenu.of(card.incident_id, snoozes))
    return view if view.children else None
