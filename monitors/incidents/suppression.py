"""Whether an incident event is announced, and whether it pages: snoozes and silences.

A pure stage: it decides from the incident, the event and the matching silence, and
the caller (``announce.Journal``) applies the verdict. Snoozes turn pages into quiet
edits. A silence hides every announcement of what it matches (it was set so that
nobody hears of it); an incident never shown because of one is marked ``suppressed``
and announced when no silence covers it any more (see monitors.incidents.timers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitors.incidents.cards import is_snoozed
from monitors.rules.matchers import parse_matchers
from storage.models import IncidentRow, SilenceRow
from storage.vocabulary import IncidentStatus


@dataclass(frozen=True, slots=True)
class Verdict:
    send: bool
    """Write outbox rows at all."""
    page: bool
    """Ping people (a new message or a notification), not just edit in place."""
    suppressed: bool
    """The incident's ``suppressed`` flag afterwards: never shown, because of a silence."""


def incident_labels(incident: IncidentRow) -> dict[str, str]:
    """What silences match against: the series labels plus rule and severity."""
    return {**incident.labels, "rule": incident.rule, "severity": incident.severity}


def silenced_by(incident: IncidentRow, silences: Sequence[SilenceRow]) -> SilenceRow | None:
    """The first of ``silences`` matching the incident; test incidents are never
    silenced (they page no one, and somebody asked for them)."""
    if incident.test:
        return None
    labels = incident_labels(incident)
    for silence in silences:
        if all(m.matches(labels) for m in parse_matchers(silence.matchers)):
            return silence
    return None


def decide(
    incident: IncidentRow, *, notify: bool, now: float, silence: SilenceRow | None
) -> Verdict:
    """``notify``: the event would page (opened, escalated, reminder...)."""
    never_shown = incident.suppressed or (incident.last_notified_at is None and not incident.test)
    if silence is not None:
        return Verdict(send=False, page=False, suppressed=never_shown)
    if incident.suppressed:  # never shown, and no silence covers it any more
        if incident.status == IncidentStatus.RESOLVED:
            return Verdict(send=False, page=False, suppressed=True)  # over unseen
        return Verdict(send=True, page=True, suppressed=False)  # its first message
    return Verdict(send=True, page=notify and not is_snoozed(incident, now), suppressed=False)
