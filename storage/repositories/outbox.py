from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import MessageRow, OutboxRow
from storage.vocabulary import EventKind

PAIRS_AT_ONCE = 500
"""(incident, target) pairs in one ``IN``: PostgreSQL runs out of stack past a few
thousand (a storm times the people subscribed to it)."""


def chunks(pairs: Sequence[tuple[int, str]]) -> Iterator[Sequence[tuple[int, str]]]:
    """``pairs`` in slices of ``PAIRS_AT_ONCE``, for row-value ``IN`` lists."""
    for start in range(0, len(pairs), PAIRS_AT_ONCE):
        yield pairs[start : start + PAIRS_AT_ONCE]


PARKED = 1e18  # available_at of rows given up on (permanent error or too many attempts)


def outbox_row(
    target: str,
    event: str,
    payload: dict[str, Any],
    now: float,
    *,
    incident_id: int | None = None,
    notify: bool = True,
) -> dict[str, Any]:
    """A new row for ``OutboxRepository.add_many``, due at once. ``incident_id`` None:
    a message of no incident (a notice, a report, a digest), posted and never edited."""
    return {
        "created_at": now,
        "incident_id": incident_id,
        "event": event,
        "channel": target,
        "notify": notify,
        "payload": payload,
        "attempts": 0,
        "available_at": now,
    }


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(self, rows: list[dict[str, Any]]) -> None:
        """Queue notifications (see monitors.incidents.announce.Announcer.rows) at once."""
        if rows:
            await self.session.execute(insert(OutboxRow), rows)

    async def claim(
        self,
        now: float,
        limit: int = 100,
        lease: float = 30.0,
        owner: str | None = None,
        skip_targets: Sequence[str] = (),
    ) -> list[OutboxRow]:
        """Take pending rows in order for ``owner`` and hide them for ``lease`` seconds,
        which the owner's heartbeat renews; a dead dispatcher's rows become available
        again when the lease runs out. ``skip_targets`` are targets the owner is busy
        with already.

        Only the first undelivered row of each incident and channel is taken: a later
        one waits while an earlier one is leased (its dispatcher may have died) or
        backing off, so an edit never overtakes the message it edits. Parked rows
        block nothing."""
        earlier = aliased(OutboxRow)
        head = (  # a correlated subquery, so both databases use ix_outbox_stream per row
            select(func.min(earlier.id))
            .where(
                earlier.incident_id == OutboxRow.incident_id,
                earlier.channel == OutboxRow.channel,
                earlier.delivered_at.is_(None),
                earlier.available_at < PARKED,
            )
            .scalar_subquery()
        )
        first = OutboxRow.incident_id.is_(None) | (OutboxRow.id == head)
        query = (
            select(OutboxRow)
            .where(OutboxRow.delivered_at.is_(None), OutboxRow.available_at <= now, first)
            .order_by(OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if skip_targets:
            query = query.where(OutboxRow.channel.not_in(list(skip_targets)))
        rows = list((await self.session.scalars(query)).all())
        for row in rows:
            row.available_at = now + lease
            row.attempts += 1
            row.claimed_by = owner
        return rows

    async def renew(self, owner: str, until: float) -> int:
        """The owner's heartbeat: keep its claims hidden until ``until``."""
        query = (
            update(OutboxRow)
            .where(
                OutboxRow.claimed_by == owner,
                OutboxRow.delivered_at.is_(None),
                OutboxRow.available_at < until,
            )
            .values(available_at=until)
        )
        result = await self.session.execute(query)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def hurry(self, channel: str, now: float) -> int:
        """Make the rows of ``channel`` that are backing off due at ``now``: the place
        answered again, so what waited for it need not sit out the rest of its backoff."""
        query = (
            update(OutboxRow)
            .where(
                OutboxRow.channel == channel,
                OutboxRow.delivered_at.is_(None),
                OutboxRow.claimed_by.is_(None),
                OutboxRow.available_at > now,
                OutboxRow.available_at < PARKED,
            )
            .values(available_at=now)
        )
        result = await self.session.execute(query)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def failed_count(self) -> int:
        """Rows given up on (parked): an error no retry fixes, or too many attempts."""
        query = (
            select(func.count())
            .select_from(OutboxRow)
            .where(OutboxRow.delivered_at.is_(None), OutboxRow.available_at >= PARKED)
        )
        return int(await self.session.scalar(query) or 0)

    async def notices_since(self, since: float) -> set[tuple[str, str]]:
        """(target, text) of the admin notices queued since ``since``."""
        query = select(OutboxRow.channel, OutboxRow.payload).where(
            OutboxRow.incident_id.is_(None),
            OutboxRow.event == EventKind.NOTICE,
            OutboxRow.created_at >= since,
        )
        rows = (await self.session.execute(query)).all()
        return {(str(channel), str(payload.get("notice", ""))) for channel, payload in rows}

    async def get(self, row_id: int) -> OutboxRow | None:
        return await self.session.get(OutboxRow, row_id)

    async def pending_count(self) -> int:
        query = select(func.count()).select_from(OutboxRow).where(OutboxRow.delivered_at.is_(None))
        return int(await self.session.scalar(query) or 0)

    async def for_incident(self, incident_id: int) -> Sequence[OutboxRow]:
        query = select(OutboxRow).where(OutboxRow.incident_id == incident_id)
        return (await self.session.scalars(query.order_by(OutboxRow.id))).all()

    async def announced(self, pairs: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        """Which of the (incident, target) pairs have been queued or shown already."""
        found: set[tuple[int, str]] = set()
        for chunk in chunks(list(pairs)):
            for table in (OutboxRow, MessageRow):
                key = tuple_(table.incident_id, table.channel)
                query = select(table.incident_id, table.channel).where(key.in_(chunk)).distinct()
                rows = (await self.session.execute(query)).all()
                found.update((int(i), str(c)) for i, c in rows)
        return found
