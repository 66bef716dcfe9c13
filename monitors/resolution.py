"""What resolving an incident sets, whoever resolves it: the readings (auto), a person,
or a rule's retirement. One place, so no path leaves a snooze or a note behind."""

from __future__ import annotations

from collections.abc import Mapping

from monitors.machine import transition
from monitors.sources.events import EventType
from storage.models import IncidentRow


def mark_resolved(incident: IncidentRow, by: str, now: float, note: str | None = None) -> None:
    """Resolve ``incident`` (IllegalTransition if it is resolved already). The snooze is
    cleared: a resolved card must not say "Snoozed until", nor a reopen inherit it."""
    incident.status = transition(incident.status, "resolve")
    incident.resolved_at, incident.resolved_by = now, by
    incident.resolve_note = note
    incident.snoozed_until = None


def how_it_resolves(incident: IncidentRow, event_types: Mapping[str, EventType]) -> str:
    """What ends an incident by itself, for people who just acknowledged it."""
    if incident.kind == "event":
        pairs = [name for name, kind in event_types.items() if kind.resolves == incident.rule]
        if pairs:
            return f"It resolves itself when a {pairs[0]} event comes for the same labels."
        return f"Nothing resolves it by itself: /alerts resolve {incident.id} once it is over."
    if incident.kind == "source_down":
        return "It resolves itself once the source answers again."
    if incident.kind == "behind":
        return "It resolves itself once the ticks are on time again."
    return "It still resolves itself once the readings are normal."
