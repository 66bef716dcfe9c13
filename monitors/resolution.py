"""What resolving an incident sets, whoever resolves it: the readings (auto), a person,
or a rule's retirement. One place, so no path leaves a snooze or a note behind."""

from __future__ import annotations

from monitors.machine import transition
from storage.models import IncidentRow


def mark_resolved(incident: IncidentRow, by: str, now: float, note: str | None = None) -> None:
    """Resolve ``incident`` (IllegalTransition if it is resolved already). The snooze is
    cleared: a resolved card must not say "Snoozed until", nor a reopen inherit it."""
    incident.status = transition(incident.status, "resolve")
    incident.resolved_at, incident.resolved_by = now, by
    incident.resolve_note = note
    incident.snoozed_until = None
