"""Tables. Times are UNIX epoch seconds (float) so the injected clock, SQLite and
PostgreSQL all agree without time-zone conversions; the API renders them as RFC 3339."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, Double, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.vocabulary import IncidentKind


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, float: Double}


class RuleRow(Base):
    """A rule created or edited through chat or the API; it overrides the file's rule of
    the same name. ``deleted`` keeps a deletion across restarts (a tombstone)."""

    __tablename__ = "rules"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[float]
    updated_by: Mapped[str] = mapped_column(String(200))


class SeriesStateRow(Base):
    """Counters of one series of one rule (see monitors.machine.SeriesState)."""

    __tablename__ = "series_states"

    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    series_key: Mapped[str] = mapped_column(String(1000), primary_key=True)
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    breaches: Mapped[int] = mapped_column(Integer, default=0)
    normals: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    level: Mapped[str | None] = mapped_column(String(16))
    incident_id: Mapped[int | None] = mapped_column(Integer)
    last_incident_id: Mapped[int | None] = mapped_column(Integer)
    resolved_at: Mapped[float | None]
    source_down: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[float]


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status", "status"),
        Index("ix_incidents_series", "rule", "series_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(64))
    series_key: Mapped[str] = mapped_column(String(1000))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    kind: Mapped[str] = mapped_column(String(16), default=IncidentKind.METRIC)
    status: Mapped[str] = mapped_column(String(16))  # an IncidentStatus
    severity: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None]
    threshold: Mapped[float | None]
    summary: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[float]
    firing_since: Mapped[float | None]
    """Set when a resolved incident reopens: reminders and escalation count from here
    (None: from ``opened_at``)."""
    acknowledged_at: Mapped[float | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    """The display name; ``acknowledged_by_ref`` says who it is (``slack:U123``)."""
    acknowledged_by_ref: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[float | None]
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_by_ref: Mapped[str | None] = mapped_column(String(200))
    """``platform:user id`` of the person who resolved it; None when Tocsin did."""
    resolve_note: Mapped[str | None] = mapped_column(Text)
    snoozed_until: Mapped[float | None]
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    last_notified_at: Mapped[float | None]
    escalated_at: Mapped[float | None]
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False)
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    rule_snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)


class IncidentEventRow(Base):
    """One line of an incident's timeline."""

    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[float]
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")


class SilenceRow(Base):
    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    matchers: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[float]
    ends_at: Mapped[float]
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float]
    removed_at: Mapped[float | None]
    removed_by: Mapped[str | None] = mapped_column(String(200))
    ended_handled: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class OutboxRow(Base):
    """A notification written in the same transaction as the change it announces; the
    dispatcher delivers it at least once and marks it delivered."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "delivered_at", "available_at"),
        Index("ix_outbox_stream", "incident_id", "channel", "id"),  # see OutboxRepository.claim
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[float]
    incident_id: Mapped[int | None] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(200))
    """The target: ``slack:C0ALERTS``, ``discord:1234``, ``console`` (monitors.routing)."""
    notify: Mapped[bool] = mapped_column(Boolean, default=True)  # False: edit in place only
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[float]
    delivered_at: Mapped[float | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class MessageRow(Base):
    """The platform message that shows an incident in a channel, so edits find it."""

    __tablename__ = "messages"

    incident_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(200), primary_key=True)
    message_ref: Mapped[str] = mapped_column(String(400))
    updated_at: Mapped[float]


class SeriesHistoryRow(Base):
    """Hourly sums of a series' evaluated value: the source of dynamic baselines."""

    __tablename__ = "series_history"

    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    series_key: Mapped[str] = mapped_column(String(1000), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)  # epoch // 3600
    total: Mapped[float]
    count: Mapped[int] = mapped_column(Integer)


class DestinationRow(Base):
    """A destination saved through the API (the config file's are never stored). The
    secret parts (a webhook's signing key and header values) are in ``sealed``,
    encrypted (monitors.destinations.secrets); ``spec`` holds the rest."""

    __tablename__ = "destinations"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    sealed: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float]
    created_by: Mapped[str] = mapped_column(String(200))
