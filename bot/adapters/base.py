"""What a chat adapter offers the dispatcher: deliver one incident update to a target."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from monitors.incidents.cards import IncidentCard


@dataclass(frozen=True)
class Delivery:
    """One outbox row, ready for a platform.

    ``place`` is the target on the adapter's platform (a channel id; "" for the console).
    With no ``message_ref`` the adapter posts a new message; with one it edits that
    message in place and adds ``line`` to its thread. ``notify`` asks for a ping (a new
    incident, an escalation, a reminder); otherwise the update is quiet. ``attempt``
    counts from 1: a retried post may find the message its lost answer left behind."""

    target: str
    place: str
    event: str
    card: IncidentCard
    line: str
    notify: bool
    message_ref: str | None
    attempt: int = 1
    queued_at: float = 0.0
    """When the row was written; a retried post looks for its message from then on."""
    row_id: int = 0
    """The outbox row: names this update, so a retry can tell whether it went out."""
    group: tuple[IncidentCard, ...] = ()
    """Several incidents share the message (a storm): show every one of them, ``card``
    among them. Empty for a message of one incident. Only adapters whose
    ``max_group`` is over 1 are given groups."""
    incident: Mapping[str, Any] = field(default_factory=dict)
    """The incident's facts when the row was written (monitors.incidents.facts), for
    destinations that send more than the card shows (webhooks, email subjects)."""
    links: tuple[tuple[str, str], ...] = ()
    """Where the incident's chat messages are, e.g. ``("Slack", "https://...")``: an
    email links to them, so a reader can work the incident where the team does."""
    chart: bool = False
    """The message carries the incident's chart (bot.delivery.charts): an edit keeps
    showing it."""


CHART_FILENAME = "chart.png"


@dataclass(frozen=True)
class ChartAttachment:
    """An incident's chart for the message that shows it, posted moments ago.

    ``card`` is the incident as it stands now (the message is redrawn with it where the
    platform needs that to show the image); ``row_id`` names this attachment, so a retry
    can tell whether an earlier attempt went through."""

    target: str
    message_ref: str
    card: IncidentCard
    png: bytes
    row_id: int
    attempt: int = 1
    queued_at: float = 0.0

    @property
    def filename(self) -> str:
        """Unique per attachment, so a retry can find an earlier attempt's file."""
        return f"tocsin-{self.card.incident_id}-{self.row_id}-{CHART_FILENAME}"


class DeliveryError(Exception):
    """A delivery that failed. ``retry_after`` carries a platform's explicit wait;
    ``permanent`` says retrying cannot help (an unknown channel, a revoked token)."""

    def __init__(
        self, message: str, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class ChatAdapter(Protocol):
    platform: str
    """The platform whose targets this adapter delivers (monitors.routing.Platform)."""
    max_group: int
    """Incidents one message can show at most (1: no storm grouping)."""

    async def deliver(self, delivery: Delivery) -> str:
        """Post or edit; return the platform's reference to the message."""
        ...


@runtime_checkable
class MessageLinks(Protocol):
    """An adapter whose messages have a web address people can open (Slack, Discord)."""

    label: str
    """The platform's name as people say it: ``Slack``."""

    async def link(self, ref: str) -> str | None:
        """The address of the message ``ref`` (as ``deliver`` returned it), if known."""
        ...


@runtime_checkable
class ChartAttacher(Protocol):
    """An adapter that can add a chart to a message it posted (Slack, Discord)."""

    async def attach_chart(self, chart: ChartAttachment) -> None:
        """Attach ``chart`` to its message, once (a retry must not attach it twice)."""
        ...
