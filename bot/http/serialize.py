"""The API's JSON shapes for incidents, rules and silences. Times are RFC 3339 in UTC."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitors.announce import iso
from monitors.backtest.compare import BacktestReport
from monitors.durations import format_duration
from monitors.rulebook import RuleOrigin
from monitors.rules import Rule
from storage.models import IncidentEventRow, IncidentRow, SilenceRow


def incident_json(incident: IncidentRow, now: float) -> dict[str, Any]:
    """One incident; ``snoozed`` says whether ``snoozed_until`` is still ahead of ``now``."""
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
        "resolved_at": iso(incident.resolved_at),
        "resolved_by": incident.resolved_by,
        "resolve_note": incident.resolve_note,
        "snoozed_until": iso(incident.snoozed_until),
        "snoozed": bool(incident.snoozed_until and incident.snoozed_until > now),
        "reopen_count": incident.reopen_count or 0,
    }


def event_json(event: IncidentEventRow) -> dict[str, Any]:
    return {"at": iso(event.at), "kind": event.kind, "actor": event.actor, "detail": event.detail}


def incident_detail_json(
    incident: IncidentRow, events: Sequence[IncidentEventRow], now: float
) -> dict[str, Any]:
    """An incident with its timeline, oldest event first."""
    return {**incident_json(incident, now), "timeline": [event_json(e) for e in events]}


def rule_json(rule: Rule, origin: RuleOrigin | None) -> dict[str, Any]:
    """The rule as the rules API accepts it, plus where it comes from (file or saved)."""
    where: dict[str, Any] = {"source": origin.source if origin else "file"}
    if origin is not None and origin.source == "saved":
        where.update(updated_by=origin.updated_by, updated_at=iso(origin.updated_at))
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
