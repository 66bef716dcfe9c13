"""INSERT ... ON CONFLICT DO UPDATE on both SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


async def upsert(
    session: AsyncSession,
    table: Any,
    rows: list[dict[str, Any]],
    keys: Sequence[str],
    columns: Sequence[str],
) -> None:
    """Insert ``rows`` into ``table`` (a mapped class); where one exists with the same
    ``keys``, replace its ``columns``. One statement for all rows."""
    if not rows:
        return
    dialect = session.bind.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={column: statement.excluded[column] for column in columns},
    )
    await session.execute(statement, rows)
