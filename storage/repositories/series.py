from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select
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
)


class SeriesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> Sequence[SeriesStateRow]:
        return (await self.session.scalars(select(SeriesStateRow))).all()

    async def for_rule(self, rule: str) -> Sequence[SeriesStateRow]:
        query = select(SeriesStateRow).where(SeriesStateRow.rule == rule)
        return (await self.session.scalars(query)).all()

    async def get(self, rule: str, series_key: str) -> SeriesStateRow | None:
        return await self.session.get(SeriesStateRow, (rule, series_key))

    async def upsert_many(self, rows: Iterable[dict[str, Any]]) -> None:
        """Write changed series states. ``rows`` hold rule, series_key, labels,
        updated_at and SERIES_FIELDS; existing rows are updated, new ones inserted."""
        rows = list(rows)
        if not rows:
            return
        keys = [(r["rule"], r["series_key"]) for r in rows]
        existing = {(row.rule, row.series_key): row for row in await self._fetch(keys)}
        for values in rows:
            row = existing.get((values["rule"], values["series_key"]))
            if row is None:
                self.session.add(SeriesStateRow(**values))
            else:
                for field in (*SERIES_FIELDS, "updated_at"):
                    setattr(row, field, values[field])

    async def _fetch(self, keys: list[tuple[str, str]]) -> list[SeriesStateRow]:
        found: list[SeriesStateRow] = []
        rules = sorted({rule for rule, _ in keys})
        for start in range(0, len(rules), 500):
            chunk = rules[start : start + 500]
            query = select(SeriesStateRow).where(SeriesStateRow.rule.in_(chunk))
            found.extend((await self.session.scalars(query)).all())
        wanted = set(keys)
        return [row for row in found if (row.rule, row.series_key) in wanted]

    async def delete_rule(self, rule: str) -> None:
        await self.session.execute(delete(SeriesStateRow).where(SeriesStateRow.rule == rule))
