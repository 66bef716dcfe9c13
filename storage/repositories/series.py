from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SeriesStateRow

SERIES_FIELDS = (
    "breaches",
    "normals",
    "errors",
    "level",
    "incident_id",
    "last_incident_id",
    "resolved_at",
    "source_down",
    "counted_at",
)


class SeriesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> Sequence[SeriesStateRow]:
        return (await self.session.scalars(select(SeriesStateRow))).all()

    async def insert_many(self, rows: list[dict[str, Any]]) -> None:
        """Insert new series states in one executemany. Each dict holds rule, series_key,
        labels, updated_at and SERIES_FIELDS."""
        if rows:
            await self.session.execute(insert(SeriesStateRow), rows)

    async def update_many(self, rows: list[dict[str, Any]]) -> None:
        """Update existing series states by primary key in one executemany."""
        if rows:
            await self.session.execute(update(SeriesStateRow), rows)

    async def delete_rule(self, rule: str) -> None:
        await self.session.execute(delete(SeriesStateRow).where(SeriesStateRow.rule == rule))
