"""What a chat adapter offers the dispatcher: deliver one incident update to a channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from monitors.cards import IncidentCard


@dataclass(frozen=True)
class Delivery:
    """One outbox row, ready for a platform.

    With no ``message_ref`` the adapter posts a new message; with one it edits that
    message in place and adds ``line`` to its thread. ``notify`` asks for a ping (a
    new incident, an escalation, a reminder); otherwise the update is quiet."""

    channel: str
    event: str
    card: IncidentCard
    line: str
    notify: bool
    message_ref: str | None


class DeliveryError(Exception):
    """A delivery that failed. ``retry_after`` carries a platform's explicit wait."""

    def __init__(
        self, message: str, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class ChatAdapter(Protocol):
    name: str

    def accepts(self, channel: str) -> bool:
        """Whether this adapter delivers to ``channel``."""
        ...

    async def deliver(self, delivery: Delivery) -> str:
        """Post or edit; return the platform's reference to the message."""
        ...
