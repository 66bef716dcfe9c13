"""The words stored in the incident tables' status, kind and event columns.

StrEnums, so the stored values stay plain strings ("open") and compare equal to them,
while the code names each one once instead of typing it out in every module."""

from __future__ import annotations

from enum import StrEnum


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


UNRESOLVED: tuple[IncidentStatus, ...] = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)


class IncidentKind(StrEnum):
    METRIC = "metric"
    """A rule's series breached its thresholds."""
    SOURCE_DOWN = "source_down"
    """The rule's source failed ``source_errors_to_alert`` times in a row."""
    DELIVERY_FAILING = "delivery_failing"
    """Messages to one target keep failing (Tocsin's own health; no rule)."""
    EVENT = "event"
    """Opened by a pushed event (POST /v1/events), not by counting readings."""
    BEHIND = "behind"
    """Rule ticks start too late: Tocsin itself is behind."""


RULE_KINDS: tuple[IncidentKind, ...] = (IncidentKind.METRIC, IncidentKind.SOURCE_DOWN)
"""Kinds of incident that belong to a rule (and are retired with it)."""


class EventKind(StrEnum):
    """A line of an incident's timeline, and the event of the outbox row announcing it."""

    OPENED = "opened"
    REOPENED = "reopened"
    ESCALATED = "escalated"
    DEESCALATED = "deescalated"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    REMINDER = "reminder"
    SNOOZE_ENDED = "snooze_ended"
    SILENCE_ENDED = "silence_ended"
    REPEATED = "repeated"
    """Another event of an incident opened by pushed events."""
    NOTICE = "notice"
    """Not a timeline line: an outbox row with no incident, telling admins something
    (monitors.admin_notices)."""
    CHART = "chart"
    """Not a timeline line: attach the incident's chart to the message just posted
    (bot.delivery.charts), queued when the post is recorded."""


class Priority(StrEnum):
    """How urgently an incident wants a person (monitors.incidents.priority decides it): P1 first.
    Stored, so that lists sort by it in SQL; the text sorts in the right order."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class Decision(StrEnum):
    """What became of a proposed rule change (monitors.proposals)."""

    APPLIED = "applied"
    CANCELLED = "cancelled"
