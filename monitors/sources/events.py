"""Discrete events pushed to ``POST /v1/events``: which types exist, what each does, and
the checks on what is pushed.

An event type either **opens** an incident (it has a ``severity``), **resolves** the
incident another type opened (``resolves: circuit_breaker_opened``), or is only
**recorded** (``record_only: true``: kept in the database for correlation; the shipped
``deploy`` type is one, see monitors/incidents/deploys.py). An opening and its resolving event
pair up on the event's labels (all of them, or the type's ``group_by``). The types are
configuration (``event_types:`` in the config file, over :data:`DEFAULT_EVENT_TYPES`);
monitors/incidents/event_intake.py acts on them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from monitors.rules.rulefile import RuleFileError, RuleFileInvalid, validation_errors
from monitors.rules.schema import LEVELS, NAME_PATTERN, Duration, Level, OffDuration
from monitors.sources.base import LabelSet, label_set, series_key
from monitors.sources.fields import did_you_mean
from monitors.sources.pushed import check_labels

MAX_TEXT = 200
MAX_MESSAGE = 4000
EVENT_FIELDS = ("type", "severity", "labels", "message", "context")
SEVERITIES = ("info", *LEVELS)


class EventType(BaseModel):
    """What one event type does; exactly one of ``severity``, ``resolves`` or
    ``record_only``. The rest shape the incident an opening type opens, as a rule's
    fields shape its incidents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Level | None = None
    resolves: str | None = Field(default=None, pattern=NAME_PATTERN)
    record_only: bool = False
    group_by: tuple[str, ...] | None = None
    """Labels that name the incident (and pair it with its resolving event); default:
    every label the event carries."""
    description: str = ""
    cooldown: OffDuration = 3600.0
    """Opening again this soon after the pair resolved reopens the same incident quietly."""
    channels: tuple[str, ...] = ()
    runbook: str = ""
    repeat_interval: OffDuration = 4 * 3600.0
    escalate_after: Duration | None = None
    escalate_to: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_role(self) -> EventType:
        roles = [self.severity is not None, self.resolves is not None, self.record_only]
        if sum(roles) != 1:
            raise ValueError(
                "severity: give exactly one of severity (the event opens an incident at that "
                "level), resolves (it resolves another type's incident) or record_only: true"
            )
        if self.escalate_after is not None and not self.escalate_to:
            raise ValueError("escalate_to: escalate_after needs a channel to escalate to")
        return self

    @property
    def opens(self) -> bool:
        return self.severity is not None


def _opens(severity: str, **extra: Any) -> EventType:
    return EventType(severity=severity, **extra)  # type: ignore[arg-type]


DEFAULT_EVENT_TYPES: dict[str, EventType] = {
    "circuit_breaker_opened": _opens(
        "error", description="A circuit breaker opened: calls to a dependency are cut off"
    ),
    "circuit_breaker_closed": EventType(resolves="circuit_breaker_opened"),
    "provider_unhealthy": _opens("warning", description="A provider failed its health checks"),
    "provider_recovered": EventType(resolves="provider_unhealthy"),
    "cost_limit_warning": _opens("warning", description="Spend is nearing its limit"),
    "cost_limit_exceeded": _opens("error", description="Spend is over its limit"),
    "rate_limit_warning": _opens("warning", description="Nearing a rate limit"),
    "rate_limit_exceeded": _opens("error", description="Requests are being rate limited"),
    "quota_exhausted": _opens("critical", description="A quota is used up"),
    "high_error_rate": _opens("warning", description="The service reports a high error rate"),
    "high_latency": _opens("warning", description="The service reports high latency"),
    "deploy": EventType(
        record_only=True,
        description="A deploy (labels service and version): incidents that open soon "
        "after one of their service say so (deploy_window)",
    ),
}
"""The shipped types (from the AI-gateway alert design); the config file adds to them,
replaces one by naming it, and removes one with ``name: null``."""


def parse_event_types(raw: Any, source: str = "event_types") -> dict[str, EventType]:
    """The defaults with the config's ``event_types:`` applied; every problem named."""
    if raw is None:
        return dict(DEFAULT_EVENT_TYPES)
    if not isinstance(raw, Mapping):
        error = RuleFileError("(file)", "event_types", "expected a mapping of type -> fields")
        raise RuleFileInvalid(source, [error])
    types = dict(DEFAULT_EVENT_TYPES)
    errors: list[RuleFileError] = []
    for name, spec in raw.items():
        label = f"event type '{name}'"
        if not isinstance(name, str) or not _valid_name(name):
            errors.append(RuleFileError(label, "(name)", "use lower-case letters, digits, _ or -"))
            continue
        if spec is None:
            types.pop(name, None)
            continue
        try:
            types[name] = EventType.model_validate(spec)
        except ValidationError as exc:
            errors.extend(validation_errors(label, exc, EventType.model_fields))
    for name, kind in types.items():
        if kind.resolves is not None and not (
            kind.resolves in types and types[kind.resolves].opens
        ):
            openers = [n for n, t in types.items() if t.opens]
            hint = did_you_mean(kind.resolves, openers)
            errors.append(
                RuleFileError(
                    f"event type '{name}'",
                    "resolves",
                    f"'{kind.resolves}' is not an event type that opens incidents{hint}",
                )
            )
    if errors:
        raise RuleFileInvalid(source, errors)
    return types


def _valid_name(name: str) -> bool:
    return re.match(NAME_PATTERN, name) is not None


class EventInvalid(ValueError):
    """A pushed event was refused; ``errors`` names each problem (``labels.provider: ...``)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Event:
    """A pushed event, checked against the configured types."""

    type: str
    severity: str | None
    labels: dict[str, str]
    message: str
    context: dict[str, Any] = field(default_factory=dict)


def parse_event(doc: Any, types: Mapping[str, EventType]) -> Event:
    """Check a pushed event; EventInvalid (and nothing recorded) if anything is wrong."""
    if not isinstance(doc, dict):
        raise EventInvalid(['body: must be a JSON object like {"type": "quota_exhausted"}'])
    fields = ", ".join(EVENT_FIELDS)
    errors = [
        f"{key}: unknown field; events have {fields}" for key in doc if key not in EVENT_FIELDS
    ]
    kind = doc.get("type")
    if not isinstance(kind, str) or not kind:
        errors.append(f"type: required, one of {', '.join(sorted(types))}")
    elif kind not in types:
        hint = did_you_mean(kind, list(types))
        errors.append(
            f"type: '{kind[:MAX_TEXT]}' is not an event type{hint}; "
            f"known types: {', '.join(sorted(types))}"
        )
    severity = doc.get("severity")
    if severity is not None and severity not in SEVERITIES:
        errors.append(f"severity: must be one of {', '.join(SEVERITIES)}")
    elif severity == "info" and isinstance(kind, str) and kind in types and types[kind].opens:
        errors.append(
            f"severity: info cannot open an incident; use {', '.join(LEVELS)}, or leave it "
            f"out for the type's own ({types[kind].severity})"
        )
    labels = check_labels("labels", doc.get("labels", {}), errors)
    message = doc.get("message", "")
    if not isinstance(message, str):
        errors.append("message: must be a string")
    elif len(message) > MAX_MESSAGE:
        errors.append(f"message: at most {MAX_MESSAGE} characters, got {len(message)}")
    context = doc.get("context", {})
    if not isinstance(context, dict):
        errors.append("context: must be an object")
    if errors:
        raise EventInvalid(errors)
    return Event(kind, severity, labels, message.strip(), context)  # type: ignore[arg-type]


def incident_labels(event: Event, kind: EventType) -> LabelSet:
    """The labels naming an event's incident: the type's ``group_by``, or all of them."""
    keys = kind.group_by if kind.group_by is not None else sorted(event.labels)
    return label_set(event.labels, keys)


def incident_key(event: Event, kind: EventType) -> str:
    return series_key(incident_labels(event, kind))
