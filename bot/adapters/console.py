"""The console chat: incidents appear in the terminal as coloured panels, updates as
thread lines, and the person at the keyboard types the same slash commands as in chat.

Like Hubot's shell adapter: with no chat tokens this is how Tocsin is tried on a laptop.
When stdin is not a terminal it only prints, and the service keeps running."""

from __future__ import annotations

import asyncio
import getpass
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.adapters.base import Delivery
from commands.actions import card_buttons
from commands.model import Reply
from monitors.actors import ADMIN, Actor, person_name
from monitors.incidents.cards import IncidentCard
from monitors.incidents.machine import Action
from monitors.mentions import plain
from monitors.routing import Platform

log = logging.getLogger(__name__)

Handler = Callable[[str, Actor], Awaitable[Reply]]
QUIT_WORDS = {"quit", "exit", "/quit", "/exit"}
CONSOLE_SNOOZE = "1h"
"""The snooze a console card suggests; ``/alerts snooze ID`` takes any duration."""


def card_panel(card: IncidentCard) -> Panel:
    body = Table.grid(padding=(0, 2))
    body.add_column(style="bold")
    body.add_column()
    for name, value in card.fields:
        body.add_row(Text(name), Text(plain(value)))
    if card.runbook:
        body.add_row("Runbook", Text(card.runbook))
    parts: list[Text | Table] = [body]
    hints = [
        button.typed
        for button in card_buttons(card.incident_id, card.actions)
        if button.action is not Action.SNOOZE or button.duration == CONSOLE_SNOOZE
    ]
    if hints:
        parts.append(Text("  ".join(f"[{hint}]" for hint in hints), style="dim"))
    if card.footer:
        parts.append(Text(card.footer, style="italic"))
    return Panel(Group(*parts), title=Text(card.title), border_style=card.color, title_align="left")


def reply_renderable(reply: Reply) -> Group:
    parts: list[Text | Table | Panel] = []
    if reply.text:
        parts.append(Text(plain(reply.text), style=None if reply.ok else "bold red"))
    if reply.table:
        table = Table(*reply.table[0], show_edge=False, header_style="bold")
        for row in reply.table[1:]:
            table.add_row(*(Text(plain(cell)) for cell in row))
        parts.append(table)
    if reply.choices:  # no buttons here: the commands they stand for
        hints = "  ".join(f"[{choice.label}: {choice.typed}]" for choice in reply.choices)
        parts.append(Text(hints, style="dim"))
    parts.extend(card_panel(card) for card in reply.cards)
    return Group(*parts)


class ConsoleAdapter:
    """Delivers the console target to the terminal, and reads commands from it."""

    platform = Platform.CONSOLE.value
    max_group = 1

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)

    async def deliver(self, delivery: Delivery) -> str:
        card, line = delivery.card, plain(delivery.line)
        if delivery.message_ref is None or delivery.notify:
            self.console.print(Text(line, style=f"bold {card.color}"))
            self.console.print(card_panel(card))
        else:
            self.console.print(
                Text(f"  ↳ #{card.incident_id} [{card.status}] {line}", style=card.color)
            )
        return delivery.message_ref or f"console:{card.incident_id}"

    def show(self, reply: Reply) -> None:
        self.console.print(reply_renderable(reply))


def console_actor(admin: bool, config_path: Path | None = None) -> Actor:
    """The person at the keyboard; an admin when the config file says ``console_admin:
    true`` (the default), and told so when an admin-only command is refused."""
    user = person_name(getpass.getuser(), "console")
    where = str(config_path) if config_path else "the config file"
    return Actor(
        id=user,
        name=user,
        surface="console",
        roles=frozenset({ADMIN}) if admin else frozenset(),
        admin_hint=f"To be an admin at this console, set console_admin: true in {where} "
        "and restart Tocsin.",
    )


async def read_commands(
    adapter: ConsoleAdapter, handle: Handler, actor: Actor, stop: asyncio.Event
) -> None:
    """Prompt for commands until EOF or ``quit``, then ask the service to stop."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.patch_stdout import patch_stdout

    session: PromptSession[str] = PromptSession()
    adapter.console.print(Text("Type /help for commands, quit to stop.", style="dim"))
    with patch_stdout(raw=True):
        while not stop.is_set():
            try:
                line = (await session.prompt_async("tocsin> ")).strip()
            except (EOFError, KeyboardInterrupt):
                break
            if not line:
                continue
            if line.lower() in QUIT_WORDS:
                break
            try:
                adapter.show(await handle(line, actor))
            except Exception:  # one bad command must not end the console
                log.exception("command failed: %s", line)
                adapter.show(Reply("Something went wrong handling that; see the log.", ok=False))
    stop.set()
