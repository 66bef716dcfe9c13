from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AnomalyModelRow
from storage.repositories.upsert import upsert


class AnomalyModelRepository:
    """Saved anomaly models, one row per rule and series."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> Sequence[AnomalyModelRow]:
        return (await self.session.scalars(select(AnomalyModelRow))).all()

    async def save_many(self, rows: list[dict[str, Any]]) -> None:
        """Insert or replace models (dicts of rule, series_key, fingerprint, model,
        updated_at) in one statement per batch."""
        await upsert(
            self.session,
            AnomalyModelRow,
            rows,
            keys=("rule", "series_key"),
            columns=("fingerprint", "model", "updated_at"),
        )

    async def delete_rule(self, rule: str) -> None:
        await self.session.execute(delete(AnomalyModelRow).where(AnomalyModelRow.rule == rule))
