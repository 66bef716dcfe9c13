"""What the service expects of a chat platform beside delivering: its HTTP routes (Slack
posts its requests to us), and a connection to open and close (Discord's gateway)."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from bot.adapters.base import ChatAdapter


class ChatPlatform(ChatAdapter, Protocol):
    def add_routes(self, app: web.Application) -> None:
        """Add the platform's request endpoints to the service's HTTP server."""
        ...

    async def start(self) -> None:
        """Connect; called once the HTTP server listens."""
        ...

    async def stop(self) -> None:
        """Disconnect; called after the last delivery."""
        ...
