"""The Discord platform (discord.py): incident messages with persistent buttons, slash
commands with autocomplete, and the rule editor as a modal, over the platform-neutral
core. Nothing outside this package imports discord."""

from bot.adapters.discord.platform import DiscordPlatform

__all__ = ["DiscordPlatform"]
