"""``/silence``: add, list, remove."""

from __future__ import annotations

from commands.model import Command, Reply
from commands.render import silence_table
from monitors.actors import Actor
from monitors.core import Core
from monitors.durations import parse_duration
from monitors.formatting import short_time
from monitors.rules.matchers import parse_matchers
from monitors.wording import counted


async def add(core: Core, command: Command, actor: Actor) -> Reply:
    matchers, duration = command.args[0], parse_duration(command.args[1])
    reason = command.args[2] if len(command.args) > 2 else ""
    silence = await core.silences.add(matchers, duration, reason, actor)
    unknown = [
        m.value
        for m in parse_matchers(silence.matchers)
        if m.label == "rule" and m.op == "=" and core.rulebook.get(m.value) is None
    ]
    warning = "".join(
        f" Note: no rule is named '{name}', so this silence matches nothing yet; "
        f"/rule list shows the names."
        for name in unknown
    )
    return Reply(
        f"Silence {silence.id} on {silence.matchers} until "
        f"{short_time(silence.ends_at)}. Matching incidents are still tracked; "
        f"what is still firing when it ends is announced. "
        f"/silence remove {silence.id} ends it early.{warning}"
    )


async def list_silences(core: Core, command: Command, actor: Actor) -> Reply:
    silences = await core.silences.list()
    if not silences:
        return Reply("No active or upcoming silences.")
    table = silence_table(silences, core.clock())
    return Reply(f"{counted(len(silences), 'silence')}:", table=table)


async def remove(core: Core, command: Command, actor: Actor) -> Reply:
    silence = await core.silences.remove(int(command.args[0]), actor)
    return Reply(
        f"Silence {silence.id} ({silence.matchers}) ended. Incidents it hid that "
        f"are still firing will be announced."
    )
