"""The neutral incident card: what every chat platform renders for one incident, and how
an incident as it stands becomes one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitors.actors import AUTO_RESOLVER
from monitors.durations import format_duration
from monitors.formatting import (
    clock_time,
    describe_metric,
    excess_text,
    format_value,
    short_time,
    snapshot_style,
)
from monitors.incidents.machine import Action
from monitors.mentions import token_for_ref
from monitors.rules.checks import checks_for
from monitors.wording import counted
from storage.models import IncidentRow
from storage.vocabulary import IncidentKind, IncidentStatus

SEVERITY_COLORS = {
    "info": "#3B82F6",
    "warning": "#ECB22E",
    "error": "#F2711C",
    "critical": "#E01E5A",
}
RESOLVED_COLOR = "#2EB67D"
TEST_COLOR = "#9B59B6"

PERSON_ACTIONS: dict[IncidentStatus, tuple[Action, ...]] = {
    IncidentStatus.OPEN: (Action.ACKNOWLEDGE, Action.SNOOZE, Action.RESOLVE),
    IncidentStatus.ACKNOWLEDGED: (Action.SNOOZE, Action.RESOLVE),
    IncidentStatus.RESOLVED: (),
}
"""The buttons a card offers in each state: the moves the transition table allows."""
CHECKED_KINDS = (IncidentKind.METRIC, IncidentKind.EVENT)
"""Incidents whose card says what to check first (monitors.rules.checks): a rule's readings
or a pushed event; a source down, or Tocsin's own trouble, say what to do themselves."""


@dataclass(frozen=True)
class IncidentCard:
    """What a chat message about an incident shows, whatever the platform.

    ``color`` is a hex string chosen by severity (green once resolved); ``actions`` lists
    the buttons that still make sense. Field values may carry mention tokens (see
    monitors.mentions). ``since`` is when the current firing episode began, for
    platforms that show times relative to the reader ("12 minutes ago")."""

    incident_id: int
    title: str
    status: str
    severity: str
    color: str
    fields: tuple[tuple[str, str], ...] = ()
    actions: tuple[Action, ...] = ()
    runbook: str = ""
    test: bool = False
    footer: str = ""
    rule: str = ""
    series: str = ""
    since: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "title": self.title,
            "status": self.status,
            "severity": self.severity,
            "color": self.color,
            "fields": [list(f) for f in self.fields],
            "actions": [action.value for action in self.actions],
            "runbook": self.runbook,
            "test": self.test,
            "footer": self.footer,
            "rule": self.rule,
            "series": self.series,
            "since": self.since,
        }

    @classmethod
    def note(
        cls,
        title: str,
        fields: tuple[tuple[str, str], ...],
        footer: str = "",
        rule: str = "",
    ) -> IncidentCard:
        """A message of no incident (a notice, a cap's count, a digest, a report):
        informational, blue, with nothing to act on."""
        return cls(
            incident_id=0,
            title=title,
            status="open",
            severity="info",
            color=SEVERITY_COLORS["info"],
            fields=fields,
            footer=footer,
            rule=rule,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IncidentCard:
        return cls(
            incident_id=int(data["incident_id"]),
            title=data["title"],
            status=data["status"],
            severity=data["severity"],
            color=data["color"],
            fields=tuple((str(k), str(v)) for k, v in data.get("fields", ())),
            actions=tuple(Action(a) for a in data.get("actions", ()) if a in _ACTION_NAMES),
            runbook=data.get("runbook", ""),
            test=bool(data.get("test", False)),
            footer=data.get("footer", ""),
            rule=data.get("rule", ""),
            series=data.get("series", ""),
            since=data.get("since"),
        )


_ACTION_NAMES = frozenset(Action)


def is_snoozed(incident: IncidentRow, now: float) -> bool:
    return bool(
        incident.status != IncidentStatus.RESOLVED
        and incident.snoozed_until
        and incident.snoozed_until > now
    )


def status_text(incident: IncidentRow, now: float) -> str:
    """The status as a person should read it: ``open``, or while a snooze runs
    ``open, snoozed until 14:05 UTC`` (the state machine's status stays ``open``)."""
    if is_snoozed(incident, now) and incident.snoozed_until is not None:
        return f"{incident.status}, snoozed until {clock_time(incident.snoozed_until, now)}"
    return incident.status


def card_color(incident: IncidentRow) -> str:
    if incident.test:
        return TEST_COLOR
    if incident.status == IncidentStatus.RESOLVED:
        return RESOLVED_COLOR
    return SEVERITY_COLORS.get(incident.severity, SEVERITY_COLORS["error"])


def series_text(labels: dict[str, str]) -> str:
    """``route=/checkout, service=api``: a series by its labels."""
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def incident_title(incident: IncidentRow) -> str:
    prefix = "[TEST] " if incident.test else ""
    series = series_text(incident.labels)
    where = f" ({series})" if series else ""
    return f"{prefix}#{incident.id} {incident.severity.upper()} {incident.rule}{where}"


def acknowledged_by(incident: IncidentRow) -> str:
    """Who acknowledged, as a mention token (see monitors.mentions)."""
    return token_for_ref(incident.acknowledged_by_ref, incident.acknowledged_by or "")


def resolved_by(incident: IncidentRow) -> str:
    """``automatically``, or ``by`` and who, as a mention token."""
    if incident.resolved_by == AUTO_RESOLVER:
        return "automatically"
    return f"by {token_for_ref(incident.resolved_by_ref, incident.resolved_by or '')}"


def _value_field(incident: IncidentRow) -> str:
    snapshot = incident.rule_snapshot or {}
    op, style = str(snapshot.get("op", ">")), snapshot_style(snapshot)
    if incident.test and incident.value is None:
        value = "none, a test"  # "no data" would read as a broken source
    else:
        value = format_value(incident.value, style)
    limit = f"threshold {op} {format_value(incident.threshold, style)}"
    excess = excess_text(incident.value, incident.threshold, op, style)
    return f"{value} ({limit}{', ' + excess if excess else ''})"


def checks_text(checks: Sequence[str]) -> str:
    """``1. ...`` a line each, as the card shows what to check first."""
    return "\n".join(f"{number}. {check}" for number, check in enumerate(checks, 1))


def incident_card(
    incident: IncidentRow, now: float, silenced_by: int | None = None
) -> IncidentCard:
    """The neutral card for an incident as it stands now; ``silenced_by`` names the
    silence that hides it, if any."""
    snapshot = incident.rule_snapshot or {}
    snoozed = is_snoozed(incident, now)
    status = f"{incident.status}, snoozed" if snoozed else incident.status
    if silenced_by is not None:
        status += f", silenced (silence {silenced_by})"
    fields: list[tuple[str, str]] = [("Status", status), ("Priority", incident.priority)]
    if incident.kind != IncidentKind.METRIC:
        fields.append(("Problem", incident.summary))
    else:
        fields.append(("Value", _value_field(incident)))
        if snapshot.get("metric") or snapshot.get("query"):
            fields.append(("Metric", describe_metric(snapshot)))
    since = incident.firing_since or incident.opened_at
    fields.append(("Opened", short_time(incident.opened_at)))
    if incident.deploy_note:
        fields.append(("Deploy", incident.deploy_note))
    if incident.acknowledged_by:
        fields.append(("Acknowledged by", acknowledged_by(incident)))
    if snoozed and incident.snoozed_until is not None:
        fields.append(("Snoozed until", short_time(incident.snoozed_until)))
    if incident.reopen_count:
        fields.append(("Reopened", counted(incident.reopen_count, "time")))
    if incident.event_count and incident.event_count > 1:  # repeats of a pushed event
        fields.append(("Events", f"{incident.event_count:,}"))
    if incident.status == IncidentStatus.RESOLVED and incident.resolved_at:
        took = format_duration(max(incident.resolved_at - since, 1))
        fields.append(("Resolved", f"{resolved_by(incident)} after {took}"))
        if incident.resolve_note:
            fields.append(("Note", incident.resolve_note))
    elif incident.kind in CHECKED_KINDS and (checks := checks_for(snapshot)):
        fields.append(("Check first", checks_text(checks)))
    return IncidentCard(
        incident_id=incident.id,
        title=incident_title(incident),
        status=incident.status,
        severity=incident.severity,
        color=card_color(incident),
        fields=tuple(fields),
        actions=PERSON_ACTIONS[IncidentStatus(incident.status)],
        runbook=str(snapshot.get("runbook", "")),
        test=incident.test,
        footer="Test incident: no one is paged for it." if incident.test else "",
        rule=incident.rule,
        series=series_text(incident.labels),
        since=since,
    )
