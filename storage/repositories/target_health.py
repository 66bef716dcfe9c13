from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import TargetHealthRow


class TargetHealthRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, target: str, now: float) -> TargetHealthRow:
        """The target's row, locked for this transaction; a fresh one if it has none."""
        row = await self.session.get(TargetHealthRow, target, with_for_update=True)
        if row is None:
            row = TargetHealthRow(target=target, failures=0, updated_at=now)
            self.session.add(row)
        return row
