"""Source health per endpoint: when every rule reading one database, Prometheus, Redis or
URL fails in the same tick, that is one outage, so it opens one "source down" incident
for the endpoint rather than one per rule.

An endpoint is a source plus the URL its rules name (``sql postgresql://db/analytics``;
the host for ``system``). Its health is kept like a rule's (``track_source`` on a
``SeriesState``), under the series key ``(source:<name>, <endpoint>)``: names with a
``:``, which no rule can have. A rule failing on its own (a broken query) still gets its
own "source down" incident after ``source_errors_to_alert`` errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitors.incidents.lifecycle import new_incident
from monitors.incidents.machine import Policy
from monitors.rules.schema import Rule
from monitors.sources.base import RuleReading
from monitors.sources.fields import endpoint
from storage.vocabulary import IncidentKind

PREFIX = "source:"
MAX_KEY = 1000  # series_states.series_key


@dataclass(frozen=True)
class Endpoint:
    """The rules of one tick that read one endpoint, and whether they all failed."""

    source: str
    name: str
    rules: tuple[Rule, ...]
    errors: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str]:
        return (f"{PREFIX}{self.source}", self.name[:MAX_KEY])

    @property
    def labels(self) -> dict[str, str]:
        return {"source": self.source, "endpoint": self.name}

    @property
    def failed(self) -> bool:
        return len(self.errors) == len(self.rules)

    @property
    def policy(self) -> Policy:
        return Policy(source_errors_to_alert=min(r.source_errors_to_alert for r in self.rules))


def is_source_health(rule_name: str) -> bool:
    """Whether a series or incident's ``rule`` is an endpoint's health, not a rule."""
    return rule_name.startswith(PREFIX)


def endpoints(rules: Sequence[Rule], readings: Mapping[str, RuleReading]) -> list[Endpoint]:
    grouped: dict[str, list[Rule]] = {}
    for rule in rules:
        grouped.setdefault(endpoint(rule), []).append(rule)
    out = []
    for name, members in grouped.items():
        errors = tuple(
            error
            for rule in members
            if (error := readings[rule.name].error if rule.name in readings else "no reading")
        )
        out.append(Endpoint(members[0].source, name, tuple(members), errors))
    return out


def tracked(point: Endpoint, known: bool) -> bool:
    """An endpoint's health is tracked when several rules read it (one rule's failure is
    that rule's), or once it has been (so an open incident can recover)."""
    return len(point.rules) >= 2 or known


def incident_values(point: Endpoint, now: float) -> dict[str, Any]:
    """The incident row for an endpoint that is down."""
    rules = sorted(point.rules, key=lambda rule: rule.name)
    channels = sorted({channel for rule in rules for channel in rule.channels})
    names = ", ".join(rule.name for rule in rules[:5]) + (" ..." if len(rules) > 5 else "")
    first = rules[0]
    summary = (
        f"{point.name}: all {len(rules)} rules reading it failed "
        f"{point.policy.source_errors_to_alert} times in a row ({names}): {point.errors[0]}"
    )
    return new_incident(
        rule=point.key[0],
        series_key=point.key[1],
        labels=point.labels,
        kind=IncidentKind.SOURCE_DOWN,
        severity="error",
        summary=summary,
        now=now,
        rule_snapshot={
            "name": point.key[0],
            "source": point.source,
            "channels": channels,
            "repeat_interval": first.to_json()["repeat_interval"],
            "runbook": "",
        },
    )
