"""Tocsin on Discord: what the service starts and stops, and the outbox's adapter for
``discord:<channel id>`` targets.

discord.py keeps its REST base and its gateway address in class attributes
(``discord.http.Route.BASE``, ``DiscordWebSocket.DEFAULT_GATEWAY``; a plain ``Client``
does not ask ``GET /gateway/bot``). ``start`` sets both from ``TOCSIN_DISCORD_API_URL``
and ``TOCSIN_DISCORD_GATEWAY_URL`` (Discord's own by default), for API proxies and the
tests' fake Discord; one Discord connection per process, which is how Tocsin runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
import discord
import yarl
from aiohttp import web
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.adapters.base import ChartAttachment, Delivery
from bot.adapters.discord.client import TocsinClient
from bot.adapters.discord.delivery import DiscordDelivery
from bot.adapters.discord.interactions import Interactions
from bot.adapters.discord.storm import MAX_GROUP
from bot.settings import CannotStart, DiscordConfig, Settings
from monitors.core import Core
from monitors.routing import Platform

log = logging.getLogger(__name__)

DISCORD_GATEWAY = "wss://gateway.discord.gg/"
LOGIN_WAIT = 15.0
MAX_RECONNECT_WAIT = 60.0
DISCONNECTS = (
    discord.GatewayNotFound,
    discord.ConnectionClosed,
    discord.HTTPException,
    aiohttp.ClientError,
    OSError,
    TimeoutError,
)


def use_urls(api_url: str, gateway_url: str | None) -> None:
    Route.BASE = api_url.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url or DISCORD_GATEWAY)


class DiscordPlatform:
    platform = Platform.DISCORD.value
    label = "Discord"
    max_group = MAX_GROUP
    """Incidents a storm message shows: as many embeds as Discord allows in a message
    (bot.adapters.discord.storm sizes each to fit)."""

    def __init__(
        self,
        core: Core,
        token: str,
        config: DiscordConfig,
        api_url: str,
        gateway_url: str | None = None,
    ) -> None:
        self.token = token
        self.config = config
        self.api_url = api_url
        self.gateway_url = gateway_url
        self.client = TocsinClient(Interactions(core, tuple(config.admin_role_ids)))
        self.delivery = DiscordDelivery(self.client, config.admin_role_ids)
        self._connection: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, core: Core) -> DiscordPlatform:
        if not settings.discord_token:
            raise CannotStart("DISCORD_TOKEN: not set")
        return cls(
            core,
            settings.discord_token,
            settings.discord,
            settings.discord_api_url,
            settings.discord_gateway_url,
        )

    def add_routes(self, app: web.Application) -> None:
        """None: Discord sends interactions over the gateway, not to our HTTP server."""

    async def deliver(self, delivery: Delivery) -> str:
        return await self.delivery.deliver(delivery)

    async def link(self, ref: str) -> str | None:
        return self.delivery.link(ref)

    async def attach_chart(self, chart: ChartAttachment) -> None:
        await self.delivery.attach_chart(chart)

    async def start(self) -> None:
        """Log in and sync the slash commands (a refused token stops the start-up), then
        connect the gateway in the background: posting needs only REST, and
        interactions are handled whenever they arrive. Discord being unreachable does
        not stop the service: it keeps trying, and the outbox keeps what is to be
        posted until it can."""
        use_urls(self.api_url, self.gateway_url)
        if self.config.channel_id is None:
            log.warning(
                "DISCORD_TOKEN is set but discord.channel_id is not: only rules whose "
                "channels name a Discord destination post to Discord"
            )
        try:
            await asyncio.wait_for(self._log_in(), LOGIN_WAIT)
        except discord.LoginFailure:
            raise CannotStart(
                "DISCORD_TOKEN: Discord refused the token; copy the bot token from the "
                "Discord Developer Portal (Bot > Reset Token)"
            ) from None
        except DISCONNECTS as exc:
            log.warning("cannot reach Discord at %s yet (%s); retrying", self.api_url, exc)
        self._connection = asyncio.create_task(self._stay_connected())

    async def stop(self) -> None:
        await self.client.close()
        if self._connection is not None:
            self._connection.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connection

    async def _log_in(self) -> None:
        await self.client.login(self.token)
        try:
            await self.client.sync_commands(self.config.guild_ids)
        except discord.HTTPException as exc:
            log.error(
                "could not register the slash commands (%s %s); invite the bot with the "
                "bot and applications.commands scopes to the guilds in discord.guild_ids",
                exc.status,
                exc.text,
            )

    async def _stay_connected(self) -> None:
        """Log in if start-up could not, then keep the gateway connected (discord.py
        reconnects by itself; this covers what it gives up on)."""
        failures = 0
        while not self.client.is_closed():
            try:
                if self.client.user is None:
                    await self._log_in()
                await self.client.connect(reconnect=True)
                return
            except discord.LoginFailure:
                log.error("DISCORD_TOKEN was refused by Discord; Discord is off until restart")
                return
            except DISCONNECTS as exc:
                failures += 1
                wait = min(MAX_RECONNECT_WAIT, 2.0**failures)
                log.warning("Discord connection failed (%s); retrying in %.0f s", exc, wait)
                await asyncio.sleep(wait)
