from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DestinationRow


class DestinationRepository:
    """Destinations saved through the API."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> Sequence[DestinationRow]:
        query = select(DestinationRow).order_by(DestinationRow.name)
        return (await self.session.scalars(query)).all()

    async def get(self, name: str) -> DestinationRow | None:
        return await self.session.get(DestinationRow, name)

    def add(self, name: str, spec: dict[str, Any], sealed: str | None, at: float, by: str) -> None:
        self.session.add(
            DestinationRow(name=name, spec=spec, sealed=sealed, created_at=at, created_by=by)
        )

    async def delete(self, name: str) -> bool:
        result = await self.session.execute(
            delete(DestinationRow).where(DestinationRow.name == name)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
