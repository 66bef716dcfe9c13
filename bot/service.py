"""The running service: the core, the scheduler, the outbox dispatcher, the HTTP server
and the chat adapters, started together and stopped in order.

Stopping (SIGTERM, SIGINT, or ``quit`` at the console) first lets the current tick
finish, then delivers what it queued, then closes the server and the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.adapters.base import ChatAdapter
from bot.adapters.console import ConsoleAdapter, console_actor, read_commands
from bot.delivery.dispatcher import Dispatcher
from bot.http.app import build_app
from bot.http.server import start_server, stop_server
from bot.metrics import Metrics
from bot.settings import Settings
from commands.dispatch import handle
from commands.model import Reply
from monitors.actors import Actor
from monitors.core import Core
from monitors.scheduler import Scheduler
from monitors.wording import counted

log = logging.getLogger(__name__)
FINAL_DELIVERY_SECONDS = 5.0


@dataclass
class Service:
    settings: Settings
    core: Core
    console: ConsoleAdapter
    adapters: list[ChatAdapter]
    dispatcher: Dispatcher
    scheduler: Scheduler
    metrics: Metrics
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    runner: object | None = None
    port: int | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def create(cls, settings: Settings, console: ConsoleAdapter | None = None) -> Service:
        core = await Core.open(settings.database_url, settings.rules, settings.default_channels)
        for problem in core.rulebook.load_errors:
            log.warning(problem)
        for notice in core.admin_notices:
            log.warning(notice)
        metrics = Metrics(core)
        core.engine.on_tick = metrics.observe_tick
        console = console or ConsoleAdapter()
        adapters: list[ChatAdapter] = [console]
        dispatcher = Dispatcher(core.db, adapters, core.clock)
        scheduler = core.scheduler(settings.timer_interval)
        return cls(settings, core, console, adapters, dispatcher, scheduler, metrics)

    async def handle(self, text: str, actor: Actor) -> Reply:
        """Run one command, then deliver what it queued without waiting for the poll."""
        reply = await handle(self.core, text, actor)
        self.dispatcher.wake()
        return reply

    async def start(self, interactive: bool) -> None:
        s = self.settings
        app = build_app(self.core, api_token=s.api_token, metrics=self.metrics)
        self.runner, self.port = await start_server(app, s.http_host, s.http_port, s.api_token)
        self.scheduler.start()
        self._spawn(self.dispatcher.run())
        if interactive:
            actor = console_actor(s.console_admin, s.config_path)
            self._spawn(read_commands(self.console, self.handle, actor, self.stop_event))
        log.info(
            "Tocsin is up: %s, HTTP on http://%s:%s, database %s",
            counted(len(self.core.rulebook.all()), "rule"),
            s.http_host,
            self.port,
            self.core.db.url.split("@")[-1],
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
        if self.runner is not None:
            await stop_server(self.runner)
        await self.core.close()
        log.info("stopped cleanly")


async def serve(
    settings: Settings,
    interactive: bool | None = None,
    before_wait: Callable[[Service], Awaitable[None]] | None = None,
) -> int:
    """Run until stopped; ``before_wait`` lets ``demo`` drive the running service."""
    if interactive is None:
        interactive = sys.stdin.isatty()
    service = await Service.create(settings)
    service.install_signal_handlers()
    try:
        await service.start(interactive)
        if before_wait is not None:
            service._spawn(before_wait(service))
        await service.stop_event.wait()
    finally:
        await service.stop()
    return 0
