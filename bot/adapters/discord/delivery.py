"""Incident messages in a Discord channel: post the card once, then edit it in place and
add each update as a line in a thread started on it.

The message reference kept in the database is ``channel:message`` and, once the thread
exists, ``channel:message:thread``, so edits find the message after a restart.

Nothing is posted twice: every post carries a nonce derived from its outbox row with
``enforce_nonce`` (discord.py sends it with every nonce), so when an answer is lost and
the row is retried, by discord.py after a 5xx or by the outbox after a crash, Discord
returns the message it already created. A thread already started on the message is
found (a thread started on a message has the message's id), and an edit is idempotent.

Rate limits: discord.py waits out a 429 itself (its per-route buckets, ``Retry-After``)
for up to ``MAX_RATELIMIT_WAIT`` seconds per try; a longer wait, or a 429 that persists
after its retries, fails the delivery with ``retry_after`` so the outbox row is retried
at that time, durably, instead of holding the dispatcher."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import discord

from bot.adapters.base import CHART_FILENAME, ChartAttachment, Delivery, DeliveryError
from bot.adapters.discord.items import card_view
from bot.adapters.discord.rendering import (
    MAX_CONTENT,
    allowed_mentions,
    card_embed,
    clip,
    discord_text,
    role_mentions,
    thread_name,
)
from bot.adapters.discord.storm import group_embeds, group_view, heading, thread_title
from monitors.admin_notices import TITLE as NOTICE_TITLE
from monitors.routing import split_target
from monitors.subscriptions.model import PersonalPlatform
from storage.vocabulary import EventKind

log = logging.getLogger(__name__)

MAX_RATELIMIT_WAIT = 30.0
"""discord.py's smallest allowed ``max_ratelimit_timeout``."""
NOT_CONNECTED_RETRY = 5.0
THREAD_ARCHIVE_MINUTES = 1440
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
THREAD_ALREADY_STARTED = 160004
PERMISSIONS = (
    "View Channel, Send Messages, Embed Links, Attach Files, Create Public Threads, "
    "Send Messages in Threads and Read Message History"
)


@dataclass(frozen=True)
class MessageRef:
    channel_id: int
    message_id: int
    thread_id: int | None = None

    def __str__(self) -> str:
        parts = [self.channel_id, self.message_id] + ([self.thread_id] if self.thread_id else [])
        return ":".join(map(str, parts))

    @classmethod
    def parse(cls, text: str) -> MessageRef:
        parts = text.split(":")
        if len(parts) not in (2, 3) or not all(part.isdigit() for part in parts):
            raise DeliveryError(f"{text!r} is not a Discord message reference", permanent=True)
        numbers = [int(part) for part in parts]
        return cls(numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else None)


def nonce(delivery: Delivery, step: str) -> str:
    """The same for every attempt of one outbox row's ``step`` (post, line); 24
    characters (Discord takes up to 25)."""
    key = "|".join(
        map(
            str,
            (delivery.target, delivery.row_id, delivery.card.incident_id, delivery.event, step),
        )
    )
    return hashlib.blake2b(f"{key}|{delivery.line}".encode(), digest_size=12).hexdigest()


def _retry_after(exc: discord.HTTPException) -> float | None:
    header = exc.response.headers.get("Retry-After") if exc.response is not None else None
    try:
        return float(header) if header is not None else None
    except ValueError:
        return None


def delivery_error(exc: Exception, place: str) -> DeliveryError:
    """A Discord failure as the outbox understands it: when to retry, or that retrying
    cannot help, with the reason in words."""
    if isinstance(exc, discord.RateLimited):
        return DeliveryError(
            f"Discord asks to wait {exc.retry_after:.0f} s (rate limit)",
            retry_after=exc.retry_after,
        )
    if not isinstance(exc, discord.HTTPException):
        return DeliveryError(f"Discord is not reachable: {type(exc).__name__}: {exc}")
    said = f"Discord answered {exc.status}: {exc.text or 'no reason given'} (code {exc.code})"
    if exc.status == 429:
        return DeliveryError(said, retry_after=_retry_after(exc))
    if exc.status == 401:
        return DeliveryError(f"{said}; DISCORD_TOKEN is not a valid bot token", permanent=True)
    if exc.status == 403:
        return DeliveryError(
            f"{said}; the bot may not post in channel {place}: give it {PERMISSIONS} there",
            permanent=True,
        )
    if exc.status == 404 and exc.code == UNKNOWN_CHANNEL:
        return DeliveryError(
            f"{said}; there is no channel {place} the bot can see: check discord.channel_id "
            "and the destinations in the config",
            permanent=True,
        )
    if 400 <= exc.status < 500:
        return DeliveryError(said, permanent=True)
    return DeliveryError(said)  # 5xx after discord.py's own retries: back off and retry


class DiscordDelivery:
    """Posts and edits incident messages through a logged-in discord.py client."""

    def __init__(self, client: discord.Client, admin_role_ids: Sequence[str] = ()) -> None:
        self.client = client
        self.admin_role_ids = tuple(admin_role_ids)

    def link(self, ref: str) -> str | None:
        """The message's address; its guild comes from the gateway's channel cache."""
        try:
            message = MessageRef.parse(ref)
        except DeliveryError:
            return None
        channel = self.client.get_channel(message.channel_id)
        guild = getattr(channel, "guild", None)
        if guild is None:
            return None
        return f"https://discord.com/channels/{guild.id}/{message.channel_id}/{message.message_id}"

    async def deliver(self, delivery: Delivery) -> str:
        if self.client.user is None or self.client.is_closed():
            raise DeliveryError("not logged in to Discord yet", retry_after=NOT_CONNECTED_RETRY)
        try:
            return str(await self._deliver(delivery))
        except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise delivery_error(exc, delivery.place) from exc

    async def attach_chart(self, chart: ChartAttachment) -> None:
        """Edit the message to carry the chart as its one attachment, shown as the
        embed's image: an edit that says the same again, so a retry attaches nothing
        twice. Later edits leave the attachment alone and keep pointing the image at it
        (``Delivery.chart``)."""
        if self.client.user is None or self.client.is_closed():
            raise DeliveryError("not logged in to Discord yet", retry_after=NOT_CONNECTED_RETRY)
        ref = MessageRef.parse(chart.message_ref)
        message = self._channel(ref.channel_id).get_partial_message(ref.message_id)
        try:
            await message.edit(
                embed=card_embed(chart.card, chart=True),
                view=card_view(chart.card),
                attachments=[discord.File(io.BytesIO(chart.png), filename=CHART_FILENAME)],
                allowed_mentions=allowed_mentions(False),
            )
        except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise delivery_error(exc, str(ref.channel_id)) from exc

    async def _deliver(self, delivery: Delivery) -> MessageRef:
        if delivery.event == EventKind.NOTICE:
            return await self._notice(delivery)
        if delivery.message_ref is None:
            return await self._post(delivery)
        ref = MessageRef.parse(delivery.message_ref)
        try:
            await self._edit(ref, delivery)
        except discord.NotFound as exc:
            if exc.code != UNKNOWN_MESSAGE:
                raise
            log.warning("incident message %s was deleted in Discord; posting it again", ref)
            return await self._post(delivery)
        if not delivery.line:
            return ref
        if _direct(delivery):  # no threads in direct messages: a page is a message of its own
            if delivery.notify:
                await self._send_line(self._channel(ref.channel_id), delivery)
            return ref
        return await self._add_line(ref, delivery)

    def _channel(self, place: str | int) -> discord.PartialMessageable:
        if not str(place).isdigit():
            raise DeliveryError(f"{place!r} is not a Discord channel id", permanent=True)
        return self.client.get_partial_messageable(int(place))

    async def _post(self, delivery: Delivery) -> MessageRef:
        line = clip(discord_text(delivery.line), MAX_CONTENT) or None
        channel = await self._direct_channel(delivery) if _direct(delivery) else delivery.place
        message = await self._channel(channel).send(
            **_shown(delivery, content=line),
            nonce=nonce(delivery, "post"),
            allowed_mentions=allowed_mentions(delivery.notify),
            silent=not delivery.notify,
        )
        return MessageRef(message.channel.id, message.id)

    async def _notice(self, delivery: Delivery) -> MessageRef:
        """A notice for admins, in the channel, mentioning the admin roles (and pinging
        no one else); its nonce keeps a retry from posting it twice."""
        mentions, allowed = role_mentions(self.admin_role_ids)
        text = f"{mentions} **{NOTICE_TITLE}:** {discord_text(delivery.line)}".strip()
        message = await self._channel(delivery.place).send(
            content=clip(text, MAX_CONTENT),
            nonce=nonce(delivery, "notice"),
            allowed_mentions=allowed,
        )
        return MessageRef(message.channel.id, message.id)

    async def _edit(self, ref: MessageRef, delivery: Delivery) -> None:
        """The message as it stands now; a card of one keeps the line it was posted
        with, a storm's heading is redrawn."""
        message = self._channel(ref.channel_id).get_partial_message(ref.message_id)
        shown = _shown(delivery)
        if delivery.group:  # a storm shows no one incident's chart
            shown["attachments"] = []
        await message.edit(**shown, allowed_mentions=allowed_mentions(False))

    async def _add_line(self, ref: MessageRef, delivery: Delivery) -> MessageRef:
        if ref.thread_id is None:
            ref = replace(ref, thread_id=await self._start_thread(ref, delivery))
        assert ref.thread_id is not None
        await self._send_line(self._channel(ref.thread_id), delivery)
        return ref

    async def _send_line(self, channel: discord.PartialMessageable, delivery: Delivery) -> None:
        await channel.send(
            content=clip(discord_text(delivery.line), MAX_CONTENT),
            nonce=nonce(delivery, "line"),
            allowed_mentions=allowed_mentions(delivery.notify),
            silent=not delivery.notify,
        )

    async def _direct_channel(self, delivery: Delivery) -> int:
        """The direct message channel with the person of a ``discord-dm:USER`` target
        (``/notify me``); Discord returns the same one every time."""
        if not delivery.place.isdigit():
            raise DeliveryError(f"{delivery.place!r} is not a Discord user id", permanent=True)
        data = await self.client.http.start_private_message(int(delivery.place))
        return int(data["id"])

    async def _start_thread(self, ref: MessageRef, delivery: Delivery) -> int:
        channel = self.client.get_channel(ref.channel_id) or await self.client.fetch_channel(
            ref.channel_id
        )
        if not isinstance(channel, discord.TextChannel):
            raise DeliveryError(
                f"channel {ref.channel_id} cannot hold threads; use a text channel",
                permanent=True,
            )
        try:
            name = thread_title(delivery.group) if delivery.group else thread_name(delivery.card)
            thread = await channel.create_thread(
                name=name,
                message=discord.Object(ref.message_id),
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
        except discord.HTTPException as exc:
            if exc.code == THREAD_ALREADY_STARTED:  # a retry: our earlier try started it
                return ref.message_id
            raise
        return thread.id


def _direct(delivery: Delivery) -> bool:
    return split_target(delivery.target)[0] == PersonalPlatform.DISCORD_DM


def _shown(delivery: Delivery, content: str | None = None) -> dict[str, Any]:
    """What the message shows: the incident's card with its buttons, or, for a storm
    (``delivery.group``), a heading, an embed per incident and their menus. ``content``
    is the text of a card of one (its line, when posted; kept as is when edited)."""
    if delivery.group:
        cards = delivery.group
        return {"content": heading(cards), "embeds": group_embeds(cards), "view": group_view(cards)}
    embed = card_embed(delivery.card, chart=delivery.chart)
    shown: dict[str, Any] = {"embed": embed, "view": card_view(delivery.card)}
    if content is not None:
        shown["content"] = content
    return shown
