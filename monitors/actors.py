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
    admin_hint: str = field(default="", compare=False)
    """How this actor could get the admin role, in their surface's terms; the adapter that
    builds the actor knows (the console's says which config setting), the core does not."""

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    @property
    def label(self) -> str:
        """How the actor appears in timelines and the audit log."""
        return f"{self.name} ({self.surface})"


SYSTEM_NAME = "tocsin"
"""How Tocsin itself appears in timelines (opened, escalated, reminded, retired)."""
AUTO_RESOLVER = "auto"
"""``resolved_by`` when the readings recovered (the card says "automatically")."""
RESERVED_NAMES = frozenset({AUTO_RESOLVER, SYSTEM_NAME})
"""Names Tocsin records for itself ("resolved by auto" reads "resolved automatically"):
no person acts under them. The API refuses them in X-Tocsin-Actor; adapters pass the
names platforms give them through ``person_name``."""


def person_name(name: str, surface: str) -> str:
    """A person's name as recorded: one that is Tocsin's own gets its surface added
    (a console login ``tocsin`` acts as ``tocsin@console``), so it never reads as Tocsin."""
    return f"{name}@{surface}" if name.lower() in RESERVED_NAMES else name


SYSTEM = Actor(id=SYSTEM_NAME, name=SYSTEM_NAME, surface="system", roles=frozenset({ADMIN}))
