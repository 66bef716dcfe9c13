import asyncio

from storage.db import Database
from storage.repositories import IncidentRepository, OutboxRepository


async def test_migrated_database_stores_and_reads_an_incident(db):
    async with db.transaction() as session:
        row = await IncidentRepository(session).create(
            rule="slow-api",
            series_key="-",
            labels={},
            kind="metric",
            status="open",
            severity="warning",
            opened_at=1.0,
            rule_snapshot={},
            summary="",
            reopen_count=0,
            suppressed=False,
            test=False,
        )
    async with db.transaction() as session:
        again = await IncidentRepository(session).get(row.id)
    assert again is not None and again.rule == "slow-api"


async def test_reads_do_not_wait_for_a_writer_on_sqlite(tmp_path):
    """A listing or health check answers while a tick holds SQLite's write lock."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    await db.migrate()
    try:
        async with db.transaction() as writer:
            await IncidentRepository(writer).create_many(
                [
                    {
                        "rule": "slow-api",
                        "series_key": "-",
                        "labels": {},
                        "kind": "metric",
                        "status": "open",
                        "severity": "warning",
                        "opened_at": 1.0,
                        "rule_snapshot": {},
                        "summary": "",
                        "reopen_count": 0,
                        "suppressed": False,
                        "test": False,
                    }
                ]
            )

            async def count() -> dict[str, int]:
                async with db.read() as reader:
                    return await IncidentRepository(reader).count_by_status()

            # the writer has not committed: the reader sees the snapshot before it
            assert await asyncio.wait_for(count(), timeout=3) == {}
        assert await count() == {"open": 1}
    finally:
        await db.close()


async def test_the_migrations_build_exactly_the_models_schema(db):
    """A model change without its Alembic migration fails here, not on a user's upgrade."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from storage.models import Base

    def differences(connection):
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)

    async with db.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_ten_thousand_pairs_are_looked_up_without_breaking_the_transaction(db):
    """A storm times the people subscribed to it: PostgreSQL ran out of stack on one
    ``IN`` of about 10,000 (incident, target) pairs, failing the whole tick."""
    pairs = {(n, f"slack-dm:U{n:05d}") for n in range(10_000)}
    async with db.transaction() as session:
        assert await OutboxRepository(session).announced(pairs) == set()
