"""The neutral incident card: what every chat platform renders for one incident."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IncidentCard:
    """What a chat message about an incident shows, whatever the platform.

    ``color`` is a hex string chosen by severity and state; ``actions`` lists the buttons
    that still make sense (``acknowledge``, ``snooze``, ``resolve``).
    """

    incident_id: int
    title: str
    status: str
    severity: str
    color: str
    fields: tuple[tuple[str, str], ...] = ()
    actions: tuple[str, ...] = ()
    runbook: str = ""
    test: bool = False
    footer: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "title": self.title,
            "status": self.status,
            "severity": self.severity,
            "color": self.color,
            "fields": [list(f) for f in self.fields],
            "actions": list(self.actions),
            "runbook": self.runbook,
            "test": self.test,
            "footer": self.footer,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IncidentCard:
        return cls(
            incident_id=int(data["incident_id"]),
            title=data["title"],
            status=data["status"],
            severity=data["severity"],
            color=data["color"],
            fields=tuple((str(k), str(v)) for k, v in data.get("fields", ())),
            actions=tuple(data.get("actions", ())),
            runbook=data.get("runbook", ""),
            test=bool(data.get("test", False)),
            footer=data.get("footer", ""),
        )
