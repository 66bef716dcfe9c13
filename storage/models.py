"""Tables. Times are UNIX epoch seconds (float) so the injected clock, SQLite and
PostgreSQL all agree without time-zone conversions; the API renders them as RFC 3339."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.vocabulary import IncidentKind, Priority

MAX_ID = 2**31 - 1
"""The largest id an INTEGER column holds (PostgreSQL's is 32-bit): a larger one names
no row, and PostgreSQL would refuse to compare with it."""


def storable_id(value: int) -> bool:
    return 0 < value <= MAX_ID


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
    file_version: Mapped[str | None] = mapped_column(String(64))
    """The file's rule this overrides, when saved (monitors.rules.rulebook.file_version); None
    when the file had no such rule, or for rows saved before versions were recorded."""


class SeriesStateRow(Base):
    """Counters of one series of one rule (see monitors.incidents.machine.SeriesState)."""

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
    counted_at: Mapped[float | None]
    updated_at: Mapped[float]


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status", "status"),
        Index("ix_incidents_series", "rule", "series_key"),
        Index("ix_incidents_opened_at", "opened_at"),
        Index("ix_incidents_resolved_at", "resolved_at"),
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
    event_count: Mapped[int | None] = mapped_column(Integer)
    """Events received for an incident a pushed event opened (repeats add to it); None
    for the others."""
    priority: Mapped[str] = mapped_column(String(2), default=Priority.P4)
    """P1..P4 from the severity and how far past its threshold (monitors.incidents.priority);
    kept up to date at every change of level, so lists sort by it."""
    deploy_event_id: Mapped[int | None] = mapped_column(Integer)
    """The deploy (an ``events`` row) the incident started shortly after, if any."""
    deploy_note: Mapped[str | None] = mapped_column(Text)
    """``started 4 min after deploy api 1.42``, as the card shows it."""


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
        Index("ix_outbox_claimed_by", "claimed_by"),
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
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    """The dispatcher holding the row; it renews ``available_at`` while it lives."""


class MessageRow(Base):
    """The platform message that shows an incident in a channel, so edits find it."""

    __tablename__ = "messages"

    incident_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(200), primary_key=True)
    message_ref: Mapped[str] = mapped_column(String(400))
    updated_at: Mapped[float]
    group_id: Mapped[int | None] = mapped_column(Integer)
    """The message group it belongs to (every message is a group, most of one)."""
    chart_at: Mapped[float | None]
    """When the incident's chart was attached to the message (None: it has none)."""


class MessageGroupRow(Base):
    """One platform message showing one or more incidents of a target: incidents that
    open within a short wait of each other share it (storm grouping); a ``capped``
    group is the "N more not posted" message of a rule past its ``max_per_hour``."""

    __tablename__ = "message_groups"
    __table_args__ = (Index("ix_message_groups_target", "target", "opened_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # incidents | capped
    opened_at: Mapped[float]
    members: Mapped[list[int]] = mapped_column(JSON)
    message_ref: Mapped[str | None] = mapped_column(String(400))


class SeriesHistoryRow(Base):
    """Hourly sums of a series' evaluated value: the source of dynamic baselines."""

    __tablename__ = "series_history"

    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    series_key: Mapped[str] = mapped_column(String(1000), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)  # epoch // 3600
    total: Mapped[float]
    count: Mapped[int] = mapped_column(Integer)


class TargetHealthRow(Base):
    """Consecutive delivery failures of one target, and the incident they opened."""

    __tablename__ = "target_health"

    target: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[float | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    incident_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[float]


class EventRow(Base):
    """An event pushed to ``POST /v1/events``, kept whatever it did (opened, repeated,
    resolved, or only recorded), so later ones can be correlated with it (deploys)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_type_at", "type", "received_at"),
        Index("ix_events_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[float]
    type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str | None] = mapped_column(String(16))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    message: Mapped[str] = mapped_column(Text, default="")
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    action: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(Integer)


class WindowJournalRow(Base):
    """The window store's buckets changed in one flush (monitors.windows.journal): what a
    restart replays so that rules read the window they had, not "no data"."""

    __tablename__ = "window_journal"
    __table_args__ = (Index("ix_window_journal_written_at", "written_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    written_at: Mapped[float]
    data: Mapped[bytes] = mapped_column(LargeBinary)


class AnomalyModelRow(Base):
    """A series' anomaly model (``monitors.anomaly.model``), saved every few minutes so a
    restart resumes judging instead of learning again. ``fingerprint`` names what the
    rule read when the model learned (metric, labels, aggregate, window): a rule that
    now reads something else starts a fresh model."""

    __tablename__ = "anomaly_models"

    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    series_key: Mapped[str] = mapped_column(String(1000), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(32))
    model: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[float]


class SampleHistoryRow(Base):
    """An hour of one pushed series, in minute buckets (``monitors.backtest.history``):
    what a rule is replayed over before it is changed. ``block`` is the hour's first
    bucket index (a bucket ``k`` ends at ``k * 60`` epoch seconds)."""

    __tablename__ = "sample_history"
    __table_args__ = (Index("ix_sample_history_block", "block"),)

    metric: Mapped[str] = mapped_column(String(200), primary_key=True)
    series: Mapped[str] = mapped_column(String(32), primary_key=True)
    """A digest of ``labels``: label sets can be longer than an index entry may be."""
    block: Mapped[int] = mapped_column(Integer, primary_key=True)
    labels: Mapped[str] = mapped_column(Text)
    data: Mapped[bytes] = mapped_column(LargeBinary)


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


class ProposalRow(Base):
    """A rule change shown before it is saved (``/rule set`` with its backtest, a
    coaching proposal), waiting for Apply or Cancel. Its button carries only the random
    ``token``: what Apply saves is read from here, so a forged id cannot apply anything
    else, and Apply works after a restart until ``expires_at``."""

    __tablename__ = "proposals"
    __table_args__ = (Index("ix_proposals_expires_at", "expires_at"),)

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    change: Mapped[dict[str, Any]] = mapped_column(JSON)
    """``{"level", "value"}`` for a threshold, or ``{"patch": {...}}`` (a merge patch)."""
    rule_version: Mapped[str] = mapped_column(String(64))
    """The rule as it was when proposed (a hash): Apply refuses once it has changed."""
    summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float]
    created_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[float]
    decided_at: Mapped[float | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decision: Mapped[str | None] = mapped_column(String(16))  # a Decision


class ReportRow(Base):
    """A periodic report that was written (its outbox rows in the same transaction):
    ``key`` names the period (``noise:2027-W03``), so a report is never sent twice,
    even across restarts."""

    __tablename__ = "reports"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[float]
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)


class HeldRow(Base):
    """News held back from a place for a digest (monitors.digests): an incident that
    opened while its holder (``destination:NAME``; a person's subscription later) was
    quiet. ``digest`` names the digest that listed it (a ``reports`` key), None while
    it waits; so what is held is never lost, and never listed twice."""

    __tablename__ = "held_news"
    __table_args__ = (
        Index("ix_held_news_waiting", "holder", "digest", "held_at"),
        Index("ix_held_news_incident", "incident_id", "target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    holder: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(200))
    """Where it would have gone, and where the digest goes."""
    incident_id: Mapped[int] = mapped_column(Integer)
    held_at: Mapped[float]
    digest: Mapped[str | None] = mapped_column(String(64))


class SubscriptionRow(Base):
    """A person's own subscription (``/notify me``): incidents of ``rule`` (``*``: every
    rule) at or above ``min_severity`` come to them directly, as a direct message on
    ``platform`` or, with ``email``, by mail. Keyed by the platform's user id, never by
    a display name; one row per person and rule, so subscribing again updates it."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_rule", "rule"),)

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    min_severity: Mapped[str] = mapped_column(String(16))
    quiet_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """``{"start", "end", "timezone"}`` (monitors.quiet_hours.QuietHours), or none."""
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[float]
    updated_at: Mapped[float]
