"""Who is acting: every change records an Actor, and roles decide what it may change."""

from __future__ import annotations

from dataclasses import dataclass, field

ADMIN = "admin"


@dataclass(frozen=True)
class Actor:
    """A person or system acting through some surface (console, api, discord, slack)."""

    id: str
    name: str
    surface: str = "console"
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    @property
    def label(self) -> str:
        """How the actor appears in timelines and the audit log."""
        return f"{self.name} ({self.surface})"


SYSTEM = Actor(id="tocsin", name="tocsin", surface="system", roles=frozenset({ADMIN}))
