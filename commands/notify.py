"""``/notify test NAME``: send a test message to a destination and show its answer."""

from __future__ import annotations

from commands.model import Command, Reply
from monitors.actors import Actor
from monitors.core import Core


async def test(core: Core, command: Command, actor: Actor) -> Reply:
    name = command.args[0]
    answers = await core.destinations.test(name, actor)
    lines = [f"{'ok' if a.ok else 'FAILED'} {a.target}: {a.summary}" for a in answers]
    if all(answer.ok for answer in answers):
        head = f"Test message sent to {name}; it was accepted:"
    else:
        head = f"Test message to {name}: not every place accepted it:"
    return Reply("\n".join([head, *lines]), ok=all(a.ok for a in answers), private=True)
