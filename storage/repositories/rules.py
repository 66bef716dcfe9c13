from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import RuleRow


class RuleRepository:
    """Rules saved through chat or the API (overrides of the file, and tombstones)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> Sequence[RuleRow]:
        return (await self.session.scalars(select(RuleRow).order_by(RuleRow.name))).all()

    async def get(self, name: str) -> RuleRow | None:
        return await self.session.get(RuleRow, name)

    async def save(self, name: str, spec: dict[str, Any], at: float, by: str) -> None:
        row = await self.get(name)
        if row is None:
            self.session.add(
                RuleRow(name=name, spec=spec, deleted=False, updated_at=at, updated_by=by)
            )
        else:
            row.spec, row.deleted, row.updated_at, row.updated_by = spec, False, at, by

    async def delete(self, name: str, spec: dict[str, Any], at: float, by: str) -> None:
        """Keep a tombstone so a rule deleted here does not come back from the file."""
        await self.save(name, spec, at, by)
        row = await self.get(name)
        assert row is not None
        row.deleted = True
