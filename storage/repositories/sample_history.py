from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SampleHistoryRow
from storage.repositories.upsert import upsert


class SampleHistoryRepository:
    """Hours of pushed series in minute buckets (see monitors.backtest.history)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_many(self, keys: Sequence[tuple[str, str, int]]) -> list[SampleHistoryRow]:
        """The rows of these (metric, series, block) keys that exist."""
        if not keys:
            return []
        wanted = set(keys)
        query = select(SampleHistoryRow).where(
            SampleHistoryRow.metric.in_({k[0] for k in keys}),
            SampleHistoryRow.block.in_({k[2] for k in keys}),
        )
        rows = (await self.session.scalars(query)).all()
        return [row for row in rows if (row.metric, row.series, row.block) in wanted]

    async def save_many(self, rows: list[dict[str, Any]]) -> None:
        """Insert or replace rows (dicts of metric, series, block, labels, data)."""
        await upsert(
            self.session,
            SampleHistoryRow,
            rows,
            keys=("metric", "series", "block"),
            columns=("labels", "data"),
        )

    async def between(
        self, metrics: Sequence[str], first_block: int, last_block: int
    ) -> Sequence[SampleHistoryRow]:
        query = select(SampleHistoryRow).where(
            SampleHistoryRow.metric.in_(metrics),
            SampleHistoryRow.block >= first_block,
            SampleHistoryRow.block <= last_block,
        )
        return (await self.session.scalars(query)).all()

    async def delete_before(self, block: int) -> None:
        await self.session.execute(delete(SampleHistoryRow).where(SampleHistoryRow.block < block))
