"""Periodic reports already written, by period key, so none is written twice."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ReportRow


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str) -> ReportRow | None:
        return await self.session.get(ReportRow, key)

    async def claim(self, key: str, at: float, summary: dict[str, Any]) -> bool:
        """Record the report ``key``; False (and nothing written) if it exists already,
        written by another process meanwhile."""
        dialect = self.session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(ReportRow)
            .values(key=key, created_at=at, summary=summary)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(ReportRow.key)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def keys(self) -> list[str]:
        return list((await self.session.scalars(select(ReportRow.key))).all())
