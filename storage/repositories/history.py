from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SeriesHistoryRow


class HistoryRepository:
    """Hourly rollups of evaluated values, read back as baselines."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_hours(self, rows: Iterable[tuple[str, str, int, float, int]]) -> None:
        """Add (rule, series_key, hour, total, count) to the stored rollups: one upsert
        statement for all of them (``INSERT ... ON CONFLICT DO UPDATE``, which SQLite and
        PostgreSQL both have), not a read per row."""
        values = [
            {"rule": rule, "series_key": key, "hour": hour, "total": total, "count": count}
            for rule, key, hour, total, count in rows
        ]
        if not values:
            return
        dialect = self.session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(SeriesHistoryRow)
        table = SeriesHistoryRow.__table__
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.rule, table.c.series_key, table.c.hour],
                set_={
                    "total": table.c.total + statement.excluded.total,
                    "count": table.c.count + statement.excluded.count,
                },
            ),
            values,
        )

    async def means(self, rule: str, since_hour: int, before_hour: int) -> dict[str, float]:
        """Mean value per series of ``rule`` over hours in [since_hour, before_hour)."""
        query = (
            select(
                SeriesHistoryRow.series_key,
                func.sum(SeriesHistoryRow.total),
                func.sum(SeriesHistoryRow.count),
            )
            .where(SeriesHistoryRow.rule == rule)
            .where(SeriesHistoryRow.hour >= since_hour, SeriesHistoryRow.hour < before_hour)
            .group_by(SeriesHistoryRow.series_key)
        )
        return {
            key: total / count for key, total, count in await self.session.execute(query) if count
        }
