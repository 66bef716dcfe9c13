"""Deploy correlation: an incident that opens within ``deploy_window`` after a deploy of
its service says so on its card and in its timeline ("started 4 min after deploy api
1.42").

Deploys are pushed events of type ``deploy`` (a shipped record-only type) with labels
``service`` and ``version``. An incident's service is its ``service`` label, else its
rule's ``match: {service: ...}``. A deploy and an incident go together unless both name
a service and the names differ: a deploy without a service label is a whole-system
deploy, and an incident without a service (CPU, a queue, Redis) may come from any
service's deploy, so each is told of the latest deploy in the window. The most recent
matching deploy wins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import EventRow, IncidentRow
from storage.repositories import EventRepository

DEPLOY = "deploy"
"""The event type of deploys (monitors.sources.events.DEFAULT_EVENT_TYPES)."""
DEFAULT_WINDOW = 1800.0


@dataclass(frozen=True)
class Deploy:
    event_id: int
    at: float
    service: str | None
    version: str | None

    @classmethod
    def of(cls, row: EventRow) -> Deploy:
        labels = row.labels or {}
        return cls(row.id, row.received_at, labels.get("service"), labels.get("version"))

    @property
    def name(self) -> str:
        """``deploy api 1.42``; ``a deploy`` when it names neither."""
        words = [word for word in (self.service, self.version) if word]
        return f"deploy {' '.join(words)}" if words else "a deploy"


def service_of(labels: Mapping[str, str], snapshot: Mapping[str, Any]) -> str | None:
    """The service an incident is about: its ``service`` label, else its rule's match."""
    return labels.get("service") or (snapshot.get("match") or {}).get("service")


def goes_with(deploy: Deploy, service: str | None) -> bool:
    return deploy.service is None or service is None or deploy.service == service


def after_text(seconds: float) -> str:
    """``4 min`` (whole minutes, rounded down), or ``40 s`` under a minute."""
    return f"{int(seconds)} s" if seconds < 60 else f"{int(seconds // 60)} min"


class DeployCorrelation:
    """Finds the deploy an incident followed and writes it on the incident."""

    def __init__(self, window: float = DEFAULT_WINDOW) -> None:
        self.window = window

    async def recent(self, session: AsyncSession, now: float) -> list[Deploy]:
        """Deploys within the window before ``now``, newest first (one query a tick)."""
        if self.window <= 0:
            return []
        rows = await EventRepository(session).of_type_since(DEPLOY, now - self.window)
        return [Deploy.of(row) for row in rows if row.received_at <= now]

    @staticmethod
    def mark(incident: IncidentRow, deploys: Sequence[Deploy], now: float) -> str:
        """Note on ``incident`` the latest deploy of its service among ``deploys`` (newest
        first); returns the note (``started 4 min after deploy api 1.42``), or "" when no
        deploy goes with it (and the incident is left as it was)."""
        service = service_of(incident.labels or {}, incident.rule_snapshot or {})
        found = next((d for d in deploys if goes_with(d, service)), None)
        if found is None:
            return ""
        note = f"started {after_text(now - found.at)} after {found.name}"
        incident.deploy_event_id, incident.deploy_note = found.event_id, note
        return note
