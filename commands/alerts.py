"""``/alerts``: list, show, ack, snooze, resolve."""

from __future__ import annotations

from commands.model import Command, Reply
from commands.parser import SEVERITIES
from commands.render import delivery_text, incident_table, timeline_text
from monitors.actors import Actor
from monitors.core import Core
from monitors.durations import format_duration, parse_duration
from monitors.formatting import short_time
from monitors.incidents.cards import incident_card
from monitors.incidents.lifecycle import how_it_resolves
from monitors.wording import plural

LIST_LIMIT = 25


async def list_alerts(core: Core, command: Command, actor: Actor) -> Reply:
    status = next((a for a in command.args if a not in SEVERITIES), None)
    severity = next((a for a in command.args if a in SEVERITIES), None)
    incidents = await core.incidents.list(status, severity, limit=LIST_LIMIT, by_priority=True)
    silenced = await core.incidents.silenced(incidents)
    shown = None if status == "all" else status or "unresolved"
    what = " ".join(x for x in (severity, shown) if x)
    if not incidents:
        return Reply(f"No {what} incidents.".replace("  ", " "))
    more = " (P1 first, then newest; showing the first 25)" if len(incidents) == LIST_LIMIT else ""
    count = f"{len(incidents)} {what}".rstrip()
    noun = plural(len(incidents), "incident")
    table = incident_table(incidents, core.clock(), silenced)
    return Reply(f"{count} {noun}{more}:", table=table)


async def show(core: Core, command: Command, actor: Actor) -> Reply:
    incident, events = await core.incidents.show(int(command.args[0]))
    silenced = await core.incidents.silenced([incident])
    card = incident_card(incident, core.clock(), silenced.get(incident.id))
    delivery = delivery_text(await core.incidents.deliveries(incident.id))
    text = f"Timeline of #{incident.id}:\n{timeline_text(events)}"
    return Reply(f"{text}\n{delivery}" if delivery else text, cards=(card,))


async def ack(core: Core, command: Command, actor: Actor) -> Reply:
    incident = await core.incidents.acknowledge(int(command.args[0]), actor)
    after = (
        f"It is a test incident: /alerts resolve {incident.id} when you are done."
        if incident.test
        else how_it_resolves(incident, core.events.types)
    )
    return Reply(
        f"Acknowledged #{incident.id}: you are on it. {after}",
        cards=(incident_card(incident, core.clock()),),
    )


async def snooze(core: Core, command: Command, actor: Actor) -> Reply:
    seconds = parse_duration(command.args[1])
    incident = await core.incidents.snooze(int(command.args[0]), seconds, actor)
    until = short_time(incident.snoozed_until or 0)
    return Reply(
        f"Snoozed #{incident.id} for {format_duration(seconds)} (until {until}); "
        f"if it is still firing then, it is announced again.",
        cards=(incident_card(incident, core.clock()),),
    )


async def resolve(core: Core, command: Command, actor: Actor) -> Reply:
    note = command.args[1] if len(command.args) > 1 else ""
    incident = await core.incidents.resolve(int(command.args[0]), actor, note)
    after = "" if incident.test else " If it breaches again within the cooldown, it reopens."
    return Reply(
        f"Resolved #{incident.id}.{after}",
        cards=(incident_card(incident, core.clock()),),
    )
