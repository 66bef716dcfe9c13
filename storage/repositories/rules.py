from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
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

    async def save(
        self,
        name: str,
        spec: dict[str, Any],
        at: float,
        by: str,
        file_version: str | None = None,
        deleted: bool = False,
    ) -> None:
        """Save a rule (or, with ``deleted``, a tombstone that keeps a rule deleted here
        from coming back from the file) and the file version it was saved against."""
        row = await self.get(name)
        if row is None:
            row = RuleRow(name=name)
            self.session.add(row)
        row.spec, row.deleted, row.updated_at, row.updated_by = spec, deleted, at, by
        row.file_version = file_version

    async def drop(self, name: str) -> None:
        """Forget what is saved for ``name``: the file's rule applies again."""
        await self.session.execute(delete(RuleRow).where(RuleRow.name == name))
