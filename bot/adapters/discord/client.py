"""discord.py's client, set up for Tocsin: the slash commands, the card's persistent
items, and a listener that answers whatever else arrives."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import discord
from discord import app_commands

from bot.adapters.discord.delivery import MAX_RATELIMIT_WAIT
from bot.adapters.discord.interactions import TROUBLE, Interactions
from bot.adapters.discord.items import CardButton, ChoiceButton, SnoozeMenu
from bot.adapters.discord.slash import command_tree_entries
from bot.adapters.discord.storm import GroupMenu
from commands.model import Reply

log = logging.getLogger(__name__)

GUILD_READY_WAIT = 0.5
"""How long discord.py waits for more guilds after the last one before it is ready
(default 2 s); a bot in a few guilds gets them all right after READY."""


def intents() -> discord.Intents:
    """Guilds only (not privileged): the guilds' roles, to tell admins, and channels,
    to start threads. Interactions need no intent; message content is never read."""
    chosen = discord.Intents.none()
    chosen.guilds = True
    return chosen


class CommandTree(app_commands.CommandTree[Any]):
    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """A command that failed outside our handlers (an option Discord sent that
        discord.py could not convert, a command that is no longer ours) is still
        answered, and logged."""
        log.error("Discord command failed: %s", error, exc_info=error)
        if interaction.response.is_done():
            return
        if isinstance(error, app_commands.CommandNotFound):
            text = "That command is not one of Tocsin's any more; /help lists them."
        else:
            text = TROUBLE
        client = interaction.client
        assert isinstance(client, TocsinClient)
        await client.tocsin.answer(interaction, Reply(text, ok=False, private=True))


class TocsinClient(discord.Client):
    def __init__(self, interactions: Interactions) -> None:
        super().__init__(
            intents=intents(),
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
            guild_ready_timeout=GUILD_READY_WAIT,
        )
        self.tocsin = interactions
        self.tree = CommandTree(self)
        for entry in command_tree_entries(interactions):
            self.tree.add_command(entry)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(CardButton, SnoozeMenu, GroupMenu, ChoiceButton)

    async def on_ready(self) -> None:
        log.info(
            "connected to the Discord gateway as %s, in %d guilds", self.user, len(self.guilds)
        )

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        await self.tocsin.on_interaction(interaction)

    async def sync_commands(self, guild_ids: Sequence[str]) -> None:
        """Register the slash commands with Discord: in each configured guild (at once),
        or globally when there is none (Discord may take a while to show them).

        With guilds, the global set is emptied: commands a run without ``guild_ids``
        synced globally would otherwise show twice in those guilds, once per scope."""
        if not guild_ids:
            synced = await self.tree.sync()
            log.info("synced %d Discord commands globally", len(synced))
            return
        for guild_id in guild_ids:
            guild = discord.Object(int(guild_id))
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d Discord commands to guild %s", len(synced), guild_id)
        self.tree.clear_commands(guild=None)
        await self.tree.sync()
