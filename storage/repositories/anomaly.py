from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AnomalyModelRow


class AnomalyModelRepository:
    """Saved anomaly models, one row per rule and series."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> Sequence[AnomalyModelRow]:
        return (await self.session.scalars(select(AnomalyModelRow))).all()

    async def save_many(self, rows: list[dict[str, Any]]) -> None:
        """Insert or replace models (dicts of rule, series_key, fingerprint, model,
        updated_at) in one statement per batch."""
        if not rows:
            return
        dialect = self.session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(AnomalyModelRow)
        statement = statement.on_conflict_do_update(
            index_elements=["rule", "series_key"],
            set_={
                "fingerprint": statement.excluded.fingerprint,
                "model": statement.excluded.model,
                "updated_at": statement.excluded.updated_at,
            },
        )
        await self.session.execute(statement, rows)

    async def delete_rule(self, rule: str) -> None:
        await self.session.execute(delete(AnomalyModelRow).where(AnomalyModelRow.rule == rule))
