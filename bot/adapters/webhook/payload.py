"""The JSON a webhook receives, and its signature.

One POST per incident change. The top-level fields are a contract (receivers parse
them); ``context`` is always an object and carries what a person would read on the
card. ``X-Tocsin-Signature: sha256=<hex>`` is the HMAC-SHA256 of the raw body with the
destination's secret; ``delivery_id`` (also ``X-Tocsin-Delivery``) is the same on every
retry of one change, so a receiver can drop a repeat (delivery is at least once)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

from bot.adapters.base import Delivery
from monitors.formatting import iso
from monitors.mentions import plain

SIGNATURE_HEADER = "X-Tocsin-Signature"
DELIVERY_HEADER = "X-Tocsin-Delivery"


def sign(secret: str, body: bytes) -> str:
    """The ``X-Tocsin-Signature`` value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_id(delivery: Delivery) -> str:
    """Stable across retries of one outbox row; random for a test message (no row)."""
    if delivery.card.incident_id <= 0:  # a digest or a report: named by its row
        if delivery.row_id <= 0:
            return uuid.uuid4().hex
        return hashlib.sha256(f"{delivery.target}|row|{delivery.row_id}".encode()).hexdigest()[:32]
    key = f"{delivery.target}|{delivery.card.incident_id}|{delivery.event}|{delivery.queued_at!r}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def context(delivery: Delivery) -> dict[str, Any]:
    """What the card says, for receivers that show it: title, the change in words,
    the card's fields, the runbook, and the rule's details."""
    card, facts = delivery.card, delivery.incident
    found: dict[str, Any] = {
        "title": card.title,
        "message": plain(delivery.line),
        "fields": {name: plain(value) for name, value in card.fields},
        "runbook": card.runbook,
        "series": card.series,
        "description": facts.get("description"),
        "aggregate": facts.get("aggregate"),
        "op": facts.get("op"),
        "summary": facts.get("summary"),
        "priority": facts.get("priority"),
        "opened_at": iso(facts.get("opened_at")),
        "acknowledged_at": iso(facts.get("acknowledged_at")),
        "acknowledged_by": facts.get("acknowledged_by"),
        "reopen_count": facts.get("reopen_count") or None,
    }
    return {key: value for key, value in found.items() if value not in (None, "", {})}


def webhook_payload(delivery: Delivery, destination: str, key: str, now: float) -> dict[str, Any]:
    card, facts = delivery.card, delivery.incident
    return {
        "alert_id": card.incident_id,
        "alert_name": card.rule,
        "event": delivery.event,
        "severity": card.severity,
        "status": card.status,
        "metric_name": facts.get("metric"),
        "metric_value": facts.get("value"),
        "threshold_value": facts.get("threshold"),
        "labels": dict(facts.get("labels") or {}),
        "triggered_at": iso(facts.get("triggered_at")),
        "resolved_at": iso(facts.get("resolved_at")),
        "context": context(delivery),
        "test": card.test,
        "destination": destination,
        "delivery_id": key,
        "sent_at": iso(now),
    }
