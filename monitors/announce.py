"""Turning incident changes into outbox rows, in the caller's transaction.

Every change that people should see is written here as an outbox row in the same
transaction as the change itself, so a crash can never announce a change that was not
saved, nor save one that is never announced. ``notify`` rows page (a new message, or a
ping); the others edit the incident's existing message in place and add a thread line.
Snoozes and silences turn pages into quiet edits; an incident that was never shown
(opened while silenced) stays unshown and is marked ``suppressed`` until it is announced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from monitors.actors import AUTO_RESOLVER
from monitors.cards import IncidentCard
from monitors.durations import format_duration
from monitors.matchers import Matcher, parse_matchers
from monitors.sources.fields import reads_over_window
from monitors.wording import counted
from storage.models import IncidentRow, SilenceRow
from storage.repositories import IncidentRepository, OutboxRepository, SilenceRepository

SEVERITY_COLORS = {"warning": "#ECB22E", "error": "#F2711C", "critical": "#E01E5A"}
ACKNOWLEDGED_COLOR = "#3B82F6"
RESOLVED_COLOR = "#2EB67D"
TEST_COLOR = "#9B59B6"
DEFAULT_CHANNEL = "alerts"


def iso(ts: float | None) -> str | None:
    """RFC 3339 in UTC, or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def short_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def clock_time(ts: float, now: float) -> str:
    """``14:05 UTC`` for a time on the same UTC day as ``now``, else with its date."""
    moment = datetime.fromtimestamp(ts, UTC)
    same_day = moment.date() == datetime.fromtimestamp(now, UTC).date()
    return moment.strftime("%H:%M UTC" if same_day else "%Y-%m-%d %H:%M UTC")


def is_snoozed(incident: IncidentRow, now: float) -> bool:
    return bool(
        incident.status != "resolved" and incident.snoozed_until and incident.snoozed_until > now
    )


def status_text(incident: IncidentRow, now: float) -> str:
    """The status as a person should read it: ``open``, or while a snooze runs
    ``open, snoozed until 14:05 UTC`` (the state machine's status stays ``open``)."""
    if is_snoozed(incident, now) and incident.snoozed_until is not None:
        return f"{incident.status}, snoozed until {clock_time(incident.snoozed_until, now)}"
    return incident.status


def incident_labels(incident: IncidentRow) -> dict[str, str]:
    """What silences match against: the series labels plus rule and severity."""
    return {**incident.labels, "rule": incident.rule, "severity": incident.severity}


def card_color(incident: IncidentRow) -> str:
    if incident.test:
        return TEST_COLOR
    if incident.status == "resolved":
        return RESOLVED_COLOR
    if incident.status == "acknowledged":
        return ACKNOWLEDGED_COLOR
    return SEVERITY_COLORS.get(incident.severity, SEVERITY_COLORS["error"])


CHANGE, SHARE = "change", "share"


def value_style(threshold_type: object, aggregate: object) -> str:
    """How a rule's values and thresholds read: a percent ``change`` (+150%), a ``share``
    of samples in percent (``percent_where``: 3.2%), or plain numbers ("")."""
    if threshold_type == "percent_change":
        return CHANGE
    return SHARE if aggregate == "percent_where" else ""


def snapshot_style(rule_spec: Mapping[str, object]) -> str:
    """``value_style`` of a rule as JSON (an incident's rule snapshot)."""
    return value_style(rule_spec.get("threshold_type"), rule_spec.get("aggregate"))


def format_value(value: float | None, style: str = "") -> str:
    """A value for people: ``1,240``, ``0.25``; ``+150%`` for a change, ``3.2%`` for a
    share (see ``value_style``)."""
    if value is None:
        return "no data"
    if style == CHANGE:
        return f"{value:+,.0f}%" if abs(value) >= 100 else f"{value:+.3g}%"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text}%" if style == SHARE else text


def describe_metric(rule_spec: Mapping[str, object]) -> str:
    """``p95 of http.request.duration_ms over 5m``, or for a percent-change rule
    ``change in rate of checkout.requests over 10m against the previous 10m``."""
    window = rule_spec.get("window", "")
    text = reads_over_window(rule_spec)
    if snapshot_style(rule_spec) == CHANGE:
        return f"change in {text} against the previous {window}"
    return text


def _value_text(incident: IncidentRow, style: str) -> str:
    if incident.test and incident.value is None:
        return "none, a test"  # "no data" would read as a broken source
    return format_value(incident.value, style)


def incident_title(incident: IncidentRow) -> str:
    prefix = "[TEST] " if incident.test else ""
    series = ", ".join(f"{k}={v}" for k, v in sorted(incident.labels.items()))
    where = f" ({series})" if series else ""
    return f"{prefix}#{incident.id} {incident.severity.upper()} {incident.rule}{where}"


def incident_card(incident: IncidentRow, now: float) -> IncidentCard:
    """The neutral card for an incident as it stands now."""
    snapshot = incident.rule_snapshot or {}
    snoozed = is_snoozed(incident, now)
    status = f"{incident.status}, snoozed" if snoozed else incident.status
    fields: list[tuple[str, str]] = [("Status", status)]
    if incident.kind != "metric":  # source down, a pushed event, Tocsin behind
        fields.append(("Problem", incident.summary))
    else:
        op, style = snapshot.get("op", ">"), snapshot_style(snapshot)
        fields.append(
            (
                "Value",
                f"{_value_text(incident, style)} (threshold {op} "
                f"{format_value(incident.threshold, style)})",
            )
        )
        if snapshot.get("metric") or snapshot.get("query"):
            fields.append(("Metric", describe_metric(snapshot)))
    fields.append(("Opened", short_time(incident.opened_at)))
    if incident.acknowledged_by:
        fields.append(("Acknowledged by", incident.acknowledged_by))
    if snoozed and incident.snoozed_until is not None:
        fields.append(("Snoozed until", short_time(incident.snoozed_until)))
    if incident.reopen_count:
        fields.append(("Reopened", counted(incident.reopen_count, "time")))
    if incident.event_count and incident.event_count > 1:  # repeats of a pushed event
        fields.append(("Events", f"{incident.event_count:,}"))
    if incident.status == "resolved" and incident.resolved_at:
        took = format_duration(max(incident.resolved_at - incident.opened_at, 1))
        automatic = incident.resolved_by == AUTO_RESOLVER
        by = "automatically" if automatic else f"by {incident.resolved_by}"
        fields.append(("Resolved", f"{by} after {took}"))
        if incident.resolve_note:
            fields.append(("Note", incident.resolve_note))
    actions: tuple[str, ...] = ()
    if incident.status == "open":
        actions = ("acknowledge", "snooze", "resolve")
    elif incident.status == "acknowledged":
        actions = ("snooze", "resolve")
    return IncidentCard(
        incident_id=incident.id,
        title=incident_title(incident),
        status=incident.status,
        severity=incident.severity,
        color=card_color(incident),
        fields=tuple(fields),
        actions=actions,
        runbook=snapshot.get("runbook", ""),
        test=incident.test,
        footer="Test incident: no one is paged for it." if incident.test else "",
    )


def silenced_by(incident: IncidentRow, silences: Sequence[SilenceRow]) -> SilenceRow | None:
    labels = incident_labels(incident)
    for silence in silences:
        matchers: Sequence[Matcher] = parse_matchers(silence.matchers)
        if all(m.matches(labels) for m in matchers):
            return silence
    return None


class Announcer:
    """Decides which outbox rows an incident event needs, on which channels."""

    def __init__(self, default_channels: Sequence[str] = (DEFAULT_CHANNEL,)) -> None:
        self.default_channels = tuple(default_channels) or (DEFAULT_CHANNEL,)

    def channels(self, incident: IncidentRow) -> tuple[str, ...]:
        configured = (incident.rule_snapshot or {}).get("channels") or ()
        return tuple(configured) or self.default_channels

    def rows(
        self,
        incident: IncidentRow,
        event: str,
        line: str,
        now: float,
        *,
        notify: bool,
        silences: Sequence[SilenceRow] = (),
        channels: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Outbox rows for ``event``; none when the incident is silenced and was never
        shown (it is then marked ``suppressed``, to be announced when the silence ends).
        ``last_notified_at`` is None exactly when a (non-test) incident was never shown."""
        quiet = is_snoozed(incident, now)
        # A test incident pages no one and was asked for: a silence never hides it.
        if not incident.test and silenced_by(incident, silences) is not None:
            if incident.suppressed or incident.last_notified_at is None:
                incident.suppressed = True
                return []
            quiet = True
        elif incident.suppressed:  # never shown, and no silence covers it any more
            if incident.status == "resolved":
                return []  # over before anyone saw it: nothing to tell
            incident.suppressed = False  # its first message, whatever the event: a page
            notify = True
        page = notify and not quiet
        if page:
            incident.last_notified_at = now
        payload = {"card": incident_card(incident, now).to_json(), "line": line}
        return [
            {
                "created_at": now,
                "incident_id": incident.id,
                "event": event,
                "channel": channel,
                "notify": page,
                "payload": payload,
                "attempts": 0,
                "available_at": now,
            }
            for channel in channels or self.channels(incident)
        ]


class Journal:
    """The timeline events and outbox rows of one transaction, written together in bulk
    by ``flush`` before the transaction commits."""

    def __init__(
        self,
        session: AsyncSession,
        announcer: Announcer,
        silences: Sequence[SilenceRow],
        now: float,
    ) -> None:
        self.session = session
        self.announcer = announcer
        self.silences = silences
        self.now = now
        self.events: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, session: AsyncSession, announcer: Announcer, now: float) -> Journal:
        return cls(session, announcer, await SilenceRepository(session).active(now), now)

    def record(
        self,
        incident: IncidentRow,
        event: str,
        actor: str,
        line: str,
        *,
        notify: bool,
        channels: Sequence[str] | None = None,
    ) -> bool:
        """Add ``line`` to the incident's timeline and queue its announcement; returns
        whether anything will be sent."""
        self.events.append(
            {
                "incident_id": incident.id,
                "at": self.now,
                "kind": event,
                "actor": actor,
                "detail": line,
            }
        )
        rows = self.announcer.rows(
            incident,
            event,
            line,
            self.now,
            notify=notify,
            silences=self.silences,
            channels=channels,
        )
        self.outbox.extend(rows)
        return bool(rows)

    async def flush(self) -> None:
        await IncidentRepository(self.session).add_events(self.events)
        await OutboxRepository(self.session).add_many(self.outbox)
        self.events, self.outbox = [], []
