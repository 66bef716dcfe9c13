"""Rule changes shown before they are saved, waiting for Apply or Cancel."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProposalRow


class ProposalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, **values: Any) -> None:
        self.session.add(ProposalRow(**values))

    async def get(self, token: str) -> ProposalRow | None:
        return await self.session.get(ProposalRow, token)

    async def decide(self, token: str, decision: str, by: str, at: float) -> bool:
        """Record Apply or Cancel, once: False if it was decided already."""
        result = await self.session.execute(
            update(ProposalRow)
            .where(ProposalRow.token == token, ProposalRow.decided_at.is_(None))
            .values(decision=decision, decided_by=by, decided_at=at)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
