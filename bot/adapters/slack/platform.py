"""The Slack app, assembled: bolt's AsyncApp with Tocsin's listeners, the HTTP endpoint,
Socket Mode, and delivery of incident messages."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.base import ChartAttachment, Delivery
from bot.adapters.slack.delivery import SlackPoster
from bot.adapters.slack.handlers import SlackHandlers
from bot.adapters.slack.people import SlackPeople
from bot.adapters.slack.render import FORM_CALLBACK, MAX_GROUP
from commands.actions import PREFIX
from monitors.core import Core
from monitors.routing import Platform

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.settings import Settings

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
COMMANDS = ("/alerts", "/rule", "/silence", "/notify", "/tocsin")
"""The slash commands Tocsin answers (config/slack-manifest.yaml declares them)."""


def register(app: AsyncApp, handlers: SlackHandlers) -> None:
    """Tocsin's listeners on a bolt app (apart from the handlers, as bolt's starter
    template keeps them, so tests and benchmarks drive the same wiring)."""
    for name in COMMANDS:
        app.command(name)(handlers.command)
    app.action(re.compile(rf"^{PREFIX}:"))(handlers.action)
    app.view(FORM_CALLBACK)(handlers.form_submitted)
    app.error(_log_error)


async def _log_error(error: Exception, body: dict[str, Any]) -> None:
    log.error("Slack request failed (%s): %s", body.get("type") or body.get("command"), error)


class SlackPlatform:
    platform = Platform.SLACK.value
    label = "Slack"
    max_group = MAX_GROUP

    def __init__(
        self,
        core: Core,
        client: AsyncWebClient,
        signing_secret: str,
        people: SlackPeople,
        app_token: str | None = None,
    ) -> None:
        self.client = client
        self.app = AsyncApp(
            client=client,
            signing_secret=signing_secret,
            name="tocsin",
            logger=logging.getLogger("slack_bolt"),
            process_before_response=True,  # see bot.adapters.slack.handlers
        )
        self.handlers = SlackHandlers(core, people, client)
        register(self.app, self.handlers)
        self.poster = SlackPoster(client)
        self.app_token = app_token
        self._socket: AsyncSocketModeHandler | None = None
        self._connecting: asyncio.Future[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, core: Core) -> SlackPlatform:
        assert settings.slack_bot_token and settings.slack_signing_secret
        client = AsyncWebClient(
            token=settings.slack_bot_token,
            base_url=settings.slack_api_url,
            # One connection pool for every call: without it slack_sdk opens a new
            # connection (and TLS handshake) per call.
            session=aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)),
            retry_handlers=[],  # the outbox retries, and looks before posting again: see
            # SlackPoster._already_posted; slack_sdk's own retry would post a second message
        )
        people = SlackPeople(client, settings.slack.admins, settings.slack.admin_groups)
        return cls(core, client, settings.slack_signing_secret, people, settings.slack_app_token)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(EVENTS_PATH, self.events)

    async def events(self, request: web.Request) -> web.Response:
        """One URL for slash commands, interactivity and events; bolt checks the
        signature and answers 401 to a forged or stale request."""
        response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def start(self) -> None:
        if self.app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            self._socket = AsyncSocketModeHandler(self.app, self.app_token)
            # In the background: slack_sdk retries until Slack answers, and the rest of
            # Tocsin (the engine, the API, deliveries) must not wait for that.
            self._connecting = asyncio.ensure_future(self._socket.connect_async())

    async def stop(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        if self._socket is not None:
            await self._socket.close_async()
        await self.handlers.drain()
        if self.client.session is not None:
            await self.client.session.close()

    async def deliver(self, delivery: Delivery) -> str:
        return await self.poster.deliver(delivery)

    async def link(self, ref: str) -> str | None:
        return await self.poster.link(ref)

    async def attach_chart(self, chart: ChartAttachment) -> None:
        await self.poster.attach_chart(chart)
