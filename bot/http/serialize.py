"""The API's JSON shapes for incidents, rules and silences. Times are RFC 3339 in UTC."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitors.backtest.compare import BacktestReport
from monitors.durations import format_duration
from monitors.formatting import iso
from monitors.incidents.actions import DeliveryState
from monitors.incidents.cards import CHECKED_KINDS
from monitors.mentions import plain
from monitors.rules.checks import checks_for
from monitors.rules.rulebook import FILE, OVERRIDE, RuleOrigin
from monitors.rules.schema import Rule
from storage.models import IncidentEventRow, IncidentRow, SilenceRow


def person_json(name: str | None, ref: str | None) -> dict[str, str] | None:
    """Who acted: ``{"name": "alice", "platform": "slack", "id": "U123"}``."""
    if name is None:
        return None
    platform, _, user_id = (ref or "").partition(":")
    return {"name": name, "platform": platform or "tocsin", "id": user_id or name}


def incident_json(
    incident: IncidentRow, now: float, silenced_by: int | None = None
) -> dict[str, Any]:
    """One incident; ``snoozed`` says whether ``snoozed_until`` is still ahead of ``now``,
    ``silenced_by`` names the active silence that hides it."""
    return {
        "id": incident.id,
        "rule": incident.rule,
        "status": incident.status,
        "severity": incident.severity,
        "labels": dict(incident.labels or {}),
        "value": incident.value,
        "threshold": incident.threshold,
        "summary": incident.summary,
        "kind": incident.kind,
        "test": bool(incident.test),
        "opened_at": iso(incident.opened_at),
        "acknowledged_at": iso(incident.acknowledged_at),
        "acknowledged_by": incident.acknowledged_by,
        "acknowledged_by_user": person_json(incident.acknowledged_by, incident.acknowledged_by_ref),
        "resolved_at": iso(incident.resolved_at),
        "resolved_by": incident.resolved_by,
        "resolved_by_user": person_json(incident.resolved_by, incident.resolved_by_ref),
        "resolve_note": incident.resolve_note,
        "snoozed_until": iso(incident.snoozed_until),
        "snoozed": bool(incident.snoozed_until and incident.snoozed_until > now),
        "reopen_count": incident.reopen_count or 0,
        "silenced": silenced_by is not None,
        "silenced_by": silenced_by,
        "priority": incident.priority,
        "deploy": (
            {"event": incident.deploy_event_id, "note": incident.deploy_note}
            if incident.deploy_event_id is not None
            else None
        ),
        "checks": list(checks_for(incident.rule_snapshot or {}))
        if incident.kind in CHECKED_KINDS
        else [],
    }


def event_json(event: IncidentEventRow) -> dict[str, Any]:
    return {
        "at": iso(event.at),
        "kind": event.kind,
        "actor": event.actor,
        "detail": plain(event.detail),
    }


def delivery_json(state: DeliveryState) -> dict[str, Any]:
    return {
        "target": state.target,
        "event": state.event,
        "status": state.status,
        "attempts": state.attempts,
        "error": state.error,
        "delivered_at": iso(state.delivered_at),
    }


def incident_detail_json(
    incident: IncidentRow,
    events: Sequence[IncidentEventRow],
    now: float,
    silenced_by: int | None = None,
    deliveries: Sequence[DeliveryState] = (),
) -> dict[str, Any]:
    """An incident with its timeline, oldest event first, and how each of its messages
    fared (``deliveries``: delivered, pending, retrying or failed, with the reason)."""
    return {
        **incident_json(incident, now, silenced_by),
        "timeline": [event_json(e) for e in events],
        "deliveries": [delivery_json(d) for d in deliveries],
    }


def rule_json(rule: Rule, origin: RuleOrigin | None) -> dict[str, Any]:
    """The rule as the rules API accepts it, plus where its values come from: ``file``
    (the config file as written), ``override`` (saved over the file's rule: with the
    fields that differ from the file, and whether the file's rule changed since), or
    ``saved`` (only in the database)."""
    where: dict[str, Any] = {"source": origin.source if origin else FILE}
    if origin is not None and origin.source != FILE:
        where.update(updated_by=origin.updated_by, updated_at=iso(origin.updated_at))
    if origin is not None and origin.source == OVERRIDE:
        where["differs"] = [
            {"field": change.field, "file": change.file, "saved": change.saved}
            for change in origin.differs
        ]
        where["file_changed"] = origin.file_changed
    return {**rule.to_json(), "origin": where}


def silence_json(silence: SilenceRow, now: float) -> dict[str, Any]:
    ended = silence.removed_at is not None or silence.ends_at <= now
    return {
        "id": silence.id,
        "matchers": silence.matchers,
        "starts_at": iso(silence.starts_at),
        "ends_at": iso(silence.ends_at),
        "reason": silence.reason,
        "created_by": silence.created_by,
        "created_at": iso(silence.created_at),
        "removed_at": iso(silence.removed_at),
        "removed_by": silence.removed_by,
        "active": not ended and silence.starts_at <= now,
    }


def backtest_json(report: BacktestReport, proposed: Rule) -> dict[str, Any]:
    """What the proposed rule and today's would have opened over the same history."""
    median = report.median_difference
    return {
        "rule": report.rule,
        "from": iso(report.start),
        "to": iso(report.end),
        "step": format_duration(report.step),
        "history": {
            "since": iso(report.history_from),
            "series": report.series,
            "samples": report.samples,
        },
        "current": {
            "opened": len(report.current),
            "incidents": [i.to_json() for i in report.current],
        },
        "proposed": {
            "rule": proposed.to_json(),
            "opened": len(report.proposed),
            "incidents": [i.to_json() for i in report.proposed],
        },
        "time_to_open": {
            "matched": len(report.matched),
            "median_seconds": median,
            "differences": [
                {
                    "labels": m.labels,
                    "current_opened_at": iso(m.current_opened_at),
                    "proposed_opened_at": iso(m.proposed_opened_at),
                    "seconds": m.difference,
                }
                for m in report.matched
            ],
            "missed": [i.to_json() for i in report.missed],
            "added": [i.to_json() for i in report.added],
        },
    }
