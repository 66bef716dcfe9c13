"""What each incident transition sets, in one place.

Like alerta's state table: every move goes through ``machine.transition`` (which refuses
illegal ones) and sets the fields that belong to it here, whoever makes it: the engine,
a person by button, command or API, a timer or a rule's retirement. So no path leaves a
snooze on a resolved incident or a stale acknowledgement on a reopened one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitors.actors import Actor
from monitors.formatting import short_time
from monitors.incidents.machine import Action, IllegalTransition, transition
from monitors.incidents.priority import priority_of
from monitors.mentions import token_for_ref
from storage.models import IncidentRow
from storage.vocabulary import IncidentKind, IncidentStatus


def new_incident(
    *,
    rule: str,
    series_key: str,
    labels: dict[str, str],
    severity: str,
    summary: str,
    now: float,
    rule_snapshot: dict[str, Any],
    kind: IncidentKind = IncidentKind.METRIC,
    value: float | None = None,
    threshold: float | None = None,
    test: bool = False,
) -> dict[str, Any]:
    """The columns of an incident that opens now (for IncidentRepository.create_many)."""
    return dict(
        rule=rule,
        series_key=series_key,
        labels=labels,
        kind=kind,
        status=IncidentStatus.OPEN,
        severity=severity,
        value=value,
        threshold=threshold,
        summary=summary,
        opened_at=now,
        rule_snapshot=rule_snapshot,
        suppressed=False,
        test=test,
        reopen_count=0,
        priority=priority_of(severity, value, threshold, str(rule_snapshot.get("op", ">"))),
    )


def _move(incident: IncidentRow, action: Action) -> IncidentStatus:
    try:
        return transition(incident.status, action)
    except IllegalTransition as exc:
        raise exc.about(f"#{incident.id}", _whom(incident)) from None


def _whom(incident: IncidentRow) -> str:
    """Who put the incident in its state, for refusals: `` by alice``."""
    if incident.status == IncidentStatus.ACKNOWLEDGED and incident.acknowledged_by:
        return f" by {token_for_ref(incident.acknowledged_by_ref, incident.acknowledged_by)}"
    if incident.status == IncidentStatus.RESOLVED and incident.resolved_by:
        who = token_for_ref(incident.resolved_by_ref, incident.resolved_by)
        return f" (by {who} at {short_time(incident.resolved_at or 0)})"
    return ""


def check(incident: IncidentRow, action: Action) -> None:
    """Refuse ``action`` now, before any other work, if the state does not allow it."""
    _move(incident, action)


def acknowledge(incident: IncidentRow, actor: Actor, now: float) -> None:
    incident.status = _move(incident, Action.ACKNOWLEDGE)
    incident.acknowledged_at = now
    incident.acknowledged_by, incident.acknowledged_by_ref = actor.name, actor.ref


def snooze(incident: IncidentRow, until: float) -> None:
    incident.status = _move(incident, Action.SNOOZE)
    incident.snoozed_until = until


def end_snooze(incident: IncidentRow) -> None:
    incident.snoozed_until = None


def resolve(incident: IncidentRow, actor: Actor, now: float, note: str | None = None) -> None:
    """Resolve by a person, by Tocsin (``SYSTEM``, a retired rule) or by the readings
    (``AUTO``). The snooze is cleared: a resolved card must not say "Snoozed until", nor
    a reopen inherit it."""
    incident.status = _move(incident, Action.RESOLVE)
    incident.resolved_at = now
    incident.resolved_by, incident.resolved_by_ref = actor.name, actor.ref
    incident.resolve_note = note
    incident.snoozed_until = None


def reopen(
    incident: IncidentRow,
    now: float,
    *,
    severity: str,
    value: float | None,
    threshold: float | None,
    summary: str,
) -> None:
    """Breaching again within the cooldown: the same incident, a new firing episode
    (reminders and escalation count from now; nobody has acknowledged this one)."""
    incident.status = _move(incident, Action.REOPEN)
    incident.reopen_count += 1
    change_level(incident, severity=severity, value=value, threshold=threshold, summary=summary)
    incident.resolved_at = incident.resolved_by = incident.resolved_by_ref = None
    incident.resolve_note = None
    incident.acknowledged_at = incident.acknowledged_by = incident.acknowledged_by_ref = None
    incident.firing_since, incident.escalated_at = now, None


def change_level(
    incident: IncidentRow,
    *,
    severity: str,
    value: float | None,
    threshold: float | None,
    summary: str,
) -> None:
    """A new reading of a firing incident: its level, value, threshold and summary, and
    the priority they make."""
    incident.severity = severity
    incident.value, incident.threshold = value, threshold
    incident.summary = summary
    op = str((incident.rule_snapshot or {}).get("op", ">"))
    incident.priority = priority_of(severity, value, threshold, op)


def escalated(incident: IncidentRow, now: float) -> None:
    """Posted to ``escalate_to``: once per firing episode."""
    incident.escalated_at = now


def how_it_resolves(incident: IncidentRow, event_types: Mapping[str, Any]) -> str:
    """What ends an incident by itself, for people who just acknowledged it;
    ``event_types`` are the pushed event types (monitors.sources.events.EventType)."""
    if incident.kind == IncidentKind.EVENT:
        pairs = [name for name, kind in event_types.items() if kind.resolves == incident.rule]
        if pairs:
            return f"It resolves itself when a {pairs[0]} event comes for the same labels."
        return f"Nothing resolves it by itself: /alerts resolve {incident.id} once it is over."
    if incident.kind == IncidentKind.SOURCE_DOWN:
        return "It resolves itself once the source answers again."
    if incident.kind == IncidentKind.BEHIND:
        return "It resolves itself once the ticks are on time again."
    if incident.kind == IncidentKind.DELIVERY_FAILING:
        return "It resolves itself once a message to that place goes through."
    return "It still resolves itself once the readings are normal."
