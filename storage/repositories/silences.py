from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SilenceRow, storable_id


class SilenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: SilenceRow) -> SilenceRow:
        self.session.add(row)
        await self.session.flush()
        return row

    async def get(self, silence_id: int) -> SilenceRow | None:
        if not storable_id(silence_id):
            return None
        return await self.session.get(SilenceRow, silence_id)

    async def active(self, now: float) -> Sequence[SilenceRow]:
        query = select(SilenceRow).where(
            SilenceRow.removed_at.is_(None),
            SilenceRow.starts_at <= now,
            SilenceRow.ends_at > now,
        )
        return (await self.session.scalars(query.order_by(SilenceRow.id))).all()

    async def current_and_future(self, now: float) -> Sequence[SilenceRow]:
        query = select(SilenceRow).where(SilenceRow.removed_at.is_(None), SilenceRow.ends_at > now)
        return (await self.session.scalars(query.order_by(SilenceRow.id))).all()

    async def ended_unhandled(self, now: float) -> Sequence[SilenceRow]:
        """Silences that ended (expired or removed) whose end has not been acted on."""
        query = select(SilenceRow).where(
            SilenceRow.ended_handled.is_(False),
            (SilenceRow.ends_at <= now) | SilenceRow.removed_at.is_not(None),
        )
        return (await self.session.scalars(query.order_by(SilenceRow.id))).all()
