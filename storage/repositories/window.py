from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import WindowJournalRow


class WindowJournalRepository:
    """Flushes of the window store's changed buckets (monitors.windows.journal)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, rows: Sequence[tuple[float, bytes]]) -> None:
        """Add (written_at, data) flushes, in order."""
        if rows:
            values = [{"written_at": at, "data": data} for at, data in rows]
            await self.session.execute(insert(WindowJournalRow), values)

    async def since(self, cutoff: float) -> Sequence[bytes]:
        """Flushes written after ``cutoff``, oldest first."""
        query = (
            select(WindowJournalRow.data)
            .where(WindowJournalRow.written_at > cutoff)
            .order_by(WindowJournalRow.id)
        )
        return (await self.session.scalars(query)).all()

    async def replace_all(self, written_at: float, data: bytes) -> None:
        """Put one flush (a snapshot of everything) in place of all the others."""
        await self.session.execute(delete(WindowJournalRow))
        await self.append([(written_at, data)])

    async def forget_before(self, cutoff: float) -> None:
        """Drop flushes written at or before ``cutoff``: their buckets are too old."""
        await self.session.execute(
            delete(WindowJournalRow).where(WindowJournalRow.written_at <= cutoff)
        )

    async def size(self) -> tuple[int, int]:
        """(flushes, bytes) held."""
        query = select(func.count(), func.coalesce(func.sum(func.length(WindowJournalRow.data)), 0))
        count, size = (await self.session.execute(query)).one()
        return int(count), int(size)
