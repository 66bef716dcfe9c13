"""Neutral cards and replies as Discord shows them: an embed coloured by severity,
people as ``<@id>`` mentions, tables in a code block, and mentions that never ping
@everyone or a role."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord
from discord.utils import escape_markdown

from bot.adapters.base import CHART_FILENAME
from commands.model import Reply
from monitors.incidents.cards import IncidentCard
from monitors.mentions import plain, render
from monitors.routing import Platform
from storage.vocabulary import IncidentStatus

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_TITLE = 256
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_THREAD_NAME = 100
INLINE_UP_TO = 40
"""Field values this short sit side by side; longer ones take the embed's width."""
CODE_FENCE = "```"
MAX_URL = 512


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def web_link(url: str) -> str | None:
    """``url`` if Discord takes it as a link (a title link, a link button); a runbook
    written as plain text stays a field, rather than failing the whole message."""
    return url if url.startswith(("https://", "http://")) and len(url) <= MAX_URL else None


def discord_text(text: str) -> str:
    """Stored text for Discord: Discord people as mentions, others by name, and the
    rest with markdown escaped, so a rule named ``slow_api_v2`` reads as written."""
    return render(text, Platform.DISCORD.value, lambda user_id: f"<@{user_id}>", escape_markdown)


def allowed_mentions(ping_people: bool) -> discord.AllowedMentions:
    """Never @everyone or roles (a note cannot page a whole server); people named in
    a line are pinged only when the update is one that notifies."""
    return discord.AllowedMentions(
        everyone=False, roles=False, users=ping_people, replied_user=False
    )


def role_mentions(role_ids: Sequence[str]) -> tuple[str, discord.AllowedMentions]:
    """``<@&id>`` for each role, and mentions that ping those roles and nobody else."""
    text = " ".join(f"<@&{role_id}>" for role_id in role_ids)
    roles = [discord.Object(int(role_id)) for role_id in role_ids]
    allowed = discord.AllowedMentions(everyone=False, users=False, roles=roles, replied_user=False)
    return text, allowed


def titled_embed(card: IncidentCard, title_limit: int = MAX_TITLE) -> discord.Embed:
    """The card's title (a link to its runbook) in its colour: what every embed of an
    incident starts with."""
    return discord.Embed(
        title=clip(card.title, title_limit),
        colour=discord.Colour(int(card.color.lstrip("#"), 16)),
        url=web_link(card.runbook),
    )


def card_embed(card: IncidentCard, chart: bool = False) -> discord.Embed:
    """The card as an embed; ``chart``: its image is the message's chart attachment."""
    embed = titled_embed(card)
    if chart:
        embed.set_image(url=f"attachment://{CHART_FILENAME}")
    if card.since is not None and card.status != IncidentStatus.RESOLVED:
        embed.description = f"Firing since <t:{int(card.since)}:f> (<t:{int(card.since)}:R>)"
    for name, value in card.fields:
        text = clip(discord_text(value), MAX_FIELD_VALUE) or "-"
        embed.add_field(
            name=clip(name, MAX_FIELD_NAME), value=text, inline=len(text) <= INLINE_UP_TO
        )
    if card.runbook:
        embed.add_field(name="Runbook", value=clip(card.runbook, MAX_FIELD_VALUE), inline=False)
    if card.footer:
        embed.set_footer(text=clip(card.footer, MAX_FOOTER))
    return embed


def thread_name(card: IncidentCard) -> str:
    return clip(plain(card.title), MAX_THREAD_NAME)


def table_block(rows: tuple[tuple[str, ...], ...], room: int) -> str:
    """A table as aligned columns in a code block of at most ``room`` characters; rows
    that do not fit are counted on a last line."""
    if not rows:
        return ""
    cells = [[plain(cell).replace(CODE_FENCE, "'''") for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip()
        for row in cells
    ]
    kept: list[str] = []
    for index, line in enumerate(lines):
        more = len(lines) - index
        budget = room - len(CODE_FENCE) * 2 - 2 - len(f"\n… {more} more")
        if sum(len(k) + 1 for k in kept) + len(line) > budget:
            kept.append(f"… {more} more")
            break
        kept.append(line)
    return CODE_FENCE + "\n" + "\n".join(kept) + "\n" + CODE_FENCE


def reply_message(reply: Reply) -> dict[str, Any]:
    """``content`` and ``embeds`` for an interaction answer."""
    content = clip(discord_text(reply.text), MAX_CONTENT)
    if reply.table:
        room = MAX_CONTENT - len(content) - 1
        content = f"{content}\n{table_block(reply.table, room)}".strip()
    embeds = [card_embed(card) for card in reply.cards[:MAX_EMBEDS]]
    return {"content": content or None, "embeds": embeds}
