"""The running service: the core, the scheduler, the outbox dispatcher, the HTTP server
and the chat platforms, started together and stopped in order.

Stopping (SIGTERM, SIGINT, or ``quit`` at the console) first lets the current tick
finish, then delivers what it queued, then disconnects the chat platforms and closes the
server and the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from bot.adapters.base import ChartAttacher, ChatAdapter
from bot.adapters.console import ConsoleAdapter, console_actor, read_commands
from bot.adapters.platform import ChatPlatform
from bot.delivery.charts import ChartStep
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.test_send import AdapterTestSender
from bot.http.app import build_app
from bot.http.server import start_server, stop_server
from bot.metrics import Metrics
from bot.settings import Settings
from commands.dispatch import handle
from commands.model import Reply
from monitors.actors import Actor
from monitors.charts import Charts
from monitors.core import Core
from monitors.scheduler import Scheduler
from monitors.sources.env import Environment
from monitors.wording import counted

log = logging.getLogger(__name__)
FINAL_DELIVERY_SECONDS = 5.0


def chat_platforms(settings: Settings, core: Core) -> list[ChatPlatform]:
    """The chat platforms whose tokens are set. Imported here only when configured, so
    a console-only run never loads a chat library."""
    platforms: list[ChatPlatform] = []
    if settings.slack_enabled:
        from bot.adapters.slack import SlackPlatform

        platforms.append(SlackPlatform.from_settings(settings, core))
    if settings.discord_enabled:
        from bot.adapters.discord import DiscordPlatform

        platforms.append(DiscordPlatform.from_settings(settings, core))
    return platforms


def destination_adapters(settings: Settings, core: Core) -> list[ChatAdapter]:
    """Webhooks always (destinations may be created through the API); email when an
    SMTP server is configured. Both read their destination at each delivery."""
    from bot.adapters.email import EmailAdapter
    from bot.adapters.webhook import WebhookAdapter

    lookup = core.destinations.configured
    adapters: list[ChatAdapter] = [
        WebhookAdapter(lookup, settings.address_policy(), clock=core.clock)
    ]
    if settings.email is not None:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        adapters.append(
            EmailAdapter(settings.email, lookup, settings.smtp_username, password, core.clock)
        )
    return adapters


@dataclass
class Service:
    settings: Settings
    core: Core
    console: ConsoleAdapter
    platforms: list[ChatPlatform]
    dispatcher: Dispatcher
    scheduler: Scheduler
    metrics: Metrics
    interactive: bool = False
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    runner: web.AppRunner | None = None
    port: int | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def create(
        cls,
        settings: Settings,
        interactive: bool = False,
        console: ConsoleAdapter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Service:
        routing = settings.routing(console=interactive)
        core = await Core.open(
            settings.database_url,
            settings.rules,
            routing,
            clock,
            environment=Environment(settings.environment),
            event_types=settings.event_types,
            behind_after=settings.behind_after,
            destination_options=settings.destination_options(),
            deploy_window=settings.deploy_window,
            retention=settings.retention,
        )
        for problem in (*core.rulebook.load_errors, *core.destinations.load_errors):
            log.warning(problem)
        for notice in core.admin_notices:
            log.warning(notice)
        metrics = Metrics(core)
        core.engine.on_tick = metrics.observe_tick
        console = console or ConsoleAdapter()
        platforms = chat_platforms(settings, core)
        adapters: list[ChatAdapter] = [console, *platforms, *destination_adapters(settings, core)]
        charts = (
            ChartStep(core.db, Charts(core.history, settings.chart_window))
            if settings.charts and any(isinstance(a, ChartAttacher) for a in adapters)
            else None  # no worker process for a console or email-only Tocsin
        )
        dispatcher = Dispatcher(
            core.db, adapters, core.clock, health=core.delivery_health, charts=charts
        )
        metrics.dispatcher = dispatcher
        core.destinations.sender = AdapterTestSender(adapters, core.clock)
        core.announcer.on_queued(dispatcher.wake)  # whichever surface made the change
        scheduler = core.scheduler(
            settings.timer_interval, settings.evaluate_on_push, settings.noise_report
        )
        return cls(settings, core, console, platforms, dispatcher, scheduler, metrics, interactive)

    async def handle(self, text: str, actor: Actor) -> Reply:
        """Run one command typed at the console."""
        return await handle(self.core, text, actor)

    async def start(self) -> None:
        s = self.settings
        app = build_app(self.core, api_token=s.api_token, metrics=self.metrics)
        for platform in self.platforms:
            platform.add_routes(app)
        self.runner, self.port = await start_server(app, s.http_host, s.http_port, s.api_token)
        for platform in self.platforms:
            await platform.start()
        self.scheduler.start()
        self._spawn(self.dispatcher.run())
        await self.core.tell_admins(s.admin_targets())
        if self.interactive:
            actor = console_actor(s.console_admin, s.config_path)
            self._spawn(read_commands(self.console, self.handle, actor, self.stop_event))
        chat = ", ".join(p.platform for p in self.platforms) or "console only"
        log.info(
            "Tocsin is up: %s, HTTP on http://%s:%s, database %s, chat: %s",
            counted(len(self.core.rulebook.all()), "rule"),
            s.http_host,
            self.port,
            self.core.db.url.split("@")[-1],
            chat,
        )
        for notice in self.core.admin_notices:  # the console user is the admin here
            self.console.show(Reply(notice))

    def _spawn(self, work: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(work))

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self.stop_event.set)

    async def stop(self) -> None:
        log.info("stopping: finishing the current tick")
        await self.scheduler.stop()
        self.dispatcher.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):  # deliver what the last tick queued
            await asyncio.wait_for(self.dispatcher.run_once(), FINAL_DELIVERY_SECONDS)
        for platform in self.platforms:
            try:
                await platform.stop()
            except Exception:  # one platform failing to close must not keep the rest open
                log.exception("closing %s failed", platform.platform)
        if self.runner is not None:
            await stop_server(self.runner)
        await self.core.close()
        if self.dispatcher.charts is not None:
            self.dispatcher.charts.close()
        log.info("stopped cleanly")


async def serve(
    settings: Settings,
    interactive: bool | None = None,
    before_wait: Callable[[Service], Awaitable[None]] | None = None,
) -> int:
    """Run until stopped; ``before_wait`` lets ``demo`` drive the running service."""
    if interactive is None:
        interactive = sys.stdin.isatty()
    service = await Service.create(settings, interactive)
    service.install_signal_handlers()
    try:
        await service.start()
        if before_wait is not None:
            service._spawn(before_wait(service))
        await service.stop_event.wait()
    finally:
        await service.stop()
    return 0
