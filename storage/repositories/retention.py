"""Deleting what is older than the retention period, a batch at a time: each method
takes at most ``limit`` rows, so the caller can commit between batches and let a tick
write in between."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import (
    EventRow,
    HeldRow,
    IncidentEventRow,
    IncidentRow,
    MessageGroupRow,
    MessageRow,
    OutboxRow,
    ProposalRow,
    ReportRow,
)
from storage.repositories.outbox import PARKED
from storage.vocabulary import IncidentStatus


class RetentionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _keys(
        self, key: InstrumentedAttribute[int], *conditions: ColumnElement[bool], limit: int
    ) -> list[int]:
        query = select(key).where(*conditions).order_by(key).limit(limit)
        return list((await self.session.scalars(query)).all())

    async def _delete(self, key: InstrumentedAttribute[int], ids: Sequence[int]) -> int:
        if not ids:
            return 0
        result = await self.session.execute(delete(key.class_).where(key.in_(list(ids))))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def prune_incidents(self, cutoff: float, limit: int) -> tuple[int, int]:
        """Up to ``limit`` incidents resolved before ``cutoff``, with their timelines,
        messages, outbox rows and what digests held of them; returns (incidents, other
        rows) deleted."""
        ids = await self._keys(
            IncidentRow.id,
            IncidentRow.status == IncidentStatus.RESOLVED,
            IncidentRow.resolved_at < cutoff,
            limit=limit,
        )
        if not ids:
            return 0, 0
        others = 0
        for table_key in (
            IncidentEventRow.incident_id,
            OutboxRow.incident_id,
            MessageRow.incident_id,
            HeldRow.incident_id,
        ):
            result = await self.session.execute(delete(table_key.class_).where(table_key.in_(ids)))
            others += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return await self._delete(IncidentRow.id, ids), others

    async def prune_outbox(self, cutoff: float, limit: int) -> int:
        """Outbox rows (the delivery log) delivered, or given up on, before ``cutoff``;
        rows still to deliver are kept whatever their age."""
        done = or_(
            OutboxRow.delivered_at < cutoff,
            (OutboxRow.available_at >= PARKED) & (OutboxRow.created_at < cutoff),
        )
        return await self._delete(OutboxRow.id, await self._keys(OutboxRow.id, done, limit=limit))

    async def prune_events(self, cutoff: float, limit: int) -> int:
        ids = await self._keys(EventRow.id, EventRow.received_at < cutoff, limit=limit)
        return await self._delete(EventRow.id, ids)

    async def prune_message_groups(self, cutoff: float, limit: int) -> int:
        """Groups opened before ``cutoff`` that no message belongs to any more."""
        used = select(MessageRow.group_id).where(MessageRow.group_id.is_not(None))
        ids = await self._keys(
            MessageGroupRow.id,
            MessageGroupRow.opened_at < cutoff,
            MessageGroupRow.id.not_in(used),
            limit=limit,
        )
        return await self._delete(MessageGroupRow.id, ids)

    async def prune_proposals(self, cutoff: float) -> int:
        result = await self.session.execute(
            delete(ProposalRow).where(ProposalRow.expires_at < cutoff)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def prune_reports(self, cutoff: float) -> int:
        result = await self.session.execute(delete(ReportRow).where(ReportRow.created_at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
