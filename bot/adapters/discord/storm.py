"""Several incidents that opened together, as one Discord message (storm grouping, see
bot/delivery/messages.py): a heading, an embed per incident, and selects that list
each incident's actions ("Acknowledge #52", "Snooze 1h #52", "Resolve #52").

Discord's limits decide the size: 10 embeds a message and 6,000 characters across
them; 25 options a select and 5 rows of components. A storm message shows at most
``MAX_GROUP`` (10) incidents and each embed is cut to ``EMBED_BUDGET`` (600)
characters, so a full group always fits; the planner posts an 11th incident as a new
message. An incident's options never straddle two selects.

Each option's value is the core's button id (``tocsin:ack:52``), so a choice runs the
same command as the button on a card of one (commands.actions); each select's id,
``tocsin:menu:<first incident>``, is matched by ``GroupMenu`` on any message, so the
menus keep working after a restart."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import discord

from bot.adapters.discord.items import MENU_TEMPLATE, group_menu_id, handler_of
from bot.adapters.discord.rendering import (
    MAX_EMBEDS,
    clip,
    discord_text,
    titled_embed,
)
from commands.actions import Button, card_buttons
from monitors.incidents.cards import RESOLVED_COLOR, IncidentCard
from monitors.mentions import plain
from storage.vocabulary import IncidentStatus

MAX_EMBED_TOTAL = 6000
MAX_OPTIONS = 25
MAX_ROWS = 5
MAX_OPTION_LABEL = 100
MAX_GROUP = MAX_EMBEDS
EMBED_BUDGET = MAX_EMBED_TOTAL // MAX_GROUP
"""Characters (as Discord counts them) one incident's embed may take in a storm."""
MAX_GROUP_TITLE = 200
MAX_GROUP_VALUE = 250
LEFT_OUT = frozenset({"Metric", "Opened"})
"""Fields a storm's compact embeds leave to ``/alerts show`` (the description says since
when)."""
MENU_SNOOZES = ("1h", "4h")
"""The snoozes a storm's menus offer per incident (a card of one offers them all)."""


def heading(cards: Sequence[IncidentCard]) -> str:
    firing = sum(card.color != RESOLVED_COLOR for card in cards)
    return f"**{len(cards)} incidents opened together** ({firing} still firing)"


def thread_title(cards: Sequence[IncidentCard]) -> str:
    return clip("Incidents " + ", ".join(f"#{card.incident_id}" for card in cards), 100)


def group_embed(card: IncidentCard, budget: int = EMBED_BUDGET) -> discord.Embed:
    """One incident in a storm: title, since when, and its fields in order as far as
    ``budget`` characters go (each value cut short rather than left out)."""
    embed = titled_embed(card, MAX_GROUP_TITLE)
    if card.since is not None and card.status != IncidentStatus.RESOLVED:
        embed.description = f"Firing since <t:{int(card.since)}:R>"
    for name, value in card.fields:
        room = budget - len(embed) - len(name)
        if name in LEFT_OUT or room < 10:
            continue
        text = clip(discord_text(value), min(room, MAX_GROUP_VALUE)) or "-"
        embed.add_field(name=name, value=text, inline=True)
    return embed


def group_embeds(cards: Sequence[IncidentCard]) -> list[discord.Embed]:
    return [group_embed(card) for card in cards[:MAX_GROUP]]


def _options(card: IncidentCard) -> list[discord.SelectOption]:
    buttons: list[Button] = [
        b
        for b in card_buttons(card.incident_id, card.actions)
        if b.duration is None or b.duration in MENU_SNOOZES
    ]
    return [
        discord.SelectOption(
            label=clip(f"{b.label} #{card.incident_id}", MAX_OPTION_LABEL),
            value=b.custom_id,
            description=clip(plain(card.title), MAX_OPTION_LABEL),
        )
        for b in buttons
    ]


def group_view(cards: Sequence[IncidentCard]) -> discord.ui.View | None:
    """Selects of the incidents' actions, an incident's options all in one select; None
    when nothing is left to do (every incident resolved)."""
    menus: list[tuple[list[int], list[discord.SelectOption]]] = []
    for card in cards[:MAX_GROUP]:
        options = _options(card)
        if not options:
            continue
        if not menus or len(menus[-1][1]) + len(options) > MAX_OPTIONS:
            menus.append(([], []))
        menus[-1][0].append(card.incident_id)
        menus[-1][1].extend(options)
    view = discord.ui.View(timeout=None)
    for row, (ids, options) in enumerate(menus[:MAX_ROWS]):
        placeholder = clip("Act on " + ", ".join(f"#{i}" for i in ids) + "…", 150)
        view.add_item(GroupMenu(group_menu_id(ids[0]), options, placeholder, row))
    return view if view.children else None


class GroupMenu(discord.ui.DynamicItem[discord.ui.Select[Any]], template=MENU_TEMPLATE):
    """A storm message's menu: each option is one incident's action, its value a button id."""

    def __init__(
        self,
        custom_id: str,
        options: list[discord.SelectOption],
        placeholder: str | None = None,
        row: int = 0,
    ) -> None:
        super().__init__(
            discord.ui.Select(custom_id=custom_id, placeholder=placeholder, options=options),
            row=row,
        )

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Select[Any],
        match: re.Match[str],
    ) -> GroupMenu:
        return cls(match.string, list(item.options), item.placeholder)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await handler_of(interaction).click(interaction, self.custom_id, self.item.values)
