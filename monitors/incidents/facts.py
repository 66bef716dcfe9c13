"""An incident as plain facts, for destinations that are not chat messages: a webhook's
JSON, an email's subject. Carried in each outbox row beside the card, so an adapter
never reads the database (the row says what was true when the change was made)."""

from __future__ import annotations

from typing import Any

from monitors.incidents.cards import acknowledged_by, series_text
from monitors.mentions import plain
from storage.models import IncidentRow


def incident_facts(incident: IncidentRow) -> dict[str, Any]:
    snapshot = incident.rule_snapshot or {}
    return {
        "id": incident.id,
        "rule": incident.rule,
        "kind": incident.kind,
        "status": incident.status,
        "severity": incident.severity,
        "priority": incident.priority,
        "labels": dict(incident.labels or {}),
        "series": series_text(incident.labels or {}),
        "metric": snapshot.get("metric"),
        "aggregate": snapshot.get("aggregate"),
        "op": snapshot.get("op", ">"),
        "value": incident.value,
        "threshold": incident.threshold,
        "summary": incident.summary,
        "description": snapshot.get("description") or "",
        "opened_at": incident.opened_at,
        "triggered_at": incident.firing_since or incident.opened_at,
        "acknowledged_at": incident.acknowledged_at,
        "acknowledged_by": plain(acknowledged_by(incident)) or None,
        "resolved_at": incident.resolved_at,
        "reopen_count": incident.reopen_count,
        "test": bool(incident.test),
        "destinations": [*(snapshot.get("channels") or ()), *(snapshot.get("escalate_to") or ())],
    }
