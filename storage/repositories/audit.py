from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditRow


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def record(
        self, at: float, actor: str, action: str, target: str, detail: dict[str, Any]
    ) -> None:
        self.session.add(AuditRow(at=at, actor=actor, action=action, target=target, detail=detail))

    async def recent(self, limit: int = 100) -> Sequence[AuditRow]:
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        return (await self.session.scalars(query)).all()
