"""Who is acting: every change records an Actor, and roles decide what it may change."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitors import mentions

ADMIN = "admin"


@dataclass(frozen=True)
class Actor:
    """A person or system acting through some surface (console, api, discord, slack).

    ``id`` is the person's id on that surface (a Slack or Discord user id, a console
    login); ``name`` the display name shown where a mention cannot be rendered."""

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
        return self.name if self.surface == SYSTEM_SURFACE else f"{self.name} ({self.surface})"

    @property
    def ref(self) -> str | None:
        """``slack:U123``: who this is, for storing beside the name; None for Tocsin."""
        return None if self.surface == SYSTEM_SURFACE else f"{self.surface}:{self.id}"

    @property
    def mention(self) -> str:
        """The actor in stored text, rendered as a mention on their own platform."""
        return mentions.token_for_ref(self.ref, self.name)


SYSTEM_SURFACE = "system"
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


SYSTEM = Actor(id=SYSTEM_NAME, name=SYSTEM_NAME, surface=SYSTEM_SURFACE, roles=frozenset({ADMIN}))
"""Tocsin itself: opens, escalates and reminds; resolves what a retired rule left open."""
AUTO = Actor(id=AUTO_RESOLVER, name=AUTO_RESOLVER, surface=SYSTEM_SURFACE)
"""Who resolves an incident whose readings recovered."""
