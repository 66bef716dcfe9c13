"""The chart of an incident's message, as a step of its own after the post.

The message is posted first, exactly as without charts, so a chart never delays an
alert. When the dispatcher records the post of a message of one incident, it queues a
``chart`` outbox row in the same transaction: a crash after the post still gets the
chart attached after restart, and rows of one incident and target go out in order, so
the chart follows the post (and any edit queued before it). Delivering the row reads
the history, draws the PNG off the event loop (monitors.charts) and hands it to the
adapter, which attaches it once (Slack: a file in the message's thread, found again by
its name on a retry; Discord: an edit that sets the message's one attachment). The
message row then records ``chart_at``, so later edits keep showing it.

A chart is a nicety: it is given up after ``CHART_ATTEMPTS`` tries, and its failures are
logged, not counted against the target's delivery health."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.base import ChartAttacher, ChartAttachment
from bot.delivery.messages import POSTING
from monitors.charts import ChartRequest, Charts
from monitors.incidents.cards import IncidentCard, incident_card
from storage.db import Database
from storage.models import IncidentRow, OutboxRow
from storage.repositories import IncidentRepository, MessageRepository
from storage.repositories.outbox import outbox_row
from storage.vocabulary import EventKind

CHART_ATTEMPTS = 5
DRAW_TIMEOUT = 60.0
"""Seconds a drawing may take before it counts as a failed try: a hung worker process
must not hold every later chart (and the incidents' rows behind them) for good."""
"""Tries before a chart is given up (backoff 1, 2, 4, 8 s: under 15 s in all, while the
incident's later rows on the target wait behind it)."""


@dataclass(frozen=True)
class Pending:
    """A chart to draw and attach: the message, and the incident as it stands."""

    message_ref: str
    card: IncidentCard
    request: ChartRequest


class ChartStep:
    def __init__(self, db: Database, charts: Charts) -> None:
        self.db = db
        self.charts = charts
        self._one_at_a_time = asyncio.Semaphore(1)
        """Charts are drawn one at a time anyway (one worker process); reading their
        history one at a time too keeps a storm's charts from crowding its posts."""

    @staticmethod
    def wanted(adapter: object, incident: IncidentRow) -> bool:
        """Whether a message of ``incident`` just posted through ``adapter`` gets a chart."""
        return isinstance(adapter, ChartAttacher) and Charts.request(incident) is not None

    @staticmethod
    def row(posted: OutboxRow, now: float) -> dict[str, Any]:
        """The outbox row that attaches the chart to the message ``posted`` made."""
        payload = {"card": posted.payload["card"], "line": ""}
        return outbox_row(
            posted.channel,
            EventKind.CHART,
            payload,
            now,
            incident_id=posted.incident_id,
            notify=False,
        )

    async def pending(self, row: OutboxRow, now: float) -> Pending | None:
        """What the chart row asks for, or None when there is nothing to attach: the
        message is gone or not posted, it became a storm's (several incidents), or it
        has its chart already."""
        assert row.incident_id is not None
        async with self.db.read() as session:  # never waits for a writer (a post)
            messages = MessageRepository(session)
            message = await messages.of(row.incident_id, row.channel)
            if message is None or message.message_ref == POSTING or message.chart_at:
                return None
            group = await messages.peek_group(message.group_id) if message.group_id else None
            if group is not None and len(group.members) > 1:
                return None
            found = await IncidentRepository(session).get_many([row.incident_id])
            incident = found.get(row.incident_id)
            request = Charts.request(incident) if incident is not None else None
            if incident is None or request is None:
                return None
            return Pending(message.message_ref, incident_card(incident, now), request)

    async def attach(
        self,
        adapter: ChartAttacher,
        row: OutboxRow,
        clock: Callable[[], float],
        guard: asyncio.Lock,
    ) -> bool:
        """Draw and attach the chart the row asks for, up to the time it is drawn;
        returns whether one was attached (then the caller records ``chart_at``).

        ``guard`` is the target's: held while the message is checked again and the
        chart attached, so an incident joining the message meanwhile (a storm, whose
        edit the target's worker makes under the same guard) is never overwritten by
        a one-incident message with a chart."""
        async with self._one_at_a_time:
            now = clock()
            pending = await self.pending(row, now)
            if pending is None:
                return False
            png = await asyncio.wait_for(self.charts.png(pending.request, now), DRAW_TIMEOUT)
        if png is None:  # no value of the series in the window
            return False
        async with guard:
            fresh = await self.pending(row, clock())
            if fresh is None:  # a storm's message now, or charted meanwhile
                return False
            await self._send(adapter, row, fresh, png)
        return True

    @staticmethod
    async def _send(adapter: ChartAttacher, row: OutboxRow, pending: Pending, png: bytes) -> None:
        await adapter.attach_chart(
            ChartAttachment(
                target=row.channel,
                message_ref=pending.message_ref,
                card=pending.card,
                png=png,
                row_id=row.id,
                attempt=row.attempts,
                queued_at=row.created_at,
            )
        )

    @staticmethod
    async def attached(session: AsyncSession, row: OutboxRow, now: float) -> None:
        """Record, in the caller's transaction, that the incident's message on the
        row's target carries its chart."""
        assert row.incident_id is not None
        message = await MessageRepository(session).of(row.incident_id, row.channel)
        if message is not None:
            message.chart_at = now

    def warm(self) -> None:
        self.charts.warm()

    def close(self) -> None:
        self.charts.close()
